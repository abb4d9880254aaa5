/* Split virtqueues (virtio 1.1 section 2.6), device side: the guest is hostile until checked. */
#include "virtio/queue.h"

#include <errno.h>
#include <string.h>

#include <linux/virtio_ring.h>

/*
 * Byte order: virtio 1.x rings are little-endian, and so is a legacy
 * ring on an x86 guest; wisp only runs x86-64, so the fields are used as
 * they lie.
 *
 * Ordering: the driver is another CPU writing the same memory. Each access
 * below that depends on ordering names the barrier in Linux's
 * drivers/virtio/virtio_ring.c it pairs with.
 */

static bool inflight_test(const struct virtq *q, uint16_t head)
{
        return q->inflight[head / 64] & (1ull << (head % 64));
}

static void inflight_set(struct virtq *q, uint16_t head)
{
        q->inflight[head / 64] |= 1ull << (head % 64);
}

static void inflight_clear(struct virtq *q, uint16_t head)
{
        q->inflight[head / 64] &= ~(1ull << (head % 64));
}

/* The event slots after each ring: used_event (2.6.7), avail_event (2.6.10). */
static uint16_t *used_event_slot(const struct virtq *q)
{
        return (uint16_t *)&q->avail->ring[q->size];
}

static uint16_t *avail_event_slot(const struct virtq *q)
{
        return (uint16_t *)&q->used->ring[q->size];
}

/* Takes a host pointer to a ring, or NULL if it is misaligned or not wholly in one RAM region. */
static void *ring_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint64_t align)
{
        void *p;

        if (gpa % align)
                return NULL;
        p = guest_ptr(mem, gpa, len);
        /* The atomics below need the host address aligned too; a region whose
         * host base is not congruent with its gpa is a host bug, refused here. */
        if (!p || (uintptr_t)p % align)
                return NULL;
        return p;
}

int virtq_init(struct virtq *q, const struct guest_mem *mem, const struct virtq_geometry *g,
               uint16_t max_size, uint16_t max_segs, uint32_t max_len, bool event_idx,
               bool indirect)
{
        const uint64_t n = g->size; /* 64-bit: no size computation below can wrap */

        memset(q, 0, sizeof(*q));
        if (n == 0 || (n & (n - 1)) || n > max_size || n > VIRTQ_MAX_SIZE)
                return -EINVAL;
        if (max_segs == 0 || max_segs > VIRTQ_MAX_SEGS || max_len == 0)
                return -EINVAL;

        /* Sizes and alignments from the table in 2.6; the event slots are
         * always included, as the driver lays them out either way. */
        q->desc = ring_ptr(mem, g->desc, 16 * n, 16);
        q->avail = ring_ptr(mem, g->avail, 6 + 2 * n, 2);
        q->used = ring_ptr(mem, g->used, 6 + 8 * n, 4);
        if (!q->desc || !q->avail || !q->used) {
                memset(q, 0, sizeof(*q));
                return -EINVAL;
        }
        q->mem = mem;
        q->size = (uint16_t)n;
        q->max_segs = max_segs;
        q->max_len = max_len;
        q->event_idx = event_idx;
        q->indirect = indirect;
        return 0;
}

/*
 * Copies one descriptor out of guest memory. The compiler barrier keeps the
 * copy the only read: without it the compiler could re-load a field from the
 * guest after it was checked. A torn copy is harmless, it is what gets checked.
 */
static void desc_copy(struct vring_desc *d, const void *src)
{
        memcpy(d, src, sizeof(*d));
        __asm__ volatile("" ::: "memory");
}

/* Adds one buffer to the chain, or returns -EINVAL for any rule it breaks. */
static int chain_add(const struct virtq *q, struct virtq_chain *c, const struct vring_desc *d,
                     uint32_t *total)
{
        unsigned int nr = (unsigned int)c->nr_out + c->nr_in;
        uint8_t *host;

        if (nr >= q->max_segs)
                return -EINVAL;
        /* Zero length (CVE-2016-6490) is refused by guest_ptr too; saying so
         * keeps the rule visible. guest_ptr refuses wrapping and non-RAM. */
        if (d->len == 0)
                return -EINVAL;
        host = guest_ptr(q->mem, d->addr, d->len);
        if (!host)
                return -EINVAL;
        if (__builtin_add_overflow(*total, d->len, total) || *total > q->max_len)
                return -EINVAL;
        c->seg[nr].host = host;
        c->seg[nr].len = d->len;
        if (d->flags & VRING_DESC_F_WRITE) {
                c->nr_in++;
                c->in_len += d->len;
        } else {
                /* Readable after writable: every device here needs the
                 * driver-to-device part first (2.6.4.2). */
                if (c->nr_in)
                        return -EINVAL;
                c->nr_out++;
                c->out_len += d->len;
        }
        return 0;
}

/*
 * Walks the chain at head (< q->size) into c. Any number of direct
 * descriptors may be followed by one indirect one (2.6.5.3.2). Each table
 * has a hop limit of its entry count, so a loop ends there; max_segs and
 * max_len bound the work further.
 */
