/* wisp.test=console, hostile-console-ctrl: the multiport protocol, port 0, a named port. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

#define SETUP_MS 10000
#define SETTLE_MS 300
#define HOST_MS 30000
#define LINE_MAX 16000
#define HOST_LINE 12000  /* bytes the host sends in one line (RX buffers reposted as it comes) */
#define GUEST_LINE 12000 /* in one chain of three 4 KiB descriptors and a bit */

static struct con con;
static char named[CON_NAME_MAX];
static u32 named_id = ~0u;
static u32 failed_checks;
static enum guest_status first_status;
static char line[LINE_MAX + 64];

#define check_soft(st, ...)                                                                        \
        do {                                                                                       \
                kprintf("console: FAILED CHECK: " __VA_ARGS__);                                    \
                kprintf("\n");                                                                     \
                if (!failed_checks++)                                                              \
                        first_status = (st);                                                       \
        } while (0)

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static void pattern_line(char *buf, u32 n, u32 seed)
{
        for (u32 i = 0; i < n; i++)
                buf[i] = alnum[(i * 7 + seed) % 36];
}

static u32 put_hex(char *p, u32 v)
{
        for (int i = 0; i < 8; i++)
                p[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
        return 8;
}

static u32 put_dec(char *p, u32 v)
{
        char t[12];
        u32 n = 0, k = 0;

        do {
                t[n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        while (n)
                p[k++] = t[--n];
        return k;
}

static bool parse_hex(const char *p, u32 n, u32 *v)
{
        *v = 0;
        for (u32 i = 0; i < n; i++) {
                char ch = p[i];

                if (ch >= '0' && ch <= '9')
                        *v = *v << 4 | (u32)(ch - '0');
                else if (ch >= 'a' && ch <= 'f')
                        *v = *v << 4 | (u32)(ch - 'a' + 10);
                else
                        return false;
        }
        return true;
}

static void write_str(u32 id, const char *s)
{
        if (!con_write(&con, id, s, (u32)strlen(s)))
                guest_fail(ST_CONSOLE, "console: port %u: a write was not returned in 5 s", id);
}

/* --- bring-up: DEVICE_READY, PORT_ADD -> PORT_READY, names, console, open ------------------- */

static bool ready_for_all(struct con *c, u64 arg)
{
        bool named_found = !named[0];

        (void)arg;
        for (u32 id = 0; id < c->nports; id++) {
                struct con_port *p = &c->port[id];

                if (p->added && !p->ready_sent) {
                        p->ready_sent = true;
                        kprintf("console: control -> PORT_READY id %u\n", id);
                        if (!con_ctrl_send(c, id, VIRTIO_CONSOLE_PORT_READY, 1, NULL, 0))
                                guest_fail(ST_CONSOLE, "console: PORT_READY not taken in 5 s");
                }
                if (p->named && !strncmp(p->name, named, CON_NAME_MAX)) {
                        named_found = true;
                        named_id = id;
                }
        }
        return c->port[0].added && c->port[0].console && named_found;
}

static bool never(struct con *c, u64 arg)
{
        (void)c, (void)arg;
        return false;
}

static void check_log(const struct boot_info *bi)
{
        bool added[CON_MAX_PORTS] = {false}, resized = false;
        u64 cols, rows;

        for (u32 i = 0; i < con.nlog; i++) {
                const struct con_msg *m = &con.log[i];

                if (m->id >= con.max_ports && m->event != VIRTIO_CONSOLE_DEVICE_READY) {
                        check_soft(ST_CONSOLE, "%s for id %u, max_nr_ports is %u",
                                   con_event_name(m->event), m->id, con.max_ports);
                        continue;
                }
                if (m->id >= CON_MAX_PORTS)
                        continue;
                if (m->event == VIRTIO_CONSOLE_PORT_ADD) {
                        added[m->id] = true;
                        continue;
                }
                if (!added[m->id])
                        check_soft(ST_CONSOLE, "%s for port %u before its PORT_ADD",
                                   con_event_name(m->event), m->id);
                if (m->event == VIRTIO_CONSOLE_CONSOLE_PORT && m->id != 0)
                        kprintf("console: note: the console is port %u\n", m->id);
                if (m->event == VIRTIO_CONSOLE_RESIZE) {
                        /* struct virtio_console_resize { le16 cols; le16 rows; } (5.3.6.2) */
                        u16 rc = (u16)(m->extra[0] | m->extra[1] << 8);
                        u16 rr = (u16)(m->extra[2] | m->extra[3] << 8);

                        resized = true;
                        kprintf("console: RESIZE says cols %u rows %u\n", rc, rr);
                        if (m->extra_len < 4)
                                check_soft(ST_CONSOLE, "RESIZE with %u bytes after the header",
                                           m->extra_len);
                        else if (con.size && (rc != con.cols || rr != con.rows))
                                check_soft(ST_CONSOLE,
                                           "RESIZE cols %u rows %u, the config says cols %u rows "
                                           "%u (struct virtio_console_resize is cols, rows)",
                                           rc, rr, con.cols, con.rows);
                        if (cmdline_u64(bi->cmdline, "expect.cols", &cols) &&
                            cmdline_u64(bi->cmdline, "expect.rows", &rows) && m->extra_len >= 4 &&
                            (rc != cols || rr != rows))
                                check_soft(ST_CONSOLE, "RESIZE cols %u rows %u, expected %lu x %lu",
                                           rc, rr, cols, rows);
                }
                if (m->event == VIRTIO_CONSOLE_PORT_NAME && m->extra_len > CON_NAME_MAX - 1)
                        check_soft(ST_CONSOLE, "PORT_NAME of %u bytes", m->extra_len);
        }
        if (cmdline_u64(bi->cmdline, "expect.cols", &cols) &&
            cmdline_u64(bi->cmdline, "expect.rows", &rows)) {
                if (!con.size)
                        check_soft(ST_CONSOLE, "expect.cols/rows but VIRTIO_CONSOLE_F_SIZE not "
                                               "negotiated");
                else if (con.cols != cols || con.rows != rows)
                        check_soft(ST_CONSOLE, "config cols %u rows %u, expected %lu x %lu",
                                   con.cols, con.rows, cols, rows);
                kprintf("console: size %ux%u in the config%s\n", con.cols, con.rows,
                        resized ? ", and a RESIZE" : ", no RESIZE");
        }
        if (con.lost_log || con.ctrl_short)
                check_soft(ST_CONSOLE, "%u control messages past the log, %u shorter than 8 bytes",
                           con.lost_log, con.ctrl_short);
}

static void bring_up(const struct boot_info *bi)
{
        if (!con.multiport) {
                kprintf("console: no MULTIPORT: port 0 only, no control queues\n");
                return;
        }
        kprintf("console: control -> DEVICE_READY\n");
        if (!con_ctrl_send(&con, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, NULL, 0))
                guest_fail(ST_CONSOLE, "console: DEVICE_READY not taken in 5 s");
        if (!con_wait(&con, ready_for_all, 0, SETUP_MS))
                guest_fail(ST_CONSOLE, "console: within %u ms: port 0 %s, console %s, port '%s' %s",
                           SETUP_MS, con.port[0].added ? "added" : "never added",
                           con.port[0].console ? "yes" : "never said",
                           named[0] ? named : "(none asked)",
                           named[0] && named_id == ~0u ? "never named" : "found");
        con_wait(&con, never, 0, SETTLE_MS);
        check_log(bi);
        kprintf("console: control -> PORT_OPEN port 0%s\n",
                named_id != ~0u ? " and the named" : "");
        if (!con_ctrl_send(&con, 0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0) ||
            (named_id != ~0u &&
             !con_ctrl_send(&con, named_id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0)))
                guest_fail(ST_CONSOLE, "console: PORT_OPEN not taken in 5 s");
        if (named_id != ~0u)
                kprintf("console: port '%s' is port %u (host end %s)\n", named, named_id,
                        con.port[named_id].host_open ? "open" : "not open yet");
}

/* --- hostile control messages ---------------------------------------------------------------- */

static void hostile_ctrl(void)
{
        u8 *m = palloc(96UL << 10, 4096);
        struct virtio_console_control *h = (struct virtio_console_control *)m;
        u32 ids[] = {999, con.max_ports, 0xffffffffu, 0x80000000u}, before;
        struct vbuf v[2];

        if (!con.multiport)
                guest_fail(ST_USAGE, "hostile-console-ctrl: needs MULTIPORT");
        before = con.nlog;
        for (u32 i = 0; i < ARRAY_SIZE(ids); i++) {
                kprintf("console: hostile: PORT_READY and PORT_OPEN for absent port %u\n", ids[i]);
                if (!con_ctrl_send(&con, ids[i], VIRTIO_CONSOLE_PORT_READY, 1, NULL, 0) ||
                    !con_ctrl_send(&con, ids[i], VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0) ||
                    !con_ctrl_send(&con, ids[i], VIRTIO_CONSOLE_PORT_OPEN, 0, NULL, 0))
                        hfail("console: a control message for port %u was not returned", ids[i]);
        }
        kprintf("console: hostile: unknown event 0x99, PORT_NAME/RESIZE/PORT_ADD from the "
                "driver\n");
        if (!con_ctrl_send(&con, 0, 0x99, 1, NULL, 0) ||
            !con_ctrl_send(&con, 0, VIRTIO_CONSOLE_PORT_NAME, 1, "evil", 4) ||
            !con_ctrl_send(&con, 0, VIRTIO_CONSOLE_RESIZE, 0, "\1\0\1\0", 4) ||
            !con_ctrl_send(&con, 0, VIRTIO_CONSOLE_PORT_ADD, 0, NULL, 0))
                hfail("console: a control message with an odd event was not returned");
        /* 4 bytes: shorter than the header. */
        h->id = 0, h->event = VIRTIO_CONSOLE_PORT_OPEN, h->value = 1;
        v[0] = (struct vbuf){(u64)m, 4, false};
        kprintf("console: hostile: a 4-byte control message\n");
        if (!con_ctrl_raw(&con, v, 1))
                hfail("console: a 4-byte control message was not returned");
        /* 64 KiB: a header and garbage. */
        memset(m + 8, 0x5a, 64UL << 10);
        h->id = 999, h->event = VIRTIO_CONSOLE_PORT_READY, h->value = 1;
        v[0] = (struct vbuf){(u64)m, 8 + (64u << 10), false};
        kprintf("console: hostile: a 64 KiB control message (PORT_READY for 999 and garbage)\n");
        if (!con_ctrl_raw(&con, v, 1))
                hfail("console: a 64 KiB control message was not returned");
        /* A good message split across two descriptors. */
        h->id = 0, h->event = VIRTIO_CONSOLE_PORT_OPEN, h->value = 1;
        v[0] = (struct vbuf){(u64)m, 3, false};
        v[1] = (struct vbuf){(u64)m + 3, 5, false};
        kprintf("console: hostile: PORT_OPEN for port 0 in two descriptors (3 + 5 bytes)\n");
        if (!con_ctrl_raw(&con, v, 2))
                hfail("console: a split control message was not returned");
        con_wait(&con, never, 0, SETTLE_MS);
        for (u32 i = before; i < con.nlog; i++)
                if (con.log[i].id >= con.max_ports)
                        hfail("console: after messages for absent ports the device sent %s for "
                              "id %u",
                              con_event_name(con.log[i].event), con.log[i].id);
        kprintf("console: hostile: %u control messages from the device meanwhile, none for an "
                "absent port\n",
                con.nlog - before);
}

/* --- a terminal resize while running (tests/integration/ptyrun.py) ------------------------------
 */

static u32 resize_from;

static bool resized(struct con *c, u64 want)
{
        for (u32 i = resize_from; i < c->nlog; i++)
                if (c->log[i].event == VIRTIO_CONSOLE_RESIZE && c->log[i].extra_len >= 4 &&
                    (c->log[i].extra[0] | c->log[i].extra[1] << 8 | (u32)c->log[i].extra[2] << 16 |
                     (u32)c->log[i].extra[3] << 24) == want)
                        return true;
        return false;
}

/* expect.resize_cols= expect.resize_rows=: a RESIZE with them, and the config updated. */
static void resize(const struct boot_info *bi)
{
        u64 cols, rows;
        u16 cc, cr;

        if (!cmdline_u64(bi->cmdline, "expect.resize_cols", &cols) ||
            !cmdline_u64(bi->cmdline, "expect.resize_rows", &rows))
                return;
        if (!con.size || !con.multiport)
                guest_fail(ST_USAGE, "console: a resize needs F_SIZE and F_MULTIPORT");
        resize_from = con.nlog;
        kprintf("console: waiting for a resize to %lux%lu\n", cols, rows);
        if (!con_wait(&con, resized, cols | rows << 16, 20000))
                guest_fail(ST_CONSOLE, "console: no RESIZE cols %lu rows %lu within 20 s", cols,
                           rows);
        cc = (u16)con.v.ops->config_read(&con.v, VIRTIO_CONSOLE_CFG_COLS, 2);
        cr = (u16)con.v.ops->config_read(&con.v, VIRTIO_CONSOLE_CFG_ROWS, 2);
        kprintf("console: RESIZE to %lux%lu; the config now says %ux%u\n", cols, rows, cc, cr);
        if (cc != cols || cr != rows)
                check_soft(ST_CONSOLE, "after a RESIZE to %lux%lu the config says %ux%u", cols,
                           rows, cc, cr);
}

/* --- data ------------------------------------------------------------------------------------- */

static void port0(const struct boot_info *bi)
{
        u64 input = 0;
        u32 len;

        write_str(0, "console: hello from the guest on port 0\n");
        kprintf("console: wrote a line on port 0\n");
        cmdline_u64(bi->cmdline, "console.input", &input);
        if (!input)
                return;
        write_str(0, "console: type a line\n");
        if (!con_read_line(&con, 0, line, LINE_MAX, HOST_MS, &len))
                guest_fail(ST_CONSOLE, "console: no line on port 0 within %u ms", HOST_MS);
        kprintf("console: port 0 read a line of %u bytes: '%s'\n", len, line);
        write_str(0, "console: you typed '");
        if (len)
                con_write(&con, 0, line, len);
        write_str(0, "'\n");
}

static bool host_opened(struct con *c, u64 id)
{
        return c->port[id].host_open;
}

static bool host_closed(struct con *c, u64 id)
{
        return !c->port[id].host_open;
}

/* The host's answer R:<len>:<crc> to one of our lines: as expected? */
static void expect_r(u32 id, u32 want_len, u32 want_crc)
{
        u32 len, n, got_len = 0, got_crc;

        if (!con_read_line(&con, id, line, LINE_MAX, HOST_MS, &len))
                guest_fail(ST_CONSOLE, "console: port '%s': no answer to our %u bytes", named,
                           want_len);
        for (n = 2; n < len && line[n] != ':'; n++)
                got_len = got_len * 10 + (u32)(line[n] - '0');
        if (line[0] != 'R' || n + 9 != len || !parse_hex(line + n + 1, 8, &got_crc) ||
            got_len != want_len || got_crc != want_crc)
                guest_fail(ST_CONSOLE,
                           "console: port '%s': the host answered '%.60s', expected "
                           "R:%u:%08x",
                           named, line, want_len, want_crc);
}

/* console.bigwrite=N: one line of N bytes as one chain of 16 KiB descriptors. */
static void big_write(u32 id)
{
        struct con_port *p = &con.port[id];
        u64 n = 0;
        u32 crc;

        if (!cmdline_u64(boot_info.cmdline, "console.bigwrite", &n) || !n)
                return;
        if (n + 3 > p->txcap)
                guest_fail(ST_USAGE, "console.bigwrite=%lu: at most %u", n, p->txcap - 3);
        p->txmem[0] = 'B', p->txmem[1] = ':';
        pattern_line((char *)p->txmem + 2, (u32)n, 3);
        p->txmem[n + 2] = '\n';
        crc = crc32_buf(0, p->txmem + 2, (u32)n);
        if (!con_write(&con, id, p->txmem, (u32)n + 3))
                guest_fail(ST_CONSOLE, "console: port '%s': a %lu-byte write not returned", named,
                           n + 3);
        expect_r(id, (u32)n, crc);
        kprintf("console: port '%s': the host got our %lu bytes written as one chain\n", named, n);
}

/* With conpeer.py: H:<2000 chars> -> G:<len>:<crc>; D:<3000 chars> -> R:<len>:<crc>; Q -> BYE. */
static void named_port(void)
{
        static char out[GUEST_LINE + 32];
        u32 id = named_id, len, crc, n;

        if (id == ~0u)
                return;
        if (!con_wait(&con, host_opened, id, HOST_MS))
                guest_fail(ST_CONSOLE, "console: port '%s': the host end never opened (%u ms)",
                           named, HOST_MS);
        if (!con_read_line(&con, id, line, LINE_MAX, HOST_MS, &len))
                guest_fail(ST_CONSOLE, "console: port '%s': no line from the host", named);
        if (len != 2 + HOST_LINE || line[0] != 'H' || line[1] != ':')
                guest_fail(ST_CONSOLE,
                           "console: port '%s': the host's line has %u bytes, "
                           "expected H: and %u",
                           named, len, HOST_LINE);
        for (u32 i = 0; i < HOST_LINE; i++)
                if (line[2 + i] != alnum[(i * 7 + 1) % 36])
                        guest_fail(ST_CONSOLE, "console: port '%s': host byte %u differs", named,
                                   i);
        crc = crc32_buf(0, line + 2, HOST_LINE);
        kprintf("console: port '%s': %u bytes from the host in %u buffers so far, crc %08x\n",
                named, len + 1, con.port[id].rx_bufs, crc);
        n = 0;
        out[n++] = 'G', out[n++] = ':';
        n += put_dec(out + n, HOST_LINE);
        out[n++] = ':';
        n += put_hex(out + n, crc);
        out[n++] = '\n';
        if (!con_write(&con, id, out, n))
                guest_fail(ST_CONSOLE, "console: port '%s': write not returned", named);
        /* Guest -> host: 3000 bytes in one chain of 4 KiB descriptors, answered with its CRC. */
        out[0] = 'D', out[1] = ':';
        pattern_line(out + 2, GUEST_LINE, 2);
        out[2 + GUEST_LINE] = '\n';
        if (!con_write(&con, id, out, GUEST_LINE + 3))
                guest_fail(ST_CONSOLE, "console: port '%s': write not returned", named);
        crc = crc32_buf(0, out + 2, GUEST_LINE);
        expect_r(id, GUEST_LINE, crc);
        kprintf("console: port '%s': the host got our %u bytes (crc %08x)\n", named, GUEST_LINE,
                crc);
        big_write(id);
        write_str(id, "Q\n");
        if (!con_read_line(&con, id, line, LINE_MAX, HOST_MS, &len) || strncmp(line, "BYE", 4))
                guest_fail(ST_CONSOLE, "console: port '%s': no BYE", named);
        /* The host closes: PORT_OPEN 0 (5.3.6.2). */
        if (!con_wait(&con, host_closed, id, 5000))
                check_soft(ST_CONSOLE, "port '%s': no PORT_OPEN 0 within 5 s of the host closing",
                           named);
        else
                kprintf("console: port '%s': PORT_OPEN 0 after the host closed\n", named);
}

static void __attribute__((noreturn)) run(const struct boot_info *bi, bool hostile)
{
        struct con_opts o;

        con_opts_parse(bi->cmdline, &o);
        cmdline_value(bi->cmdline, "port.name", named, sizeof(named));
        blk_setup_env(bi);
        con_open(&con, &o, VEC_MSIX_BASE);
        if (con.emerg) {
                const char *s = "console: emerg_wr\n";

                for (const char *p = s; *p; p++)
                        con_emerg_write(&con, (u8)*p);
        }
        bring_up(bi);
        if (hostile)
                hostile_ctrl();
        resize(bi);
        port0(bi);
        named_port();
        for (u32 id = 0; id < con.nports; id++)
                if (con.port[id].rx_bytes)
                        kprintf("console: port %u: %u bytes received in %u buffers\n", id,
                                con.port[id].rx_bytes, con.port[id].rx_bufs);
        if (failed_checks)
                guest_fail(first_status,
                           "console: %u checks failed (the 'console: FAILED CHECK' "
                           "lines)",
                           failed_checks);
        guest_pass();
}

void test_console(const struct boot_info *bi)
{
        run(bi, false);
}

void test_hostile_console(const struct boot_info *bi)
{
        char name[40];

        cmdline_value(bi->cmdline, "wisp.test", name, sizeof(name));
        if (strncmp(name, "hostile-console-ctrl", sizeof(name)))
                guest_fail(ST_USAGE, "unknown wisp.test=%s", name);
        run(bi, true);
}
