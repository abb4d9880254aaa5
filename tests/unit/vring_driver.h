/* Test helper: the driver side of a split virtqueue, writing rings in a fake guest's RAM. */
#ifndef WISP_TESTS_VRING_DRIVER_H
#define WISP_TESTS_VRING_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "kvm/guest_mem.h"
#include "virtio/queue.h"

/*
 * A guest driver as the device would see it: rings at chosen guest
 * addresses, written with the same orderings a Linux driver uses. Nothing
 * here checks what it is told to write: hostile rings are the point.
 */
struct vring_driver {
        const struct guest_mem *mem;
        uint16_t size;
        uint64_t desc_gpa, avail_gpa, used_gpa;
        struct vring_desc *desc;
        struct vring_avail *avail;
        struct vring_used *used;
        uint16_t avail_idx; /* next avail entry to fill (published by vd_publish) */
        uint16_t last_used; /* next used entry to read */
};

/* One buffer of a chain. */
struct vd_buf {
        uint64_t addr;
        uint32_t len;
        bool write; /* device-writable */
};

/*
 * Places rings of size entries at the given guest addresses (which must lie
 * in RAM: the helper aborts otherwise) and zeroes them, event slots included.
 */
void vd_init(struct vring_driver *d, const struct guest_mem *mem, uint16_t size, uint64_t desc,
             uint64_t avail, uint64_t used);

/* The geometry to hand to virtq_init. */
struct virtq_geometry vd_geometry(const struct vring_driver *d);

/* Host address of guest RAM at gpa (aborts unless [gpa, gpa + len) is RAM). */
void *vd_host(const struct vring_driver *d, uint64_t gpa, uint64_t len);

/* Writes descriptor i of the main table as given, nothing checked. */
void vd_set_desc(struct vring_driver *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next);

/* Writes entry i of a descriptor table at guest address table. */
void vd_set_table_desc(struct vring_driver *d, uint64_t table, uint32_t i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next);

/*
 * Writes bufs[0..n) as a chain in descriptors first, first + 1, ... (mod
 * size), linked with NEXT, and puts first in the avail ring (not yet
 * published). Returns first.
 */
uint16_t vd_add_chain(struct vring_driver *d, uint16_t first, const struct vd_buf *bufs,
                      unsigned int n);

/*
 * Writes bufs[0..n) as an indirect table at guest address table, points
 * descriptor head at it, and puts head in the avail ring. Returns head.
 */
uint16_t vd_add_indirect(struct vring_driver *d, uint16_t head, uint64_t table,
                         const struct vd_buf *bufs, unsigned int n);

/* Puts a raw head value into the next avail entry (not yet published). */
void vd_post(struct vring_driver *d, uint16_t head);

/* Publishes every posted entry: a release store of avail->idx. */
void vd_publish(struct vring_driver *d);

/* Stores any value into avail->idx (hostile drivers); the shadow follows. */
void vd_set_avail_idx(struct vring_driver *d, uint16_t idx);

/* Reads the next used element; false when there is none. */
bool vd_get_used(struct vring_driver *d, uint32_t *id, uint32_t *len);

/* used->idx as the guest sees it. */
uint16_t vd_used_idx(const struct vring_driver *d);

/* Notification fields: avail->flags and used_event (driver-written),
 * used->flags and avail_event (device-written). */
void vd_set_avail_flags(struct vring_driver *d, uint16_t flags);
void vd_set_used_event(struct vring_driver *d, uint16_t v);
uint16_t vd_used_flags(const struct vring_driver *d);
void vd_set_used_flags(struct vring_driver *d, uint16_t flags);
uint16_t vd_avail_event(const struct vring_driver *d);

#endif
