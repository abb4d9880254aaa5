/* Fuzz target: split virtqueue chain walking (pop, iov, copies, push, rewind) on fuzzed guest RAM.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "fake_mem.h"
#include "fuzz_input.h"
#include "virtio/queue.h"

/*
 * Input: a header (geometry, limits, features), then ops_len bytes of operations, then the
 * initial contents of guest RAM: region 0 is [0, RAM0) and region 1 [RAM1_GPA, +RAM1), so
 * buffers can also straddle a hole or two regions. The operations interleave the device's
 * calls with the guest scribbling on its RAM between them.
 */
#define RAM0 0x8000ull
#define RAM1_GPA 0x10000ull
#define RAM1 0x1000ull
#define MAX_OUT 64 /* chains popped and not yet pushed that the harness keeps */

struct state {
        struct guest_mem mem;
        struct virtq q;
        struct virtq_chain *out[MAX_OUT];
        unsigned int nout;
        /* virtq_rewind's bookkeeping: where a run of pops began. */
        bool marked;
        uint16_t mark;
        unsigned long rejected_mark;
        unsigned int mark_nout;
};

static bool in_ram(const struct guest_mem *mem, const uint8_t *p, uint64_t len)
{
        for (unsigned int i = 0; i < mem->nr; i++) {
                const struct guest_region *r = &mem->region[i];

                if (p >= r->host && len <= r->size && (uint64_t)(p - r->host) <= r->size - len)
                        return true;
        }
        return false;
}

static void check_chain(const struct state *s, const struct virtq_chain *c)
{
        uint64_t out = 0, in = 0;

        FUZZ_CHECK(c->head < s->q.size);
        FUZZ_CHECK((unsigned int)c->nr_out + c->nr_in <= s->q.max_segs);
        for (unsigned int i = 0; i < (unsigned int)c->nr_out + c->nr_in; i++) {
                FUZZ_CHECK(c->seg[i].len > 0);
                FUZZ_CHECK(in_ram(&s->mem, c->seg[i].host, c->seg[i].len));
                if (i < c->nr_out)
                        out += c->seg[i].len;
                else
                        in += c->seg[i].len;
        }
        FUZZ_CHECK(out == c->out_len && in == c->in_len);
        FUZZ_CHECK(out + in <= s->q.max_len);
}

/* virtq_iov over a fuzzed window of the chain: the iovecs cover exactly the window, in RAM. */
static void exercise_iov(struct state *s, const struct virtq_chain *c, struct fin *in)
{
        struct iovec iov[VIRTQ_MAX_SEGS];
        bool dir = fin_u8(in) & 1;
        uint64_t skip = fin_u32(in), len = fin_u32(in);
        unsigned int max = fin_u16(in) % (VIRTQ_MAX_SEGS + 1);
        int n = virtq_iov(c, dir, skip, len, iov, max);
        uint64_t total = 0, avail = dir ? c->in_len : c->out_len;

        if (n < 0) {
                FUZZ_CHECK(skip + len > avail || max < (unsigned int)(dir ? c->nr_in : c->nr_out));
                return;
        }
        FUZZ_CHECK((unsigned int)n <= max);
        for (int i = 0; i < n; i++) {
                FUZZ_CHECK(iov[i].iov_len > 0);
                FUZZ_CHECK(in_ram(&s->mem, iov[i].iov_base, iov[i].iov_len));
                total += iov[i].iov_len;
        }
        FUZZ_CHECK(total == len);
}

static void exercise_copies(const struct virtq_chain *c, struct fin *in)
{
        static uint8_t buf[0x10000];
        uint32_t off = fin_u16(in), len = fin_u16(in);
        uint32_t n;

        n = virtq_read_out(c, off, buf, len);
        FUZZ_CHECK(n <= len && n <= c->out_len);
        n = virtq_write_in(c, off, buf, len);
        FUZZ_CHECK(n <= len && n <= c->in_len);
}

static uint32_t used_len_at(const struct virtq *q, uint16_t idx)
{
        return q->used->ring[idx & (q->size - 1)].len;
}

static void take(struct state *s, unsigned int i)
{
        free(s->out[i]);
        memmove(&s->out[i], &s->out[i + 1], (s->nout - i - 1) * sizeof(s->out[0]));
        s->nout--;
        s->marked = false; /* a push in between: the run is no longer rewindable */
}

static void op_pop(struct state *s, struct fin *in)
{
        struct virtq_chain *c;
        int r;

        if (s->nout == MAX_OUT)
                return;
        c = malloc(sizeof(*c) + (size_t)s->q.max_segs * sizeof(struct virtq_seg));
        if (!c)
                abort();
        r = virtq_pop(&s->q, c);
        if (r != 1) {
                FUZZ_CHECK(r == 0 || (r == -EIO && s->q.broken));
                free(c);
                return;
        }
        check_chain(s, c);
        exercise_iov(s, c, in);
        exercise_copies(c, in);
        s->out[s->nout++] = c;
}

