/* Unit tests for devices/virtio_net.c: TX, from the driver's chains to the tap. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio_net_fixture.h"

TestSuite(vnet, .init = setup, .fini = teardown);

/* --- TX ------------------------------------------------------------------------------------- */

Test(vnet, tx_writes_exactly_header_and_frame_to_the_tap)
{
        static const uint32_t layout[][2] = {{0, 0}, {12, 0}, {5, 20}, {100, 100}, {612, 0}};
        struct virtio_net_hdr_mrg_rxbuf hdr = {
            .hdr = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16}};
        uint8_t buf[2048];

        attach("tap=t0");
        driver_up(WANT);
        for (unsigned int i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
                uint32_t len = frame(buf, &hdr, 12, 600 + i, (uint8_t)i);
                struct chain c = post_split(1, buf, len, layout[i][0], layout[i][1], false);

                kick(1);
                wait_used(1, 1);
                used(1, c.head, 0);
                cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len, "layout %u", i);
                cr_assert_eq(memcmp(got, buf, len), 0, "layout %u", i);
                tap_empty(0);
        }
        cr_assert_eq(n.stats.tx_frames, sizeof(layout) / sizeof(layout[0]));
        cr_assert_eq(n.stats.tx_dropped, 0);
        cr_assert_gt(n.vp.msix.fired[2], 0, "queue 1's vector");
}

Test(vnet, tx_through_an_indirect_table)
{
        uint8_t buf[256];
        uint32_t len = frame(buf, &plain_hdr, 12, 200, 9);
        uint64_t gpa = galloc(len, 16);
        struct vd_buf bufs[] = {{gpa, 12, false}, {gpa + 12, 100, false}, {gpa + 112, 100, false}};
        uint16_t head;

        attach("tap=t0");
        driver_up(WANT);
        memcpy(gptr(gpa, len), buf, len);
        head = vd_add_indirect(&drv[1], 0, galloc(16 * 3, 16), bufs, 3);
        kick(1);
        wait_used(1, 1);
        used(1, head, 0);
        cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len);
        cr_assert_eq(memcmp(got, buf, len), 0);
}

/* The header is read once: a guest rewriting it while the device sends the frame (here, at
 * the moment of the writev to the tap) changes nothing the tap sees. */
Test(vnet, tx_tap_gets_the_header_the_device_checked)
{
        struct virtio_net_hdr_mrg_rxbuf hdr = {.hdr = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                                       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                                       .hdr_len = 54,
                                                       .gso_size = 1448,
                                                       .csum_start = 34,
                                                       .csum_offset = 16}};
        uint32_t len = frame(big, &hdr, 12, 4000, 3);
        struct chain c;

        attach("tap=t0");
        driver_up(WANT);
        c = post_split(1, big, len, 12, 0, false); /* the header in a descriptor of its own */
        kick(1);
        scribble = gptr(c.gpa, 12);
        scribble_len = 12;
        wait_used(1, 1);
        cr_assert_null(scribble, "the device wrote to the tap");
        cr_assert_eq(((uint8_t *)gptr(c.gpa, 1))[0], 0xff, "the guest did rewrite it");
        used(1, c.head, 0);
        cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len);
        cr_assert_eq(memcmp(got, &hdr, 12), 0, "the tap got the header as checked");
        cr_assert_eq(memcmp(got + 12, big + 12, len - 12), 0);
        cr_assert_eq(n.stats.tx_frames, 1);
}

