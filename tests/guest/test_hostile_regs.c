/* wisp.test=hostile-NAME, the register-level cases: queue registers after DRIVER_OK,
 * queue_select out of range, MSI-X beyond the table, notify beyond the queues, the status
 * machine abused. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

#define IDLE_MS 200 /* how long a request that must not be served is watched */

/* --- queue registers after DRIVER_OK ------------------------------------------------- */

void h_queue_regs(struct blk *b)
{
        struct vdev *d = &b->v;
        struct vq *q = &b->vq[0];

        if (d->legacy) {
                u32 pfn;

                outw(d->io + VIRTIO_PCI_QUEUE_SEL, 0);
                pfn = inl(d->io + VIRTIO_PCI_QUEUE_PFN);
                outl(d->io + VIRTIO_PCI_QUEUE_PFN, pfn + 16);
                if (inl(d->io + VIRTIO_PCI_QUEUE_PFN) != pfn)
                        hfail("queue-regs: legacy QUEUE_PFN 0x%x -> 0x%x after DRIVER_OK", pfn,
                              inl(d->io + VIRTIO_PCI_QUEUE_PFN));
                outl(d->io + VIRTIO_PCI_QUEUE_PFN, 0);
                if (inl(d->io + VIRTIO_PCI_QUEUE_PFN) != pfn)
                        hfail("queue-regs: legacy QUEUE_PFN 0 took effect after DRIVER_OK");
                kprintf("hostile: queue-regs: QUEUE_PFN writes after DRIVER_OK ignored\n");
        } else {
                u16 size, en;
                u32 dlo, dhi, alo, ulo;

                vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
                vm_write(d, VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size / 2);
                vm_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (u32)(u64)q->desc + 0x10000);
                vm_write(d, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 1);
                vm_write(d, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (u32)(u64)q->avail + 0x10000);
                vm_write(d, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (u32)(u64)q->used + 0x10000);
                vm_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
                size = (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
                en = (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
                dlo = vm_read(d, VIRTIO_PCI_COMMON_Q_DESCLO, 4);
                dhi = vm_read(d, VIRTIO_PCI_COMMON_Q_DESCHI, 4);
                alo = vm_read(d, VIRTIO_PCI_COMMON_Q_AVAILLO, 4);
                ulo = vm_read(d, VIRTIO_PCI_COMMON_Q_USEDLO, 4);
                kprintf("hostile: queue-regs: after DRIVER_OK writes: size %u enable %u desc "
                        "0x%x%08x avail 0x%x used 0x%x\n",
                        size, en, dhi, dlo, alo, ulo);
                if (size != q->size || en != 1 || dlo != (u32)(u64)q->desc || dhi != 0 ||
                    alo != (u32)(u64)q->avail || ulo != (u32)(u64)q->used)
                        hfail("queue-regs: queue 0 registers changed after DRIVER_OK (size %u "
                              "enable %u desc 0x%x%08x, were %u 1 0x%lx)",
                              size, en, dhi, dlo, q->size, (u64)q->desc);
        }
        sanity(b, "queue register writes after DRIVER_OK");
}

/* --- queue_select out of range ------------------------------------------------------ */

static const u16 bad_sel[] = {0, 1, 0x7fff, 0xffff}; /* [0], [1] replaced by nq, nq + 1 */

static void select_probe(struct blk *b)
{
        struct vdev *d = &b->v;
        u16 nq = b->num_queues;

        for (u32 i = 0; i < ARRAY_SIZE(bad_sel); i++) {
                u16 sel = i < 2 ? (u16)(nq + i) : bad_sel[i];
                u32 size, pfn = 0, en = 0, vec;

                if (d->legacy) {
                        outw(d->io + VIRTIO_PCI_QUEUE_SEL, sel);
                        outl(d->io + VIRTIO_PCI_QUEUE_PFN, (u32)((u64)hbuf >> 12));
                        outw(d->io + VIRTIO_MSI_QUEUE_VECTOR, 1);
                        size = inw(d->io + VIRTIO_PCI_QUEUE_NUM);
                        pfn = inl(d->io + VIRTIO_PCI_QUEUE_PFN);
                        vec = inw(d->io + VIRTIO_MSI_QUEUE_VECTOR);
                } else {
                        vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, sel);
                        vm_write(d, VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
                        vm_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (u32)(u64)hbuf);
                        vm_write(d, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
                        vm_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
                        size = vm_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
                        en = vm_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
                        pfn = vm_read(d, VIRTIO_PCI_COMMON_Q_DESCLO, 4);
                        vec = vm_read(d, VIRTIO_PCI_COMMON_Q_MSIX, 2);
                }
                kprintf("hostile: queue-select 0x%x: size %u enable %u addr 0x%x vector 0x%x\n",
                        sel, size, en, pfn, vec);
                if (size || en || pfn)
                        hfail("queue-select 0x%x (of %u queues): reads size %u enable %u addr "
                              "0x%x, expected 0",
                              sel, nq, size, en, pfn);
                if (vec != 0 && vec != VIRTIO_MSI_NO_VECTOR)
                        hfail("queue-select 0x%x: the vector write stuck (reads 0x%x)", sel, vec);
        }
}

/* After DRIVER_OK: the real queues kept their own settings. */
static void select_check(struct blk *b)
{
        for (u16 i = 0; i < b->nvq; i++) {
                struct vdev *d = &b->v;
                u16 vec;

                if (d->legacy) {
                        outw(d->io + VIRTIO_PCI_QUEUE_SEL, i);
                        vec = inw(d->io + VIRTIO_MSI_QUEUE_VECTOR);
                } else {
                        vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, i);
                        vec = (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_MSIX, 2);
                }
                if (vec != b->vq[i].vector)
                        hfail("queue-select: queue %u vector now 0x%x, set 0x%x", i, vec,
                              b->vq[i].vector);
        }
}

