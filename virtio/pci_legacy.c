/* The pre-1.0 register layout in I/O BAR 0, over the shared transport state. */
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "virtio/pci_internal.h"

#define LEGACY_HEADER 20 /* without the two MSI-X vector registers */

uint32_t vp_legacy_bar_size(const struct virtio_device *dev)
{
        uint32_t need = VIRTIO_PCI_CONFIG_OFF(1) + dev->config_size, size = 32;

        while (size < need)
                size <<= 1;
        return size;
}

/* Legacy rings sit at PFN << 12 with the avail ring after the table and the used ring
 * on the next 4 KiB boundary (virtio 0.9.5, 2.3). */
static void set_pfn(struct virtio_pci *vp, struct virtio_pci_queue *q, uint32_t pfn)
{
        uint64_t desc = (uint64_t)pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
        uint64_t avail = desc + 16ull * q->size;
        uint64_t used = (avail + 6 + 2ull * q->size + VIRTIO_PCI_VRING_ALIGN - 1) &
                        ~(uint64_t)(VIRTIO_PCI_VRING_ALIGN - 1);

        if (pfn == 0) {
                vp_disable_queue(vp, q); /* PFN 0: the queue is disabled */
                q->desc = q->avail = q->used = 0;
                return;
        }
        q->desc = desc;
        q->avail = avail;
        q->used = used;
        if (vp_enable_queue(vp, q) < 0)
                q->desc = q->avail = q->used = 0; /* reads back 0: rejected */
}

static uint64_t legacy_read(struct virtio_pci *vp, uint32_t off)
{
        struct virtio_pci_queue *q = vp_selected(vp);

        switch (off) {
        case VIRTIO_PCI_HOST_FEATURES:
                return vp_offered_features(vp, true);
        case VIRTIO_PCI_GUEST_FEATURES:
                return (uint32_t)vp->driver_features;
        case VIRTIO_PCI_QUEUE_PFN:
                return q ? q->desc >> VIRTIO_PCI_QUEUE_ADDR_SHIFT : 0;
        case VIRTIO_PCI_QUEUE_NUM:
                return q ? q->size : 0;
        case VIRTIO_PCI_QUEUE_SEL:
                return vp->queue_select;
        case VIRTIO_PCI_STATUS:
                return __atomic_load_n(&vp->status, __ATOMIC_SEQ_CST);
        case VIRTIO_PCI_ISR:
                return vp_isr_read_clear(vp);
        case VIRTIO_MSI_CONFIG_VECTOR:
                return vp->config_vector;
        case VIRTIO_MSI_QUEUE_VECTOR:
                return q ? q->vector : VIRTIO_MSI_NO_VECTOR;
        }
        return 0;
}

static void legacy_write(struct virtio_pci *vp, uint32_t off, uint64_t v)
{
        struct virtio_pci_queue *q = vp_selected(vp);
        bool setup = vp_setup_phase(vp);

        vp->legacy_used = true;
        switch (off) {
        case VIRTIO_PCI_GUEST_FEATURES:
                if (setup)
                        vp->driver_features = (uint32_t)v;
                return;
        case VIRTIO_PCI_QUEUE_PFN:
                if (q && setup)
                        set_pfn(vp, q, (uint32_t)v);
                return;
        case VIRTIO_PCI_QUEUE_SEL:
                vp->queue_select = (uint16_t)v;
                return;
        case VIRTIO_PCI_QUEUE_NOTIFY:
                vp_kick(vp, (uint32_t)v); /* only without an ioeventfd */
                return;
        case VIRTIO_PCI_STATUS:
                vp_write_status(vp, (uint8_t)v);
                return;
        case VIRTIO_MSI_CONFIG_VECTOR:
                __atomic_store_n(&vp->config_vector, vp_checked_vector(vp, (uint16_t)v),
                                 __ATOMIC_RELAXED);
                return;
        case VIRTIO_MSI_QUEUE_VECTOR:
                if (q && setup)
                        __atomic_store_n(&q->vector, vp_checked_vector(vp, (uint16_t)v),
                                         __ATOMIC_RELAXED);
                return;
        }
}

/* Register widths of the legacy header; anything else is not a register. */
static uint32_t reg_width(uint32_t off)
{
        switch (off) {
        case VIRTIO_PCI_HOST_FEATURES:
        case VIRTIO_PCI_GUEST_FEATURES:
        case VIRTIO_PCI_QUEUE_PFN:
                return 4;
        case VIRTIO_PCI_QUEUE_NUM:
        case VIRTIO_PCI_QUEUE_SEL:
        case VIRTIO_PCI_QUEUE_NOTIFY:
        case VIRTIO_MSI_CONFIG_VECTOR:
        case VIRTIO_MSI_QUEUE_VECTOR:
                return 2;
        case VIRTIO_PCI_STATUS:
        case VIRTIO_PCI_ISR:
                return 1;
        }
        return 0;
}

void vp_legacy_io(void *opaque, uint64_t off64, uint8_t *data, uint32_t len, bool is_write)
{
        struct virtio_pci *vp = opaque;
        uint32_t off = (uint32_t)off64;
        uint32_t header = msix_enabled(&vp->msix) ? VIRTIO_PCI_CONFIG_OFF(1) : LEGACY_HEADER;

        pthread_mutex_lock(&vp->lock);
        if (off >= header) {
                vp_config_access(vp, off - header, data, len, is_write);
        } else if (reg_width(off) == len) {
                if (is_write)
                        legacy_write(vp, off, vp_get(data, len));
                else
                        vp_put(data, len, legacy_read(vp, off));
        } else if (!is_write) {
                memset(data, 0xff, len); /* not a register at this offset and width */
        }
        pthread_mutex_unlock(&vp->lock);
}
