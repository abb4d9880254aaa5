/* wisp.test=hostile-net-NAME: a malicious virtio-net driver; each case ends with good traffic. */
#include "net.h"
#include "x86.h"
#include "hostile.h"

#define WAIT_MS 5000
#define IDLE_MS 200 /* how long a frame that must not be sent is watched */
#define POISON_PAYLOAD 300

static struct net net;
static struct peer_link link;
struct hnet hn = {.net = &net, .link = &link, .seq = 1};
static u32 poison_seen;

/* An echo round trip on pair 0: the device still works. */
void hn_good_echo(const char *after)
{
        static struct net_frame f;
        struct wire w;
        u32 s = hn.seq++;

        peer_send(&link, 0, NET_GUEST_PORT, OP_ECHO, s, NULL, 100 + s % 200, 2);
        if (!peer_wait(&link, OP_ECHO_REPLY, s, &f, &w, WAIT_MS))
                hfail("after %s: a good frame was not echoed within %u ms", after, WAIT_MS);
        if (!(w.flags & 1) || frame_crc(&f, WIRE_PAYLOAD, w.len) != w.crc)
                hfail("after %s: the echo came back corrupted", after);
        net_rx_release(&net, &f);
}

/* The peer must not have seen a POISON frame since the last call. */
static void no_poison(const char *what)
{
        u32 rep[4];

        peer_report(&link, rep);
        if (rep[2] != poison_seen)
                hfail("%s: the peer received %u frame(s) the device should have dropped", what,
                      rep[2] - poison_seen);
}

/* A POISON wire frame of payload bytes after a zeroed header at hn.area; returns its length. */
static u32 poison(u32 payload)
{
        struct wire w = {.op = OP_POISON, .seq = hn.seq++};

        memset(hn.area, 0, net.hdr_len);
        return frame_wire(&link, hn.area + net.hdr_len, NET_GUEST_PORT, &w, payload, false);
}

/* Sends a bad chain on pair 0: back with length 0, never on the wire, the queue still works. */
static void tx_bad(const struct vbuf *v, u32 nv, bool ind, const char *what)
{
        u64 t0 = rdtsc();

        if (net_tx_chain(&net, 0, v, nv, ind) < 0)
                guest_fail(ST_USAGE, "hostile-net: %s: no room for %u descriptors", what, nv);
        if (!net_tx_drain(&net, 0, WAIT_MS))
                hfail("%s: the chain was not returned within %u ms (the queue stalled)", what,
                      WAIT_MS);
        hn_good_echo(what);
        no_poison(what);
        hn.want_tx_dropped++;
        kprintf("hostile-net: %s: returned, not sent (%lu kcycles), the next frame went through\n",
                what, (rdtsc() - t0) / 1000);
}

/* header + frame of len bytes at hn.area, in pieces of piece bytes (0: one descriptor). */
static u32 split(struct vbuf *v, u32 len, u32 piece)
{
        u32 nv = 0, off = 0, total = net.hdr_len + len;

        if (!piece) {
                v[0] = (struct vbuf){(u64)hn.area, total, false};
                return 1;
        }
        v[nv++] = (struct vbuf){(u64)hn.area, net.hdr_len, false};
        off = net.hdr_len;
        while (off < total) {
                u32 l = total - off < piece ? total - off : piece;

                v[nv++] = (struct vbuf){(u64)hn.area + off, l, false};
                off += l;
        }
        return nv;
}

/* --- TX --------------------------------------------------------------------------------------- */

static void tx_short_hdr(void)
{
        u32 h = net.hdr_len, lens[] = {1, h - 2, h - 1};
        struct vbuf v[2];

        poison(POISON_PAYLOAD);
        for (u32 i = 0; i < ARRAY_SIZE(lens); i++) {
                v[0] = (struct vbuf){(u64)hn.area, lens[i], false};
                kprintf("hostile-net: a %u-byte chain (the header is %u bytes)\n", lens[i], h);
                tx_bad(v, 1, false, "tx-short-hdr: chain shorter than the header");
        }
        /* Split over two descriptors, still short. */
        v[0] = (struct vbuf){(u64)hn.area, 4, false};
        v[1] = (struct vbuf){(u64)hn.area + 4, h - 5, false};
        tx_bad(v, 2, false, "tx-short-hdr: 2 descriptors, 1 byte short of a header");
        /* A whole header and no frame at all. */
        v[0] = (struct vbuf){(u64)hn.area, h, false};
        tx_bad(v, 1, false, "tx-short-hdr: a header and no frame");
}

