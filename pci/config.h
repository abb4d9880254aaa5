/* PCI configuration space of one function: bytes, per-byte write masks, capabilities, BARs. */
#ifndef WISP_PCI_CONFIG_H
#define WISP_PCI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/pci_regs.h>

#define PCI_CFG_SIZE 4096 /* extended (ECAM) space; mechanism #1 reaches the first 256 */
#define PCI_NUM_BARS 6

enum pci_bar_type { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_id {
        uint16_t vendor, device;
        uint16_t subsys_vendor, subsys;
        uint32_t class_code; /* class << 16 | subclass << 8 | prog-if */
        uint8_t revision;
        uint8_t irq_pin; /* 0: none, 1: INTA .. 4: INTD */
};

/*
 * The guest sees data[]; a write changes only the bits set in wmask, and
 * clears the bits set in w1c where the guest writes a 1. Read-only bytes
 * (IDs, class, capability chains, BAR flag bits) need no special cases, and
 * BAR sizing works by the mask alone: a BAR's wmask is ~(size - 1).
 */
struct pci_cfg {
        uint8_t data[PCI_CFG_SIZE];
        uint8_t wmask[PCI_CFG_SIZE];
        uint8_t w1c[PCI_CFG_SIZE];
        uint8_t cap_next; /* where the next capability goes (builder state) */
        uint8_t cap_last; /* offset of the last capability, 0 if none */
        enum pci_bar_type bar_type[PCI_NUM_BARS];
        uint64_t bar_size[PCI_NUM_BARS];
};

/* A type-0 header with id, command/status/latency/line writable as on hardware. Pure. */
void pci_cfg_init(struct pci_cfg *c, const struct pci_id *id);

/*
 * Appends a capability of len bytes (id and next pointer included) to the
 * list in the standard space, 4-byte aligned. Returns its offset, or
 * -ENOSPC. Its bytes start read-only; the caller opens what the guest may
 * write with pci_cfg_set_wmask.
 */
int pci_cfg_add_cap(struct pci_cfg *c, uint8_t id, uint8_t len);

/* Sets the write mask of [off, off + len) to the bytes of mask (little-endian). */
void pci_cfg_set_wmask(struct pci_cfg *c, uint32_t off, uint32_t len, uint32_t mask);

/*
 * Declares BAR n: type, size (a power of two: >= 16 for memory, >= 4 for
 * I/O) and the initial address. A 64-bit BAR uses n and n + 1; PCI_BAR_NONE
 * clears the BAR. Pure.
 * -EINVAL for a bad size or index.
 */
int pci_cfg_set_bar(struct pci_cfg *c, int n, enum pci_bar_type type, uint64_t size, uint64_t addr);

/* The address BAR n decodes (flag bits stripped; both halves for 64-bit). */
uint64_t pci_cfg_bar_addr(const struct pci_cfg *c, int n);

/*
 * Reads or writes len (1, 2 or 4) bytes at off. Accesses past the end of
 * the space read as all-ones and are dropped. Pure.
 */
uint32_t pci_cfg_read(const struct pci_cfg *c, uint32_t off, uint32_t len);
void pci_cfg_write(struct pci_cfg *c, uint32_t off, uint32_t len, uint32_t val);

/* Little-endian helpers for device code that fills its own capabilities. */
void pci_cfg_put(struct pci_cfg *c, uint32_t off, uint32_t len, uint32_t val);
uint32_t pci_cfg_get(const struct pci_cfg *c, uint32_t off, uint32_t len);

#endif
