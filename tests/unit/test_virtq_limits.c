/* Unit tests for virtio/queue.c: the device's limits on chains, and floods of good and bad ones. */
#include <criterion/criterion.h>
#include <sys/mman.h>

#include <linux/virtio_ring.h>

#include "fake_mem.h"
#include "virtq_fixture.h"

TestSuite(virtq, .init = setup_default, .fini = teardown);

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
