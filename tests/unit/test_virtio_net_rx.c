/* Unit tests for devices/virtio_net.c end to end: a socketpair stands in for the tap. */
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
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/virtio_net.h"
#include "vmm/log.h"
#include "vpci_harness.h"
#include "vring_driver.h"

#define RAM_SIZE (32ull << 20)
#define QSZ NET_QUEUE_SIZE
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x4000ull /* 256 entries: 4 KiB table, avail, used */
#define HEAP_BASE 0x400000ull
#define MAX_Q (2 * NET_MAX_PAIRS + 1)
#define MAX_SEGS 64 /* NET_MAX_SEGS in virtio_net.c: the longest chain the device takes */
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define F(bit) (1ull << (bit))
#define MRG F(VIRTIO_NET_F_MRG_RXBUF)
/* Everything the device offers but EVENT_IDX: then every batch interrupts. */
#define WANT (~F(VIRTIO_RING_F_EVENT_IDX))
#define ACK_UNSET 0xee
#define NUMBUF_OFF offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers)

static struct vph h;
static struct virtio_net n;
static bool n_up;
static struct vph_fn f;
static int peer[NET_MAX_PAIRS]; /* the test's end of each "tap" */
static struct vring_driver drv[MAX_Q];
static uint16_t next_desc[MAX_Q], noff[MAX_Q];
static unsigned int nq, cq; /* queues, and the one the driver uses for control */
static uint64_t heap;

/* --- writev, seen: a vCPU that rewrites the guest's header while the device sends it --------- */

static void *scribble;
static size_t scribble_len;

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
static long last_ioctl(int fd, unsigned long req)
{
        for (unsigned int i = nioctls; i-- > 0;)
                if (ioctls[i].fd == fd && ioctls[i].req == req)
                        return (long)ioctls[i].val;
        return -1;
}

/* How many times req was asked of fd. */
static unsigned int count_ioctls(int fd, unsigned long req)
{
        unsigned int c = 0;

        for (unsigned int i = 0; i < nioctls; i++)
                c += ioctls[i].fd == fd && ioctls[i].req == req;
        return c;
}

/* --- set-up -------------------------------------------------------------------------------- */

static void setup(void)
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

static void teardown(void)
{
        if (n_up)
                virtio_net_close(&n);
        n_up = false;
        for (unsigned int i = 0; i < NET_MAX_PAIRS; i++)
                if (peer[i] >= 0)
                        close(peer[i]);
        vph_fini(&h);
}

TestSuite(vnet, .init = setup, .fini = teardown);

/*
 * What virtio_net_open leaves behind, with one end of a SOCK_SEQPACKET pair per queue pair as
 * the tap (one record per frame, as a tap reads and writes them), then attached and probed.
 */
static void attach(const char *spec)
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

static uint64_t ring(unsigned int q, unsigned int which)
{
        return RING_BASE + q * RING_STRIDE + which * 0x1000;
}

/*
 * virtnet_probe's order: negotiate, MSI-X with a vector per queue, the first count queues
 * (the control queue is the last of them), DRIVER_OK.
 */
