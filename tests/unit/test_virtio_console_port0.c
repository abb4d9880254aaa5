/* Unit tests for devices/virtio_console.c end to end: port 0 on a pipe, named ports on sockets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/virtio_console.h"
#include "vmm/log.h"
#include "vpci_harness.h"
#include "vring_driver.h"

#define RAM_SIZE (16ull << 20)
#define QSZ VCON_QUEUE_SIZE
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x4000ull /* 128 entries: 2 KiB table, avail, used */
#define HEAP_BASE 0x400000ull
#define NAMED 2                     /* named ports besides port 0 */
#define MAX_Q (2 * (NAMED + 1) + 2) /* port 0, control, then 2 per named port */
#define CRX 2                       /* control: device -> driver */
#define CTX 3                       /* control: driver -> device */
#define RXQ(id) ((id) == 0 ? 0u : 2u * (id) + 2)
#define TXQ(id) (RXQ(id) + 1)
#define MAX_SEGS 16
#define CTRL_BUF 128
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define F(bit) (1ull << (bit))
#define MP F(VIRTIO_CONSOLE_F_MULTIPORT)
#define SIZE F(VIRTIO_CONSOLE_F_SIZE)
/* Everything the device offers but EVENT_IDX: then every batch interrupts. */
#define WANT (~F(VIRTIO_RING_F_EVENT_IDX))
#define ANY 0x10000 /* expect_ctrl: any value */
#define COLS 80
#define ROWS 25

static struct vph h;
static struct virtio_console con;
static bool con_up;
static struct vph_fn f;
static int out_pipe[2];       /* port 0's output: [1] is the device's out_fd */
static int client[NAMED + 1]; /* by port id: the test's end of each port's socket */
static char dir[64];
static struct vcon_port_options opts[NAMED];
static struct vring_driver drv[MAX_Q];
static uint16_t next_desc[MAX_Q], noff[MAX_Q];
static uint64_t head_gpa[MAX_Q][QSZ]; /* where each posted chain's bytes lie */
static unsigned int nq;
static uint64_t heap;
static unsigned int room_calls;

static void on_room(void *ctx)
{
        (*(unsigned int *)ctx)++;
}

/* --- set-up -------------------------------------------------------------------------------- */

static void setup(void)
{
        log_set_level(LOG_ERROR);
        cr_assert_eq(vph_init(&h, RAM_SIZE), 0);
        heap = HEAP_BASE;
        memset(next_desc, 0, sizeof(next_desc));
        memset(head_gpa, 0, sizeof(head_gpa));
        con_up = false;
        room_calls = 0;
        for (unsigned int i = 0; i <= NAMED; i++)
                client[i] = -1;
        cr_assert_eq(pipe2(out_pipe, O_CLOEXEC), 0);
        cr_assert_eq(fcntl(out_pipe[0], F_SETFL, O_NONBLOCK), 0);
        strcpy(dir, "/tmp/wisp-vcon-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
        char cmd[128];

        if (con_up)
                virtio_console_close(&con);
        con_up = false;
        for (unsigned int i = 0; i <= NAMED; i++)
                if (client[i] >= 0)
                        close(client[i]);
        close(out_pipe[0]);
        close(out_pipe[1]);
        vph_fini(&h);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void)!system(cmd);
}

TestSuite(vcon, .init = setup, .fini = teardown);

/* Opens port 0 on the pipe plus named ports "alpha", "beta" in dir, attaches and probes. */
static void attach_n(unsigned int named)
{
        static const char *names[NAMED] = {"alpha", "beta"};
        char err[256];

        for (unsigned int i = 0; i < named; i++) {
                memset(&opts[i], 0, sizeof(opts[i]));
                snprintf(opts[i].name, sizeof(opts[i].name), "%s", names[i]);
                snprintf(opts[i].path, sizeof(opts[i].path), "%s/%s.sock", dir, names[i]);
        }
        cr_assert_eq(virtio_console_open(&con, opts, named, out_pipe[1], err, sizeof(err)), 0, "%s",
                     err);
        con_up = true;
        con.cfg.cols = COLS;
        con.cfg.rows = ROWS;
        con.input_room = on_room;
        con.input_room_ctx = &room_calls;
        nq = 2 * (named + 1) + 2;
        cr_assert_eq(virtio_console_attach(&con, &h.env, &h.bus), 0);
        cr_assert_eq(vph_probe(&h, con.vp.pci.slot, &f), 0);
}

