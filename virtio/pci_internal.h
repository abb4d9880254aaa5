/* What the modern and legacy register decoders share: the transport state machine. */
#ifndef WISP_VIRTIO_PCI_INTERNAL_H
#define WISP_VIRTIO_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/pci.h"

/* Every function here expects vp->lock held. */

/* The feature bits offered: the device's, the ring features, VERSION_1 unless legacy. */
uint64_t vp_offered_features(const struct virtio_pci *vp, bool legacy);

/* A status write: reset on 0, otherwise the checked state machine. */
void vp_write_status(struct virtio_pci *vp, uint8_t status);

/* True while the driver may still program queues and features (before DRIVER_OK). */
bool vp_setup_phase(const struct virtio_pci *vp);

/* The selected queue, or NULL when queue_select is out of range. */
struct virtio_pci_queue *vp_selected(struct virtio_pci *vp);

/*
 * Validates the selected queue's geometry and enables it; a bad geometry
 * leaves it disabled ("queue not enabled"). Returns 0 or -EINVAL.
 */
int vp_enable_queue(struct virtio_pci *vp, struct virtio_pci_queue *q);
void vp_disable_queue(struct virtio_pci *vp, struct virtio_pci_queue *q);

/* An MSI-X vector register write: out-of-range vectors read back as NO_VECTOR. */
uint16_t vp_checked_vector(const struct virtio_pci *vp, uint16_t v);

/* Device config access with bounds: reads past the end are zero, writes dropped. */
void vp_config_access(struct virtio_pci *vp, uint32_t off, uint8_t *data, uint32_t len,
                      bool is_write);

/* Reads and clears the ISR (deasserting INTx). */
uint8_t vp_isr_read_clear(struct virtio_pci *vp);

/* A notify that reached userspace (no ioeventfd): forwarded to the I/O thread. */
void vp_kick(struct virtio_pci *vp, uint32_t q);

/* Region handlers (pci_modern.c, pci_legacy.c). */
void vp_modern_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void vp_legacy_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/* Modern capabilities in config space (pci_modern.c). */
int vp_modern_add_caps(struct virtio_pci *vp);

/*
 * The VIRTIO_PCI_CAP_PCI_CFG window (pci_modern.c): a read of pci_cfg_data
 * reads the BAR at that moment (spec 4.1.4.9.1); a write of it writes the BAR.
 * Aiming the window (bar, offset, length) touches nothing.
 */
void vp_modern_pci_cfg_read(struct virtio_pci *vp, uint32_t off, uint32_t len);
void vp_modern_pci_cfg_written(struct virtio_pci *vp, uint32_t off, uint32_t len);

/* Bytes of the legacy I/O BAR (header, MSI-X vectors, device config), a power of two. */
uint32_t vp_legacy_bar_size(const struct virtio_device *dev);

/* Little-endian field helpers. */
static inline uint64_t vp_get(const uint8_t *d, uint32_t len)
{
        uint64_t v = 0;

        for (uint32_t i = 0; i < len && i < 8; i++)
                v |= (uint64_t)d[i] << (8 * i);
        return v;
}

static inline void vp_put(uint8_t *d, uint32_t len, uint64_t v)
{
        for (uint32_t i = 0; i < len && i < 8; i++)
                d[i] = (uint8_t)(v >> (8 * i));
}

#endif
