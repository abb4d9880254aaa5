/* Unit tests for devices/virtio_net.c: the control queue, several pairs, what the tap is told. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_tun.h>

#include "virtio_net_fixture.h"

TestSuite(vnet, .init = setup, .fini = teardown);

/* --- the control queue ------------------------------------------------------------------------ */

/* class, cmd, data (readable), then ack_len writable bytes; returns the used length. */
static uint32_t ctrl(uint8_t class, uint8_t cmd, const void *data, uint32_t dlen, uint32_t ack_len,
                     uint8_t *ack)
{
        unsigned int q = cq;
        uint64_t out = galloc(2 + dlen, 16), in = galloc(ack_len ? ack_len : 1, 16);
        struct vd_buf bufs[2] = {{out, 2 + dlen, false}, {in, ack_len, true}};
        uint8_t *o = gptr(out, 2 + dlen);
        uint32_t id, len;
        uint16_t head;

        o[0] = class;
        o[1] = cmd;
        if (dlen)
                memcpy(o + 2, data, dlen);
        memset(gptr(in, ack_len ? ack_len : 1), ACK_UNSET, ack_len ? ack_len : 1);
        head = vd_add_chain(&drv[q], next_desc[q], bufs, ack_len ? 2 : 1);
        next_desc[q] = (uint16_t)((next_desc[q] + (ack_len ? 2 : 1)) % QSZ);
        kick(q);
        wait_used(q, 1);
        cr_assert(vd_get_used(&drv[q], &id, &len));
        cr_assert_eq(id, head);
        if (ack)
                memcpy(ack, gptr(in, ack_len ? ack_len : 1), ack_len ? ack_len : 1);
        return len;
}

static uint8_t ctrl_ack(uint8_t class, uint8_t cmd, const void *data, uint32_t dlen)
{
        uint8_t ack;

        cr_assert_eq(ctrl(class, cmd, data, dlen, 1, &ack), 1);
        return ack;
}

Test(vnet, control_rx_and_mac_classes_are_acked_ok)
{
        uint8_t on = 1, tables[8] = {0}, mac[6] = {2, 0, 0, 0, 0, 9}, ack[4];

        attach("tap=t0");
        driver_up(WANT);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
                     VIRTIO_NET_OK);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
                     VIRTIO_NET_OK);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, 8),
                     VIRTIO_NET_OK);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
                     VIRTIO_NET_OK);
        /* The ack is the last writable byte; the bytes before it are left alone. */
        cr_assert_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1, 4, ack), 4);
        cr_assert_eq(ack[3], VIRTIO_NET_OK);
        cr_assert_eq(ack[0], ACK_UNSET);
        cr_assert_eq(ack[1], ACK_UNSET);
        cr_assert_eq(ack[2], ACK_UNSET);
}

Test(vnet, control_unknown_class_or_short_command_is_refused)
{
        uint8_t data[8] = {0};

        attach("tap=t0");
        driver_up(WANT);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, data, 2),
                     VIRTIO_NET_ERR);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0),
                     VIRTIO_NET_ERR);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, data, 8), VIRTIO_NET_ERR);
        cr_assert_eq(ctrl_ack(0x77, 0, NULL, 0), VIRTIO_NET_ERR);
        cr_assert_eq(ctrl_ack(0xff, 0xff, data, 8), VIRTIO_NET_ERR);
        /* No writable byte for the ack: returned with length 0, the queue goes on. */
        cr_assert_eq(ctrl(VIRTIO_NET_CTRL_RX, 0, data, 1, 0, NULL), 0);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_RX, 0, data, 1), VIRTIO_NET_OK);
}

Test(vnet, control_mq_pairs_set_in_and_out_of_range)
{
        uint16_t pairs;

        attach("tap=t0,queues=4");
        driver_up(WANT);
        cr_assert(n.dev.features & F(VIRTIO_NET_F_MQ));
        cr_assert_eq(cq, 8, "the control queue follows 4 pairs");
        cr_assert_eq(n.active_pairs, 1, "one pair until the driver asks");
        pairs = 2;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_OK);
        cr_assert_eq(n.active_pairs, 2);
        pairs = 4;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_OK);
        cr_assert_eq(n.active_pairs, 4);
        pairs = 0;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_ERR);
        pairs = 5;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_ERR);
        pairs = 0xffff;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_ERR);
        cr_assert_eq(n.active_pairs, 4, "refused commands change nothing");
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 1),
                     VIRTIO_NET_ERR, "the pair count cut short");
        pairs = 2;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, &pairs, 2),
                     VIRTIO_NET_ERR, "another MQ command");
        pairs = 1;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_OK);
        cr_assert_eq(n.active_pairs, 1);
}

