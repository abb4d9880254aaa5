/* wisp.test=blkbench: a ring-3 polling loop keeping qd requests in flight on one queue. */
#include "virtio.h"
#include "x86.h"

#define SECTOR 512UL
#define DESCS_PER_REQ 3 /* header, data, status: built once, re-published as they come back */
#define DRAIN_MS 5000
#define MAX_SECS 60

enum bench_mode { RANDREAD, SEQREAD, SEQWRITE };

/* Everything the ring-3 loop touches lives in U pages: .bss and palloc memory. */
struct bench {
        struct vq *q;
        struct blk *b;
        u16 qi;
        enum bench_mode mode;
        u32 bs, qd;
        u64 span;     /* sectors the offsets range over */
        u64 next_seq; /* sequential modes: next sector */
        u64 rng;
        u64 tsc_end, drain_ticks;
        /* results */
        u64 ios, errors, tsc_start, tsc_stop, kicks, bad_ids;
        bool drained;
};

static struct bench bench;

static const char *mode_name[] = {"randread", "seqread", "seqwrite"};

static u64 next_sector(struct bench *p)
{
        u64 per = p->bs / SECTOR, s;

        if (p->mode == RANDREAD)
                return rand64(&p->rng) % (p->span / per) * per;
        s = p->next_seq;
        p->next_seq = s + per >= p->span ? 0 : s + per;
        return s;
}

static void requeue(struct bench *p, u16 head)
{
        struct vq *q = p->q;

        blk_hdr(p->b, p->qi, head)->sector = next_sector(p);
        *blk_status_byte(p->b, p->qi, head) = 0xee;
        q->avail->ring[q->avail_idx & (q->size - 1)] = head;
        q->avail_idx++;
}

/* Publishes the new avail index and notifies unless the device said it is still polling. */
static void publish_kick(struct bench *p)
{
        struct vq *q = p->q;

        if (vq_publish_avail(q)) {
                vq_notify_raw(q, q->index); /* one MMIO/PIO write: an ioeventfd */
                p->kicks++;
        }
}

/* Harvests what came back; re-submits while running. Returns the number harvested. */
static u32 harvest(struct bench *p, bool resubmit)
{
        struct vq *q = p->q;
        u16 used = *(volatile u16 *)&q->used->idx;
        u32 n = 0;

        while (q->last_used != used) {
                struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
                u32 id = e->id;

                q->last_used++;
                n++;
                if (id >= q->size || id % DESCS_PER_REQ) {
                        p->bad_ids++;
                        continue;
                }
                if (!resubmit)
                        continue; /* draining: not counted */
                if (e->len == 0 || *blk_status_byte(p->b, p->qi, (u16)id) != VIRTIO_BLK_S_OK)
                        p->errors++;
                p->ios++;
                requeue(p, (u16)id);
        }
        if (q->event_idx) /* keep the device from interrupting: used_event behind us */
                *vq_used_event(q) = (u16)(q->last_used - 1);
        return n;
}

/* Ring 3: no interrupts, no system calls; rdtsc, memory and the notify write only. */
static u64 bench_loop(u64 arg)
{
        struct bench *p = (struct bench *)arg;
        u64 end;
        u16 inflight;

        p->tsc_start = rdtsc();
        for (u32 i = 0; i < p->qd; i++)
                requeue(p, (u16)(i * DESCS_PER_REQ));
        publish_kick(p);
        while ((s64)(rdtsc() - p->tsc_end) < 0) {
                if (harvest(p, true))
                        publish_kick(p);
                else
                        __asm__ volatile("pause");
        }
        p->tsc_stop = rdtsc();
        /* Drain: nothing more counted; the queue ends idle. */
        end = p->tsc_stop + p->drain_ticks;
        for (;;) {
                inflight = (u16)(p->q->avail_idx - p->q->last_used);
                if (!inflight || (s64)(rdtsc() - end) >= 0)
                        break;
                harvest(p, false);
        }
        p->drained = !inflight;
        return 0;
}

/* Descriptors of request slot i: 3i header, 3i+1 data, 3i+2 status. Built once. */
static void build_slots(struct bench *p, u8 *data)
{
        struct vq *q = p->q;
        bool write = p->mode == SEQWRITE;

        for (u32 i = 0; i < p->qd; i++) {
                u16 h = (u16)(i * DESCS_PER_REQ);
                struct virtio_blk_outhdr *hdr = blk_hdr(p->b, p->qi, h);

                hdr->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
                hdr->ioprio = 0;
                q->desc[h] =
                    (struct vring_desc){(u64)hdr, sizeof(*hdr), VRING_DESC_F_NEXT, (u16)(h + 1)};
                q->desc[h + 1] = (struct vring_desc){
                    (u64)data + (u64)i * p->bs, p->bs,
                    (u16)(VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE)), (u16)(h + 2)};
                q->desc[h + 2] = (struct vring_desc){(u64)blk_status_byte(p->b, p->qi, h), 1,
                                                     VRING_DESC_F_WRITE, 0};
        }
        /* The ring belongs to the loop now: the free list is not used. */
        q->num_free = 0;
}

