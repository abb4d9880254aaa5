/* hostile-net-flood: every TX queue full, RX buffers posted and held back; memory sampled. */
#include "net.h"
#include "x86.h"
#include "hostile.h"

static inline void cpu_pause(void)
{
        __asm__ volatile("pause");
}

/* --- flood: every TX queue full, RX buffers posted, in phases the host samples ---------------- */

/*
 * BAD-INPUTS "submission flood: memory use stays bounded", for virtio-net.
 * Every pair is active (VQ_PAIRS_SET); every head of every TX queue carries a
 * 1514-byte frame to the peer and is re-published the moment it comes back,
 * with notifies also when not asked for; every RX buffer is posted and
 * re-posted as it comes back, while a thread of the peer's sends 600-byte
 * frames over 16 flows (so a multi-queue tap spreads them) as fast as it can
 * and its reader takes the guest's frames far slower than they come (its
 * socket overflows). In the hold phases the guest keeps the RX buffers that
 * come back: the device runs out of them and must stop reading the tap
 * (back-pressure) while the peer keeps sending; the next phase gives them
 * back. Each phase ends with a line at which the host samples wisp's memory
 * (t_net_guest.sh); with flood.ack=1 the phase goes on as it was until the
 * host answers the line with a byte on COM1, so every sample is taken in the
 * middle of the flood, those of the hold phases with the tap back-pressured.
 * Every used entry is checked (TX: a head in flight, length 0; RX: a posted
 * head, a length between a header + Ethernet header and the buffer), and the
 * device works afterwards.
 */

#define FL_PHASES 6
#define FL_PHASE_TX 32768 /* TX completions per phase, every pair together */
#define FL_PHASE_RX 256   /* frames received per recycling phase */
#define FL_TX_SIZE 1514
#define FL_RX_SIZE 600
#define FL_FLOWS 16
#define FL_PHASE_MS 60000 /* a phase that does not end by then fails */
#define COM1_LSR (WISP_PORT_COM1 + 5)
#define BENCH_ETHERTYPE 0x88b5  /* as netbench: the peer counts these apart */
#define BENCH_MAGIC 0x4e454257u /* "WBEN" */

struct fl_pair {
        struct vq *tq, *rq;
        u8 *tx_out, *rx_out; /* per head: 1 while the device holds it */
        u16 *held;           /* RX heads kept back (hold phases) */
        u16 nheld, rx_posted;
};

/* Everything the ring-3 loop touches lives in user pages: .bss and palloc memory. */
struct fl {
        struct fl_pair p[NET_MAX_PAIRS];
        u16 np;
        u32 hdr, rxbuf;
        bool resubmit, hold, ack;
        u64 tx_target, rx_target;
        bool need_dry;
        u64 phase_end;
        u32 acks, acks_needed;
        /* results */
        u64 tx_done, rx_done, rounds, kicks;
        u64 bad_tx_id, bad_tx_len, bad_rx_id, bad_rx_len;
        u32 bad_len_got;
        bool late;
};

static struct fl fl;

static void fl_publish_kick(struct fl *f, struct vq *q, bool force)
{
        bool need = vq_publish_avail(q);

        if (need || force || f->rounds % 8 == 0) {
                vq_notify_raw(q, q->index);
                f->kicks++;
        }
}

static void fl_requeue(struct vq *q, u8 *out, u16 head)
{
        out[head] = 1;
        q->avail->ring[q->avail_idx & (q->size - 1)] = head;
        q->avail_idx++;
}

static u32 fl_harvest_tx(struct fl *f, struct fl_pair *p)
{
        struct vq *q = p->tq;
        u16 used = *(volatile u16 *)&q->used->idx;
        u32 n = 0;

        barrier(); /* the index before the elements */
        while (q->last_used != used) {
                volatile struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
                u32 id = e->id, len = e->len;

                q->last_used++;
                n++;
                if (id >= q->size || !p->tx_out[id]) {
                        f->bad_tx_id++;
                        continue;
                }
                if (len && !f->bad_tx_len++)
                        f->bad_len_got = len;
                p->tx_out[id] = 0;
                f->tx_done++;
                if (f->resubmit)
                        fl_requeue(q, p->tx_out, (u16)id);
        }
        if (n && f->resubmit)
                fl_publish_kick(f, q, false);
        return n;
}

