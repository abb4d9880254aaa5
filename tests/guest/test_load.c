/* wisp.test=load: a disk and a NIC checked once, then blk + net traffic for secs (load, soak). */
#include "net.h"
#include "x86.h"

#define SECTOR 512UL
#define CHECK_BYTES (64UL << 10) /* the per-VM pattern at the start of the disk */
#define CHECK_PIECE 4096UL
#define ECHOES 8
#define ECHO_BYTES 1000
#define BLK_QD 8 /* requests kept in flight: even slots write, odd slots read */
#define DESCS_PER_REQ 3
#define BENCH_ETHERTYPE 0x88b5
#define BENCH_MAGIC 0x4e454257u
#define TX_FRAME 1514
#define DRAIN_MS 5000
#define WAIT_MS 3000
#define ECHO_TRIES 10
#define MAX_SECS (7UL * 86400)

/* Everything the ring-3 loop touches lives in user pages (.bss, palloc). */
struct load {
        struct blk *b;
        struct net *n;
        struct vq *bq, *tq, *rq;
        u64 span, first, rng; /* blk: sectors [first, first + span) */
        u64 tsc_end, drain_ticks;
        u32 hdr;
        /* totals */
        u64 ios, blk_err, tx, rx, rx_other, bad;
        bool drained;
};

static struct load ld;
static struct blk blk;
static struct net net;
static struct peer_link link;

static u64 key(const struct boot_info *bi, const char *k, u64 dflt)
{
        u64 v;

        return cmdline_u64(bi->cmdline, k, &v) ? v : dflt;
}

/* Publishes the avail index; notifies (one ioeventfd write) when the device asks for it. */
static void publish_kick(struct vq *q)
{
        if (vq_publish_avail(q))
                vq_notify_raw(q, q->index);
}

static void requeue(struct vq *q, u16 head)
{
        q->avail->ring[q->avail_idx & (q->size - 1)] = head;
        q->avail_idx++;
}

static void blk_requeue(struct load *p, u16 head)
{
        blk_hdr(p->b, 0, head)->sector = p->first + rand64(&p->rng) % (p->span - 8);
        *blk_status_byte(p->b, 0, head) = 0xee;
        requeue(p->bq, head);
}

/* One pass over a queue's used ring: returns the entries taken; run: hand them back. */
static u32 harvest(struct load *p, struct vq *q, bool run)
{
        u16 used = *(volatile u16 *)&q->used->idx;
        u32 n = 0;

        while (q->last_used != used) {
                struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
                u32 id = e->id, len = e->len;

                q->last_used++;
                n++;
                if (q == p->bq) {
                        if (id >= BLK_QD * DESCS_PER_REQ || id % DESCS_PER_REQ) {
                                p->bad++;
                                continue;
                        }
                        if (!len || *blk_status_byte(p->b, 0, (u16)id) != VIRTIO_BLK_S_OK)
                                p->blk_err++;
                        p->ios++;
                        if (run)
                                blk_requeue(p, (u16)id);
                } else if (q == p->tq) {
                        if (id >= q->size || len) {
                                p->bad++;
                                continue;
                        }
                        p->tx++;
                        if (run)
                                requeue(q, (u16)id);
                } else {
                        struct net_rxq *r = &p->n->rx[0];
                        u8 *f;

                        if (id >= q->size) {
                                p->bad++;
                                continue;
                        }
                        f = r->mem + (u64)r->slot_of[id] * ((r->buflen + 63) & ~63u);
                        /* Frames of at most 1514 bytes: one buffer each (5.1.6.3.2). */
                        if (len < p->hdr + ETH_HLEN ||
                            (p->n->mrg && ((struct virtio_net_hdr *)f)->num_buffers != 1))
                                p->bad++;
                        else if (f[p->hdr + 12] == BENCH_ETHERTYPE >> 8 &&
                                 f[p->hdr + 13] == (BENCH_ETHERTYPE & 0xff))
                                p->rx++;
                        else
                                p->rx_other++;
                        requeue(q, (u16)id); /* RX buffers are always handed back */
                }
        }
        if (q->event_idx) /* no interrupts wanted: used_event stays behind */
                *vq_used_event(q) = (u16)(q->last_used - 1);
        return n;
}

