/* hostile-rewrite, hostile-dup-head: requests changed after the kick; one head in flight twice. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

/* --- descriptors and request header rewritten after the kick -------------------------- */

/*
 * BAD-INPUTS: "descriptor or request header changed after the kick: host
 * works on its own copy, read once". After the notify (an ioeventfd: the
 * device pops on its own thread, later) the driver rewrites the header's
 * sector or type and the data descriptor's address and length, after a
 * delay that varies per round so the device sees the old version in some
 * rounds and the new one in others. Whatever it saw, the result must be
 * that of one version of each object: the data of one buffer, of one
 * length, at one sector, with the status and used length that version
 * gets; never a mixture, never a check passed on one copy and the I/O done
 * with another (a write past the capacity: t_hostile_guest.sh also checks
 * the image did not grow).
 */

#define RW_ROUNDS 40
#define RW_REGION 16UL /* sectors per region: 8 KiB, the larger length */
#define RW_BYTES (RW_REGION * 512)

enum rw_variant { RW_SECTOR_ADDR_LEN, RW_PAST_END, RW_TYPE, RW_READ, RW_READ_BADLEN, RW_NVAR };

static const char *const rw_name[] = {
    "write: sector, buffer and length rewritten", "write: sector rewritten past the capacity",
    "write: type rewritten to IN", "read: sector and length rewritten",
    "read: length rewritten to 4100"};

struct rw_ctx {
        struct blk *b;
        u64 zone, cap;
        u8 *old, *now, *w1, *w2, *rbuf, *ra, *rb, *tail;
        u32 seen_old[RW_NVAR], seen_new[RW_NVAR], seen_err[RW_NVAR];
};

static void rd(struct blk *b, u64 sector, u8 *buf, u32 len, const char *what)
{
        if (blk_rw(b, 0, false, sector, buf, len) != VIRTIO_BLK_S_OK)
                hfail("rewrite: reading %s (sector %lu) failed", what, sector);
}

/* region (RW_BYTES) == src[0..len) followed by old[len..] */
static bool holds(const u8 *region, const u8 *src, u32 len, const u8 *old)
{
        return r3_equal(region, src, len) && r3_equal(region + len, old + len, RW_BYTES - len);
}

static u32 submit_rewrite(struct rw_ctx *c, u32 r, u32 type, u64 sector, struct vbuf *v,
                          enum rw_variant var)
{
        struct blk *b = c->b;
        struct vq *q = &b->vq[0];
        int head = blk_prepare(b, 0, type, sector, v, 1, false);
        struct virtio_blk_outhdr *h = blk_hdr(b, 0, (u16)head);
        struct vring_desc *d;

        if (head < 0)
                hfail("rewrite: no room on queue 0");
        d = &q->desc[q->desc[head].next];
        blk_set_writable(b, 0, (u16)head, (u32)RW_BYTES + 1);
        vq_publish(q, (u16)head);
        vq_kick(q, true);
        delay_us((r % 8) ? 5UL << (r % 8) : 0); /* 0, 10, 20, .. 640 us */
        switch (var) {
        case RW_SECTOR_ADDR_LEN:
                h->sector = sector + RW_REGION;
                d->addr = (u64)c->w2;
                d->len = RW_BYTES;
                break;
        case RW_PAST_END:
                h->sector = c->cap - 4;
                d->len = RW_BYTES;
                break;
        case RW_TYPE:
                h->type = VIRTIO_BLK_T_IN;
                h->sector = sector + RW_REGION;
                break;
        case RW_READ:
                h->sector = sector + RW_REGION;
                d->len = RW_BYTES;
                break;
        default:
                d->len = 4100;
                break;
        }
        return blk_wait(b, 0, head, 10000);
}

/* Whether (sector choice s, buffer w2 if k & 1, 8 KiB if k & 2) is a version of var. */
static bool rw_allowed(enum rw_variant var, u32 s, u32 k)
{
        return (s == 0 || var != RW_PAST_END) && (!(k & 1) || var == RW_SECTOR_ADDR_LEN) &&
               (!(k & 2) || var != RW_TYPE);
}

