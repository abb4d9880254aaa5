/* MSI-X: the capability, the vector table and PBA in a BAR, masking, and delivery by irqfd. */
#ifndef WISP_PCI_MSIX_H
#define WISP_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/irq.h"
#include "pci/config.h"

#define MSIX_MAX_VECTORS 256
#define MSIX_ENTRY_SIZE 16

struct msix_entry {
        uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: vector masked */
};

/*
 * One function's MSI-X state. Each vector owns a GSI whose MSI route follows
 * the guest's table entry, and an eventfd bound to it with KVM_IRQFD:
 * msix_notify writes that eventfd, so an interrupt never leaves the kernel.
 * Masking is honoured here: a masked vector (or a masked function) sets its
 * pending bit instead, and fires when unmasked.
 */
struct msix {
        pthread_mutex_t lock; /* vCPUs write the table; the I/O thread notifies */
        struct pci_cfg *cfg;
        uint32_t cap; /* capability offset in cfg */
        unsigned int nvec;
        struct msix_entry table[MSIX_MAX_VECTORS];
        uint64_t pba[MSIX_MAX_VECTORS / 64];
        bool enabled, fn_masked; /* mirrors of the control register */
        /* Delivery; routing == NULL in unit tests, which read fired[] instead. */
        struct irq_routing *routing;
        const struct kvm_sys *sys;
        int vm_fd;
        uint32_t gsi[MSIX_MAX_VECTORS];
        int efd[MSIX_MAX_VECTORS];
        unsigned long fired[MSIX_MAX_VECTORS]; /* deliveries per vector */
};

/*
 * Adds the MSI-X capability to cfg with nvec vectors, the table at
 * table_bar + table_off and the PBA at pba_bar + pba_off (both 8-byte
 * aligned; the caller sizes the BAR and routes accesses to msix_table_io /
 * msix_pba_io). With routing != NULL, allocates a GSI, an eventfd and an
 * irqfd per vector. All vectors start masked. Returns 0 or -errno.
 */
int msix_init(struct msix *m, struct pci_cfg *cfg, unsigned int nvec, int table_bar,
              uint32_t table_off, int pba_bar, uint32_t pba_off, struct irq_routing *routing,
              const struct kvm_sys *sys, int vm_fd);
void msix_destroy(struct msix *m);

/* Bytes of table and of PBA for nvec vectors. */
uint32_t msix_table_size(unsigned int nvec);
uint32_t msix_pba_size(unsigned int nvec);

/*
 * Region handlers (offset relative to the table / PBA start). Accesses must
 * be 4 or 8 bytes, aligned, inside the table; anything else is ignored
 * (reads all-ones). The PBA is read-only.
 */
void msix_table_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void msix_pba_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/* Re-reads enable and function-mask from the control register after a config write. */
void msix_cap_written(struct msix *m);

/* True when MSI-X is enabled: the transport then uses msix_notify, not INTx. */
bool msix_enabled(struct msix *m);

/*
 * Signals vector vec. Returns 0 when delivered or left pending (masked),
 * -EINVAL for vec >= nvec (treated as "no vector": nothing happens), and
 * -ENOENT when MSI-X is disabled (nothing happens: the transport uses INTx).
 */
int msix_notify(struct msix *m, unsigned int vec);

#endif
