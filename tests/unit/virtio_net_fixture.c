/* Test fixture for test_virtio_net_*: see virtio_net_fixture.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "virtio_net_fixture.h"
#include "vph_driver.h"
#include "vmm/log.h"

struct vph h;
struct virtio_net n;
static bool n_up;
struct vph_fn f;
int peer[NET_MAX_PAIRS]; /* the test's end of each "tap" */
struct vring_driver drv[MAX_Q];
uint16_t next_desc[MAX_Q], noff[MAX_Q];
unsigned int nq, cq; /* queues, and the one the driver uses for control */
static uint64_t heap;

/* --- writev, seen: a vCPU that rewrites the guest's header while the device sends it --------- */

void *scribble;
size_t scribble_len;

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
        if (scribble) {
                memset(scribble, 0xff, scribble_len);
                scribble = NULL;
        }
        return syscall(SYS_writev, fd, iov, iovcnt);
}

/* --- ioctl, seen: what the device asks of the tap, answered as a tap would ------------------ */

#define MAX_IOCTLS 256

struct tap_ioctl {
        int fd;
        unsigned long req;
        unsigned long val; /* TUNSETOFFLOAD's argument, *(int *) for TUNSETVNETHDRSZ, ifr_flags */
};

static struct tap_ioctl ioctls[MAX_IOCTLS];
static unsigned int nioctls;