/* Ring 3: the three queues polled until tsc_end, then blk and TX drained (RX keeps going). */
static u64 load_loop(u64 arg)
{
        struct load *p = (struct load *)arg;
        struct vq *qs[3] = {p->bq, p->tq, p->rq};
        u64 end;
        bool busy;

        for (u16 i = 0; i < BLK_QD; i++)
                blk_requeue(p, (u16)(i * DESCS_PER_REQ));
        for (u16 i = 0; i < p->tq->size; i++)
                requeue(p->tq, i);
        publish_kick(p->bq);
        publish_kick(p->tq);
        while ((s64)(rdtsc() - p->tsc_end) < 0) {
                busy = false;
                for (u32 i = 0; i < 3; i++)
                        if (harvest(p, qs[i], true)) {
                                publish_kick(qs[i]);
                                busy = true;
                        }
                if (!busy)
                        __asm__ volatile("pause");
        }
        end = rdtsc() + p->drain_ticks;
        for (;;) {
                harvest(p, p->bq, false);
                harvest(p, p->tq, false);
                if (harvest(p, p->rq, true))
                        publish_kick(p->rq);
                p->drained =
                    p->bq->last_used == p->bq->avail_idx && p->tq->last_used == p->tq->avail_idx;
                if (p->drained || (s64)(rdtsc() - end) >= 0)
                        break;
        }
        return 0;
}

/* After the loop: every chain is back; the free list again, as vq_alloc leaves it. */
static void vq_restore(struct vq *q)
{
        for (u16 i = 0; i < q->size; i++) {
                q->snext[i] = (u16)(i + 1);
                q->chain_len[i] = 0;
                q->ind_slot[i] = 0;
        }
        q->free_head = 0;
        q->num_free = q->size;
}

/* Descriptors the loop owns: blk slot i at heads 3i..3i+2, TX head i a frame in its slot. */
static void build(struct load *p, u8 *data)
{
        struct vq *q = p->bq, *t = p->tq;

        for (u32 i = 0; i < BLK_QD; i++) {
                u16 h = (u16)(i * DESCS_PER_REQ);
                struct virtio_blk_outhdr *hdr = blk_hdr(p->b, 0, h);
                bool write = !(i & 1);

                hdr->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
                hdr->ioprio = 0;
                q->desc[h] =
                    (struct vring_desc){(u64)hdr, sizeof(*hdr), VRING_DESC_F_NEXT, (u16)(h + 1)};
                q->desc[h + 1] = (struct vring_desc){
                    (u64)data + i * CHECK_PIECE, CHECK_PIECE,
                    (u16)(VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE)), (u16)(h + 2)};
                q->desc[h + 2] =
                    (struct vring_desc){(u64)blk_status_byte(p->b, 0, h), 1, VRING_DESC_F_WRITE, 0};
        }
        q->num_free = 0;
        for (u16 i = 0; i < t->size; i++) {
                u8 *s = p->n->tx[0].mem + (u64)i * NET_TX_SLOT, *f = s + p->hdr;

                memset(s, 0, p->hdr);
                memcpy(f, link.peer_mac, 6);
                memcpy(f + 6, p->n->mac, 6);
                f[12] = BENCH_ETHERTYPE >> 8;
                f[13] = BENCH_ETHERTYPE & 0xff;
                *(u32 *)(f + ETH_HLEN) = BENCH_MAGIC;
                t->desc[i] = (struct vring_desc){(u64)s, p->hdr + TX_FRAME, 0, 0};
        }
        t->num_free = 0;
}

