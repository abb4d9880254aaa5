/* Test helper: a driver-side split ring writer, the guest half of virtio/queue.c's tests. */
#include "vring_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Setup mistakes in a test are bugs in the test: stop loudly. */
static void *must(void *p, const char *what, uint64_t gpa)
{
        if (!p) {
                fprintf(stderr, "vring_driver: %s at 0x%llx is not RAM\n", what,
                        (unsigned long long)gpa);
                abort();
        }
        return p;
}

void *vd_host(const struct vring_driver *d, uint64_t gpa, uint64_t len)
{
        return must(guest_ptr(d->mem, gpa, len), "buffer", gpa);
}

void vd_init(struct vring_driver *d, const struct guest_mem *mem, uint16_t size, uint64_t desc,
             uint64_t avail, uint64_t used)
{
        memset(d, 0, sizeof(*d));
        d->mem = mem;
        d->size = size;
        d->desc_gpa = desc;
        d->avail_gpa = avail;
        d->used_gpa = used;
        d->desc = must(guest_ptr(mem, desc, 16ull * size), "desc table", desc);
        d->avail = must(guest_ptr(mem, avail, 6 + 2ull * size), "avail ring", avail);
        d->used = must(guest_ptr(mem, used, 6 + 8ull * size), "used ring", used);
        memset(d->desc, 0, 16ull * size);
        memset(d->avail, 0, 6 + 2ull * size);
        memset(d->used, 0, 6 + 8ull * size);
}

struct virtq_geometry vd_geometry(const struct vring_driver *d)
{
        struct virtq_geometry g = {
            .size = d->size,
            .desc = d->desc_gpa,
            .avail = d->avail_gpa,
            .used = d->used_gpa,
        };

        return g;
}

static void desc_fill(struct vring_desc *p, uint64_t addr, uint32_t len, uint16_t flags,
                      uint16_t next)
{
        struct vring_desc v = {.addr = addr, .len = len, .flags = flags, .next = next};

        memcpy(p, &v, sizeof(v));
}

void vd_set_desc(struct vring_driver *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
        desc_fill(&d->desc[i % d->size], addr, len, flags, next);
}

void vd_set_table_desc(struct vring_driver *d, uint64_t table, uint32_t i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next)
{
        uint64_t gpa = table + 16ull * i;

        desc_fill(vd_host(d, gpa, 16), addr, len, flags, next);
}

static uint16_t buf_flags(const struct vd_buf *b, bool more)
{
        return (uint16_t)((b->write ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0));
}

void vd_post(struct vring_driver *d, uint16_t head)
{
        d->avail->ring[d->avail_idx % d->size] = head;
        d->avail_idx++;
}

uint16_t vd_add_chain(struct vring_driver *d, uint16_t first, const struct vd_buf *bufs,
                      unsigned int n)
{
        for (unsigned int k = 0; k < n; k++) {
                uint16_t i = (uint16_t)((first + k) % d->size);
                uint16_t next = (uint16_t)((first + k + 1) % d->size);

                vd_set_desc(d, i, bufs[k].addr, bufs[k].len, buf_flags(&bufs[k], k + 1 < n),
                            k + 1 < n ? next : 0);
        }
        vd_post(d, first);
        return first;
}

uint16_t vd_add_indirect(struct vring_driver *d, uint16_t head, uint64_t table,
                         const struct vd_buf *bufs, unsigned int n)
{
        for (unsigned int k = 0; k < n; k++)
                vd_set_table_desc(d, table, k, bufs[k].addr, bufs[k].len,
                                  buf_flags(&bufs[k], k + 1 < n),
                                  (uint16_t)(k + 1 < n ? k + 1 : 0));
        vd_set_desc(d, head, table, 16u * n, VRING_DESC_F_INDIRECT, 0);
        vd_post(d, head);
        return head;
}

void vd_publish(struct vring_driver *d)
{
        /* As virtqueue_add_split(): descriptors and ring entries first (virtio_wmb), then idx. */
        __atomic_store_n(&d->avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

void vd_set_avail_idx(struct vring_driver *d, uint16_t idx)
{
        d->avail_idx = idx;
        __atomic_store_n(&d->avail->idx, idx, __ATOMIC_RELEASE);
}

bool vd_get_used(struct vring_driver *d, uint32_t *id, uint32_t *len)
{
        const struct vring_used_elem *e;

        if (vd_used_idx(d) == d->last_used)
                return false;
        e = &d->used->ring[d->last_used % d->size];
        *id = e->id;
        *len = e->len;
        d->last_used++;
        return true;
}

uint16_t vd_used_idx(const struct vring_driver *d)
{
        /* As more_used_split() followed by virtio_rmb(). */
        return __atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE);
}

void vd_set_avail_flags(struct vring_driver *d, uint16_t flags)
{
        d->avail->flags = flags;
}

void vd_set_used_event(struct vring_driver *d, uint16_t v)
{
        d->avail->ring[d->size] = v;
}

uint16_t vd_used_flags(const struct vring_driver *d)
{
        return d->used->flags;
}

void vd_set_used_flags(struct vring_driver *d, uint16_t flags)
{
        d->used->flags = flags;
}

uint16_t vd_avail_event(const struct vring_driver *d)
{
        return *(const uint16_t *)&d->used->ring[d->size];
}
