/* virtio-pci, common to both interfaces: options, attach, reset, negotiation, queues, DRIVER_OK. */
#include "virtio.h"
#include "x86.h"

#define RESET_WAIT_MS 1000

void virtio_opts_parse(const char *cmdline, struct virtio_opts *o)
{
        char v[16];
        u64 n;

        memset(o, 0, sizeof(*o));
        if (cmdline_value(cmdline, "virtio.transport", v, sizeof(v))) {
                if (!strncmp(v, "legacy", sizeof(v)))
                        o->legacy = true;
                else if (strncmp(v, "modern", sizeof(v)))
                        guest_fail(ST_USAGE, "virtio.transport=%s: modern or legacy", v);
        }
        o->event_idx = cmdline_bool(cmdline, "virtio.event_idx", true);
        o->indirect = cmdline_bool(cmdline, "virtio.indirect", true);
        if (cmdline_value(cmdline, "virtio.wait", v, sizeof(v))) {
                if (!strncmp(v, "poll", sizeof(v)))
                        o->poll = true;
                else if (strncmp(v, "irq", sizeof(v)))
                        guest_fail(ST_USAGE, "virtio.wait=%s: irq or poll", v);
        }
        o->no_msix = !cmdline_bool(cmdline, "virtio.msix", true);
        if (o->no_msix)
                o->poll = true; /* INTx is not routed: completions are polled, ISR checked */
        if (cmdline_u64(cmdline, "virtio.qsize", &n)) {
                if (!n || n > 32768 || (n & (n - 1)))
                        guest_fail(ST_USAGE, "virtio.qsize=%lu: a power of two", n);
                o->qsize = (u16)n;
        }
}

bool virtio_attach(struct vdev *d, struct pci_fn *f, const struct virtio_opts *o, u8 idt_base)
{
        memset(d, 0, sizeof(*d));
        d->pci = f;
        d->legacy = o->legacy;
        d->ops = o->legacy ? &virtio_legacy_ops : &virtio_modern_ops;
        if (!pci_size_bars(f))
                return false;
        if (!d->ops->probe(d)) {
                kprintf("virtio: 00:%02x.%u has no %s interface\n", f->dev, f->fn, d->ops->name);
                return false;
        }
        pci_enable(f);
        d->have_msix = !o->no_msix && msix_probe(&d->msix, f);
        if (d->have_msix) {
                u16 n = d->msix.nvec < VEC_MSIX_PER_DEV ? d->msix.nvec : VEC_MSIX_PER_DEV;

                msix_enable(&d->msix, idt_base, n);
        }
        kprintf("virtio: 00:%02x.%u %04x:%04x through the %s interface\n", f->dev, f->fn, f->vendor,
                f->device, d->ops->name);
        return true;
}

bool virtio_reset(struct vdev *d)
{
        u64 end = deadline_ms(RESET_WAIT_MS);

        d->ops->set_status(d, 0);
        /* 4.1.4.3.2: the driver waits for the status to read 0 after writing 0. */
        while (d->ops->get_status(d) != 0)
                if (deadline_passed(end))
                        return false;
        return true;
}

bool virtio_negotiate(struct vdev *d, u64 want)
{
        u8 st;

        if (!virtio_reset(d)) {
                kprintf("virtio: status still 0x%x after a reset\n", d->ops->get_status(d));
                return false;
        }
        d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        d->offered = d->ops->get_features(d);
        d->features = d->offered & want;
        if (!d->legacy) {
                if (!(d->offered & (1UL << VIRTIO_F_VERSION_1))) {
                        kprintf("virtio: modern interface without VERSION_1 (0x%lx)\n", d->offered);
                        return false;
                }
                d->features |= 1UL << VIRTIO_F_VERSION_1;
        }
        d->ops->set_features(d, d->features);
        kprintf("virtio: features offered 0x%lx, accepted 0x%lx\n", d->offered, d->features);
        if (d->legacy)
                return true; /* legacy: no FEATURES_OK */
        d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                  VIRTIO_CONFIG_S_FEATURES_OK);
        st = d->ops->get_status(d);
        if (!(st & VIRTIO_CONFIG_S_FEATURES_OK)) {
                kprintf("virtio: FEATURES_OK not accepted (status 0x%x)\n", st);
                return false;
        }
        return true;
}

bool virtio_queue(struct vdev *d, struct vq *q)
{
        if (!d->ops->queue_setup(d, q))
                return false;
        d->ops->queue_enable(d, q);
        return true;
}

void virtio_driver_ok(struct vdev *d)
{
        d->ops->set_status(d, d->ops->get_status(d) | VIRTIO_CONFIG_S_DRIVER_OK);
}
