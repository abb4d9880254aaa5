/* hostile-flood: every queue kept full of big and bad requests for thousands of rounds. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

/*
 * BAD-INPUTS "submission flood: memory use stays bounded". The guest side
 * keeps every slot of every queue in flight (one indirect descriptor per
 * request, so queue size requests per queue: with 8 queues more than wisp's
 * request slots), re-publishes each head the moment it comes back, notifies
 * far more often than asked, and mixes in requests that take long (4 MiB
 * reads, 1 MiB writes) and chains that are refused at once. wisp's memory is
 * sampled by the host (t_blk_guest.sh) at each "phase" line: with
 * flood.ack=1 a phase cannot end before the host acknowledged the previous
 * line with a byte on COM1, so every sample is taken in the middle of the
 * flood. Here: every request comes back, with the length and status its kind
 * must get, and the device works afterwards.
 */

#define FLOOD_PHASES 8
#define FLOOD_PHASE_REQS 32768 /* completions per phase */
#define FLOOD_BIG_SEGS 4       /* a big read: 4 x 1 MiB */
#define FLOOD_TAB (FLOOD_BIG_SEGS + 2)
#define FLOOD_MIB (1UL << 20)
#define FLOOD_STALL_MS 60000 /* a phase with no progress for this long fails */
#define FLOOD_ACK_MS 120000  /* flood.ack=1: the host's byte must come by then */
#define COM1_LSR (WISP_PORT_COM1 + 5)

enum fkind { K_SMALL_R, K_SMALL_W, K_BIG_R, K_BIG_W, K_BAD, K_NKINDS };

static const char *const kind_name[] = {"4 KiB read", "4 KiB write", "4 MiB read", "1 MiB write",
                                        "refused chain"};

/* Everything the ring-3 loop touches lives in U pages: .bss and palloc memory. */
struct flood {
        struct blk *b;
        u16 nq, stride; /* queues; per-queue stride of the tables below */
        struct vring_desc *tab;
        u8 *kind;
        u8 *rbuf, *wbuf;
        u64 capacity, rng;
        u32 expect_len[K_NKINDS];
        /* per phase */
        u64 target, stall_end, ack_end;
        bool ack, resubmit, no_ack;
        u32 acks, acks_needed; /* bytes the host sent on COM1; one per phase line */
        /* results */
        u64 done, rounds, kicks, forced_kicks, rejected, per_kind[K_NKINDS];
        u64 errors, bad_ids, bad_len;
        u32 bad_len_got, bad_len_kind;
        bool stalled;
};

static struct flood flood;

static struct vring_desc *slot_tab(struct flood *f, u16 qi, u16 head)
{
        return f->tab + ((u64)qi * f->stride + head) * FLOOD_TAB;
}

static u8 slot_kind(u16 head)
{
        if (head % 64 == 63)
                return K_BAD;
        if (head % 64 == 0)
                return K_BIG_R;
        if (head % 64 == 32)
                return K_BIG_W;
        return head % 2 ? K_SMALL_R : K_SMALL_W;
}

/* The indirect table of a slot, built once; the ring entry points at it. */
static void build_slot(struct flood *f, u16 qi, u16 head)
{
        struct vq *q = &f->b->vq[qi];
        struct vring_desc *t = slot_tab(f, qi, head);
        u8 k = slot_kind(head);
        const u16 N = VRING_DESC_F_NEXT, W = VRING_DESC_F_WRITE;
        u16 n = 0;

        f->kind[(u64)qi * f->stride + head] = k;
        t[n++] = (struct vring_desc){(u64)blk_hdr(f->b, qi, head), 16, N, 1};
        blk_hdr(f->b, qi, head)->type =
            k == K_SMALL_W || k == K_BIG_W ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
        blk_hdr(f->b, qi, head)->ioprio = 0;
        switch (k) {
        case K_SMALL_R:
                t[n] = (struct vring_desc){(u64)f->rbuf, 4096, N | W, (u16)(n + 1)}, n++;
                break;
        case K_SMALL_W:
                t[n] = (struct vring_desc){(u64)f->wbuf, 4096, N, (u16)(n + 1)}, n++;
                break;
        case K_BIG_R:
                for (u32 i = 0; i < FLOOD_BIG_SEGS; i++, n++)
                        t[n] = (struct vring_desc){(u64)f->rbuf, FLOOD_MIB, N | W, (u16)(n + 1)};
                break;
        default: /* K_BIG_W; K_BAD's table is never read */
                t[n] = (struct vring_desc){(u64)f->wbuf, FLOOD_MIB, N, (u16)(n + 1)}, n++;
                break;
        }
        t[n++] = (struct vring_desc){(u64)blk_status_byte(f->b, qi, head), 1, W, 0};
        /* Refused: an indirect table of 40 bytes (not whole descriptors). */
        q->desc[head] =
            (struct vring_desc){(u64)t, k == K_BAD ? 40 : n * 16u, VRING_DESC_F_INDIRECT, 0};
}

