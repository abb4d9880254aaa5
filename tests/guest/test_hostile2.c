/* More hostile-* scenarios: geometry, config, BARs, reset in flight, chain forms, discard. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

/* --- queue geometry: size, alignment, rings outside RAM ------------------------------- */

struct geo {
        u16 size;
        u64 desc, avail, used;
        const char *what;
};

static void geometry_probe(struct blk *b)
{
        struct vdev *d = &b->v;
        struct vq *q = &b->vq[0];
        u64 top = ram_top(), bar = d->pci->bar[4].addr ? d->pci->bar[4].addr : d->pci->bar[1].addr;
        u16 max = d->ops->queue_size(d, 0);
        u64 ds = (u64)q->desc, as = (u64)q->avail, us = (u64)q->used;
        struct geo g[] = {
            {0, ds, as, us, "size 0"},
            {100, ds, as, us, "size 100 (not a power of two)"},
            {(u16)(max * 2), ds, as, us, "size twice the maximum"},
            {0x8000, ds, as, us, "size 0x8000"},
            {max, ds + 8, as, us, "descriptor table misaligned"},
            {max, ds, as + 1, us, "avail ring misaligned"},
            {max, ds, as, us + 2, "used ring misaligned"},
            {max, 0xd0000000UL, as, us, "descriptor table in the PCI hole"},
            {max, ds, top, us, "avail ring at the top of RAM"},
            {max, ds, as, top - 16, "used ring straddling the end of RAM"},
            {max, ds, as, bar, "used ring on the device's own BAR"},
            {max, ds, as, 1UL << 40, "used ring at 1 TiB"},
        };

        if (d->legacy) {
                u32 bad[] = {0, (u32)(top >> 12) + 16, 0xd0000, (u32)(bar >> 12)};

                for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
                        u32 got;

                        outw(d->io + VIRTIO_PCI_QUEUE_SEL, 0);
                        outl(d->io + VIRTIO_PCI_QUEUE_PFN, bad[i]);
                        got = inl(d->io + VIRTIO_PCI_QUEUE_PFN);
                        kprintf("hostile: geometry: legacy PFN 0x%x reads back 0x%x\n", bad[i],
                                got);
                        if (got)
                                hfail("geometry: legacy QUEUE_PFN 0x%x (ring at 0x%lx) accepted",
                                      bad[i], (u64)bad[i] << 12);
                }
                return;
        }
        for (u32 i = 0; i < ARRAY_SIZE(g); i++) {
                u16 en;

                vm_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
                vm_write(d, VIRTIO_PCI_COMMON_Q_SIZE, 2, g[i].size);
                vm_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (u32)g[i].desc);
                vm_write(d, VIRTIO_PCI_COMMON_Q_DESCHI, 4, (u32)(g[i].desc >> 32));
                vm_write(d, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (u32)g[i].avail);
                vm_write(d, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (u32)(g[i].avail >> 32));
                vm_write(d, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (u32)g[i].used);
                vm_write(d, VIRTIO_PCI_COMMON_Q_USEDHI, 4, (u32)(g[i].used >> 32));
                vm_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
                en = (u16)vm_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
                kprintf("hostile: geometry: %s: queue_enable reads %u\n", g[i].what, en);
                if (en)
                        hfail("geometry: queue enabled with %s (size %u desc 0x%lx avail 0x%lx "
                              "used 0x%lx)",
                              g[i].what, g[i].size, g[i].desc, g[i].avail, g[i].used);
        }
}

void h_geometry(struct blk *b)
{
        virtio_reset(&b->v);
        b->hook_pre_queues = geometry_probe;
        if (!blk_reinit(b))
                hfail("geometry: a good geometry was refused after the bad ones");
        b->hook_pre_queues = NULL;
        sanity(b, "bad queue geometries");
}

/* --- device config: past the end, writes to read-only fields ------------------------- */

