/* wisp.test=hostile-NAME: a malicious driver; each checks the device does what BAD-INPUTS asks. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

#define SECTOR 512UL
#define IDLE_MS 200    /* how long a request that must not be served is watched */
#define BROKEN_MS 2000 /* how long NEEDS_RESET and its interrupt may take */
#define SANITY_SECTOR 200

static struct blk disks[2];
static u32 ndisks;
u8 *hbuf, *hbuf2;
static u64 seed = 0x5eed;

static const char *st_name(u32 st)
{
        return blk_status_name(st);
}

/* The device still works: a write and a read on every queue (a read on a read-only disk). */
void sanity(struct blk *b, const char *after)
{
        for (u16 q = 0; q < b->nvq; q++) {
                u64 s = SANITY_SECTOR + 8UL * q;
                u32 st;

                if (!b->ro) {
                        pattern_fill(hbuf, 4096, seed + q, s * SECTOR);
                        st = blk_rw(b, q, true, s, hbuf, 4096);
                        if (st != VIRTIO_BLK_S_OK)
                                hfail("after %s: queue %u: write got %s", after, q, st_name(st));
                }
                memset(hbuf2, 0x5a, 4096);
                st = blk_rw(b, q, false, s, hbuf2, 4096);
                if (st != VIRTIO_BLK_S_OK)
                        hfail("after %s: queue %u: read got %s", after, q, st_name(st));
                if (!b->ro && pattern_check(hbuf2, 4096, seed + q, s * SECTOR) != ~0UL)
                        hfail("after %s: queue %u: data read back differs", after, q);
        }
        kprintf("hostile: after %s: I/O works on %u queue%s\n", after, b->nvq,
                b->nvq > 1 ? "s" : "");
}

void reset_reinit(struct blk *b, const char *why)
{
        if (!virtio_reset(&b->v))
                hfail("%s: status reads 0x%x after writing 0", why, b->v.ops->get_status(&b->v));
        if (!blk_reinit(b))
                hfail("%s: the device did not come back after a reset", why);
}

/* Waits for head; returns its status (or BLK_NO_STATUS / BLK_TIMEOUT). */
static u32 wait_head(struct blk *b, u16 q, int head)
{
        return blk_wait(b, q, head, 5000);
}

/* A request that must be refused: returned unanswered (length 0) or with an error status. */
void expect_refused2(u32 st, const char *what, const char *detail)
{
        if (st == BLK_TIMEOUT)
                hfail("%s%s: never returned (the queue stalled)", what, detail);
        if (st == VIRTIO_BLK_S_OK)
                hfail("%s%s: served with status OK", what, detail);
        kprintf("hostile: %s%s: %s\n", what, detail,
                st == BLK_NO_STATUS ? "returned with length 0" : st_name(st));
}

void expect_refused(u32 st, const char *what)
{
        expect_refused2(st, what, "");
}

/* --- queue registers after DRIVER_OK ------------------------------------------------- */

static void queue_regs(struct blk *b)
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

static void queue_select(struct blk *b)
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

static void msix(struct blk *b)
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

static void notify(struct blk *b)
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
        st = wait_head(b, 0, head);
        if (st != VIRTIO_BLK_S_OK)
                hfail("notify: the real kick afterwards got %s", st_name(st));
        kprintf("hostile: notify: indexes %u.. ignored, queue 0 served on its own kick\n", nq);
        sanity(b, "notify for a queue that does not exist");
}

/* --- descriptor loops and over-long chains -------------------------------------- */

static u32 submit_tampered(struct blk *b, int head)
{
        vq_publish(&b->vq[0], (u16)head);
        vq_kick(&b->vq[0], true);
        return wait_head(b, 0, head);
}

