/* Split virtqueues: geometry checked once, every chain checked as it is popped. */
#ifndef WISP_VIRTIO_QUEUE_H
#define WISP_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024
#define VIRTQ_MAX_SEGS 1024 /* upper bound of any device's max_segs */

/* One buffer of a chain, already turned into host memory by guest_ptr. */
struct virtq_seg {
        uint8_t *host;
        uint32_t len;
};

/*
 * A popped request. Readable segments come first, then writable ones (the
 * order every device here requires); nr_out + nr_in <= max_segs.
 */
struct virtq_chain {
        uint16_t head;
        uint16_t nr_out, nr_in;   /* readable, writable segment counts */
        uint32_t out_len, in_len; /* their byte totals */
        struct virtq_seg seg[];   /* max_segs entries, allocated by the caller */
};

struct virtq_stats {
        unsigned long popped, rejected, notified;
};

/*
 * A split virtqueue as the device sees it. Host pointers to the three rings
 * are taken once in virtq_init, after every check; the guest can still write
 * the rings, so every index read from them is checked on each use, and each
 * descriptor is copied once before it is examined.
 */
struct virtq {
        const struct guest_mem *mem;
        uint16_t size;
        uint16_t max_segs; /* chains longer than this are rejected */
        uint32_t max_len;  /* chains with more bytes than this are rejected */
        bool event_idx;    /* VIRTIO_RING_F_EVENT_IDX negotiated */
        bool indirect;     /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
        bool broken;       /* the driver broke the ring: device needs a reset */
        struct vring_desc *desc;
        struct vring_avail *avail;
        struct vring_used *used;
        uint16_t last_avail;     /* next avail entry to consume */
        uint16_t used_idx;       /* our copy of used->idx: the guest may scribble on it */
        uint16_t signalled_used; /* used_idx when the driver was last interrupted */
        bool signalled_valid;
        uint64_t inflight[VIRTQ_MAX_SIZE / 64]; /* heads popped and not yet pushed */
        struct virtq_stats stats;
};

struct virtq_geometry {
        uint16_t size;
        uint64_t desc, avail, used; /* guest physical addresses */
};

/*
 * Validates the geometry the driver chose and attaches the rings: size a
 * power of two in 1..max_size; desc 16-, avail 2-, used 4-byte aligned; each
 * ring wholly inside RAM (guest_ptr), sizes computed without overflow. On
 * success the queue starts empty at index 0. Returns 0 or -EINVAL ("queue
 * not enabled").
 */
int virtq_init(struct virtq *q, const struct guest_mem *mem, const struct virtq_geometry *g,
               uint16_t max_size, uint16_t max_segs, uint32_t max_len, bool event_idx,
               bool indirect);

/*
 * Pops the next chain into c (which has room for q->max_segs segments).
 * Returns 1 with a chain, 0 when the ring is empty, -EIO when the driver
 * broke the ring (avail index moved by more than the queue size, or a head
 * already in flight): q->broken is set and the device must report
 * NEEDS_RESET. A chain that breaks a rule (index out of range, loop, too
 * long, nested or malformed indirect table, zero-length or non-RAM buffer,
 * readable after writable) is returned to the driver at once with length 0
 * and counted in stats.rejected, and popping goes on with the next one.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/*
 * Returns a chain to the driver with written bytes placed in its writable
 * buffers (clamped to the chain's writable total: the used length never
 * claims more than the device wrote).
 */
void virtq_push(struct virtq *q, const struct virtq_chain *c, uint32_t written);

/*
 * Pushes n chains as one: every used element is written before used->idx
 * moves once, so a driver never sees part of a group (a merged RX frame).
 */
void virtq_push_many(struct virtq *q, const struct virtq_chain *const *c, const uint32_t *written,
                     unsigned int n);

/* As virtq_push, by head index (for chains that were never fully popped). */
void virtq_push_head(struct virtq *q, uint16_t head, uint32_t written);

/*
 * Whether the driver wants an interrupt for what was pushed since the last
 * one (EVENT_IDX's used_event, or the NO_INTERRUPT flag). Updates the
 * bookkeeping: call once per batch, and raise the interrupt if true.
 */
bool virtq_should_notify(struct virtq *q);

/*
 * Asks the driver for kicks (clears NO_NOTIFY, or sets avail_event to the
 * next index) and returns true if more buffers arrived meanwhile, so the
 * caller pops again instead of sleeping.
 */
bool virtq_enable_kicks(struct virtq *q);

/*
 * After virtq_rewind: the chains the driver already published were too few.
 * Asks for a kick at the next entry it publishes (not at last_avail, which
 * it has passed) and returns true if one arrived meanwhile.
 */
bool virtq_kick_on_more(struct virtq *q);

/*
 * iovecs for bytes [skip, skip + len) of the readable (in = false) or
 * writable part of a chain. Returns the count, or -ENOSPC when the part is
 * shorter or more than max iovecs would be needed.
 */
int virtq_iov(const struct virtq_chain *c, bool in, uint64_t skip, uint64_t len, struct iovec *iov,
              unsigned int max);

/*
 * Gives back the last n chains popped since q->last_avail was mark (and
 * stats.rejected was rejected_mark), as if never popped: for a device that
 * ran out of buffers in the middle of a packet. Refuses (false) when a
 * rejected chain lies in between, since it already went back to the driver.
 */
bool virtq_rewind(struct virtq *q, const struct virtq_chain *const *chains, unsigned int n,
                  uint16_t mark, unsigned long rejected_mark);

/* Copies between a chain's readable / writable segments and a flat buffer. */
uint32_t virtq_read_out(const struct virtq_chain *c, uint32_t off, void *dst, uint32_t len);
uint32_t virtq_write_in(const struct virtq_chain *c, uint32_t off, const void *src, uint32_t len);

#endif