static void tx_oversized(void)
{
        static struct vbuf v[64];
        bool ind = net_has(&net, VIRTIO_RING_F_INDIRECT_DESC);
        u32 nv, len;

        /* One byte over the largest frame, in 4 KiB pieces (an indirect table when offered). */
        len = poison(NET_MAX_FRAME + 1 - WIRE_PAYLOAD);
        nv = split(v, len, 4096);
        kprintf("hostile-net: a %u-byte frame in %u descriptors%s\n", len, nv,
                ind ? " (indirect)" : "");
        tx_bad(v, nv, ind, "tx-oversized: 65551 bytes");
        /* In one descriptor. */
        len = poison(NET_MAX_FRAME + 1 - WIRE_PAYLOAD);
        nv = split(v, len, 0);
        tx_bad(v, nv, false, "tx-oversized: 65551 bytes in one descriptor");
        /* Just past header + the largest frame, and far past it. */
        len = poison(NET_MAX_FRAME + 100 - WIRE_PAYLOAD);
        nv = split(v, len, 8192);
        tx_bad(v, nv, false, "tx-oversized: 65650 bytes in 8 KiB descriptors");
        len = poison((128u << 10) - WIRE_PAYLOAD);
        nv = split(v, len, 4096);
        kprintf("hostile-net: a %u-byte frame in %u descriptors%s\n", len, nv,
                ind ? " (indirect)" : "");
        tx_bad(v, nv, ind, "tx-oversized: 128 KiB");
}

static void tx_bad_gso(void)
{
        struct virtio_net_hdr *h = (struct virtio_net_hdr *)hn.area;
        bool tso4 = net_has(&net, VIRTIO_NET_F_HOST_TSO4), csum = net_has(&net, VIRTIO_NET_F_CSUM);
        struct vbuf v[2];
        u32 len, nv;

        /* Each: a POISON frame whose header breaks one rule of 5.1.6.2. */
        for (u32 c = 0; c < 12; c++) {
                const char *what;

                len = poison(POISON_PAYLOAD);
                h->csum_start = ETH_HLEN + IP_HLEN;
                h->csum_offset = 6;
                switch (c) {
                case 0:
                        h->gso_type = 2; /* no such type */
                        h->gso_size = 1000;
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        what = "tx-bad-gso: gso_type 2 (undefined)";
                        break;
                case 1:
                        h->gso_type = 0x7f;
                        h->gso_size = 1000;
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        what = "tx-bad-gso: gso_type 0x7f";
                        break;
                case 2:
                        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
                        h->gso_size = 0;
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        what = "tx-bad-gso: TCPV4 with gso_size 0";
                        break;
                case 3:
                        h->gso_type = VIRTIO_NET_HDR_GSO_UDP;
                        h->gso_size = 100;
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        what = "tx-bad-gso: GSO_UDP (HOST_UFO not negotiated)";
                        break;
                case 4:
                        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
                        h->gso_size = 100;
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        what = "tx-bad-gso: TCPV4 | ECN (HOST_ECN not negotiated)";
                        break;
                case 5:
                        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
                        h->gso_size = 100;
                        h->flags = 0;
                        what = "tx-bad-gso: TCPV4 without NEEDS_CSUM";
                        break;
                case 6:
                        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
                        h->gso_size = 100;
                        h->hdr_len = (u16)(len + 1);
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        what = "tx-bad-gso: TCPV4 with hdr_len past the frame";
                        break;
                case 7:
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        h->csum_start = (u16)(len + 10);
                        h->csum_offset = 0;
                        what = "tx-bad-gso: csum_start past the frame";
                        break;
                case 8:
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        h->csum_start = (u16)(len - 4);
                        h->csum_offset = 3; /* the 2 bytes would end past the frame */
                        what = "tx-bad-gso: csum_start + csum_offset + 2 past the frame";
                        break;
                case 9:
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        h->csum_start = 0xfff0;
                        h->csum_offset = 0xfff0; /* the sum wraps 16 bits */
                        what = "tx-bad-gso: csum_start + csum_offset wrapping 16 bits";
                        break;
                case 10:
                        h->flags = 0x80;
                        what = "tx-bad-gso: unknown flag 0x80";
                        break;
                default:
                        if (tso4 && csum)
                                continue;
                        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
                        h->gso_size = 100;
                        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        what = csum ? "tx-bad-gso: TCPV4 (HOST_TSO4 not negotiated)"
                                    : "tx-bad-gso: NEEDS_CSUM and TCPV4 (CSUM not negotiated)";
                        break;
                }
                nv = split(v, len, c % 2 ? 0 : 4096);
                tx_bad(v, nv, false, what);
        }
        if (!csum) {
                len = poison(POISON_PAYLOAD);
                h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                h->csum_start = ETH_HLEN + IP_HLEN;
                h->csum_offset = 6;
                nv = split(v, len, 0);
                tx_bad(v, nv, false, "tx-bad-gso: NEEDS_CSUM (CSUM not negotiated)");
        }
}