/* virtio 1.1, 5.1.2: without VIRTIO_NET_F_MQ the control queue is queue 2, whatever
 * max_virtqueue_pairs says. The device keeps it at 2 * queues, so it takes queue 2 for pair
 * 1's receive queue and the driver's command is never answered (Linux's virtnet_send_command
 * spins on it forever). */
Test(vnet, without_mq_the_control_queue_is_queue_2)
{
        uint64_t cmd = galloc(3, 16), ack = galloc(1, 16);

        attach("tap=t0,queues=2");
        driver_up_n(WANT & ~F(VIRTIO_NET_F_MQ), 3);
        cr_assert_not(n.dev.features & F(VIRTIO_NET_F_MQ));
        cr_assert(n.dev.features & F(VIRTIO_NET_F_CTRL_VQ));
        cr_assert_eq(cq, 2);
        memcpy(gptr(cmd, 3), (uint8_t[]){VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1}, 3);
        *(uint8_t *)gptr(ack, 1) = ACK_UNSET;
        vd_add_chain(&drv[2], 0, (struct vd_buf[]){{cmd, 3, false}, {ack, 1, true}}, 2);
        kick(2);
        settle();
        cr_expect_eq(pending_used(2), 1, "the command was answered");
        cr_assert_eq(*(uint8_t *)gptr(ack, 1), VIRTIO_NET_OK);
}

/* --- several pairs ---------------------------------------------------------------------------- */

Test(vnet, each_pair_has_its_own_tap)
{
        uint8_t buf[256], early[256];
        uint32_t len = frame(buf, &plain_hdr, 12, 90, 0x50);
        uint32_t elen = frame(early, &plain_hdr, 12, 70, 0x51);
        uint16_t pairs = 2;
        struct chain r0, r1, r1b, t;

        attach("tap=t0,queues=2");
        driver_up(WANT);
        cr_assert_eq(nq, 5);
        r0 = post_rx(0, 2048);
        r1 = post_rx(2, 2048);
        r1b = post_rx(2, 2048);
        kick(0);
        kick(2);
        settle();
        /* Before VQ_PAIRS_SET only pair 0 takes frames: pair 1's tap is detached and not read
         * (a real tap would not even queue this frame there). */
        cr_assert_eq(last_ioctl(n.pair[1].tap_fd, TUNSETQUEUE), IFF_DETACH_QUEUE);
        tap_send(1, early, elen);
        settle();
        cr_assert_eq(pending_used(2), 0, "pair 1's RX got nothing before VQ_PAIRS_SET");
        cr_assert_not(n.pair[1].tap_watched);
        cr_assert_eq(n.pair[1].pkt_len, 0);
        cr_assert_eq(recv(n.pair[1].tap_fd, got, sizeof(got), MSG_PEEK | MSG_DONTWAIT),
                     (ssize_t)elen, "the frame is still in pair 1's tap, unread");

        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_OK);
        cr_assert(n.pair[1].tap_watched, "attached: read");
        wait_used(2, 1);
        used(2, r1.head, elen);
        cr_assert_eq(memcmp((uint8_t *)gptr(r1.gpa, elen) + 12, early + 12, elen - 12), 0,
                     "the frame that waited in pair 1's tap");
        t = post(3, buf, len, 0, false);
        kick(3);
        wait_used(3, 1);
        used(3, t.head, 0);
        cr_assert_eq(tap_recv(1, got, sizeof(got)), (ssize_t)len, "pair 1's TX goes to tap 1");
        cr_assert_eq(memcmp(got, buf, len), 0);
        tap_empty(0);
        tap_send(1, buf, len);
        wait_used(2, 1);
        used(2, r1b.head, len);
        cr_assert_eq(memcmp((uint8_t *)gptr(r1b.gpa, len) + 12, buf + 12, len - 12), 0);
        cr_assert_eq(pending_used(0), 0, "pair 0's RX got nothing");
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, r0.head, len);
        cr_assert_eq(pending_used(2), 0, "pair 1's RX got nothing more");
        cr_assert_eq(n.stats.rx_frames, 3);
}

/* --- what the tap is told ------------------------------------------------------------------- */

