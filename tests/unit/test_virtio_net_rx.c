/* Unit tests for devices/virtio_net.c: RX, from the tap to the driver's buffers. */
#include <criterion/criterion.h>
#include <string.h>

#include "virtio_net_fixture.h"

TestSuite(vnet, .init = setup, .fini = teardown);

/* --- RX ------------------------------------------------------------------------------------- */

static void rx_one(uint64_t want, uint16_t expect_nb)
{
        struct virtio_net_hdr_mrg_rxbuf hdr = {.hdr = {.flags = VIRTIO_NET_HDR_F_DATA_VALID}};
        uint8_t buf[2048];
        uint32_t len = frame(buf, &hdr, 12, 1000, 7);
        struct chain a, b;
        uint8_t *g;

        attach("tap=t0");
        driver_up(want);
        a = post_rx(0, 2048);
        b = post_rx(0, 2048);
        kick(0);
        settle();
        cr_assert_eq(pending_used(0), 0, "no frame yet");
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, a.head, len);
        g = gptr(a.gpa, 2048);
        cr_assert_eq(memcmp(g, buf, NUMBUF_OFF), 0, "the tap's header");
        cr_assert_eq(*(uint16_t *)(g + NUMBUF_OFF), expect_nb, "num_buffers %u",
                     *(uint16_t *)(g + NUMBUF_OFF));
        cr_assert_eq(memcmp(g + 12, buf + 12, 1000), 0, "the frame");
        cr_assert_eq(g[len], 0xcc, "nothing past it");
        cr_assert_eq(n.stats.rx_frames, 1);
        cr_assert_gt(n.vp.msix.fired[1], 0, "queue 0's vector");
        len = frame(buf, &hdr, 12, 60, 8);
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, b.head, len);
        cr_assert_eq(memcmp((uint8_t *)gptr(b.gpa, len) + 12, buf + 12, 60), 0);
        cr_assert(n.pair[0].tap_watched);
}

Test(vnet, rx_frame_lands_in_a_guest_buffer_with_mrg)
{
        rx_one(WANT, 1);
}

Test(vnet, rx_frame_lands_in_a_guest_buffer_without_mrg)
{
        /* The frame carries the num_buffers the guest must see (see the BUG_ test below). */
        struct virtio_net_hdr_mrg_rxbuf hdr = {.num_buffers = 1};
        uint8_t buf[256];
        uint32_t len = frame(buf, &hdr, 12, 100, 1);
        struct chain a;

        attach("tap=t0");
        driver_up(WANT & ~MRG);
        a = post_rx(0, 2048);
        kick(0);
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, a.head, len);
        cr_assert_eq(memcmp(gptr(a.gpa, len), buf, len), 0);
}

/* virtio 1.1, 5.1.6.4: without MRG_RXBUF the device must set num_buffers to 1. A real tap
 * leaves those two bytes alone (tun_put_user skips past its 10-byte header), so the device
 * has to write them; here the "tap" sends them as 0. */
Test(vnet, without_mrg_num_buffers_is_not_set_to_1)
{
        rx_one(WANT & ~MRG, 1);
}

Test(vnet, rx_header_only_records_are_skipped)
{
        uint8_t buf[256];
        struct chain a;
        uint32_t len;

        attach("tap=t0");
        driver_up(WANT);
        a = post_rx(0, 2048);
        kick(0);
        tap_send(0, &plain_hdr, 12);
        len = frame(buf, &plain_hdr, 12, 80, 2);
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, a.head, len);
        cr_assert_eq(n.stats.rx_frames, 1);
        cr_assert_eq(n.stats.rx_dropped, 0);
}

Test(vnet, rx_mrg_spreads_a_large_frame_over_several_buffers)
{
        struct chain c[4];
        uint32_t len = frame(big, &plain_hdr, 12, 2500, 5);

        attach("tap=t0");
        driver_up(WANT);
        for (unsigned int i = 0; i < 4; i++)
                c[i] = post_rx(0, 1000);
        kick(0);
        tap_send(0, big, len);
        wait_used(0, 3);
        used(0, c[0].head, 1000);
        used(0, c[1].head, 1000);
        used(0, c[2].head, len - 2000);
        cr_assert_eq(pending_used(0), 0, "the fourth buffer is left");
        cr_assert_eq(*(uint16_t *)gptr(c[0].gpa + NUMBUF_OFF, 2), 3, "num_buffers");
        cr_assert_eq(memcmp((uint8_t *)gptr(c[0].gpa, 1000) + 12, big + 12, 988), 0);
        cr_assert_eq(memcmp(gptr(c[1].gpa, 1000), big + 1000, 1000), 0);
        cr_assert_eq(memcmp(gptr(c[2].gpa, len - 2000), big + 2000, len - 2000), 0);
        cr_assert_eq(n.stats.rx_frames, 1);
        /* The next small frame takes the fourth buffer alone. */
        len = frame(big, &plain_hdr, 12, 100, 6);
        tap_send(0, big, len);
        wait_used(0, 1);
        used(0, c[3].head, len);
        cr_assert_eq(*(uint16_t *)gptr(c[3].gpa + NUMBUF_OFF, 2), 1);
}

