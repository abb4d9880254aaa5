/* The virtio 1.x register layout: capabilities and the regions of the modern BAR. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "virtio/pci_internal.h"

#define CFG_CAP_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

static int add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len,
                          uint8_t cap_len)
{
        int at = pci_cfg_add_cap(&vp->pci.cfg, PCI_CAP_ID_VNDR, cap_len);

        if (at < 0)
                return at;
        pci_cfg_put(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_LEN, 1, cap_len);
        pci_cfg_put(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_CFG_TYPE, 1, type);
        pci_cfg_put(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_BAR, 1,
                    type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR_MODERN);
        pci_cfg_put(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_OFFSET, 4, off);
        pci_cfg_put(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_LENGTH, 4, len);
        return at;
}

int vp_modern_add_caps(struct virtio_pci *vp)
{
        uint32_t notify_len = vp->dev->num_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER;
        int r, at;

        r = add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_MODERN_COMMON,
                           sizeof(struct virtio_pci_common_cfg), sizeof(struct virtio_pci_cap));
        if (r >= 0)
                r = add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_MODERN_ISR, 1,
                                   sizeof(struct virtio_pci_cap));
        if (r >= 0)
                r = add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_MODERN_DEVICE,
                                   vp->dev->config_size ? vp->dev->config_size : 1,
                                   sizeof(struct virtio_pci_cap));
        if (r >= 0) {
                r = add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_MODERN_NOTIFY,
                                   notify_len, sizeof(struct virtio_pci_notify_cap));
                if (r >= 0)
                        pci_cfg_put(&vp->pci.cfg, (uint32_t)r + sizeof(struct virtio_pci_cap), 4,
                                    VIRTIO_PCI_NOTIFY_MULTIPLIER);
        }
        if (r < 0)
                return r;
        /* The PCI_CFG window: bar, offset, length and data writable. */
        at = add_virtio_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, sizeof(struct virtio_pci_cfg_cap));
        if (at < 0)
                return at;
        vp->pci_cfg_cap = (uint32_t)at;
        pci_cfg_set_wmask(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_BAR, 1, 0xff);
        pci_cfg_set_wmask(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
        pci_cfg_set_wmask(&vp->pci.cfg, (uint32_t)at + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
        pci_cfg_set_wmask(&vp->pci.cfg, (uint32_t)at + CFG_CAP_DATA, 4, 0xffffffff);
        return 0;
}

/* The common configuration structure as the driver would read it now. */
static void common_snapshot(struct virtio_pci *vp, uint8_t *c)
{
        struct virtio_pci_queue *q = vp_selected(vp);
        uint64_t offered = vp_offered_features(vp, false);

        memset(c, 0, sizeof(struct virtio_pci_common_cfg));
        vp_put(c + VIRTIO_PCI_COMMON_DFSELECT, 4, vp->device_feature_select);
        if (vp->device_feature_select < 2)
                vp_put(c + VIRTIO_PCI_COMMON_DF, 4, offered >> (32 * vp->device_feature_select));
        vp_put(c + VIRTIO_PCI_COMMON_GFSELECT, 4, vp->driver_feature_select);
        if (vp->driver_feature_select < 2)
                vp_put(c + VIRTIO_PCI_COMMON_GF, 4,
                       vp->driver_features >> (32 * vp->driver_feature_select));
        vp_put(c + VIRTIO_PCI_COMMON_MSIX, 2, vp->config_vector);
        vp_put(c + VIRTIO_PCI_COMMON_NUMQ, 2, vp->dev->num_queues);
        c[VIRTIO_PCI_COMMON_STATUS] = __atomic_load_n(&vp->status, __ATOMIC_SEQ_CST);
        c[VIRTIO_PCI_COMMON_CFGGENERATION] =
            __atomic_load_n(&vp->config_generation, __ATOMIC_SEQ_CST);
        vp_put(c + VIRTIO_PCI_COMMON_Q_SELECT, 2, vp->queue_select);
        if (!q)
                return; /* queue_select out of range: the queue fields read 0 */
        vp_put(c + VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size);
        vp_put(c + VIRTIO_PCI_COMMON_Q_MSIX, 2, q->vector);
        vp_put(c + VIRTIO_PCI_COMMON_Q_ENABLE, 2, q->enabled);
        vp_put(c + VIRTIO_PCI_COMMON_Q_NOFF, 2, q->index);
        vp_put(c + VIRTIO_PCI_COMMON_Q_DESCLO, 8, q->desc);
        vp_put(c + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, q->avail);
        vp_put(c + VIRTIO_PCI_COMMON_Q_USEDLO, 8, q->used);
}

/* Writes to a 64-bit queue address, in halves or whole. */
static void write_addr(uint64_t *field, uint32_t off_in_field, uint32_t len, uint64_t v)
{
        uint64_t mask = len >= 8 ? ~0ull : ((1ull << (8 * len)) - 1) << (8 * off_in_field);

        *field = (*field & ~mask) | ((v << (8 * off_in_field)) & mask);
}

static void common_write(struct virtio_pci *vp, uint32_t off, uint32_t len, uint64_t v)
{
        struct virtio_pci_queue *q = vp_selected(vp);
        bool setup = vp_setup_phase(vp);

        switch (off) {
        case VIRTIO_PCI_COMMON_DFSELECT:
                vp->device_feature_select = (uint32_t)v;
                return;
        case VIRTIO_PCI_COMMON_GFSELECT:
                vp->driver_feature_select = (uint32_t)v;
                return;
        case VIRTIO_PCI_COMMON_GF:
                /* Frozen once FEATURES_OK was accepted: what was checked is what
                 * the device gets. */
                if (setup && !(vp->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
                    vp->driver_feature_select < 2) {
                        unsigned int shift = 32 * vp->driver_feature_select;

                        vp->driver_features = (vp->driver_features & ~(0xffffffffull << shift)) |
                                              ((v & 0xffffffffull) << shift);
                }
                return;
        case VIRTIO_PCI_COMMON_MSIX:
                __atomic_store_n(&vp->config_vector, vp_checked_vector(vp, (uint16_t)v),
                                 __ATOMIC_RELAXED);
                return;
        case VIRTIO_PCI_COMMON_STATUS:
                vp_write_status(vp, (uint8_t)v);
                return;
        case VIRTIO_PCI_COMMON_Q_SELECT:
                vp->queue_select = (uint16_t)v;
                return;
        }
        /* Queue registers: only for an existing queue, only before DRIVER_OK. */
        if (!q || !setup)
                return;
        switch (off) {
        case VIRTIO_PCI_COMMON_Q_SIZE:
                if (!q->enabled)
                        q->size = (uint16_t)v;
                return;
        case VIRTIO_PCI_COMMON_Q_MSIX:
                __atomic_store_n(&q->vector, vp_checked_vector(vp, (uint16_t)v), __ATOMIC_RELAXED);
                return;
        case VIRTIO_PCI_COMMON_Q_ENABLE:
                if (v == 1 && !q->enabled)
                        vp_enable_queue(vp, q);
                return;
        }
        if (q->enabled)
                return;
        if (off >= VIRTIO_PCI_COMMON_Q_DESCLO && off < VIRTIO_PCI_COMMON_Q_AVAILLO)
                write_addr(&q->desc, off - VIRTIO_PCI_COMMON_Q_DESCLO, len, v);
        else if (off >= VIRTIO_PCI_COMMON_Q_AVAILLO && off < VIRTIO_PCI_COMMON_Q_USEDLO)
                write_addr(&q->avail, off - VIRTIO_PCI_COMMON_Q_AVAILLO, len, v);
        else if (off >= VIRTIO_PCI_COMMON_Q_USEDLO && off < sizeof(struct virtio_pci_common_cfg))
                write_addr(&q->used, off - VIRTIO_PCI_COMMON_Q_USEDLO, len, v);
}

static void common_io(struct virtio_pci *vp, uint32_t off, uint8_t *data, uint32_t len,
                      bool is_write)
{
        uint8_t snap[sizeof(struct virtio_pci_common_cfg)];

        if (off >= sizeof(snap) || len > sizeof(snap) - off) {
                if (!is_write)
                        memset(data, 0, len);
                return;
        }
        if (!is_write) {
                common_snapshot(vp, snap);
                memcpy(data, snap + off, len);
                return;
        }
        common_write(vp, off, len, vp_get(data, len));
}

void vp_modern_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        struct virtio_pci *vp = opaque;

        pthread_mutex_lock(&vp->lock);
        if (off < VIRTIO_PCI_MODERN_ISR) {
                common_io(vp, (uint32_t)off, data, len, is_write);
        } else if (off < VIRTIO_PCI_MODERN_DEVICE) {
                if (!is_write) {
                        memset(data, 0, len);
                        if (off == VIRTIO_PCI_MODERN_ISR)
                                data[0] = vp_isr_read_clear(vp);
                }
        } else if (off < VIRTIO_PCI_MODERN_NOTIFY) {
                vp_config_access(vp, (uint32_t)(off - VIRTIO_PCI_MODERN_DEVICE), data, len,
                                 is_write);
        } else {
                /* Only reached when the ioeventfd is missing: forward the kick. */
                uint64_t q = (off - VIRTIO_PCI_MODERN_NOTIFY) / VIRTIO_PCI_NOTIFY_MULTIPLIER;

                if (is_write)
                        vp_kick(vp, (uint32_t)q);
                else
                        memset(data, 0, len);
        }
        pthread_mutex_unlock(&vp->lock);
}

/* The window's target, or false when it does not aim at 1, 2 or 4 bytes of BAR 4. */
static bool window(struct virtio_pci *vp, uint32_t *at, uint32_t *n)
{
        struct pci_cfg *c = &vp->pci.cfg;
        uint32_t cap = vp->pci_cfg_cap;

        *at = pci_cfg_get(c, cap + VIRTIO_PCI_CAP_OFFSET, 4);
        *n = pci_cfg_get(c, cap + VIRTIO_PCI_CAP_LENGTH, 4);
        return pci_cfg_get(c, cap + VIRTIO_PCI_CAP_BAR, 1) == VIRTIO_PCI_BAR_MODERN &&
               (*n == 1 || *n == 2 || *n == 4) && *at < VIRTIO_PCI_MODERN_BAR_SIZE &&
               *n <= VIRTIO_PCI_MODERN_BAR_SIZE - *at;
}

/* True when [off, off + len) touches the window's data bytes. */
static bool touches_data(const struct virtio_pci *vp, uint32_t off, uint32_t len)
{
        uint32_t data = vp->pci_cfg_cap + CFG_CAP_DATA;

        return vp->pci_cfg_cap && off < data + 4 && off + len > data;
}

void vp_modern_pci_cfg_read(struct virtio_pci *vp, uint32_t off, uint32_t len)
{
        uint32_t at, n;
        uint8_t buf[4] = {0};

        if (!touches_data(vp, off, len) || !window(vp, &at, &n))
                return;
        vp_modern_io(vp, at, buf, n, false);
        pci_cfg_put(&vp->pci.cfg, vp->pci_cfg_cap + CFG_CAP_DATA, 4, (uint32_t)vp_get(buf, 4));
}

void vp_modern_pci_cfg_written(struct virtio_pci *vp, uint32_t off, uint32_t len)
{
        uint32_t at, n;
        uint8_t buf[4];

        if (!touches_data(vp, off, len) || !window(vp, &at, &n))
                return;
        vp_put(buf, 4, pci_cfg_get(&vp->pci.cfg, vp->pci_cfg_cap + CFG_CAP_DATA, 4));
        vp_modern_io(vp, at, buf, n, true);
}
