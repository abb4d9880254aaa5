/* Parsing and validating virtio-blk requests (virtio 1.1, 5.2.6). */
#include "devices/blk_req.h"

#include <stddef.h>
#include <string.h>
#include <linux/virtio_blk.h>

static uint8_t *last_writable_byte(const struct virtq_chain *c)
{
        for (int i = c->nr_out + c->nr_in - 1; i >= c->nr_out; i--)
                if (c->seg[i].len)
                        return c->seg[i].host + c->seg[i].len - 1;
        return NULL;
}

/* sector and bytes inside the disk, with no overflow anywhere. */
static bool in_range(uint64_t sector, uint64_t bytes, uint64_t capacity)
{
        uint64_t sectors = bytes / BLK_SECTOR;

        return sector <= capacity && sectors <= capacity - sector;
}

static void fail(struct blk_plan *p, uint8_t status)
{
        p->op = BLK_OP_NONE;
        p->status = status;
        p->niov = 0;
}

static void plan_rw(const struct virtq_chain *c, const struct blk_limits *lim, struct blk_plan *p,
                    bool write, uint64_t sector)
{
        /* Reads fill the writable part minus the status byte; writes take
         * the readable part after the 16-byte header. */
        uint64_t len = write ? c->out_len - sizeof(struct virtio_blk_outhdr) : c->in_len - 1u;
        int n;

        if (write && lim->ro)
                return fail(p, VIRTIO_BLK_S_IOERR);
        /* A write's data must be device-readable: only the status byte may be
         * writable (a data buffer in the wrong direction is an error). */
        if (write && c->in_len != 1)
                return fail(p, VIRTIO_BLK_S_IOERR);
        if (len % BLK_SECTOR || !in_range(sector, len, lim->capacity))
                return fail(p, VIRTIO_BLK_S_IOERR);
        n = write ? virtq_iov(c, false, sizeof(struct virtio_blk_outhdr), len, p->iov, BLK_MAX_SEGS)
                  : virtq_iov(c, true, 0, len, p->iov, BLK_MAX_SEGS);
        if (n < 0)
                return fail(p, VIRTIO_BLK_S_IOERR);
        p->op = write ? BLK_OP_WRITE : BLK_OP_READ;
        p->offset = sector * BLK_SECTOR;
        p->len = len;
        p->niov = (unsigned int)n;
}

static void plan_range(const struct virtq_chain *c, const struct blk_limits *lim,
                       struct blk_plan *p, bool zeroes)
{
        struct virtio_blk_discard_write_zeroes seg;
        uint32_t max = zeroes ? lim->max_write_zeroes_sectors : lim->max_discard_sectors;

        if (lim->ro)
                return fail(p, VIRTIO_BLK_S_IOERR);
        /* One segment per request (max_*_seg = 1), copied out once. */
        if (c->out_len - sizeof(struct virtio_blk_outhdr) != sizeof(seg) ||
            virtq_read_out(c, sizeof(struct virtio_blk_outhdr), &seg, sizeof(seg)) != sizeof(seg))
                return fail(p, VIRTIO_BLK_S_IOERR);
        /* Flags the command does not define: UNSUPP (virtio 1.2, 5.2.6.2). */
        if ((seg.flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) || (!zeroes && seg.flags))
                return fail(p, VIRTIO_BLK_S_UNSUPP);
        if (seg.num_sectors == 0 || seg.num_sectors > max ||
            !in_range(seg.sector, (uint64_t)seg.num_sectors * BLK_SECTOR, lim->capacity))
                return fail(p, VIRTIO_BLK_S_IOERR);
        p->op = zeroes ? BLK_OP_WRITE_ZEROES : BLK_OP_DISCARD;
        p->offset = seg.sector * BLK_SECTOR;
        p->len = (uint64_t)seg.num_sectors * BLK_SECTOR;
        p->unmap = seg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
}

void blk_plan_request(const struct virtq_chain *c, const struct blk_limits *lim, struct blk_plan *p)
{
        struct virtio_blk_outhdr hdr;
        int n;

        memset(p, 0, offsetof(struct blk_plan, iov));
        p->status_byte = last_writable_byte(c);
        if (!p->status_byte)
                return fail(p, VIRTIO_BLK_S_IOERR); /* unanswerable: dropped */
        if (c->out_len < sizeof(hdr) || virtq_read_out(c, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
                return fail(p, VIRTIO_BLK_S_IOERR);
        switch (hdr.type) {
        case VIRTIO_BLK_T_IN:
        case VIRTIO_BLK_T_OUT:
                if (hdr.type == VIRTIO_BLK_T_IN && c->out_len != sizeof(hdr))
                        return fail(p, VIRTIO_BLK_S_IOERR);
                return plan_rw(c, lim, p, hdr.type == VIRTIO_BLK_T_OUT, hdr.sector);
        case VIRTIO_BLK_T_FLUSH:
                p->op = BLK_OP_FLUSH;
                return;
        case VIRTIO_BLK_T_GET_ID:
                /* The id is up to 20 bytes; a smaller buffer is an error. */
                n = virtq_iov(c, true, 0, VIRTIO_BLK_ID_BYTES, p->iov, BLK_MAX_SEGS);
                if (n < 0 || c->in_len < VIRTIO_BLK_ID_BYTES + 1u)
                        return fail(p, VIRTIO_BLK_S_IOERR);
                p->op = BLK_OP_GET_ID;
                p->len = VIRTIO_BLK_ID_BYTES;
                p->niov = (unsigned int)n;
                return;
        case VIRTIO_BLK_T_DISCARD:
                return plan_range(c, lim, p, false);
        case VIRTIO_BLK_T_WRITE_ZEROES:
                return plan_range(c, lim, p, true);
        default:
                return fail(p, VIRTIO_BLK_S_UNSUPP);
        }
}

uint32_t blk_plan_written(const struct blk_plan *p)
{
        /* Reads and GET_ID wrote their data; everything wrote the status. */
        if (p->op == BLK_OP_READ || p->op == BLK_OP_GET_ID)
                return (uint32_t)p->len + 1;
        return 1;
}
