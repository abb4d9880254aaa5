/* Test helper: the driver side of a modern virtio-pci function over the vpci harness, as the
 * device fixtures (blk, net, console) drive it; every step checked with Criterion. */
#ifndef WISP_TESTS_VPH_DRIVER_H
#define WISP_TESTS_VPH_DRIVER_H

#include <stdint.h>

#include "vpci_harness.h"
#include "vring_driver.h"

/* Where queue q's rings lie: base + q * stride, the table, avail and used 4 KiB apart. */
struct vph_rings {
        uint16_t size;
        uint64_t base, stride;
};

uint64_t vph_ring(const struct vph_rings *r, unsigned int q, unsigned int which);

/*
 * Linux's modern probe order (virtio_dev_probe, then find_vqs with one MSI-X vector per
 * queue): negotiate want, MSI-X with vectors entries (config on 0), queues 0..count-1 on
 * vector q + 1, each driven by drv[q], all enabled, then DRIVER_OK. noff: each queue's
 * notify offset out, or NULL.
 */
void vph_driver_up(struct vph_fn *f, const struct guest_mem *mem, const struct vph_rings *r,
                   struct vring_driver *drv, uint16_t *noff, uint64_t want, unsigned int vectors,
                   unsigned int count);

/* A bump allocation of len bytes from *heap, asserted to stay below limit. */
uint64_t vph_galloc(uint64_t *heap, uint64_t limit, uint64_t len, uint64_t align);
/* Guest RAM at gpa, asserted to exist. */
void *vph_gptr(struct vph *h, uint64_t gpa, uint64_t len);

/* Used entries not read yet. */
unsigned int vph_pending_used(const struct vring_driver *d);
/* Runs the event loop until d (queue q) has n used entries to read (5 s at most). */
void vph_wait_used(struct vph *h, const struct vring_driver *d, unsigned int q, unsigned int n);
/* Runs the event loop until it has nothing left to do (a bounded number of rounds). */
void vph_settle(struct vph *h);
/* The next used entry of d (queue q) is head with length len. */
void vph_expect_used(struct vring_driver *d, unsigned int q, uint16_t head, uint32_t len);

#endif
