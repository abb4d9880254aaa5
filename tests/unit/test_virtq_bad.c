/* Unit tests for virtio/queue.c: a hostile driver's rings, row by row of the bad inputs. */
#include <criterion/criterion.h>
#include <errno.h>

#include <linux/virtio_ring.h>

#include "fake_mem.h"
#include "virtq_fixture.h"

TestSuite(virtq, .init = setup_default, .fini = teardown);

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
