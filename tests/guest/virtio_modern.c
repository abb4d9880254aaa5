/* The virtio 1.x PCI interface: regions found through vendor capabilities, as Linux does. */
#include "virtio.h"
#include "x86.h"

#define COMMON_MIN_LEN 0x38 /* up to queue_used_hi */

static u32 mmio_rd(u64 a, u32 size)
{
        if (size == 1)
                return *(volatile u8 *)a;
        if (size == 2)
                return *(volatile u16 *)a;
        return *(volatile u32 *)a;
}

static void mmio_wr(u64 a, u32 size, u32 v)
{
        if (size == 1)
                *(volatile u8 *)a = (u8)v;
        else if (size == 2)
                *(volatile u16 *)a = (u16)v;
        else
                *(volatile u32 *)a = v;
}

u32 vm_read(struct vdev *d, u32 off, u32 size)
{
        return mmio_rd(d->common + off, size);
}

void vm_write(struct vdev *d, u32 off, u32 size, u32 v)
{
        mmio_wr(d->common + off, size, v);
}

/* Maps one capability's region: BAR, offset, length checked against the BAR. */
static bool map_cap(struct vdev *d, u8 cap, u64 *addr, u32 *len, u32 min_len)
{
        const struct pci_fn *f = d->pci;
        u8 bar = (u8)pci_read(f, cap + VIRTIO_PCI_CAP_BAR, 1);
        u32 off = pci_read(f, cap + VIRTIO_PCI_CAP_OFFSET, 4);
        u32 n = pci_read(f, cap + VIRTIO_PCI_CAP_LENGTH, 4);
        const struct pci_bar *b;

        if (bar >= PCI_STD_NUM_BARS)
                return false;
        b = &f->bar[bar];
        if (b->io || !b->addr || n < min_len || (u64)off + n > b->size) {
                kprintf("virtio: cap at 0x%02x: bar %u offset 0x%x length 0x%x does not fit "
                        "(BAR at 0x%lx size 0x%lx)\n",
                        cap, bar, off, n, b->addr, b->size);
                return false;
        }
        mmu_map_mmio(b->addr, b->size);
        *addr = b->addr + off;
        *len = n;
        return true;
}

static bool probe(struct vdev *d)
{
        const struct pci_fn *f = d->pci;
        u32 len;
        bool common = false, isr = false, dev = false, notify = false;

        for (u8 cap = pci_find_cap(f, PCI_CAP_ID_VNDR, 0); cap;
             cap = pci_find_cap(f, PCI_CAP_ID_VNDR, cap)) {
                u8 type = (u8)pci_read(f, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1);

                /* The first of each type that maps wins (4.1.4.1). */
                if (type == VIRTIO_PCI_CAP_COMMON_CFG && !common)
                        common = map_cap(d, cap, &d->common, &len, COMMON_MIN_LEN);
                else if (type == VIRTIO_PCI_CAP_ISR_CFG && !isr)
                        isr = map_cap(d, cap, &d->isr_addr, &len, 1);
                else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !dev)
                        dev = map_cap(d, cap, &d->devcfg, &d->devcfg_len, 1);
                else if (type == VIRTIO_PCI_CAP_PCI_CFG && !d->pcicfg_cap)
                        d->pcicfg_cap = cap;
                else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !notify) {
                        notify = map_cap(d, cap, &d->notify, &d->notify_len, 2);
                        d->notify_mult = pci_read(f, cap + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
                }
        }
        if (common && isr && notify)
                kprintf("virtio: common 0x%lx isr 0x%lx device 0x%lx (%u bytes) notify 0x%lx "
                        "(x%u, %u bytes)\n",
                        d->common, d->isr_addr, d->devcfg, d->devcfg_len, d->notify, d->notify_mult,
                        d->notify_len);
        return common && isr && notify; /* device config is optional */
}

#define PCI_CFG_DATA 16 /* struct virtio_pci_cfg_cap: the data after the virtio_pci_cap */

/* BAR number and offset of an MMIO address inside one of the function's BARs. */
static bool bar_of(const struct vdev *d, u64 addr, u8 *bar, u32 *off)
{
        for (u8 i = 0; i < PCI_STD_NUM_BARS; i++) {
                const struct pci_bar *b = &d->pci->bar[i];

                if (!b->io && b->size && addr >= b->addr && addr < b->addr + b->size) {
                        *bar = i;
                        *off = (u32)(addr - b->addr);
                        return true;
                }
        }
        return false;
}

static u32 window(struct vdev *d, u64 addr, u32 len, bool write, u32 v)
{
        u8 bar;
        u32 off;

        if (!bar_of(d, addr, &bar, &off))
                return ~0u;
        pci_write(d->pci, d->pcicfg_cap + VIRTIO_PCI_CAP_BAR, 1, bar);
        pci_write(d->pci, d->pcicfg_cap + VIRTIO_PCI_CAP_OFFSET, 4, off);
        pci_write(d->pci, d->pcicfg_cap + VIRTIO_PCI_CAP_LENGTH, 4, len);
        if (write) {
                pci_write(d->pci, d->pcicfg_cap + PCI_CFG_DATA, len, v);
                return 0;
        }
        return pci_read(d->pci, d->pcicfg_cap + PCI_CFG_DATA, len);
}

