/* virtio-blk client: negotiation, configuration, request chains, bounded waits. */
#include "virtio.h"
#include "x86.h"

#define REQ_BYTES 64 /* per head: header at 0, status at 16, discard segment at 32 */
#define REQ_STATUS 16
#define REQ_WRITABLE 48   /* u32: bytes of the chain the device may write */
#define STATUS_UNSET 0xee /* the device never writes this */
#define IRQ_AFTER_USED_MS 1000

#define F(bit) (1UL << (bit))

static u64 blk_wanted(const struct virtio_opts *o)
{
        u64 f = F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_RO) |
                F(VIRTIO_BLK_F_BLK_SIZE) | F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_MQ) |
                F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES);

        if (o->event_idx)
                f |= F(VIRTIO_RING_F_EVENT_IDX);
        if (o->indirect)
                f |= F(VIRTIO_RING_F_INDIRECT_DESC);
        return f;
}

static u32 cfg32(struct blk *b, u32 off)
{
        return b->v.ops->config_read(&b->v, off, 4);
}

/* capacity is 64 bits: read until the generation (modern) or the value (legacy) is stable. */
static u64 read_capacity(struct blk *b)
{
        for (int i = 0; i < 100; i++) {
                u32 g0 = b->v.legacy ? 0 : vm_read(&b->v, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
                u64 lo = cfg32(b, VIRTIO_BLK_CFG_CAPACITY);
                u64 hi = cfg32(b, VIRTIO_BLK_CFG_CAPACITY + 4);
                u32 g1 = b->v.legacy ? 0 : vm_read(&b->v, VIRTIO_PCI_COMMON_CFGGENERATION, 1);

                if (g0 == g1 && (!b->v.legacy || lo == cfg32(b, VIRTIO_BLK_CFG_CAPACITY)))
                        return hi << 32 | lo;
        }
        guest_fail(ST_VIRTIO, "blk: capacity never read consistently");
}

static void read_config(struct blk *b)
{
        u64 f = b->v.features;

        b->capacity = read_capacity(b);
        b->size_max = f & F(VIRTIO_BLK_F_SIZE_MAX) ? cfg32(b, VIRTIO_BLK_CFG_SIZE_MAX) : 0;
        b->seg_max = f & F(VIRTIO_BLK_F_SEG_MAX) ? cfg32(b, VIRTIO_BLK_CFG_SEG_MAX) : 1;
        b->blk_size = f & F(VIRTIO_BLK_F_BLK_SIZE) ? cfg32(b, VIRTIO_BLK_CFG_BLK_SIZE) : 512;
        b->mq = f & F(VIRTIO_BLK_F_MQ);
        b->num_queues = b->mq ? (u16)b->v.ops->config_read(&b->v, VIRTIO_BLK_CFG_NUM_QUEUES, 2) : 1;
        b->ro = f & F(VIRTIO_BLK_F_RO);
        b->flush = f & F(VIRTIO_BLK_F_FLUSH);
        b->discard = f & F(VIRTIO_BLK_F_DISCARD);
        b->wzeroes = f & F(VIRTIO_BLK_F_WRITE_ZEROES);
        if (b->discard) {
                b->max_discard = cfg32(b, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS);
                b->max_discard_seg = cfg32(b, VIRTIO_BLK_CFG_MAX_DISCARD_SEG);
                b->discard_align = cfg32(b, VIRTIO_BLK_CFG_DISCARD_ALIGN);
        }
        if (b->wzeroes) {
                b->max_wz = cfg32(b, VIRTIO_BLK_CFG_MAX_WZ_SECTORS);
                b->max_wz_seg = cfg32(b, VIRTIO_BLK_CFG_MAX_WZ_SEG);
                b->wz_unmap = (u8)b->v.ops->config_read(&b->v, VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1);
        }
        kprintf(
            "blk: capacity %lu sectors, size_max %u, seg_max %u, blk_size %u, queues %u%s%s%s%s\n",
            b->capacity, b->size_max, b->seg_max, b->blk_size, b->num_queues,
            b->ro ? ", read-only" : "", b->flush ? ", flush" : "", b->discard ? ", discard" : "",
            b->wzeroes ? ", write-zeroes" : "");
        if (b->discard || b->wzeroes)
                kprintf("blk: discard max %u sectors x %u seg, align %u; write-zeroes max %u x %u, "
                        "may unmap %u\n",
                        b->max_discard, b->max_discard_seg, b->discard_align, b->max_wz,
                        b->max_wz_seg, b->wz_unmap);
}

/* Negotiation, config, queues, DRIVER_OK: on a fresh attach and after a reset. */
static bool bring_up(struct blk *b, bool fresh)
{
        struct vdev *d = &b->v;
        u16 nq;

        if (!virtio_negotiate(d, blk_wanted(&b->opts)))
                return false;
        if (fresh)
                read_config(b);
        if (d->have_msix && d->ops->set_config_vector(d, 0) != 0) {
                kprintf("blk: config vector 0 not accepted\n");
                return false;
        }
        if (b->hook_pre_queues)
                b->hook_pre_queues(b);
        nq = b->num_queues < BLK_MAX_QUEUES ? b->num_queues : BLK_MAX_QUEUES;
        if (!nq)
                nq = 1;
        if (d->ops->num_queues(d) && d->ops->num_queues(d) < nq) {
                kprintf("blk: config says %u queues, common config %u\n", nq,
                        d->ops->num_queues(d));
                return false;
        }
        for (u16 i = 0; i < nq; i++) {
                struct vq *q = &b->vq[i];

                if (fresh) {
                        u16 size = d->ops->queue_size(d, i);

                        if (!size || (size & (size - 1))) {
                                kprintf("blk: queue %u: size %u\n", i, size);
                                return false;
                        }
                        if (b->opts.qsize && !d->legacy && b->opts.qsize < size)
                                size = b->opts.qsize;
                        vq_alloc(q, d, i, size);
                } else {
                        vq_reset(q);
                        q->event_idx = d->features & F(VIRTIO_RING_F_EVENT_IDX);
                        q->indirect = q->ind && (d->features & F(VIRTIO_RING_F_INDIRECT_DESC));
                }
                q->vector =
                    d->have_msix && i + 1u < d->msix.nused ? (u16)(i + 1) : VIRTIO_MSI_NO_VECTOR;
                q->idt_vector = (u8)(b->idt_base + i + 1);
                if (!virtio_queue(d, q))
                        return false;
                /* Without MSI-X the device still signals (INTx, ISR): the ISR is checked. */
                vq_interrupts(q, !b->opts.poll || !d->have_msix);
        }
        b->nvq = nq;
        if (b->hook_pre_driver_ok)
                b->hook_pre_driver_ok(b);
        if (fresh)
                b->req_mem = palloc((u64)nq * 1024 * REQ_BYTES, 64); /* up to 1024 entries */
        virtio_driver_ok(d);
        if (!(d->ops->get_status(d) & VIRTIO_CONFIG_S_DRIVER_OK)) {
                kprintf("blk: DRIVER_OK not set (status 0x%x)\n", d->ops->get_status(d));
                return false;
        }
        return true;
}

bool blk_init(struct blk *b, struct pci_fn *f, const struct virtio_opts *o, u8 idt_base)
{
        memset(b, 0, sizeof(*b));
        b->opts = *o;
        b->idt_base = idt_base;
        if (!virtio_attach(&b->v, f, o, idt_base))
                return false;
        return bring_up(b, true);
}

bool blk_reinit(struct blk *b)
{
        return bring_up(b, false);
}

static u8 *req_area(struct blk *b, u16 q, u16 head)
{
        return b->req_mem + ((u64)q * 1024 + head) * REQ_BYTES;
}

struct virtio_blk_outhdr *blk_hdr(struct blk *b, u16 q, u16 head)
{
        return (struct virtio_blk_outhdr *)req_area(b, q, head);
}

u8 *blk_status_byte(struct blk *b, u16 q, u16 head)
{
        return req_area(b, q, head) + REQ_STATUS;
}

int blk_prepare(struct blk *b, u16 q, u32 type, u64 sector, const struct vbuf *data, u32 n,
                bool indirect)
{
        struct vq *vq = &b->vq[q];
        static struct vbuf bufs[1024 + 2];
        /* vq_add takes the free list's head: the request's memory is known before it. */
        u16 head = vq->free_head;
        struct virtio_blk_outhdr *h = blk_hdr(b, q, head);
        u8 *st = blk_status_byte(b, q, head);
        int got;

        if (n + 2 > vq->size || !vq->num_free)
                return -1;
        h->type = type;
        h->ioprio = 0;
        h->sector = sector;
        *st = STATUS_UNSET;
        *(u32 *)(req_area(b, q, head) + REQ_WRITABLE) = 1;
        for (u32 i = 0; i < n; i++)
                if (data[i].write)
                        *(u32 *)(req_area(b, q, head) + REQ_WRITABLE) += data[i].len;
        bufs[0] = (struct vbuf){(u64)h, sizeof(*h), false};
        for (u32 i = 0; i < n; i++)
                bufs[i + 1] = data[i];
        bufs[n + 1] = (struct vbuf){(u64)st, 1, true};
        got = vq_prepare(vq, bufs, n + 2, indirect);
        if (got >= 0 && got != head)
                guest_fail(ST_VIRTIO, "blk: vq_add took head %d, expected %u", got, head);
        return got;
}

void blk_set_writable(struct blk *b, u16 q, u16 head, u32 bytes)
{
        *(u32 *)(req_area(b, q, head) + REQ_WRITABLE) = bytes;
}

int blk_submit(struct blk *b, u16 q, u32 type, u64 sector, const struct vbuf *data, u32 n,
               bool indirect)
{
        int head = blk_prepare(b, q, type, sector, data, n, indirect);

        if (head >= 0)
                vq_publish(&b->vq[q], (u16)head);
        return head;
}

const char *blk_status_name(u32 st)
{
        switch (st) {
        case VIRTIO_BLK_S_OK:
                return "OK";
        case VIRTIO_BLK_S_IOERR:
                return "IOERR";
        case VIRTIO_BLK_S_UNSUPP:
                return "UNSUPP";
        case BLK_NO_STATUS:
                return "returned-without-status";
        case BLK_TIMEOUT:
                return "timeout";
        default:
                return "bad-status";
        }
}

u32 blk_wait(struct blk *b, u16 q, int head, u32 timeout_ms)
{
        struct vq *vq = &b->vq[q];
        u64 end = deadline_ms(timeout_ms);
        bool irq = !b->opts.poll && vq->vector != VIRTIO_MSI_NO_VECTOR;
        u32 id, len;
        u8 st;

        for (;;) {
                if (vq_get_used(vq, &id, &len))
                        break;
                if (deadline_passed(end))
                        return BLK_TIMEOUT;
                if (irq) {
                        /* An MSI-X message or the 10 ms watchdog tick ends the hlt. */
                        cli();
                        if (!vq_has_used(vq))
                                sti_hlt();
                        sti();
                }
        }
        if (id != (u32)head)
                guest_fail(ST_VIRTIO, "blk: queue %u returned head %u, expected %d (len %u)", q, id,
                           head, len);
        b->last_len = len;
        /* 2.6.8.2: the used length is at most what the device could have written. */
        if (len > *(u32 *)(req_area(b, q, (u16)head) + REQ_WRITABLE))
                guest_fail(ST_VIRTIO,
                           "blk: queue %u head %d: used length %u, the chain has %u "
                           "writable bytes",
                           q, head, len, *(u32 *)(req_area(b, q, (u16)head) + REQ_WRITABLE));
        if (len == 0)
                return BLK_NO_STATUS;
        st = *blk_status_byte(b, q, (u16)head);
        return st;
}

/* A used entry is published before the message is sent: wait for the message too. */
static void check_irq(struct blk *b, u16 q, u32 mark)
{
        struct vq *vq = &b->vq[q];
        u64 end = deadline_ms(IRQ_AFTER_USED_MS);

        while (irq_count[vq->idt_vector] == mark) {
                if (deadline_passed(end))
                        guest_fail(ST_MSIX,
                                   "blk: queue %u: request completed, no MSI-X interrupt on "
                                   "vector 0x%x (entry %u) within %u ms",
                                   q, vq->idt_vector, vq->vector, IRQ_AFTER_USED_MS);
                sti_hlt();
        }
        b->irqs_seen++;
}

/*
 * Without MSI-X: the completion sets the queue bit (after the used entry is visible: wait
 * for it, bounded) and the read that returns it clears it: the next read is 0.
 */
static void check_isr(struct blk *b)
{
        u64 end = deadline_ms(IRQ_AFTER_USED_MS);
        u8 first, second;

        while (!((first = b->v.ops->isr(&b->v)) & VIRTIO_PCI_ISR_QUEUE))
                if (deadline_passed(end))
                        guest_fail(ST_VIRTIO,
                                   "blk: ISR reads 0x%x %u ms after a completion; "
                                   "expected bit 0",
                                   first, IRQ_AFTER_USED_MS);
        second = b->v.ops->isr(&b->v);
        if (second)
                guest_fail(ST_VIRTIO, "blk: ISR read 0x%x then 0x%x: not cleared by the read",
                           first, second);
        b->isr_seen++;
}

u32 blk_do(struct blk *b, u16 q, u32 type, u64 sector, const struct vbuf *data, u32 n,
           bool indirect)
{
        struct vq *vq = &b->vq[q];
        u32 mark = irq_count[vq->idt_vector], st;
        int head = blk_submit(b, q, type, sector, data, n, indirect);

        if (head < 0)
                guest_fail(ST_VIRTIO, "blk: queue %u has no room for %u buffers", q, n + 2);
        vq_kick(vq, false);
        st = blk_wait(b, q, head, 10000);
        if (st != BLK_TIMEOUT && !b->opts.poll && vq->vector != VIRTIO_MSI_NO_VECTOR)
                check_irq(b, q, mark);
        if (st != BLK_TIMEOUT && !b->v.have_msix)
                check_isr(b);
        return st;
}

u32 blk_rw(struct blk *b, u16 q, bool write, u64 sector, void *buf, u32 len)
{
        struct vbuf v = {(u64)buf, len, !write};

        return blk_do(b, q, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, &v, 1, false);
}
