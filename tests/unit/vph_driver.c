/* Test helper: the driver side of a modern virtio-pci function, shared by the device fixtures. */
#include "vph_driver.h"

#include <criterion/criterion.h>
#include <linux/virtio_config.h>

uint64_t vph_ring(const struct vph_rings *r, unsigned int q, unsigned int which)
{
        return r->base + q * r->stride + which * 0x1000;
}

void vph_driver_up(struct vph_fn *f, const struct guest_mem *mem, const struct vph_rings *r,
                   struct vring_driver *drv, uint16_t *noff, uint64_t want, unsigned int vectors,
                   unsigned int count)
{
        const uint8_t all = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                            VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;

        cr_assert_eq(vph_modern_negotiate(f, want, NULL), 0);
        vph_msix_enable(f, vectors);
        cr_assert_eq(vph_modern_config_vector(f, 0), 0);
        for (unsigned int q = 0; q < count; q++) {
                uint64_t d = vph_ring(r, q, 0), a = vph_ring(r, q, 1), u = vph_ring(r, q, 2);

                vd_init(&drv[q], mem, r->size, d, a, u);
                cr_assert_eq(vph_modern_setup_queue(f, (uint16_t)q, r->size, d, a, u,
                                                    (uint16_t)(q + 1), noff ? &noff[q] : NULL),
                             0);
        }
        for (unsigned int q = 0; q < count; q++)
                cr_assert_eq(vph_modern_enable_queue(f, (uint16_t)q), 1);
        cr_assert_eq(vph_modern_add_status(f, VIRTIO_CONFIG_S_DRIVER_OK), all);
}

uint64_t vph_galloc(uint64_t *heap, uint64_t limit, uint64_t len, uint64_t align)
{
        uint64_t a = (*heap + align - 1) & ~(align - 1);

        *heap = a + len;
        cr_assert_leq(*heap, limit, "test heap exhausted");
        return a;
}

void *vph_gptr(struct vph *h, uint64_t gpa, uint64_t len)
{
        void *p = guest_ptr(&h->mem, gpa, len);

        cr_assert_not_null(p);
        return p;
}

unsigned int vph_pending_used(const struct vring_driver *d)
{
        return (uint16_t)(vd_used_idx(d) - d->last_used);
}

void vph_wait_used(struct vph *h, const struct vring_driver *d, unsigned int q, unsigned int n)
{
        for (int i = 0; i < 500 && vph_pending_used(d) < n; i++)
                cr_assert_geq(vph_poll(h, 10), 0);
        cr_assert_geq(vph_pending_used(d), n, "queue %u: %u of %u used", q, vph_pending_used(d), n);
}

void vph_settle(struct vph *h)
{
        for (int i = 0; i < 100 && vph_poll(h, 20) > 0; i++)
                ;
}

void vph_expect_used(struct vring_driver *d, unsigned int q, uint16_t head, uint32_t len)
{
        uint32_t id, l;

        cr_assert(vd_get_used(d, &id, &l), "queue %u: no used entry for head %u", q, head);
        cr_assert_eq(id, head, "queue %u: used head %u, wanted %u", q, id, head);
        cr_assert_eq(l, len, "queue %u head %u: used length %u, wanted %u", q, head, l, len);
}