static u64 slot_bytes(u8 k)
{
        return k == K_BIG_R ? FLOOD_BIG_SEGS * FLOOD_MIB : k == K_BIG_W ? FLOOD_MIB : 4096;
}

static void requeue(struct flood *f, u16 qi, u16 head)
{
        struct vq *q = &f->b->vq[qi];
        u64 sectors = slot_bytes(f->kind[(u64)qi * f->stride + head]) / 512;

        blk_hdr(f->b, qi, head)->sector = rand64(&f->rng) % ((f->capacity - sectors) / 8) * 8;
        *blk_status_byte(f->b, qi, head) = 0xee;
        q->avail->ring[q->avail_idx & (q->size - 1)] = head;
        q->avail_idx++;
}

/* Publishes the index; notifies when asked to, and every 8th round anyway (a kick flood). */
static void publish_kick(struct flood *f, u16 qi)
{
        struct vq *q = &f->b->vq[qi];
        bool need = vq_publish_avail(q);

        if (need || f->rounds % 8 == 0) {
                vq_notify_raw(q, q->index);
                f->kicks++;
                f->forced_kicks += !need;
        }
}

static u32 harvest(struct flood *f, u16 qi)
{
        struct vq *q = &f->b->vq[qi];
        u16 used = *(volatile u16 *)&q->used->idx;
        u32 n = 0;

        barrier(); /* the index before the elements (x86: loads stay in order) */
        while (q->last_used != used) {
                volatile struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
                u32 id = e->id, len = e->len;
                u8 k;

                q->last_used++;
                n++;
                if (id >= q->size) {
                        f->bad_ids++;
                        continue;
                }
                k = f->kind[(u64)qi * f->stride + id];
                if (len != f->expect_len[k] && !f->bad_len++) {
                        f->bad_len_got = len;
                        f->bad_len_kind = k;
                }
                if (k != K_BAD && len && *blk_status_byte(f->b, qi, (u16)id) != VIRTIO_BLK_S_OK)
                        f->errors++;
                f->per_kind[k]++;
                f->done++;
                if (f->resubmit)
                        requeue(f, qi, (u16)id);
        }
        if (q->event_idx) /* keep the device from interrupting: used_event behind us */
                *vq_used_event(q) = (u16)(q->last_used - 1);
        return n;
}

static u32 in_flight(struct flood *f)
{
        u32 n = 0;

        for (u16 qi = 0; qi < f->nq; qi++)
                n += (u16)(f->b->vq[qi].avail_idx - f->b->vq[qi].last_used);
        return n;
}

/* Ring 3: one phase; memory, rdtsc, the notify writes and COM1's status port only. */
static u64 flood_loop(u64 arg)
{
        struct flood *f = (struct flood *)arg;
        u64 last_done = f->done;

        for (;;) {
                bool any = false;

                for (u16 qi = 0; qi < f->nq; qi++)
                        if (harvest(f, qi)) {
                                any = true;
                                if (f->resubmit)
                                        publish_kick(f, qi);
                        }
                f->rounds += any;
                /* The host's acknowledgements of the phase lines (a VM exit: not every round). */
                if (f->ack && f->acks < f->acks_needed && (!any || f->rounds % 16 == 0))
                        while (inb(COM1_LSR) & 1) {
                                (void)inb(WISP_PORT_COM1);
                                f->acks++;
                        }
                if (f->resubmit ? f->done >= f->target && (!f->ack || f->acks >= f->acks_needed)
                                : !in_flight(f))
                        return 0;
                if (f->ack && f->acks < f->acks_needed && deadline_passed(f->ack_end)) {
                        f->no_ack = true;
                        return 0;
                }
                if (f->done != last_done) {
                        last_done = f->done;
                        f->stall_end = deadline_ms(FLOOD_STALL_MS);
                } else if (deadline_passed(f->stall_end)) {
                        f->stalled = true;
                        return 0;
                }
                if (!any)
                        __asm__ volatile("pause");
        }
}

static void check_phase(struct flood *f, const char *when)
{
        if (f->stalled)
                hfail("flood: %s: no progress for %u ms (%lu done, %u in flight)", when,
                      FLOOD_STALL_MS, f->done, in_flight(f));
        if (f->no_ack)
                hfail("flood: %s: %u of %u bytes from the host on COM1 after %u ms (flood.ack=1)",
                      when, f->acks, f->acks_needed, FLOOD_ACK_MS);
        if (f->bad_ids)
                hfail("flood: %s: %lu used ids past the queue", when, f->bad_ids);
        if (f->bad_len)
                hfail("flood: %s: %lu used lengths wrong: a %s came back with %u, expected %u",
                      when, f->bad_len, kind_name[f->bad_len_kind], f->bad_len_got,
                      f->expect_len[f->bad_len_kind]);
        if (f->errors)
                hfail("flood: %s: %lu requests with an error status", when, f->errors);
}