static u32 cfg_rd(struct vdev *d, u32 off, u32 size)
{
        if (d->legacy) {
                u16 port = d->io + VIRTIO_PCI_CONFIG_OFF(d->have_msix) + off;

                return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
        }
        return size == 1   ? *(volatile u8 *)(d->devcfg + off)
               : size == 2 ? *(volatile u16 *)(d->devcfg + off)
                           : *(volatile u32 *)(d->devcfg + off);
}

static void cfg_wr(struct vdev *d, u32 off, u32 size, u32 v)
{
        if (d->legacy) {
                u16 port = d->io + VIRTIO_PCI_CONFIG_OFF(d->have_msix) + off;

                if (size == 1)
                        outb(port, (u8)v);
                else if (size == 2)
                        outw(port, (u16)v);
                else
                        outl(port, v);
                return;
        }
        if (size == 1)
                *(volatile u8 *)(d->devcfg + off) = (u8)v;
        else if (size == 2)
                *(volatile u16 *)(d->devcfg + off) = (u16)v;
        else
                *(volatile u32 *)(d->devcfg + off) = v;
}

void h_config(struct blk *b)
{
        struct vdev *d = &b->v;
        u32 lo = cfg_rd(d, VIRTIO_BLK_CFG_CAPACITY, 4), seg = cfg_rd(d, VIRTIO_BLK_CFG_SEG_MAX, 4);
        u32 end, past;
        u64 bytes = 0;

        /* Bytewise reads agree with the dword read. */
        for (u32 i = 0; i < 4; i++)
                bytes |= (u64)cfg_rd(d, VIRTIO_BLK_CFG_CAPACITY + i, 1) << (8 * i);
        if (bytes != lo)
                hfail("config: capacity reads 0x%x as a dword, 0x%lx bytewise", lo, bytes);
        /* Read-only fields ignore writes. */
        cfg_wr(d, VIRTIO_BLK_CFG_CAPACITY, 4, ~lo);
        cfg_wr(d, VIRTIO_BLK_CFG_SEG_MAX, 4, 1);
        cfg_wr(d, VIRTIO_BLK_CFG_NUM_QUEUES, 2, 0);
        if (cfg_rd(d, VIRTIO_BLK_CFG_CAPACITY, 4) != lo ||
            cfg_rd(d, VIRTIO_BLK_CFG_SEG_MAX, 4) != seg)
                hfail("config: a write to capacity or seg_max took effect");
        if ((b->mq ? b->num_queues : 0) && cfg_rd(d, VIRTIO_BLK_CFG_NUM_QUEUES, 2) != b->num_queues)
                hfail("config: a write to num_queues took effect");
        /* Past struct virtio_blk_config (72 bytes), still inside the register window. */
        if (d->legacy)
                end = (u32)d->pci->bar[0].size - VIRTIO_PCI_CONFIG_OFF(d->have_msix) - 4;
        else
                end = d->devcfg + 0x104 <= d->pci->bar[4].addr + d->pci->bar[4].size ? 0x100 : 0;
        if (end >= 72) {
                past = cfg_rd(d, end, 4);
                kprintf("hostile: config: offset %u (past the end) reads 0x%x\n", end, past);
                if (past)
                        hfail("config: read past the end (offset %u) gives 0x%x, expected zero",
                              end, past);
        }
        kprintf("hostile: config: read-only fields kept, bytewise reads consistent\n");
        sanity(b, "device config abuse");
}

/* --- BARs: moved in halves, above 4 GiB, over RAM, over each other, over fixed ports --- */

static void bar_write(struct pci_fn *f, int n, u64 addr)
{
        u32 off = PCI_BASE_ADDRESS_0 + 4 * n;

        pci_write(f, off, 4, (u32)addr); /* low half first, as Linux does */
        if (f->bar[n].is64)
                pci_write(f, off + 4, 4, (u32)(addr >> 32));
}