void h_queue_select(struct blk *b)
{
        virtio_reset(&b->v);
        b->hook_pre_queues = select_probe;
        if (!blk_reinit(b))
                hfail("queue-select: set-up failed after the out-of-range accesses");
        b->hook_pre_queues = NULL;
        select_check(b);
        /* And once more with the queues live. */
        select_probe(b);
        select_check(b);
        sanity(b, "out-of-range queue_select");
}

/* --- MSI-X: vectors beyond the table, accesses beyond the table ----------------------- */

static void vector_probe(struct blk *b)
{
        struct vdev *d = &b->v;
        u16 bad[] = {d->msix.nvec, (u16)(d->msix.nvec + 1), 0x7ff, 0xfffe};

        for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
                u16 got = d->ops->set_config_vector(d, bad[i]);

                if (got != VIRTIO_MSI_NO_VECTOR)
                        hfail("msix: config vector %u (table has %u) reads back 0x%x, expected "
                              "NO_VECTOR",
                              bad[i], d->msix.nvec, got);
        }
        if (d->ops->set_config_vector(d, 0) != 0)
                hfail("msix: config vector 0 not accepted again");
}

static u16 queue_vector_write(struct vdev *d, u16 q, u16 v)
{
        if (d->legacy) {
                outw(d->io + VIRTIO_PCI_QUEUE_SEL, q);
                outw(d->io + VIRTIO_MSI_QUEUE_VECTOR, v);
                return inw(d->io + VIRTIO_MSI_QUEUE_VECTOR);
        }
        vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        vm_write(d, VIRTIO_PCI_COMMON_Q_MSIX, 2, v);
        return (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_MSIX, 2);
}

static void queue_vector_probe(struct blk *b)
{
        struct vdev *d = &b->v;
        u16 got = queue_vector_write(d, 0, d->msix.nvec);

        if (got != VIRTIO_MSI_NO_VECTOR)
                hfail("msix: queue 0 vector %u (table has %u) reads back 0x%x, expected NO_VECTOR",
                      d->msix.nvec, d->msix.nvec, got);
        if (queue_vector_write(d, 0, b->vq[0].vector) != b->vq[0].vector)
                hfail("msix: queue 0 vector %u not accepted again", b->vq[0].vector);
        kprintf("hostile: msix: vectors >= %u read back NO_VECTOR (config and queue)\n",
                d->msix.nvec);
}

