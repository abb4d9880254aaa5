/* Fuzz target: the virtio-net TX/RX header path, net_tx_hdr_check alone and the device on a
 * socketpair. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "devices/virtio_net.h"
#include "fuzz_driver.h"
#include "fuzz_input.h"
#include "vmm/log.h"

/*
 * The first byte picks the mode. Even: a header, feature bits and a frame length go to
 * net_tx_hdr_check (an accepted checksum request lies inside the frame; a GSO type is one
 * negotiated) and net_tap_offloads (offloads only for accepted features). Odd: a virtio-net
 * function whose "tap" is one end of a SOCK_SEQPACKET pair, as in test_virtio_net_*.c, driven
 * by fuzz_driver.h's operations plus the tap sending frames to the guest and the test
 * reading what the guest transmitted: every frame that reaches the tap starts with a header
 * that net_tx_hdr_check accepts for the negotiated features, and is no larger than allowed.
 */

/* --- the tap's ioctls, answered as a tap would (a socket refuses them) -------------------- */

int ioctl(int fd, unsigned long req, ...)
{
        va_list ap;
        void *arg;

        va_start(ap, req);
        arg = va_arg(ap, void *);
        va_end(ap);
        if (req == TUNSETOFFLOAD || req == TUNSETVNETHDRSZ || req == TUNSETQUEUE)
                return 0;
        return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* --- net_tx_hdr_check ----------------------------------------------------------------------- */

static void hdr_one(struct fin *in)
{
        struct virtio_net_hdr h;
        uint64_t features = fin_u64(in);
        uint32_t len = fin_u8(in) & 1 ? fin_u32(in) : fin_u16(in);
        unsigned int off;

        fin_bytes(in, &h, sizeof(h));
        if (net_tx_hdr_check(&h, features, len) == 0) {
                FUZZ_CHECK(len > 0 && len <= NET_MAX_FRAME);
                if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
                        FUZZ_CHECK((uint32_t)h.csum_start + h.csum_offset + 2 <= len);
                if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4)
                        FUZZ_CHECK(features & (1ull << VIRTIO_NET_F_HOST_TSO4));
                if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV6)
                        FUZZ_CHECK(features & (1ull << VIRTIO_NET_F_HOST_TSO6));
                if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE)
                        FUZZ_CHECK(h.gso_size > 0 && h.hdr_len <= len);
        }
        off = net_tap_offloads(features);
        if (off)
                FUZZ_CHECK(features & (1ull << VIRTIO_NET_F_GUEST_CSUM));
        if (off & TUN_F_TSO4)
                FUZZ_CHECK(features & (1ull << VIRTIO_NET_F_GUEST_TSO4));
        if (off & TUN_F_TSO6)
                FUZZ_CHECK(features & (1ull << VIRTIO_NET_F_GUEST_TSO6));
}

/* --- the device ------------------------------------------------------------------------------ */

static struct vph h;
static struct virtio_net n;
static struct vph_fn f;
static int peer[NET_MAX_PAIRS];
static uint8_t frame_buf[NET_HDR_MRG + NET_MAX_FRAME + 64];

/* Everything the guest sent so far, checked as the tap would take it. */
static void tap_drain(unsigned int pairs)
{
        for (unsigned int i = 0; i < pairs; i++) {
                ssize_t r;

                while ((r = recv(peer[i], frame_buf, sizeof(frame_buf), MSG_DONTWAIT)) >= 0) {
                        struct virtio_net_hdr hdr;

                        FUZZ_CHECK((size_t)r >= n.hdr_len && n.hdr_len >= sizeof(hdr));
                        FUZZ_CHECK((size_t)r - n.hdr_len <= NET_MAX_FRAME);
                        memcpy(&hdr, frame_buf, sizeof(hdr));
                        FUZZ_CHECK(
                            net_tx_hdr_check(&hdr, n.dev.features, (uint32_t)(r - n.hdr_len)) == 0);
                }
        }
}

/* The tap hands the guest a frame: a header (as the kernel writes it) and bytes. */
static void tap_send(struct fin *in, unsigned int pairs)
{
        unsigned int pair = fin_u8(in) % pairs;
        uint32_t len = fin_u8(in) & 1 ? fin_u16(in) : fin_u8(in);

        if (len > sizeof(frame_buf))
                len = sizeof(frame_buf);
        memset(frame_buf, 0, len);
        fin_bytes(in, frame_buf, len < 64 ? len : 64);
        (void)send(peer[pair], frame_buf, len, MSG_DONTWAIT);
}

static void device_run(struct fin *in)
{
        struct fz_drv d = {.h = &h, .f = &f};
        struct net_options o;
        uint8_t cfg = fin_u8(in);
        unsigned int pairs = 1 + (cfg & 1);
        char spec[64], err[256];

        snprintf(spec, sizeof(spec), "tap=fuzz0,queues=%u%s", pairs,
                 cfg & 2 ? ",transport=modern" : "");
        if (vph_init(&h, FZ_RAM) || net_options_parse(spec, &o, err, sizeof(err)))
                abort();
        memset(&n, 0, sizeof(n));
        n.opt = o;
        for (unsigned int i = 0; i < NET_MAX_PAIRS; i++) {
                n.pair[i].tap_fd = -1;
                peer[i] = -1;
        }
        for (unsigned int i = 0; i < pairs; i++) {
                int sv[2];

                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
                        abort();
                n.pair[i].tap_fd = sv[0];
                peer[i] = sv[1];
                n.pair[i].pkt = malloc(NET_HDR_MRG + NET_MAX_FRAME);
                if (!n.pair[i].pkt)
                        abort();
        }
        d.nq = 2 * pairs + 1;
        if (virtio_net_attach(&n, &h.env, &h.bus) || vph_probe(&h, n.vp.pci.slot, &f))
                abort();
        fz_up(&d, cfg & 0x80 ? ~0ull : fin_u64(in));
        while (in->n) {
                unsigned int op = fin_u8(in) % (FZ_OPS + 2);

                if (op == FZ_OPS)
                        tap_send(in, pairs);
                else if (op == FZ_OPS + 1)
                        tap_drain(pairs);
                else {
                        /* What was sent before a reset was checked against the features
                         * of its time: read it before they change. */
                        if (op == 8)
                                tap_drain(pairs);
                        fz_op(&d, op, in);
                }
        }
        for (int i = 0; i < 4 && vph_poll(&h, 0) > 0; i++)
                ;
        tap_drain(pairs);
        if (getenv("FUZZ_VERBOSE")) /* for writing seeds: did the frames get through? */
                fprintf(stderr, "fuzz_net: up %d, tx %lu dropped %lu, rx %lu dropped %lu\n", d.up,
                        n.stats.tx_frames, n.stats.tx_dropped, n.stats.rx_frames,
                        n.stats.rx_dropped);
        virtio_net_close(&n);
        for (unsigned int i = 0; i < pairs; i++)
                close(peer[i]);
        vph_fini(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fin in = fin_make(data, size);

        log_set_level(LOG_ERROR);
        if (fin_u8(&in) & 1)
                device_run(&in);
        else
                hdr_one(&in);
        return 0;
}