Test(vnet, rx_mrg_out_of_buffers_mid_frame_waits_then_resumes)
{
        struct chain a, b, c;
        uint32_t len = frame(big, &plain_hdr, 12, 2500, 11);

        attach("tap=t0");
        driver_up(WANT);
        a = post_rx(0, 1000);
        kick(0);
        tap_send(0, big, len);
        settle();
        cr_assert_eq(pending_used(0), 0, "the one buffer is given back, not used");
        cr_assert_not(n.pair[0].tap_watched, "back-pressure");
        cr_assert_eq(n.pair[0].pkt_len, len, "the frame waits");
        b = post_rx(0, 1000);
        c = post_rx(0, 1000);
        kick(0);
        wait_used(0, 3);
        used(0, a.head, 1000);
        used(0, b.head, 1000);
        used(0, c.head, len - 2000);
        cr_assert_eq(*(uint16_t *)gptr(a.gpa + NUMBUF_OFF, 2), 3);
        cr_assert_eq(memcmp(gptr(c.gpa, len - 2000), big + 2000, len - 2000), 0);
        cr_assert(n.pair[0].tap_watched, "watching again");
        cr_assert_eq(n.stats.rx_dropped, 0);
}

/* 12 + 6500 bytes in 100-byte buffers: 66 of them, more than the 64 a frame once could take. */
Test(vnet, rx_mrg_frame_needing_more_than_64_buffers_is_delivered_whole)
{
        uint32_t len = frame(big, &plain_hdr, 12, 6500, 12);
        unsigned int need = (len + 99) / 100;
        struct chain c[70];

        cr_assert_eq(need, 66);
        attach("tap=t0");
        driver_up(WANT);
        for (unsigned int i = 0; i < 70; i++)
                c[i] = post_rx(0, 100);
        kick(0);
        tap_send(0, big, len);
        wait_used(0, need);
        cr_assert_eq(pending_used(0), need, "the frame's buffers and no more");
        for (unsigned int i = 0; i < need; i++) {
                uint32_t l = i + 1 < need ? 100 : len - 100 * i;

                used(0, c[i].head, l);
                if (i)
                        cr_assert_eq(memcmp(gptr(c[i].gpa, l), big + 100 * i, l), 0, "buffer %u",
                                     i);
        }
        cr_assert_eq(*(uint16_t *)gptr(c[0].gpa + NUMBUF_OFF, 2), need, "num_buffers");
        cr_assert_eq(memcmp((uint8_t *)gptr(c[0].gpa, 100) + 12, big + 12, 88), 0);
        cr_assert_eq(n.stats.rx_frames, 1);
        cr_assert_eq(n.stats.rx_dropped, 0);
        /* The next frame starts at the first buffer left. */
        len = frame(big, &plain_hdr, 12, 150, 13);
        tap_send(0, big, len);
        wait_used(0, 2);
        used(0, c[need].head, 100);
        used(0, c[need + 1].head, len - 100);
        cr_assert_eq(*(uint16_t *)gptr(c[need].gpa + NUMBUF_OFF, 2), 2);
        cr_assert_eq(n.stats.rx_frames, 2);
}

/* A frame that every buffer the queue can hold would not take is dropped, every buffer
 * returned with length 0, rather than waiting forever for buffers that cannot come. */
Test(vnet, rx_mrg_frame_needing_more_buffers_than_the_queue_holds_is_dropped)
{
        uint32_t len = frame(big, &plain_hdr, 12, QSZ * 16, 14); /* 12 bytes past QSZ * 16 */
        struct chain c[QSZ], a;

        attach("tap=t0");
        driver_up(WANT);
        for (unsigned int i = 0; i < QSZ; i++)
                c[i] = post_rx(0, 16);
        kick(0);
        tap_send(0, big, len);
        wait_used(0, QSZ);
        cr_assert_eq(pending_used(0), QSZ);
        for (unsigned int i = 0; i < QSZ; i++)
                used(0, c[i].head, 0);
        cr_assert_eq(n.stats.rx_dropped, 1);
        cr_assert_eq(n.stats.rx_frames, 0);
        cr_assert_eq(n.pair[0].pkt_len, 0, "the frame is gone, not waiting");
        /* The queue goes on: the driver's buffers came back and a new one takes the next frame. */
        a = post_rx(0, 2048);
        kick(0);
        len = frame(big, &plain_hdr, 12, 100, 15);
        tap_send(0, big, len);
        wait_used(0, 1);
        used(0, a.head, len);
        cr_assert_eq(memcmp((uint8_t *)gptr(a.gpa, len) + 12, big + 12, 100), 0);
        cr_assert_eq(n.stats.rx_frames, 1);
}

