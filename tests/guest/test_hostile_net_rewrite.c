/* hostile-net-tx-rewrite: TX headers and descriptors rewritten after the kick, from ring 3. */
#include "net.h"
#include "x86.h"
#include "hostile.h"

static inline void cpu_pause(void)
{
        __asm__ volatile("pause");
}

/* --- tx-rewrite: header and descriptors changed after the kick ----------------------------- */

/*
 * BAD-INPUTS "descriptor or request header changed after the kick: host works
 * on its own copy, read once", on the TX path. Each round submits one chain
 * (virtio-net header + a wire frame to the peer) behind 0 to 159 filler frames
 * (so the device reaches it at a different time in each round: without them
 * it is done before the kick's exit returns), kicks, and from ring 3 (at
 * native speed, so the writes land while wisp pops, checks and writes the
 * frame to the tap) rewrites header fields or descriptor fields: once, after
 * a delay that varies per round (every 4th round), or back and forth without
 * a pause until the chain comes back (the others). Each frame tells the peer
 * (tappeer.py) every version of itself: the lengths and offload states it may
 * arrive with. The peer fails any frame that is no version (a payload of no
 * buffer, another length, GSO, an offload state no version has), or one seen
 * twice; a header the rules refuse (unknown flag 0x80, GSO without
 * NEEDS_CSUM) must never reach it; a version every field of which is valid is
 * never dropped. Fields change in one byte each, so a copy racing a write can
 * mix whole fields (each a version), never bytes of one. Every chain comes
 * back with used length 0; what did not reach the peer is a dropped frame,
 * and --stats must count exactly those (t_net_guest.sh).
 */

#define RW_ROUNDS 48       /* per variant */
#define RW_PAYLOAD 100     /* a 178-byte frame: its lengths fit in one byte */
#define RW_LONG 240        /* desc-len's other length (the frame padded) */
#define RW_FAR (1UL << 40) /* an address bit past any RAM of a test guest */
#define RW_WAIT_MS 5000
#define RW_FILL_MAX 160 /* filler frames ahead of the round's chain */
#define RW_FILL_SIZE 1514
#define BENCH_ETHERTYPE 0x88b5  /* as netbench: the peer counts these apart */
#define BENCH_MAGIC 0x4e454257u /* "WBEN" */
#define CSUM_STATE(start, off) (0x8000u | (start) | (off) << 8) /* tappeer.py's encoding */

enum rw_var {
        V_HDR_CSUM,
        V_HDR_REFUSED,
        V_HDR_GSO,
        V_DESC_ADDR,
        V_DESC_LEN,
        V_DESC_NEXT,
        V_DESC_FLAGS,
        V_DESC_BAD,
        V_N
};

static const struct {
        const char *name;
        bool valid; /* every version is a frame the device must send */
} rw_var[V_N] = {
    {"header csum_start 34 -> 42, csum_offset 6 -> 8", true},
    {"header flags 0 -> NEEDS_CSUM | 0x80 (refused), csum 34+6", false},
    {"header gso_type -> TCPV4 (refused), hdr_len -> past the frame, num_buffers", false},
    {"frame descriptor address -> the second buffer", true},
    {"frame descriptor length 178 -> 240", true},
    {"header descriptor next -> the second buffer's descriptor", true},
    {"flags: frame descriptor -> WRITE, header descriptor -> INDIRECT (refused)", false},
    {"frame descriptor length -> 0, header address -> past RAM (refused)", false},
};

struct poke {
        u64 addr;
        u64 v[2]; /* the version at the kick, the rewritten one */
        u32 size;
};

/* What the ring-3 part needs; in .bss (user pages). */
struct rw_run {
        struct vq *q;
        u16 head, nfill;
        u16 fill[RW_FILL_MAX]; /* filler heads, published ahead of head */
        u32 npokes;
        struct poke poke[4];
        bool flip, late;
        u64 delay, deadline, flips;
};

static struct rw_run rw;
static u8 fill_out[1024]; /* per head: a filler not back yet */