static void driver_up_n(uint64_t want, unsigned int count)
{
        cr_assert_eq(vph_modern_negotiate(&f, want, NULL), 0);
        vph_msix_enable(&f, nq + 1);
        cr_assert_eq(vph_modern_config_vector(&f, 0), 0);
        cq = count - 1;
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

/* Every queue the device has. */
static void driver_up(uint64_t want)
{
        driver_up_n(want, nq);
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

struct chain {
        uint16_t head;
        uint64_t gpa; /* the chain's bytes lie contiguous in guest RAM from here */
        uint32_t len;
};

/*
 * Copies len bytes into guest RAM (src NULL: fills with 0xcc) and posts them on queue q as one
 * chain: a first descriptor of first bytes, then descriptors of seg bytes (0: the rest in one),
 * all readable or all writable. Unpublished.
 */
static struct chain post_split(unsigned int q, const void *src, uint32_t len, uint32_t first,
                               uint32_t seg, bool write)
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

static struct chain post(unsigned int q, const void *src, uint32_t len, uint32_t seg, bool write)
{
        return post_split(q, src, len, seg, seg, write);
}

static struct chain post_rx(unsigned int q, uint32_t len)
{
        return post(q, NULL, len, 0, true);
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

/* Runs the event loop until queue q has n used entries to read (5 s at most). */
static void wait_used(unsigned int q, unsigned int n_)
{
        for (int i = 0; i < 500 && pending_used(q) < n_; i++)
                cr_assert_geq(vph_poll(&h, 10), 0);
        cr_assert_geq(pending_used(q), n_, "queue %u: %u of %u used", q, pending_used(q), n_);
}

/* Runs the event loop until it has nothing left to do. */
static void settle(void)
{
        for (int i = 0; i < 100 && vph_poll(&h, 20) > 0; i++)
                ;
}

static void used(unsigned int q, uint16_t head, uint32_t len)
{
        uint32_t id, l;

        cr_assert(vd_get_used(&drv[q], &id, &l), "queue %u: no used entry for head %u", q, head);
        cr_assert_eq(id, head, "queue %u: used head %u, wanted %u", q, id, head);
        cr_assert_eq(l, len, "queue %u head %u: used length %u, wanted %u", q, head, l, len);
}

/* --- frames ----------------------------------------------------------------------------------- */

static void fill(uint8_t *p, uint32_t len, uint8_t seed)
{
        for (uint32_t i = 0; i < len; i++)
                p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* hdr (hlen bytes of it) followed by a patterned frame of flen bytes, in buf. */
static uint32_t frame(uint8_t *buf, const struct virtio_net_hdr_mrg_rxbuf *hdr, uint32_t hlen,
                      uint32_t flen, uint8_t seed)
{
        memcpy(buf, hdr, hlen);
        fill(buf + hlen, flen, seed);
        return hlen + flen;
}

static void tap_send(unsigned int pair, const void *buf, uint32_t len)
{
        cr_assert_eq(send(peer[pair], buf, len, 0), (ssize_t)len, "send: %s", strerror(errno));
}

/* One record from the tap's far end, or -1 when there is none. */
static ssize_t tap_recv(unsigned int pair, void *buf, size_t cap)
{
        return recv(peer[pair], buf, cap, MSG_DONTWAIT);
}

static void tap_empty(unsigned int pair)
{
        uint8_t b[64];

        cr_assert_eq(tap_recv(pair, b, sizeof(b)), -1, "pair %u: the tap got a frame", pair);
        cr_assert_eq(errno, EAGAIN);
}

static const struct virtio_net_hdr_mrg_rxbuf plain_hdr = {0};

static uint8_t big[NET_HDR_MRG + NET_MAX_FRAME + 64], got[NET_HDR_MRG + NET_MAX_FRAME + 64];

/* --- features, config, header size ------------------------------------------------------------ */

Test(vnet, offers_its_features_and_config)
{
        uint64_t feat;
        uint8_t mac[6];

        attach("tap=t0,mac=02:12:34:56:78:9a");
        cr_assert_eq(f.device, 0x1000, "transitional network device");
        vph_modern_reset(&f);
        feat = vph_modern_device_features(&f);
        static const unsigned int bits[] = {
            VIRTIO_NET_F_CSUM,       VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MAC,
            VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_HOST_TSO4,
            VIRTIO_NET_F_HOST_TSO6,  VIRTIO_NET_F_MRG_RXBUF,  VIRTIO_NET_F_STATUS,
            VIRTIO_NET_F_CTRL_VQ,    VIRTIO_NET_F_CTRL_RX,    VIRTIO_F_VERSION_1};
        for (unsigned int i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
                cr_assert(feat & F(bits[i]), "feature %u not offered", bits[i]);
        cr_assert_not(feat & F(VIRTIO_NET_F_MQ), "one pair: no MQ");
        cr_assert_not(feat & F(VIRTIO_NET_F_HOST_UFO));
        cr_assert_not(feat & F(VIRTIO_NET_F_GUEST_UFO));
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), 3, "rx, tx, control");
        for (unsigned int i = 0; i < 6; i++)
                mac[i] =
                    (uint8_t)vph_devcfg_read(&f, offsetof(struct virtio_net_config, mac) + i, 1);
        cr_assert_eq(memcmp(mac, (uint8_t[]){0x02, 0x12, 0x34, 0x56, 0x78, 0x9a}, 6), 0);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_net_config, status), 2),
                     VIRTIO_NET_S_LINK_UP);
        cr_assert_eq(
            vph_devcfg_read(&f, offsetof(struct virtio_net_config, max_virtqueue_pairs), 2), 1);
}

