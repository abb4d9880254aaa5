/* Unit tests for virtio/queue.c: geometry, chain validation, used ring and notifications. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/virtio_ring.h>

#include "fake_mem.h"
#include "kvm/guest_mem.h"
#include "virtio/queue.h"
#include "vring_driver.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* The fake guest: 1 MiB of RAM at 0, rings and buffers at fixed places. */
#define RAM_SIZE (1 * MiB)
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define BUF_GPA 0x40000ull   /* data buffers */
#define TABLE_GPA 0x80000ull /* indirect tables */
#define MAX_LEN (64 * 1024)

static struct guest_mem mem;
static struct vring_driver drv;
static struct virtq q;
static struct virtq_chain *ch;
static void *big_map; /* an mmap'd region in mem, not fake_mem's to free */
#define BIG_MAP_SIZE (8 * GiB)

static struct virtq_chain *chain_alloc(uint16_t max_segs)
{
        struct virtq_chain *c = calloc(1, sizeof(*c) + (size_t)max_segs * sizeof(struct virtq_seg));

        cr_assert_not_null(c);
        return c;
}

/* A queue of size entries over fresh rings; the test's driver is drv, the device q. */
static void setup_q(uint16_t size, uint16_t max_segs, uint32_t max_len, bool event_idx,
                    bool indirect)
{
        struct virtq_geometry g;

        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        vd_init(&drv, &mem, size, DESC_GPA, AVAIL_GPA, USED_GPA);
        g = vd_geometry(&drv);
        cr_assert_eq(
            virtq_init(&q, &mem, &g, VIRTQ_MAX_SIZE, max_segs, max_len, event_idx, indirect), 0);
        ch = chain_alloc(max_segs);
}

static void setup_default(void)
{
        setup_q(16, 16, MAX_LEN, false, true);
}

static void teardown(void)
{
        free(ch);
        ch = NULL;
        if (big_map) {
                for (unsigned int i = 0; i < mem.nr; i++)
                        if (mem.region[i].host == big_map)
                                mem.nr = i;
                munmap(big_map, BIG_MAP_SIZE);
                big_map = NULL;
        }
        fake_mem_free(&mem);
}

static struct vd_buf rd(uint64_t addr, uint32_t len)
{
        return (struct vd_buf){.addr = addr, .len = len, .write = false};
}

static struct vd_buf wr(uint64_t addr, uint32_t len)
{
        return (struct vd_buf){.addr = addr, .len = len, .write = true};
}

/* Asserts the next used element is (id, len). */
static void expect_used(uint32_t id, uint32_t len)
{
        uint32_t got_id, got_len;

        cr_assert(vd_get_used(&drv, &got_id, &got_len), "expected a used element for %u", id);
        cr_assert_eq(got_id, id, "used id %u, expected %u", got_id, id);
        cr_assert_eq(got_len, len, "used len %u for id %u, expected %u", got_len, id, len);
}

static void expect_no_used(void)
{
        uint32_t id, len;

        cr_assert_not(vd_get_used(&drv, &id, &len), "unexpected used element %u", id);
}

static bool inflight_empty(const struct virtq *vq)
{
        for (size_t i = 0; i < sizeof(vq->inflight) / sizeof(vq->inflight[0]); i++)
                if (vq->inflight[i])
                        return false;
        return true;
}

/* One good one-buffer chain in descriptor i, published. */
static void add_good(uint16_t i)
{
        struct vd_buf b = wr(BUF_GPA + 0x100ull * i, 64);

        vd_add_chain(&drv, i, &b, 1);
}

/* Posts a chain that must be rejected, then a good one; pop must skip to the good one. */
static void expect_rejected_then_good(uint16_t bad_head)
{
        vd_post(&drv, bad_head);
        add_good(15);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 15);
        cr_assert_eq(q.stats.rejected, 1);
        cr_assert_eq(q.stats.popped, 1);
        cr_assert_not(q.broken);
        expect_used(bad_head, 0);
        expect_no_used();
        virtq_push(&q, ch, 0);
        expect_used(15, 0);
        cr_assert(inflight_empty(&q));
}

/* ---- geometry (virtq_init) ---- */

TestSuite(virtq_init, .fini = teardown);

static int try_init(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
        struct virtq_geometry g = {.size = size, .desc = desc, .avail = avail, .used = used};

        return virtq_init(&q, &mem, &g, 256, 16, MAX_LEN, true, true);
}

Test(virtq_init, good_geometry_starts_empty_at_zero)
{
        struct virtq_geometry g = {
            .size = 256, .desc = DESC_GPA, .avail = AVAIL_GPA, .used = USED_GPA};

        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        memset(&q, 0xa5, sizeof(q)); /* whatever was there before */
        cr_assert_eq(virtq_init(&q, &mem, &g, 256, 8, 4096, true, false), 0);
        cr_assert_eq(q.size, 256);
        cr_assert_eq(q.max_segs, 8);
        cr_assert_eq(q.max_len, 4096);
        cr_assert(q.event_idx);
        cr_assert_not(q.indirect);
        cr_assert_not(q.broken);
        cr_assert_eq(q.last_avail, 0);
        cr_assert_eq(q.used_idx, 0);
        cr_assert_not(q.signalled_valid);
        cr_assert(inflight_empty(&q));
        cr_assert_eq(q.stats.popped + q.stats.rejected + q.stats.notified, 0);
        cr_assert_eq((uint8_t *)q.desc, mem.region[0].host + DESC_GPA);
        cr_assert_eq((uint8_t *)q.avail, mem.region[0].host + AVAIL_GPA);
        cr_assert_eq((uint8_t *)q.used, mem.region[0].host + USED_GPA);
}

