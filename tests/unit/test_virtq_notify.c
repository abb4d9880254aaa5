/* Unit tests for virtio/queue.c: when the device interrupts; kicks with and without EVENT_IDX. */
#include <criterion/criterion.h>

#include <linux/virtio_ring.h>

#include "virtq_fixture.h"

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
