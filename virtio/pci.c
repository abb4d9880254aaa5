/* virtio-pci core: status machine, feature negotiation, queues, kicks and interrupts. */
#include "virtio/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio/pci_internal.h"
#include "vmm/log.h"

#define PCI_VENDOR_REDHAT_QUMRANET 0x1af4
#define VIRTIO_PCI_MODERN_DEVICE_BASE 0x1040
#define VIRTIO_PCI_ISR_QUEUE 0x1 /* the ISR bit for used buffers (spec 4.1.4.5) */
#define IOEV_LEGACY 0
#define IOEV_MODERN 1

/* Transitional device ids follow their own table (virtio 1.1, 4.1.2.1). */
static uint16_t legacy_device_id(uint32_t id)
{
        static const uint16_t table[] = {
            [1] = 0x1000, /* net */
            [2] = 0x1001, /* block */
            [3] = 0x1003, /* console */
            [4] = 0x1005, /* entropy */
            [5] = 0x1002, /* balloon */
            [8] = 0x1004, /* SCSI host */
            [9] = 0x1009, /* 9P transport */
        };

        return id < sizeof(table) / sizeof(table[0]) && table[id] ? table[id] : 0;
}

int virtio_transport_parse(const char *s, enum virtio_transport *mode)
{
        if (!strcmp(s, "transitional"))
                *mode = VIRTIO_TRANSITIONAL;
        else if (!strcmp(s, "modern"))
                *mode = VIRTIO_MODERN;
        else if (!strcmp(s, "legacy"))
                *mode = VIRTIO_LEGACY;
        else
                return -EINVAL;
        return 0;
}

uint64_t vp_offered_features(const struct virtio_pci *vp, bool legacy)
{
        uint64_t f = vp->dev->ops->features(vp->dev) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
                     (1ull << VIRTIO_RING_F_INDIRECT_DESC);

        /* The legacy interface has 32 feature bits and no VERSION_1; the
         * chain parsing copes with any descriptor layout, so say so. */
        if (legacy)
                return (f | (1ull << VIRTIO_F_ANY_LAYOUT)) & 0xffffffffull;
        return f | (1ull << VIRTIO_F_VERSION_1);
}

bool vp_setup_phase(const struct virtio_pci *vp)
{
        return !(vp->status & VIRTIO_CONFIG_S_DRIVER_OK);
}

struct virtio_pci_queue *vp_selected(struct virtio_pci *vp)
{
        return vp->queue_select < vp->dev->num_queues ? &vp->queue[vp->queue_select] : NULL;
}

uint16_t vp_checked_vector(const struct virtio_pci *vp, uint16_t v)
{
        return v < vp->msix.nvec ? v : VIRTIO_MSI_NO_VECTOR;
}

int vp_enable_queue(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
        struct virtio_device *d = vp->dev;
        struct virtq_geometry g = {
            .size = q->size, .desc = q->desc, .avail = q->avail, .used = q->used};
        int r;

        r = virtq_init(&d->vq[q->index], vp->env.mem, &g, d->queue_max, d->max_segs, d->max_len,
                       false, false);
        q->enabled = r == 0;
        if (r < 0)
                wisp_info("virtio %s: queue %u: geometry rejected, queue not enabled", vp->pci.name,
                          q->index);
        return r;
}

void vp_disable_queue(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
        (void)vp;
        q->enabled = false;
}

/* Forgets everything the driver set, after the device has quiesced. */
static void reset_state(struct virtio_pci *vp)
{
        struct virtio_device *d = vp->dev;

        pthread_mutex_lock(&d->lock);
        if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)
                d->ops->reset(d);
        memset(d->vq, 0, d->num_queues * sizeof(d->vq[0]));
        memset(d->vq_ready, 0, d->num_queues * sizeof(d->vq_ready[0]));
        d->features = 0;
        pthread_mutex_unlock(&d->lock);

        __atomic_store_n(&vp->status, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
        vp->device_feature_select = vp->driver_feature_select = 0;
        vp->driver_features = 0;
        vp->queue_select = 0;
        vp->config_vector = VIRTIO_MSI_NO_VECTOR;
        vp->legacy_used = false;
        for (unsigned int i = 0; i < d->num_queues; i++) {
                struct virtio_pci_queue *q = &vp->queue[i];

                q->size = d->queue_max;
                q->desc = q->avail = q->used = 0;
                q->vector = VIRTIO_MSI_NO_VECTOR;
                q->enabled = false;
        }
}

