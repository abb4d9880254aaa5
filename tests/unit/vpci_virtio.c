/* Test helper: a probed function's virtio registers as Linux drives them, and a fake device. */
#include "vpci_harness.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

/* --- modern interface --------------------------------------------------------------- */

uint64_t vph_common_read(struct vph_fn *f, uint32_t off, uint32_t len)
{
        return vph_bar_read(f, f->common.bar, f->common.offset + off, len);
}

void vph_common_write(struct vph_fn *f, uint32_t off, uint32_t len, uint64_t v)
{
        vph_bar_write(f, f->common.bar, f->common.offset + off, len, v);
}

uint8_t vph_isr_read(struct vph_fn *f)
{
        return (uint8_t)vph_bar_read(f, f->isr.bar, f->isr.offset, 1);
}

uint64_t vph_devcfg_read(struct vph_fn *f, uint32_t off, uint32_t len)
{
        return vph_bar_read(f, f->device_cfg.bar, f->device_cfg.offset + off, len);
}

void vph_devcfg_write(struct vph_fn *f, uint32_t off, uint32_t len, uint64_t v)
{
        vph_bar_write(f, f->device_cfg.bar, f->device_cfg.offset + off, len, v);
}

void vph_modern_notify(struct vph_fn *f, uint16_t q, uint16_t notify_off)
{
        vph_bar_write(f, f->notify.bar, f->notify.offset + (uint64_t)notify_off * f->notify_mult, 2,
                      q);
}

uint8_t vph_modern_add_status(struct vph_fn *f, uint8_t bits)
{
        uint8_t s = (uint8_t)vph_common_read(f, VIRTIO_PCI_COMMON_STATUS, 1);

        vph_common_write(f, VIRTIO_PCI_COMMON_STATUS, 1, s | bits);
        return (uint8_t)vph_common_read(f, VIRTIO_PCI_COMMON_STATUS, 1);
}