static void chain(struct blk *b)
{
        struct vq *q = &b->vq[0];
        static struct vbuf v[1024];
        u32 n = q->size - 2u, last;
        int head;

        /* 1. the status descriptor chains back to the head: a loop */
        v[0] = (struct vbuf){(u64)hbuf2, 4096, true};
        head = blk_prepare(b, 0, VIRTIO_BLK_T_IN, 0, v, 1, false);
        last = q->desc[q->desc[head].next].next;
        q->desc[last].flags |= VRING_DESC_F_NEXT;
        q->desc[last].next = (u16)head;
        expect_refused(submit_tampered(b, head), "chain: descriptor loop");
        sanity(b, "a descriptor loop");

        /* 2. a self-loop on the head */
        head = blk_prepare(b, 0, VIRTIO_BLK_T_IN, 0, v, 1, false);
        q->desc[head].next = (u16)head;
        expect_refused(submit_tampered(b, head), "chain: head pointing at itself");
        sanity(b, "a self-looping head");

        /* 3. every descriptor of the ring in one chain that goes round for ever */
        for (u32 i = 0; i < n; i++)
                v[i] = (struct vbuf){(u64)hbuf2 + 512UL * (i % 8), 512, true};
        head = blk_prepare(b, 0, VIRTIO_BLK_T_IN, 0, v, n, false);
        if (head < 0)
                hfail("chain: no room for a %u-descriptor chain", n + 2);
        last = (u32)head;
        for (u32 i = 1; i < n + 2; i++)
                last = q->desc[last].next;
        q->desc[last].flags |= VRING_DESC_F_NEXT;
        q->desc[last].next = (u16)head;
        expect_refused(submit_tampered(b, head), "chain: longer than the queue (a ring-wide loop)");
        sanity(b, "a chain longer than the queue");

        if (!q->indirect) {
                kprintf("hostile: chain: indirect descriptors not negotiated, skipped\n");
                return;
        }
        /* 4. an indirect table with more entries than the queue has */
        {
                u32 m = q->size + 2u;
                struct vring_desc *t = palloc(16UL * m, 16);
                struct vbuf one = {(u64)t, 16 * m, false};

                t[0] =
                    (struct vring_desc){(u64)blk_hdr(b, 0, q->free_head), 16, VRING_DESC_F_NEXT, 1};
                blk_hdr(b, 0, q->free_head)->type = VIRTIO_BLK_T_IN;
                blk_hdr(b, 0, q->free_head)->sector = 0;
                for (u32 i = 1; i < m - 1; i++)
                        t[i] = (struct vring_desc){(u64)hbuf2 + 512UL * (i % 8), 512,
                                                   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                                                   (u16)(i + 1)};
                t[m - 1] = (struct vring_desc){(u64)blk_status_byte(b, 0, q->free_head), 1,
                                               VRING_DESC_F_WRITE, 0};
                head = vq_prepare(q, &one, 1, false);
                q->desc[head].flags = VRING_DESC_F_INDIRECT;
                expect_refused(submit_tampered(b, head),
                               "chain: indirect table longer than the queue");
                sanity(b, "an over-long indirect table");
                /* 5. an indirect table whose last entry loops to its first */
                t[m - 1].flags |= VRING_DESC_F_NEXT;
                t[m - 1].next = 0;
                t[3].flags |= VRING_DESC_F_NEXT;
                t[3].next = 1;
                one.len = 16 * 4;
                head = vq_prepare(q, &one, 1, false);
                q->desc[head].flags = VRING_DESC_F_INDIRECT;
                expect_refused(submit_tampered(b, head), "chain: loop inside an indirect table");
                sanity(b, "a loop in an indirect table");
        }
}

/* --- buffers outside RAM ---------------------------------------------------------- */