static u64 key(const struct boot_info *bi, const char *k, u64 dflt)
{
        u64 v;

        return cmdline_u64(bi->cmdline, k, &v) ? v : dflt;
}

void test_blkbench(const struct boot_info *bi)
{
        static struct blk b;
        struct bench *p = &bench;
        struct virtio_opts o;
        char m[16] = "randread";
        u64 secs = key(bi, "secs", 5), khz, ticks, mibps10, centis;
        u8 *data;

        virtio_opts_parse(bi->cmdline, &o);
        o.poll = true;
        memset(p, 0, sizeof(*p));
        cmdline_value(bi->cmdline, "mode", m, sizeof(m));
        for (p->mode = RANDREAD; p->mode <= SEQWRITE; p->mode++)
                if (!strncmp(m, mode_name[p->mode], sizeof(m)))
                        break;
        if (p->mode > SEQWRITE)
                guest_fail(ST_USAGE, "blkbench: mode=%s: randread, seqread or seqwrite", m);
        p->bs = (u32)key(bi, "bs", 4096);
        p->qd = (u32)key(bi, "qd", 32);
        p->rng = key(bi, "seed", 0x5eed) | 1;
        if (!p->bs || p->bs % SECTOR || p->bs > (1u << 20) || !secs || secs > MAX_SECS || !p->qd)
                guest_fail(ST_USAGE,
                           "blkbench: bs=%u (512..1 MiB, sectors), secs=%lu (1..%u), "
                           "qd=%u",
                           p->bs, secs, MAX_SECS, p->qd);
        blk_setup_env(bi);
        khz = tsc_khz();
        blk_open(&b, (u32)key(bi, "bench.disk", 0), &o);
        p->b = &b;
        p->qi = 0;
        p->q = &b.vq[0];
        if (p->qd * DESCS_PER_REQ > p->q->size)
                guest_fail(ST_USAGE, "blkbench: qd=%u needs %u descriptors, the queue has %u",
                           p->qd, p->qd * DESCS_PER_REQ, p->q->size);
        if (b.size_max && p->bs > b.size_max)
                guest_fail(ST_USAGE, "blkbench: bs=%u above the device's size_max %u", p->bs,
                           b.size_max);
        if (p->mode == SEQWRITE && b.ro)
                guest_fail(ST_USAGE, "blkbench: seqwrite on a read-only disk");
        p->span = b.capacity - b.capacity % (p->bs / SECTOR);
        if (p->span < p->bs / SECTOR)
                guest_fail(ST_USAGE, "blkbench: the disk is smaller than bs=%u", p->bs);
        data = palloc((u64)p->qd * p->bs, 4096);
        if (p->mode == SEQWRITE)
                pattern_fill(data, (u64)p->qd * p->bs, 0x5eed, 0);
        build_slots(p, data);
        /* Polled: NO_INTERRUPT / used_event, and the queue's MSI-X entry masked. */
        vq_interrupts(p->q, false);
        if (b.v.have_msix && p->q->vector != VIRTIO_MSI_NO_VECTOR)
                msix_mask(&b.v.msix, p->q->vector);
        if (!b.v.legacy) /* a legacy notify is a port: IOPL 3 covers it */
                mmu_set_user(p->q->notify & ~0xfffUL, 0x1000);
        ticks = secs * khz * 1000;
        p->drain_ticks = DRAIN_MS * khz;
        kprintf("bench: %s bs=%u qd=%u for %lu s on 00:%02x.%u (%s, queue size %u, "
                "event_idx %u), ring 3\n",
                mode_name[p->mode], p->bs, p->qd, secs, b.v.pci->dev, b.v.pci->fn, b.v.ops->name,
                p->q->size, p->q->event_idx);
        p->tsc_end = rdtsc() + ticks;
        user_call(bench_loop, (u64)p);
        if (!p->drained)
                guest_fail(ST_BENCH, "blkbench: requests still in flight %u ms after the end",
                           DRAIN_MS);
        if (p->bad_ids || p->errors)
                guest_fail(ST_BENCH, "blkbench: %lu errors, %lu unknown used ids", p->errors,
                           p->bad_ids);
        ticks = p->tsc_stop - p->tsc_start;
        centis = ticks * 100 / (khz * 1000);
        if (!centis)
                centis = 1;
        mibps10 = p->ios * p->bs * 10 * 100 / centis >> 20;
        kprintf("blkbench: mode=%s bs=%u qd=%u ios=%lu secs=%lu.%02lu iops=%lu mibps=%lu.%lu\n",
                mode_name[p->mode], p->bs, p->qd, p->ios, centis / 100, centis % 100,
                p->ios * 100 / centis, mibps10 / 10, mibps10 % 10);
        kprintf("bench: %lu kicks for %lu requests\n", p->kicks, p->ios);
        guest_exit(ST_PASS);
}