Test(vnet, activation_sets_the_tap_header_size_and_offloads_reset_clears_them)
{
        int fd;

        attach("tap=t0");
        fd = n.pair[0].tap_fd;
        driver_up(WANT);
        cr_assert_eq(last_ioctl(fd, TUNSETVNETHDRSZ), 12);
        cr_assert_eq(last_ioctl(fd, TUNSETOFFLOAD), TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(last_ioctl(fd, TUNSETOFFLOAD), 0, "reset: no offloads");
        driver_up(WANT & ~F(VIRTIO_NET_F_GUEST_CSUM));
        cr_assert_eq(last_ioctl(fd, TUNSETOFFLOAD), 0, "no TSO without GUEST_CSUM");
        cr_assert_eq(vph_modern_reset(&f), 0);
        driver_up(WANT & ~F(VIRTIO_NET_F_GUEST_TSO6));
        cr_assert_eq(last_ioctl(fd, TUNSETOFFLOAD), TUN_F_CSUM | TUN_F_TSO4);
}

Test(vnet, every_pair_tap_is_told_and_mq_pairs_set_attaches_and_detaches)
{
        uint16_t pairs = 2;
        uint8_t ack;

        attach("tap=t0,queues=4");
        driver_up(WANT);
        /* Activation: every tap gets the header size; pair 0 (attached as opened) is read,
         * the others are detached and not read until VQ_PAIRS_SET (5.1.6.5.5). */
        for (unsigned int i = 0; i < 4; i++) {
                int fd = n.pair[i].tap_fd;

                cr_assert_eq(last_ioctl(fd, TUNSETVNETHDRSZ), 12, "pair %u", i);
                cr_assert_eq(n.pair[i].tap_watched, i == 0, "pair %u", i);
                cr_assert_eq(n.pair[i].attached, i == 0, "pair %u", i);
                cr_assert_eq(count_ioctls(fd, TUNSETQUEUE), i == 0 ? 0 : 1, "pair %u", i);
                if (i)
                        cr_assert_eq(last_ioctl(fd, TUNSETQUEUE), IFF_DETACH_QUEUE, "pair %u", i);
        }
        cr_assert_eq(n.active_pairs, 1);

        cr_assert_eq(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2, 1, &ack),
                     1);
        cr_assert_eq(ack, VIRTIO_NET_OK);
        cr_assert_eq(n.active_pairs, 2);
        /* Only pair 1 changes: attached and read; 2 and 3 stay detached, told nothing new. */
        for (unsigned int i = 0; i < 4; i++) {
                int fd = n.pair[i].tap_fd;

                cr_assert_eq(n.pair[i].tap_watched, i < 2, "pair %u", i);
                cr_assert_eq(n.pair[i].attached, i < 2, "pair %u", i);
                cr_assert_eq(count_ioctls(fd, TUNSETQUEUE),
                             i == 1   ? 2
                             : i == 0 ? 0
                                      : 1,
                             "pair %u", i);
                if (i)
                        cr_assert_eq(last_ioctl(fd, TUNSETQUEUE),
                                     i < 2 ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE, "pair %u", i);
        }

        pairs = 1;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_OK);
        cr_assert_eq(last_ioctl(n.pair[1].tap_fd, TUNSETQUEUE), IFF_DETACH_QUEUE,
                     "back to one pair: pair 1 detached");
        cr_assert_not(n.pair[1].tap_watched);
        cr_assert(n.pair[0].tap_watched);
        cr_assert_eq(count_ioctls(n.pair[0].tap_fd, TUNSETQUEUE), 0, "pair 0 is never detached");

        pairs = 4;
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_OK);
        for (unsigned int i = 1; i < 4; i++) {
                cr_assert_eq(last_ioctl(n.pair[i].tap_fd, TUNSETQUEUE), IFF_ATTACH_QUEUE, "pair %u",
                             i);
                cr_assert(n.pair[i].tap_watched, "pair %u", i);
        }
}

/* Without VIRTIO_NET_F_MQ the driver cannot change the pairs: VQ_PAIRS_SET is refused, the
 * taps are told nothing, and only pair 0 takes frames. */
Test(vnet, mq_pairs_set_without_mq_is_refused)
{
        uint16_t pairs = 2;

        attach("tap=t0,queues=2");
        driver_up_n(WANT & ~F(VIRTIO_NET_F_MQ), 3);
        cr_assert_not(n.dev.features & F(VIRTIO_NET_F_MQ));
        cr_assert_eq(last_ioctl(n.pair[1].tap_fd, TUNSETQUEUE), IFF_DETACH_QUEUE);
        cr_assert_eq(count_ioctls(n.pair[1].tap_fd, TUNSETQUEUE), 1);
        cr_assert_eq(ctrl_ack(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
                     VIRTIO_NET_ERR);
        cr_assert_eq(n.active_pairs, 1);
        cr_assert_eq(count_ioctls(n.pair[1].tap_fd, TUNSETQUEUE), 1, "pair 1 stays detached");
        cr_assert_eq(count_ioctls(n.pair[0].tap_fd, TUNSETQUEUE), 0);
        cr_assert_not(n.pair[1].tap_watched);
        cr_assert(n.pair[0].tap_watched);
}