static void desc_addr(struct blk *b)
{
        u64 top = ram_top();
        struct {
                u64 addr;
                u32 len;
                const char *what;
        } bad[] = {
            {0xd0000000UL, 4096, "in the PCI hole (0xd0000000)"},
            {top, 4096, "at the top of RAM"},
            {top + (1UL << 30), 4096, "1 GiB above the top of RAM"},
            {1UL << 40, 4096, "at 1 TiB"},
            {top - 2048, 4096, "straddling the end of RAM"},
            {~0UL - 2047, 4096, "wrapping past 2^64"},
        };

        kprintf("hostile: desc-addr: RAM ends at 0x%lx\n", top);
        pattern_fill(hbuf, 4096, seed, 0);
        if (!b->ro && blk_rw(b, 0, true, 0, hbuf, 4096) != VIRTIO_BLK_S_OK)
                hfail("desc-addr: preparing sector 0 failed");
        for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
                struct vbuf v = {bad[i].addr, bad[i].len, true};
                u32 st;

                if (bad[i].addr < top && bad[i].addr + bad[i].len <= top)
                        continue; /* not outside RAM on this machine */
                st = blk_do(b, 0, VIRTIO_BLK_T_IN, 0, &v, 1, false);
                expect_refused2(st, "desc-addr: read into a buffer ", bad[i].what);
                v.write = false;
                st = blk_do(b, 0, VIRTIO_BLK_T_OUT, 0, &v, 1, false);
                expect_refused2(st, "desc-addr: write from a buffer ", bad[i].what);
        }
        /* Across the end of each RAM region above 1 MiB (into the PCI hole at 3 GiB, say). */
        for (u32 i = 0; i < boot_info.nr_mem; i++) {
                const struct mem_region *r = &boot_info.mem[i];
                u64 e = r->addr + r->size;
                struct vbuf v = {e - 2048, 4096, true};
                bool next_ram = false;

                if (r->type != E820_RAM || e < WISP_HIGHMEM_START || e == top)
                        continue;
                for (u32 k = 0; k < boot_info.nr_mem; k++)
                        if (boot_info.mem[k].type == E820_RAM && boot_info.mem[k].addr <= e &&
                            boot_info.mem[k].addr + boot_info.mem[k].size > e)
                                next_ram = true;
                if (next_ram)
                        continue;
                kprintf("hostile: desc-addr: RAM region [0x%lx, 0x%lx): a buffer across its end\n",
                        r->addr, e);
                expect_refused(blk_do(b, 0, VIRTIO_BLK_T_IN, 0, &v, 1, false),
                               "desc-addr: read into a buffer across the end of a RAM region");
        }
        /* A header outside RAM. */
        {
                struct vbuf v = {(u64)hbuf2, 4096, true};
                int head = blk_prepare(b, 0, VIRTIO_BLK_T_IN, 0, &v, 1, false);

                b->vq[0].desc[head].addr = 0xd0000000UL;
                expect_refused(submit_tampered(b, head), "desc-addr: header in the PCI hole");
        }
        memset(hbuf2, 0, 4096);
        if (blk_rw(b, 0, false, 0, hbuf2, 4096) != VIRTIO_BLK_S_OK ||
            (!b->ro && pattern_check(hbuf2, 4096, seed, 0) != ~0UL))
                hfail("desc-addr: sector 0 changed or unreadable after the refused writes");
        sanity(b, "buffers outside RAM");
}

/* --- avail index jumps ------------------------------------------------------------ */

void wait_needs_reset(struct blk *b, u32 mark, const char *what)
{
        struct vdev *d = &b->v;
        u8 cfg_vec = b->idt_base; /* entry 0: the config vector */
        u64 end = deadline_ms(BROKEN_MS);
        u8 st;

        while (!((st = d->ops->get_status(d)) & VIRTIO_CONFIG_S_NEEDS_RESET) ||
               (d->have_msix && irq_count[cfg_vec] == mark)) {
                if (deadline_passed(end)) {
                        if (d->legacy && !(st & VIRTIO_CONFIG_S_NEEDS_RESET)) {
                                kprintf("hostile: %s: legacy interface: no NEEDS_RESET (status "
                                        "0x%x; 0.9.5 has no such bit)\n",
                                        what, st);
                                return;
                        }
                        hfail("%s: status 0x%x, config interrupts %u -> %u: expected "
                              "NEEDS_RESET (0x40) and a config interrupt",
                              what, st, mark, irq_count[cfg_vec]);
                }
                sti_hlt();
        }
        kprintf("hostile: %s: status 0x%x (NEEDS_RESET) and a config interrupt\n", what, st);
}

static void avail_jump(struct blk *b)
{
        struct vq *q = &b->vq[0];
        s32 jumps[] = {q->size + 1, -1};

        for (u32 i = 0; i < ARRAY_SIZE(jumps); i++) {
                u32 mark = irq_count[b->idt_base];
                const char *what =
                    i ? "avail-jump: index moved backwards" : "avail-jump: index moved by size + 1";

                *(volatile u16 *)&q->avail->idx = (u16)(q->avail_idx + jumps[i]);
                vq_kick(q, true);
                wait_needs_reset(b, mark, what);
                if (ndisks > 1)
                        sanity(&disks[1], "the other disk's NEEDS_RESET");
                reset_reinit(b, what);
                sanity(b, "reset and re-initialisation");
        }
}

/* --- sector overflow ---------------------------------------------------------------- */

