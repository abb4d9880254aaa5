/* The PCI host bridge: bus 0, config mechanism #1 and ECAM, BAR mapping onto the I/O buses. */
#ifndef WISP_PCI_BUS_H
#define WISP_PCI_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "kvm/guest_mem.h"
#include "pci/config.h"

#define PCI_MAX_SLOTS 32 /* slot 0 is the host bridge */

/* A BAR's contents: who handles accesses inside it. */
struct pci_bar_def {
        enum pci_bar_type type;
        uint64_t size;
        io_handler fn;
        void *opaque;
};

/* Both callbacks run with the bus lock held; bar_moved can fire for one device
 * during another's config write (a BAR that no longer overlaps gets mapped). */
struct pci_device_ops {
        /* Before a config read of [off, off + len): a window onto a BAR fetches its data. */
        void (*cfg_read)(void *opaque, uint32_t off, uint32_t len);
        /* After a config write at [off, off + len) took effect (e.g. MSI-X control). */
        void (*cfg_written)(void *opaque, uint32_t off, uint32_t len);
        /* BAR n now decodes at addr (mapped) or no longer decodes (!mapped): move ioeventfds. */
        void (*bar_moved)(void *opaque, int n, uint64_t addr, bool mapped);
};

struct pci_device {
        struct pci_cfg cfg;
        struct pci_bar_def bar[PCI_NUM_BARS];
        const struct pci_device_ops *ops; /* may be NULL */
        void *opaque;
        const char *name;
        /* Filled by pci_bus_add: */
        unsigned int slot;
        uint32_t intx_gsi; /* IOAPIC pin for INTA, if the device has an irq_pin */
        bool mapped[PCI_NUM_BARS];
        uint64_t mapped_addr[PCI_NUM_BARS];
};

struct pci_bus {
        pthread_mutex_t lock; /* config accesses come from every vCPU */
        struct io_bus *pio, *mmio;
        const struct guest_mem *mem;
        struct pci_device host_bridge;
        struct pci_device *slot[PCI_MAX_SLOTS];
        uint32_t config_address;    /* the 0xcf8 latch */
        uint64_t io_next, mem_next; /* BAR allocation cursors in the windows */
};

/*
 * Sets up bus 0 with the host bridge at 00:00.0 and claims 0xcf8 (4 bytes),
 * 0xcfc..0xcff and the ECAM window on the buses. Returns 0 or -errno.
 */
int pci_bus_init(struct pci_bus *b, struct io_bus *pio, struct io_bus *mmio,
                 const struct guest_mem *mem);
void pci_bus_destroy(struct pci_bus *b);

/*
 * Plugs d into the next free slot, assigning its BARs from the windows in
 * boot/layout.h naturally aligned (as firmware would; decoding stays off
 * until the guest sets the command register), its INTx pin and its
 * interrupt line. d->bar[] is the source of truth: the BARs in d->cfg are
 * (re)declared from it. Returns the slot, -ENOSPC (no slot or window left)
 * or -EINVAL (a bad BAR definition).
 */
int pci_bus_add(struct pci_bus *b, struct pci_device *d);

/* Bus handlers (exposed for tests): 0xcf8, 0xcfc..0xcff, and the ECAM window. */
void pci_config_address_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void pci_config_data_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/*
 * Brings d's BAR mappings in line with its config space: a BAR decodes when
 * the command register enables its kind, its address is not zero or all
 * ones, it fits the address space (16-bit ports, no wrap), and it overlaps
 * neither RAM nor another region; otherwise it is left unmapped. Called
 * after every command or BAR write. Caller holds b->lock.
 */
void pci_bus_update_bars(struct pci_bus *b, struct pci_device *d);

#endif
