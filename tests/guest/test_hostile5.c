/* hostile-reset-io, hostile-ro-declined: a reset with writes in flight; F_RO declined. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

/* --- reset in the middle of I/O ------------------------------------------------------- */

/*
 * BAD-INPUTS: "reset during I/O: in-flight work quiesced first, then reset".
 * 1 MiB writes and 256 KiB reads on every queue; status 0 is written as soon
 * as the first completes. Once the status reads 0 the driver owns all that
 * memory again: it poisons the write sources, the read buffers and the old
 * rings, and re-initialises the device with rings somewhere else. Then: the
 * old rings and the read buffers are still poisoned (nothing was written
 * after the status read 0), every 1 MiB region of the disk holds either its
 * old data or the whole new data (a write still running after the reset
 * would have taken the poison), and the device works.
 */

#define RI_WRITES 32
#define RI_READS 16
#define RI_READ_BYTES (256UL << 10)
#define RI_BASE 2048UL /* sector: 1 MiB in, clear of sanity()'s sectors */
#define RI_MIB (1UL << 20)
#define RI_OLD 0x01d
#define RI_NEW 0x4e3
#define RI_POISON 0xbad

static void ri_wait_all(struct blk *b, u32 *pending, const char *what)
{
        u64 end = deadline_ms(20000);

        for (u16 q = 0; q < b->nvq; q++)
                while (pending[q]) {
                        u32 id, len;

                        if (vq_get_used(&b->vq[q], &id, &len)) {
                                if (len != 1 || *blk_status_byte(b, q, (u16)id) != VIRTIO_BLK_S_OK)
                                        hfail("reset-io: %s: a request failed (length %u)", what,
                                              len);
                                pending[q]--;
                        } else if (deadline_passed(end)) {
                                hfail("reset-io: %s: requests not back in 20 s", what);
                        }
                }
}

/* Comparisons of megabytes run in ring 3 (ring 0 is emulated on kvm_pvm, ~1700x slower). */
static struct {
        const u8 *a, *b;
        u64 len;
        u8 v;
} cmp;

static u64 cmp_fn(u64 arg)
{
        (void)arg;
        for (u64 i = 0; i < cmp.len; i++)
                if (cmp.a[i] != (cmp.b ? cmp.b[i] : cmp.v))
                        return 0;
        return 1;
}

bool r3_equal(const void *a, const void *b, u64 len)
{
        cmp.a = a;
        cmp.b = b;
        cmp.len = len;
        return ring3_run(cmp_fn, 0);
}

bool r3_all(const void *p, u64 len, u8 v)
{
        cmp.a = p;
        cmp.b = NULL;
        cmp.len = len;
        cmp.v = v;
        return ring3_run(cmp_fn, 0);
}

