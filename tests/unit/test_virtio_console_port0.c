/* Unit tests for devices/virtio_console.c: port 0, without MULTIPORT, resize and reset. */
#include <criterion/criterion.h>
#include <string.h>

#include <linux/virtio_pci.h>

#include "virtio_console_fixture.h"

TestSuite(vcon, .init = setup, .fini = teardown);

/* --- port 0
 * --------------------------------------------------------------------------------------- */

Test(vcon, port_0_tx_appears_on_the_pipe)
{
        static const char a[] = "hello, ", b[] = "console\n";
        char got[64];
        uint16_t h1, h2;

        multiport_up(WANT);
        h1 = post(TXQ(0), a, sizeof(a) - 1, false);
        h2 = post_seg(TXQ(0), b, sizeof(b) - 1, 3, false);
        kick(TXQ(0));
        wait_used(TXQ(0), 2);
        used(TXQ(0), h1, 0);
        used(TXQ(0), h2, 0);
        cr_assert_eq(out_read(got, sizeof(got)), strlen("hello, console\n"));
        cr_assert_eq(memcmp(got, "hello, console\n", strlen("hello, console\n")), 0);
}

Test(vcon, input_fills_port_0_rx_buffers)
{
        uint8_t in[100], got[200];
        uint16_t h1, h2, h3;

        multiport_up(WANT);
        fill(in, sizeof(in), 1);
        h1 = post(RXQ(0), NULL, 64, true);
        h2 = post(RXQ(0), NULL, 64, true);
        vd_publish(&drv[RXQ(0)]);
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"abc", 3), 3);
        used(RXQ(0), h1, 3);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(0)][h1], 3), "abc", 3), 0);

        /* 100 bytes, one 64-byte buffer: all taken, 36 wait for the next buffer. */
        cr_assert_eq(virtio_console_input(&con, in, sizeof(in)), sizeof(in));
        used(RXQ(0), h2, 64);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(0)][h2], 64), in, 64), 0);
        cr_assert_eq(con.port[0].in_len, 36);
        h3 = post(RXQ(0), NULL, 64, true);
        kick(RXQ(0));
        wait_used(RXQ(0), 1);
        used(RXQ(0), h3, 36);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(0)][h3], 36), in + 64, 36), 0);
        cr_assert_eq(room_calls, 1, "an RX kick offers the console room");
        cr_assert_eq(gather(RXQ(0), got, sizeof(got)), 0);
}

Test(vcon, input_without_buffers_stops_when_full_and_resumes_with_buffers)
{
        static uint8_t in[VCON_PENDING + 904], got[VCON_PENDING + 8192];
        const unsigned int bufs = VCON_PENDING / 4096 + 1;

        multiport_up(WANT);
        fill(in, sizeof(in), 3);
        cr_assert_eq(virtio_console_input(&con, in, sizeof(in)), VCON_PENDING);
        cr_assert_eq(virtio_console_input(&con, in + VCON_PENDING, 10), 0, "full: takes nothing");
        cr_assert_eq(room_calls, 0);
        cr_assert_eq(pending_used(RXQ(0)), 0);

        post_rx(RXQ(0), bufs, 4096);
        kick(RXQ(0));
        settle();
        cr_assert_eq(room_calls, 1, "input_room after the RX kick");
        cr_assert_eq(con.port[0].in_len, 0);
        cr_assert_eq(virtio_console_input(&con, in + VCON_PENDING, sizeof(in) - VCON_PENDING),
                     sizeof(in) - VCON_PENDING);
        cr_assert_eq(gather(RXQ(0), got, sizeof(got)), sizeof(in));
        cr_assert_eq(memcmp(got, in, sizeof(in)), 0);
        cr_assert_eq(con.port[0].in_len, 0);
}

/* Without MULTIPORT port 0 needs no PORT_OPEN: early input goes with the first RX buffers. */
Test(vcon, input_before_driver_ok_waits)
{
        uint16_t head;

        attach();
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"early", 5), 5);
        driver_up(WANT & ~MP);
        head = post(RXQ(0), NULL, 64, true);
        kick(RXQ(0));
        wait_used(RXQ(0), 1);
        used(RXQ(0), head, 5);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(0)][head], 5), "early", 5), 0);
        cr_assert_eq(con.port[0].in_len, 0);
}