bool vm_cfg_window_check(struct vdev *d)
{
        u32 df, w, st, cap;

        if (!d->pcicfg_cap) {
                kprintf("virtio: no VIRTIO_PCI_CAP_PCI_CFG capability\n");
                return true;
        }
        vm_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
        df = vm_read(d, VIRTIO_PCI_COMMON_DF, 4);
        w = window(d, d->common + VIRTIO_PCI_COMMON_DF, 4, false, 0);
        st = window(d, d->common + VIRTIO_PCI_COMMON_STATUS, 1, false, 0);
        cap = d->devcfg ? window(d, d->devcfg, 4, false, 0) : 0;
        if (w != df || st != vm_read(d, VIRTIO_PCI_COMMON_STATUS, 1) ||
            (d->devcfg && cap != *(volatile u32 *)d->devcfg)) {
                kprintf("virtio: PCI_CFG window reads features 0x%x (MMIO 0x%x), status 0x%x "
                        "(0x%x), config 0x%x (0x%x)\n",
                        w, df, st, vm_read(d, VIRTIO_PCI_COMMON_STATUS, 1), cap,
                        d->devcfg ? *(volatile u32 *)d->devcfg : 0);
                return false;
        }
        window(d, d->common + VIRTIO_PCI_COMMON_Q_SELECT, 2, true, 1);
        w = vm_read(d, VIRTIO_PCI_COMMON_Q_SELECT, 2);
        vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
        if (w != 1) {
                kprintf("virtio: queue_select written 1 through the PCI_CFG window reads %u\n", w);
                return false;
        }
        kprintf("virtio: PCI_CFG window (cap 0x%02x) reads and writes as MMIO does\n",
                d->pcicfg_cap);
        return true;
}

static u8 get_status(struct vdev *d)
{
        return (u8)vm_read(d, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void set_status(struct vdev *d, u8 s)
{
        vm_write(d, VIRTIO_PCI_COMMON_STATUS, 1, s);
}

static u64 get_features(struct vdev *d)
{
        u64 f;

        vm_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
        f = vm_read(d, VIRTIO_PCI_COMMON_DF, 4);
        vm_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
        return f | (u64)vm_read(d, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

static void set_features(struct vdev *d, u64 f)
{
        vm_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        vm_write(d, VIRTIO_PCI_COMMON_GF, 4, (u32)f);
        vm_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        vm_write(d, VIRTIO_PCI_COMMON_GF, 4, (u32)(f >> 32));
}

static u64 get_driver_features(struct vdev *d)
{
        u64 f;

        vm_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        f = vm_read(d, VIRTIO_PCI_COMMON_GF, 4);
        vm_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        return f | (u64)vm_read(d, VIRTIO_PCI_COMMON_GF, 4) << 32;
}

/* One field of the device config; blk.c re-reads wide fields around config_generation. */
static u32 config_read(struct vdev *d, u32 off, u32 size)
{
        if (!d->devcfg || off + size > d->devcfg_len)
                return 0;
        return mmio_rd(d->devcfg + off, size);
}

static u16 num_queues(struct vdev *d)
{
        return (u16)vm_read(d, VIRTIO_PCI_COMMON_NUMQ, 2);
}

static u16 queue_size(struct vdev *d, u16 q)
{
        vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        return (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
}

static void write64(struct vdev *d, u32 lo, u64 v)
{
        vm_write(d, lo, 4, (u32)v);
        vm_write(d, lo + 4, 4, (u32)(v >> 32));
}

static bool queue_setup(struct vdev *d, struct vq *q)
{
        u16 noff, v;

        vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q->index);
        if (vm_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2)) {
                kprintf("virtio: queue %u already enabled after a reset\n", q->index);
                return false;
        }
        vm_write(d, VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size);
        write64(d, VIRTIO_PCI_COMMON_Q_DESCLO, (u64)q->desc);
        write64(d, VIRTIO_PCI_COMMON_Q_AVAILLO, (u64)q->avail);
        write64(d, VIRTIO_PCI_COMMON_Q_USEDLO, (u64)q->used);
        vm_write(d, VIRTIO_PCI_COMMON_Q_MSIX, 2, q->vector);
        v = (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_MSIX, 2);
        if (v != q->vector) {
                kprintf("virtio: queue %u: MSI-X vector %u reads back %u\n", q->index, q->vector,
                        v);
                return false;
        }
        noff = (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_NOFF, 2);
        if ((u64)noff * d->notify_mult + 2 > d->notify_len) {
                kprintf("virtio: queue %u: notify offset %u x %u outside the notify region\n",
                        q->index, noff, d->notify_mult);
                return false;
        }
        q->notify = d->notify + (u64)noff * d->notify_mult;
        return true;
}

static void queue_enable(struct vdev *d, struct vq *q)
{
        vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q->index);
        vm_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static u16 set_config_vector(struct vdev *d, u16 entry)
{
        vm_write(d, VIRTIO_PCI_COMMON_MSIX, 2, entry);
        return (u16)vm_read(d, VIRTIO_PCI_COMMON_MSIX, 2);
}

static u8 isr(struct vdev *d)
{
        return *(volatile u8 *)d->isr_addr;
}

const struct virtio_ops virtio_modern_ops = {
    .name = "modern",
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
