/* Test fixture for test_virtio_pci_legacy_*: the fake device on a legacy or transitional
 * virtio-pci function, and the legacy header's registers as Linux 6.1's legacy driver uses them. */
#ifndef WISP_TESTS_VIRTIO_PCI_LEGACY_FIXTURE_H
#define WISP_TESTS_VIRTIO_PCI_LEGACY_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio/pci.h"
#include "vpci_harness.h"

#define RAM_SIZE (16ull << 20)
#define PFN_BASE 0x200u /* rings from 2 MiB up, one 64 KiB slot per queue */
#define PFN_STRIDE 0x10u
#define NO_VEC VIRTIO_MSI_NO_VECTOR
#define NVEC (VPH_FAKE_QUEUES + 1)
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define ISR_QUEUE 0x1
#define LEGACY_OFFERED                                                                             \
        (VPH_FAKE_FEATURES | (1ull << VIRTIO_RING_F_EVENT_IDX) |                                   \
         (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_F_ANY_LAYOUT))

/* The VM, the fake device, its function and the slot it was plugged in, as probed. */
extern struct vph h;
extern struct vph_fake_dev fd;
extern struct virtio_pci vp;
extern struct vph_fn f;
extern int slot;

/* .init of the legacy and legacy_transitional suites: plugged and probed. */
void setup_legacy(void);
void setup_transitional(void);
/* .fini: every device op ran with dev->lock held, KVM requests went to the VM fd. */
void teardown(void);

/* The legacy header (I/O BAR 0). */
uint64_t lread(uint32_t off, uint32_t len);
void lwrite(uint32_t off, uint32_t len, uint64_t v);
/* The status register; virtio_add_status over it; vp_reset (write 0, read back to flush). */
uint8_t status(void);
uint8_t add_status(uint8_t bits);
void reset(void);
/* The PFN of queue q's rings (one 64 KiB slot per queue). */
uint32_t pfn_of(unsigned int q);
/* Select q, then: read QUEUE_NUM; read QUEUE_PFN; write it; write and read back the vector. */
uint16_t queue_num(uint16_t q);
uint32_t queue_pfn(uint16_t q);
void set_pfn(uint16_t q, uint32_t pfn);
uint16_t queue_vector(uint16_t q, uint16_t v);
/* Writes the config vector, returns its read-back. */
uint16_t config_vector(uint16_t v);
/* setup_vq in virtio_pci_legacy.c: size, not yet active, PFN, then the vector. */
int setup_vq(uint16_t q, uint16_t vector);
/* virtio_dev_probe over the legacy interface, then find_vqs and DRIVER_OK. */
uint8_t bring_up(bool msix, uint32_t guest_features);
/* Runs the loop until nothing more is pending. */
void drain_loop(void);

#endif