/* Finds the regions again at the new addresses (what a driver would do after a move). */
static void remap(struct blk *b)
{
        struct vdev *d = &b->v;
        u16 nused = d->msix.nused; /* msix_probe starts afresh */

        if (!pci_size_bars(d->pci))
                hfail("bars: sizing failed after a move");
        if (!d->ops->probe(d))
                hfail("bars: virtio capabilities unusable after a move");
        if (d->have_msix && !msix_probe(&d->msix, d->pci))
                hfail("bars: MSI-X capability unusable after a move");
        if (d->have_msix)
                msix_enable(&d->msix, b->idt_base, nused);
        reset_reinit(b, "bars");
}

static void move_and_use(struct blk *b, int n, u64 addr, const char *what)
{
        struct pci_fn *f = b->v.pci;

        mmu_map_mmio(addr, f->bar[n].size);
        bar_write(f, n, addr);
        remap(b);
        if (f->bar[n].addr != addr)
                hfail("bars: BAR %d reads 0x%lx after writing 0x%lx", n, f->bar[n].addr, addr);
        sanity(b, what);
}

void h_bars(struct blk *b)
{
        struct pci_fn *f = b->v.pci;
        int mbar = b->v.legacy ? 1 : 4; /* the BAR the driver lives in */
        u64 orig[PCI_STD_NUM_BARS], size = f->bar[mbar].size;
        u8 *ram = palloc(2 * size, size);

        for (int i = 0; i < PCI_STD_NUM_BARS; i++)
                orig[i] = f->bar[i].addr;
        if (!f->bar[mbar].size)
                hfail("bars: BAR %d not implemented", mbar);
        /* 1. moved within the 32-bit window, halves written with decode on */
        move_and_use(b, mbar, (orig[mbar] + 0x1000000UL) & ~(size - 1),
                     "a BAR moved in the 32-bit window");
        /* 2. a 64-bit BAR above 4 GiB */
        if (f->bar[mbar].is64)
                move_and_use(b, mbar, 0x4000000000UL, "a 64-bit BAR moved to 256 GiB");
        /* 3. over RAM: must not shadow it */
        pattern_fill(ram, 2 * size, 0x7a7, 0);
        bar_write(f, mbar, (u64)ram);
        if (pattern_check(ram, 2 * size, 0x7a7, 0) != ~0UL)
                hfail("bars: RAM at 0x%lx reads differently with a BAR placed over it", (u64)ram);
        memset(ram, 0x3c, 64);
        if (ram[63] != 0x3c)
                hfail("bars: RAM under a BAR is not writable");
        kprintf("hostile: bars: BAR %d over RAM at 0x%lx: RAM still RAM\n", mbar, (u64)ram);
        /* 4. over the MSI-X BAR (or BAR 4 over BAR 1): overlapping BARs */
        if (mbar != 1 && f->bar[1].size) {
                bar_write(f, mbar, f->bar[1].addr & ~(size - 1));
                kprintf("hostile: bars: BAR %d over BAR 1 at 0x%lx: no crash\n", mbar,
                        f->bar[1].addr);
        }
        /* 5. an I/O BAR over COM1 and over 0xcf8: both must keep working */
        if (f->bar[0].io && f->bar[0].size) {
                u64 io = f->bar[0].size;

                bar_write(f, 0, 0x3f8 & ~(io - 1));
                kprintf("hostile: bars: I/O BAR 0 over COM1 (0x%lx): this line is the proof\n",
                        0x3f8 & ~(io - 1));
                bar_write(f, 0, 0xcf8 & ~(io - 1));
                if (pci_cf8_read(f->dev, f->fn, PCI_VENDOR_ID, 2) != f->vendor)
                        hfail("bars: config mechanism #1 broken by an I/O BAR over 0xcf8");
                kprintf("hostile: bars: I/O BAR 0 over 0xcf8 (0x%lx): config access still works\n",
                        0xcf8 & ~(io - 1));
        }
        /* 6. a 64-bit BAR past any physical address, and ending exactly at 2^64 (base + size
         * wraps to 0): mapped or left unmapped, never a crash; config access still works */
        if (f->bar[mbar].is64) {
                u64 far[] = {1UL << 63, 0UL - size};

                for (u32 i = 0; i < ARRAY_SIZE(far); i++) {
                        bar_write(f, mbar, far[i]);
                        if (pci_read(f, PCI_VENDOR_ID, 2) != f->vendor)
                                hfail("bars: config access broken by BAR %d at 0x%lx", mbar,
                                      far[i]);
                        kprintf("hostile: bars: BAR %d at 0x%lx: no crash\n", mbar, far[i]);
                }
        }
        /* Back where the firmware put them. */
        for (int i = 0; i < PCI_STD_NUM_BARS; i++)
                if (f->bar[i].size || orig[i])
                        bar_write(f, i, orig[i]);
        remap(b);
        sanity(b, "BAR abuse and a restore");
}

