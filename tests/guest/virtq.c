/* Split virtqueues, driver side: descriptors, free list, avail and used rings, notifications. */
#include "virtio.h"
#include "x86.h"

#define IND_SLOTS 32 /* indirect tables per queue */

static inline void mb(void)
{
        __asm__ volatile("mfence" : : : "memory");
}

/* x86 is TSO: stores are not reordered with stores, loads not with loads. */
#define wmb() barrier()
#define rmb() barrier()

void vq_alloc(struct vq *q, struct vdev *d, u16 index, u16 size)
{
        u64 avail_off = 16UL * size, used_off, total;

        memset(q, 0, sizeof(*q));
        q->dev = d;
        q->index = index;
        q->size = size;
        used_off = (avail_off + 6 + 2UL * size + VIRTIO_PCI_VRING_ALIGN - 1) &
                   ~(u64)(VIRTIO_PCI_VRING_ALIGN - 1);
        total = used_off + 6 + 8UL * size;
        q->ring_base = (u64)palloc(total, VIRTIO_PCI_VRING_ALIGN);
        q->desc = (struct vring_desc *)q->ring_base;
        q->avail = (struct vring_avail *)(q->ring_base + avail_off);
        q->used = (struct vring_used *)(q->ring_base + used_off);
        q->chain_len = palloc(2UL * size, 16);
        q->snext = palloc(2UL * size, 16);
        q->event_idx = d->features & (1UL << VIRTIO_RING_F_EVENT_IDX);
        q->indirect = d->features & (1UL << VIRTIO_RING_F_INDIRECT_DESC);
        if (q->indirect)
                q->ind = palloc(IND_SLOTS * VQ_IND_MAX * sizeof(struct vring_desc), 16);
        q->ind_slot = palloc(size, 16);
        q->vector = VIRTIO_MSI_NO_VECTOR;
        vq_reset(q);
}

void vq_reset(struct vq *q)
{
        u64 len = (u64)q->used + 6 + 8UL * q->size - q->ring_base;

        memset((void *)q->ring_base, 0, len);
        for (u16 i = 0; i < q->size; i++)
                q->snext[i] = (u16)(i + 1);
        q->free_head = 0;
        q->num_free = q->size;
        q->avail_idx = q->last_used = q->kicked_idx = 0;
        memset(q->chain_len, 0, 2UL * q->size);
        memset(q->ind_slot, 0, q->size);
        q->ind_free = IND_SLOTS == 32 ? 0xffffffffu : (1u << IND_SLOTS) - 1;
}

static int add_indirect(struct vq *q, const struct vbuf *b, u32 n)
{
        struct vring_desc *t;
        u16 head;
        int slot;

        if (!q->ind_free || !q->num_free || n > VQ_IND_MAX)
                return -1;
        slot = __builtin_ctz(q->ind_free);
        q->ind_free &= ~(1u << slot);
        t = &q->ind[(u64)slot * VQ_IND_MAX];
        for (u32 i = 0; i < n; i++) {
                t[i].addr = b[i].addr;
                t[i].len = b[i].len;
                t[i].flags = (u16)((b[i].write ? VRING_DESC_F_WRITE : 0) |
                                   (i + 1 < n ? VRING_DESC_F_NEXT : 0));
                t[i].next = (u16)(i + 1);
        }
        head = q->free_head;
        q->free_head = q->snext[head];
        q->num_free--;
        q->desc[head].addr = (u64)t;
        q->desc[head].len = n * sizeof(*t);
        q->desc[head].flags = VRING_DESC_F_INDIRECT;
        q->chain_len[head] = 1;
        q->ind_slot[head] = (u8)(slot + 1);
        return head;
}

