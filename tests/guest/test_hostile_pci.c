/* wisp.test=hostile-pci-fuzz: random config-space writes everywhere, then the disk must still work.
 */
#include "virtio.h"
#include "x86.h"
#include "hostile.h"

#define CHECK_EVERY 64     /* offsets between checks of the read-only registers */
#define SAMPLE_ACCESSES 32 /* per absent function when fuzz.absent=sample */

struct fn_state {
        bool present, writes;
        u32 id, class_rev, subsys;
        u8 header, cap;
};

static struct fn_state fns[32][8];
static u64 rng = 1;
static u64 reads, writes, strays;
static bool all_absent;

typedef u32 (*rd_fn)(u8 dev, u8 fn, u32 off, u32 size);
typedef void (*wr_fn)(u8 dev, u8 fn, u32 off, u32 size, u32 v);

struct mech {
        const char *name;
        rd_fn rd;
        wr_fn wr;
        u32 space;
};

static void stray_irq(struct trap_frame *f)
{
        (void)f;
        strays++;
        lapic_eoi();
}

static u32 ones(u32 size)
{
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void check_ids(const struct mech *m, u8 dev, u8 fn, u32 after)
{
        struct fn_state *s = &fns[dev][fn];
        u32 id = m->rd(dev, fn, PCI_VENDOR_ID, 4), cr = m->rd(dev, fn, PCI_CLASS_REVISION, 4);
        u32 ss = m->rd(dev, fn, PCI_SUBSYSTEM_VENDOR_ID, 4);
        u8 hdr = (u8)m->rd(dev, fn, PCI_HEADER_TYPE, 1), cap = (u8)m->rd(dev, fn, 0x34, 1);

        reads += 5;
        if (id != s->id || cr != s->class_rev || ss != s->subsys || hdr != s->header ||
            cap != s->cap)
                guest_fail(ST_HOSTILE,
                           "pci-fuzz (%s): 00:%02x.%u changed after offset 0x%x: id %08x->%08x "
                           "class %08x->%08x subsys %08x->%08x header %02x->%02x cap %02x->%02x",
                           m->name, dev, fn, after, s->id, id, s->class_rev, cr, s->subsys, ss,
                           s->header, hdr, s->cap, cap);
}

/* One access: write (if allowed) a random value, read back; absent reads must be all-ones. */
static void poke(const struct mech *m, u8 dev, u8 fn, u32 off, u32 size, bool write)
{
        struct fn_state *s = &fns[dev][fn];
        u32 v;
        /* An access crossing its dword (0xcf8) or its 4 KiB function (ECAM) is not one
         * function's: it must not crash anything, but its value is not checked. */
        bool whole =
            m->space == PCI_CFG_SPACE_SIZE ? (off & 3) + size <= 4 : (off & 0xfff) + size <= 0x1000;

        if (write) {
                m->wr(dev, fn, off, size, (u32)rand64(&rng));
                writes++;
        }
        v = m->rd(dev, fn, off, size);
        reads++;
        if (!s->present && whole && v != ones(size))
                guest_fail(ST_HOSTILE,
                           "pci-fuzz (%s): absent 00:%02x.%u offset 0x%x size %u reads 0x%x, "
                           "expected all-ones",
                           m->name, dev, fn, off, size, v);
}

static void fuzz_fn(const struct mech *m, u8 dev, u8 fn)
{
        struct fn_state *s = &fns[dev][fn];
        /* Every offset: present functions, 00:1f.7 and 00:00.1; elsewhere a sample. */
        bool full = s->present || all_absent || (dev == 31 && fn == 7) || (dev == 0 && fn == 1);

        if (!full) {
                /* A sample: the IDs, the last dword, random offsets and sizes. */
                poke(m, dev, fn, 0, 4, true);
                poke(m, dev, fn, m->space - 4, 4, true);
                for (u32 i = 0; i < SAMPLE_ACCESSES; i++) {
                        u32 size = 1u << (rand64(&rng) % 3);

                        poke(m, dev, fn, (u32)rand64(&rng) % (m->space - size + 1), size, true);
                }
                return;
        }
        for (u32 off = 0; off < m->space; off++) {
                for (u32 size = 1; size <= 4; size <<= 1)
                        poke(m, dev, fn, off, size, s->writes || !s->present);
                if (s->present && (off % CHECK_EVERY == CHECK_EVERY - 1 || off + 1 == m->space))
                        check_ids(m, dev, fn, off);
        }
}

/* In ring 0: on kvm_pvm an MMIO exit from ring 3 costs more than emulating this loop. */
static void fuzz(const struct mech *m)
{
        u64 t0 = rdtsc(), r0 = reads, w0 = writes;

        for (u8 dev = 0; dev < 32; dev++)
                for (u8 fn = 0; fn < 8; fn++)
                        fuzz_fn(m, dev, fn);
        kprintf("pci-fuzz: %s, offsets 0..0x%x at sizes 1, 2, 4 on 256 functions: %lu writes, "
                "%lu reads, %lu ms\n",
                m->name, m->space - 1, writes - w0, reads - r0, (rdtsc() - t0) / tsc_khz());
}

/* Firmware's job again: the BARs where they were, decode and bus mastering, MSI-X. */
static void restore(struct blk *b)
{
        struct pci_fn *f = b->v.pci;

        pci_write(f, PCI_COMMAND, 2, 0);
        for (int i = 0; i < PCI_STD_NUM_BARS; i++) {
                u32 off = PCI_BASE_ADDRESS_0 + 4 * i;

                if (!f->bar[i].size)
                        continue;
                pci_write(f, off, 4, (u32)f->bar[i].addr);
                if (f->bar[i].is64)
                        pci_write(f, off + 4, 4, (u32)(f->bar[i].addr >> 32));
        }
        if (b->v.have_msix)
                pci_write(f, b->v.msix.cap + PCI_MSIX_FLAGS, 2, 0);
        if (!pci_size_bars(f))
                guest_fail(ST_HOSTILE, "pci-fuzz: BARs of 00:%02x.%u unusable after the fuzz",
                           f->dev, f->fn);
        pci_enable(f);
        if (b->v.have_msix)
                msix_enable(&b->v.msix, b->v.msix.idt_base, b->v.msix.nused);
}

void test_hostile_pci_fuzz(const struct boot_info *bi, struct blk *b)
{
        static const struct mech cf8 = {"0xcf8", pci_cf8_read, pci_cf8_write, PCI_CFG_SPACE_SIZE};
        static const struct mech ecam = {"ECAM", pci_ecam_read, pci_ecam_write,
                                         PCI_CFG_SPACE_EXP_SIZE};
        char v[16] = "all";
        bool virtio_only;
        static struct pci_fn again[PCI_MAX_FNS];
        u32 n;

        cmdline_u64(bi->cmdline, "fuzz.seed", &rng);
        rng |= 1;
        cmdline_value(bi->cmdline, "fuzz.writes", v, sizeof(v));
        virtio_only = !strncmp(v, "virtio", sizeof(v));
        if (cmdline_value(bi->cmdline, "fuzz.absent", v, sizeof(v)))
                all_absent = !strncmp(v, "all", sizeof(v));
        for (u32 vec = 0x20; vec < VEC_SPURIOUS; vec++)
                if (vec != VEC_LAPIC_TIMER &&
                    (vec < b->idt_base || vec >= b->idt_base + b->v.msix.nused))
                        irq_set_handler((u8)vec, stray_irq);
        /* Before: the device works; remember every function as enumerated. */
        memset(fns, 0, sizeof(fns));
        for (u32 i = 0; i < pci_nfns; i++) {
                struct pci_fn *f = &pci_fns[i];
                struct fn_state *s = &fns[f->dev][f->fn];

                s->present = true;
                s->writes = !virtio_only || f->vendor == PCI_VENDOR_ID_REDHAT_QUMRANET;
                s->id = pci_read(f, PCI_VENDOR_ID, 4);
                s->class_rev = pci_read(f, PCI_CLASS_REVISION, 4);
                s->subsys = pci_read(f, PCI_SUBSYSTEM_VENDOR_ID, 4);
                s->header = (u8)pci_read(f, PCI_HEADER_TYPE, 1);
                s->cap = (u8)pci_read(f, 0x34, 1);
        }
        kprintf("pci-fuzz: seed %lu, random writes to %s present functions, %s absent ones\n", rng,
                virtio_only ? "virtio" : "all", all_absent ? "every offset of" : "samples of");
        if (pci_have_ecam())
                fuzz(&ecam);
        else
                kprintf("pci-fuzz: no ECAM (pci.ecam=none): 0xcf8 only\n");
        fuzz(&cf8);
        if (strays)
                kprintf("pci-fuzz: %lu stray interrupts during the fuzz\n", strays);
        /* After: the same functions, IDs and classes; then the disk works again. */
        n = pci_scan(again, PCI_MAX_FNS);
        if (n != pci_nfns)
                guest_fail(ST_HOSTILE, "pci-fuzz: %u functions after the fuzz, %u before", n,
                           pci_nfns);
        for (u32 i = 0; i < n; i++)
                if (again[i].dev != pci_fns[i].dev || again[i].fn != pci_fns[i].fn ||
                    again[i].vendor != pci_fns[i].vendor || again[i].device != pci_fns[i].device ||
                    again[i].class_rev != pci_fns[i].class_rev)
                        guest_fail(ST_HOSTILE, "pci-fuzz: function %u changed identity", i);
        restore(b);
        if (!virtio_reset(&b->v) || !blk_reinit(b))
                guest_fail(ST_HOSTILE, "pci-fuzz: the disk did not initialise after the fuzz");
        {
                u8 *buf = palloc(8192, 4096);
                u32 st;

                if (!b->ro) {
                        pattern_fill(buf, 4096, 0xf022, 300 * 512UL);
                        st = blk_rw(b, 0, true, 300, buf, 4096);
                        if (st != VIRTIO_BLK_S_OK)
                                guest_fail(ST_HOSTILE, "pci-fuzz: write after the fuzz: %s",
                                           blk_status_name(st));
                }
                st = blk_rw(b, 0, false, 300, buf + 4096, 4096);
                if (st != VIRTIO_BLK_S_OK ||
                    (!b->ro && pattern_check(buf + 4096, 4096, 0xf022, 300 * 512UL) != ~0UL))
                        guest_fail(ST_HOSTILE, "pci-fuzz: read after the fuzz: %s%s",
                                   blk_status_name(st), st ? "" : ", data differs");
        }
        kprintf("pci-fuzz: re-enumerated, BARs restored, the disk reads and writes again\n");
}