/* --- reset with requests in flight --------------------------------------------------- */

#define RESET_REQS 32
#define RESET_BYTES (64UL << 10)

void h_reset_inflight(struct blk *b)
{
        struct vq *q = &b->vq[0];
        u8 *bufs = palloc(RESET_REQS * RESET_BYTES, 4096);
        u16 used_after;
        u32 n = 0;
        u64 end;

        memset(bufs, 0xa5, RESET_REQS * RESET_BYTES);
        for (u32 i = 0; i < RESET_REQS; i++) {
                struct vbuf v = {(u64)bufs + i * RESET_BYTES, RESET_BYTES, true};

                if (blk_submit(b, 0, VIRTIO_BLK_T_IN, i * (RESET_BYTES / 512), &v, 1, false) < 0)
                        break;
                n++;
        }
        vq_kick(q, true);
        /* Some done, the rest in flight: reset as soon as the first comes back. */
        end = deadline_ms(1000);
        while (*(volatile u16 *)&q->used->idx == 0 && !deadline_passed(end))
                ;
        b->v.ops->set_status(&b->v, 0);
        end = deadline_ms(5000);
        while (b->v.ops->get_status(&b->v) != 0)
                if (deadline_passed(end))
                        hfail("reset-inflight: status never read 0 after the reset");
        /* Quiesced: from here on nothing may touch the ring or the buffers. */
        used_after = *(volatile u16 *)&q->used->idx;
        pattern_fill(bufs, RESET_REQS * RESET_BYTES, 0x5e5e, 0);
        end = deadline_ms(300);
        while (!deadline_passed(end))
                ;
        if (*(volatile u16 *)&q->used->idx != used_after)
                hfail("reset-inflight: used index moved %u -> %u after the reset completed",
                      used_after, *(volatile u16 *)&q->used->idx);
        if (pattern_check(bufs, RESET_REQS * RESET_BYTES, 0x5e5e, 0) != ~0UL)
                hfail("reset-inflight: a buffer was written after the reset completed");
        kprintf("hostile: reset-inflight: %u of %u requests completed before the reset; nothing "
                "after\n",
                used_after, n);
        if (!blk_reinit(b))
                hfail("reset-inflight: no re-initialisation after the reset");
        sanity(b, "a reset with requests in flight");
}

/* --- malformed chains: hand-made descriptors ----------------------------------------- */

/* Takes n descriptors through the free list, then gives them the fields in d (NEXT added
 * except on the last); publishes, kicks, waits. The status is read from st. */
static u32 raw_chain(struct blk *b, const struct vring_desc *d, u32 n, u8 *st)
{
        struct vq *q = &b->vq[0];
        static struct vbuf dummy[16];
        int head;
        u16 i;
        u32 r;

        for (u32 k = 0; k < n; k++)
                dummy[k] = (struct vbuf){(u64)hbuf2, 16, false};
        head = vq_prepare(q, dummy, n, false);
        if (head < 0)
                hfail("chain: no room for %u descriptors", n);
        i = (u16)head;
        for (u32 k = 0; k < n; k++) {
                q->desc[i].addr = d[k].addr;
                q->desc[i].len = d[k].len;
                q->desc[i].flags = (u16)(d[k].flags | (k + 1 < n ? VRING_DESC_F_NEXT : 0));
                i = q->desc[i].next;
        }
        blk_set_writable(b, 0, (u16)head, ~0u);
        *st = 0xee;
        vq_publish(q, (u16)head);
        vq_kick(q, true);
        r = blk_wait(b, 0, head, 5000);
        return r == BLK_NO_STATUS || r == BLK_TIMEOUT ? r : *st;
}

