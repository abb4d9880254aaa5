/* Fuzz helper: a guest driver for a virtio-pci device on the vpci harness, steered by the input. */
#ifndef WISP_TESTS_FUZZ_DRIVER_H
#define WISP_TESTS_FUZZ_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "fuzz_input.h"
#include "vpci_harness.h"
#include "vring_driver.h"

/*
 * Guest RAM: rings for up to FZ_MAX_Q queues of FZ_QSZ entries from FZ_RING_BASE, and a heap
 * of request buffers from FZ_HEAP_BASE to the end. Descriptor addresses are heap offsets
 * unless the input asks for a raw 64-bit address (anywhere, hostile).
 */
#define FZ_RAM (512ull << 10)
#define FZ_QSZ 256
#define FZ_MAX_Q 5
#define FZ_RING_BASE 0x10000ull
#define FZ_RING_STRIDE 0x4000ull
#define FZ_HEAP_BASE 0x30000ull
#define FZ_HEAP (FZ_RAM - FZ_HEAP_BASE)

struct fz_drv {
        struct vph *h;
        struct vph_fn *f;
        unsigned int nq; /* queues the device has */
        struct vring_driver drv[FZ_MAX_Q];
        uint16_t noff[FZ_MAX_Q];
        uint16_t next_desc[FZ_MAX_Q];
        bool up; /* DRIVER_OK reached with every queue enabled */
};

static inline uint64_t fz_ring(unsigned int q, unsigned int which)
{
        return FZ_RING_BASE + q * FZ_RING_STRIDE + which * 0x1000;
}

/* virtio_dev_probe + find_vqs + DRIVER_OK, as the unit tests do; false where the device refused. */
static inline bool fz_up(struct fz_drv *d, uint64_t want)
{
        d->up = false;
        if (vph_modern_negotiate(d->f, want, NULL))
                return false;
        vph_msix_enable(d->f, d->nq + 1);
        vph_modern_config_vector(d->f, 0);
        for (unsigned int q = 0; q < d->nq && q < FZ_MAX_Q; q++) {
                vd_init(&d->drv[q], &d->h->mem, FZ_QSZ, fz_ring(q, 0), fz_ring(q, 1),
                        fz_ring(q, 2));
                d->next_desc[q] = 0;
                if (vph_modern_setup_queue(d->f, (uint16_t)q, FZ_QSZ, fz_ring(q, 0), fz_ring(q, 1),
                                           fz_ring(q, 2), (uint16_t)(q + 1), &d->noff[q]))
                        return false;
        }
        for (unsigned int q = 0; q < d->nq && q < FZ_MAX_Q; q++)
                if (vph_modern_enable_queue(d->f, (uint16_t)q) != 1)
                        return false;
        d->up = vph_modern_add_status(d->f, VIRTIO_CONFIG_S_DRIVER_OK) & VIRTIO_CONFIG_S_DRIVER_OK;
        return d->up;
}

static inline uint64_t fz_addr(struct fin *in)
{
        if (fin_u8(in) == 0xff)
                return fin_u64(in); /* hostile: anywhere */
        return FZ_HEAP_BASE + fin_u16(in) % FZ_HEAP;
}

static inline void *fz_heap(struct fz_drv *d, uint64_t off, uint64_t len)
{
        return guest_ptr(&d->h->mem, FZ_HEAP_BASE + off, len);
}

/*
 * One driver operation from the input (the caller has read the opcode, 0..FZ_OPS-1). Only a
 * reset works before the driver is up.
 */
#define FZ_OPS 10
static inline void fz_op(struct fz_drv *d, unsigned int op, struct fin *in)
{
        unsigned int q = fin_u8(in) % d->nq;

        if (op != 8 && (!d->up || q >= FZ_MAX_Q))
                return;
        switch (op) {
        case 0: { /* one raw descriptor */
                uint16_t i = fin_u16(in);
                uint64_t addr = fz_addr(in);
                uint32_t len = fin_u8(in) & 1 ? fin_u32(in) : fin_u16(in) % 0x2000u;
                uint16_t flags = fin_u8(in) & 7;

                vd_set_desc(&d->drv[q], i, addr, len, flags, fin_u16(in) % (FZ_QSZ + 1));
                break;
        }
        case 1: /* a raw head in the avail ring */
                vd_post(&d->drv[q], fin_u16(in) % (FZ_QSZ + 1));
                break;
        case 2: /* publish and kick */
                vd_publish(&d->drv[q]);
                vph_modern_notify(d->f, (uint16_t)q, d->noff[q]);
                break;
        case 3: { /* the guest writes its buffers */
                uint32_t off = fin_u16(in) % FZ_HEAP, len = fin_u8(in) % 65;

                if (len > FZ_HEAP - off)
                        len = (uint32_t)(FZ_HEAP - off);
                fin_bytes(in, fz_heap(d, off, len ? len : 1), len);
                break;
        }
        case 4: { /* a well-formed chain of up to 4 heap buffers, readable then writable */
                struct vd_buf b[4];
                unsigned int n = 1 + fin_u8(in) % 4, nw = fin_u8(in) % (n + 1);

                for (unsigned int k = 0; k < n; k++) {
                        uint32_t off = fin_u16(in) % FZ_HEAP, len = 1 + fin_u16(in) % 0x1000u;

                        if (len > FZ_HEAP - off)
                                len = (uint32_t)(FZ_HEAP - off);
                        b[k] = (struct vd_buf){FZ_HEAP_BASE + off, len, k >= n - nw};
                }
                vd_add_chain(&d->drv[q], d->next_desc[q], b, n);
                d->next_desc[q] = (uint16_t)((d->next_desc[q] + n) % FZ_QSZ);
                break;
        }
        case 5: /* a hostile avail index */
                vd_set_avail_idx(&d->drv[q], fin_u16(in));
                break;
        case 6: { /* the driver reaps used entries */
                uint32_t id, len;

                while (vd_get_used(&d->drv[q], &id, &len))
                        ;
                break;
        }
        case 7:
                (void)vph_poll(d->h, 0);
                break;
        case 8: /* reset, in the middle of whatever is in flight, and maybe up again */
                vph_modern_reset(d->f);
                d->up = false;
                if (fin_u8(in) & 1)
                        fz_up(d, fin_u64(in));
                break;
        case 9: /* notification suppression fields */
                vd_set_avail_flags(&d->drv[q], fin_u8(in) & 1);
                vd_set_used_event(&d->drv[q], fin_u16(in));
                break;
        }
}

#endif
