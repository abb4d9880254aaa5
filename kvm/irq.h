/* Interrupt and notification plumbing: GSI routing, irqfds and ioeventfds. */
#ifndef WISP_KVM_IRQ_H
#define WISP_KVM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "kvm/sys.h"

#define IRQ_IOAPIC_PINS 24
#define IRQ_PIC_PINS 16
#define IRQ_MAX_ROUTES 1024
#define IRQ_FIRST_MSI_GSI IRQ_IOAPIC_PINS /* GSIs 0..23 are the IOAPIC's pins */

/*
 * The VM's GSI routing table. KVM_SET_GSI_ROUTING replaces the whole table,
 * so wisp keeps the table itself: the default irqchip routes (PIC pins 0-15,
 * IOAPIC pins 0-23, as KVM sets them up) plus one MSI route per allocated
 * GSI. Thread-safe: vCPU threads change MSI routes when the guest writes an
 * MSI-X table.
 */
struct irq_routing {
        const struct kvm_sys *sys;
        int vm_fd;
        pthread_mutex_t lock;
        uint32_t next_gsi;
        unsigned int nr;
        struct kvm_irq_routing_entry entry[IRQ_MAX_ROUTES];
};

/* Fills the default irqchip routes (pure) and remembers the VM fd. */
void irq_routing_init(struct irq_routing *r, const struct kvm_sys *sys, int vm_fd);
void irq_routing_destroy(struct irq_routing *r);

/* Reserves a GSI for an MSI route (initially address 0, data 0). -ENOSPC when full. */
int irq_msi_gsi_alloc(struct irq_routing *r);

/* Points gsi at the MSI message (addr, data) and commits the table to KVM. */
int irq_msi_route_set(struct irq_routing *r, uint32_t gsi, uint64_t addr, uint32_t data);

/* Commits the current table with KVM_SET_GSI_ROUTING. */
int irq_routing_commit(struct irq_routing *r);

/*
 * Binds eventfd efd to gsi (KVM_IRQFD): a write to efd injects the
 * interrupt without leaving the kernel. With resample_fd >= 0 the GSI is
 * level-triggered and resample_fd is signalled at the guest's EOI.
 */
int irqfd_assign(const struct kvm_sys *sys, int vm_fd, int efd, uint32_t gsi, int resample_fd);
int irqfd_deassign(const struct kvm_sys *sys, int vm_fd, int efd, uint32_t gsi);

/*
 * Binds eventfd efd to a guest write of len bytes at addr (KVM_IOEVENTFD):
 * the write completes in the kernel, no exit to wisp. pio selects port I/O;
 * with match, only writes of value datamatch signal.
 */
struct ioeventfd_spec {
        uint64_t addr;
        uint32_t len; /* 0 (any length, MMIO only), 1, 2, 4 or 8 */
        bool pio;
        bool match;
        uint64_t datamatch;
};
int ioeventfd_assign(const struct kvm_sys *sys, int vm_fd, int efd,
                     const struct ioeventfd_spec *spec);
int ioeventfd_deassign(const struct kvm_sys *sys, int vm_fd, int efd,
                       const struct ioeventfd_spec *spec);

#endif