int vph_modern_reset(struct vph_fn *f)
{
        vph_common_write(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
        for (int i = 0; i < 1000; i++)
                if (vph_common_read(f, VIRTIO_PCI_COMMON_STATUS, 1) == 0)
                        return 0;
        return -ETIMEDOUT;
}

uint64_t vph_modern_device_features(struct vph_fn *f)
{
        uint64_t v;

        vph_common_write(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
        v = vph_common_read(f, VIRTIO_PCI_COMMON_DF, 4);
        vph_common_write(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
        return v | vph_common_read(f, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

void vph_modern_set_features(struct vph_fn *f, uint64_t features)
{
        vph_common_write(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        vph_common_write(f, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
        vph_common_write(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        vph_common_write(f, VIRTIO_PCI_COMMON_GF, 4, features >> 32);
}

int vph_modern_negotiate(struct vph_fn *f, uint64_t want, uint64_t *offered)
{
        uint64_t dev;

        if (vph_modern_reset(f) < 0)
                return -ETIMEDOUT;
        vph_modern_add_status(f, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        vph_modern_add_status(f, VIRTIO_CONFIG_S_DRIVER);
        dev = vph_modern_device_features(f);
        if (offered)
                *offered = dev;
        vph_modern_set_features(f, dev & want);
        if (!(vph_modern_add_status(f, VIRTIO_CONFIG_S_FEATURES_OK) & VIRTIO_CONFIG_S_FEATURES_OK))
                return -ENODEV;
        return 0;
}

static void write64_twopart(struct vph_fn *f, uint32_t lo, uint64_t v)
{
        vph_common_write(f, lo, 4, (uint32_t)v);
        vph_common_write(f, lo + 4, 4, v >> 32);
}

int vph_modern_setup_queue(struct vph_fn *f, uint16_t q, uint16_t size, uint64_t desc,
                           uint64_t avail, uint64_t used, uint16_t vector, uint16_t *notify_off)
{
        uint16_t num;

        if (q >= vph_common_read(f, VIRTIO_PCI_COMMON_NUMQ, 2))
                return -EINVAL;
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        num = (uint16_t)vph_common_read(f, VIRTIO_PCI_COMMON_Q_SIZE, 2);
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        if (!num || vph_common_read(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2))
                return -ENOENT;
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        write64_twopart(f, VIRTIO_PCI_COMMON_Q_DESCLO, desc);
        write64_twopart(f, VIRTIO_PCI_COMMON_Q_AVAILLO, avail);
        write64_twopart(f, VIRTIO_PCI_COMMON_Q_USEDLO, used);
        if (vector != VIRTIO_MSI_NO_VECTOR) {
                vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
                vph_common_write(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
                if (vph_common_read(f, VIRTIO_PCI_COMMON_Q_MSIX, 2) == VIRTIO_MSI_NO_VECTOR)
                        return -EBUSY;
        }
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        if (notify_off)
                *notify_off = (uint16_t)vph_common_read(f, VIRTIO_PCI_COMMON_Q_NOFF, 2);
        return 0;
}

uint16_t vph_modern_enable_queue(struct vph_fn *f, uint16_t q)
{
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
        vph_common_write(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        return (uint16_t)vph_common_read(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
}

uint16_t vph_modern_config_vector(struct vph_fn *f, uint16_t vector)
{
        vph_common_write(f, VIRTIO_PCI_COMMON_MSIX, 2, vector);
        return (uint16_t)vph_common_read(f, VIRTIO_PCI_COMMON_MSIX, 2);
}

/* --- legacy interface ---------------------------------------------------------------- */

uint64_t vph_legacy_read(struct vph_fn *f, uint32_t off, uint32_t len)
{
        return vph_bar_read(f, VIRTIO_PCI_BAR_LEGACY, off, len);
}

void vph_legacy_write(struct vph_fn *f, uint32_t off, uint32_t len, uint64_t v)
{
        vph_bar_write(f, VIRTIO_PCI_BAR_LEGACY, off, len, v);
}

/* --- the fake device ------------------------------------------------------------------ */

static struct vph_fake_dev *fake_of(struct virtio_device *d)
{
        return d->priv;
}

/* The core promises every op runs with dev->lock held: a trylock must fail. */
static void check_locked(struct vph_fake_dev *f)
{
        if (pthread_mutex_trylock(&f->dev.lock) == 0) {
                pthread_mutex_unlock(&f->dev.lock);
                f->locked_in_ops = false;
        }
}

static uint64_t fake_features(struct virtio_device *d)
{
        return fake_of(d)->features;
}

static void fake_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
        struct vph_fake_dev *f = fake_of(d);

        check_locked(f);
        if (off <= sizeof(f->config) && len <= sizeof(f->config) - off)
                memcpy(buf, f->config + off, len);
        else
                memset(buf, 0xee, len); /* the core let an access past the end through */
}

static void fake_config_write(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len)
{
        struct vph_fake_dev *f = fake_of(d);

        check_locked(f);
        f->config_writes++;
        if (off <= sizeof(f->config) && len <= sizeof(f->config) - off)
                memcpy(f->config + off, buf, len);
}

static int fake_activate(struct virtio_device *d)
{
        struct vph_fake_dev *f = fake_of(d);

        check_locked(f);
        f->activates++;
        f->features_at_activate = d->features;
        for (unsigned int i = 0; i < VPH_FAKE_QUEUES && i < d->num_queues; i++)
                f->ready_at_activate[i] = d->vq_ready[i];
        return f->activate_result;
}

static void fake_reset(struct virtio_device *d)
{
        struct vph_fake_dev *f = fake_of(d);

        check_locked(f);
        f->resets++;
}

static void fake_notify(struct virtio_device *d, unsigned int q)
{
        struct vph_fake_dev *f = fake_of(d);

        check_locked(f);
        if (q < VPH_FAKE_QUEUES)
                f->notifies[q]++;
}

static const struct virtio_device_ops fake_ops = {
    .features = fake_features,
    .config_read = fake_config_read,
    .config_write = fake_config_write,
    .activate = fake_activate,
    .reset = fake_reset,
    .notify = fake_notify,
};

void vph_fake_dev_init(struct vph_fake_dev *d, uint32_t id)
{
        memset(d, 0, sizeof(*d));
        d->dev.ops = &fake_ops;
        d->dev.id = id;
        d->dev.num_queues = VPH_FAKE_QUEUES;
        d->dev.queue_max = VPH_FAKE_QMAX;
        d->dev.max_segs = 16;
        d->dev.max_len = 1u << 20;
        d->dev.config_size = VPH_FAKE_CONFIG;
        d->dev.priv = d;
        d->features = VPH_FAKE_FEATURES;
        d->locked_in_ops = true;
        for (unsigned int i = 0; i < VPH_FAKE_CONFIG; i++)
                d->config[i] = (uint8_t)(0x10 + i);
}
