/* wisp.test=net: frames both ways with the tap peer, offloads, mergeable RX, MQ, control queue. */
#include "net.h"
#include "x86.h"

#define WAIT_MS 5000
#define WINDOW 8
#define MAX_PAYLOAD 1436 /* a 1514-byte frame */
#define JUMBO_PAYLOAD 8900
#define GSO_MSS 1448
#define GSO_PAYLOAD (10 * GSO_MSS)
#define GSO_MAX_PAYLOAD 65000
#define BIG_BYTES (72UL << 10)
#define SPREAD_PORT 41000
#define MQ_PORT 42000

static struct net net;
static struct peer_link link;
static u8 *big;
static u32 failed_checks;
static enum guest_status first_status;
static u32 seq = 1;

/* A check whose failure does not stop the run: reported, and the run fails at the end. */
#define check_soft(st, ...)                                                                        \
        do {                                                                                       \
                kprintf("net: FAILED CHECK: " __VA_ARGS__);                                        \
                kprintf("\n");                                                                     \
                if (!failed_checks++)                                                              \
                        first_status = (st);                                                       \
        } while (0)

static u16 get16(const u8 *p)
{
        return (u16)(p[0] << 8 | p[1]);
}

static u32 get32(const u8 *p)
{
        return (u32)get16(p) << 16 | get16(p + 2);
}

static void put16(u8 *p, u16 v)
{
        p[0] = (u8)(v >> 8);
        p[1] = (u8)v;
}

/* --- config and control queue ----------------------------------------------------------- */

static void check_config(const struct boot_info *bi)
{
        static const char hex[] = "0123456789abcdef";
        char want[24], got[18];
        u64 v;

        for (int i = 0; i < 6; i++) {
                got[3 * i] = hex[net.mac[i] >> 4];
                got[3 * i + 1] = hex[net.mac[i] & 15];
                got[3 * i + 2] = i < 5 ? ':' : 0;
        }
        if (cmdline_value(bi->cmdline, "expect.mac", want, sizeof(want))) {
                for (char *c = want; *c; c++)
                        if (*c >= 'A' && *c <= 'F')
                                *c = (char)(*c - 'A' + 'a');
                if (!net_has(&net, VIRTIO_NET_F_MAC) || strncmp(want, got, sizeof(got)))
                        guest_fail(ST_NET_CONFIG, "net: mac %s%s, expected %s", got,
                                   net_has(&net, VIRTIO_NET_F_MAC) ? "" : " (no F_MAC)", want);
        }
        if (!(net.link & VIRTIO_NET_S_LINK_UP))
                guest_fail(ST_NET_CONFIG, "net: status 0x%x: link down", net.link);
        if (cmdline_u64(bi->cmdline, "expect.max_pairs", &v) && v != net.max_pairs)
                guest_fail(ST_NET_CONFIG, "net: max_virtqueue_pairs %u, expected %lu",
                           net.max_pairs, v);
        kprintf("net: config: mac %s, link up, max pairs %u\n", got, net.max_pairs);
}

static void expect_ack(u32 got, u32 want, const char *what)
{
        kprintf("net: control: %s -> %s\n", what, net_ack_name(got));
        if (got != want)
                guest_fail(ST_NET_CONFIG, "net: control: %s answered %s, expected %s", what,
                           net_ack_name(got), net_ack_name(want));
}

static void set_pairs(u16 pairs)
{
        u32 ack = net_ctrl(&net, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2);

        kprintf("net: control: VQ_PAIRS_SET %u -> %s\n", pairs, net_ack_name(ack));
        if (ack != VIRTIO_NET_OK)
                guest_fail(ST_NET_CONFIG, "net: VQ_PAIRS_SET %u answered %s", pairs,
                           net_ack_name(ack));
        net.active = pairs;
}