/* FEATURES_OK: only a subset of what was offered, and VERSION_1 for modern drivers. */
static bool features_ok(const struct virtio_pci *vp)
{
        uint64_t offered = vp_offered_features(vp, vp->legacy_used);

        if (vp->driver_features & ~offered)
                return false;
        return vp->legacy_used || (vp->driver_features & (1ull << VIRTIO_F_VERSION_1));
}

/* DRIVER_OK: hand the validated queues to the device. */
static void activate(struct virtio_pci *vp)
{
        struct virtio_device *d = vp->dev;
        bool event_idx = vp->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
        bool indirect = vp->driver_features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
        int r;

        pthread_mutex_lock(&d->lock);
        d->features = vp->driver_features;
        for (unsigned int i = 0; i < d->num_queues; i++) {
                d->vq_ready[i] = vp->queue[i].enabled;
                d->vq[i].event_idx = event_idx;
                d->vq[i].indirect = indirect;
        }
        r = d->ops->activate(d);
        pthread_mutex_unlock(&d->lock);
        if (r < 0) {
                wisp_info("virtio %s: activation failed: %d", vp->pci.name, r);
                d->needs_reset(d);
        }
}

void vp_write_status(struct virtio_pci *vp, uint8_t v)
{
        uint8_t old = vp->status;
        uint8_t added = v & ~old;

        if (v == 0) {
                reset_state(vp);
                return;
        }
        /* Bits are only ever added until a reset (NEEDS_RESET is ours). */
        if (old & ~v & ~VIRTIO_CONFIG_S_NEEDS_RESET)
                return;
        if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
                if (vp->legacy_used || !features_ok(vp))
                        v &= ~VIRTIO_CONFIG_S_FEATURES_OK; /* not acknowledged */
        }
        if (added & VIRTIO_CONFIG_S_DRIVER_OK) {
                /* Legacy drivers know no FEATURES_OK: check their features now. */
                if (vp->legacy_used)
                        vp->driver_features &= vp_offered_features(vp, true);
                else if (!(v & VIRTIO_CONFIG_S_FEATURES_OK))
                        v &= ~VIRTIO_CONFIG_S_DRIVER_OK; /* ignored */
        }
        __atomic_store_n(&vp->status, (uint8_t)(v | (old & VIRTIO_CONFIG_S_NEEDS_RESET)),
                         __ATOMIC_SEQ_CST);
        if ((v & ~old) & VIRTIO_CONFIG_S_DRIVER_OK)
                activate(vp);
}

void vp_config_access(struct virtio_pci *vp, uint32_t off, uint8_t *data, uint32_t len,
                      bool is_write)
{
        struct virtio_device *d = vp->dev;

        if (off >= d->config_size || len > d->config_size - off) {
                if (!is_write)
                        memset(data, 0, len);
                return;
        }
        pthread_mutex_lock(&d->lock);
        if (is_write)
                d->ops->config_write(d, off, data, len);
        else
                d->ops->config_read(d, off, data, len);
        pthread_mutex_unlock(&d->lock);
}

uint8_t vp_isr_read_clear(struct virtio_pci *vp)
{
        /* INTx deasserts at the guest's EOI (resample); clearing is enough. */
        return __atomic_exchange_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
}

void vp_kick(struct virtio_pci *vp, uint32_t q)
{
        uint64_t one = 1;

        /* Work never runs on a vCPU: hand the kick to the I/O thread. */
        if (q < vp->dev->num_queues)
                (void)!write(vp->queue[q].kick_fd, &one, sizeof(one));
}

/* --- interrupts ---------------------------------------------------------- */

