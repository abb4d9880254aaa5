/* The legacy (0.9.5) virtio-pci interface in I/O BAR 0. */
#include "virtio.h"
#include "x86.h"

static bool probe(struct vdev *d)
{
        const struct pci_fn *f = d->pci;

        /* Linux's virtio_pci_legacy_probe: device 0x1000..0x103f, ABI revision 0. */
        if (f->device < 0x1000 || f->device > 0x103f || (f->class_rev & 0xff) != 0)
                return false;
        if (!f->bar[0].io || !f->bar[0].addr || f->bar[0].size < 24)
                return false;
        d->io = (u16)f->bar[0].addr;
        kprintf("virtio: legacy header at port 0x%x (%lu bytes)\n", d->io, f->bar[0].size);
        return true;
}

static u8 get_status(struct vdev *d)
{
        return inb(d->io + VIRTIO_PCI_STATUS);
}

static void set_status(struct vdev *d, u8 s)
{
        outb(d->io + VIRTIO_PCI_STATUS, s);
}

static u64 get_features(struct vdev *d)
{
        return inl(d->io + VIRTIO_PCI_HOST_FEATURES);
}

static void set_features(struct vdev *d, u64 f)
{
        outl(d->io + VIRTIO_PCI_GUEST_FEATURES, (u32)f);
}

static u64 get_driver_features(struct vdev *d)
{
        return inl(d->io + VIRTIO_PCI_GUEST_FEATURES);
}

/* Device config follows the header: at 24 once MSI-X is on, else at 20. */
static u32 config_read(struct vdev *d, u32 off, u32 size)
{
        u16 port = d->io + VIRTIO_PCI_CONFIG_OFF(d->have_msix) + off;

        if (size == 1)
                return inb(port);
        if (size == 2)
                return inw(port);
        return inl(port);
}

static u16 num_queues(struct vdev *d)
{
        (void)d;
        return 0; /* the legacy header does not say */
}

static u16 queue_size(struct vdev *d, u16 q)
{
        outw(d->io + VIRTIO_PCI_QUEUE_SEL, q);
        return inw(d->io + VIRTIO_PCI_QUEUE_NUM);
}

static bool queue_setup(struct vdev *d, struct vq *q)
{
        u32 pfn = (u32)((u64)q->desc >> VIRTIO_PCI_QUEUE_ADDR_SHIFT);
        u16 num;

        outw(d->io + VIRTIO_PCI_QUEUE_SEL, q->index);
        num = inw(d->io + VIRTIO_PCI_QUEUE_NUM);
        if (num != q->size || inl(d->io + VIRTIO_PCI_QUEUE_PFN)) {
                kprintf("virtio: legacy queue %u: size %u (want %u) or already active\n", q->index,
                        num, q->size);
                return false;
        }
        outl(d->io + VIRTIO_PCI_QUEUE_PFN, pfn);
        if (inl(d->io + VIRTIO_PCI_QUEUE_PFN) != pfn) {
                kprintf("virtio: legacy queue %u: PFN 0x%x reads back 0x%x\n", q->index, pfn,
                        inl(d->io + VIRTIO_PCI_QUEUE_PFN));
                return false;
        }
        if (d->have_msix) {
                u16 v;

                outw(d->io + VIRTIO_MSI_QUEUE_VECTOR, q->vector);
                v = inw(d->io + VIRTIO_MSI_QUEUE_VECTOR);
                if (v != q->vector) {
                        kprintf("virtio: legacy queue %u: vector %u reads back %u\n", q->index,
                                q->vector, v);
                        return false;
                }
        }
        q->notify = d->io + VIRTIO_PCI_QUEUE_NOTIFY;
        return true;
}

static void queue_enable(struct vdev *d, struct vq *q)
{
        (void)d, (void)q; /* the PFN write enabled it */
}

static u16 set_config_vector(struct vdev *d, u16 entry)
{
        outw(d->io + VIRTIO_MSI_CONFIG_VECTOR, entry);
        return inw(d->io + VIRTIO_MSI_CONFIG_VECTOR);
}

static u8 isr(struct vdev *d)
{
        return inb(d->io + VIRTIO_PCI_ISR); /* read-to-clear */
}

const struct virtio_ops virtio_legacy_ops = {
    .name = "legacy",
    .probe = probe,
    .get_status = get_status,
    .set_status = set_status,
    .get_features = get_features,
    .set_features = set_features,
    .get_driver_features = get_driver_features,
    .config_read = config_read,
    .num_queues = num_queues,
    .queue_size = queue_size,
    .queue_setup = queue_setup,
    .queue_enable = queue_enable,
    .set_config_vector = set_config_vector,
    .isr = isr,
};
