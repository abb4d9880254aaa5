/* Unit tests for virtio/queue.c: the geometry virtq_init takes, chains in normal operation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "fake_mem.h"
#include "virtq_fixture.h"

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
