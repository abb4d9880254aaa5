/* Test fixture for test_virtio_net_*: the device with a socketpair for each tap, and a modern
 * driver. Only those binaries link it (see the Makefile): it stands in for ioctl and writev. */
#ifndef WISP_TESTS_VIRTIO_NET_FIXTURE_H
#define WISP_TESTS_VIRTIO_NET_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "devices/virtio_net.h"
#include "vpci_harness.h"
#include "vring_driver.h"

#define RAM_SIZE (32ull << 20)
#define QSZ NET_QUEUE_SIZE
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x4000ull /* 256 entries: 4 KiB table, avail, used */
#define HEAP_BASE 0x400000ull
#define MAX_Q (2 * NET_MAX_PAIRS + 1)
#define MAX_SEGS 64 /* NET_MAX_SEGS in virtio_net.c: the longest chain the device takes */
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define F(bit) (1ull << (bit))
#define MRG F(VIRTIO_NET_F_MRG_RXBUF)
/* Everything the device offers but EVENT_IDX: then every batch interrupts. */
#define WANT (~F(VIRTIO_RING_F_EVENT_IDX))
#define ACK_UNSET 0xee
#define NUMBUF_OFF offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers)

/* The fixture's state: the device, its function as probed, the driver's rings. */
extern struct vph h;
extern struct virtio_net n;
extern struct vph_fn f;
extern int peer[NET_MAX_PAIRS]; /* the test's end of each "tap" */
extern struct vring_driver drv[MAX_Q];
extern uint16_t next_desc[MAX_Q], noff[MAX_Q];
extern unsigned int nq, cq; /* queues, and the one the driver uses for control */

/* The next writev overwrites scribble_len bytes at scribble first, then clears scribble. */
extern void *scribble;
extern size_t scribble_len;

/* The value of the last req (TUNSET*) on fd, or -1 when there was none. */
long last_ioctl(int fd, unsigned long req);
/* How many times req was asked of fd. */
unsigned int count_ioctls(int fd, unsigned long req);

/* TestSuite(vnet, .init = setup, .fini = teardown) */
void setup(void);
void teardown(void);

/* The device as virtio_net_open leaves it, a socketpair per pair as the tap, attached and
 * probed. */
void attach(const char *spec);
/* Queue q's ring (which: 0 descriptors, 1 avail, 2 used) in guest RAM. */
uint64_t ring(unsigned int q, unsigned int which);
/* Negotiates want, MSI-X, sets up and enables the first count queues, DRIVER_OK. */
void driver_up_n(uint64_t want, unsigned int count);
/* driver_up_n with every queue the device has. */
void driver_up(uint64_t want);

/* Guest RAM from a bump allocator, and a host pointer to it. */
uint64_t galloc(uint64_t len, uint64_t align);
void *gptr(uint64_t gpa, uint64_t len);

struct chain {
        uint16_t head;
        uint64_t gpa; /* the chain's bytes lie contiguous in guest RAM from here */
        uint32_t len;
};

/* len bytes (src NULL: 0xcc) posted on q as one chain of a first-byte descriptor, then seg-byte
 * ones (0: the rest in one), all readable or all writable; unpublished. */
struct chain post_split(unsigned int q, const void *src, uint32_t len, uint32_t first, uint32_t seg,
                        bool write);
struct chain post(unsigned int q, const void *src, uint32_t len, uint32_t seg, bool write);
/* One writable chain of len bytes. */
struct chain post_rx(unsigned int q, uint32_t len);
/* Publishes queue q and notifies it. */
void kick(unsigned int q);
/* Used entries of queue q not read yet. */
unsigned int pending_used(unsigned int q);
/* Runs the event loop until queue q has n_ used entries to read (5 s at most). */
void wait_used(unsigned int q, unsigned int n_);
/* Runs the event loop until it has nothing left to do. */
void settle(void);
/* The next used entry of queue q must be (head, len). */
void used(unsigned int q, uint16_t head, uint32_t len);

/* A patterned frame of flen bytes after hlen bytes of hdr, in buf. Returns the length. */
uint32_t frame(uint8_t *buf, const struct virtio_net_hdr_mrg_rxbuf *hdr, uint32_t hlen,
               uint32_t flen, uint8_t seed);
/* The far end of pair's tap: send one record, receive one (-1: none), expect none. */
void tap_send(unsigned int pair, const void *buf, uint32_t len);
ssize_t tap_recv(unsigned int pair, void *buf, size_t cap);
void tap_empty(unsigned int pair);

extern const struct virtio_net_hdr_mrg_rxbuf plain_hdr;
extern uint8_t big[NET_HDR_MRG + NET_MAX_FRAME + 64], got[NET_HDR_MRG + NET_MAX_FRAME + 64];

#endif