static void rw_write_round(struct rw_ctx *c, u32 r, enum rw_variant var)
{
        struct blk *b = c->b;
        u64 A = c->zone + 2 * RW_REGION * r;
        u8 *o[2] = {c->old, c->old + RW_BYTES}, *n[2] = {c->now, c->now + RW_BYTES};
        struct vbuf v = {(u64)c->w1, 4096, false};
        bool first, any = false;
        u32 st;

        rd(b, A, c->old, 2 * RW_BYTES, "the regions before");
        pattern_fill(c->w1, RW_BYTES, 0x1000 + 2 * r, 0);
        pattern_fill(c->w2, RW_BYTES, 0x1001 + 2 * r, 0);
        st = submit_rewrite(c, r, VIRTIO_BLK_T_OUT, A, &v, var);
        rd(b, A, c->now, 2 * RW_BYTES, "the regions after");
        /* One region holds one buffer's first 4 or 8 KiB, the rest of both is as it was. */
        for (u32 s = 0; s < 2; s++)
                for (u32 k = 0; k < 4; k++)
                        if (rw_allowed(var, s, k) &&
                            holds(n[s], k & 1 ? c->w2 : c->w1, k & 2 ? RW_BYTES : 4096, o[s]) &&
                            r3_equal(n[!s], o[!s], RW_BYTES))
                                any = true;
        first = holds(n[0], c->w1, 4096, o[0]) && r3_equal(n[1], o[1], RW_BYTES);
        if (st == VIRTIO_BLK_S_OK) {
                if (!any)
                        hfail("rewrite: %s, round %u: status OK but the disk holds no version "
                              "of the request (a mixture)",
                              rw_name[var], r);
                if (first)
                        c->seen_old[var]++;
                else
                        c->seen_new[var]++;
        } else if (st == VIRTIO_BLK_S_IOERR && var != RW_SECTOR_ADDR_LEN) {
                /* The past-the-end sector or the IN type was read: nothing written. */
                if (!r3_equal(c->old, c->now, 2 * RW_BYTES))
                        hfail("rewrite: %s, round %u: IOERR but the disk changed", rw_name[var], r);
                c->seen_err[var]++;
        } else {
                hfail("rewrite: %s, round %u: status %s; every version of it is served with OK%s",
                      rw_name[var], r, blk_status_name(st),
                      var == RW_SECTOR_ADDR_LEN ? "" : " or refused with IOERR");
        }
}

static void rw_read_round(struct rw_ctx *c, u32 r, enum rw_variant var)
{
        struct blk *b = c->b;
        u64 RA = c->zone - 2 * RW_REGION;
        struct vbuf v = {(u64)c->rbuf, 4096, true};
        u32 st, len;

        memset(c->rbuf, 0xa5, 3 * 4096);
        st = submit_rewrite(c, r, VIRTIO_BLK_T_IN, RA, &v, var);
        len = b->last_len;
        if (st == VIRTIO_BLK_S_OK) {
                u32 n = len - 1;
                bool a = n <= RW_BYTES && r3_equal(c->rbuf, c->ra, n);
                bool bb = var == RW_READ && n <= RW_BYTES && r3_equal(c->rbuf, c->rb, n);

                if ((n != 4096 && (var != RW_READ || n != RW_BYTES)) || (!a && !bb) ||
                    !r3_all(c->rbuf + n, 3 * 4096 - n, 0xa5))
                        hfail("rewrite: %s, round %u: used length %u, data from %s, bytes after "
                              "it %s",
                              rw_name[var], r, len,
                              a    ? "the old sector"
                              : bb ? "the new sector"
                                   : "neither sector (a mixture)",
                              r3_all(c->rbuf + n, 3 * 4096 - n, 0xa5) ? "untouched" : "written");
                if (n == 4096 && a)
                        c->seen_old[var]++;
                else
                        c->seen_new[var]++;
        } else if (st == VIRTIO_BLK_S_IOERR && var == RW_READ_BADLEN) {
                if (!r3_all(c->rbuf, 3 * 4096, 0xa5))
                        hfail("rewrite: %s, round %u: IOERR but the buffer was written",
                              rw_name[var], r);
                c->seen_err[var]++;
        } else {
                hfail("rewrite: %s, round %u: status %s (used length %u)", rw_name[var], r,
                      blk_status_name(st), len);
        }
}