Test(virtq_init, size_must_be_a_power_of_two_within_the_maximum)
{
        struct virtq_geometry g = {.desc = DESC_GPA, .avail = AVAIL_GPA, .used = USED_GPA};
        const uint16_t bad[] = {0, 3, 6, 100, 255, 257, 512, 0x8000, 0xffff};

        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cr_assert_eq(try_init(bad[i], DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL, "size %u",
                             bad[i]);
                cr_assert_eq(q.size, 0, "a refused queue is left unusable");
        }
        for (unsigned int s = 1; s <= 256; s *= 2)
                cr_assert_eq(try_init((uint16_t)s, DESC_GPA, AVAIL_GPA, USED_GPA), 0, "size %u", s);
        /* The device's own maximum may not exceed VIRTQ_MAX_SIZE. */
        g.size = 2 * VIRTQ_MAX_SIZE;
        cr_assert_eq(virtq_init(&q, &mem, &g, 0xffff, 16, MAX_LEN, false, false), -EINVAL);
        g.size = VIRTQ_MAX_SIZE;
        cr_assert_eq(virtq_init(&q, &mem, &g, 0xffff, 16, MAX_LEN, false, false), 0);
        cr_assert_eq(virtq_init(&q, &mem, &g, VIRTQ_MAX_SIZE / 2, 16, MAX_LEN, false, false),
                     -EINVAL);
}

Test(virtq_init, device_limits_must_be_sane)
{
        struct virtq_geometry g = {
            .size = 16, .desc = DESC_GPA, .avail = AVAIL_GPA, .used = USED_GPA};

        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        cr_assert_eq(virtq_init(&q, &mem, &g, 16, 0, MAX_LEN, false, false), -EINVAL);
        cr_assert_eq(virtq_init(&q, &mem, &g, 16, VIRTQ_MAX_SEGS + 1, MAX_LEN, false, false),
                     -EINVAL);
        cr_assert_eq(virtq_init(&q, &mem, &g, 16, 16, 0, false, false), -EINVAL);
        cr_assert_eq(virtq_init(&q, &mem, &g, 16, VIRTQ_MAX_SEGS, UINT32_MAX, false, false), 0);
}

