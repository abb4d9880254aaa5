/* Unit tests for devices/virtio_console.c: features, config and the multiport control protocol. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_pci.h>

#include "virtio_console_fixture.h"

TestSuite(vcon, .init = setup, .fini = teardown);

/* --- features and config -------------------------------------------------------------------- */

Test(vcon, offers_size_and_multiport_and_its_config)
{
        uint64_t feat;

        attach();
        cr_assert_eq(f.device, 0x1003, "transitional console");
        vph_modern_reset(&f);
        feat = vph_modern_device_features(&f);
        cr_assert(feat & SIZE);
        cr_assert(feat & MP);
        cr_assert(feat & F(VIRTIO_F_VERSION_1));
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), MAX_Q);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, cols)), COLS);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, rows)), ROWS);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_console_config, max_nr_ports), 4),
                     NAMED + 1);
        cr_assert_eq(vph_devcfg_read(&f, sizeof(struct virtio_console_config), 4), 0,
                     "past the end reads 0");
}

/* emerg_wr is implemented (con_config_write), so its feature is offered (5.3.4, 5.3.6.1). */
Test(vcon, emerg_write_is_offered)
{
        attach();
        vph_modern_reset(&f);
        cr_assert(vph_modern_device_features(&f) & F(VIRTIO_CONSOLE_F_EMERG_WRITE),
                  "VIRTIO_CONSOLE_F_EMERG_WRITE not offered");
}

Test(vcon, emerg_wr_prints_one_character_on_port_0)
{
        char b[8];

        attach();
        vph_devcfg_write(&f, offsetof(struct virtio_console_config, emerg_wr), 4, 'Z');
        cr_assert_eq(out_read(b, sizeof(b)), 1);
        cr_assert_eq(b[0], 'Z');
        driver_up(WANT);
        vph_devcfg_write(&f, offsetof(struct virtio_console_config, emerg_wr), 4, 0x4241 /* AB */);
        cr_assert_eq(out_read(b, sizeof(b)), 1, "one character, not four");
        cr_assert_eq(b[0], 'A');
        vph_devcfg_write(&f, offsetof(struct virtio_console_config, cols), 2, 7);
        cr_assert_eq(devcfg16(offsetof(struct virtio_console_config, cols)), COLS,
                     "cols is read-only");
        out_empty();
}

/* --- the multiport control protocol --------------------------------------------------------- */

Test(vcon, device_ready_adds_every_port)
{
        multiport_up(WANT);
        cr_assert(con.ready);
        cr_assert_eq(con.backlog_len, 0);
}

Test(vcon, device_ready_waits_in_the_backlog_until_buffers_come)
{
        attach();
        driver_up(WANT);
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        ctrl_none();
        cr_assert_eq(con.backlog_len, NAMED + 1);
        /* Two buffers for three messages: two now, the third with the next buffer. */
        ctrl_buffers(2);
        kick(CRX);
        settle();
        expect_ctrl(0, VIRTIO_CONSOLE_PORT_ADD, ANY);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_ADD, ANY);
        ctrl_none();
        ctrl_buffers(4);
        kick(CRX);
        settle();
        expect_ctrl(2, VIRTIO_CONSOLE_PORT_ADD, ANY);
        ctrl_none();
        cr_assert_eq(con.backlog_len, 0);
        cr_assert_eq(con.dropped, 0);
}

Test(vcon, port_ready_0_gives_console_port_resize_cols_then_rows_and_open)
{
        multiport_up(WANT);
        ctrl_send(0, VIRTIO_CONSOLE_PORT_READY, 1);
        expect_ctrl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        expect_resize(COLS, ROWS);
        expect_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_none();
}

Test(vcon, port_ready_0_without_f_size_sends_no_resize)
{
        multiport_up(WANT & ~SIZE);
        ctrl_send(0, VIRTIO_CONSOLE_PORT_READY, 1);
        expect_ctrl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        expect_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_none();
}

Test(vcon, port_ready_n_names_the_port_and_opens_it_only_with_a_client)
{
        struct cmsg m;

        multiport_up(WANT);
        ctrl_send(1, VIRTIO_CONSOLE_PORT_READY, 1);
        m = expect_ctrl(1, VIRTIO_CONSOLE_PORT_NAME, 1);
        cr_assert_eq(m.extra_len, sizeof("alpha"), "name of %u bytes", m.extra_len);
        cr_assert_eq(memcmp(m.extra, "alpha", sizeof("alpha")), 0, "name NUL-terminated");
        ctrl_none();

        connect_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_none();
        close_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 0);
        ctrl_none();

        ctrl_send(2, VIRTIO_CONSOLE_PORT_READY, 1);
        m = expect_ctrl(2, VIRTIO_CONSOLE_PORT_NAME, 1);
        cr_assert_eq(m.extra_len, sizeof("beta"));
        cr_assert_eq(memcmp(m.extra, "beta", sizeof("beta")), 0);
        ctrl_none();

        /* A client that comes back opens the port again. */
        connect_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_none();
}