static void sector(struct blk *b)
{
        u64 bad[] = {~0UL, ~0UL - 7, 1UL << 55, (1UL << 55) + 8, b->capacity, 1UL << 63};

        pattern_fill(hbuf, 8192, seed, 0);
        if (!b->ro && blk_rw(b, 0, true, 0, hbuf, 8192) != VIRTIO_BLK_S_OK)
                hfail("sector: preparing sectors 0..15 failed");
        memset(hbuf2, 0xc3, 4096);
        for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
                u32 r = blk_rw(b, 0, false, bad[i], hbuf2, 4096);
                u32 w = blk_rw(b, 0, true, bad[i], hbuf2, 4096);

                kprintf("hostile: sector %lu (0x%lx): read %s, write %s\n", bad[i], bad[i],
                        st_name(r), st_name(w));
                if (r != VIRTIO_BLK_S_IOERR || w != VIRTIO_BLK_S_IOERR)
                        hfail("sector 0x%lx: read %s, write %s, expected IOERR", bad[i], st_name(r),
                              st_name(w));
                if (b->discard || b->wzeroes) {
                        static struct virtio_blk_discard_write_zeroes seg;
                        struct vbuf v = {(u64)&seg, sizeof(seg), false};
                        u32 st;

                        seg = (struct virtio_blk_discard_write_zeroes){bad[i], 8, 0};
                        st = blk_do(b, 0,
                                    b->wzeroes ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD,
                                    0, &v, 1, false);
                        if (st != VIRTIO_BLK_S_IOERR)
                                hfail("sector 0x%lx: %s got %s, expected IOERR", bad[i],
                                      b->wzeroes ? "write-zeroes" : "discard", st_name(st));
                }
        }
        memset(hbuf2, 0, 8192);
        if (blk_rw(b, 0, false, 0, hbuf2, 8192) != VIRTIO_BLK_S_OK ||
            (!b->ro && pattern_check(hbuf2, 8192, seed, 0) != ~0UL))
                hfail("sector: sectors 0..15 changed: an overflowing offset wrapped");
        sanity(b, "sector overflows");
}

/* --- status machine: unoffered features, DRIVER_OK without FEATURES_OK -------------- */

static void status(struct blk *b)
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

static const struct {
        const char *name;
        void (*run)(struct blk *b);
} cases[] = {
    {"queue-regs", queue_regs},
    {"queue-select", queue_select},
    {"msix", msix},
    {"notify", notify},
    {"chain", chain},
    {"desc-addr", desc_addr},
    {"sector", sector},
    {"status", status},
    {"avail-jump", avail_jump},
    {"geometry", h_geometry},
    {"config", h_config},
    {"bars", h_bars},
    {"reset-inflight", h_reset_inflight},
    {"dup-head", h_dup_head},
    {"chain-forms", h_chain_forms},
    {"discard", h_discard},
    {"flood", h_flood},
    {"rewrite", h_rewrite},
    {"reset-io", h_reset_io},
    {"ro-declined", h_ro_declined},
};

void test_hostile(const struct boot_info *bi)
{
        char name[32];
        const char *what;
        struct virtio_opts o;
        u64 n = 1;
        bool all;

        cmdline_value(bi->cmdline, "wisp.test", name, sizeof(name));
        what = name + 8; /* after "hostile-" */
        all = !strncmp(what, "all", 4);
        virtio_opts_parse(bi->cmdline, &o);
        cmdline_u64(bi->cmdline, "disks", &n);
        ndisks = n >= 2 ? 2 : 1;
        blk_setup_env(bi);
        hbuf = palloc(1UL << 20, 4096);
        hbuf2 = palloc(1UL << 20, 4096);
        for (u32 k = 0; k < ndisks; k++)
                blk_open(&disks[k], k, &o);
        if (!strncmp(what, "pci-fuzz", 9)) {
                test_hostile_pci_fuzz(bi, &disks[0]);
                guest_pass();
        }
        for (u32 i = 0; i < ARRAY_SIZE(cases); i++) {
                if (!all && strncmp(what, cases[i].name, 24))
                        continue;
                kprintf("hostile: --- %s (%s interface)\n", cases[i].name, disks[0].v.ops->name);
                cases[i].run(&disks[0]);
                if (!all)
                        guest_pass();
        }
        if (all)
                guest_pass();
        guest_fail(ST_USAGE, "unknown wisp.test=%s", name);
}
