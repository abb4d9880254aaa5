/* Unit tests for devices/virtio_console.c: named ports on their sockets. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio_console_fixture.h"

TestSuite(vcon, .init = setup, .fini = teardown);

/* --- named ports
 * ------------------------------------------------------------------------------------ */

Test(vcon, named_port_bytes_go_both_ways)
{
        uint8_t got[64];
        uint16_t head;

        multiport_up(WANT);
        connect_client(1);
        connect_client(2);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        expect_ctrl(2, VIRTIO_CONSOLE_PORT_OPEN, 1);
        post_rx(RXQ(1), 4, 256);
        post_rx(RXQ(2), 4, 256);

        client_send(1, "ping", 4);
        settle();
        cr_assert_eq(gather(RXQ(1), got, sizeof(got)), 4);
        cr_assert_eq(memcmp(got, "ping", 4), 0);
        cr_assert_eq(pending_used(RXQ(2)), 0, "port 2 got port 1's bytes");

        head = post(TXQ(1), "pong", 4, false);
        kick(TXQ(1));
        wait_used(TXQ(1), 1);
        used(TXQ(1), head, 0);
        settle();
        cr_assert_eq(client_recv(1, got, sizeof(got)), 4);
        cr_assert_eq(memcmp(got, "pong", 4), 0);
        cr_assert_eq(client_recv(2, got, sizeof(got)), 0, "port 2's client got port 1's bytes");
        out_empty();

        client_send(2, "second", 6);
        settle();
        cr_assert_eq(gather(RXQ(2), got, sizeof(got)), 6);
        cr_assert_eq(memcmp(got, "second", 6), 0);
}

Test(vcon, named_port_output_without_a_client_is_dropped_and_counted)
{
        uint16_t head;

        multiport_up(WANT);
        head = post(TXQ(1), "lost", 4, false);
        kick(TXQ(1));
        wait_used(TXQ(1), 1);
        used(TXQ(1), head, 0);
        cr_assert_eq(con.dropped, 4);
        out_empty();
}

Test(vcon, named_port_without_rx_buffers_stops_reading_the_socket_then_resumes)
{
        enum { BUFS = VCON_PENDING / 4096 + 2 };
        static uint8_t sent[VCON_PENDING + 5904], got[BUFS * 4096];

        multiport_up(WANT);
        connect_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        fill(sent, sizeof(sent), 9);
        client_send(1, sent, sizeof(sent));
        settle();
        cr_assert_eq(con.port[1].in_len, VCON_PENDING);
        cr_assert_not(con.port[1].conn_watched, "back-pressure: the socket is not watched");
        cr_assert_eq(unread(1), (int)(sizeof(sent) - VCON_PENDING), "the rest stays in the socket");
        settle();
        cr_assert_eq(unread(1), (int)(sizeof(sent) - VCON_PENDING), "still not read");

        post_rx(RXQ(1), BUFS, 4096);
        kick(RXQ(1));
        settle();
        cr_assert_eq(gather(RXQ(1), got, sizeof(got)), sizeof(sent));
        cr_assert_eq(memcmp(got, sent, sizeof(sent)), 0, "every byte, in order");
        cr_assert_eq(con.port[1].in_len, 0);
        cr_assert(con.port[1].conn_watched);
}

/*
 * A named port's socket bytes wait until the driver opens the port (Linux would discard them):
 * buffers posted and kicked deliver nothing, the socket stops being read when the port's
 * buffer is full, and PORT_OPEN(1, 1) delivers what waited and reads the rest.
 */
