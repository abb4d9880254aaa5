/* Test fixture for test_virtio_blk_*: a patterned image file, the device on it, a modern driver.
 * Only those binaries link it (see the Makefile): it stands in for fdatasync and for
 * liburing's submit and wait, to hold requests in flight and interrupt the waits. */
#ifndef WISP_TESTS_VIRTIO_BLK_FIXTURE_H
#define WISP_TESTS_VIRTIO_BLK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/virtio_blk.h"
#include "vpci_harness.h"
#include "vring_driver.h"

#define RAM_SIZE (32ull << 20)
#define DISK_SIZE (4ull << 20)
#define CAPACITY (DISK_SIZE / 512)
#define QSZ BLK_QUEUE_SIZE
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x4000ull /* 256 entries: 4 KiB table, avail, used */
#define HEAP_BASE 0x400000ull
#define MAX_Q 5
#define BLK_SLOTS 1024 /* BLK_MAX_REQS in virtio_blk.c */
#define NO_VEC VIRTIO_MSI_NO_VECTOR
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define STATUS_UNSET 0xee
/* Everything the device offers but EVENT_IDX: then every batch interrupts. */
#define WANT (~(1ull << VIRTIO_RING_F_EVENT_IDX))

/* The fixture's state: the device, its function as probed, the image, the driver's rings. */
extern struct vph h;
extern struct virtio_blk b;
extern bool b_open; /* b is open: teardown closes it */
extern struct vph_fn f;
extern char path[64];
extern int file; /* the test's own view of the image */
extern struct vring_driver drv[MAX_Q];
extern uint16_t next_desc[MAX_Q];
extern uint64_t heap; /* the next free guest address for galloc */

/* fdatasync, seen: how many calls, and the last fd. */
extern unsigned int fdatasync_calls;
extern int fdatasync_fd;
/* io_uring, seen: submit keeps the SQEs back while hold_submit; so many waits for completions
 * fail with -EINTR (each first lets the held requests go), as when a signal arrives. */
extern bool hold_submit;
extern unsigned int eintr_waits;

/* The image's byte at off, as set-up writes it. */
uint8_t pattern(uint64_t off);
/* TestSuite(blk, .init = setup, .fini = teardown): a DISK_SIZE image, the VM around it. */
void setup(void);
void teardown(void);
/* virtio_blk_open on the image with extra options ("" or ",key=value..."). */
int open_spec(struct virtio_blk *d, const char *extra, unsigned int queues, char *err);

/* Guest RAM from a bump allocator, and a host pointer to it. */
uint64_t galloc(uint64_t len, uint64_t align);
void *gptr(uint64_t gpa, uint64_t len);
/* Queue q's ring (which: 0 descriptors, 1 avail, 2 used) in guest RAM. */
uint64_t ring(unsigned int q, unsigned int which);
/* Opens the image with extra options, attaches it, and probes the function. */
void attach(const char *extra, unsigned int queues);
/* Negotiates want, one MSI-X vector per queue, sets up and enables every queue, DRIVER_OK. */
void driver_up(uint64_t want);

struct rq {
        unsigned int q;
        uint16_t head;
        uint64_t data, st;
        uint32_t len;
};

/* Posts header, data (device-writable unless type is OUT) and status as a chain (or an
 * indirect table), unpublished. */
struct rq post(unsigned int q, uint32_t type, uint64_t sector, uint32_t len, bool indirect);
/* Publishes queue q and notifies it. */
void kick(unsigned int q);
/* Used entries of queue q not read yet. */
unsigned int pending_used(unsigned int q);
/* Runs the event loop until queue q has n used entries to read (5 s at most). */
void wait_used(unsigned int q, unsigned int n);
/* Submits one request, waits for it, returns its status; *used_len gets the used length. */
uint8_t run1(struct rq *r, uint32_t *used_len);
/* The image as the test sees it: len bytes at off; they must be the set-up pattern. */
void file_read(uint64_t off, void *buf, size_t len);
void assert_file_pattern(uint64_t off, uint64_t len);

#endif
