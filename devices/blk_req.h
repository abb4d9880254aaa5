/* virtio-blk requests: a popped chain checked and turned into one host I/O plan. */
#ifndef WISP_DEVICES_BLK_REQ_H
#define WISP_DEVICES_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/queue.h"

#define BLK_SECTOR 512u
#define BLK_MAX_SEGS 130 /* seg_max 128 data segments + header + status */

/* What the disk allows; fixed when the device is created. */
struct blk_limits {
        uint64_t capacity; /* sectors */
        bool ro;
        uint32_t max_discard_sectors;
        uint32_t max_write_zeroes_sectors;
};

enum blk_op {
        BLK_OP_NONE, /* nothing to do on the host: complete with status */
        BLK_OP_READ,
        BLK_OP_WRITE,
        BLK_OP_FLUSH,
        BLK_OP_GET_ID,
        BLK_OP_DISCARD,
        BLK_OP_WRITE_ZEROES,
};

/* One request, ready for the host. Points into guest memory through the chain. */
struct blk_plan {
        enum blk_op op;
        uint8_t status;       /* VIRTIO_BLK_S_*: the answer when op is BLK_OP_NONE */
        uint8_t *status_byte; /* the last writable byte of the chain; NULL: drop */
        uint64_t offset;      /* bytes into the disk */
        uint64_t len;         /* bytes to transfer, punch or zero */
        bool unmap;           /* WRITE_ZEROES may deallocate */
        unsigned int niov;
        struct iovec iov[BLK_MAX_SEGS];
};

/*
 * Checks one chain and plans it (pure: no I/O). The header (type, sector)
 * is copied out of guest memory once. Every rule of BAD-INPUTS for blk is
 * here: a chain without a writable status byte cannot be answered (plan
 * status_byte NULL: return it with length 0); unknown types get UNSUPP;
 * sector * 512 + len overflowing or passing the capacity, a length not a
 * multiple of 512, writes to a read-only disk and malformed
 * discard/write-zeroes segments get IOERR with nothing read or written.
 */
void blk_plan_request(const struct virtq_chain *c, const struct blk_limits *lim,
                      struct blk_plan *p);

/* Bytes the device reports as written into the chain when p succeeds. */
uint32_t blk_plan_written(const struct blk_plan *p);

#endif