Test(vnet, rx_without_mrg_a_too_small_buffer_drops_the_frame)
{
        struct chain small, fine;
        uint8_t buf[2048];
        uint32_t len = frame(buf, &plain_hdr, 12, 1000, 3);

        attach("tap=t0");
        driver_up(WANT & ~MRG);
        small = post_rx(0, 500);
        fine = post_rx(0, 2048);
        kick(0);
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, small.head, 0);
        cr_assert_eq(n.stats.rx_dropped, 1);
        cr_assert_eq(n.stats.rx_frames, 0);
        len = frame(buf, &plain_hdr, 12, 100, 4);
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, fine.head, len);
        cr_assert_eq(memcmp((uint8_t *)gptr(fine.gpa, len) + 12, buf + 12, 100), 0);
        cr_assert_eq(n.stats.rx_frames, 1);
}

/* rx_deliver's drop path pushes back only the nbuf buffers counted so far, and the buffer that
 * failed the size check is not counted yet: it stays in flight, lost to the driver. */
Test(vnet, rx_a_buffer_too_small_for_the_header_is_never_returned)
{
        struct chain tiny, fine;
        uint8_t buf[256];
        uint32_t len = frame(buf, &plain_hdr, 12, 100, 3);

        attach("tap=t0");
        driver_up(WANT);
        tiny = post_rx(0, 8);
        fine = post_rx(0, 2048);
        kick(0);
        tap_send(0, buf, len);
        settle();
        cr_assert_eq(n.stats.rx_dropped, 1, "the frame is dropped and counted");
        cr_assert_eq(pending_used(0), 1, "the 8-byte buffer went back to the driver");
        tap_send(0, buf, len);
        wait_used(0, 2);
        used(0, tiny.head, 0);
        used(0, fine.head, len);
        cr_assert_eq(pending_used(0), 0);
}

/* The same with MRG_RXBUF in the middle of a frame: a chain with no writable byte ends the
 * frame, and only the buffers before it are pushed back. */
Test(vnet, rx_mrg_a_buffer_with_no_room_mid_frame_is_never_returned)
{
        struct chain first, ro, fine;
        uint32_t len = frame(big, &plain_hdr, 12, 1500, 4);

        attach("tap=t0");
        driver_up(WANT);
        first = post_rx(0, 1000);
        ro = post(0, NULL, 1000, 0, false); /* device-readable only: no room at all */
        fine = post_rx(0, 4096);
        kick(0);
        tap_send(0, big, len);
        settle();
        cr_assert_eq(n.stats.rx_dropped, 1);
        cr_expect_eq(pending_used(0), 2, "both buffers of the dropped frame went back");
        used(0, first.head, 0);
        if (pending_used(0))
                used(0, ro.head, 0);
        tap_send(0, big, len);
        wait_used(0, 1);
        used(0, fine.head, len);
}

Test(vnet, rx_no_buffers_stops_the_tap_until_buffers_come)
{
        uint8_t fa[256], fb[256];
        uint32_t la = frame(fa, &plain_hdr, 12, 100, 0x10);
        uint32_t lb = frame(fb, &plain_hdr, 12, 200, 0x20);
        struct chain a, b;

        attach("tap=t0");
        driver_up(WANT);
        tap_send(0, fa, la);
        settle();
        cr_assert_not(n.pair[0].tap_watched, "no buffers: the tap is not watched");
        cr_assert_eq(n.pair[0].pkt_len, la, "the frame waits");
        tap_send(0, fb, lb);
        cr_assert_eq(vph_poll(&h, 50), 0, "nothing wakes the loop meanwhile");
        cr_assert_eq(n.stats.rx_dropped, 0);

        a = post_rx(0, 2048);
        kick(0);
        wait_used(0, 1);
        used(0, a.head, la);
        cr_assert_eq(memcmp((uint8_t *)gptr(a.gpa, la) + 12, fa + 12, la - 12), 0);
        settle();
        cr_assert_not(n.pair[0].tap_watched, "the second frame waits in turn");
        cr_assert_eq(n.pair[0].pkt_len, lb);

        b = post_rx(0, 2048);
        kick(0);
        wait_used(0, 1);
        used(0, b.head, lb);
        cr_assert_eq(memcmp((uint8_t *)gptr(b.gpa, lb) + 12, fb + 12, lb - 12), 0);
        cr_assert(n.pair[0].tap_watched, "the tap is drained: watched again");
        cr_assert_eq(n.stats.rx_frames, 2);
        cr_assert_eq(n.stats.rx_dropped, 0);
}