/* --- RX --------------------------------------------------------------------------------------- */

/* The peer sends count DATA frames of size payload bytes; returns how many came, in order. */
static u32 expect_data(u32 count, u32 size, u32 ms, u32 *stale)
{
        u32 arg[4] = {count, size, 0, 0};
        static struct net_frame f;
        struct wire w;
        u32 got = 0;

        peer_send(&link, 0, NET_GUEST_PORT, OP_SEND, hn.seq++, arg, 0, 1);
        while (got < count && peer_wait(&link, OP_DATA, ~0u, &f, &w, ms)) {
                if (w.len != size) {
                        /* An earlier frame, held back rather than dropped. */
                        (*stale)++;
                        net_rx_release(&net, &f);
                        continue;
                }
                if (w.seq != got || frame_crc(&f, WIRE_PAYLOAD, w.len) != w.crc)
                        hfail("DATA frame %u of %u: seq %u or CRC wrong", got, count, w.seq);
                net_rx_release(&net, &f);
                got++;
        }
        return got;
}

static void rx_small(void)
{
        struct net_rxq *r = &net.rx[0];
        u32 lens[] = {4, 4, 100}, back = 0, stale = 0, arg[4] = {3, 150, 0, 0};
        u8 *tiny = hn.area;
        u64 end;

        if (net.mrg)
                guest_fail(ST_USAGE, "hostile-net-rx-small: needs net.mrg=0");
        for (u32 i = 0; i < ARRAY_SIZE(lens); i++) {
                struct vbuf v = {(u64)tiny + 256 * i, lens[i], true};

                if (vq_add(&r->q, &v, 1, false) < 0)
                        guest_fail(ST_USAGE, "hostile-net: rx queue full");
        }
        vq_kick(&r->q, true);
        kprintf("hostile-net: rx-small: buffers of 4, 4 and 100 bytes posted; the peer sends 3 "
                "frames of %u bytes\n",
                (u32)WIRE_PAYLOAD + 150);
        peer_send(&link, 0, NET_GUEST_PORT, OP_SEND, hn.seq++, arg, 0, 1);
        end = deadline_ms(2000);
        while (back < ARRAY_SIZE(lens) && !deadline_passed(end)) {
                u32 id, len;

                if (!vq_get_used(&r->q, &id, &len))
                        continue;
                if (len)
                        hfail("rx-small: a %u-byte buffer came back with used length %u",
                              lens[back], len);
                back++;
        }
        kprintf("hostile-net: rx-small: %u of 3 small buffers returned with length 0%s\n", back,
                back < 3 ? " (the rest still held by the device)" : "");
        hn.want_rx_dropped = back;
        net_rx_fill(&net, 0);
        if (expect_data(4, 300, WAIT_MS, &stale) != 4)
                hfail("rx-small: frames stopped coming after buffers too small for them");
        kprintf("hostile-net: rx-small: then 4 frames into good buffers (%u earlier frames "
                "delivered late)\n",
                stale);
        if (back < 3 && !stale)
                hfail("rx-small: small buffers neither returned nor their frames delivered");
        hn_good_echo("rx-small");
}

/*
 * More frames than the ring holds and than a device may take per wake-up: each comes, in
 * order, once buffers are posted (the tap's queue holds 1000).
 */
#define RX_NONE_FRAMES 600

static void rx_none(void)
{
        struct net_rxq *r = &net.rx[0];
        u32 arg[4] = {RX_NONE_FRAMES, 200, 0, 0}, got = 0;
        static struct net_frame f;
        struct wire w;

        kprintf("hostile-net: rx-none: no RX buffers; the peer sends %u frames\n", RX_NONE_FRAMES);
        peer_send(&link, 0, NET_GUEST_PORT, OP_SEND, hn.seq++, arg, 0, 1);
        delay_us(1000000);
        if (vq_has_used(&r->q))
                hfail("rx-none: a used entry on a queue without buffers");
        net_rx_fill(&net, 0);
        while (got < RX_NONE_FRAMES) {
                if (!peer_wait(&link, OP_DATA, ~0u, &f, &w, WAIT_MS))
                        hfail("rx-none: %u of %u frames came once buffers were posted (%u "
                              "buffers, avail %u, used %u, avail_event %u)",
                              got, RX_NONE_FRAMES, r->posted, r->q.avail_idx,
                              *(volatile u16 *)&r->q.used->idx, *vq_avail_event(&r->q));
                if (w.seq != got || w.len != 200)
                        hfail("rx-none: frame %u came as seq %u (%u bytes)", got, w.seq, w.len);
                net_rx_release(&net, &f);
                got++;
        }
        kprintf("hostile-net: rx-none: all %u frames arrived, in order, after the buffers\n",
                RX_NONE_FRAMES);
        peer_hello(&link);
        hn_good_echo("rx-none");
}