static u32 fl_harvest_rx(struct fl *f, struct fl_pair *p)
{
        struct vq *q = p->rq;
        u16 used = *(volatile u16 *)&q->used->idx;
        u32 n = 0, back = 0;

        barrier();
        while (q->last_used != used) {
                volatile struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
                u32 id = e->id, len = e->len;

                q->last_used++;
                n++;
                if (id >= q->size || !p->rx_out[id]) {
                        f->bad_rx_id++;
                        continue;
                }
                if ((len < f->hdr + ETH_HLEN || len > f->rxbuf) && !f->bad_rx_len++)
                        f->bad_len_got = len;
                p->rx_out[id] = 0;
                p->rx_posted--;
                f->rx_done++;
                if (f->hold) {
                        p->held[p->nheld++] = (u16)id;
                } else {
                        fl_requeue(q, p->rx_out, (u16)id);
                        p->rx_posted++;
                        back++;
                }
        }
        if (back)
                fl_publish_kick(f, q, false);
        return n;
}

/* Gives the held RX buffers back and kicks: the device resumes reading the tap. */
static void fl_release_held(struct fl *f)
{
        for (u16 i = 0; i < f->np; i++) {
                struct fl_pair *p = &f->p[i];

                for (u16 k = 0; k < p->nheld; k++)
                        fl_requeue(p->rq, p->rx_out, p->held[k]);
                p->rx_posted += p->nheld;
                p->nheld = 0;
                fl_publish_kick(f, p->rq, true);
        }
}

static u32 fl_tx_out(const struct fl *f)
{
        u32 n = 0;

        for (u16 i = 0; i < f->np; i++)
                n += (u16)(f->p[i].tq->avail_idx - f->p[i].tq->last_used);
        return n;
}

static bool fl_phase_done(struct fl *f)
{
        bool dry = false;

        if (!f->resubmit)
                return !fl_tx_out(f);
        for (u16 i = 0; i < f->np; i++)
                dry |= f->p[i].rx_posted == 0;
        return f->tx_done >= f->tx_target && f->rx_done >= f->rx_target && (!f->need_dry || dry) &&
               (!f->ack || f->acks >= f->acks_needed);
}

/* Ring 3: one phase; memory, rdtsc, the notify writes and COM1's ports only. */
static u64 fl_loop(u64 arg)
{
        struct fl *f = (struct fl *)arg;

        for (;;) {
                bool any = false;

                for (u16 i = 0; i < f->np; i++) {
                        any |= fl_harvest_tx(f, &f->p[i]) != 0;
                        any |= fl_harvest_rx(f, &f->p[i]) != 0;
                }
                f->rounds += any;
                /* The host's acknowledgements of the phase lines (a VM exit: not every round). */
                if (f->ack && f->acks < f->acks_needed && (!any || f->rounds % 16 == 0))
                        while (inb(COM1_LSR) & 1) {
                                (void)inb(WISP_PORT_COM1);
                                f->acks++;
                        }
                if (fl_phase_done(f))
                        return 0;
                if (deadline_passed(f->phase_end)) {
                        f->late = true;
                        return 0;
                }
                if (!any)
                        cpu_pause();
        }
}

static void fl_check(struct fl *f, const char *when)
{
        u32 dry = 0;

        for (u16 i = 0; i < f->np; i++)
                dry += f->p[i].rx_posted == 0;
        if (f->late)
                hfail("flood: %s: not done in %u ms: %lu of %lu frames sent, %lu of %lu received, "
                      "%u of %u queues without buffers%s, %u of %u acks",
                      when, FL_PHASE_MS, f->tx_done, f->tx_target, f->rx_done, f->rx_target, dry,
                      f->np, f->need_dry ? " (one needed)" : "", f->acks, f->acks_needed);
        if (f->bad_tx_id || f->bad_rx_id)
                hfail("flood: %s: %lu TX and %lu RX used ids not in flight", when, f->bad_tx_id,
                      f->bad_rx_id);
        if (f->bad_tx_len)
                hfail("flood: %s: %lu TX chains back with a used length (%u; nothing writable)",
                      when, f->bad_tx_len, f->bad_len_got);
        if (f->bad_rx_len)
                hfail("flood: %s: %lu RX buffers back with used length %u (buffers of %u bytes, "
                      "a frame needs %u)",
                      when, f->bad_rx_len, f->bad_len_got, f->rxbuf, f->hdr + ETH_HLEN);
}

