/* GSI routing table kept by wisp, and the irqfd/ioeventfd ioctls. */
#include "kvm/irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void add_irqchip(struct irq_routing *r, uint32_t gsi, uint32_t chip, uint32_t pin)
{
        r->entry[r->nr++] =
            (struct kvm_irq_routing_entry){.gsi = gsi,
                                           .type = KVM_IRQ_ROUTING_IRQCHIP,
                                           .u.irqchip = {.irqchip = chip, .pin = pin}};
}

void irq_routing_init(struct irq_routing *r, const struct kvm_sys *sys, int vm_fd)
{
        memset(r, 0, sizeof(*r));
        r->sys = sys;
        r->vm_fd = vm_fd;
        pthread_mutex_init(&r->lock, NULL);
        /* KVM's default table: GSI n drives PIC pin n (n < 16, master/slave
         * split at 8, no pin 2 cascade) and IOAPIC pin n. */
        for (uint32_t gsi = 0; gsi < IRQ_PIC_PINS; gsi++)
                if (gsi != 2)
                        add_irqchip(r, gsi,
                                    gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                                    gsi % 8);
        for (uint32_t gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++)
                add_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC, gsi);
        r->next_gsi = IRQ_FIRST_MSI_GSI;
}

void irq_routing_destroy(struct irq_routing *r)
{
        pthread_mutex_destroy(&r->lock);
}

int irq_msi_gsi_alloc(struct irq_routing *r)
{
        int gsi = -ENOSPC;

        pthread_mutex_lock(&r->lock);
        if (r->nr < IRQ_MAX_ROUTES) {
                gsi = (int)r->next_gsi++;
                r->entry[r->nr++] = (struct kvm_irq_routing_entry){.gsi = (uint32_t)gsi,
                                                                   .type = KVM_IRQ_ROUTING_MSI};
        }
        pthread_mutex_unlock(&r->lock);
        return gsi;
}

static int commit_locked(struct irq_routing *r)
{
        size_t size = sizeof(struct kvm_irq_routing) + r->nr * sizeof(r->entry[0]);
        struct kvm_irq_routing *t = malloc(size);
        int ret;

        if (!t)
                return -ENOMEM;
        t->nr = r->nr;
        t->flags = 0;
        memcpy(t->entries, r->entry, r->nr * sizeof(r->entry[0]));
        ret = kvm_ioctl(r->sys, r->vm_fd, KVM_SET_GSI_ROUTING, t);
        free(t);
        return ret < 0 ? ret : 0;
}

int irq_routing_commit(struct irq_routing *r)
{
        int ret;

        pthread_mutex_lock(&r->lock);
        ret = commit_locked(r);
        pthread_mutex_unlock(&r->lock);
        return ret;
}

int irq_msi_route_set(struct irq_routing *r, uint32_t gsi, uint64_t addr, uint32_t data)
{
        int ret = -ENOENT;

        pthread_mutex_lock(&r->lock);
        for (unsigned int i = 0; i < r->nr; i++) {
                struct kvm_irq_routing_entry *e = &r->entry[i];

                if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
                        continue;
                if (e->u.msi.address_lo == (uint32_t)addr &&
                    e->u.msi.address_hi == (uint32_t)(addr >> 32) && e->u.msi.data == data) {
                        ret = 0; /* unchanged: no ioctl */
                        break;
                }
                e->u.msi.address_lo = (uint32_t)addr;
                e->u.msi.address_hi = (uint32_t)(addr >> 32);
                e->u.msi.data = data;
                ret = commit_locked(r);
                break;
        }
        pthread_mutex_unlock(&r->lock);
        return ret;
}

int irqfd_assign(const struct kvm_sys *sys, int vm_fd, int efd, uint32_t gsi, int resample_fd)
{
        struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = gsi};

        if (resample_fd >= 0) {
                f.flags = KVM_IRQFD_FLAG_RESAMPLE;
                f.resamplefd = (uint32_t)resample_fd;
        }
        int r = kvm_ioctl(sys, vm_fd, KVM_IRQFD, &f);

        return r < 0 ? r : 0;
}

int irqfd_deassign(const struct kvm_sys *sys, int vm_fd, int efd, uint32_t gsi)
{
        struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN};
        int r = kvm_ioctl(sys, vm_fd, KVM_IRQFD, &f);

        return r < 0 ? r : 0;
}

static int ioeventfd(const struct kvm_sys *sys, int vm_fd, int efd, const struct ioeventfd_spec *s,
                     uint32_t extra)
{
        struct kvm_ioeventfd io = {
            .datamatch = s->datamatch, .addr = s->addr, .len = s->len, .fd = efd, .flags = extra};
        int r;

        if (s->pio)
                io.flags |= KVM_IOEVENTFD_FLAG_PIO;
        if (s->match)
                io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
        r = kvm_ioctl(sys, vm_fd, KVM_IOEVENTFD, &io);
        return r < 0 ? r : 0;
}

int ioeventfd_assign(const struct kvm_sys *sys, int vm_fd, int efd,
                     const struct ioeventfd_spec *spec)
{
        return ioeventfd(sys, vm_fd, efd, spec, 0);
}

int ioeventfd_deassign(const struct kvm_sys *sys, int vm_fd, int efd,
                       const struct ioeventfd_spec *spec)
{
        return ioeventfd(sys, vm_fd, efd, spec, KVM_IOEVENTFD_FLAG_DEASSIGN);
}