void h_reset_io(struct blk *b)
{
        struct vdev *d = &b->v;
        u8 *wold = palloc(RI_MIB, 4096), *wnew = palloc(RI_MIB, 4096), *chk = palloc(RI_MIB, 4096);
        u8 *rbuf = palloc(RI_READS * RI_READ_BYTES, 4096);
        u64 ring_at[BLK_MAX_QUEUES], ring_len[BLK_MAX_QUEUES];
        u32 pending[BLK_MAX_QUEUES] = {0}, done_before = 0, n_new = 0, n_old = 0, used0 = 0;
        u64 end;

        if (b->ro || b->capacity < RI_BASE + RI_WRITES * (RI_MIB / 512)) {
                kprintf("hostile: reset-io: needs a writable disk of %lu MiB: skipped\n",
                        RI_BASE / 2048 + RI_WRITES);
                sanity(b, "nothing");
                return;
        }
        /* The old data, written and completed first. */
        pattern_fill(wold, RI_MIB, RI_OLD, 0);
        pattern_fill(wnew, RI_MIB, RI_NEW, 0);
        for (u32 i = 0; i < RI_WRITES; i++) {
                struct vbuf v = {(u64)wold, RI_MIB, false};
                u16 q = (u16)(i % b->nvq);

                if (blk_submit(b, q, VIRTIO_BLK_T_OUT, RI_BASE + i * (RI_MIB / 512), &v, 1, false) <
                    0)
                        hfail("reset-io: no room for the old data");
                pending[q]++;
        }
        for (u16 q = 0; q < b->nvq; q++)
                vq_kick(&b->vq[q], true);
        ri_wait_all(b, pending, "writing the old data");
        /* The new data and the reads, on every queue, kicked together. */
        for (u16 q = 0; q < b->nvq; q++)
                used0 += b->vq[q].last_used;
        memset(rbuf, 0x5a, RI_READS * RI_READ_BYTES);
        for (u32 i = 0; i < RI_WRITES + RI_READS; i++) {
                bool w = i < RI_WRITES;
                u32 k = w ? i : i - RI_WRITES;
                struct vbuf v = {w ? (u64)wnew : (u64)rbuf + k * RI_READ_BYTES,
                                 w ? (u32)RI_MIB : (u32)RI_READ_BYTES, !w};

                if (blk_submit(b, (u16)(i % b->nvq), w ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
                               w ? RI_BASE + k * (RI_MIB / 512) : RI_BASE, &v, 1, false) < 0)
                        hfail("reset-io: no room for %u requests", RI_WRITES + RI_READS);
        }
        for (u16 q = 0; q < b->nvq; q++)
                vq_kick(&b->vq[q], true);
        end = deadline_ms(10000);
        while (!vq_has_used(&b->vq[0]))
                if (deadline_passed(end))
                        hfail("reset-io: nothing came back in 10 s");
        d->ops->set_status(d, 0);
        end = deadline_ms(20000);
        while (d->ops->get_status(d) != 0)
                if (deadline_passed(end))
                        hfail("reset-io: status never read 0 after the reset");
        /* Quiesced: the driver owns every byte again. Poison what the device had. */
        pattern_fill(wnew, RI_MIB, RI_POISON, 0);
        memset(rbuf, 0x77, RI_READS * RI_READ_BYTES);
        for (u16 q = 0; q < b->nvq; q++) {
                struct vq *vq = &b->vq[q];

                done_before += *(volatile u16 *)&vq->used->idx - (q ? 0 : used0);
                ring_at[q] = vq->ring_base;
                ring_len[q] = (u64)vq->used + 6 + 8UL * vq->size - vq->ring_base;
                memset((void *)ring_at[q], 0xcc, ring_len[q]);
                /* New rings elsewhere: the old ones must stay as the driver left them. */
                vq_alloc(vq, d, q, vq->size);
        }
        if (!blk_reinit(b))
                hfail("reset-io: no re-initialisation after the reset");
        sanity(b, "a reset with writes in flight");
        for (u16 q = 0; q < b->nvq; q++)
                if (!r3_all((u8 *)ring_at[q], ring_len[q], 0xcc))
                        hfail("reset-io: queue %u's old rings at 0x%lx were written after the "
                              "reset completed",
                              q, ring_at[q]);
        if (!r3_all(rbuf, RI_READS * RI_READ_BYTES, 0x77))
                hfail("reset-io: a read buffer was written after the reset completed");
        for (u32 i = 0; i < RI_WRITES; i++) {
                if (blk_rw(b, 0, false, RI_BASE + i * (RI_MIB / 512), chk, RI_MIB) !=
                    VIRTIO_BLK_S_OK)
                        hfail("reset-io: reading region %u back failed", i);
                if (r3_equal(chk, wnew, 64))
                        hfail("reset-io: region %u holds data written after the reset", i);
                if (r3_equal(chk, wold, RI_MIB))
                        n_old++;
                else if (pattern_check(chk, RI_MIB, RI_NEW, 0) == ~0UL)
                        n_new++;
                else
                        hfail("reset-io: region %u is neither old nor new (a write cut short or "
                              "taken from poisoned memory)",
                              i);
        }
        kprintf("hostile: reset-io: %u completions seen before the reset; %u regions new, %u "
                "old, none poisoned; old rings and read buffers untouched\n",
                done_before, n_new, n_old);
}