static void fl_quiet(struct net *n, struct vq *q, bool on)
{
        vq_interrupts(q, !on);
        if (n->v.have_msix && q->vector != VIRTIO_MSI_NO_VECTOR) {
                if (on)
                        msix_mask(&n->v.msix, q->vector);
                else
                        msix_unmask(&n->v.msix, q->vector);
        }
        if (on && !n->v.legacy)
                mmu_set_user(q->notify & ~0xfffUL, 0x1000);
}

/* Ring 3: one write per page of [p, p + len): the guest's RAM is all touched before sampling. */
struct touch {
        u8 *p;
        u64 len;
};

static u64 fl_touch(u64 arg)
{
        struct touch *t = (struct touch *)arg;

        for (u64 off = 0; off < t->len; off += 4096)
                ((volatile u8 *)t->p)[off] = ((volatile u8 *)t->p)[off];
        return 0;
}

/* TX: every head of pair i a bench frame, in one descriptor (the header zeroed). */
static void fl_build_tx(struct fl *f, u16 i)
{
        struct net *n = hn.net;
        struct fl_pair *p = &f->p[i];
        struct vq *q = &n->tx[i].q;
        u32 stride = (f->hdr + FL_TX_SIZE + 63) & ~63u;
        u8 *mem = pzalloc((u64)q->size * stride, 4096);

        p->tq = q;
        p->tx_out = pzalloc(q->size, 16);
        for (u16 h = 0; h < q->size; h++) {
                u8 *fr = mem + (u64)h * stride + f->hdr;

                memcpy(fr, hn.link->peer_mac, 6);
                memcpy(fr + 6, n->mac, 6);
                fr[12] = BENCH_ETHERTYPE >> 8;
                fr[13] = BENCH_ETHERTYPE & 0xff;
                *(u32 *)(fr + ETH_HLEN) = BENCH_MAGIC;
                *(u32 *)(fr + ETH_HLEN + 4) = ((u32)i << 16) | h;
                q->desc[h] =
                    (struct vring_desc){(u64)mem + (u64)h * stride, f->hdr + FL_TX_SIZE, 0, 0};
        }
        q->num_free = 0; /* the ring belongs to the loop */
}

/* After the loop: every TX chain is back; the free list again, as vq_alloc leaves it. */
static void fl_restore_tx(struct vq *q)
{
        for (u16 h = 0; h < q->size; h++) {
                q->snext[h] = (u16)(h + 1);
                q->chain_len[h] = 0;
                q->ind_slot[h] = 0;
        }
        q->free_head = 0;
        q->num_free = q->size;
}

static void fl_peer(u16 op, u32 a0, u32 a1)
{
        u32 arg[4] = {a0, a1, 0, 0};

        peer_send(hn.link, 0, NET_GUEST_PORT, op, hn.seq++, arg, 0, 1);
}

/* FLOOD_OFF until acknowledged (the peer's socket may overflow); returns frames it sent. */
static u32 fl_flood_off(void)
{
        static struct net_frame f;
        struct wire w;

        for (u32 i = 0; i < 5; i++) {
                fl_peer(OP_FLOOD_OFF, 0, 0);
                if (!peer_wait(hn.link, OP_FLOOD_OFF_ACK, ~0u, &f, &w, 3000))
                        continue;
                net_rx_release(hn.net, &f);
                return w.arg[0];
        }
        hfail("flood: no FLOOD_OFF_ACK from the peer to 5 FLOOD_OFFs");
}