static struct virtio_blk_outhdr *req_hdr(u32 type, u64 sector)
{
        struct virtio_blk_outhdr *h = palloc(sizeof(*h), 16);

        h->type = type;
        h->ioprio = 0;
        h->sector = sector;
        return h;
}

/* Wrong direction (BAD-INPUTS: an error status): last, so a failure here hides nothing. */
static void wrong_direction(struct blk *b, u8 *st, u64 rd, u64 wr, u64 data)
{
        const u16 W = VRING_DESC_F_WRITE;
        struct vring_desc d1[] = {{rd, 16, 0, 0}, {data, 4096, 0, 0}, {(u64)st, 1, W, 0}};
        struct vring_desc d2[] = {{wr, 16, 0, 0}, {data, 4096, W, 0}, {(u64)st, 1, W, 0}};

        expect_refused(raw_chain(b, d1, 3, st), "chain: read into a device-readable buffer");
        if (!b->ro)
                expect_refused(raw_chain(b, d2, 3, st),
                               "chain: write from a device-writable buffer");
        sanity(b, "wrong-direction requests");
}

void h_chain_forms(struct blk *b)
{
        struct vq *q = &b->vq[0];
        u8 *st = palloc(64, 64);
        u64 rd = (u64)req_hdr(VIRTIO_BLK_T_IN, 0), wr = (u64)req_hdr(VIRTIO_BLK_T_OUT, 8);
        u64 id = (u64)req_hdr(VIRTIO_BLK_T_GET_ID, 0), data = (u64)hbuf2;
        const u16 W = VRING_DESC_F_WRITE;

        pattern_fill(hbuf, 4096, 0x1234, 8 * 512UL);
        if (!b->ro && blk_rw(b, 0, true, 8, hbuf, 4096) != VIRTIO_BLK_S_OK)
                hfail("chain: preparing sector 8 failed");
        {
                struct vring_desc d[] = {{rd, 16, 0, 0}, {data, 0, W, 0}, {(u64)st, 1, W, 0}};

                expect_refused(raw_chain(b, d, 3, st), "chain: zero-length data descriptor");
        }
        {
                struct vring_desc d[] = {
                    {rd, 16, 0, 0}, {data, 512, W, 0}, {data + 512, 16, 0, 0}, {(u64)st, 1, W, 0}};

                expect_refused(raw_chain(b, d, 4, st),
                               "chain: readable descriptor after a writable one");
        }
        if (!b->ro) {
                struct vring_desc d1[] = {{wr, 16, 0, 0}, {data, 4096, 0, 0}, {(u64)st, 1, 0, 0}};
                struct vring_desc d2[] = {{wr, 16, 0, 0}, {data, 4096, 0, 0}, {(u64)st, 0, W, 0}};

                memset(hbuf2, 0xee, 4096);
                expect_refused(raw_chain(b, d1, 3, st),
                               "chain: write with a read-only status byte");
                expect_refused(raw_chain(b, d2, 3, st), "chain: write with a zero-length status");
                memset(hbuf2, 0, 4096);
                if (blk_rw(b, 0, false, 8, hbuf2, 4096) != VIRTIO_BLK_S_OK ||
                    pattern_check(hbuf2, 4096, 0x1234, 8 * 512UL) != ~0UL)
                        hfail("chain: a write without a usable status byte changed the disk");
                kprintf("hostile: chain: refused writes left sector 8 unchanged\n");
        }
        {
                struct vring_desc d[] = {{id, 16, 0, 0}, {data, 8, W, 0}, {(u64)st, 1, W, 0}};

                expect_refused(raw_chain(b, d, 3, st), "chain: GET_ID into 8 bytes");
        }
        {
                /* a next index past the queue */
                struct vring_desc d[] = {{rd, 16, 0, 0}, {data, 512, W, 0}, {(u64)st, 1, W, 0}};
                static struct vbuf dummy[3];
                int head;
                u16 mid;

                for (u32 k = 0; k < 3; k++)
                        dummy[k] = (struct vbuf){d[k].addr, d[k].len, d[k].flags & W};
                head = vq_prepare(q, dummy, 3, false);
                mid = q->desc[head].next;
                q->desc[mid].next = (u16)(q->size + 7);
                blk_set_writable(b, 0, (u16)head, ~0u);
                vq_publish(q, (u16)head);
                vq_kick(q, true);
                expect_refused(blk_wait(b, 0, head, 5000), "chain: next index = queue size + 7");
        }
        {
                /* a head index past the queue: returned as written, length 0 */
                u16 bad = (u16)(q->size + 3);
                u64 end = deadline_ms(2000);
                struct vring_used_elem e;

                vq_publish(q, bad);
                vq_kick(q, true);
                while (*(volatile u16 *)&q->used->idx == q->last_used)
                        if (deadline_passed(end))
                                hfail("chain: head index %u (queue size %u) never came back", bad,
                                      q->size);
                e = q->used->ring[q->last_used & (q->size - 1)];
                q->last_used++;
                if (q->event_idx) /* as vq_get_used: the next completion interrupts */
                        *vq_used_event(q) = q->last_used;
                kprintf("hostile: chain: head index %u: used id %u length %u\n", bad, e.id, e.len);
                if (e.len)
                        hfail("chain: head index %u past the queue served (used length %u)", bad,
                              e.len);
        }
        sanity(b, "malformed chains");
        if (!q->indirect) {
                kprintf("hostile: chain: indirect not negotiated: indirect forms skipped\n");
                wrong_direction(b, st, rd, wr, data);
                return;
        }
        {
                struct vring_desc *t = palloc(4 * 16, 16), *inner = palloc(3 * 16, 16);
                struct vring_desc ok3[] = {{rd, 16, VRING_DESC_F_NEXT, 1},
                                           {data, 512, W | VRING_DESC_F_NEXT, 2},
                                           {(u64)st, 1, W, 0}};
                struct vring_desc d[2];

                memcpy(inner, ok3, sizeof(ok3));
                /* nested: a table entry that is itself INDIRECT */
                t[0] = (struct vring_desc){(u64)inner, 3 * 16, VRING_DESC_F_INDIRECT, 0};
                d[0] = (struct vring_desc){(u64)t, 16, VRING_DESC_F_INDIRECT, 0};
                expect_refused(raw_chain(b, d, 1, st), "chain: nested indirect table");
                /* INDIRECT together with NEXT */
                d[0] = (struct vring_desc){(u64)inner, 3 * 16, VRING_DESC_F_INDIRECT, 0};
                d[1] = (struct vring_desc){(u64)st, 1, W, 0};
                expect_refused(raw_chain(b, d, 2, st), "chain: INDIRECT with NEXT");
                /* a table length that is not a multiple of 16, and an empty one */
                d[0] = (struct vring_desc){(u64)inner, 40, VRING_DESC_F_INDIRECT, 0};
                expect_refused(raw_chain(b, d, 1, st), "chain: indirect table of 40 bytes");
                d[0] = (struct vring_desc){(u64)inner, 0, VRING_DESC_F_INDIRECT, 0};
                expect_refused(raw_chain(b, d, 1, st), "chain: empty indirect table");
        }
        sanity(b, "malformed indirect tables");
        wrong_direction(b, st, rd, wr, data);
}