int ioctl(int fd, unsigned long req, ...)
{
        va_list ap;
        void *arg;

        va_start(ap, req);
        arg = va_arg(ap, void *);
        va_end(ap);
        if ((req == TUNSETOFFLOAD || req == TUNSETVNETHDRSZ || req == TUNSETQUEUE) &&
            nioctls < MAX_IOCTLS) {
                struct tap_ioctl *t = &ioctls[nioctls++];

                t->fd = fd;
                t->req = req;
                if (req == TUNSETOFFLOAD)
                        t->val = (unsigned long)arg & 0xffffffffu;
                else if (req == TUNSETVNETHDRSZ)
                        t->val = (unsigned long)*(int *)arg;
                else
                        t->val = (unsigned long)((struct ifreq *)arg)->ifr_flags;
                return 0; /* a socket would refuse them: say yes, as the tap does */
        }
        return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* The value of the last req on fd, or -1 when there was none. */
long last_ioctl(int fd, unsigned long req)
{
        for (unsigned int i = nioctls; i-- > 0;)
                if (ioctls[i].fd == fd && ioctls[i].req == req)
                        return (long)ioctls[i].val;
        return -1;
}

/* How many times req was asked of fd. */
unsigned int count_ioctls(int fd, unsigned long req)
{
        unsigned int c = 0;

        for (unsigned int i = 0; i < nioctls; i++)
                c += ioctls[i].fd == fd && ioctls[i].req == req;
        return c;
}

/* --- set-up -------------------------------------------------------------------------------- */

void setup(void)
{
        log_set_level(LOG_ERROR);
        cr_assert_eq(vph_init(&h, RAM_SIZE), 0);
        heap = HEAP_BASE;
        memset(next_desc, 0, sizeof(next_desc));
        for (unsigned int i = 0; i < NET_MAX_PAIRS; i++)
                peer[i] = -1;
        n_up = false;
        scribble = NULL;
        nioctls = 0;
}

void teardown(void)
{
        if (n_up)
                virtio_net_close(&n);
        n_up = false;
        for (unsigned int i = 0; i < NET_MAX_PAIRS; i++)
                if (peer[i] >= 0)
                        close(peer[i]);
        vph_fini(&h);
}

/*
 * What virtio_net_open leaves behind, with one end of a SOCK_SEQPACKET pair per queue pair as
 * the tap (one record per frame, as a tap reads and writes them), then attached and probed.
 */
void attach(const char *spec)
{
        struct net_options o;
        char err[256];

        cr_assert_eq(net_options_parse(spec, &o, err, sizeof(err)), 0, "%s", err);
        memset(&n, 0, sizeof(n));
        n.opt = o;
        for (unsigned int i = 0; i < NET_MAX_PAIRS; i++)
                n.pair[i].tap_fd = -1;
        n_up = true;
        for (unsigned int i = 0; i < o.queues; i++) {
                int sv[2];

                cr_assert_eq(
                    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
                n.pair[i].tap_fd = sv[0];
                peer[i] = sv[1];
                n.pair[i].pkt = malloc(NET_HDR_MRG + NET_MAX_FRAME);
                cr_assert_not_null(n.pair[i].pkt);
        }
        nq = 2 * o.queues + 1;
        cr_assert_eq(virtio_net_attach(&n, &h.env, &h.bus), 0);
        cr_assert_eq(vph_probe(&h, n.vp.pci.slot, &f), 0);
}

static const struct vph_rings rings = {QSZ, RING_BASE, RING_STRIDE};

uint64_t ring(unsigned int q, unsigned int which)
{
        return vph_ring(&rings, q, which);
}

/*
 * virtnet_probe's order: negotiate, MSI-X with a vector per queue, the first count queues
 * (the control queue is the last of them), DRIVER_OK.
 */
void driver_up_n(uint64_t want, unsigned int count)
{
        cq = count - 1;
        vph_driver_up(&f, &h.mem, &rings, drv, noff, want, nq + 1, count);
        for (unsigned int q = 0; q < count; q++)
                next_desc[q] = 0;
}

/* Every queue the device has. */
void driver_up(uint64_t want)
{
        driver_up_n(want, nq);
}

/* --- guest memory and rings ------------------------------------------------------------------ */

uint64_t galloc(uint64_t len, uint64_t align)
{
        return vph_galloc(&heap, RAM_SIZE, len, align);
}

void *gptr(uint64_t gpa, uint64_t len)
{
        return vph_gptr(&h, gpa, len);
}

/*
 * Copies len bytes into guest RAM (src NULL: fills with 0xcc) and posts them on queue q as one
 * chain: a first descriptor of first bytes, then descriptors of seg bytes (0: the rest in one),
 * all readable or all writable. Unpublished.
 */
struct chain post_split(unsigned int q, const void *src, uint32_t len, uint32_t first, uint32_t seg,
                        bool write)
{
        struct chain c = {.len = len};
        struct vd_buf bufs[MAX_SEGS];
        unsigned int k = 0;

        c.gpa = galloc(len, 16);
        if (src)
                memcpy(gptr(c.gpa, len), src, len);
        else
                memset(gptr(c.gpa, len), 0xcc, len);
        for (uint32_t off = 0, piece = first ? first : len; off < len; off += piece) {
                if (off)
                        piece = seg ? seg : len;
                if (piece > len - off)
                        piece = len - off;
                cr_assert_lt(k, MAX_SEGS);
                bufs[k++] = (struct vd_buf){c.gpa + off, piece, write};
        }
        c.head = vd_add_chain(&drv[q], next_desc[q], bufs, k);
        next_desc[q] = (uint16_t)((next_desc[q] + k) % QSZ);
        return c;
}

struct chain post(unsigned int q, const void *src, uint32_t len, uint32_t seg, bool write)
{
        return post_split(q, src, len, seg, seg, write);
}

struct chain post_rx(unsigned int q, uint32_t len)
{
        return post(q, NULL, len, 0, true);
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

/* Runs the event loop until queue q has n used entries to read (5 s at most). */
void wait_used(unsigned int q, unsigned int n_)
{
        vph_wait_used(&h, &drv[q], q, n_);
}

/* Runs the event loop until it has nothing left to do. */
void settle(void)
{
        vph_settle(&h);
}

void used(unsigned int q, uint16_t head, uint32_t len)
{
        vph_expect_used(&drv[q], q, head, len);
}

/* --- frames ----------------------------------------------------------------------------------- */

static void fill(uint8_t *p, uint32_t len, uint8_t seed)
{
        for (uint32_t i = 0; i < len; i++)
                p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* hdr (hlen bytes of it) followed by a patterned frame of flen bytes, in buf. */
uint32_t frame(uint8_t *buf, const struct virtio_net_hdr_mrg_rxbuf *hdr, uint32_t hlen,
               uint32_t flen, uint8_t seed)
{
        memcpy(buf, hdr, hlen);
        fill(buf + hlen, flen, seed);
        return hlen + flen;
}

void tap_send(unsigned int pair, const void *buf, uint32_t len)
{
        cr_assert_eq(send(peer[pair], buf, len, 0), (ssize_t)len, "send: %s", strerror(errno));
}

/* One record from the tap's far end, or -1 when there is none. */
ssize_t tap_recv(unsigned int pair, void *buf, size_t cap)
{
        return recv(peer[pair], buf, cap, MSG_DONTWAIT);
}

void tap_empty(unsigned int pair)
{
        uint8_t b[64];

        cr_assert_eq(tap_recv(pair, b, sizeof(b)), -1, "pair %u: the tap got a frame", pair);
        cr_assert_eq(errno, EAGAIN);
}

const struct virtio_net_hdr_mrg_rxbuf plain_hdr = {0};

uint8_t big[NET_HDR_MRG + NET_MAX_FRAME + 64], got[NET_HDR_MRG + NET_MAX_FRAME + 64];