static void intx_assert(struct virtio_pci *vp)
{
        uint64_t one = 1;

        if (vp->intx_fd < 0 ||
            (pci_cfg_get(&vp->pci.cfg, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE))
                return;
        (void)!write(vp->intx_fd, &one, sizeof(one));
}

static void raise(struct virtio_pci *vp, uint8_t isr_bit, uint16_t vector)
{
        if (msix_enabled(&vp->msix)) {
                if (vector != VIRTIO_MSI_NO_VECTOR)
                        msix_notify(&vp->msix, vector);
                return;
        }
        __atomic_or_fetch(&vp->isr, isr_bit, __ATOMIC_SEQ_CST);
        intx_assert(vp);
}

static void irq_queue(void *ctx, unsigned int q)
{
        struct virtio_pci *vp = ctx;

        if (q < vp->dev->num_queues)
                raise(vp, VIRTIO_PCI_ISR_QUEUE,
                      __atomic_load_n(&vp->queue[q].vector, __ATOMIC_RELAXED));
}

static void irq_config(void *ctx)
{
        struct virtio_pci *vp = ctx;

        __atomic_add_fetch(&vp->config_generation, 1, __ATOMIC_SEQ_CST);
        raise(vp, VIRTIO_PCI_ISR_CONFIG, __atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED));
}

/* The driver broke a rule: NEEDS_RESET and a config interrupt (spec 2.1.2). */
static void needs_reset(struct virtio_device *d)
{
        struct virtio_pci *vp = d->core;

        if (__atomic_fetch_or(&vp->status, VIRTIO_CONFIG_S_NEEDS_RESET, __ATOMIC_SEQ_CST) &
            VIRTIO_CONFIG_S_NEEDS_RESET)
                return;
        wisp_info("virtio %s: driver error: device needs reset", vp->pci.name);
        irq_config(vp);
}

/* INTx resample (the guest's EOI): still pending work re-asserts the line. */
static void on_resample(void *opaque, uint32_t events)
{
        struct virtio_pci *vp = opaque;
        uint64_t v;

        (void)events;
        (void)!read(vp->intx_resample_fd, &v, sizeof(v));
        if (__atomic_load_n(&vp->isr, __ATOMIC_SEQ_CST) && !msix_enabled(&vp->msix))
                intx_assert(vp);
}

/* --- kicks ---------------------------------------------------------------- */

static void requeue(struct virtio_device *d, unsigned int q)
{
        vp_kick(d->core, q);
}

static void on_kick(void *opaque, uint32_t events)
{
        struct virtio_pci_queue *q = opaque;
        struct virtio_pci *vp = q->vp;
        struct virtio_device *d = vp->dev;
        uint64_t v;

        (void)events;
        (void)!read(q->kick_fd, &v, sizeof(v));
        wisp_debug("virtio %s: kick on queue %u", vp->pci.name, q->index);
        pthread_mutex_lock(&d->lock);
        if ((__atomic_load_n(&vp->status, __ATOMIC_SEQ_CST) &
             (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET)) ==
                VIRTIO_CONFIG_S_DRIVER_OK &&
            d->vq_ready[q->index])
                d->ops->notify(d, q->index);
        pthread_mutex_unlock(&d->lock);
}

static void move_ioeventfd(struct virtio_pci *vp, struct virtio_pci_queue *q, int which,
                           uint64_t addr, bool mapped)
{
        struct ioeventfd_spec *s = &q->ioev[which];

        if (q->ioev_on[which])
                ioeventfd_deassign(vp->env.sys, vp->env.vm_fd, q->kick_fd, s);
        q->ioev_on[which] = false;
        if (!mapped)
                return;
        if (which == IOEV_LEGACY)
                *s = (struct ioeventfd_spec){.addr = addr + VIRTIO_PCI_QUEUE_NOTIFY,
                                             .len = 2,
                                             .pio = true,
                                             .match = true,
                                             .datamatch = q->index};
        else
                *s = (struct ioeventfd_spec){.addr = addr + VIRTIO_PCI_MODERN_NOTIFY +
                                                     q->index * VIRTIO_PCI_NOTIFY_MULTIPLIER,
                                             .len = 2};
        if (ioeventfd_assign(vp->env.sys, vp->env.vm_fd, q->kick_fd, s) == 0)
                q->ioev_on[which] = true;
        else
                wisp_warn("virtio %s: no ioeventfd for queue %u: kicks will exit", vp->pci.name,
                          q->index);
}