Test(vcon, a_client_connected_before_port_ready_opens_the_port_after_its_name)
{
        attach();
        connect_client(1);
        cr_assert_geq(con.port[1].conn_fd, 0, "accepted before the driver came");
        driver_up(WANT);
        ctrl_buffers(16);
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        expect_port_adds();
        ctrl_none();
        ctrl_send(1, VIRTIO_CONSOLE_PORT_READY, 1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_NAME, 1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_none();
}

Test(vcon, one_client_per_port_at_a_time)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        uint8_t b[8];
        int second;

        multiport_up(WANT);
        connect_client(1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        second = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", opts[0].path);
        cr_assert_eq(connect(second, (struct sockaddr *)&sa, sizeof(sa)), 0);
        settle();
        cr_assert_eq(recv(second, b, sizeof(b), MSG_DONTWAIT), 0, "the second client is closed");
        close(second);
        ctrl_none();
        cr_assert_geq(con.port[1].conn_fd, 0, "the first client stays");
}

Test(vcon, port_open_from_the_driver_sets_guest_open)
{
        multiport_ready(WANT);
        for (unsigned int i = 0; i <= NAMED; i++)
                cr_assert_not(con.port[i].guest_open, "port %u open before PORT_OPEN", i);
        ctrl_send(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        cr_assert(con.port[1].guest_open);
        cr_assert_not(con.port[2].guest_open);
        ctrl_send(1, VIRTIO_CONSOLE_PORT_OPEN, 0);
        cr_assert_not(con.port[1].guest_open);
        ctrl_send(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        cr_assert(con.port[0].guest_open);
        ctrl_none();
}

Test(vcon, hostile_control_messages_are_ignored)
{
        static const uint8_t short_msg[7] = {0, 0, 0, 0, VIRTIO_CONSOLE_PORT_READY, 0, 1};
        uint16_t heads[12];
        unsigned int n = 0;

        multiport_ready(WANT); /* no port open: any that gets opened was opened by a bad message */
        heads[n++] = ctrl_post(999, VIRTIO_CONSOLE_PORT_READY, 1);
        heads[n++] = ctrl_post(999, VIRTIO_CONSOLE_PORT_OPEN, 1);
        heads[n++] = ctrl_post(NAMED + 1, VIRTIO_CONSOLE_PORT_READY, 1);
        heads[n++] = ctrl_post(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_PORT_READY, 1);
        heads[n++] = ctrl_post(0x80000000u, VIRTIO_CONSOLE_PORT_OPEN, 1);
        heads[n++] = ctrl_post(1, VIRTIO_CONSOLE_PORT_READY, 0);
        heads[n++] = ctrl_post(0, VIRTIO_CONSOLE_PORT_READY, 0);
        heads[n++] = ctrl_post(1, 0xffff, 1);
        heads[n++] = ctrl_post(1, VIRTIO_CONSOLE_PORT_NAME, 1);
        heads[n++] = ctrl_post_raw(short_msg, sizeof(short_msg));
        heads[n++] = post(CTX, NULL, 8, true); /* writable: nothing to read */
        kick(CTX);
        wait_used(CTX, n);
        for (unsigned int i = 0; i < n; i++)
                used(CTX, heads[i], 0);
        ctrl_none();
        for (unsigned int i = 0; i <= NAMED; i++)
                cr_assert_not(con.port[i].guest_open, "port %u opened", i);
        cr_assert_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);

        /* The device keeps working. */
        ctrl_send(0, VIRTIO_CONSOLE_PORT_READY, 1);
        expect_ctrl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        expect_resize(COLS, ROWS);
        expect_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
        ctrl_none();
}

Test(vcon, a_control_flood_without_buffers_is_bounded_and_counted)
{
        enum { READIES = 40 };
        unsigned int sent = NAMED + 1 + 3 * READIES; /* PORT_ADDs, then 3 per PORT_READY(0) */
        unsigned int got = 0;
        struct cmsg m;

        attach();
        driver_up(WANT);
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        for (unsigned int i = 0; i < READIES; i++)
                ctrl_post(0, VIRTIO_CONSOLE_PORT_READY, 1);
        kick(CTX);
        wait_used(CTX, READIES);
        for (uint32_t id, len; vd_get_used(&drv[CTX], &id, &len);)
                cr_assert_eq(len, 0);
        settle();
        cr_assert_eq(con.backlog_len, VCON_CTRL_BACKLOG);
        cr_assert_eq(con.dropped, sent - VCON_CTRL_BACKLOG);

        ctrl_buffers(VCON_CTRL_BACKLOG + 16);
        kick(CRX);
        settle();
        expect_port_adds();
        got = NAMED + 1;
        while (ctrl_next(&m)) {
                static const uint16_t cycle[3] = {VIRTIO_CONSOLE_CONSOLE_PORT,
                                                  VIRTIO_CONSOLE_RESIZE, VIRTIO_CONSOLE_PORT_OPEN};

                cr_assert_eq(m.event, cycle[(got - (NAMED + 1)) % 3], "message %u", got);
                got++;
        }
        cr_assert_eq(got, VCON_CTRL_BACKLOG, "the backlog's messages, in order, no more");
        cr_assert_eq(con.backlog_len, 0);
        cr_assert_eq(con.dropped, sent - VCON_CTRL_BACKLOG);

        /* The device keeps working. */
        ctrl_send(1, VIRTIO_CONSOLE_PORT_READY, 1);
        expect_ctrl(1, VIRTIO_CONSOLE_PORT_NAME, 1);
        ctrl_none();
        cr_assert_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}
