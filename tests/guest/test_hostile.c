/* wisp.test=hostile-NAME: a malicious driver; each checks the device does what BAD-INPUTS asks. */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

#define SECTOR 512UL
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

static const struct {
        const char *name;
        void (*run)(struct blk *b);
} cases[] = {
    {"queue-regs", h_queue_regs},
    {"queue-select", h_queue_select},
    {"msix", h_msix},
    {"notify", h_notify},
    {"chain", chain},
    {"desc-addr", desc_addr},
    {"sector", sector},
    {"status", h_status},
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
