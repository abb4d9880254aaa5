/* wisp.test=netbench: frames to or from the tap peer as fast as a ring-3 polling loop can. */
#include "net.h"
#include "x86.h"

#define BENCH_ETHERTYPE 0x88b5  /* IEEE local experimental */
#define BENCH_MAGIC 0x4e454257u /* "WBEN" */
#define MAX_SECS 60
#define DRAIN_MS 5000
#define MAX_SIZE 9014

enum mode { TX, RX, SMALL };

/* Everything the ring-3 loop touches lives in user pages (.bss, palloc). */
struct nb {
        struct net *n;
        struct vq *q;
        u8 *mem; /* TX: the frames, stride apart */
        u32 stride, size, hdr;
        u16 qd;
        u64 limit; /* frames (0: none) */
        u64 tsc_end, drain_ticks;
        /* results */
        u64 frames, bytes, kicks, other, bad;
        u64 t_first, t_last;
        u64 published;
        u32 flood_sent, flood_usecs;
        bool flood_end, drained;
        bool kick_always; /* kick=always: every publish, whatever the device asked */
        bool mrg;
        u32 buflen, pending; /* rx: buffers of the current merged frame still to come */
        u64 merged, partial; /* rx: merged frames; ones whose buffers were not all visible
                                with the first (used->idx published part-way) */
};

static struct nb nb;
static struct net net;
static struct peer_link link;
static const char *mode_name[] = {"tx", "rx", "small"};

static void publish_kick(struct nb *b)
{
        struct vq *q = b->q;

        if (vq_publish_avail(q) || b->kick_always) {
                vq_notify_raw(q, q->index);
                b->kicks++;
        }
}

static void requeue(struct vq *q, u16 head)
{
        q->avail->ring[q->avail_idx & (q->size - 1)] = head;
        q->avail_idx++;
}

/* --- TX ------------------------------------------------------------------------------------- */

static void tx_publish(struct nb *b, u16 head)
{
        /* The frame's sequence number, after the ethertype and magic. */
        *(u32 *)(b->mem + (u64)head * b->stride + b->hdr + ETH_HLEN + 4) = (u32)b->published++;
        requeue(b->q, head);
}

static u64 tx_loop(u64 arg)
{
        struct nb *b = (struct nb *)arg;
        struct vq *q = b->q;

        b->t_first = rdtsc();
        for (u16 i = 0; i < b->qd && (!b->limit || b->published < b->limit); i++)
                tx_publish(b, i);
        publish_kick(b);
        for (;;) {
                u16 used = *(volatile u16 *)&q->used->idx;
                u64 now = rdtsc();
                bool more = (s64)(now - b->tsc_end) < 0 && (!b->limit || b->published < b->limit);
                u32 n = 0;

                while (q->last_used != used) {
                        struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
                        u32 id = e->id;

                        q->last_used++;
                        n++;
                        if (id >= b->qd || e->len) {
                                b->bad++;
                                continue;
                        }
                        b->frames++;
                        b->bytes += b->size;
                        if (more && (!b->limit || b->published < b->limit))
                                tx_publish(b, (u16)id);
                }
                if (more) {
                        if (n)
                                publish_kick(b);
                        else
                                __asm__ volatile("pause");
                        continue;
                }
                /* Draining: nothing new; every chain back, or give up. */
                if (q->last_used == q->avail_idx || (s64)(now - b->tsc_end - b->drain_ticks) >= 0)
                        break;
        }
        b->t_last = rdtsc();
        b->drained = q->last_used == q->avail_idx;
        return 0;
}

/* Frames of size bytes: Ethernet to the peer, ethertype 0x88b5, magic, sequence, zeros. */
static void tx_build(struct nb *b)
{
        struct vq *q = b->q;

        b->stride = (b->hdr + b->size + 63) & ~63u;
        b->mem = pzalloc((u64)b->qd * b->stride, 4096);
        for (u16 i = 0; i < b->qd; i++) {
                u8 *f = b->mem + (u64)i * b->stride + b->hdr;

                memcpy(f, link.peer_mac, 6);
                memcpy(f + 6, net.mac, 6);
                f[12] = BENCH_ETHERTYPE >> 8;
                f[13] = BENCH_ETHERTYPE & 0xff;
                *(u32 *)(f + ETH_HLEN) = BENCH_MAGIC;
                q->desc[i] =
                    (struct vring_desc){(u64)b->mem + (u64)i * b->stride, b->hdr + b->size, 0, 0};
        }
        q->num_free = 0; /* the ring belongs to the loop */
}

/* After the loop: every chain is back; the free list again, as vq_alloc leaves it. */
static void tx_restore(struct vq *q)
{
        for (u16 i = 0; i < q->size; i++) {
                q->snext[i] = (u16)(i + 1);
                q->chain_len[i] = 0;
                q->ind_slot[i] = 0;
        }
        q->free_head = 0;
        q->num_free = q->size;
}