void h_rewrite(struct blk *b)
{
        static struct rw_ctx c;

        if (b->ro) {
                kprintf("hostile: rewrite: a read-only disk: skipped\n");
                sanity(b, "nothing");
                return;
        }
        memset(&c, 0, sizeof(c));
        c.b = b;
        c.cap = b->capacity;
        c.zone = b->capacity / 2;
        if (c.zone < 2 * RW_REGION || c.zone + 2 * RW_REGION * RW_ROUNDS * 3 > c.cap - 8)
                hfail("rewrite: the disk (%lu sectors) is too small", c.cap);
        c.old = palloc(2 * RW_BYTES, 4096);
        c.now = palloc(2 * RW_BYTES, 4096);
        c.w1 = palloc(RW_BYTES, 4096);
        c.w2 = palloc(RW_BYTES, 4096);
        c.rbuf = palloc(3 * 4096, 4096);
        c.ra = palloc(RW_BYTES, 4096);
        c.rb = palloc(RW_BYTES, 4096);
        c.tail = palloc(2 * 4096, 4096);
        /* The two regions the reads choose from, and the disk's last 8 sectors. */
        pattern_fill(c.ra, RW_BYTES, 0xa, 0);
        pattern_fill(c.rb, RW_BYTES, 0xb, 0);
        if (blk_rw(b, 0, true, c.zone - 2 * RW_REGION, c.ra, RW_BYTES) ||
            blk_rw(b, 0, true, c.zone - RW_REGION, c.rb, RW_BYTES))
                hfail("rewrite: preparing the read regions failed");
        rd(b, c.cap - 8, c.tail, 4096, "the last 8 sectors");
        for (u32 r = 0; r < RW_ROUNDS; r++) {
                /* Write rounds use fresh regions: round r of variant k at zone + 32 (3r + k). */
                for (u32 k = 0; k < 3; k++)
                        rw_write_round(&c, 3 * r + k, (enum rw_variant)k);
                rw_read_round(&c, r, RW_READ);
                rw_read_round(&c, r, RW_READ_BADLEN);
        }
        rd(b, c.cap - 8, c.tail + 4096, 4096, "the last 8 sectors");
        if (!r3_equal(c.tail, c.tail + 4096, 4096))
                hfail("rewrite: the last 8 sectors changed (a write was let past the capacity)");
        for (u32 k = 0; k < RW_NVAR; k++)
                kprintf("hostile: rewrite: %s: %u rounds served the first version, %u a later "
                        "one, %u refused\n",
                        rw_name[k], c.seen_old[k], c.seen_new[k], c.seen_err[k]);
        sanity(b, "requests rewritten after the kick");
}

/* --- the same head in flight twice ------------------------------------------------------ */

#define DUP_SECTOR 24
#define DUP_WATCH_MS 300 /* how long after the expected entries an extra one is watched for */

/* Used entries for head until want of them came (or NEEDS_RESET and one), then DUP_WATCH_MS. */
static void dup_collect(struct blk *b, int head, u32 *served, u32 *refused)
{
        struct vq *q = &b->vq[0];
        u64 end = deadline_ms(5000);
        bool settled = false;

        *served = *refused = 0;
        for (;;) {
                bool nr = b->v.ops->get_status(&b->v) & VIRTIO_CONFIG_S_NEEDS_RESET;

                if (*(volatile u16 *)&q->used->idx != q->last_used) {
                        volatile struct vring_used_elem *e =
                            &q->used->ring[q->last_used & (q->size - 1)];
                        u32 id = e->id, len = e->len;

                        q->last_used++;
                        if (id != (u32)head)
                                hfail("dup-head: used id %u, only %d was submitted", id, head);
                        if (len == 0) {
                                ++*refused;
                        } else if (len != 4096 + 1 ||
                                   pattern_check(hbuf2, 4096, 0xd0b, DUP_SECTOR * 512UL) != ~0UL) {
                                hfail("dup-head: head %d served with used length %u%s", head, len,
                                      len == 4097 ? " and the wrong data" : ", expected 4097");
                        } else {
                                ++*served;
                        }
                        continue;
                }
                if (!settled && (*served + *refused >= 2 || (nr && *served + *refused >= 1))) {
                        settled = true;
                        end = deadline_ms(DUP_WATCH_MS);
                }
                if (deadline_passed(end))
                        return;
        }
}