void h_msix(struct blk *b)
{
        struct msix *m = &b->v.msix;
        u64 tbl_end = m->table + (u64)m->nvec * PCI_MSIX_ENTRY_SIZE;
        u64 pba_len = ((m->nvec + 63) / 64) * 8UL;
        u32 before[64][4], pba0, n = m->nvec < 64 ? m->nvec : 64;
        u64 beyond[4], cand[3];
        u32 nb = 0;

        if (!b->v.have_msix)
                hfail("msix: the device has no MSI-X capability");
        virtio_reset(&b->v);
        b->hook_pre_queues = vector_probe;
        b->hook_pre_driver_ok = queue_vector_probe;
        if (!blk_reinit(b))
                hfail("msix: set-up failed after out-of-range vectors");
        b->hook_pre_queues = b->hook_pre_driver_ok = NULL;
        for (u32 i = 0; i < n; i++)
                for (u32 k = 0; k < 4; k++)
                        before[i][k] = mmio_read32(msix_entry_addr(m, (u16)i) + 4 * k);
        pba0 = mmio_read32(m->pba);
        /* Past the last entry, the end of that page, past the PBA: inside the BARs only. */
        cand[0] = tbl_end;
        cand[1] = (tbl_end | 0xfff) + 1 - 16;
        cand[2] = m->pba + pba_len;
        for (u32 i = 0; i < 3; i++) {
                bool in_pba = cand[i] < m->pba + pba_len && cand[i] + 16 > m->pba;
                bool in_tbl = cand[i] < tbl_end && cand[i] + 16 > m->table;

                if (in_pba || in_tbl || (i < 2 && cand[i] + 16 > m->table_bar_end) ||
                    (i == 2 && cand[i] + 16 > m->pba_bar_end) || (i == 1 && cand[1] == cand[0]))
                        continue;
                beyond[nb++] = cand[i];
        }
        for (u32 i = 0; i < nb; i++) {
                mmio_write32(beyond[i], 0xfee00000);
                mmio_write32(beyond[i] + 8, 0x41);
                mmio_write32(beyond[i] + 12, 0);
                *(volatile u64 *)beyond[i] = 0x12345678fee00000UL;
                if (mmio_read32(beyond[i] + 8) == 0x41 ||
                    *(volatile u64 *)beyond[i] == 0x12345678fee00000UL)
                        hfail("msix: a write at 0x%lx (beyond the table or PBA) reads back",
                              beyond[i]);
                kprintf("hostile: msix: 0x%lx beyond the table/PBA reads 0x%08x\n", beyond[i],
                        mmio_read32(beyond[i]));
        }
        /* Sizes and alignments the spec does not allow on entry 0; the read-only PBA. */
        *(volatile u8 *)(msix_entry_addr(m, 0) + PCI_MSIX_ENTRY_DATA) = 0x42;
        *(volatile u16 *)(msix_entry_addr(m, 0) + PCI_MSIX_ENTRY_DATA + 1) = 0x4242;
        *(volatile u16 *)(msix_entry_addr(m, 0) + PCI_MSIX_ENTRY_VECTOR_CTRL) = 1;
        mmio_write32(m->pba, 0xffffffff);
        for (u32 i = 0; i < n; i++)
                for (u32 k = 0; k < 4; k++)
                        if (mmio_read32(msix_entry_addr(m, (u16)i) + 4 * k) != before[i][k])
                                hfail("msix: entry %u dword %u changed: 0x%x -> 0x%x", i, k,
                                      before[i][k],
                                      mmio_read32(msix_entry_addr(m, (u16)i) + 4 * k));
        if (mmio_read32(m->pba) != pba0 && mmio_read32(m->pba) == 0xffffffff)
                hfail("msix: the PBA took a write");
        kprintf("hostile: msix: byte/word writes to entry 0 and a PBA write ignored\n");
        sanity(b, "MSI-X abuse");
}

/* --- notify with a queue index >= num_queues -------------------------------------- */