/* BENCH_END until a BENCH_COUNT comes: a flooded peer socket may have dropped one. */
static void bench_count(u32 arg[4])
{
        static struct net_frame f;
        struct wire w;

        for (u32 i = 0; i < 5; i++) {
                peer_send(&link, 0, NET_GUEST_PORT, OP_BENCH_END, 0x60000000 + i, NULL, 0, 1);
                if (!peer_wait(&link, OP_BENCH_COUNT, ~0u, &f, &w, 2000))
                        continue;
                memcpy(arg, w.arg, sizeof(w.arg));
                net_rx_release(&net, &f);
                return;
        }
        guest_fail(ST_NETBENCH, "netbench: no BENCH_COUNT from the peer to 5 BENCH_ENDs");
}

/* --- RX ------------------------------------------------------------------------------------- */

static u8 *rx_buf(u16 head)
{
        struct net_rxq *r = &net.rx[0];

        return r->mem + (u64)r->slot_of[head] * ((r->buflen + 63) & ~63u) + net.hdr_len;
}

static u64 rx_loop(u64 arg)
{
        struct nb *b = (struct nb *)arg;
        struct vq *q = b->q;

        while ((s64)(rdtsc() - b->tsc_end) < 0 && !b->flood_end) {
                u16 used = *(volatile u16 *)&q->used->idx;
                u32 n = 0;

                while (q->last_used != used) {
                        struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
                        u32 id = e->id, len = e->len;
                        u8 *p;

                        q->last_used++;
                        n++;
                        if (id >= q->size) {
                                b->bad++;
                                continue;
                        }
                        if (b->pending) {
                                /* The rest of a merged frame: data only. */
                                b->pending--;
                                if (!len || len > b->buflen)
                                        b->bad++;
                                b->bytes += len;
                                requeue(q, (u16)id);
                                continue;
                        }
                        if (len < b->hdr + ETH_HLEN) {
                                b->bad++;
                                requeue(q, (u16)id);
                                continue;
                        }
                        p = rx_buf((u16)id);
                        if (b->mrg && ((struct virtio_net_hdr *)(p - b->hdr))->num_buffers > 1) {
                                b->pending =
                                    ((struct virtio_net_hdr *)(p - b->hdr))->num_buffers - 1u;
                                b->merged++;
                                /* The device publishes a frame's buffers together (Linux drops
                                 * a frame whose buffers are not all there: rx_length_errors). */
                                if ((u16)(used - q->last_used) < b->pending)
                                        b->partial++;
                        }
                        if (p[12] == BENCH_ETHERTYPE >> 8 && p[13] == (BENCH_ETHERTYPE & 0xff)) {
                                u64 t = rdtsc();

                                if (!b->frames)
                                        b->t_first = t;
                                b->t_last = t;
                                b->frames++;
                                b->bytes += len - b->hdr;
                        } else if (len >= b->hdr + WIRE_PAYLOAD && p[12] == 0x08 &&
                                   ((struct wire *)(p + WIRE_OFF))->magic == WIRE_MAGIC &&
                                   ((struct wire *)(p + WIRE_OFF))->op == OP_FLOOD_END) {
                                b->flood_sent = ((struct wire *)(p + WIRE_OFF))->arg[0];
                                b->flood_usecs = ((struct wire *)(p + WIRE_OFF))->arg[1];
                                b->flood_end = true;
                        } else {
                                b->other++;
                        }
                        requeue(q, (u16)id);
                }
                if (n)
                        publish_kick(b);
                else
                        __asm__ volatile("pause");
        }
        return 0;
}

/* --- the scenario ------------------------------------------------------------------------------
 */

static u64 key(const struct boot_info *bi, const char *k, u64 dflt)
{
        u64 v;

        return cmdline_u64(bi->cmdline, k, &v) ? v : dflt;
}

static void quiet(struct vq *q, bool on)
{
        vq_interrupts(q, !on);
        if (net.v.have_msix && q->vector != VIRTIO_MSI_NO_VECTOR) {
                if (on)
                        msix_mask(&net.v.msix, q->vector);
                else
                        msix_unmask(&net.v.msix, q->vector);
        }
}