Test(vnet, tx_bad_headers_are_dropped_counted_and_returned)
{
        static const struct virtio_net_hdr bad[] = {
            {.flags = 0x04}, /* unknown */
            {.flags = 0x80}, /* unknown */
            {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 90, .csum_offset = 9}, /* past */
            {.gso_type = VIRTIO_NET_HDR_GSO_ECN}, /* ECN, no GSO */
            {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
             .gso_type = VIRTIO_NET_HDR_GSO_UDP,
             .hdr_len = 42,
             .gso_size = 8,
             .csum_start = 34,
             .csum_offset = 6},                                                   /* UFO */
            {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54, .gso_size = 8}, /* no csum */
            {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
             .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
             .hdr_len = 54,
             .csum_start = 34,
             .csum_offset = 16}, /* gso_size 0 */
            {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
             .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
             .hdr_len = 101,
             .gso_size = 8,
             .csum_start = 54,
             .csum_offset = 16}, /* hdr_len past the frame */
            {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
             .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
             .hdr_len = 54,
             .gso_size = 8,
             .csum_start = 34,
             .csum_offset = 16}, /* ECN without HOST_ECN */
        };
        enum { NBAD = sizeof(bad) / sizeof(bad[0]) };
        struct chain c[NBAD + 1];
        uint8_t buf[256];
        uint32_t len;

        attach("tap=t0");
        driver_up(WANT);
        for (unsigned int i = 0; i < NBAD; i++) {
                struct virtio_net_hdr_mrg_rxbuf hdr = {.hdr = bad[i]};

                len = frame(buf, &hdr, 12, 100, (uint8_t)i);
                c[i] = post(1, buf, len, 0, false);
        }
        len = frame(buf, &plain_hdr, 12, 100, 0x55);
        c[NBAD] = post(1, buf, len, 0, false);
        kick(1);
        wait_used(1, NBAD + 1);
        for (unsigned int i = 0; i <= NBAD; i++)
                used(1, c[i].head, 0);
        cr_assert_eq(n.stats.tx_dropped, NBAD);
        cr_assert_eq(n.stats.tx_frames, 1);
        cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len, "only the good frame");
        cr_assert_eq(memcmp(got, buf, len), 0);
        tap_empty(0);
}

Test(vnet, tx_offloads_not_negotiated_are_dropped)
{
        struct virtio_net_hdr_mrg_rxbuf csum = {
            .hdr = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16}};
        struct virtio_net_hdr_mrg_rxbuf tso = {.hdr = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                                       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                                       .hdr_len = 54,
                                                       .gso_size = 1448,
                                                       .csum_start = 34,
                                                       .csum_offset = 16}};
        uint8_t buf[256];
        struct chain a, b;

        attach("tap=t0");
        driver_up(WANT & ~F(VIRTIO_NET_F_CSUM) & ~F(VIRTIO_NET_F_HOST_TSO4) &
                  ~F(VIRTIO_NET_F_HOST_TSO6));
        a = post(1, buf, frame(buf, &csum, 12, 100, 1), 0, false);
        b = post(1, buf, frame(buf, &tso, 12, 100, 2), 0, false);
        kick(1);
        wait_used(1, 2);
        used(1, a.head, 0);
        used(1, b.head, 0);
        cr_assert_eq(n.stats.tx_dropped, 2);
        tap_empty(0);
}

Test(vnet, tx_short_header_empty_and_oversized_frames_are_dropped)
{
        uint8_t buf[64];
        struct vd_buf segs[MAX_SEGS + 1];
        struct chain shorty, empty, over, many, max;
        uint32_t len;

        attach("tap=t0");
        driver_up(WANT);
        memset(buf, 0, sizeof(buf));
        shorty = post(1, buf, 10, 0, false); /* a legacy header: shorter than negotiated */
        empty = post(1, buf, 12, 0, false);  /* a header and no frame */
        over = post(1, NULL, 12 + NET_MAX_FRAME + 1, 0, false); /* past the queue's max_len */
        memset(gptr(over.gpa, 12), 0, 12);
        /* One segment more than the queue takes: a header, then 64 pieces of 10 bytes. */
        many.len = 12 + MAX_SEGS * 10;
        many.gpa = galloc(many.len, 16);
        memset(gptr(many.gpa, many.len), 0, many.len);
        segs[0] = (struct vd_buf){many.gpa, 12, false};
        for (unsigned int i = 1; i <= MAX_SEGS; i++)
                segs[i] = (struct vd_buf){many.gpa + 12 + (i - 1) * 10, 10, false};
        many.head = vd_add_chain(&drv[1], next_desc[1], segs, MAX_SEGS + 1);
        next_desc[1] = (uint16_t)((next_desc[1] + MAX_SEGS + 1) % QSZ);
        len = frame(big, &plain_hdr, 12, NET_MAX_FRAME, 4);
        max = post(1, big, len, 0, false);
        kick(1);
        wait_used(1, 5);
        used(1, shorty.head, 0);
        used(1, empty.head, 0);
        used(1, over.head, 0);
        used(1, many.head, 0);
        used(1, max.head, 0);
        cr_assert_eq(n.dev.vq[1].stats.rejected, 2, "the queue refused the long and the many");
        cr_assert_eq(n.stats.tx_dropped, 4,
                     "every bad frame counts as dropped, refused by the queue or not "
                     "(dropped %lu, rejected %lu)",
                     n.stats.tx_dropped, n.dev.vq[1].stats.rejected);
        cr_assert_eq(n.stats.tx_frames, 1, "the largest frame goes through");
        cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len);
        cr_assert_eq(memcmp(got, big, len), 0);
        tap_empty(0);
}