static void control_queue(void)
{
        u8 on = 1, off = 0, tables[8] = {0}, two[2] = {1, 1};
        u16 zero = 0, over = (u16)(net.max_pairs + 1);
        u32 ack;

        if (!net.have_cvq) {
                kprintf("net: no control queue negotiated: control checks skipped\n");
                return;
        }
        if (net_has(&net, VIRTIO_NET_F_CTRL_RX)) {
                expect_ack(net_ctrl(&net, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
                           VIRTIO_NET_OK, "RX PROMISC on");
                expect_ack(net_ctrl(&net, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
                           VIRTIO_NET_OK, "RX PROMISC off");
                expect_ack(net_ctrl(&net, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
                           VIRTIO_NET_OK, "RX ALLMULTI on");
                expect_ack(net_ctrl(&net, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &off, 1),
                           VIRTIO_NET_OK, "RX ALLMULTI off");
        }
        expect_ack(net_ctrl(&net, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables,
                            sizeof(tables)),
                   VIRTIO_NET_OK, "MAC TABLE_SET (two empty tables)");
        expect_ack(net_ctrl(&net, 0x7e, 0, &on, 1), VIRTIO_NET_ERR, "unknown class 0x7e");
        /* Not mandated either way (5.1.6.5): noted only. */
        ack = net_ctrl(&net, VIRTIO_NET_CTRL_RX, 0x55, &on, 1);
        kprintf("net: control: RX command 0x55 (unknown) -> %s (noted)\n", net_ack_name(ack));
        ack = net_ctrl(&net, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, two, 2);
        kprintf("net: control: RX PROMISC with 2 data bytes -> %s (noted)\n", net_ack_name(ack));
        if (net_has(&net, VIRTIO_NET_F_MQ)) {
                expect_ack(
                    net_ctrl(&net, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &zero, 2),
                    VIRTIO_NET_ERR, "VQ_PAIRS_SET 0");
                expect_ack(
                    net_ctrl(&net, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &over, 2),
                    VIRTIO_NET_ERR, "VQ_PAIRS_SET max_virtqueue_pairs + 1");
        }
}

/* --- wire frames --------------------------------------------------------------------------- */

static void check_wire(const struct net_frame *f, const struct wire *w, const char *what)
{
        if (f->hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
                guest_fail(ST_NET, "net: %s seq %u: gso_type %u on a %u-byte UDP frame", what,
                           w->seq, f->hdr.gso_type, f->len);
        if (frame_crc(f, WIRE_PAYLOAD, w->len) != w->crc)
                guest_fail(ST_NET,
                           "net: %s seq %u: %u payload bytes fail their CRC (in %u "
                           "buffers)",
                           what, w->seq, w->len, f->nbufs);
        if (!frame_payload_ok(f, WIRE_PAYLOAD, w->len, w->seq, 0))
                guest_fail(ST_NET, "net: %s seq %u: payload differs", what, w->seq);
}

static u32 echo_size(u32 i)
{
        static const u32 fixed[] = {0, 1, 2, 17, MAX_PAYLOAD, MAX_PAYLOAD - 1, 600};

        return i < ARRAY_SIZE(fixed) ? fixed[i] : (i * 97 + 13) % (MAX_PAYLOAD + 1);
}

/* count echoes on pair p from port sport, WINDOW in flight, layouts and sizes varied. */
static void echo_run(u16 p, u16 sport, u32 count, u32 *rx_on)
{
        static u8 outstanding[4096];
        u32 sent = 0, got = 0, first = seq;
        bool ind = net_has(&net, VIRTIO_RING_F_INDIRECT_DESC);
        static struct net_frame f;
        struct wire w;

        if (count > sizeof(outstanding))
                guest_fail(ST_USAGE, "net: %u echoes", count);
        memset(outstanding, 0, count);
        while (got < count) {
                while (sent < count && sent - got < WINDOW) {
                        u32 arg[4] = {p, sent, 0, 0};
                        struct wire ew = {.op = OP_ECHO, .seq = first + sent};
                        u8 *slot = net_tx_slot(&net, p);
                        u32 len, size = echo_size(sent);

                        if (!slot)
                                break;
                        memcpy(ew.arg, arg, sizeof(arg));
                        memset(slot, 0, net.hdr_len);
                        len = frame_wire(&link, slot + net.hdr_len, sport, &ew, size, false);
                        net_tx_send(&net, p, len, 1 + sent % 4, ind && sent % 3 == 0);
                        outstanding[sent++] = 1;
                }
                if (!peer_wait(&link, OP_ECHO_REPLY, ~0u, &f, &w, WAIT_MS))
                        guest_fail(ST_NET,
                                   "net: pair %u: %u of %u echoes back, none more in %u ms "
                                   "(next seq %u)",
                                   p, got, count, WAIT_MS, first + got);
                if (w.seq < first || w.seq - first >= count || !outstanding[w.seq - first])
                        guest_fail(ST_NET, "net: pair %u: echo of seq %u not outstanding", p,
                                   w.seq);
                outstanding[w.seq - first] = 0;
                if (!(w.flags & 1))
                        guest_fail(ST_NET, "net: pair %u: the peer got echo seq %u corrupted", p,
                                   w.seq);
                if (w.len != echo_size(w.seq - first))
                        guest_fail(ST_NET, "net: echo seq %u: %u bytes back, sent %u", w.seq, w.len,
                                   echo_size(w.seq - first));
                check_wire(&f, &w, "echo");
                if (rx_on)
                        rx_on[f.pair]++;
                net_rx_release(&net, &f);
                got++;
        }
        seq += count;
}

/* The peer sends count DATA frames (payload size + i * step, a flow each if spread). */
static void receive_burst(u16 sport, u32 count, u32 size, u32 step, bool spread, u32 *rx_on)
{
        u32 arg[4] = {count, size, step, spread};
        static struct net_frame f;
        struct wire w;

        peer_send(&link, 0, sport, OP_SEND, seq++, arg, 0, 2);
        for (u32 i = 0; i < count; i++) {
                if (!peer_wait(&link, OP_DATA, ~0u, &f, &w, WAIT_MS))
                        guest_fail(ST_NET, "net: %u of %u DATA frames (%u + i * %u bytes) came", i,
                                   count, size, step);
                if (!spread && w.seq != i)
                        guest_fail(ST_NET, "net: DATA frame %u came as number %u", w.seq, i);
                if (w.len != size + w.seq * step)
                        guest_fail(ST_NET, "net: DATA frame %u: %u bytes, expected %u", w.seq,
                                   w.len, size + w.seq * step);
                check_wire(&f, &w, "data");
                if (rx_on)
                        rx_on[f.pair]++;
                if (size >= 4000)
                        kprintf("net: DATA frame %u: %u bytes in %u buffer%s (first %u)\n", w.seq,
                                f.len, f.nbufs, f.nbufs > 1 ? "s" : "", f.plen[0]);
                net_rx_release(&net, &f);
        }
}

/* --- big frames from a buffer of their own ---------------------------------------------------- */

/* Sends the header + frame at big in nd descriptors (indirect when possible), waits for it. */
static void tx_big(u16 p, u32 len, u32 nd)
{
        struct vbuf v[8];
        u32 part = len / (nd - 1), off = net.hdr_len;

        v[0] = (struct vbuf){(u64)big, net.hdr_len, false};
        for (u32 k = 1; k < nd; k++) {
                u32 l = k + 1 < nd ? part : len - part * (nd - 2);

                v[k] = (struct vbuf){(u64)big + off, l, false};
                off += l;
        }
        if (net_tx_chain(&net, p, v, nd, net_has(&net, VIRTIO_RING_F_INDIRECT_DESC)) < 0)
                guest_fail(ST_VIRTIO, "net: tx queue %u: no room for %u descriptors",
                           net.tx[p].q.index, nd);
        if (!net_tx_drain(&net, p, WAIT_MS))
                guest_fail(ST_NET, "net: tx queue %u: a %u-byte frame not back in %u ms",
                           net.tx[p].q.index, len, WAIT_MS);
}

static void jumbo(void)
{
        struct wire w = {.op = OP_ECHO, .seq = seq++};
        static struct net_frame f;
        u32 len;

        if (!net.mrg && !net.big) {
                kprintf("net: jumbo frames skipped: RX buffers of %u bytes, no MRG_RXBUF\n",
                        net.rx[0].buflen);
                return;
        }
        receive_burst(NET_GUEST_PORT, 1, JUMBO_PAYLOAD, 0, false, NULL);
        if (net.mrg && net.rx[0].merged == 0 && net.rx[0].buflen < JUMBO_PAYLOAD)
                guest_fail(ST_NET, "net: a %u-byte frame in %u-byte buffers was not merged",
                           JUMBO_PAYLOAD, net.rx[0].buflen);
        /* TX of a jumbo frame, echoed back. */
        memset(big, 0, net.hdr_len);
        len = frame_wire(&link, big + net.hdr_len, NET_GUEST_PORT, &w, JUMBO_PAYLOAD - 900, false);
        tx_big(0, len, 4);
        if (!peer_wait(&link, OP_ECHO_REPLY, w.seq, &f, &w, WAIT_MS))
                guest_fail(ST_NET, "net: no echo of a %u-byte frame", len);
        if (!(w.flags & 1))
                guest_fail(ST_NET, "net: the peer got the %u-byte frame corrupted", len);
        check_wire(&f, &w, "jumbo echo");
        kprintf("net: jumbo: %u-byte frame sent and echoed (%u buffers)\n", len, f.nbufs);
        net_rx_release(&net, &f);
}

/* --- TCP: checksum offload and GSO ---------------------------------------------------------- */

static void tcp_result(u32 tseq, u32 want_len, u32 want_segs, u32 want_flags)
{
        static struct net_frame f;
        struct wire w;

        if (!peer_wait(&link, OP_TCP_RESULT, tseq, &f, &w, WAIT_MS))
                guest_fail(ST_NET, "net: no TCP_RESULT for tcp seq %u: the frame was lost", tseq);
        net_rx_release(&net, &f);
        kprintf("net: peer on tcp seq %u: %u payload bytes, %u segment(s), flags 0x%x, gso_size "
                "%u\n",
                tseq, w.arg[0], w.arg[1], w.arg[2], w.arg[3]);
        if (w.arg[0] != want_len || w.arg[1] != want_segs || w.arg[2] != want_flags)
                guest_fail(ST_NET,
                           "net: tcp seq %u: the peer saw %u bytes, %u segments, flags 0x%x; "
                           "expected %u, %u, 0x%x (1 csum, 2 ip csum, 4 data, 8 partial, 16 gso)",
                           tseq, w.arg[0], w.arg[1], w.arg[2], want_len, want_segs, want_flags);
}

static void tx_tcp(void)
{
        bool csum = net_has(&net, VIRTIO_NET_F_CSUM);
        struct virtio_net_hdr *h = (struct virtio_net_hdr *)big;
        u32 tseq = 0x1000 + (seq++ & 0xff), len;

        /* Checksum left to the device (or complete without CSUM), 3 descriptors. */
        memset(big, 0, net.hdr_len);
        len = frame_tcp(&link, big + net.hdr_len, tseq, 1000, tseq, csum);
        if (csum) {
                h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                h->csum_start = TCP_PAYLOAD - TCP_HLEN;
                h->csum_offset = 16;
        }
        tx_big(0, len, 3);
        tcp_result(tseq, 1000, 1, csum ? 0xf : 0x7);
        if (!net_has(&net, VIRTIO_NET_F_HOST_TSO4)) {
                kprintf("net: TX GSO skipped: HOST_TSO4 not negotiated\n");
                return;
        }
        for (u32 k = 0; k < 2; k++) {
                u32 pay = k ? GSO_MAX_PAYLOAD : GSO_PAYLOAD;

                tseq = 0x2000 + (seq++ & 0xff);
                memset(big, 0, net.hdr_len);
                len = frame_tcp(&link, big + net.hdr_len, tseq, pay, tseq, true);
                h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
                h->hdr_len = TCP_PAYLOAD;
                h->gso_size = GSO_MSS;
                h->csum_start = TCP_PAYLOAD - TCP_HLEN;
                h->csum_offset = 16;
                tx_big(0, len, k ? 7 : 4);
                tcp_result(tseq, pay, (pay + GSO_MSS - 1) / GSO_MSS, 0x1f);
        }
}

/* A TCP frame from the peer to us: returns its payload offset and length, else false. */
static bool tcp_parse(const struct net_frame *f, u32 *tseq, u32 *paylen)
{
        u8 h[TCP_PAYLOAD];
        const u8 *ip = h + ETH_HLEN, *tcp = ip + IP_HLEN;

        if (net_frame_read(f, 0, h, sizeof(h)) != sizeof(h) || get16(h + 12) != 0x0800 ||
            ip[0] != 0x45 || ip[9] != 6 || get32(ip + 16) != NET_GUEST_IP || (tcp[12] >> 4) != 5)
                return false;
        *tseq = get32(tcp + 4);
        *paylen = get16(ip + 2) - IP_HLEN - TCP_HLEN;
        if (f->len < TCP_PAYLOAD + *paylen)
                guest_fail(ST_NET, "net: a TCP frame of %u bytes, its IP length says %u", f->len,
                           get16(ip + 2));
        return true;
}

/* Completes a NEEDS_CSUM frame's checksum in place (5.1.6.4: the driver's job). */
static void complete_csum(struct net_frame *f)
{
        u32 start = f->hdr.csum_start, at = start + f->hdr.csum_offset;
        u8 c[2];

        if (at + 2 > f->len || at + 2 > f->plen[0])
                guest_fail(ST_NET,
                           "net: NEEDS_CSUM with csum_start %u offset %u in a %u-byte "
                           "frame",
                           start, f->hdr.csum_offset, f->len);
        put16(c, (u16)~csum_fold(frame_sum(f, start, f->len - start)));
        memcpy(f->piece[0] + at, c, 2);
}

/* The TCP checksum of the frame verifies (pseudo-header + segment). */
static bool tcp_csum_ok(const struct net_frame *f, u32 paylen)
{
        u32 tcp_len = TCP_HLEN + paylen;
        u64 s = (NET_GUEST_IP >> 16) + (NET_GUEST_IP & 0xffff) + (NET_PEER_IP >> 16) +
                (NET_PEER_IP & 0xffff) + 6 + tcp_len;

        return csum_fold(s + frame_sum(f, ETH_HLEN + IP_HLEN, tcp_len)) == 0xffff;
}

/* The peer sends total bytes of TCP, as one GSO frame if gso (the tap segments it for us
 * without GUEST_TSO4), with its checksum left partial. */
static void rx_tcp(bool gso, u32 total)
{
        bool gcsum = net_has(&net, VIRTIO_NET_F_GUEST_CSUM);
        bool gtso = net_has(&net, VIRTIO_NET_F_GUEST_TSO4);
        u32 tseq0 = 0x30000 + seq++, seed = 0x5a;
        u32 arg[4] = {total, gso ? GSO_MSS : 0, seed, 1};
        u32 got = 0, frames = 0, partial = 0;
        u64 end = deadline_ms(WAIT_MS);
        static struct net_frame f;

        if (gso && !net.mrg && !net.big && !gtso)
                kprintf("net: RX GSO: segments expected (no GUEST_TSO4)\n");
        peer_send(&link, 0, NET_GUEST_PORT, OP_TCP, tseq0, arg, 0, 1);
        while (got < total) {
                u32 tseq, paylen;

                if (!net_rx_wait(&net, net.npairs, &f, 10)) {
                        if (deadline_passed(end))
                                guest_fail(ST_NET, "net: RX %s: %u of %u bytes came",
                                           gso ? "GSO" : "csum", got, total);
                        continue;
                }
                if (!tcp_parse(&f, &tseq, &paylen)) {
                        kprintf("net: (a %u-byte frame that is not TCP, dropped)\n", f.len);
                        net_rx_release(&net, &f);
                        continue;
                }
                frames++;
                if (tseq != tseq0 + got)
                        guest_fail(ST_NET, "net: TCP seq %u, expected %u", tseq, tseq0 + got);
                if (f.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
                        if (!gcsum)
                                check_soft(ST_NET, "RX: NEEDS_CSUM set without GUEST_CSUM");
                        if (f.hdr.csum_start != TCP_PAYLOAD - TCP_HLEN || f.hdr.csum_offset != 16)
                                guest_fail(ST_NET, "net: RX NEEDS_CSUM start %u offset %u",
                                           f.hdr.csum_start, f.hdr.csum_offset);
                        partial++;
                }
                if (f.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
                        if (f.hdr.gso_type != VIRTIO_NET_HDR_GSO_TCPV4 || !gtso ||
                            f.hdr.gso_size != GSO_MSS)
                                guest_fail(ST_NET,
                                           "net: RX gso_type %u gso_size %u (GUEST_TSO4 "
                                           "%snegotiated)",
                                           f.hdr.gso_type, f.hdr.gso_size, gtso ? "" : "not ");
                } else if (gso && paylen > GSO_MSS) {
                        guest_fail(ST_NET, "net: RX a %u-byte TCP segment without gso_type",
                                   paylen);
                }
                if (!frame_payload_ok(&f, TCP_PAYLOAD, paylen, seed, got))
                        guest_fail(ST_NET, "net: RX TCP payload at offset %u differs", got);
                if (f.hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
                        if (f.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
                                complete_csum(&f);
                        if (!tcp_csum_ok(&f, paylen))
                                guest_fail(ST_NET,
                                           "net: RX TCP seq %u: checksum wrong (flags "
                                           "0x%x)",
                                           tseq, f.hdr.flags);
                }
                got += paylen;
                net_rx_release(&net, &f);
        }
        kprintf("net: RX %s: %u bytes in %u frame%s, %u with NEEDS_CSUM (GUEST_CSUM %u, "
                "GUEST_TSO4 %u)%s\n",
                gso ? "GSO" : "partial checksum", total, frames, frames > 1 ? "s" : "", partial,
                gcsum, gtso, gso && gtso && net.mrg ? ", merged" : "");
        if (gso && gtso && frames != 1)
                check_soft(ST_NET, "RX GSO with GUEST_TSO4: %u frames, expected one", frames);
        if (gso && !gtso && frames != (total + GSO_MSS - 1) / GSO_MSS)
                check_soft(ST_NET, "RX GSO without GUEST_TSO4: %u frames, expected %u", frames,
                           (total + GSO_MSS - 1) / GSO_MSS);
}

/* --- multiqueue --------------------------------------------------------------------------------
 */

static void show(const char *what, const u32 *on)
{
        kprintf("net: %s: frames per RX queue:", what);
        for (u16 p = 0; p < net.npairs; p++)
                kprintf(" %u", on[p]);
        kprintf("\n");
}

static void only_rx0(const char *when)
{
        u32 on[NET_MAX_PAIRS] = {0};

        receive_burst(SPREAD_PORT, 16, 100, 0, true, on);
        show(when, on);
        for (u16 p = 1; p < net.npairs; p++)
                if (on[p])
                        check_soft(ST_NET,
                                   "%s: %u frames on receiveq%u (rx queue %u): only receiveq1 "
                                   "may be used (5.1.6.5.5)",
                                   when, on[p], p + 1, 2 * p);
}

static void every_pair(const char *when)
{
        u32 on[NET_MAX_PAIRS] = {0};
        bool all;

        for (u16 p = 0; p < net.npairs; p++)
                echo_run(p, (u16)(MQ_PORT + 16 * p), 4, on);
        all = true;
        for (u16 p = 0; p < net.npairs; p++)
                all = all && on[p];
        /* The tap steers a flow back to the queue it came from; if it did not, spread flows. */
        for (u32 k = 0; k < 8 && !all; k++) {
                receive_burst((u16)(SPREAD_PORT + 100 + 16 * k), 16, 64, 0, true, on);
                all = true;
                for (u16 p = 0; p < net.npairs; p++)
                        all = all && on[p];
        }
        show(when, on);
        for (u16 p = 0; p < net.npairs; p++)
                if (!on[p])
                        guest_fail(ST_NET, "net: %s: no frame ever came on rx queue %u", when,
                                   2 * p);
}

static void multiqueue(void)
{
        if (net.npairs < 2)
                return;
        only_rx0("MQ before VQ_PAIRS_SET");
        set_pairs(net.npairs);
        every_pair("MQ, all pairs");
        set_pairs(1);
        only_rx0("MQ after VQ_PAIRS_SET 1");
        /* Kicks on the queues now unused are legal: they must not break them. */
        for (u16 p = 1; p < net.npairs; p++) {
                vq_kick(&net.rx[p].q, true);
                vq_kick(&net.tx[p].q, true);
        }
        delay_us(100000);
        set_pairs(net.npairs);
        every_pair("MQ, all pairs again");
}

/* --- the scenario ---------------------------------------------------------------------------- */

static void rx_stats(void)
{
        for (u16 p = 0; p < net.npairs; p++) {
                struct net_rxq *r = &net.rx[p];

                kprintf("net: pair %u: rx %u frames (%u merged, %u buffers back unused, %u merged "
                        "frames seen before all their buffers), tx %u frames; MSI-X rx %u tx %u\n",
                        p, r->frames, r->merged, r->zero_len, r->partial, net.tx[p].frames,
                        irq_count[r->q.idt_vector], irq_count[net.tx[p].q.idt_vector]);
        }
}

void test_net(const struct boot_info *bi)
{
        struct net_opts o;
        u32 rep[4];

        net_opts_parse(bi->cmdline, &o);
        blk_setup_env(bi);
        big = palloc(BIG_BYTES, 4096);
        net_open(&net, &o, VEC_MSIX_BASE);
        link.n = &net;
        check_config(bi);
        control_queue();
        peer_hello(&link);
        echo_run(0, NET_GUEST_PORT, 64, NULL);
        kprintf("net: 64 echoes of 0..%u payload bytes in 1-4 descriptors%s: ok\n", MAX_PAYLOAD,
                net_has(&net, VIRTIO_RING_F_INDIRECT_DESC) ? ", some indirect" : "");
        receive_burst(NET_GUEST_PORT, 32, 0, 45, false, NULL);
        kprintf("net: 32 frames from the peer, 0..1395 payload bytes: ok\n");
        jumbo();
        tx_tcp();
        rx_tcp(false, 1200);
        rx_tcp(true, GSO_PAYLOAD);
        rx_tcp(true, GSO_MAX_PAYLOAD);
        multiqueue();
        if (!o.v.poll && net.v.have_msix && !irq_count[net.rx[0].q.idt_vector])
                check_soft(ST_MSIX, "no MSI-X message on rx queue 0's vector");
        if (net.rx_inactive)
                check_soft(ST_NET,
                           "%u frames came on receive queues past the active pairs "
                           "(5.1.6.5.5)",
                           net.rx_inactive);
        if (net.nb_bad)
                check_soft(ST_NET,
                           "%u frames with num_buffers %u (last) without MRG_RXBUF; 5.1.6.4.2 "
                           "says 1",
                           net.nb_bad, net.nb_bad_val);
        rx_stats();
        peer_report(&link, rep);
        if (rep[1] || rep[2])
                guest_fail(ST_NET, "net: the peer saw %u frames with a bad CRC, %u poison", rep[1],
                           rep[2]);
        peer_quit(&link);
        if (failed_checks)
                guest_fail(first_status, "net: %u checks failed (the 'net: FAILED CHECK' lines)",
                           failed_checks);
        guest_pass();
}