/* --- DISCARD / WRITE_ZEROES segments ------------------------------------------------- */

static const char *st_name(u32 st)
{
        return blk_status_name(st);
}

static u32 range_req(struct blk *b, u32 type, const void *segs, u32 len)
{
        struct vbuf v = {(u64)hbuf2 + 8192, len, false};

        memcpy(hbuf2 + 8192, segs, len);
        return blk_do(b, 0, type, 0, &v, 1, false);
}

/* Spec 5.2.6.2: UNSUPP for discard with the unmap flag and for unknown flags; malformed
 * segments (BAD-INPUTS) get IOERR. Nothing may change on the disk either way. */
void h_discard(struct blk *b)
{
        const u32 types[] = {VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES};
        const u64 S = 64; /* sectors 64..79 */

        if (b->ro || (!b->discard && !b->wzeroes)) {
                kprintf("hostile: discard: neither DISCARD nor WRITE_ZEROES offered: skipped\n");
                sanity(b, "nothing");
                return;
        }
        pattern_fill(hbuf, 8192, 0xd15c, S * 512);
        if (blk_rw(b, 0, true, S, hbuf, 8192) != VIRTIO_BLK_S_OK)
                hfail("discard: preparing sectors %lu.. failed", S);
        for (u32 t = 0; t < 2; t++) {
                bool wz = types[t] == VIRTIO_BLK_T_WRITE_ZEROES;
                u32 max = wz ? b->max_wz : b->max_discard;
                const char *name = wz ? "write-zeroes" : "discard";
                struct virtio_blk_discard_write_zeroes seg[2] = {{S, 16, 0}, {S, 16, 0}};
                u32 st;

                if (!(wz ? b->wzeroes : b->discard))
                        continue;
                seg[0].flags = 2; /* not a defined flag */
                st = range_req(b, types[t], seg, sizeof(seg[0]));
                kprintf("hostile: discard: %s with flag 0x2: %s\n", name, st_name(st));
                if (st != VIRTIO_BLK_S_UNSUPP)
                        hfail("discard: %s with unknown flag 0x2 got %s; virtio 5.2.6.2 says "
                              "UNSUPP",
                              name, st_name(st));
                if (!wz) {
                        seg[0].flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
                        st = range_req(b, types[t], seg, sizeof(seg[0]));
                        kprintf("hostile: discard: discard with the unmap flag: %s\n", st_name(st));
                        if (st != VIRTIO_BLK_S_UNSUPP)
                                hfail("discard: discard with the unmap flag got %s; virtio "
                                      "5.2.6.2 says UNSUPP",
                                      st_name(st));
                }
                seg[0].flags = 0;
                seg[0].num_sectors = 0;
                st = range_req(b, types[t], seg, sizeof(seg[0]));
                if (st == BLK_TIMEOUT)
                        hfail("discard: %s of 0 sectors never came back", name);
                kprintf("hostile: discard: %s of 0 sectors: %s (no rule; nothing may change)\n",
                        name, st_name(st));
                if (max && max != ~0u) {
                        seg[0].num_sectors = max + 1;
                        expect_refused2(range_req(b, types[t], seg, sizeof(seg[0])), name,
                                        ": max_*_sectors + 1");
                }
                seg[0] = (struct virtio_blk_discard_write_zeroes){b->capacity - 8, 16, 0};
                expect_refused2(range_req(b, types[t], seg, sizeof(seg[0])), name,
                                ": across the capacity");
                seg[0] = (struct virtio_blk_discard_write_zeroes){S, 16, 0};
                if ((wz ? b->max_wz_seg : b->max_discard_seg) <= 1)
                        expect_refused2(range_req(b, types[t], seg, sizeof(seg)), name,
                                        ": two segments (max_*_seg 1)");
                expect_refused2(range_req(b, types[t], seg, 8), name, ": an 8-byte segment");
        }
        memset(hbuf2, 0, 8192);
        if (blk_rw(b, 0, false, S, hbuf2, 8192) != VIRTIO_BLK_S_OK ||
            pattern_check(hbuf2, 8192, 0xd15c, S * 512) != ~0UL)
                hfail("discard: a refused request changed sectors %lu..%lu", S, S + 15);
        sanity(b, "malformed discard / write-zeroes requests");
}