static void flood_run(struct flood *f)
{
        for (u32 p = 1; p <= FLOOD_PHASES; p++) {
                f->target = f->done + FLOOD_PHASE_REQS;
                f->acks_needed = p - 1; /* one per phase line printed so far */
                f->stall_end = deadline_ms(FLOOD_STALL_MS);
                f->ack_end = deadline_ms(FLOOD_ACK_MS);
                ring3_run(flood_loop, (u64)f);
                check_phase(f, "during the flood");
                /* The host samples wisp's memory on this line (the queues stay full meanwhile). */
                kprintf("hostile: flood: phase %u/%u: %lu requests, %lu rounds, %u in flight, "
                        "%lu kicks (%lu not asked for), %u acks\n",
                        p, FLOOD_PHASES, f->done, f->rounds, in_flight(f), f->kicks,
                        f->forced_kicks, f->acks);
        }
}

void h_flood(struct blk *b)
{
        struct flood *f = &flood;
        u16 maxsize = 0;

        if (!b->vq[0].indirect || b->ro) {
                kprintf("hostile: flood: needs INDIRECT_DESC and a writable disk: skipped\n");
                sanity(b, "nothing");
                return;
        }
        memset(f, 0, sizeof(*f));
        f->b = b;
        f->nq = b->nvq;
        f->capacity = b->capacity;
        f->rng = 0xf100d;
        f->ack = cmdline_bool(boot_info.cmdline, "flood.ack", false);
        if (f->capacity < 2 * FLOOD_BIG_SEGS * FLOOD_MIB / 512)
                hfail("flood: the disk is smaller than %u MiB", 2 * FLOOD_BIG_SEGS);
        for (u16 qi = 0; qi < f->nq; qi++)
                maxsize = b->vq[qi].size > maxsize ? b->vq[qi].size : maxsize;
        f->stride = maxsize;
        f->tab = palloc((u64)f->nq * maxsize * FLOOD_TAB * 16, 16);
        f->kind = palloc((u64)f->nq * maxsize, 16);
        f->rbuf = palloc(FLOOD_MIB, 4096);
        f->wbuf = palloc(FLOOD_MIB, 4096);
        /* Touched now, so the guest's own pages do not grow during the samples. */
        memset(f->rbuf, 0, FLOOD_MIB);
        pattern_fill(f->wbuf, FLOOD_MIB, 0xf100d, 0);
        f->expect_len[K_SMALL_R] = 4096 + 1;
        f->expect_len[K_SMALL_W] = 1;
        f->expect_len[K_BIG_R] = FLOOD_BIG_SEGS * FLOOD_MIB + 1;
        f->expect_len[K_BIG_W] = 1;
        f->expect_len[K_BAD] = 0;
        for (u16 qi = 0; qi < f->nq; qi++) {
                struct vq *q = &b->vq[qi];

                for (u16 h = 0; h < q->size; h++)
                        build_slot(f, qi, h);
                q->num_free = 0; /* the ring belongs to the loop now */
                vq_interrupts(q, false);
                if (b->v.have_msix && q->vector != VIRTIO_MSI_NO_VECTOR)
                        msix_mask(&b->v.msix, q->vector);
                if (!b->v.legacy)
                        mmu_set_user(q->notify & ~0xfffUL, 0x1000);
        }
        kprintf("hostile: flood: %u queues x %u requests (one indirect descriptor each), "
                "%u phases of %u completions\n",
                f->nq, b->vq[0].size, FLOOD_PHASES, FLOOD_PHASE_REQS);
        f->resubmit = true;
        for (u16 qi = 0; qi < f->nq; qi++) {
                for (u16 h = 0; h < b->vq[qi].size; h++)
                        requeue(f, qi, h);
                publish_kick(f, qi);
        }
        flood_run(f);
        /* Drain: nothing re-published; everything in flight must come back. */
        f->resubmit = false;
        f->ack = false;
        f->stall_end = deadline_ms(FLOOD_STALL_MS);
        ring3_run(flood_loop, (u64)f);
        check_phase(f, "draining");
        kprintf("hostile: flood: done: %lu requests (%lu 4 KiB reads, %lu 4 KiB writes, %lu "
                "4 MiB reads, %lu 1 MiB writes, %lu refused) in %lu rounds\n",
                f->done, f->per_kind[K_SMALL_R], f->per_kind[K_SMALL_W], f->per_kind[K_BIG_R],
                f->per_kind[K_BIG_W], f->per_kind[K_BAD], f->rounds);
        for (u16 qi = 0; qi < f->nq; qi++)
                if (b->v.have_msix && b->vq[qi].vector != VIRTIO_MSI_NO_VECTOR)
                        msix_unmask(&b->v.msix, b->vq[qi].vector);
        reset_reinit(b, "flood");
        sanity(b, "a submission flood");
}