static void op_push(struct state *s, struct fin *in)
{
        unsigned int i = fin_u8(in);
        uint32_t written = fin_u32(in);
        uint16_t before = s->q.used_idx;
        const struct virtq_chain *c;

        if (!s->nout)
                return;
        i %= s->nout;
        c = s->out[i];
        virtq_push(&s->q, c, written);
        FUZZ_CHECK(s->q.used_idx == (uint16_t)(before + 1));
        FUZZ_CHECK(used_len_at(&s->q, before) <= c->in_len);
        take(s, i);
}

static void op_push_many(struct state *s, struct fin *in)
{
        const struct virtq_chain *cs[MAX_OUT];
        uint32_t written[MAX_OUT];
        unsigned int n = fin_u8(in) % (s->nout + 1);
        uint16_t before = s->q.used_idx;

        for (unsigned int i = 0; i < n; i++) {
                cs[i] = s->out[i];
                written[i] = fin_u32(in);
        }
        virtq_push_many(&s->q, cs, written, n);
        FUZZ_CHECK(s->q.used_idx == (uint16_t)(before + n));
        for (unsigned int i = 0; i < n; i++)
                FUZZ_CHECK(used_len_at(&s->q, (uint16_t)(before + i)) <= cs[i]->in_len);
        while (n--)
                take(s, 0);
}

/* A raw head, as a device returns a chain it never finished popping: only one in flight moves. */
static void op_push_head(struct state *s, struct fin *in)
{
        uint16_t head = fin_u16(in), before = s->q.used_idx;
        bool held = false;

        for (unsigned int i = 0; i < s->nout; i++)
                if (s->out[i]->head == head) {
                        take(s, i);
                        held = true;
                        break;
                }
        virtq_push_head(&s->q, head, 0);
        FUZZ_CHECK(s->q.used_idx == (uint16_t)(before + held));
}

static void op_rewind(struct state *s)
{
        unsigned int n;

        if (!s->marked)
                return;
        n = s->nout - s->mark_nout;
        if (virtq_rewind(&s->q, (const struct virtq_chain *const *)&s->out[s->mark_nout], n,
                         s->mark, s->rejected_mark)) {
                FUZZ_CHECK(s->q.last_avail == s->mark);
                while (s->nout > s->mark_nout) {
                        free(s->out[s->nout - 1]);
                        s->nout--;
                }
        }
        s->marked = false;
}

/* The guest writes its RAM: rings, descriptors, buffers, whatever it likes. */
static void op_guest_write(struct state *s, struct fin *in)
{
        uint32_t off = fin_u16(in) % RAM0;
        uint32_t len = fin_u8(in) % 17;

        if (len > RAM0 - off)
                len = (uint32_t)(RAM0 - off);
        fin_bytes(in, s->mem.region[0].host + off, len);
}

static void run_ops(struct state *s, struct fin *in)
{
        while (in->n) {
                switch (fin_u8(in) % 11) {
                case 0:
                case 1:
                        op_pop(s, in);
                        break;
                case 2:
                        op_push(s, in);
                        break;
                case 3:
                        op_push_many(s, in);
                        break;
                case 4:
                        op_push_head(s, in);
                        break;
                case 5:
                        (void)virtq_should_notify(&s->q);
                        break;
                case 6:
                        (void)virtq_enable_kicks(&s->q);
                        break;
                case 7:
                        (void)virtq_kick_on_more(&s->q);
                        break;
                case 8:
                        s->marked = true;
                        s->mark = s->q.last_avail;
                        s->rejected_mark = s->q.stats.rejected;
                        s->mark_nout = s->nout;
                        break;
                case 9:
                        op_rewind(s);
                        break;
                case 10:
                        op_guest_write(s, in);
                        break;
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct state s;
        struct fin in = fin_make(data, size), ops;
        struct virtq_geometry g;
        uint8_t flags;
        uint16_t max_segs, ops_len;
        uint32_t max_len;

        memset(&s, 0, sizeof(s));
        g.size = (uint16_t)(1u << (fin_u8(&in) % 11));
        flags = fin_u8(&in);
        /* Aligned rings unless the input asks for raw addresses (misaligned: refused). */
        g.desc = fin_u16(&in);
        g.avail = fin_u16(&in);
        g.used = fin_u16(&in);
        if (!(flags & 4)) {
                g.desc &= ~15ull;
                g.avail &= ~1ull;
                g.used &= ~3ull;
        }
        if (flags & 8)
                g.size = fin_u16(&in); /* any size, zero and odd ones included */
        max_segs = (uint16_t)(fin_u16(&in) % (VIRTQ_MAX_SEGS + 1));
        max_len = fin_u32(&in);
        ops_len = fin_u16(&in);
        ops = fin_make(in.p, ops_len < in.n ? ops_len : in.n);
        in.p += ops.n;
        in.n -= ops.n;

        if (fake_mem_init(&s.mem, RAM0, 0) || fake_mem_add(&s.mem, RAM1_GPA, RAM1, 0))
                abort();
        fin_bytes(&in, s.mem.region[0].host, in.n < RAM0 ? in.n : RAM0);
        if (virtq_init(&s.q, &s.mem, &g, VIRTQ_MAX_SIZE, max_segs, max_len, flags & 1, flags & 2) ==
            0)
                run_ops(&s, &ops);
        while (s.nout)
                take(&s, s.nout - 1);
        fake_mem_free(&s.mem);
        return 0;
}