Test(virtq_init, rings_must_be_aligned)
{
        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        for (uint64_t off = 1; off < 16; off++)
                cr_assert_eq(try_init(16, DESC_GPA + off, AVAIL_GPA, USED_GPA), -EINVAL,
                             "desc +%llu", (unsigned long long)off);
        cr_assert_eq(try_init(16, DESC_GPA + 16, AVAIL_GPA, USED_GPA), 0);
        cr_assert_eq(try_init(16, DESC_GPA, AVAIL_GPA + 1, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(16, DESC_GPA, AVAIL_GPA + 2, USED_GPA), 0);
        for (uint64_t off = 1; off < 4; off++)
                cr_assert_eq(try_init(16, DESC_GPA, AVAIL_GPA, USED_GPA + off), -EINVAL,
                             "used +%llu", (unsigned long long)off);
        cr_assert_eq(try_init(16, DESC_GPA, AVAIL_GPA, USED_GPA + 4), 0);
}

Test(virtq_init, rings_must_lie_wholly_in_ram)
{
        const uint64_t n = 256;

        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        /* Starting at or past the end. */
        cr_assert_eq(try_init(256, RAM_SIZE, AVAIL_GPA, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(256, DESC_GPA, RAM_SIZE, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(256, DESC_GPA, AVAIL_GPA, 4 * GiB), -EINVAL);
        /* Each ring exactly at the end fits; one alignment step further crosses it. */
        cr_assert_eq(try_init(256, RAM_SIZE - 16 * n, AVAIL_GPA, USED_GPA), 0);
        cr_assert_eq(try_init(256, RAM_SIZE - 16 * n + 16, AVAIL_GPA, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(256, DESC_GPA, RAM_SIZE - (6 + 2 * n), USED_GPA), 0);
        cr_assert_eq(try_init(256, DESC_GPA, RAM_SIZE - (6 + 2 * n) + 2, USED_GPA), -EINVAL);
        /* 6 + 8n is not a multiple of 4: the last aligned start that fits is 2 bytes lower. */
        cr_assert_eq(try_init(256, DESC_GPA, AVAIL_GPA, RAM_SIZE - (6 + 8 * n) - 2), 0);
        cr_assert_eq(try_init(256, DESC_GPA, AVAIL_GPA, RAM_SIZE - (6 + 8 * n) + 2), -EINVAL);
}

Test(virtq_init, addresses_near_the_top_do_not_wrap)
{
        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        cr_assert_eq(try_init(256, UINT64_MAX - 15, AVAIL_GPA, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(256, DESC_GPA, UINT64_MAX - 1, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(256, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3), -EINVAL);
        /* A start whose end wraps to inside RAM. */
        cr_assert_eq(try_init(256, 0ull - 16 * 128, AVAIL_GPA, USED_GPA), -EINVAL);
}

Test(virtq_init, a_ring_straddling_two_regions_is_refused)
{
        /* Two adjacent regions: contiguous to the guest, two host buffers to us. */
        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        cr_assert_eq(fake_mem_add(&mem, RAM_SIZE, RAM_SIZE, 0), 0);
        cr_assert_eq(try_init(16, RAM_SIZE - 128, AVAIL_GPA, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(16, DESC_GPA, RAM_SIZE - 16, USED_GPA), -EINVAL);
        cr_assert_eq(try_init(16, DESC_GPA, AVAIL_GPA, RAM_SIZE - 64), -EINVAL);
        /* Wholly inside the second region is fine. */
        cr_assert_eq(try_init(16, RAM_SIZE + DESC_GPA, RAM_SIZE + AVAIL_GPA, RAM_SIZE + USED_GPA),
                     0);
        cr_assert_eq((uint8_t *)q.desc, mem.region[1].host + DESC_GPA);
}

/* ---- normal operation ---- */

TestSuite(virtq, .init = setup_default, .fini = teardown);

Test(virtq, empty_ring_pops_nothing)
{
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert_eq(vd_used_idx(&drv), 0);
        cr_assert_eq(q.stats.popped + q.stats.rejected, 0);
}

Test(virtq, chain_round_trip)
{
        const char hdr[16] = "request header!";
        uint8_t body[100], out[116], reply[64];
        struct vd_buf bufs[] = {rd(BUF_GPA, 16), rd(BUF_GPA + 0x1000, 100),
                                wr(BUF_GPA + 0x2000, 40), wr(BUF_GPA + 0x3000, 24)};

        for (unsigned int i = 0; i < sizeof(body); i++)
                body[i] = (uint8_t)i;
        memcpy(vd_host(&drv, BUF_GPA, 16), hdr, 16);
        memcpy(vd_host(&drv, BUF_GPA + 0x1000, 100), body, 100);
        vd_add_chain(&drv, 3, bufs, 4);
        vd_publish(&drv);

        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 3);
        cr_assert_eq(ch->nr_out, 2);
        cr_assert_eq(ch->nr_in, 2);
        cr_assert_eq(ch->out_len, 116);
        cr_assert_eq(ch->in_len, 64);
        cr_assert_eq(ch->seg[0].host, vd_host(&drv, BUF_GPA, 16));
        cr_assert_eq(ch->seg[1].len, 100);
        cr_assert_eq(ch->seg[2].host, vd_host(&drv, BUF_GPA + 0x2000, 40));
        cr_assert_eq(ch->seg[3].len, 24);
        cr_assert_eq(q.last_avail, 1);
        cr_assert_eq(q.stats.popped, 1);
        cr_assert(q.inflight[0] & (1u << 3), "head 3 in flight");

        /* Reads cross the segment boundary and stop at what the segments hold. */
        cr_assert_eq(virtq_read_out(ch, 0, out, sizeof(out)), 116);
        cr_assert_arr_eq(out, hdr, 16);
        cr_assert_arr_eq(out + 16, body, 100);
        memset(out, 0, sizeof(out));
        cr_assert_eq(virtq_read_out(ch, 10, out, 20), 20);
        cr_assert_arr_eq(out, hdr + 10, 6);
        cr_assert_arr_eq(out + 6, body, 14);
        cr_assert_eq(virtq_read_out(ch, 100, out, 100), 16);
        cr_assert_arr_eq(out, body + 84, 16);
        cr_assert_eq(virtq_read_out(ch, 116, out, 1), 0);
        cr_assert_eq(virtq_read_out(ch, UINT32_MAX, out, UINT32_MAX), 0);

        /* Writes land in the writable buffers only, across their boundary. */
        for (unsigned int i = 0; i < sizeof(reply); i++)
                reply[i] = (uint8_t)(0xc0 + i);
        cr_assert_eq(virtq_write_in(ch, 30, reply, 20), 20);
        cr_assert_arr_eq((uint8_t *)vd_host(&drv, BUF_GPA + 0x2000 + 30, 10), reply, 10);
        cr_assert_arr_eq((uint8_t *)vd_host(&drv, BUF_GPA + 0x3000, 10), reply + 10, 10);
        cr_assert_eq(virtq_write_in(ch, 0, reply, 200), 64, "bounded by the writable total");
        cr_assert_arr_eq((uint8_t *)vd_host(&drv, BUF_GPA + 0x3000, 24), reply + 40, 24);
        cr_assert_arr_eq(vd_host(&drv, BUF_GPA, 16), hdr, 16, "readable buffers untouched");
        cr_assert_eq(virtq_write_in(ch, 64, reply, 1), 0);

        virtq_push(&q, ch, 64);
        expect_used(3, 64);
        expect_no_used();
        cr_assert_eq(q.used_idx, 1);
        cr_assert(inflight_empty(&q));
        cr_assert_eq(virtq_pop(&q, ch), 0);
}

Test(virtq, indirect_chain_round_trip)
{
        struct vd_buf bufs[] = {rd(BUF_GPA, 8), rd(BUF_GPA + 0x100, 8), wr(BUF_GPA + 0x200, 1)};
        uint8_t status = 0x5a, got[16];

        memcpy(vd_host(&drv, BUF_GPA, 8), "ABCDEFGH", 8);
        memcpy(vd_host(&drv, BUF_GPA + 0x100, 8), "IJKLMNOP", 8);
        vd_add_indirect(&drv, 7, TABLE_GPA, bufs, 3);
        vd_publish(&drv);

        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 7);
        cr_assert_eq(ch->nr_out, 2);
        cr_assert_eq(ch->nr_in, 1);
        cr_assert_eq(virtq_read_out(ch, 0, got, 16), 16);
        cr_assert_arr_eq(got, "ABCDEFGHIJKLMNOP", 16);
        cr_assert_eq(virtq_write_in(ch, 0, &status, 1), 1);
        cr_assert_eq(*(uint8_t *)vd_host(&drv, BUF_GPA + 0x200, 1), 0x5a);
        virtq_push(&q, ch, 1);
        expect_used(7, 1);
}

Test(virtq, direct_descriptors_then_one_indirect_is_valid)
{
        /* 2.6.5.3.2: "zero or more normal chained descriptors followed by a
         * single descriptor with VIRTQ_DESC_F_INDIRECT". */
        struct vd_buf tail[] = {rd(BUF_GPA + 0x100, 32), wr(BUF_GPA + 0x200, 16)};

        vd_set_table_desc(&drv, TABLE_GPA, 0, tail[0].addr, tail[0].len, VRING_DESC_F_NEXT, 1);
        vd_set_table_desc(&drv, TABLE_GPA, 1, tail[1].addr, tail[1].len, VRING_DESC_F_WRITE, 0);
        vd_set_desc(&drv, 2, BUF_GPA, 16, VRING_DESC_F_NEXT, 9);
        /* WRITE on the indirect descriptor itself is ignored (2.6.5.3.2). */
        vd_set_desc(&drv, 9, TABLE_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
        vd_post(&drv, 2);
        vd_publish(&drv);

        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->nr_out, 2);
        cr_assert_eq(ch->nr_in, 1);
        cr_assert_eq(ch->out_len, 48);
        cr_assert_eq(ch->in_len, 16);
        cr_assert_eq(ch->seg[0].host, vd_host(&drv, BUF_GPA, 16));
        cr_assert_eq(ch->seg[1].host, vd_host(&drv, BUF_GPA + 0x100, 32));
}

Test(virtq, a_chain_of_every_descriptor_is_accepted)
{
        struct vd_buf bufs[16];

        for (unsigned int i = 0; i < 16; i++)
                bufs[i] = rd(BUF_GPA + 0x100ull * i, 8);
        vd_add_chain(&drv, 5, bufs, 16); /* 5..15, 0..4 */
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->nr_out, 16);
        cr_assert_eq(ch->out_len, 128);
        cr_assert_eq(q.stats.rejected, 0);
}

Test(virtq, a_full_ring_pops_in_order)
{
        for (uint16_t i = 0; i < 16; i++)
                add_good((uint16_t)(15 - i));
        vd_publish(&drv); /* avail - last_avail == size exactly: allowed */
        for (uint16_t i = 0; i < 16; i++) {
                cr_assert_eq(virtq_pop(&q, ch), 1);
                cr_assert_eq(ch->head, 15 - i);
        }
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert_not(q.broken);
        cr_assert_eq(q.inflight[0], 0xffff);
}

Test(virtq, used_length_is_clamped_to_the_writable_total)
{
        struct vd_buf two[] = {rd(BUF_GPA, 10), wr(BUF_GPA + 0x100, 64)};
        struct vd_buf out_only = rd(BUF_GPA + 0x200, 10);

        vd_add_chain(&drv, 0, two, 2);
        vd_add_chain(&drv, 4, &out_only, 1);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        virtq_push(&q, ch, 1000);
        expect_used(0, 64);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        virtq_push(&q, ch, UINT32_MAX);
        expect_used(4, 0);
}

Test(virtq, pushing_a_head_not_in_flight_is_ignored)
{
        add_good(2);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        virtq_push(&q, ch, 8);
        virtq_push(&q, ch, 8); /* twice: would tell the driver head 2 completed again */
        virtq_push_head(&q, 2, 0);
        virtq_push_head(&q, 5, 0);      /* never popped */
        virtq_push_head(&q, 16, 0);     /* out of range */
        virtq_push_head(&q, 0xffff, 0); /* out of range */
        expect_used(2, 8);
        expect_no_used();
        cr_assert_eq(q.used_idx, 1);
}

Test(virtq, push_head_completes_a_popped_head)
{
        add_good(6);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        virtq_push_head(&q, 6, 0);
        expect_used(6, 0);
        cr_assert(inflight_empty(&q));
}

Test(virtq, completions_out_of_order)
{
        uint16_t heads[4];

        for (uint16_t i = 0; i < 4; i++)
                add_good((uint16_t)(i * 3));
        vd_publish(&drv);
        for (uint16_t i = 0; i < 4; i++) {
                cr_assert_eq(virtq_pop(&q, ch), 1);
                heads[i] = ch->head;
        }
        for (int i = 3; i >= 0; i--)
                virtq_push_head(&q, heads[i], 0);
        for (int i = 3; i >= 0; i--)
                expect_used(heads[i], 0);
        cr_assert(inflight_empty(&q));
}

/* ---- BAD-INPUTS: ring rows ---- */

Test(virtq, avail_idx_jump_beyond_the_ring_breaks_it)
{
        add_good(0);
        vd_set_avail_idx(&drv, 17); /* one more than the ring holds */
        cr_assert_eq(virtq_pop(&q, ch), -EIO);
        cr_assert(q.broken);
        cr_assert_eq(q.last_avail, 0, "nothing consumed");
        expect_no_used();
        /* Broken stays broken, even once the index looks sane again. */
        vd_set_avail_idx(&drv, 1);
        cr_assert_eq(virtq_pop(&q, ch), -EIO);
        cr_assert_eq(q.stats.popped, 0);
}

Test(virtq, avail_idx_going_backwards_breaks_it)
{
        add_good(0);
        add_good(1);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        vd_set_avail_idx(&drv, 1); /* 1 - 2 == 0xffff */
        cr_assert_eq(virtq_pop(&q, ch), -EIO);
        cr_assert(q.broken);
        /* The chains already popped can still be completed. */
        virtq_push_head(&q, 0, 0);
        expect_used(0, 0);
}

Test(virtq, avail_idx_far_ahead_across_wrap_breaks_it)
{
        vd_set_avail_idx(&drv, 0x8000);
        cr_assert_eq(virtq_pop(&q, ch), -EIO);
        cr_assert(q.broken);
}

Test(virtq, head_out_of_range_is_rejected)
{
        expect_rejected_then_good(16);
}

Test(virtq, head_far_out_of_range_is_rejected)
{
        expect_rejected_then_good(0xffff);
}

Test(virtq, next_out_of_range_is_rejected)
{
        vd_set_desc(&drv, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 16);
        expect_rejected_then_good(0);
}

Test(virtq, descriptor_loop_is_stopped_by_the_hop_limit)
{
        vd_set_desc(&drv, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
        vd_set_desc(&drv, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, self_loop_is_stopped_by_the_hop_limit)
{
        vd_set_desc(&drv, 4, BUF_GPA, 8, VRING_DESC_F_NEXT, 4);
        expect_rejected_then_good(4);
}

Test(virtq, chain_longer_than_the_queue_is_rejected)
{
        /* A direct table holds only size descriptors, so a longer chain must
         * revisit one: 0 -> 1 -> ... -> 14 -> 0, hop 17 of a queue of 16.
         * max_segs is above the queue size, so only the hop limit stops it. */
        teardown();
        setup_q(16, 64, MAX_LEN, false, true);
        for (uint16_t i = 0; i < 15; i++)
                vd_set_desc(&drv, i, BUF_GPA, 8, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 15));
        expect_rejected_then_good(0);
}

Test(virtq, indirect_loop_is_stopped_by_the_table_size)
{
        teardown();
        setup_q(16, 64, MAX_LEN, false, true);
        for (uint32_t i = 0; i < 4; i++)
                vd_set_table_desc(&drv, TABLE_GPA, i, BUF_GPA, 8, VRING_DESC_F_NEXT,
                                  (uint16_t)((i + 1) % 4));
        vd_set_desc(&drv, 0, TABLE_GPA, 64, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, indirect_next_beyond_the_table_is_rejected)
{
        /* 3 entries; next = 3 lies inside the memory after the table but not in it. */
        vd_set_table_desc(&drv, TABLE_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 3);
        vd_set_table_desc(&drv, TABLE_GPA, 3, BUF_GPA, 8, 0, 0);
        vd_set_desc(&drv, 0, TABLE_GPA, 48, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, nested_indirect_is_rejected)
{
        vd_set_table_desc(&drv, TABLE_GPA + 0x100, 0, BUF_GPA, 8, 0, 0);
        vd_set_table_desc(&drv, TABLE_GPA, 0, TABLE_GPA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
        vd_set_desc(&drv, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, indirect_with_next_is_rejected)
{
        vd_set_table_desc(&drv, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
        vd_set_desc(&drv, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
        vd_set_desc(&drv, 1, BUF_GPA, 8, 0, 0);
        expect_rejected_then_good(0);
}

Test(virtq, second_indirect_in_a_chain_is_rejected)
{
        /* Only possible with INDIRECT|NEXT on the first one; checked anyway. */
        vd_set_table_desc(&drv, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
        vd_set_desc(&drv, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
        vd_set_desc(&drv, 1, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, indirect_length_not_a_multiple_of_16_is_rejected)
{
        vd_set_table_desc(&drv, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
        vd_set_desc(&drv, 0, TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, indirect_length_below_one_descriptor_is_rejected)
{
        vd_set_table_desc(&drv, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
        vd_set_desc(&drv, 0, TABLE_GPA, 8, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, empty_indirect_table_is_rejected)
{
        vd_set_desc(&drv, 0, TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, indirect_table_outside_ram_is_rejected)
{
        vd_set_desc(&drv, 0, RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, indirect_table_with_wrapping_address_is_rejected)
{
        vd_set_desc(&drv, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, indirect_not_negotiated_is_rejected)
{
        struct vd_buf b = rd(BUF_GPA, 8);

        teardown();
        setup_q(16, 16, MAX_LEN, false, false);
        vd_add_indirect(&drv, 0, TABLE_GPA, &b, 1);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert_eq(q.stats.rejected, 1);
        expect_used(0, 0);
}

Test(virtq, zero_length_buffer_is_rejected)
{
        vd_set_desc(&drv, 0, BUF_GPA, 0, 0, 0);
        expect_rejected_then_good(0);
}

Test(virtq, zero_length_buffer_inside_a_chain_is_rejected)
{
        vd_set_desc(&drv, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
        vd_set_desc(&drv, 1, BUF_GPA, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
        vd_set_desc(&drv, 2, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
        expect_rejected_then_good(0);
}

Test(virtq, zero_length_buffer_in_an_indirect_table_is_rejected)
{
        vd_set_table_desc(&drv, TABLE_GPA, 0, BUF_GPA, 0, 0, 0);
        vd_set_desc(&drv, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, wrapping_buffer_is_rejected)
{
        vd_set_desc(&drv, 0, UINT64_MAX - 10, 100, 0, 0);
        expect_rejected_then_good(0);
}

Test(virtq, wrapping_buffer_ending_inside_ram_is_rejected)
{
        /* addr + len wraps to 0x100: the end lies in RAM, the start does not. */
        vd_set_desc(&drv, 0, 0ull - 0x100, 0x200, 0, 0);
        expect_rejected_then_good(0);
}

Test(virtq, buffer_outside_ram_is_rejected)
{
        vd_set_desc(&drv, 0, RAM_SIZE, 1, 0, 0);
        expect_rejected_then_good(0);
}

Test(virtq, buffer_crossing_the_end_of_ram_is_rejected)
{
        vd_set_desc(&drv, 0, RAM_SIZE - 10, 20, VRING_DESC_F_WRITE, 0);
        expect_rejected_then_good(0);
}

Test(virtq, buffer_in_a_hole_or_spanning_two_regions_is_rejected)
{
        /* Two adjacent regions and a third address range past a hole: a buffer
         * that straddles the regions is one guest range but two host buffers. */
        struct virtq_geometry g;

        teardown();
        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        cr_assert_eq(fake_mem_add(&mem, RAM_SIZE, RAM_SIZE, 0), 0);
        vd_init(&drv, &mem, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
        g = vd_geometry(&drv);
        cr_assert_eq(virtq_init(&q, &mem, &g, 16, 16, MAX_LEN, false, true), 0);
        ch = chain_alloc(16);

        vd_set_desc(&drv, 0, RAM_SIZE - 8, 16, 0, 0);
        expect_rejected_then_good(0);

        /* Either side alone is fine. */
        vd_set_desc(&drv, 1, RAM_SIZE - 8, 8, VRING_DESC_F_NEXT, 2);
        vd_set_desc(&drv, 2, RAM_SIZE, 8, 0, 0);
        vd_post(&drv, 1);
        /* And past the second region is a hole. */
        vd_set_desc(&drv, 3, 2 * RAM_SIZE + 4096, 8, 0, 0);
        vd_post(&drv, 3);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 1);
        cr_assert_eq(ch->seg[0].host, mem.region[0].host + RAM_SIZE - 8);
        cr_assert_eq(ch->seg[1].host, mem.region[1].host);
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert_eq(q.stats.rejected, 2);
        expect_used(3, 0);
}

Test(virtq, writable_before_readable_is_rejected)
{
        vd_set_desc(&drv, 0, BUF_GPA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
        vd_set_desc(&drv, 1, BUF_GPA + 0x100, 8, 0, 0);
        expect_rejected_then_good(0);
}

Test(virtq, writable_direct_then_readable_indirect_is_rejected)
{
        vd_set_table_desc(&drv, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
        vd_set_desc(&drv, 0, BUF_GPA + 0x100, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
        vd_set_desc(&drv, 1, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
        expect_rejected_then_good(0);
}

Test(virtq, same_head_twice_in_flight_breaks_the_ring)
{
        add_good(3);
        vd_post(&drv, 3);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 3);
        cr_assert_eq(virtq_pop(&q, ch), -EIO);
        cr_assert(q.broken);
        cr_assert_eq(q.stats.popped, 1);
        expect_no_used(); /* the duplicate was not completed in the first one's name */
        virtq_push(&q, ch, 0);
        expect_used(3, 0);
        expect_no_used();
        cr_assert_eq(virtq_pop(&q, ch), -EIO);
}

Test(virtq, same_head_again_after_completion_is_fine)
{
        add_good(3);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        virtq_push(&q, ch, 0);
        vd_post(&drv, 3);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 3);
        cr_assert_not(q.broken);
}

Test(virtq, rejected_chains_return_with_length_zero_and_the_next_one_pops)
{
        vd_post(&drv, 20);                      /* head out of range */
        vd_set_desc(&drv, 1, BUF_GPA, 0, 0, 0); /* zero length */
        vd_post(&drv, 1);
        vd_set_desc(&drv, 2, RAM_SIZE, 8, 0, 0); /* outside RAM */
        vd_post(&drv, 2);
        add_good(3);
        vd_set_desc(&drv, 4, BUF_GPA, 8, VRING_DESC_F_NEXT, 99); /* next out of range */
        vd_post(&drv, 4);
        vd_publish(&drv);

        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 3);
        cr_assert_eq(q.stats.rejected, 3);
        expect_used(20, 0);
        expect_used(1, 0);
        expect_used(2, 0);
        expect_no_used();
        /* The last bad one is returned on the next pop, which then finds nothing. */
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert_eq(q.stats.rejected, 4);
        expect_used(4, 0);
        cr_assert_eq(q.last_avail, 5);
        cr_assert_eq(q.inflight[0], 1u << 3, "only the good chain is in flight");
        virtq_push_head(&q, 3, 0);
        expect_used(3, 0);
}

Test(virtq, descriptor_rewritten_after_pop_does_not_change_the_chain)
{
        struct vd_buf bufs[] = {rd(BUF_GPA, 16), wr(BUF_GPA + 0x100, 32)};

        vd_add_chain(&drv, 0, bufs, 2);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        /* The guest now points the descriptors elsewhere, grows them, flips direction. */
        vd_set_desc(&drv, 0, RAM_SIZE - 4, 0xffffffff, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
        vd_set_desc(&drv, 1, 0, 0x10000, 0, 0);
        cr_assert_eq(ch->nr_out, 1);
        cr_assert_eq(ch->nr_in, 1);
        cr_assert_eq(ch->seg[0].host, vd_host(&drv, BUF_GPA, 16));
        cr_assert_eq(ch->seg[0].len, 16);
        cr_assert_eq(ch->seg[1].host, vd_host(&drv, BUF_GPA + 0x100, 32));
        cr_assert_eq(ch->seg[1].len, 32);
        cr_assert_eq(ch->in_len, 32);
        virtq_push(&q, ch, 0x10000);
        expect_used(0, 32);
}

Test(virtq, scribbled_used_idx_is_not_trusted)
{
        add_good(0);
        add_good(1);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        drv.used->idx = 0x1234; /* the guest writes the device's field */
        drv.used->ring[5].id = 7;
        virtq_push(&q, ch, 0);
        cr_assert_eq(q.used_idx, 1);
        cr_assert_eq(vd_used_idx(&drv), 1, "the device's own count is published");
        cr_assert_eq(drv.used->ring[0].id, 0);
        cr_assert_eq(drv.used->ring[5].id, 7, "nothing written past our slot");
}

/* ---- limits ---- */

Test(virtq, max_segs_limits_direct_and_indirect_chains)
{
        struct vd_buf bufs[9];

        teardown();
        setup_q(16, 8, MAX_LEN, false, true);
        for (unsigned int i = 0; i < 9; i++)
                bufs[i] = rd(BUF_GPA + 0x100ull * i, 8);
        vd_add_chain(&drv, 0, bufs, 8); /* exactly max_segs */
        vd_add_chain(&drv, 8, bufs, 8);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->nr_out, 8);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        virtq_push_head(&q, 0, 0);
        virtq_push_head(&q, 8, 0);
        expect_used(0, 0);
        expect_used(8, 0);

        vd_add_chain(&drv, 0, bufs, 9); /* one too many */
        vd_add_indirect(&drv, 10, TABLE_GPA, bufs, 9);
        vd_add_indirect(&drv, 11, TABLE_GPA + 0x1000, bufs, 8);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 11);
        cr_assert_eq(ch->nr_out, 8);
        cr_assert_eq(q.stats.rejected, 2);
        expect_used(0, 0);
        expect_used(10, 0);
}

Test(virtq, max_segs_counts_direct_and_indirect_together)
{
        teardown();
        setup_q(16, 4, MAX_LEN, false, true);
        for (uint32_t i = 0; i < 3; i++)
                vd_set_table_desc(&drv, TABLE_GPA, i, BUF_GPA, 8, i < 2 ? VRING_DESC_F_NEXT : 0,
                                  (uint16_t)(i + 1));
        vd_set_desc(&drv, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
        vd_set_desc(&drv, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);
        vd_set_desc(&drv, 2, TABLE_GPA, 48, VRING_DESC_F_INDIRECT, 0); /* 2 + 3 = 5 > 4 */
        vd_post(&drv, 0);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert_eq(q.stats.rejected, 1);
        expect_used(0, 0);
}

Test(virtq, max_len_limits_the_chain_total)
{
        struct vd_buf fit[] = {rd(BUF_GPA, 1000), wr(BUF_GPA + 0x1000, 24)};
        struct vd_buf over[] = {rd(BUF_GPA, 1000), wr(BUF_GPA + 0x1000, 25)};

        teardown();
        setup_q(16, 16, 1024, false, true);
        vd_add_chain(&drv, 0, fit, 2);
        vd_add_chain(&drv, 2, over, 2);
        vd_add_indirect(&drv, 4, TABLE_GPA, over, 2);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->out_len + ch->in_len, 1024);
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert_eq(q.stats.rejected, 2);
        expect_used(2, 0);
        expect_used(4, 0);
}

Test(virtq, chain_total_beyond_32_bits_is_rejected)
{
        /* Needs buffers of 2 GiB in RAM: a lazily mapped 8 GiB region that the
         * queue code never touches (it only forms pointers into it). */
        void *p = mmap(NULL, BIG_MAP_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        struct virtq_geometry g;

        teardown();
        if (p == MAP_FAILED)
                cr_skip_test("cannot reserve 8 GiB of address space");
        big_map = p;
        cr_assert_eq(fake_mem_init(&mem, RAM_SIZE, 0), 0);
        mem.region[1] = (struct guest_region){.gpa = 4 * GiB, .size = BIG_MAP_SIZE, .host = p};
        mem.nr = 2;
        vd_init(&drv, &mem, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
        g = vd_geometry(&drv);
        cr_assert_eq(virtq_init(&q, &mem, &g, 16, 16, UINT32_MAX, false, true), 0);
        ch = chain_alloc(16);

        /* 0x80000000 * 2 = 2^32: wraps a 32-bit total to 0. */
        vd_set_desc(&drv, 0, 4 * GiB, 0x80000000u, VRING_DESC_F_NEXT, 1);
        vd_set_desc(&drv, 1, 6 * GiB, 0x80000000u, VRING_DESC_F_WRITE, 0);
        vd_post(&drv, 0);
        /* Just under: 0xffffffff in two buffers is allowed by max_len = UINT32_MAX. */
        vd_set_desc(&drv, 2, 4 * GiB, 0x80000000u, VRING_DESC_F_NEXT, 3);
        vd_set_desc(&drv, 3, 6 * GiB, 0x7fffffffu, VRING_DESC_F_WRITE, 0);
        vd_post(&drv, 2);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_eq(ch->head, 2);
        cr_assert_eq(ch->out_len, 0x80000000u);
        cr_assert_eq(ch->in_len, 0x7fffffffu);
        cr_assert_eq(q.stats.rejected, 1);
        expect_used(0, 0);
}

/* ---- flood ---- */

Test(virtq, flood_over_many_rounds_keeps_everything_bounded)
{
        /* 300 rounds of a full ring of 256: 76800 chains, so both 16-bit
         * indices wrap. Heads come back out of order; the driver reuses a
         * head only once it was returned. */
        struct vd_buf b[2];
        unsigned long total = 0;

        teardown();
        setup_q(256, 4, MAX_LEN, true, true);
        for (unsigned int round = 0; round < 300; round++) {
                uint16_t heads[128];
                unsigned int n = 0;

                /* 128 two-descriptor chains fill all 256 descriptors. */
                for (uint16_t i = 0; i < 128; i++) {
                        uint16_t first = (uint16_t)((i * 2 + round) % 256);

                        b[0] = rd(BUF_GPA + 16ull * i, 16);
                        b[1] = wr(BUF_GPA + 0x10000 + 16ull * i, 16);
                        vd_add_chain(&drv, first, b, 2);
                }
                vd_publish(&drv);
                while (n < 128 && virtq_pop(&q, ch) == 1) {
                        cr_assert_eq(ch->nr_out + ch->nr_in, 2);
                        heads[n++] = ch->head;
                }
                cr_assert_eq(n, 128, "round %u", round);
                cr_assert_eq(virtq_pop(&q, ch), 0);
                cr_assert_eq(q.stats.popped - total, 128);
                /* As virtqueue_enable_cb: interrupt me for the next one. */
                vd_set_used_event(&drv, drv.last_used);
                for (unsigned int i = 0; i < n; i++)
                        virtq_push_head(&q, heads[(i * 37) % n], 16);
                cr_assert(virtq_should_notify(&q), "round %u", round);
                cr_assert(inflight_empty(&q), "round %u", round);
                for (unsigned int i = 0; i < n; i++) {
                        uint32_t id, len;

                        cr_assert(vd_get_used(&drv, &id, &len));
                        cr_assert_eq(id, heads[(i * 37) % n]);
                        cr_assert_eq(len, 16);
                }
                expect_no_used();
                total += 128;
                cr_assert_eq(q.used_idx, (uint16_t)total);
                cr_assert_eq(q.last_avail, (uint16_t)total);
        }
        cr_assert_eq(q.stats.popped, 300 * 128);
        cr_assert_eq(q.stats.notified, 300);
        cr_assert_eq(q.stats.rejected, 0);
        cr_assert_not(q.broken);
}

Test(virtq, flood_of_bad_chains_never_stalls)
{
        /* Every entry bad, over many rounds and through index wrap-around:
         * each comes back at once and nothing stays in flight. */
        teardown();
        setup_q(256, 4, MAX_LEN, false, true);
        for (unsigned int round = 0; round < 300; round++) {
                for (unsigned int i = 0; i < 256; i++)
                        vd_post(&drv, (uint16_t)(256 + i));
                vd_publish(&drv);
                cr_assert_eq(virtq_pop(&q, ch), 0);
                for (unsigned int i = 0; i < 256; i++)
                        expect_used(256 + i, 0);
                cr_assert(inflight_empty(&q));
        }
        cr_assert_eq(q.stats.rejected, 300 * 256);
        cr_assert_not(q.broken);
}

/* ---- notifications ---- */

TestSuite(virtq_notify, .fini = teardown);

static void pop_push_one(uint16_t head)
{
        add_good(head);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        virtq_push(&q, ch, 0);
}

Test(virtq_notify, nothing_pushed_means_no_interrupt)
{
        setup_q(16, 16, MAX_LEN, false, true);
        cr_assert_not(virtq_should_notify(&q));
        teardown();
        setup_q(16, 16, MAX_LEN, true, true);
        cr_assert_not(virtq_should_notify(&q), "not even the EVENT_IDX bootstrap");
        add_good(0);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_not(virtq_should_notify(&q), "popped, not yet pushed");
        cr_assert_eq(q.stats.notified, 0);
}

Test(virtq_notify, flag_decides_without_event_idx)
{
        setup_q(16, 16, MAX_LEN, false, true);
        pop_push_one(0);
        vd_set_avail_flags(&drv, VRING_AVAIL_F_NO_INTERRUPT);
        cr_assert_not(virtq_should_notify(&q));
        pop_push_one(1);
        vd_set_avail_flags(&drv, 0);
        cr_assert(virtq_should_notify(&q));
        cr_assert_not(virtq_should_notify(&q), "nothing new since");
        /* used_event means nothing without EVENT_IDX. */
        vd_set_used_event(&drv, 100);
        pop_push_one(2);
        cr_assert(virtq_should_notify(&q));
        cr_assert_eq(q.stats.notified, 2);
}

Test(virtq_notify, event_idx_first_notification_always_fires)
{
        setup_q(16, 16, MAX_LEN, true, true);
        vd_set_used_event(&drv, 1000);                        /* "not until much later" */
        vd_set_avail_flags(&drv, VRING_AVAIL_F_NO_INTERRUPT); /* ignored with EVENT_IDX */
        pop_push_one(0);
        cr_assert(virtq_should_notify(&q));
        cr_assert(q.signalled_valid);
        cr_assert_eq(q.signalled_used, 1);
        cr_assert_eq(q.stats.notified, 1);
}

Test(virtq_notify, event_idx_honours_used_event)
{
        setup_q(16, 16, MAX_LEN, true, true);
        pop_push_one(0);
        cr_assert(virtq_should_notify(&q)); /* bootstrap; used_idx 1 */

        /* used_event = 2: notify once the entry at index 2 is written (idx 3). */
        vd_set_used_event(&drv, 2);
        pop_push_one(1); /* used idx 2 */
        cr_assert_not(virtq_should_notify(&q));
        pop_push_one(2); /* used idx 3 */
        cr_assert(virtq_should_notify(&q));
        pop_push_one(3); /* 4: event already passed */
        cr_assert_not(virtq_should_notify(&q));

        /* A batch that jumps over used_event still fires. */
        vd_set_used_event(&drv, 5);
        for (uint16_t h = 4; h < 8; h++)
                pop_push_one(h); /* idx 8 */
        cr_assert(virtq_should_notify(&q));
        cr_assert_not(virtq_should_notify(&q), "nothing new");
        cr_assert_eq(q.stats.notified, 3);
}

Test(virtq_notify, event_idx_across_16_bit_wrap_around)
{
        setup_q(4, 4, MAX_LEN, true, true);
        pop_push_one(0);
        cr_assert(virtq_should_notify(&q)); /* bootstrap */
        /* Run used_idx up to 0xfffe with the driver asking for nothing in between. */
        vd_set_used_event(&drv, 0);
        while (q.used_idx != 0xfffe) {
                pop_push_one((uint16_t)(q.used_idx % 4));
                cr_assert_not(virtq_should_notify(&q), "used_idx %u", q.used_idx);
        }
        cr_assert_eq(q.last_avail, 0xfffe);

        /* used_event 0xffff: fires once idx reaches 0x0000. */
        vd_set_used_event(&drv, 0xffff);
        pop_push_one(2); /* 0xffff */
        cr_assert_not(virtq_should_notify(&q));
        pop_push_one(3); /* 0x0000 */
        cr_assert_eq(q.used_idx, 0);
        cr_assert(virtq_should_notify(&q));

        /* used_event 0x0000 when a batch carries idx from 0xfffe past 0 fires too. */
        while (q.used_idx != 0xfffe) {
                pop_push_one((uint16_t)(q.used_idx % 4));
                (void)virtq_should_notify(&q);
        }
        vd_set_used_event(&drv, 0);
        pop_push_one(2); /* 0xffff */
        pop_push_one(3); /* 0x0000 */
        pop_push_one(0); /* 0x0001: entry 0 written */
        cr_assert(virtq_should_notify(&q));
        cr_assert_eq(vd_used_idx(&drv), 1);
}

Test(virtq_notify, enable_kicks_with_event_idx_writes_avail_event)
{
        setup_q(16, 16, MAX_LEN, true, true);
        cr_assert_not(virtq_enable_kicks(&q));
        cr_assert_eq(vd_avail_event(&drv), 0);
        pop_push_one(0);
        pop_push_one(1);
        cr_assert_not(virtq_enable_kicks(&q));
        cr_assert_eq(vd_avail_event(&drv), 2);
        /* Buffers that arrived before the kick was asked for are reported. */
        add_good(2);
        vd_publish(&drv);
        cr_assert(virtq_enable_kicks(&q));
        cr_assert_eq(vd_avail_event(&drv), 2);
        cr_assert_eq(vd_used_flags(&drv), 0, "flags stay 0 with EVENT_IDX");
}

Test(virtq_notify, enable_kicks_without_event_idx_clears_no_notify)
{
        setup_q(16, 16, MAX_LEN, false, true);
        vd_set_used_flags(&drv, VRING_USED_F_NO_NOTIFY);
        cr_assert_not(virtq_enable_kicks(&q));
        cr_assert_eq(vd_used_flags(&drv) & VRING_USED_F_NO_NOTIFY, 0);
        cr_assert_eq(vd_avail_event(&drv), 0, "avail_event untouched without EVENT_IDX");
        add_good(0);
        vd_publish(&drv);
        cr_assert(virtq_enable_kicks(&q));
        cr_assert_eq(virtq_pop(&q, ch), 1);
        cr_assert_not(virtq_enable_kicks(&q));
}

Test(virtq_notify, rejected_chains_are_worth_an_interrupt)
{
        /* pop returns 0 but a rejected chain went back: the driver must hear of it. */
        setup_q(16, 16, MAX_LEN, true, true);
        pop_push_one(0);
        cr_assert(virtq_should_notify(&q)); /* bootstrap */
        expect_used(0, 0);
        vd_set_used_event(&drv, 1); /* as virtqueue_enable_cb: the next one */
        vd_post(&drv, 99);
        vd_publish(&drv);
        cr_assert_eq(virtq_pop(&q, ch), 0);
        cr_assert(virtq_should_notify(&q));
        expect_used(99, 0);
}