static void bar_moved(void *opaque, int n, uint64_t addr, bool mapped)
{
        struct virtio_pci *vp = opaque;
        int which = n == VIRTIO_PCI_BAR_LEGACY ? IOEV_LEGACY : IOEV_MODERN;

        if (n != VIRTIO_PCI_BAR_LEGACY && n != VIRTIO_PCI_BAR_MODERN)
                return;
        for (unsigned int i = 0; i < vp->dev->num_queues; i++)
                move_ioeventfd(vp, &vp->queue[i], which, addr, mapped);
}

static void cfg_read(void *opaque, uint32_t off, uint32_t len)
{
        struct virtio_pci *vp = opaque;

        if (vp->mode != VIRTIO_LEGACY)
                vp_modern_pci_cfg_read(vp, off, len);
}

static void cfg_written(void *opaque, uint32_t off, uint32_t len)
{
        struct virtio_pci *vp = opaque;

        if (off < vp->msix.cap + 4 && off + len > vp->msix.cap)
                msix_cap_written(&vp->msix);
        if (vp->mode != VIRTIO_LEGACY)
                vp_modern_pci_cfg_written(vp, off, len);
}

static const struct pci_device_ops vp_pci_ops = {
    .cfg_read = cfg_read, .cfg_written = cfg_written, .bar_moved = bar_moved};

/* --- set-up --------------------------------------------------------------- */

static int setup_queues(struct virtio_pci *vp)
{
        struct virtio_device *d = vp->dev;

        vp->queue = calloc(d->num_queues, sizeof(*vp->queue));
        d->vq = calloc(d->num_queues, sizeof(*d->vq));
        d->vq_ready = calloc(d->num_queues, sizeof(*d->vq_ready));
        if (!vp->queue || !d->vq || !d->vq_ready)
                return -ENOMEM;
        for (unsigned int i = 0; i < d->num_queues; i++) {
                struct virtio_pci_queue *q = &vp->queue[i];

                q->vp = vp;
                q->index = i;
                q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (q->kick_fd < 0)
                        return -errno;
                q->kick_src = (struct event_source){.fd = q->kick_fd, .fn = on_kick, .opaque = q};
                if (event_add(vp->env.loop, &q->kick_src, EPOLLIN) < 0)
                        return -EIO;
        }
        return 0;
}

static int setup_pci(struct virtio_pci *vp)
{
        struct virtio_device *d = vp->dev;
        bool legacy = vp->mode != VIRTIO_MODERN, modern = vp->mode != VIRTIO_LEGACY;
        struct pci_id id = {
            .vendor = PCI_VENDOR_REDHAT_QUMRANET,
            .device = modern && !legacy ? (uint16_t)(VIRTIO_PCI_MODERN_DEVICE_BASE + d->id)
                                        : legacy_device_id(d->id),
            .subsys_vendor = PCI_VENDOR_REDHAT_QUMRANET,
            .subsys = (uint16_t)d->id,
            .class_code = 0xff0000, /* misc; Linux binds by id */
            .revision = modern && !legacy ? 1 : 0,
            .irq_pin = 1,
        };
        int r;

        pci_cfg_init(&vp->pci.cfg, &id);
        vp->pci.ops = &vp_pci_ops;
        vp->pci.opaque = vp;
        if (legacy) {
                uint32_t size = vp_legacy_bar_size(d);

                r = pci_cfg_set_bar(&vp->pci.cfg, VIRTIO_PCI_BAR_LEGACY, PCI_BAR_IO, size, 0);
                vp->pci.bar[VIRTIO_PCI_BAR_LEGACY] = (struct pci_bar_def){
                    .type = PCI_BAR_IO, .size = size, .fn = vp_legacy_io, .opaque = vp};
                if (r < 0)
                        return r;
        }
        r = pci_cfg_set_bar(&vp->pci.cfg, VIRTIO_PCI_BAR_MSIX, PCI_BAR_MEM32,
                            VIRTIO_PCI_MSIX_BAR_SIZE, 0);
        if (r < 0)
                return r;
        if (modern) {
                r = pci_cfg_set_bar(&vp->pci.cfg, VIRTIO_PCI_BAR_MODERN, PCI_BAR_MEM64,
                                    VIRTIO_PCI_MODERN_BAR_SIZE, 0);
                vp->pci.bar[VIRTIO_PCI_BAR_MODERN] =
                    (struct pci_bar_def){.type = PCI_BAR_MEM64,
                                         .size = VIRTIO_PCI_MODERN_BAR_SIZE,
                                         .fn = vp_modern_io,
                                         .opaque = vp};
                if (r == 0)
                        r = vp_modern_add_caps(vp);
                if (r < 0)
                        return r;
        }
        r = msix_init(&vp->msix, &vp->pci.cfg, d->num_queues + 1u, VIRTIO_PCI_BAR_MSIX, 0,
                      VIRTIO_PCI_BAR_MSIX, 0x1000, vp->env.routing, vp->env.sys, vp->env.vm_fd);
        return r;
}