void test_netbench(const struct boot_info *bi)
{
        struct nb *b = &nb;
        struct net_opts o;
        enum mode mode;
        char m[16] = "tx";
        u64 secs = key(bi, "secs", 5), khz, ticks, centis, mbps10;
        u32 arg[4];

        net_opts_parse(bi->cmdline, &o);
        o.v.poll = true;
        cmdline_value(bi->cmdline, "mode", m, sizeof(m));
        for (mode = TX; mode <= SMALL; mode++)
                if (!strncmp(m, mode_name[mode], sizeof(m)))
                        break;
        if (mode > SMALL)
                guest_fail(ST_USAGE, "netbench: mode=%s: tx, rx or small", m);
        memset(b, 0, sizeof(*b));
        b->size = (u32)key(bi, "size", mode == SMALL ? 64 : 1514);
        b->limit = key(bi, "frames", 0);
        if (cmdline_value(bi->cmdline, "kick", m, sizeof(m))) {
                if (!strncmp(m, "always", sizeof(m)))
                        b->kick_always = true;
                else if (strncmp(m, "needed", sizeof(m)))
                        guest_fail(ST_USAGE, "netbench: kick=%s: needed or always", m);
        }
        if (b->size < 60 || b->size > MAX_SIZE || !secs || secs > MAX_SECS)
                guest_fail(ST_USAGE, "netbench: size=%u (60..%u), secs=%lu (1..%u)", b->size,
                           MAX_SIZE, secs, MAX_SECS);
        blk_setup_env(bi);
        khz = tsc_khz();
        net_open(&net, &o, VEC_MSIX_BASE);
        link.n = &net;
        b->n = &net;
        b->hdr = net.hdr_len;
        peer_hello(&link);
        if (!net.v.legacy)
                mmu_set_user(net.tx[0].q.notify & ~0xfffUL, 0x1000);
        ticks = secs * khz * 1000;
        b->drain_ticks = DRAIN_MS * khz;
        if (mode == RX) {
                struct vq *q = &net.rx[0].q;
                u32 fl[4] = {b->size, (u32)(secs * 1000), (u32)b->limit, 0};

                if (b->size + net.hdr_len > net.rx[0].buflen && !net.mrg)
                        guest_fail(ST_USAGE, "netbench: rx size=%u in %u-byte buffers", b->size,
                                   net.rx[0].buflen);
                b->mrg = net.mrg;
                b->buflen = net.rx[0].buflen;
                if (!net.v.legacy)
                        mmu_set_user(q->notify & ~0xfffUL, 0x1000);
                b->q = q;
                quiet(q, true);
                kprintf("bench: rx %u-byte frames for %lu s on %s (queue size %u, %u buffers, "
                        "event_idx %u), ring 3\n",
                        b->size, secs, net.v.ops->name, q->size, net.rx[0].posted, q->event_idx);
                peer_send(&link, 0, NET_GUEST_PORT, OP_FLOOD, 0x7eed, fl, 0, 1);
                b->tsc_end = rdtsc() + ticks + b->drain_ticks;
                user_call(rx_loop, (u64)b);
                quiet(q, false);
                if (!b->flood_end)
                        guest_fail(ST_NETBENCH,
                                   "netbench: rx stalled: %lu frames, then nothing until the end "
                                   "(avail %u, used %u, avail_event %u, %lu kicks)",
                                   b->frames, q->avail_idx, *(volatile u16 *)&q->used->idx,
                                   *vq_avail_event(q), b->kicks);
                kprintf("bench: the peer sent %u frames in %u us; %lu received (%lu merged, %lu "
                        "of them seen before all their buffers), %lu other, %lu bad\n",
                        b->flood_sent, b->flood_usecs, b->frames, b->merged, b->partial, b->other,
                        b->bad);
                if (b->partial || b->bad)
                        guest_fail(ST_NETBENCH,
                                   "netbench: %lu merged frames were seen before all their "
                                   "buffers (used->idx moved part-way), %lu bad used entries",
                                   b->partial, b->bad);
        } else {
                struct vq *q = &net.tx[0].q;

                if (!net_tx_drain(&net, 0, DRAIN_MS))
                        guest_fail(ST_NETBENCH, "netbench: tx queue busy before the run");
                b->q = q;
                b->qd = q->size;
                tx_build(b);
                quiet(q, true);
                kprintf("bench: %s %u-byte frames for %lu s%s on %s (queue size %u, event_idx %u), "
                        "ring 3\n",
                        mode_name[mode], b->size, secs, b->limit ? " or until the limit" : "",
                        net.v.ops->name, q->size, q->event_idx);
                b->tsc_end = rdtsc() + ticks;
                user_call(tx_loop, (u64)b);
                quiet(q, false);
                if (!b->drained)
                        guest_fail(ST_NETBENCH, "netbench: frames still queued %u ms after the end",
                                   DRAIN_MS);
                tx_restore(q);
                bench_count(arg);
                kprintf("bench: the peer counted %u frames (%u KiB) in %u us\n", arg[0], arg[1],
                        arg[2]);
                if (b->bad)
                        guest_fail(ST_NETBENCH, "netbench: %lu bad used entries", b->bad);
        }
        centis = (b->t_last - b->t_first) * 100 / (khz * 1000);
        if (!centis)
                centis = 1;
        mbps10 = b->frames * b->size * 8 * 10 * 100 / centis / 1000000;
        kprintf("netbench: mode=%s size=%u frames=%lu secs=%lu.%02lu pps=%lu mbps=%lu.%lu\n",
                mode_name[mode], b->size, b->frames, centis / 100, centis % 100,
                b->frames * 100 / centis, mbps10 / 10, mbps10 % 10);
        kprintf("bench: %lu kicks for %lu frames\n", b->kicks, b->frames);
        peer_quit(&link);
        guest_exit(ST_PASS);
}