static int chain_walk(const struct virtq *q, uint16_t head, struct virtq_chain *c)
{
        const uint8_t *table = (const uint8_t *)q->desc;
        uint32_t entries = q->size, hops = 0, total = 0, i = head;
        bool in_indirect = false;
        struct vring_desc d;

        c->head = head;
        c->nr_out = c->nr_in = 0;
        c->out_len = c->in_len = 0;
        for (;;) {
                if (i >= entries || hops++ >= entries)
                        return -EINVAL;
                desc_copy(&d, table + (size_t)i * sizeof(d));
                if (d.flags & VRING_DESC_F_INDIRECT) {
                        /* 2.6.5.3.1: not negotiated, nested, or with NEXT
                         * are all driver errors; the table is a nonzero
                         * number of whole descriptors. WRITE on it is
                         * ignored (2.6.5.3.2). */
                        if (!q->indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT))
                                return -EINVAL;
                        if (d.len == 0 || d.len % sizeof(d))
                                return -EINVAL;
                        table = guest_ptr(q->mem, d.addr, d.len);
                        if (!table)
                                return -EINVAL;
                        entries = d.len / sizeof(d);
                        hops = 0;
                        i = 0;
                        in_indirect = true;
                        continue;
                }
                if (chain_add(q, c, &d, &total))
                        return -EINVAL;
                if (!(d.flags & VRING_DESC_F_NEXT))
                        return 0;
                i = d.next;
        }
}

/* Writes one used element and publishes it (2.6.8). */
static void used_put(struct virtq *q, uint32_t id, uint32_t len)
{
        vring_used_elem_t *e = &q->used->ring[q->used_idx & (q->size - 1)];

        __atomic_store_n(&e->id, id, __ATOMIC_RELAXED);
        __atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
        q->used_idx++;
        /* Release: the element is visible before the index. Pairs with the
         * driver's virtio_rmb() in virtqueue_get_buf_ctx_split(), between
         * reading used->idx (more_used_split) and reading the element. */
        __atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

/*
 * Rejected chains are pushed here with length 0, so the caller must run
 * virtq_should_notify after popping even when nothing came back: otherwise
 * the driver never hears of them. A head >= size is returned as the driver
 * wrote it; a Linux driver marks its own ring broken on seeing it.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
        uint16_t avail_idx;

        if (q->broken)
                return -EIO;
        /* Read once per call. Acquire: the ring entries and descriptors are
         * read after it. Pairs with the driver's virtio_wmb() in
         * virtqueue_add_split() before it stores avail->idx. */
        avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
        /* More than a ring's worth, or backwards (2.6.6.1 forbids both). */
        if ((uint16_t)(avail_idx - q->last_avail) > q->size) {
                q->broken = true;
                return -EIO;
        }
        while (q->last_avail != avail_idx) {
                uint16_t head = __atomic_load_n(&q->avail->ring[q->last_avail & (q->size - 1)],
                                                __ATOMIC_RELAXED);

                /* Serving it would let one completion answer for two
                 * requests (the same head in flight twice): the ring is
                 * broken, nothing is consumed. */
                if (head < q->size && inflight_test(q, head)) {
                        q->broken = true;
                        return -EIO;
                }
                q->last_avail++;
                if (head >= q->size || chain_walk(q, head, c)) {
                        used_put(q, head, 0);
                        q->stats.rejected++;
                        continue;
                }
                inflight_set(q, head);
                q->stats.popped++;
                return 1;
        }
        return 0;
}

/*
 * No chain to clamp against: callers pass 0 or a length they already
 * checked against the chain's writable total. A head that is not in flight
 * is ignored, as in virtq_push.
 */
void virtq_push_head(struct virtq *q, uint16_t head, uint32_t written)
{
        if (head >= q->size || !inflight_test(q, head))
                return;
        inflight_clear(q, head);
        used_put(q, head, written);
}

void virtq_push_many(struct virtq *q, const struct virtq_chain *const *c, const uint32_t *written,
                     unsigned int n)
{
        uint16_t idx = q->used_idx;

        /* All elements first, then one release store of the index: the
         * driver sees a merged frame whole or not at all. */
        for (unsigned int i = 0; i < n; i++) {
                uint16_t head = c[i]->head;
                uint32_t len = written[i] < c[i]->in_len ? written[i] : c[i]->in_len;
                vring_used_elem_t *e;

                if (head >= q->size || !inflight_test(q, head))
                        continue;
                inflight_clear(q, head);
                e = &q->used->ring[idx & (q->size - 1)];
                __atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
                __atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
                idx++;
        }
        q->used_idx = idx;
        __atomic_store_n(&q->used->idx, idx, __ATOMIC_RELEASE); /* pairs as in used_put */
}

void virtq_push(struct virtq *q, const struct virtq_chain *c, uint32_t written)
{
        /* 2.6.8.2: the device must have written at least the used length
         * (CVE-2024-8612), so it can never exceed the writable total. */
        virtq_push_head(q, c->head, written < c->in_len ? written : c->in_len);
}