/* The MSI-X BAR: table in the first 4 KiB, PBA in the second. */
static void msix_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        struct virtio_pci *vp = opaque;

        if (off < 0x1000)
                msix_table_io(&vp->msix, off, data, len, is_write);
        else
                msix_pba_io(&vp->msix, off - 0x1000, data, len, is_write);
}

int virtio_pci_init(struct virtio_pci *vp, struct virtio_device *dev, enum virtio_transport mode,
                    const struct virtio_env *env)
{
        int r;

        memset(vp, 0, sizeof(*vp));
        vp->dev = dev;
        vp->mode = mode;
        vp->env = *env;
        vp->intx_fd = vp->intx_resample_fd = -1;
        pthread_mutex_init(&vp->lock, NULL);
        pthread_mutex_init(&dev->lock, NULL);
        dev->mem = env->mem;
        dev->irq = (struct virtio_irq){.queue = irq_queue, .config = irq_config, .ctx = vp};
        dev->needs_reset = needs_reset;
        dev->requeue = requeue;
        dev->core = vp;
        vp->pci.bar[VIRTIO_PCI_BAR_MSIX] = (struct pci_bar_def){.type = PCI_BAR_MEM32,
                                                                .size = VIRTIO_PCI_MSIX_BAR_SIZE,
                                                                .fn = msix_bar_io,
                                                                .opaque = vp};
        r = setup_queues(vp);
        if (r == 0)
                r = setup_pci(vp);
        if (r == 0)
                reset_state(vp);
        return r;
}

int virtio_pci_plug(struct virtio_pci *vp, struct pci_bus *bus)
{
        int r = pci_bus_add(bus, &vp->pci);

        if (r < 0)
                return r;
        vp->intx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        vp->intx_resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vp->intx_fd < 0 || vp->intx_resample_fd < 0)
                return -errno;
        r = irqfd_assign(vp->env.sys, vp->env.vm_fd, vp->intx_fd, vp->pci.intx_gsi,
                         vp->intx_resample_fd);
        if (r < 0)
                return r;
        vp->resample_src =
            (struct event_source){.fd = vp->intx_resample_fd, .fn = on_resample, .opaque = vp};
        return event_add(vp->env.loop, &vp->resample_src, EPOLLIN);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
        struct virtio_device *d = vp->dev;

        if (!d)
                return;
        for (unsigned int i = 0; vp->queue && i < d->num_queues; i++) {
                for (int w = 0; w < 2; w++)
                        if (vp->queue[i].ioev_on[w])
                                ioeventfd_deassign(vp->env.sys, vp->env.vm_fd, vp->queue[i].kick_fd,
                                                   &vp->queue[i].ioev[w]);
                if (vp->queue[i].kick_fd > 0)
                        close(vp->queue[i].kick_fd);
        }
        if (vp->intx_fd >= 0)
                close(vp->intx_fd);
        if (vp->intx_resample_fd >= 0)
                close(vp->intx_resample_fd);
        msix_destroy(&vp->msix);
        free(vp->queue);
        free(d->vq);
        free(d->vq_ready);
        vp->queue = NULL;
        d->vq = NULL;
        d->vq_ready = NULL;
        pthread_mutex_destroy(&vp->lock);
        pthread_mutex_destroy(&d->lock);
}