/* A tap that cannot take more (EAGAIN) costs the frame, not the device. */
Test(vnet, tx_to_a_full_tap_drops_and_recovers)
{
        int sz = 4096;
        uint8_t buf[2048];
        uint32_t len = frame(buf, &plain_hdr, 12, 1500, 6);
        unsigned int sent = 0;

        attach("tap=t0");
        driver_up(WANT);
        cr_assert_eq(setsockopt(n.pair[0].tap_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
        for (unsigned int i = 0; i < 64; i++)
                post(1, buf, len, 0, false);
        kick(1);
        wait_used(1, 64);
        cr_assert_gt(n.stats.tx_dropped, 0, "the socket filled up");
        cr_assert_eq(n.stats.tx_frames + n.stats.tx_dropped, 64);
        cr_assert_eq(n.stats.tap_errors, n.stats.tx_dropped);
        cr_assert_not(n.pair[0].tap_dead, "EAGAIN is not a dead tap");
        while (tap_recv(0, got, sizeof(got)) == (ssize_t)len)
                sent++;
        cr_assert_eq(sent, n.stats.tx_frames);
        drv[1].last_used += 64;
        post(1, buf, len, 0, false);
        kick(1);
        wait_used(1, 1);
        cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len, "works again once drained");
}

/*
 * A driver that keeps the TX ring full must not keep the I/O thread to itself: the device
 * sends one batch per turn and re-raises its own kick for the rest, so the other fds
 * (RX, other devices) get served in between, and nothing is lost.
 */
Test(vnet, tx_yields_after_a_batch_and_comes_back_for_the_rest)
{
        uint8_t buf[128];
        unsigned int total = 200;

        attach("tap=t0");
        driver_up(WANT);
        for (unsigned int i = 0; i < total; i++) {
                uint32_t len = frame(buf, &plain_hdr, 12, 60, (uint8_t)i);

                post_split(1, buf, len, 0, 0, false);
        }
        kick(1);
        cr_assert_eq(vph_poll(&h, 1000), 1, "the kick");
        cr_assert_eq(pending_used(1), 128, "one turn sends one batch: %u", pending_used(1));
        wait_used(1, total);
        cr_assert_eq(n.stats.tx_frames, total);
        for (unsigned int i = 0; i < total; i++) {
                uint32_t len = frame(buf, &plain_hdr, 12, 60, (uint8_t)i);

                cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len, "frame %u", i);
                cr_assert_eq(memcmp(got, buf, len), 0, "frame %u, in order", i);
        }
        tap_empty(0);
}

/*
 * A tap deleted while running polls EPOLLERR (a socketpair whose peer is gone: EPOLLHUP),
 * which epoll reports whatever the mask: the device must drop the tap from the loop, or
 * the loop spins on it forever. Frames sent afterwards are dropped and counted.
 */
Test(vnet, a_vanished_tap_leaves_the_event_loop)
{
        uint8_t buf[2048];
        uint32_t len = frame(buf, &plain_hdr, 12, 100, 1);

        attach("tap=t0");
        driver_up(WANT);
        close(peer[0]);
        peer[0] = -1;
        cr_assert_geq(vph_poll(&h, 100), 1, "the hang-up is reported");
        cr_assert(n.pair[0].tap_dead);
        cr_assert_eq(vph_poll(&h, 50), 0, "and then nothing: the tap is out of the loop");
        post(1, buf, len, 0, false);
        kick(1);
        wait_used(1, 1);
        cr_assert_eq(n.stats.tx_dropped, 1);
        cr_assert_eq(n.stats.tx_frames, 0);
        cr_assert_eq(vph_poll(&h, 50), 0, "still nothing");
}
