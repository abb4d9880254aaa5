/* Test fixture for test_virtio_console_*: see virtio_console_fixture.h. */
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

#include <linux/virtio_pci.h>

#include "virtio_console_fixture.h"
#include "vph_driver.h"
#include "vmm/log.h"

struct vph h;
struct virtio_console con;
static bool con_up;
struct vph_fn f;
static int out_pipe[2]; /* port 0's output: [1] is the device's out_fd */
int client[NAMED + 1];  /* by port id: the test's end of each port's socket */
static char dir[64];
struct vcon_port_options opts[NAMED];
struct vring_driver drv[MAX_Q];
static uint16_t next_desc[MAX_Q], noff[MAX_Q];
uint64_t head_gpa[MAX_Q][QSZ]; /* where each posted chain's bytes lie */
unsigned int nq;
static uint64_t heap;
unsigned int room_calls;

static void on_room(void *ctx)
{
        (*(unsigned int *)ctx)++;
}

/* --- set-up -------------------------------------------------------------------------------- */

void setup(void)
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

void teardown(void)
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

void attach(void)
{
        attach_n(NAMED);
}

static const struct vph_rings rings = {QSZ, RING_BASE, RING_STRIDE};

uint64_t ring(unsigned int q, unsigned int which)
{
        return vph_ring(&rings, q, which);
}

/*
 * virtcons_probe's order: negotiate, MSI-X with a vector per queue, the first count queues,
 * DRIVER_OK. With MULTIPORT Linux sets up every queue; without it only port 0's two.
 */
void driver_up_n(uint64_t want, unsigned int count)
{
        vph_driver_up(&f, &h.mem, &rings, drv, noff, want, nq + 1, count);
        for (unsigned int q = 0; q < count; q++)
                next_desc[q] = 0;
}

void driver_up(uint64_t want)
{
        driver_up_n(want, (want & MP) ? nq : 2);
}