Test(vnet, reset_drops_the_pending_frame_and_stops_watching)
{
        uint8_t fa[256], fc[256];
        uint32_t la = frame(fa, &plain_hdr, 12, 100, 0x30);
        uint32_t lc = frame(fc, &plain_hdr, 12, 150, 0x40);
        struct chain c;

        attach("tap=t0");
        driver_up(WANT);
        tap_send(0, fa, la);
        settle();
        cr_assert_eq(n.pair[0].pkt_len, la);
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(n.pair[0].pkt_len, 0, "the pending frame is gone");
        cr_assert_not(n.pair[0].tap_watched);
        tap_send(0, fc, lc);
        cr_assert_eq(vph_poll(&h, 50), 0, "a reset device does not read the tap");

        driver_up(WANT);
        cr_assert(n.pair[0].tap_watched || n.pair[0].pkt_len == lc);
        c = post_rx(0, 2048);
        kick(0);
        wait_used(0, 1);
        used(0, c.head, lc);
        cr_assert_eq(memcmp((uint8_t *)gptr(c.gpa, lc) + 12, fc + 12, lc - 12), 0,
                     "not the dropped frame");
        cr_assert_eq(n.stats.rx_frames, 1);
}

/* --- EVENT_IDX: kicks as a Linux driver sends them -----------------------------------------------
 */

/* Publishes what was added since avail index old and kicks only if avail_event asks for it
 * (virtqueue_kick_prepare_split). Returns whether it kicked. */
static bool kick_if_asked(unsigned int q, uint16_t old)
{
        uint16_t nw = drv[q].avail_idx, ev;

        vd_publish(&drv[q]);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        ev = vd_avail_event(&drv[q]);
        if ((uint16_t)(nw - ev - 1) >= (uint16_t)(nw - old))
                return false;
        vph_modern_notify(&f, (uint16_t)q, noff[q]);
        return true;
}

Test(vnet, event_idx_no_buffers_back_pressure_asks_for_the_kick)
{
        uint8_t buf[256];
        uint32_t len = frame(buf, &plain_hdr, 12, 100, 0x70);
        struct chain a;
        uint16_t old;

        attach("tap=t0");
        driver_up(~0ull);
        cr_assert(n.dev.features & F(VIRTIO_RING_F_EVENT_IDX));
        tap_send(0, buf, len);
        settle();
        cr_assert_not(n.pair[0].tap_watched);
        old = drv[0].avail_idx;
        a = post_rx(0, 2048);
        cr_assert(kick_if_asked(0, old), "the device asked for a kick");
        wait_used(0, 1);
        used(0, a.head, len);
}

/*
 * MRG_RXBUF + EVENT_IDX: out of buffers in the middle of a frame, rx_deliver rewinds
 * last_avail over the buffers it took, and virtq_enable_kicks sets avail_event to that rewound
 * index, behind the avail index the driver already published. The driver's next additions
 * never cross avail_event, so it never kicks: the frame waits forever and the tap stays
 * unwatched (RX is dead).
 */
Test(vnet, event_idx_mrg_out_of_buffers_mid_frame_never_asks_for_a_kick)
{
        uint32_t len = frame(big, &plain_hdr, 12, 2500, 0x71);
        struct chain a;
        uint16_t old;
        bool kicked;

        attach("tap=t0");
        driver_up(~0ull);
        a = post_rx(0, 1000);
        kick(0);
        tap_send(0, big, len);
        settle();
        cr_assert_eq(n.pair[0].pkt_len, len, "the frame waits for buffers");
        cr_assert_not(n.pair[0].tap_watched);
        old = drv[0].avail_idx;
        post_rx(0, 1000);
        post_rx(0, 1000);
        kicked = kick_if_asked(0, old);
        settle();
        cr_expect(kicked, "avail_event %u, avail idx %u: no kick asked for",
                  vd_avail_event(&drv[0]), drv[0].avail_idx);
        cr_assert_eq(pending_used(0), 3, "the frame was delivered");
        used(0, a.head, 1000);
}