bool virtq_should_notify(struct virtq *q)
{
        uint16_t old = q->signalled_used;
        bool valid = q->signalled_valid, fire;

        /* Full barrier between our used->idx store (used_put) and the load
         * of used_event / avail->flags. Pairs with virtio_store_mb() of
         * used_event in virtqueue_enable_cb_delayed_split() and virtio_mb()
         * in virtqueue_poll(): the driver stores, then checks used->idx. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        /* Nothing pushed since the last call (or since init): nothing to
         * tell. Callers call once per batch, far fewer than 65536 pushes. */
        if (old == q->used_idx)
                return false;
        q->signalled_used = q->used_idx;
        q->signalled_valid = true;
        if (q->event_idx) {
                /* 2.6.7.2: interrupt when used->idx passes used_event. The
                 * first time there is no old value to compare with. */
                uint16_t event = __atomic_load_n(used_event_slot(q), __ATOMIC_RELAXED);

                fire = !valid || vring_need_event(event, q->used_idx, old);
        } else {
                fire = !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) &
                         VRING_AVAIL_F_NO_INTERRUPT);
        }
        if (fire)
                q->stats.notified++;
        return fire;
}

/* Asks for a kick at avail index at, then full barrier (see below). */
static void arm_kick(struct virtq *q, uint16_t at)
{
        if (q->event_idx) {
                /* 2.6.10: kick once the driver adds past avail_event. */
                __atomic_store_n(avail_event_slot(q), at, __ATOMIC_RELAXED);
        } else {
                uint16_t flags = __atomic_load_n(&q->used->flags, __ATOMIC_RELAXED);

                __atomic_store_n(&q->used->flags, (uint16_t)(flags & ~VRING_USED_F_NO_NOTIFY),
                                 __ATOMIC_RELAXED);
        }
        /* Store, full barrier, then load avail->idx: pairs with virtio_mb()
         * in virtqueue_kick_prepare_split(), where the driver stores
         * avail->idx and then reads avail_event / used->flags. One of the
         * two sides sees the other's store, so no kick is lost. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_enable_kicks(struct virtq *q)
{
        arm_kick(q, q->last_avail);
        return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->last_avail;
}

bool virtq_kick_on_more(struct virtq *q)
{
        /* The chains up to avail->idx are there but were too few (the device
         * rewound them): only an entry published after now helps. */
        uint16_t seen = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);

        arm_kick(q, seen);
        return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != seen;
}

/*
 * Copies between segs[0..nr), taken as one flat buffer from byte off on, and
 * either to (dst) or from (src) a host buffer of len bytes.
 */
static uint32_t seg_copy(const struct virtq_seg *seg, unsigned int nr, uint32_t off, uint8_t *dst,
                         const uint8_t *src, uint32_t len)
{
        uint32_t done = 0;

        for (unsigned int i = 0; i < nr && done < len; i++) {
                uint32_t n;

                if (off >= seg[i].len) {
                        off -= seg[i].len;
                        continue;
                }
                n = seg[i].len - off;
                if (n > len - done)
                        n = len - done;
                if (src)
                        memcpy(seg[i].host + off, src + done, n);
                else
                        memcpy(dst + done, seg[i].host + off, n);
                done += n;
                off = 0;
        }
        return done;
}

uint32_t virtq_read_out(const struct virtq_chain *c, uint32_t off, void *dst, uint32_t len)
{
        return seg_copy(c->seg, c->nr_out, off, dst, NULL, len);
}

uint32_t virtq_write_in(const struct virtq_chain *c, uint32_t off, const void *src, uint32_t len)
{
        return seg_copy(c->seg + c->nr_out, c->nr_in, off, NULL, src, len);
}

int virtq_iov(const struct virtq_chain *c, bool in, uint64_t skip, uint64_t len, struct iovec *iov,
              unsigned int max)
{
        unsigned int first = in ? c->nr_out : 0, n = in ? c->nr_in : c->nr_out, k = 0;

        for (unsigned int i = first; i < first + n && len; i++) {
                const struct virtq_seg *s = &c->seg[i];
                uint64_t take;

                if (skip >= s->len) {
                        skip -= s->len;
                        continue;
                }
                take = s->len - skip < len ? s->len - skip : len;
                if (k == max)
                        return -ENOSPC;
                iov[k++] = (struct iovec){.iov_base = s->host + skip, .iov_len = (size_t)take};
                len -= take;
                skip = 0;
        }
        return len ? -ENOSPC : (int)k;
}

bool virtq_rewind(struct virtq *q, const struct virtq_chain *const *chains, unsigned int n,
                  uint16_t mark, unsigned long rejected_mark)
{
        /* Rewinding over a rejected chain would hand it back to the driver
         * twice: only rewind a run of good chains. */
        if (q->stats.rejected != rejected_mark || (uint16_t)(q->last_avail - mark) != n)
                return false;
        for (unsigned int i = 0; i < n; i++)
                inflight_clear(q, chains[i]->head);
        q->last_avail = mark;
        q->stats.popped -= n;
        return true;
}