uint8_t status(void)
{
        return (uint8_t)vph_common_read(&f, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* --- guest memory and rings ------------------------------------------------------------------ */

static uint64_t galloc(uint64_t len, uint64_t align)
{
        return vph_galloc(&heap, RAM_SIZE, len, align);
}

void *gptr(uint64_t gpa, uint64_t len)
{
        return vph_gptr(&h, gpa, len);
}

/*
 * Copies len bytes into guest RAM (src NULL: fills with 0xcc) and posts them on queue q as one
 * chain of seg-byte descriptors (0: one descriptor), all readable or all writable. Unpublished.
 */
uint16_t post_seg(unsigned int q, const void *src, uint32_t len, uint32_t seg, bool write)
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

uint16_t post(unsigned int q, const void *src, uint32_t len, bool write)
{
        return post_seg(q, src, len, 0, write);
}

/* n writable buffers of len bytes on queue q, published (no kick). */
void post_rx(unsigned int q, unsigned int n, uint32_t len)
{
        for (unsigned int i = 0; i < n; i++)
                post(q, NULL, len, true);
        vd_publish(&drv[q]);
}

void kick(unsigned int q)
{
        vd_publish(&drv[q]);
        vph_modern_notify(&f, (uint16_t)q, noff[q]);
}

unsigned int pending_used(unsigned int q)
{
        return vph_pending_used(&drv[q]);
}

/* Runs the event loop until it has nothing left to do (a bounded number of rounds). */
void settle(void)
{
        vph_settle(&h);
}

/* Runs the event loop until queue q has n used entries to read (5 s at most). */
void wait_used(unsigned int q, unsigned int n)
{
        vph_wait_used(&h, &drv[q], q, n);
}

void used(unsigned int q, uint16_t head, uint32_t len)
{
        vph_expect_used(&drv[q], q, head, len);
}

/* Concatenates what the device wrote into every used buffer of queue q. Returns the bytes. */
size_t gather(unsigned int q, uint8_t *buf, size_t cap)
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

void fill(uint8_t *p, size_t len, uint8_t seed)
{
        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* --- the host ends ---------------------------------------------------------------------------- */

/* Port 0's output so far (the pipe, not waiting). */
size_t out_read(void *buf, size_t cap)
{
        ssize_t n = read(out_pipe[0], buf, cap);

        return n < 0 ? 0 : (size_t)n;
}

void out_empty(void)
{
        uint8_t b[16];

        cr_assert_eq(out_read(b, sizeof(b)), 0, "port 0 wrote something");
}

/* A client connects to port id's socket; the event loop accepts it. */
void connect_client(unsigned int id)
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

void close_client(unsigned int id)
{
        close(client[id]);
        client[id] = -1;
        settle();
}

void client_send(unsigned int id, const void *buf, size_t len)
{
        cr_assert_eq(send(client[id], buf, len, MSG_NOSIGNAL), (ssize_t)len, "send: %s",
                     strerror(errno));
}

size_t client_recv(unsigned int id, void *buf, size_t cap)
{
        ssize_t n = recv(client[id], buf, cap, MSG_DONTWAIT);

        return n < 0 ? 0 : (size_t)n;
}

/* Bytes the device has not read yet from its end of port id's socket. */
int unread(unsigned int id)
{
        int n = -1;

        cr_assert_eq(ioctl(con.port[id].conn_fd, FIONREAD, &n), 0);
        return n;
}

/* --- the control queues ------------------------------------------------------------------------
 */

/* n control RX buffers, published (no kick). */
void ctrl_buffers(unsigned int n)
{
        post_rx(CRX, n, CTRL_BUF);
}

/* Posts raw bytes as one control message (unkicked). Returns the head. */
uint16_t ctrl_post_raw(const void *msg, uint32_t len)
{
        return post(CTX, msg, len, false);
}

uint16_t ctrl_post(uint32_t id, uint16_t event, uint16_t value)
{
        struct virtio_console_control m = {.id = id, .event = event, .value = value};

        return ctrl_post_raw(&m, sizeof(m));
}

/* The driver sends one control message; the device returns it having written nothing. */
void ctrl_send(uint32_t id, uint16_t event, uint16_t value)
{
        uint16_t head = ctrl_post(id, event, value);

        kick(CTX);
        wait_used(CTX, 1);
        used(CTX, head, 0);
}

bool ctrl_next(struct cmsg *m)
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
struct cmsg expect_ctrl(uint32_t id, uint16_t event, uint32_t value)
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

void ctrl_none(void)
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
void expect_resize(uint16_t cols, uint16_t rows)
{
        struct cmsg m = expect_ctrl(0, VIRTIO_CONSOLE_RESIZE, ANY);
        uint16_t size[2];

        cr_assert_eq(m.extra_len, 4, "RESIZE carries %u bytes", m.extra_len);
        memcpy(size, m.extra, sizeof(size));
        cr_assert_eq(size[0], cols, "RESIZE cols %u, wanted %u", size[0], cols);
        cr_assert_eq(size[1], rows, "RESIZE rows %u, wanted %u", size[1], rows);
}

void expect_port_adds(void)
{
        for (unsigned int i = 0; i < con.nports; i++)
                expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, ANY);
}

/* virtcons_probe with MULTIPORT: every queue, control RX buffers, then DEVICE_READY. */
void multiport_ready(uint64_t want)
{
        attach();
        driver_up(want | MP);
        ctrl_buffers(32);
        ctrl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        expect_port_adds();
        ctrl_none();
}

/* multiport_ready, then every port opened by the driver. */
void multiport_up(uint64_t want)
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
uint64_t config_irqs(void)
{
        const struct vph_irqfd *irq = vph_irqfd_for_gsi(&h, con.vp.msix.gsi[0]);

        cr_assert_not_null(irq);
        return vph_efd_take(irq->fd);
}

uint16_t devcfg16(size_t off)
{
        return (uint16_t)vph_devcfg_read(&f, (uint32_t)off, 2);
}
