/* Test fixture for test_virtio_pci_modern_*: the fake device on a modern or transitional
 * virtio-pci function, probed on a real PCI bus as Linux 6.1 does. */
#ifndef WISP_TESTS_VIRTIO_PCI_MODERN_FIXTURE_H
#define WISP_TESTS_VIRTIO_PCI_MODERN_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio/pci.h"
#include "vpci_harness.h"

#define RAM_SIZE (16ull << 20)
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x10000ull
#define NO_VEC VIRTIO_MSI_NO_VECTOR
#define ISR_QUEUE 0x1 /* used buffers (virtio 1.1 4.1.4.5) */
#define NVEC (VPH_FAKE_QUEUES + 1)
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define VERSION_1 (1ull << VIRTIO_F_VERSION_1)
#define RING_FEATURES ((1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC))
#define OFFERED (VPH_FAKE_FEATURES | RING_FEATURES | VERSION_1)

/* The VM, the fake device, its function and the slot it was plugged in, as probed. */
extern struct vph h;
extern struct vph_fake_dev fd;
extern struct virtio_pci vp;
extern struct vph_fn f;
extern int slot;

/* .init of the modern and transitional suites: plugged and probed. */
void setup_modern(void);
void setup_transitional(void);
/* .fini: every device op ran with dev->lock held, KVM requests went to the VM fd. */
void teardown(void);

/* Queue q's ring (which: 0 descriptors, 1 avail, 2 used) in guest RAM. */
uint64_t ring_addr(unsigned int q, unsigned int which);
/* vph_modern_setup_queue with queue q's rings. */
int setup_queue(uint16_t q, uint16_t size, uint16_t vector);
/* The device status register. */
uint16_t status(void);
/* Selects queue q; reads one of its registers. */
void select_q(uint16_t q);
uint64_t qreg(uint16_t q, uint32_t off, uint32_t len);
/* Programs queue q's registers as given, with none of the driver's own checks. */
void program_queue(uint16_t q, uint16_t size, uint64_t d, uint64_t a, uint64_t u);
/* The whole of virtio_dev_probe + vp_find_vqs_msix + virtio_device_ready; the final status. */
uint8_t bring_up(bool msix);
/* Runs the loop until nothing more is pending (kicks are local eventfds). */
void drain_loop(void);

#endif