/* --- a read-only disk whose driver declined VIRTIO_BLK_F_RO --------------------------- */

/*
 * BAD-INPUTS: "blk: write to a read-only disk (even if the driver declined
 * VIRTIO_BLK_F_RO): VIRTIO_BLK_S_IOERR, nothing written". Needs the disk
 * opened read-only (-d IMG,ro).
 */
void h_ro_declined(struct blk *b)
{
        struct vdev *d = &b->v;
        u8 *before = palloc(4096, 4096), *after = palloc(4096, 4096), *w = palloc(4096, 4096);
        static struct virtio_blk_discard_write_zeroes seg = {0, 8, 0};
        struct vbuf sv = {(u64)&seg, sizeof(seg), false};
        const u32 types[] = {VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_T_DISCARD};

        if (!b->ro) {
                kprintf("hostile: ro-declined: the disk is writable (-d IMG,ro): skipped\n");
                sanity(b, "nothing");
                return;
        }
        if (blk_rw(b, 0, false, 0, before, 4096) != VIRTIO_BLK_S_OK)
                hfail("ro-declined: reading sector 0 failed");
        if (!virtio_negotiate(d, d->features & ~(1UL << VIRTIO_BLK_F_RO)))
                hfail("ro-declined: negotiation without F_RO refused");
        if (d->have_msix && d->ops->set_config_vector(d, 0) != 0)
                hfail("ro-declined: config vector refused");
        for (u16 q = 0; q < b->nvq; q++) {
                struct vq *vq = &b->vq[q];

                vq_reset(vq);
                vq->event_idx = d->features & (1UL << VIRTIO_RING_F_EVENT_IDX);
                vq->indirect = vq->ind && (d->features & (1UL << VIRTIO_RING_F_INDIRECT_DESC));
                if (!virtio_queue(d, vq))
                        hfail("ro-declined: queue %u refused", q);
                vq_interrupts(vq, !b->opts.poll || !d->have_msix);
        }
        virtio_driver_ok(d);
        if (!(d->ops->get_status(d) & VIRTIO_CONFIG_S_DRIVER_OK))
                hfail("ro-declined: DRIVER_OK refused without F_RO");
        kprintf("hostile: ro-declined: F_RO offered and declined (features 0x%lx)\n", d->features);
        pattern_fill(w, 4096, 0x20, 0);
        for (u32 i = 0; i < ARRAY_SIZE(types); i++) {
                u32 st = types[i] == VIRTIO_BLK_T_OUT ? blk_rw(b, 0, true, 0, w, 4096)
                                                      : blk_do(b, 0, types[i], 0, &sv, 1, false);

                kprintf("hostile: ro-declined: type %u: %s\n", types[i], blk_status_name(st));
                if (types[i] == VIRTIO_BLK_T_OUT
                        ? st != VIRTIO_BLK_S_IOERR
                        : st != VIRTIO_BLK_S_IOERR && st != VIRTIO_BLK_S_UNSUPP)
                        hfail("ro-declined: type %u on a read-only disk got %s, expected IOERR%s",
                              types[i], blk_status_name(st),
                              types[i] == VIRTIO_BLK_T_OUT ? "" : " or UNSUPP");
        }
        if (blk_rw(b, 0, false, 0, after, 4096) != VIRTIO_BLK_S_OK ||
            !r3_equal(before, after, 4096))
                hfail("ro-declined: sector 0 changed on a read-only disk");
        reset_reinit(b, "ro-declined");
        sanity(b, "writes to a read-only disk whose driver declined F_RO");
}