/*
 * With MULTIPORT Linux discards what reaches a port nobody has open, so input typed before the
 * driver came waits through DRIVER_OK, DEVICE_READY and RX buffers until PORT_OPEN(0, 1).
 */
Test(vcon, with_multiport_input_before_driver_ok_waits_for_port_open)
{
        uint16_t head;

        attach();
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"early", 5), 5);
        driver_up(WANT);
        ctrl_buffers(16);
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        expect_port_adds();
        head = post(RXQ(0), NULL, 64, true);
        kick(RXQ(0));
        settle();
        cr_assert_eq(pending_used(RXQ(0)), 0, "delivered to a port the driver has not opened");
        cr_assert_eq(con.port[0].in_len, 5);

        ctrl_send(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        used(RXQ(0), head, 5);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(0)][head], 5), "early", 5), 0);
        cr_assert_eq(con.port[0].in_len, 0);
        ctrl_none();
}

/*
 * Port 0 with MULTIPORT, buffers posted but the port not open: input is held (up to
 * VCON_PENDING, then refused); PORT_OPEN(0, 1) delivers it and offers the console room.
 */
Test(vcon, port_0_input_waits_for_port_open_then_goes_and_room_is_offered)
{
        static uint8_t in[VCON_PENDING + 100], got[VCON_PENDING + 8192];

        multiport_ready(WANT);
        fill(in, sizeof(in), 4);
        post_rx(RXQ(0), VCON_PENDING / 4096 + 1, 4096); /* published, not kicked */
        cr_assert_eq(virtio_console_input(&con, in, sizeof(in)), VCON_PENDING);
        cr_assert_eq(virtio_console_input(&con, in + VCON_PENDING, 10), 0, "full: takes nothing");
        settle();
        cr_assert_eq(pending_used(RXQ(0)), 0, "delivered to a port the driver has not opened");
        cr_assert_eq(room_calls, 0);

        ctrl_send(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        cr_assert_eq(con.port[0].in_len, 0);
        cr_assert_eq(room_calls, 1, "input_room after the open delivered what waited");
        cr_assert_eq(virtio_console_input(&con, in + VCON_PENDING, sizeof(in) - VCON_PENDING),
                     sizeof(in) - VCON_PENDING);
        cr_assert_eq(gather(RXQ(0), got, sizeof(got)), sizeof(in));
        cr_assert_eq(memcmp(got, in, sizeof(in)), 0, "every byte, in order");

        /* The driver closes hvc0: input is held again. */
        ctrl_send(0, VIRTIO_CONSOLE_PORT_OPEN, 0);
        post_rx(RXQ(0), 1, 64);
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"late", 4), 4);
        cr_assert_eq(pending_used(RXQ(0)), 0, "delivered to a port the driver closed");
        cr_assert_eq(con.port[0].in_len, 4);
        ctrl_none();
}

/* --- without MULTIPORT -------------------------------------------------------------------------
 */

Test(vcon, without_multiport_only_port_0_queues_are_used)
{
        char got[64];
        uint16_t head;

        attach();
        driver_up(WANT & ~MP);
        cr_assert_not(con.dev.vq_ready[CRX]);
        head = post(TXQ(0), "plain", 5, false);
        kick(TXQ(0));
        wait_used(TXQ(0), 1);
        used(TXQ(0), head, 0);
        cr_assert_eq(out_read(got, sizeof(got)), 5);
        cr_assert_eq(memcmp(got, "plain", 5), 0);

        head = post(RXQ(0), NULL, 64, true);
        vd_publish(&drv[RXQ(0)]);
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"typed", 5), 5);
        used(RXQ(0), head, 5);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(0)][head], 5), "typed", 5), 0);

        /* A client on a named port: nothing to tell the driver, nothing breaks. */
        connect_client(1);
        client_send(1, "x", 1);
        settle();
        close_client(1);
        cr_assert_not(con.ready);
        cr_assert_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"y", 1), 1);
}

/*
 * Without MULTIPORT only port 0's queues exist (virtio 1.1, 5.3.2). A driver that enables the
 * others anyway and sends DEVICE_READY on queue 3 gets nothing back: the device does not even
 * consume the message, and kicks on queue 2 deliver nothing.
 */