static void poke_add(struct rw_run *r, void *p, u32 size, u64 v)
{
        struct poke *k = &r->poke[r->npokes++];

        k->addr = (u64)p;
        k->size = size;
        k->v[1] = v;
        k->v[0] = size == 1 ? *(u8 *)p : size == 2 ? *(u16 *)p : size == 4 ? *(u32 *)p : *(u64 *)p;
}

static void poke_set(struct rw_run *r, u32 which)
{
        for (u32 i = 0; i < r->npokes; i++) {
                struct poke *k = &r->poke[i];

                switch (k->size) {
                case 1:
                        *(volatile u8 *)k->addr = (u8)k->v[which];
                        break;
                case 2:
                        *(volatile u16 *)k->addr = (u16)k->v[which];
                        break;
                case 4:
                        *(volatile u32 *)k->addr = (u32)k->v[which];
                        break;
                default:
                        *(volatile u64 *)k->addr = k->v[which];
                        break;
                }
        }
}

/* Ring 3: publish, kick, rewrite (once after r->delay, or back and forth), wait for the chains. */
static u64 rw_go(u64 arg)
{
        struct rw_run *r = (struct rw_run *)arg;
        struct vq *q = r->q;
        u16 want = (u16)(*(volatile u16 *)&q->used->idx + r->nfill + 1);
        u64 t0;

        /* The fillers and the chain in one publish. */
        for (u16 i = 0; i < r->nfill; i++)
                q->avail->ring[q->avail_idx++ & (q->size - 1)] = r->fill[i];
        q->avail->ring[q->avail_idx++ & (q->size - 1)] = r->head;
        barrier();
        *(volatile u16 *)&q->avail->idx = q->avail_idx;
        vq_kick(q, true);
        t0 = rdtsc();
        if (!r->flip) {
                while (rdtsc() - t0 < r->delay)
                        cpu_pause();
                poke_set(r, 1);
        }
        while (*(volatile u16 *)&q->used->idx != want) {
                if (r->flip)
                        poke_set(r, ++r->flips & 1);
                else
                        cpu_pause();
                if ((s64)(rdtsc() - r->deadline) > 0) {
                        r->late = true;
                        break;
                }
        }
        return 0;
}

/* Where a round's buffers lie in hn.area: the two frames' addresses differ in one byte. */
#define RW_HDR 0x0000UL  /* the header, for chains with it in a descriptor of its own */
#define RW_FA 0x1000UL   /* frame A */
#define RW_FB 0x1800UL   /* frame B (bit 11 apart) */
#define RW_ONE 0x2000UL  /* header + frame in one descriptor */
#define RW_FILL 0x3000UL /* the filler frame, its header zeroed */

/* The filler: a bench frame (ethertype 0x88b5) the peer counts and otherwise ignores. */
static void rw_fill_build(void)
{
        u8 *b = hn.area + RW_FILL, *f = b + hn.net->hdr_len;

        memset(b, 0, hn.net->hdr_len + RW_FILL_SIZE);
        memcpy(f, hn.link->peer_mac, 6);
        memcpy(f + 6, hn.net->mac, 6);
        f[12] = BENCH_ETHERTYPE >> 8;
        f[13] = BENCH_ETHERTYPE & 0xff;
        *(u32 *)(f + ETH_HLEN) = BENCH_MAGIC;
}

static u32 rw_frame(u8 *buf, u32 round, u32 version, enum rw_var v, u32 lens, u32 states)
{
        struct wire w = {.op = OP_RW, .flags = (u16)version, .seq = 2 * round + version};

        w.arg[0] = v;
        w.arg[1] = lens;
        w.arg[2] = states;
        return frame_wire(hn.link, buf, NET_GUEST_PORT, &w, RW_PAYLOAD, false);
}