/* --- notifications and the control queue ---------------------------------------------------- */

static void notify_absent(void)
{
        struct vdev *d = &net.v;
        struct vq *q = &net.tx[0].q;
        u16 nq = (u16)(net.ctrl_index + 1), used0 = *(volatile u16 *)&q->used->idx;
        u8 *slot = net_tx_slot(&net, 0);
        struct wire w = {.op = OP_ECHO, .seq = hn.seq++};
        static struct net_frame f;
        u64 end;
        u32 len;

        if (!d->legacy)
                nq = d->ops->num_queues(d);
        memset(slot, 0, net.hdr_len);
        len = frame_wire(&link, slot + net.hdr_len, NET_GUEST_PORT, &w, 64, false);
        /* Published, not kicked. */
        if (vq_add(q, (struct vbuf[]){{(u64)slot, net.hdr_len + len, false}}, 1, false) < 0)
                guest_fail(ST_USAGE, "hostile-net: tx queue full");
        if (d->legacy) {
                outw(d->io + VIRTIO_PCI_QUEUE_NOTIFY, nq);
                outw(d->io + VIRTIO_PCI_QUEUE_NOTIFY, 0xffff);
                outw(d->io + VIRTIO_PCI_QUEUE_NOTIFY, 0x8000);
                kprintf("hostile-net: notify: QUEUE_NOTIFY %u, 0xffff, 0x8000\n", nq);
        } else {
                u64 a1 = d->notify + (u64)nq * d->notify_mult;
                u64 a2 = d->notify + (u64)(nq + 1) * d->notify_mult;

                *(volatile u16 *)a1 = nq;
                *(volatile u16 *)a2 = (u16)(nq + 1);
                kprintf("hostile-net: notify: the addresses of queues %u and %u (0x%lx, 0x%lx)\n",
                        nq, nq + 1, a1, a2);
        }
        end = deadline_ms(IDLE_MS);
        while (!deadline_passed(end))
                if (*(volatile u16 *)&q->used->idx != used0)
                        hfail("notify: tx queue 1 served after notifies for queues >= %u", nq);
        vq_kick(q, true);
        if (!peer_wait(&link, OP_ECHO_REPLY, w.seq, &f, &w, WAIT_MS))
                hfail("notify: the frame was not sent on its own kick afterwards");
        net_rx_release(&net, &f);
        kprintf("hostile-net: notify: absent queues ignored, the frame went on its own kick\n");
        hn_good_echo("notifies for absent queues");
}

/* A hand-made control chain: the ack (or NET_NO_ACK / NET_TIMEOUT). */
static u32 ctrl_raw(const struct vbuf *v, u32 nv, u8 *ack)
{
        struct vq *q = &net.cvq;
        u64 end = deadline_ms(WAIT_MS);
        u32 id, len;
        int head;

        *ack = 0xee;
        head = vq_add(q, v, nv, false);
        if (head < 0)
                guest_fail(ST_USAGE, "hostile-net: control queue full");
        vq_kick(q, true);
        while (!vq_get_used(q, &id, &len))
                if (deadline_passed(end))
                        return NET_TIMEOUT;
        if (id != (u32)head)
                hfail("ctrl: head %u back, %d expected", id, head);
        if (len > 1)
                hfail("ctrl: used length %u for a 1-byte ack", len);
        return len ? *ack : NET_NO_ACK;
}