Test(vcon, without_multiport_the_control_queues_are_ignored)
{
        attach();
        driver_up_n(WANT & ~MP, nq);
        ctrl_buffers(8);
        kick(CRX);
        ctrl_post(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        ctrl_post(0, VIRTIO_CONSOLE_PORT_READY, 1);
        kick(CTX);
        settle();
        cr_assert_eq(pending_used(CTX), 0, "a control message was consumed");
        ctrl_none();
        cr_assert_not(con.ready);
        cr_assert_eq(con.backlog_len, 0);
        cr_assert_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* --- resize ----------------------------------------------------------------------------------- */

Test(vcon, resize_without_multiport_updates_config_and_interrupts)
{
        uint8_t gen;

        attach();
        driver_up(WANT & ~MP);
        config_irqs();
        gen = (uint8_t)vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
        virtio_console_resize(&con, 132, 43);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, cols)), 132);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, rows)), 43);
        cr_assert_eq(config_irqs(), 1, "config interrupt");
        cr_assert_neq((uint8_t)vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), gen);
}

Test(vcon, resize_without_f_size_updates_config_only)
{
        attach();
        driver_up(WANT & ~MP & ~SIZE);
        config_irqs();
        virtio_console_resize(&con, 100, 30);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, cols)), 100);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, rows)), 30);
        cr_assert_eq(config_irqs(), 0);
}

Test(vcon, resize_with_multiport_after_device_ready_sends_resize)
{
        multiport_up(WANT);
        config_irqs();
        virtio_console_resize(&con, 132, 43);
        expect_resize(132, 43);
        ctrl_none();
        cr_assert_eq(config_irqs(), 0, "the control message, not a config interrupt");
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, cols)), 132);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, rows)), 43);
}

Test(vcon, resize_with_multiport_before_device_ready_interrupts)
{
        attach();
        driver_up(WANT);
        ctrl_buffers(4);
        config_irqs();
        virtio_console_resize(&con, 90, 20);
        cr_assert_eq(config_irqs(), 1);
        ctrl_none();
}

/* --- reset --------------------------------------------------------------------------------------
 */

Test(vcon, reset_clears_guest_open_pending_input_and_the_backlog)
{
        attach();
        driver_up(WANT);
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1); /* no buffers: backlog */
        ctrl_send(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_send(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        connect_client(1);
        cr_assert_eq(con.backlog_len, NAMED + 2, "PORT_ADDs and PORT_OPEN(1) wait");
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"stale", 5), 5);
        client_send(1, "old", 3);
        settle();
        cr_assert(con.port[0].guest_open);
        cr_assert(con.port[1].guest_open);
        cr_assert_eq(con.port[0].in_len, 5);
        cr_assert_eq(con.port[1].in_len, 3);

        cr_assert_eq(vph_modern_reset(&f), 0);
        for (unsigned int i = 0; i <= NAMED; i++) {
                cr_assert_not(con.port[i].guest_open, "port %u", i);
                cr_assert_eq(con.port[i].in_len, 0, "port %u", i);
        }
        cr_assert_not(con.ready);
        cr_assert_eq(con.backlog_len, 0);

        /* A fresh driver sees nothing from before, and the ports work again. */
        driver_up(WANT);
        ctrl_buffers(8);
        kick(CRX);
        post_rx(RXQ(0), 1, 64);
        kick(RXQ(0));
        post_rx(RXQ(1), 1, 64);
        kick(RXQ(1));
        settle();
        ctrl_none();
        cr_assert_not(con.port[0].guest_open, "port 0 open before the fresh driver opened it");
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        expect_port_adds();
        ctrl_none();
        /* Open: whatever was still held would go now. */
        ctrl_send(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_send(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        settle();
        cr_assert_eq(pending_used(RXQ(0)), 0, "old input delivered after reset");
        cr_assert_eq(pending_used(RXQ(1)), 0, "old socket bytes delivered after reset");
        cr_assert_eq(virtio_console_input(&con, (const uint8_t *)"new", 3), 3);
        used(RXQ(0), 0, 3);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(0)][0], 3), "new", 3), 0);
        client_send(1, "fresh", 5);
        settle();
        used(RXQ(1), 0, 5);
        cr_assert_eq(memcmp(gptr(head_gpa[RXQ(1)][0], 5), "fresh", 5), 0);
}