Test(vcon, named_port_bytes_wait_for_port_open_then_the_socket_is_read_again)
{
        enum { BUFS = VCON_PENDING / 4096 + 2 };
        static uint8_t sent[VCON_PENDING + 1000], got[BUFS * 4096];

        multiport_ready(WANT);
        connect_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        post_rx(RXQ(1), BUFS, 4096);
        kick(RXQ(1));
        fill(sent, sizeof(sent), 13);
        client_send(1, sent, sizeof(sent));
        settle();
        cr_assert_eq(pending_used(RXQ(1)), 0, "delivered to a port the driver has not opened");
        cr_assert_eq(con.port[1].in_len, VCON_PENDING);
        cr_assert_not(con.port[1].conn_watched, "back-pressure: the socket is not watched");
        cr_assert_eq(unread(1), (int)(sizeof(sent) - VCON_PENDING), "the rest stays in the socket");
        kick(RXQ(1)); /* more RX kicks do not deliver either */
        settle();
        cr_assert_eq(pending_used(RXQ(1)), 0);
        cr_assert_eq(unread(1), (int)(sizeof(sent) - VCON_PENDING));

        ctrl_send(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        settle();
        cr_assert_eq(gather(RXQ(1), got, sizeof(got)), sizeof(sent));
        cr_assert_eq(memcmp(got, sent, sizeof(sent)), 0, "every byte, in order");
        cr_assert_eq(con.port[1].in_len, 0);
        cr_assert_eq(unread(1), 0);
        cr_assert(con.port[1].conn_watched);
        cr_assert_eq(con.dropped, 0);
        ctrl_none();
}

/* Port 2 stays closed while port 1 is opened: only port 1's bytes go. */
Test(vcon, opening_one_named_port_leaves_the_others_held)
{
        uint8_t got[64];

        multiport_ready(WANT);
        connect_client(1);
        connect_client(2);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        expect_ctrl(2, VIRTIO_CONSOLE_PORT_OPEN, 1);
        post_rx(RXQ(1), 2, 64);
        post_rx(RXQ(2), 2, 64);
        client_send(1, "one", 3);
        client_send(2, "two", 3);
        settle();
        ctrl_send(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        settle();
        cr_assert_eq(gather(RXQ(1), got, sizeof(got)), 3);
        cr_assert_eq(memcmp(got, "one", 3), 0);
        cr_assert_eq(pending_used(RXQ(2)), 0, "port 2 is not open");
        cr_assert_eq(con.port[2].in_len, 3);

        /* Closed by the driver again: port 1's new bytes are held. */
        ctrl_send(1, VIRTIO_CONSOLE_PORT_OPEN, 0);
        client_send(1, "more", 4);
        settle();
        cr_assert_eq(pending_used(RXQ(1)), 0, "delivered to a port the driver closed");
        cr_assert_eq(con.port[1].in_len, 4);
}

/*
 * With back-pressure on (VCON_PENDING pending, the socket unwatched), the client sends its last
 * bytes and closes. epoll reports EPOLLHUP whatever the mask, so the connection must leave the
 * epoll set (conn_parked) or the event thread spins until the guest posts RX buffers (which it
 * may never do). Expected: the loop goes quiet, and buffers bring every byte, then the close.
 */
Test(vcon, a_client_closing_under_back_pressure_does_not_spin_the_event_loop)
{
        enum { BUFS = VCON_PENDING / 4096 + 1 };
        static uint8_t sent[VCON_PENDING + 1904], got[BUFS * 4096];
        int busy = 0;

        multiport_up(WANT);
        connect_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        fill(sent, sizeof(sent), 5);
        client_send(1, sent, sizeof(sent));
        settle();
        cr_assert_eq(con.port[1].in_len, VCON_PENDING);
        close(client[1]);
        client[1] = -1;
        for (int i = 0; i < 50; i++)
                if (vph_poll(&h, 20) > 0)
                        busy++;
        cr_assert(con.port[1].conn_parked, "the hung-up connection left the epoll set");
        cr_assert_geq(con.port[1].conn_fd, 0, "not closed while bytes wait in the socket");
        ctrl_none();

        /* Buffers end it: every byte arrives, then the close is seen. */
        post_rx(RXQ(1), BUFS, 4096);
        kick(RXQ(1));
        settle();
        cr_assert_eq(gather(RXQ(1), got, sizeof(got)), sizeof(sent));
        cr_assert_eq(memcmp(got, sent, sizeof(sent)), 0);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 0);
        cr_assert_eq(con.port[1].conn_fd, -1);
        cr_assert_not(con.port[1].conn_parked);
        cr_assert_leq(busy, 1, "the event loop had work in %d of 50 rounds", busy);
}

/* A client that does not read: the device stops taking the port's TX chains, then resumes. */
static void slow_client_setup(unsigned int nchains, uint32_t chain_len, uint8_t *sent)
{
        int small = 4096;

        multiport_up(WANT);
        connect_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        cr_assert_eq(setsockopt(con.port[1].conn_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
                     0);
        fill(sent, (size_t)nchains * chain_len, 11);
        for (unsigned int i = 0; i < nchains; i++)
                post(TXQ(1), sent + (size_t)i * chain_len, chain_len, false);
        kick(TXQ(1));
        settle();
}

/* Reads what the client can get until nothing moves any more. Returns the bytes. */
static size_t slow_client_drain(uint8_t *got, size_t cap)
{
        size_t total = 0;

        for (int idle = 0; idle < 5;) {
                size_t n = client_recv(1, got + total, cap - total);

                total += n;
                idle = n ? 0 : idle + 1;
                settle();
        }
        return total;
}

/* More than VCON_PENDING plus what a 4 KiB socket buffer takes, in 3000-byte chains. */
enum { SLOW_LEN = 3000, SLOW_CHAINS = VCON_PENDING / SLOW_LEN + 10 };

Test(vcon, named_port_tx_waits_for_a_slow_client_and_resumes)
{
        static uint8_t sent[SLOW_CHAINS * SLOW_LEN], got[SLOW_CHAINS * SLOW_LEN + 64];
        unsigned int done;

        slow_client_setup(SLOW_CHAINS, SLOW_LEN, sent);
        done = pending_used(TXQ(1));
        cr_assert_lt(done, SLOW_CHAINS, "every chain taken although the client reads nothing");
        cr_assert_gt(done, 0);
        cr_assert_geq(con.port[1].out_len, 1, "output waits in the port");
        /* Whole chains only: the next one did not fit in what is left of the port's buffer. */
        cr_assert_gt(con.port[1].out_len + SLOW_LEN, VCON_PENDING, "%zu bytes wait, a chain fits",
                     con.port[1].out_len);
        cr_assert_eq(con.dropped, 0, "%lu bytes dropped", con.dropped);
        slow_client_drain(got, sizeof(got));
        cr_assert_eq(pending_used(TXQ(1)), SLOW_CHAINS,
                     "every chain returned after the client read");
        cr_assert_eq(con.port[1].out_len, 0);
}

/*
 * While earlier output still waits in p->out, a TX chain that does not fit in the rest of the
 * port's buffer stays in the ring (virtq_rewind) instead of being cut short and completed: a slow
 * client loses no byte the guest saw accepted.
 */
Test(vcon, named_port_tx_to_a_slow_client_loses_no_bytes)
{
        static uint8_t sent[SLOW_CHAINS * SLOW_LEN], got[SLOW_CHAINS * SLOW_LEN + 64];
        size_t total;

        slow_client_setup(SLOW_CHAINS, SLOW_LEN, sent);
        cr_assert_lt(pending_used(TXQ(1)), SLOW_CHAINS, "the client never pushed back");
        total = slow_client_drain(got, sizeof(got));
        cr_assert_eq(con.dropped, 0, "%lu bytes dropped", con.dropped);
        cr_assert_eq(total, sizeof(sent), "the client got %zu of %zu bytes", total, sizeof(sent));
        cr_assert_eq(memcmp(got, sent, sizeof(sent)), 0);
}