/* One round of variant v; returns when its chain is back (checked). */
static void rw_round(enum rw_var v, u32 r, u32 round, u64 khz)
{
        struct net *n = hn.net;
        struct vq *q = &n->tx[0].q;
        u8 *a = hn.area, *hb = a + RW_HDR, *fa = a + RW_FA, *fb = a + RW_FB, *one = a + RW_ONE;
        struct virtio_net_hdr *h = (struct virtio_net_hdr *)(v <= V_HDR_REFUSED ? one : hb);
        u32 L = WIRE_PAYLOAD + RW_PAYLOAD, lens = L | L << 16, states = 0, id, len;
        struct vbuf vb[3] = {{(u64)hb, n->hdr_len, false}, {(u64)fa, L, false}};
        struct vring_desc *d0, *d1;
        u32 nb = 2;
        bool seen = false;
        int head;

        net_tx_reclaim(n, 0);
        memset(h, 0, n->hdr_len);
        if (v == V_HDR_CSUM) {
                h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                h->csum_start = ETH_HLEN + IP_HLEN;
                h->csum_offset = 6; /* the UDP checksum */
                states = CSUM_STATE(34, 6) | CSUM_STATE(42, 8) << 16;
        }
        if (v == V_DESC_LEN) {
                lens = L | RW_LONG << 16;
                memset(fa + L, 0x5a, RW_LONG - L);
        }
        if (v <= V_HDR_REFUSED) {
                rw_frame(one + n->hdr_len, round, 0, v, lens, states);
                vb[0] = (struct vbuf){(u64)one, n->hdr_len + L, false};
                nb = 1;
        } else {
                rw_frame(fa, round, 0, v, lens, states);
        }
        if (v == V_DESC_ADDR || v == V_DESC_NEXT)
                rw_frame(fb, round, 1, v, lens, states);
        if (v == V_DESC_NEXT) {
                vb[2] = (struct vbuf){(u64)fb, L, false};
                nb = 3;
        }
        memset(&rw, 0, sizeof(rw));
        rw.nfill = (u16)(round * 37 % RW_FILL_MAX);
        for (u16 i = 0; i < rw.nfill; i++) {
                struct vbuf fv = {(u64)a + RW_FILL, n->hdr_len + RW_FILL_SIZE, false};
                int fh = vq_prepare(q, &fv, 1, false);

                if (fh < 0)
                        hfail("tx-rewrite: no room for %u fillers on tx queue 1", rw.nfill);
                rw.fill[i] = (u16)fh;
                fill_out[fh] = 1;
        }
        head = vq_prepare(q, vb, nb, false);
        if (head < 0)
                hfail("tx-rewrite: no room for %u descriptors on tx queue 1", nb);
        d0 = &q->desc[head];
        d1 = &q->desc[d0->next];
        switch (v) {
        case V_HDR_CSUM:
                poke_add(&rw, &h->csum_start, 2, 42);
                poke_add(&rw, &h->csum_offset, 2, 8);
                break;
        case V_HDR_REFUSED:
                poke_add(&rw, &h->flags, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM | 0x80);
                poke_add(&rw, &h->csum_start, 2, ETH_HLEN + IP_HLEN);
                poke_add(&rw, &h->csum_offset, 2, 6);
                break;
        case V_HDR_GSO:
                poke_add(&rw, &h->gso_type, 1, VIRTIO_NET_HDR_GSO_TCPV4);
                poke_add(&rw, &h->hdr_len, 2, L + 1); /* the tap refuses it past the frame */
                if (n->hdr_len == sizeof(*h))
                        poke_add(&rw, &h->num_buffers, 2, 0xffff);
                break;
        case V_DESC_ADDR:
                poke_add(&rw, &d1->addr, 8, (u64)fb);
                break;
        case V_DESC_LEN:
                poke_add(&rw, &d1->len, 4, RW_LONG);
                break;
        case V_DESC_NEXT: {
                u16 i2 = d1->next;

                /* hdr -> A, and B's descriptor on its own: the header's next picks one. */
                d1->flags = 0;
                q->desc[i2].flags = 0;
                poke_add(&rw, &d0->next, 2, i2);
                break;
        }
        case V_DESC_FLAGS:
                poke_add(&rw, &d1->flags, 2, VRING_DESC_F_WRITE);
                poke_add(&rw, &d0->flags, 2, VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT);
                break;
        default:
                poke_add(&rw, &d1->len, 4, 0);
                poke_add(&rw, &d0->addr, 8, (u64)hb | RW_FAR);
                break;
        }
        rw.q = q;
        rw.head = (u16)head;
        rw.flip = r % 4 != 0;
        rw.delay = (r / 4 * 13 % 160) * khz / 1000; /* 0 .. 143 us */
        rw.deadline = rdtsc() + RW_WAIT_MS * khz;
        ring3_run(rw_go, (u64)&rw);
        if (rw.late)
                hfail("tx-rewrite: %s, round %u: the chain was not returned within %u ms",
                      rw_var[v].name, r, RW_WAIT_MS);
        /* The fillers and the chain back, each once, with length 0 (nothing writable). */
        for (u32 k = 0; k <= rw.nfill; k++) {
                bool ok = vq_get_used(q, &id, &len);

                if (ok && id == (u32)head) {
                        ok = !seen;
                        seen = true;
                } else if (ok) {
                        ok = id < q->size && fill_out[id];
                        if (ok)
                                fill_out[id] = 0;
                }
                if (!ok || len)
                        hfail("tx-rewrite: %s, round %u: used entry %u of %u: id %u length %u "
                              "(the chain's head %d, %u fillers; each once, length 0)",
                              rw_var[v].name, r, k + 1, rw.nfill + 1, id, len, head, rw.nfill);
        }
        if (vq_has_used(q))
                hfail("tx-rewrite: %s, round %u: more used entries than chains submitted",
                      rw_var[v].name, r);
}