static void ctrl_bad(void)
{
        u8 *m = hn.area, *ack = hn.area + 4000;
        struct vbuf v[3];
        u32 r;

        if (!net.have_cvq)
                guest_fail(ST_USAGE, "hostile-net-ctrl: needs the control queue");
        /* RX PROMISC with its ack in a device-readable descriptor: nothing writable. */
        m[0] = VIRTIO_NET_CTRL_RX, m[1] = VIRTIO_NET_CTRL_RX_PROMISC, m[2] = 1;
        v[0] = (struct vbuf){(u64)m, 3, false};
        v[1] = (struct vbuf){(u64)ack, 1, false};
        r = ctrl_raw(v, 2, ack);
        kprintf("hostile-net: ctrl: no writable ack -> %s\n", net_ack_name(r));
        if (r != NET_NO_ACK)
                hfail("ctrl: a command without a writable byte answered %s", net_ack_name(r));
        /* A 1-byte header. */
        v[0] = (struct vbuf){(u64)m, 1, false};
        v[1] = (struct vbuf){(u64)ack, 1, true};
        r = ctrl_raw(v, 2, ack);
        kprintf("hostile-net: ctrl: 1-byte header -> %s\n", net_ack_name(r));
        if (r == VIRTIO_NET_OK || r == NET_TIMEOUT)
                hfail("ctrl: a 1-byte command answered %s", net_ack_name(r));
        /* Only an ack. */
        r = ctrl_raw(&v[1], 1, ack);
        kprintf("hostile-net: ctrl: only an ack byte -> %s\n", net_ack_name(r));
        if (r == VIRTIO_NET_OK || r == NET_TIMEOUT)
                hfail("ctrl: an empty command answered %s", net_ack_name(r));
        /* VQ_PAIRS_SET with 1 byte of data. */
        m[0] = VIRTIO_NET_CTRL_MQ, m[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, m[2] = 1;
        v[0] = (struct vbuf){(u64)m, 3, false};
        r = ctrl_raw(v, 2, ack);
        kprintf("hostile-net: ctrl: VQ_PAIRS_SET with 1 data byte -> %s\n", net_ack_name(r));
        if (r == VIRTIO_NET_OK || r == NET_TIMEOUT)
                hfail("ctrl: VQ_PAIRS_SET with 1 byte answered %s", net_ack_name(r));
        /* An unknown class with 3 KiB of data. */
        m[0] = 0x66, m[1] = 0;
        v[0] = (struct vbuf){(u64)m, 3072, false};
        r = ctrl_raw(v, 2, ack);
        kprintf("hostile-net: ctrl: unknown class, 3 KiB -> %s\n", net_ack_name(r));
        if (r != VIRTIO_NET_ERR && r != NET_NO_ACK)
                hfail("ctrl: an unknown class answered %s", net_ack_name(r));
        r = net_ctrl(&net, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\1", 1);
        if (r != VIRTIO_NET_OK)
                hfail("ctrl: a good PROMISC afterwards answered %s", net_ack_name(r));
        kprintf("hostile-net: ctrl: a good command afterwards -> OK\n");
        hn_good_echo("bad control commands");
}

static const struct {
        const char *name;
        void (*run)(void);
        bool needs_rx; /* runs with buffers posted and the peer greeted */
} cases[] = {
    {"tx-short-hdr", tx_short_hdr, true},
    {"tx-oversized", tx_oversized, true},
    {"tx-bad-gso", tx_bad_gso, true},
    {"rx-small", rx_small, false},
    {"rx-none", rx_none, false},
    {"notify", notify_absent, true},
    {"ctrl", ctrl_bad, true},
    {"tx-rewrite", hn_tx_rewrite, true},
    {"flood", hn_flood, true},
};

void test_hostile_net(const struct boot_info *bi)
{
        char name[40];
        const char *what;
        struct net_opts o;
        u32 rep[4];

        cmdline_value(bi->cmdline, "wisp.test", name, sizeof(name));
        what = name + 12; /* after "hostile-net-" */
        net_opts_parse(bi->cmdline, &o);
        for (u32 i = 0; i < ARRAY_SIZE(cases); i++) {
                if (strncmp(what, cases[i].name, 24))
                        continue;
                if (!cases[i].needs_rx)
                        o.prefill = false;
                if (cases[i].run == rx_small)
                        o.mrg = false;
                blk_setup_env(bi);
                hn.area = palloc(HNET_AREA, 4096);
                net_open(&net, &o, VEC_MSIX_BASE);
                link.n = &net;
                if (cases[i].needs_rx) {
                        peer_hello(&link);
                        hn_good_echo("set-up");
                }
                kprintf("hostile-net: --- %s (%s interface, %u-byte header)\n", cases[i].name,
                        net.v.ops->name, net.hdr_len);
                cases[i].run();
                peer_report(&link, rep);
                if (rep[1] || rep[2])
                        hfail("the peer saw %u frames with a bad CRC, %u poison", rep[1], rep[2]);
                kprintf("hostile-net: expect stats tx_dropped=%u rx_dropped=%u\n",
                        hn.want_tx_dropped, hn.want_rx_dropped);
                peer_quit(&link);
                guest_pass();
        }
        guest_fail(ST_USAGE, "unknown wisp.test=%s", name);
}