void hn_flood(void)
{
        struct net *n = hn.net;
        struct fl *f = &fl;
        u32 sent;

        memset(f, 0, sizeof(*f));
        f->np = n->npairs;
        f->hdr = n->hdr_len;
        f->rxbuf = n->rx[0].buflen;
        f->ack = cmdline_bool(boot_info.cmdline, "flood.ack", false);
        if (n->npairs > 1) {
                u16 pairs = n->npairs;
                u32 ack =
                    net_ctrl(n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2);

                if (ack != VIRTIO_NET_OK)
                        hfail("flood: VQ_PAIRS_SET %u answered %s", pairs, net_ack_name(ack));
                n->active = pairs;
        }
        fl_peer(OP_FLOOD_ON, FL_RX_SIZE, FL_FLOWS);
        if (!net_tx_drain(n, 0, 5000))
                hfail("flood: tx queue 1 busy before the flood");
        for (u16 i = 0; i < f->np; i++) {
                struct fl_pair *p = &f->p[i];
                struct net_rxq *r = &n->rx[i];
                struct touch t = {r->mem, (u64)r->nslots * ((r->buflen + 63) & ~63u)};

                fl_build_tx(f, i);
                p->rq = &r->q;
                p->rx_out = pzalloc(r->q.size, 16);
                p->held = pzalloc(2UL * r->q.size, 16);
                /* The buffers the driver posted: the device holds them, or returned them and
                 * their used entries wait for the loop. */
                for (u16 h = 0; h < r->q.size; h++)
                        p->rx_out[h] = r->q.chain_len[h] != 0;
                p->rx_posted = r->posted;
                ring3_run(fl_touch, (u64)&t);
                fl_quiet(n, p->tq, true);
                fl_quiet(n, p->rq, true);
        }
        kprintf("hostile-net: flood: %u pair%s, every TX head a %u-byte frame (%u per queue), %u "
                "RX buffers of %u bytes per queue, the peer sending %u-byte frames over %u flows; "
                "%u phases, the 3rd and 5th holding RX buffers back\n",
                f->np, f->np > 1 ? "s" : "", FL_TX_SIZE, f->p[0].tq->size, f->p[0].rx_posted,
                f->rxbuf, FL_RX_SIZE, FL_FLOWS, FL_PHASES);
        f->resubmit = true;
        for (u16 i = 0; i < f->np; i++) {
                for (u16 h = 0; h < f->p[i].tq->size; h++)
                        fl_requeue(f->p[i].tq, f->p[i].tx_out, h);
                fl_publish_kick(f, f->p[i].tq, true);
        }
        for (u32 ph = 1; ph <= FL_PHASES; ph++) {
                u32 held = 0;

                f->hold = ph == 3 || ph == 5;
                if (!f->hold)
                        fl_release_held(f);
                f->tx_target = f->tx_done + FL_PHASE_TX;
                f->rx_target = f->hold ? 0 : f->rx_done + FL_PHASE_RX;
                f->need_dry = f->hold;
                f->phase_end = deadline_ms(FL_PHASE_MS);
                ring3_run(fl_loop, (u64)f);
                fl_check(f, "during the flood");
                for (u16 i = 0; i < f->np; i++)
                        held += f->p[i].nheld;
                /* The host samples wisp's memory on this line; the phase goes on as it was
                 * (the queues full, the RX buffers held back or not) until its byte comes. */
                kprintf("hostile-net: flood: phase %u/%u: %lu frames sent, %lu received, %u TX "
                        "in flight, %u RX buffers held back, %lu kicks\n",
                        ph, FL_PHASES, f->tx_done, f->rx_done, fl_tx_out(f), held, f->kicks);
                if (f->ack) {
                        f->tx_target = f->rx_target = 0;
                        f->need_dry = false;
                        f->acks_needed = ph;
                        f->phase_end = deadline_ms(FL_PHASE_MS);
                        ring3_run(fl_loop, (u64)f);
                        fl_check(f, "waiting for the host");
                }
        }
        /* Drain: nothing re-published on TX; RX goes on. */
        f->resubmit = false;
        f->hold = false;
        f->ack = false;
        fl_release_held(f);
        f->phase_end = deadline_ms(FL_PHASE_MS);
        ring3_run(fl_loop, (u64)f);
        fl_check(f, "draining");
        for (u16 i = 0; i < f->np; i++) {
                fl_restore_tx(f->p[i].tq);
                fl_quiet(n, f->p[i].tq, false);
                fl_quiet(n, f->p[i].rq, false);
        }
        sent = fl_flood_off();
        kprintf("hostile-net: flood: done: %lu frames sent, %lu received (the peer sent %u), %lu "
                "kicks\n",
                f->tx_done, f->rx_done, sent, f->kicks);
        hn_good_echo("a flood");
}