static void attach(void)
{
        attach_n(NAMED);
}

static uint64_t ring(unsigned int q, unsigned int which)
{
        return RING_BASE + q * RING_STRIDE + which * 0x1000;
}

/*
 * virtcons_probe's order: negotiate, MSI-X with a vector per queue, the first count queues,
 * DRIVER_OK. With MULTIPORT Linux sets up every queue; without it only port 0's two.
 */
static void driver_up_n(uint64_t want, unsigned int count)
{
        cr_assert_eq(vph_modern_negotiate(&f, want, NULL), 0);
        vph_msix_enable(&f, nq + 1);
        cr_assert_eq(vph_modern_config_vector(&f, 0), 0);
        for (unsigned int q = 0; q < count; q++) {
                vd_init(&drv[q], &h.mem, QSZ, ring(q, 0), ring(q, 1), ring(q, 2));
                next_desc[q] = 0;
                cr_assert_eq(vph_modern_setup_queue(&f, (uint16_t)q, QSZ, ring(q, 0), ring(q, 1),
                                                    ring(q, 2), (uint16_t)(q + 1), &noff[q]),
                             0);
        }
        for (unsigned int q = 0; q < count; q++)
                cr_assert_eq(vph_modern_enable_queue(&f, (uint16_t)q), 1);
        cr_assert_eq(vph_modern_add_status(&f, DOK), ACK | DRV | FOK | DOK);
}

static void driver_up(uint64_t want)
{
        driver_up_n(want, (want & MP) ? nq : 2);
}