int vq_prepare(struct vq *q, const struct vbuf *b, u32 n, bool indirect)
{
        u16 head, i, last = 0;
        int h;

        if (!n)
                return -1;
        if (indirect && q->indirect) {
                h = add_indirect(q, b, n);
                if (h >= 0)
                        return h;
                if (n > q->num_free)
                        return -1;
        }
        if (n > q->num_free)
                return -1;
        head = i = q->free_head;
        for (u32 k = 0; k < n; k++) {
                q->desc[i].addr = b[k].addr;
                q->desc[i].len = b[k].len;
                q->desc[i].flags = (u16)((b[k].write ? VRING_DESC_F_WRITE : 0) |
                                         (k + 1 < n ? VRING_DESC_F_NEXT : 0));
                q->desc[i].next = q->snext[i]; /* the free list's order is the chain's */
                last = i;
                i = q->snext[i];
        }
        q->free_head = q->snext[last];
        q->num_free -= (u16)n;
        q->chain_len[head] = (u16)n;
        q->ind_slot[head] = 0;
        return head;
}

int vq_add(struct vq *q, const struct vbuf *b, u32 n, bool indirect)
{
        int head = vq_prepare(q, b, n, indirect);

        if (head >= 0)
                vq_publish(q, (u16)head);
        return head;
}

void vq_publish(struct vq *q, u16 head)
{
        q->avail->ring[q->avail_idx & (q->size - 1)] = head;
        wmb(); /* the entry before the index (2.6.13.2) */
        q->avail_idx++;
        *(volatile u16 *)&q->avail->idx = q->avail_idx;
}

bool vq_publish_avail(struct vq *q)
{
        bool need;

        wmb(); /* the entries before the index (2.6.13.2) */
        *(volatile u16 *)&q->avail->idx = q->avail_idx;
        mb(); /* avail->idx stored before avail_event / used->flags are read (2.6.13.6) */
        need = q->event_idx ? vring_need_event(*vq_avail_event(q), q->avail_idx, q->kicked_idx)
                            : !(*(volatile u16 *)&q->used->flags & VRING_USED_F_NO_NOTIFY);
        q->kicked_idx = q->avail_idx;
        return need;
}

void vq_notify_raw(struct vq *q, u16 v)
{
        if (q->dev->legacy)
                outw((u16)q->notify, v);
        else
                *(volatile u16 *)q->notify = v;
}

void vq_kick(struct vq *q, bool force)
{
        u16 old = q->kicked_idx, now = q->avail_idx;
        bool need;

        mb(); /* avail->idx stored before avail_event / used->flags are read (2.6.13.6) */
        if (q->event_idx)
                need = vring_need_event(*vq_avail_event(q), now, old);
        else
                need = !(*(volatile u16 *)&q->used->flags & VRING_USED_F_NO_NOTIFY);
        q->kicked_idx = now;
        if (need || force) {
                vq_notify_raw(q, q->index);
                q->kicks++;
        } else {
                q->notifies_skipped++;
        }
}

bool vq_has_used(const struct vq *q)
{
        return *(volatile u16 *)&q->used->idx != q->last_used;
}

static void free_chain(struct vq *q, u16 head)
{
        u16 n = q->chain_len[head], i = head;

        if (!n)
                return; /* not ours (a hostile scenario's hand-made entry) */
        if (q->ind_slot[head]) {
                q->ind_free |= 1u << (q->ind_slot[head] - 1);
                q->ind_slot[head] = 0;
        }
        for (u16 k = 1; k < n; k++)
                i = q->snext[i];
        q->snext[i] = q->free_head;
        q->free_head = head;
        q->num_free += n;
        q->chain_len[head] = 0;
}

bool vq_get_used(struct vq *q, u32 *id, u32 *len)
{
        struct vring_used_elem *e;

        if (!vq_has_used(q))
                return false;
        rmb(); /* the index before the element */
        e = &q->used->ring[q->last_used & (q->size - 1)];
        *id = *(volatile u32 *)&e->id;
        *len = *(volatile u32 *)&e->len;
        q->last_used++;
        if (*id < q->size)
                free_chain(q, (u16)*id);
        if (q->event_idx && !(q->avail->flags & VRING_AVAIL_F_NO_INTERRUPT)) {
                *vq_used_event(q) = q->last_used;
                mb();
        }
        return true;
}

void vq_interrupts(struct vq *q, bool on)
{
        if (on) {
                *(volatile u16 *)&q->avail->flags = 0;
                if (q->event_idx)
                        *vq_used_event(q) = q->last_used;
        } else {
                *(volatile u16 *)&q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
                if (q->event_idx)
                        *vq_used_event(q) = (u16)(q->last_used - 1);
        }
        mb();
}