/* The peer's counts for variant v: frames, of a later version, of no version. */
static void rw_report(enum rw_var v, u32 out[3])
{
        static struct net_frame f;
        u32 arg[4] = {v, 0, 0, 0}, s = hn.seq++;
        struct wire w;

        peer_send(hn.link, 0, NET_GUEST_PORT, OP_RW_REPORT, s, arg, 0, 1);
        if (!peer_wait(hn.link, OP_RW_REPORT_REPLY, s, &f, &w, RW_WAIT_MS))
                hfail("tx-rewrite: no RW_REPORT_REPLY from the peer");
        memcpy(out, w.arg, 3 * sizeof(u32));
        net_rx_release(hn.net, &f);
}

void hn_tx_rewrite(void)
{
        struct net *n = hn.net;
        u64 khz = tsc_khz(), flips = 0;
        u32 round = 0;

        if (!n->v.legacy)
                mmu_set_user(n->tx[0].q.notify & ~0xfffUL, 0x1000);
        rw_fill_build();
        for (u32 v = 0; v < V_N; v++) {
                u32 got[3];

                if (v == V_HDR_CSUM && !net_has(n, VIRTIO_NET_F_CSUM)) {
                        kprintf("hostile-net: tx-rewrite: %s: needs CSUM, skipped\n",
                                rw_var[v].name);
                        continue;
                }
                for (u32 r = 0; r < RW_ROUNDS; r++, round++) {
                        rw_round((enum rw_var)v, r, round, khz);
                        flips += rw.flips;
                        /* The peer answers once it took every frame before: its socket
                         * never holds more than 8 rounds of fillers. */
                        if (r % 8 == 7)
                                rw_report((enum rw_var)v, got);
                }
                hn_good_echo(rw_var[v].name);
                rw_report((enum rw_var)v, got);
                kprintf("hostile-net: tx-rewrite: %s: %u rounds: %u sent as the first version, "
                        "%u as a later one, %u dropped\n",
                        rw_var[v].name, RW_ROUNDS, got[0] - got[1], got[1], RW_ROUNDS - got[0]);
                if (got[2])
                        hfail("tx-rewrite: %s: the peer received %u frame(s) that are no version "
                              "of what was submitted (tappeer.py names them)",
                              rw_var[v].name, got[2]);
                if (got[0] > RW_ROUNDS || (rw_var[v].valid && got[0] != RW_ROUNDS))
                        hfail("tx-rewrite: %s: %u of %u frames reached the peer; every version "
                              "of these is valid",
                              rw_var[v].name, got[0], RW_ROUNDS);
                hn.want_tx_dropped += RW_ROUNDS - got[0];
        }
        kprintf("hostile-net: tx-rewrite: %u rounds, %lu rewrites back and forth\n", round, flips);
}