/* The per-VM part: this VM's pattern on the disk (written or checked), echoes from the peer. */
static void check(u32 id, bool write)
{
        static u8 buf[CHECK_PIECE];
        static struct net_frame f;
        struct wire w;
        u64 seed = 0x10ad0000 + id, bad;

        for (u64 off = 0; off < CHECK_BYTES; off += CHECK_PIECE) {
                u32 st;

                if (write)
                        pattern_fill(buf, CHECK_PIECE, seed, off);
                st = blk_rw(&blk, 0, write, off / SECTOR, buf, CHECK_PIECE);
                if (st != VIRTIO_BLK_S_OK)
                        guest_fail(ST_BLK_STATUS, "load: %s at %lu: %s", write ? "write" : "read",
                                   off, blk_status_name(st));
                if (!write && (bad = pattern_check(buf, CHECK_PIECE, seed, off)) != ~0UL)
                        guest_fail(ST_BLK_DATA, "load: id=%u: disk byte %lu is not this VM's", id,
                                   off + bad);
        }
        if (write && blk.flush && blk_do(&blk, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false))
                guest_fail(ST_BLK_STATUS, "load: FLUSH failed");
        for (u32 i = 0; i < ECHOES; i++) {
                u32 seq = id * 1000 + i, arg[4] = {id, i, 0, 0};

                u32 tries = 0;

                /* Resent: after the traffic the peer's socket may still be full of it. */
                do {
                        if (tries++ == ECHO_TRIES)
                                guest_fail(ST_NET, "load: id=%u: no echo of seq %u in %u tries", id,
                                           seq, ECHO_TRIES);
                        peer_send(&link, 0, NET_GUEST_PORT, OP_ECHO, seq, arg, ECHO_BYTES, 1);
                } while (!peer_wait(&link, OP_ECHO_REPLY, seq, &f, &w, WAIT_MS));
                if (!(w.flags & 1) || w.len != ECHO_BYTES || w.arg[0] != id ||
                    !frame_payload_ok(&f, WIRE_PAYLOAD, ECHO_BYTES, seq, 0))
                        guest_fail(ST_NET, "load: id=%u: echo %u came back wrong", id, seq);
                net_rx_release(&net, &f);
        }
        kprintf("load: id=%u disk %s (%lu KiB, seed 0x%lx), %u echoes ok\n", id,
                write ? "written" : "verified", CHECK_BYTES >> 10, seed, ECHOES);
}

/* Halts (the 10 ms watchdog tick wakes it) until the TSC passes t. */
static void idle_until(u64 t)
{
        while ((s64)(rdtsc() - t) < 0)
                sti_hlt();
}