static uint8_t status(void)
{
        return (uint8_t)vph_common_read(&f, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* --- guest memory and rings ------------------------------------------------------------------ */

static uint64_t galloc(uint64_t len, uint64_t align)
{
        uint64_t a = (heap + align - 1) & ~(align - 1);

        heap = a + len;
        cr_assert_leq(heap, RAM_SIZE, "test heap exhausted");
        return a;
}

static void *gptr(uint64_t gpa, uint64_t len)
{
        void *p = guest_ptr(&h.mem, gpa, len);

        cr_assert_not_null(p);
        return p;
}

/*
 * Copies len bytes into guest RAM (src NULL: fills with 0xcc) and posts them on queue q as one
 * chain of seg-byte descriptors (0: one descriptor), all readable or all writable. Unpublished.
 */
static uint16_t post_seg(unsigned int q, const void *src, uint32_t len, uint32_t seg, bool write)
{
        struct vd_buf bufs[MAX_SEGS];
        uint64_t gpa = galloc(len, 16);
        unsigned int k = 0;
        uint16_t head;

        if (src)
                memcpy(gptr(gpa, len), src, len);
        else
                memset(gptr(gpa, len), 0xcc, len);
        for (uint32_t off = 0, piece = seg ? seg : len; off < len; off += piece) {
                if (piece > len - off)
                        piece = len - off;
                cr_assert_lt(k, MAX_SEGS);
                bufs[k++] = (struct vd_buf){gpa + off, piece, write};
        }
        head = vd_add_chain(&drv[q], next_desc[q], bufs, k);
        next_desc[q] = (uint16_t)((next_desc[q] + k) % QSZ);
        head_gpa[q][head] = gpa;
        return head;
}

static uint16_t post(unsigned int q, const void *src, uint32_t len, bool write)
{
        return post_seg(q, src, len, 0, write);
}

/* n writable buffers of len bytes on queue q, published (no kick). */
static void post_rx(unsigned int q, unsigned int n, uint32_t len)
{
        for (unsigned int i = 0; i < n; i++)
                post(q, NULL, len, true);
        vd_publish(&drv[q]);
}

static void kick(unsigned int q)
{
        vd_publish(&drv[q]);
        vph_modern_notify(&f, (uint16_t)q, noff[q]);
}

static unsigned int pending_used(unsigned int q)
{
        return (uint16_t)(vd_used_idx(&drv[q]) - drv[q].last_used);
}

/* Runs the event loop until it has nothing left to do (a bounded number of rounds). */
static void settle(void)
{
        for (int i = 0; i < 100 && vph_poll(&h, 20) > 0; i++)
                ;
}

/* Runs the event loop until queue q has n used entries to read (5 s at most). */
static void wait_used(unsigned int q, unsigned int n)
{
        for (int i = 0; i < 500 && pending_used(q) < n; i++)
                cr_assert_geq(vph_poll(&h, 10), 0);
        cr_assert_geq(pending_used(q), n, "queue %u: %u of %u used", q, pending_used(q), n);
}

static void used(unsigned int q, uint16_t head, uint32_t len)
{
        uint32_t id, l;

        cr_assert(vd_get_used(&drv[q], &id, &l), "queue %u: no used entry for head %u", q, head);
        cr_assert_eq(id, head, "queue %u: used head %u, wanted %u", q, id, head);
        cr_assert_eq(l, len, "queue %u head %u: used length %u, wanted %u", q, head, l, len);
}

/* Concatenates what the device wrote into every used buffer of queue q. Returns the bytes. */
static size_t gather(unsigned int q, uint8_t *buf, size_t cap)
{
        size_t got = 0;
        uint32_t id, len;

        while (vd_get_used(&drv[q], &id, &len)) {
                cr_assert_lt(id, QSZ);
                cr_assert_leq(got + len, cap, "queue %u: more bytes than expected", q);
                memcpy(buf + got, gptr(head_gpa[q][id], len), len);
                got += len;
        }
        return got;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* --- the host ends ---------------------------------------------------------------------------- */

/* Port 0's output so far (the pipe, not waiting). */
static size_t out_read(void *buf, size_t cap)
{
        ssize_t n = read(out_pipe[0], buf, cap);

        return n < 0 ? 0 : (size_t)n;
}

static void out_empty(void)
{
        uint8_t b[16];

        cr_assert_eq(out_read(b, sizeof(b)), 0, "port 0 wrote something");
}

/* A client connects to port id's socket; the event loop accepts it. */
static void connect_client(unsigned int id)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", opts[id - 1].path);
        cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
        cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        client[id] = fd;
        settle();
}

static void close_client(unsigned int id)
{
        close(client[id]);
        client[id] = -1;
        settle();
}

static void client_send(unsigned int id, const void *buf, size_t len)
{
        cr_assert_eq(send(client[id], buf, len, MSG_NOSIGNAL), (ssize_t)len, "send: %s",
                     strerror(errno));
}

static size_t client_recv(unsigned int id, void *buf, size_t cap)
{
        ssize_t n = recv(client[id], buf, cap, MSG_DONTWAIT);

        return n < 0 ? 0 : (size_t)n;
}

/* Bytes the device has not read yet from its end of port id's socket. */
static int unread(unsigned int id)
{
        int n = -1;

        cr_assert_eq(ioctl(con.port[id].conn_fd, FIONREAD, &n), 0);
        return n;
}

/* --- the control queues ------------------------------------------------------------------------
 */

struct cmsg {
        uint32_t id;
        uint16_t event, value;
        uint8_t extra[CTRL_BUF];
        uint32_t extra_len;
};

/* n control RX buffers, published (no kick). */
static void ctrl_buffers(unsigned int n)
{
        post_rx(CRX, n, CTRL_BUF);
}

/* Posts raw bytes as one control message (unkicked). Returns the head. */
static uint16_t ctrl_post_raw(const void *msg, uint32_t len)
{
        return post(CTX, msg, len, false);
}

static uint16_t ctrl_post(uint32_t id, uint16_t event, uint16_t value)
{
        struct virtio_console_control m = {.id = id, .event = event, .value = value};

        return ctrl_post_raw(&m, sizeof(m));
}

/* The driver sends one control message; the device returns it having written nothing. */
static void ctrl_send(uint32_t id, uint16_t event, uint16_t value)
{
        uint16_t head = ctrl_post(id, event, value);

        kick(CTX);
        wait_used(CTX, 1);
        used(CTX, head, 0);
}

static bool ctrl_next(struct cmsg *m)
{
        struct virtio_console_control hdr;
        uint32_t id, len;
        const uint8_t *p;

        if (!vd_get_used(&drv[CRX], &id, &len))
                return false;
        cr_assert_lt(id, QSZ);
        cr_assert_geq(len, sizeof(hdr), "a %u-byte control message", len);
        cr_assert_leq(len, CTRL_BUF);
        p = gptr(head_gpa[CRX][id], CTRL_BUF);
        memcpy(&hdr, p, sizeof(hdr));
        m->id = hdr.id;
        m->event = hdr.event;
        m->value = hdr.value;
        m->extra_len = len - (uint32_t)sizeof(hdr);
        memcpy(m->extra, p + sizeof(hdr), m->extra_len);
        return true;
}

/* The next control message the driver receives must be this one (value ANY: not checked). */
static struct cmsg expect_ctrl(uint32_t id, uint16_t event, uint32_t value)
{
        struct cmsg m;

        cr_assert(ctrl_next(&m), "no control message; wanted event %u for port %u", event, id);
        cr_assert_eq(m.event, event, "event %u for port %u; wanted event %u for port %u", m.event,
                     m.id, event, id);
        cr_assert_eq(m.id, id, "event %u for port %u; wanted port %u", m.event, m.id, id);
        if (value != ANY)
                cr_assert_eq(m.value, value, "event %u port %u: value %u, wanted %u", event, id,
                             m.value, value);
        if (event != VIRTIO_CONSOLE_PORT_NAME && event != VIRTIO_CONSOLE_RESIZE)
                cr_assert_eq(m.extra_len, 0, "event %u carries %u extra bytes", event, m.extra_len);
        return m;
}

static void ctrl_none(void)
{
        struct cmsg m;

        settle();
        if (ctrl_next(&m))
                cr_assert_fail("unexpected control message: event %u port %u value %u", m.event,
                               m.id, m.value);
}

/* RESIZE carries struct virtio_console_resize { le16 cols; le16 rows; } (virtio 1.1, 5.3.6.2;
 * Linux reads it in that order since "virtio_console: fix order of fields cols and rows",
 * which Debian's linux-source-6.1 has). */
static void expect_resize(uint16_t cols, uint16_t rows)
{
        struct cmsg m = expect_ctrl(0, VIRTIO_CONSOLE_RESIZE, ANY);
        uint16_t size[2];

        cr_assert_eq(m.extra_len, 4, "RESIZE carries %u bytes", m.extra_len);
        memcpy(size, m.extra, sizeof(size));
        cr_assert_eq(size[0], cols, "RESIZE cols %u, wanted %u", size[0], cols);
        cr_assert_eq(size[1], rows, "RESIZE rows %u, wanted %u", size[1], rows);
}

static void expect_port_adds(void)
{
        for (unsigned int i = 0; i < con.nports; i++)
                expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, ANY);
}

/* virtcons_probe with MULTIPORT: every queue, control RX buffers, then DEVICE_READY. */
static void multiport_ready(uint64_t want)
{
        attach();
        driver_up(want | MP);
        ctrl_buffers(32);
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        expect_port_adds();
        ctrl_none();
}

/* multiport_ready, then every port opened by the driver. */
static void multiport_up(uint64_t want)
{
        multiport_ready(want);
        /* As Linux does once hvc0 / the port's device is opened: wisp holds a
         * port's input until then (Linux would discard it). */
        for (unsigned int id = 0; id < con.nports; id++)
                ctrl_send(id, VIRTIO_CONSOLE_PORT_OPEN, 1);
        for (unsigned int id = 0; id < con.nports; id++)
                cr_assert(con.port[id].guest_open, "port %u", id);
}

/* The config interrupt: MSI-X vector 0 (driver_up's config vector). */
static uint64_t config_irqs(void)
{
        const struct vph_irqfd *irq = vph_irqfd_for_gsi(&h, con.vp.msix.gsi[0]);

        cr_assert_not_null(irq);
        return vph_efd_take(irq->fd);
}

static uint16_t devcfg16(size_t off)
{
        return (uint16_t)vph_devcfg_read(&f, (uint32_t)off, 2);
}

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