void h_notify(struct blk *b)
{
        struct vdev *d = &b->v;
        struct vq *q = &b->vq[0];
        u16 nq = b->num_queues, used0;
        struct vbuf v = {(u64)hbuf2, 4096, true};
        int head = blk_submit(b, 0, VIRTIO_BLK_T_IN, 0, &v, 1, false);
        u64 end;
        u32 st;

        used0 = *(volatile u16 *)&q->used->idx;
        if (d->legacy) {
                outw(d->io + VIRTIO_PCI_QUEUE_NOTIFY, nq);
                outw(d->io + VIRTIO_PCI_QUEUE_NOTIFY, 0xffff);
                outw(d->io + VIRTIO_PCI_QUEUE_NOTIFY, 0x8000);
        } else {
                /* Each queue has its own address; these are where queues nq.. would be. */
                u64 a1 = d->notify + (u64)nq * d->notify_mult;
                u64 a2 = d->notify + (u64)(nq + 1) * d->notify_mult;

                *(volatile u16 *)a1 = nq;
                *(volatile u16 *)a2 = (u16)(nq + 1);
        }
        end = deadline_ms(IDLE_MS);
        while (!deadline_passed(end))
                if (*(volatile u16 *)&q->used->idx != used0)
                        hfail("notify: queue 0 was served after a notify for queue index >= %u",
                              nq);
        vq_kick(q, true);
        st = blk_wait(b, 0, head, 5000);
        if (st != VIRTIO_BLK_S_OK)
                hfail("notify: the real kick afterwards got %s", blk_status_name(st));
        kprintf("hostile: notify: indexes %u.. ignored, queue 0 served on its own kick\n", nq);
        sanity(b, "notify for a queue that does not exist");
}

/* --- status machine: unoffered features, DRIVER_OK without FEATURES_OK -------------- */

void h_status(struct blk *b)
{
        struct vdev *d = &b->v;
        struct vq *q = &b->vq[0];
        u64 offered, base, bits[] = {0, 7, 63, 50};
        u8 st;

        if (d->legacy) {
                kprintf("hostile: status: the legacy interface has no FEATURES_OK: skipped\n");
                sanity(b, "nothing");
                return;
        }
        for (u32 i = 0; i < ARRAY_SIZE(bits); i++) {
                virtio_reset(d);
                d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
                offered = d->ops->get_features(d);
                if (offered & (1UL << bits[i]))
                        continue;
                base = 1UL << VIRTIO_F_VERSION_1;
                d->ops->set_features(d, base | (1UL << bits[i]));
                d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                          VIRTIO_CONFIG_S_FEATURES_OK);
                st = d->ops->get_status(d);
                kprintf("hostile: status: feature bit %lu (not offered) + FEATURES_OK: status "
                        "0x%x\n",
                        bits[i], st);
                if (st & VIRTIO_CONFIG_S_FEATURES_OK)
                        hfail("status: FEATURES_OK accepted with feature bit %lu, never offered",
                              bits[i]);
        }
        /* DRIVER_OK without FEATURES_OK, the queue fully set up. */
        virtio_reset(d);
        d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        d->ops->set_features(d, (1UL << VIRTIO_F_VERSION_1) |
                                    (d->features & ~(1UL << VIRTIO_RING_F_EVENT_IDX)));
        vq_reset(q);
        q->event_idx = false;
        if (!virtio_queue(d, q))
                hfail("status: queue 0 set-up refused before FEATURES_OK");
        d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                  VIRTIO_CONFIG_S_DRIVER_OK);
        st = d->ops->get_status(d);
        {
                struct vbuf v = {(u64)hbuf2, 4096, true};
                int head = blk_submit(b, 0, VIRTIO_BLK_T_IN, 0, &v, 1, false);
                u64 end = deadline_ms(IDLE_MS);

                vq_kick(q, true);
                while (!deadline_passed(end))
                        if (vq_has_used(q))
                                hfail("status: a request was served after DRIVER_OK without "
                                      "FEATURES_OK (status 0x%x)",
                                      st);
                (void)head;
        }
        kprintf("hostile: status: DRIVER_OK without FEATURES_OK: status 0x%x, queue not served\n",
                st);
        if (st & VIRTIO_CONFIG_S_DRIVER_OK)
                hfail("status: DRIVER_OK reads back set without FEATURES_OK (0x%x)", st);
        reset_reinit(b, "status");
        sanity(b, "status abuse and a reset");
}