/* The traffic phase: period ms chunks, duty % of each in the ring-3 loop, the rest halted. */
static void traffic(const struct boot_info *bi, struct load *p, u64 secs)
{
        u64 khz = tsc_khz(), period = key(bi, "load.period", 100), duty = key(bi, "duty", 100);
        u64 flood = key(bi, "load.flood", 1), report = key(bi, "report", 10);
        u64 start = rdtsc(), end = start + secs * khz * 1000, next = start + report * khz * 1000;
        u64 last[3] = {0, 0, 0};
        u8 *data = palloc(BLK_QD * CHECK_PIECE, 4096);

        if (!period || !duty || duty > 100 || !report)
                guest_fail(ST_USAGE, "load: load.period=%lu duty=%lu report=%lu", period, duty,
                           report);
        pattern_fill(data, BLK_QD * CHECK_PIECE, 0xda7a, 0);
        p->drain_ticks = DRAIN_MS * khz;
        kprintf("load: traffic for %lu s: %lu ms periods, %lu%% busy, blk qd %u, tx qd %u%s\n",
                secs, period, duty, BLK_QD, p->tq->size, flood ? ", rx floods" : "");
        while ((s64)(rdtsc() - end) < 0) {
                u64 t0 = rdtsc(), busy = period * duty / 100 ?: 1;

                if (flood) { /* the peer sends as fast as it can while the loop runs */
                        u32 fl[4] = {TX_FRAME, (u32)busy, 0, 0};

                        peer_send(&link, 0, NET_GUEST_PORT, OP_FLOOD, 0x10ad, fl, 0, 1);
                }
                if (!net_tx_drain(&net, 0, DRAIN_MS))
                        guest_fail(ST_NETBENCH, "load: tx queue busy before a period");
                build(p, data);
                p->tsc_end = t0 + busy * khz;
                user_call(load_loop, (u64)p);
                if (!p->drained)
                        guest_fail(ST_NETBENCH,
                                   "load: requests still in flight %u ms after "
                                   "the period",
                                   DRAIN_MS);
                if (p->bad || p->blk_err)
                        guest_fail(ST_NETBENCH, "load: %lu bad used entries, %lu blk errors",
                                   p->bad, p->blk_err);
                vq_restore(p->bq);
                vq_restore(p->tq);
                idle_until(t0 + period * khz);
                if ((s64)(rdtsc() - next) < 0)
                        continue;
                next += report * khz * 1000;
                kprintf("load: t=%lu s blk=%lu tx=%lu rx=%lu\n", (rdtsc() - start) / khz / 1000,
                        p->ios, p->tx, p->rx);
                if (p->ios == last[0] || p->tx == last[1] || (flood && p->rx == last[2]))
                        guest_fail(ST_NETBENCH,
                                   "load: traffic stalled: blk %lu -> %lu, tx %lu "
                                   "-> %lu, rx %lu -> %lu",
                                   last[0], p->ios, last[1], p->tx, last[2], p->rx);
                last[0] = p->ios, last[1] = p->tx, last[2] = p->rx;
        }
        idle_until(rdtsc() + 200 * khz); /* the last flood ends before the closing echoes */
}

void test_load(const struct boot_info *bi)
{
        struct load *p = &ld;
        struct virtio_opts vo;
        struct net_opts no;
        u32 id = (u32)key(bi, "load.id", 0);
        u64 secs = key(bi, "secs", 0);

        if (secs > MAX_SECS)
                guest_fail(ST_USAGE, "load: secs=%lu (0..%lu)", secs, MAX_SECS);
        virtio_opts_parse(bi->cmdline, &vo);
        net_opts_parse(bi->cmdline, &no);
        vo.poll = no.v.poll = true;
        blk_setup_env(bi);
        blk_open(&blk, 0, &vo);
        net_open(&net, &no, VEC_MSIX_BASE + VEC_MSIX_PER_DEV);
        link.n = &net;
        peer_hello(&link);
        memset(p, 0, sizeof(*p));
        p->b = &blk;
        p->n = &net;
        p->bq = &blk.vq[0];
        p->tq = &net.tx[0].q;
        p->rq = &net.rx[0].q;
        p->hdr = net.hdr_len;
        p->rng = 0x5eed + id;
        p->first = CHECK_BYTES / SECTOR;
        if (blk.capacity < p->first + 64 || blk.ro)
                guest_fail(ST_USAGE, "load: needs a writable disk of at least %lu KiB",
                           (CHECK_BYTES >> 10) + 32);
        p->span = blk.capacity - p->first;
        if (BLK_QD * DESCS_PER_REQ > p->bq->size || net.o.rxsplit)
                guest_fail(ST_USAGE, "load: queue of %u, rxsplit %u", p->bq->size, net.o.rxsplit);
        for (u32 i = 0; i < 3; i++) {
                struct vq *q = i == 0 ? p->bq : i == 1 ? p->tq : p->rq;

                vq_interrupts(q, false);
                if (!q->dev->legacy) /* a legacy notify is a port: IOPL 3 covers it */
                        mmu_set_user(q->notify & ~0xfffUL, 0x1000);
        }
        check(id, true);
        if (secs) {
                traffic(bi, p, secs);
                check(id, false); /* the loop wrote only past this VM's pattern */
        }
        kprintf("load: done id=%u blk=%lu tx=%lu rx=%lu rx_other=%lu\n", id, p->ios, p->tx, p->rx,
                p->rx_other);
        peer_quit(&link);
        guest_pass();
}