Test(vnet, several_pairs_offer_mq)
{
        attach("tap=t0,queues=4,transport=modern");
        cr_assert_eq(f.device, 0x1041, "modern network device");
        vph_modern_reset(&f);
        cr_assert(vph_modern_device_features(&f) & F(VIRTIO_NET_F_MQ));
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), 9);
        cr_assert_eq(
            vph_devcfg_read(&f, offsetof(struct virtio_net_config, max_virtqueue_pairs), 2), 4);
}

Test(vnet, version_1_uses_the_12_byte_header_with_and_without_mrg)
{
        attach("tap=t0");
        driver_up(WANT);
        cr_assert_eq(n.hdr_len, 12);
        cr_assert(n.pair[0].tap_watched, "DRIVER_OK arms the tap");
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_not(n.pair[0].tap_watched, "reset disarms it");
        driver_up(WANT & ~MRG);
        cr_assert_eq(n.hdr_len, 12);
        cr_assert(n.pair[0].tap_watched);
}

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

/* --- several pairs ---------------------------------------------------------------------------- */

static uint8_t ctrl_ack(uint8_t class, uint8_t cmd, const void *data, uint32_t dlen);

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

/* --- the legacy transport: a 10-byte header without MRG_RXBUF ----------------------------------
 */

static void legacy_up(uint32_t features)
{
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, 0);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV);
        vph_legacy_write(&f, VIRTIO_PCI_GUEST_FEATURES, 4,
                         vph_legacy_read(&f, VIRTIO_PCI_HOST_FEATURES, 4) & features);
        for (unsigned int q = 0; q < nq; q++) {
                uint64_t desc = ring(q, 0), avail = desc + 16 * QSZ;
                uint64_t usedr = (avail + 6 + 2 * QSZ + 4095) & ~4095ull;

                vph_legacy_write(&f, VIRTIO_PCI_QUEUE_SEL, 2, q);
                cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_QUEUE_NUM, 2), QSZ);
                vd_init(&drv[q], &h.mem, QSZ, desc, avail, usedr);
                next_desc[q] = 0;
                vph_legacy_write(&f, VIRTIO_PCI_QUEUE_PFN, 4, desc >> 12);
        }
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV | DOK);
}

static void legacy_kick(unsigned int q)
{
        vd_publish(&drv[q]);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_NOTIFY, 2, q);
}

Test(vnet, legacy_driver_header_is_10_bytes_without_mrg_and_12_with)
{
        uint8_t buf[256];
        struct chain t, r;
        uint32_t len;

        attach("tap=t0,transport=legacy");
        legacy_up(~(uint32_t)MRG);
        cr_assert_eq(n.hdr_len, 10);
        len = frame(buf, &plain_hdr, 10, 60, 0x61);
        t = post(1, buf, len, 0, false);
        legacy_kick(1);
        wait_used(1, 1);
        used(1, t.head, 0);
        cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len, "10 + 60 bytes");
        cr_assert_eq(memcmp(got, buf, len), 0);
        r = post_rx(0, 2048);
        legacy_kick(0);
        len = frame(buf, &plain_hdr, 10, 100, 0x62);
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, r.head, len);
        cr_assert_eq(memcmp(gptr(r.gpa, len), buf, len), 0);

        legacy_up(~0u);
        cr_assert_eq(n.hdr_len, 12, "MRG_RXBUF brings num_buffers");
}