static void dup_publish_twice(struct vq *q, u16 head)
{
        u16 i = q->avail_idx;

        q->avail->ring[i & (q->size - 1)] = head;
        q->avail->ring[(u16)(i + 1) & (q->size - 1)] = head;
        barrier(); /* both entries before the index (x86: stores stay in order) */
        q->avail_idx = (u16)(i + 2);
        *(volatile u16 *)&q->avail->idx = q->avail_idx;
}

/*
 * BAD-INPUTS: "the same head submitted again while in flight: rejected". wisp
 * (virtio/queue.c) rejects the ring: the duplicate is never consumed or
 * served, the device sets NEEDS_RESET with a config interrupt, and the queue
 * is not served again until a reset; the first copy completes once.
 */
void h_dup_head(struct blk *b)
{
        struct vq *q = &b->vq[0];
        struct vbuf v = {(u64)hbuf2, 4096, true};
        u32 served, refused, mark;
        u64 end;
        int head;

        pattern_fill(hbuf, 4096, 0xd0b, DUP_SECTOR * 512UL);
        if (!b->ro && blk_rw(b, 0, true, DUP_SECTOR, hbuf, 4096) != VIRTIO_BLK_S_OK)
                hfail("dup-head: preparing sector %u failed", DUP_SECTOR);
        if (b->ro) {
                kprintf("hostile: dup-head: a read-only disk: skipped\n");
                sanity(b, "nothing");
                return;
        }
        /* 1. Both copies published by one index store: the device sees them in one pass, the
         * second while the first is in flight (its I/O cannot complete before the pass ends). */
        memset(hbuf2, 0, 4096);
        mark = irq_count[b->idt_base];
        head = blk_prepare(b, 0, VIRTIO_BLK_T_IN, DUP_SECTOR, &v, 1, false);
        dup_publish_twice(q, (u16)head);
        vq_kick(q, true);
        wait_needs_reset(b, mark, "dup-head: one head twice in one publish");
        dup_collect(b, head, &served, &refused);
        kprintf("hostile: dup-head: one head twice in one publish: %u served, %u returned with "
                "length 0, status 0x%x\n",
                served, refused, b->v.ops->get_status(&b->v));
        if (served != 1 || refused)
                hfail("dup-head: one head twice in one publish: served %u times, %u returned "
                      "with length 0; expected served once, the duplicate rejected",
                      served, refused);
        /* A broken queue is not served until the reset. */
        memset(hbuf2, 0, 4096);
        head = blk_submit(b, 0, VIRTIO_BLK_T_IN, DUP_SECTOR, &v, 1, false);
        vq_kick(q, true);
        end = deadline_ms(200);
        while (!deadline_passed(end))
                if (vq_has_used(q))
                        hfail("dup-head: a request was served on the queue that needs a reset");
        reset_reinit(b, "dup-head");
        sanity(b, "a head in flight twice");

        /* 2. Published again after its kick, before its completion was seen: in flight when
         * the device reads it (NEEDS_RESET, served once), or already completed (a new
         * request: served twice). Never both, never more. */
        memset(hbuf2, 0, 4096);
        head = blk_prepare(b, 0, VIRTIO_BLK_T_IN, DUP_SECTOR, &v, 1, false);
        vq_publish(q, (u16)head);
        vq_kick(q, true);
        vq_publish(q, (u16)head);
        vq_kick(q, true);
        dup_collect(b, head, &served, &refused);
        {
                bool nr = b->v.ops->get_status(&b->v) & VIRTIO_CONFIG_S_NEEDS_RESET;

                kprintf("hostile: dup-head: republished after its kick: %u served, %u returned "
                        "with length 0, NEEDS_RESET %u\n",
                        served, refused, nr);
                if (refused || (nr ? served != 1 : served != 2))
                        hfail("dup-head: republished after its kick: served %u, refused %u, "
                              "NEEDS_RESET %u; expected once with NEEDS_RESET or twice without",
                              served, refused, nr);
        }
        reset_reinit(b, "dup-head");
        sanity(b, "a head republished after its kick");
}
