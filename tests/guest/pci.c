/* PCI bus 0: config mechanism #1 and ECAM, enumeration, BAR sizing, capabilities, decode. */
#include "virtio.h"
#include "x86.h"

#define CF8_ENABLE 0x80000000u
#define CAP_TTL 48 /* Linux's PCI_FIND_CAP_TTL: bounds a looping list */

static u64 ecam_base = WISP_PCI_ECAM_ADDR;
static bool use_cf8;

void pci_setup(const char *cmdline)
{
        char v[24];

        if (cmdline_value(cmdline, "pci.ecam", v, sizeof(v))) {
                if (!strncmp(v, "none", sizeof(v)))
                        ecam_base = 0;
                else if (!parse_u64(v, &ecam_base) || (ecam_base & 0xfffff) ||
                         ecam_base >= (1UL << 39))
                        guest_fail(ST_USAGE, "pci.ecam=%s: an address (1 MiB aligned) or none", v);
        }
        if (ecam_base)
                mmu_map_mmio(ecam_base, PCI_CFG_SPACE_EXP_SIZE * 256);
        use_cf8 = !ecam_base;
        if (cmdline_value(cmdline, "pci.access", v, sizeof(v))) {
                if (!strncmp(v, "cf8", sizeof(v)))
                        use_cf8 = true;
                else if (strncmp(v, "ecam", sizeof(v)) || !ecam_base)
                        guest_fail(ST_USAGE, "pci.access=%s: cf8, or ecam with pci.ecam set", v);
        }
}

bool pci_have_ecam(void)
{
        return ecam_base != 0;
}

u64 pci_ecam_base(void)
{
        return ecam_base;
}

static void cf8_select(u8 dev, u8 fn, u32 off)
{
        outl(WISP_PORT_PCI_CONFIG_ADDR, CF8_ENABLE | (u32)dev << 11 | (u32)fn << 8 | (off & 0xfc));
}

u32 pci_cf8_read(u8 dev, u8 fn, u32 off, u32 size)
{
        u16 port = WISP_PORT_PCI_CONFIG_DATA + (off & 3);

        cf8_select(dev, fn, off);
        if (size == 1)
                return inb(port);
        if (size == 2)
                return inw(port);
        return inl(port);
}

void pci_cf8_write(u8 dev, u8 fn, u32 off, u32 size, u32 v)
{
        u16 port = WISP_PORT_PCI_CONFIG_DATA + (off & 3);

        cf8_select(dev, fn, off);
        if (size == 1)
                outb(port, (u8)v);
        else if (size == 2)
                outw(port, (u16)v);
        else
                outl(port, v);
}

static u64 ecam_addr(u8 dev, u8 fn, u32 off)
{
        return ecam_base + ((u64)dev << 15 | (u64)fn << 12 | (off & 0xfff));
}

u32 pci_ecam_read(u8 dev, u8 fn, u32 off, u32 size)
{
        u64 a = ecam_addr(dev, fn, off);

        if (size == 1)
                return *(volatile u8 *)a;
        if (size == 2)
                return *(volatile u16 *)a;
        return *(volatile u32 *)a;
}

void pci_ecam_write(u8 dev, u8 fn, u32 off, u32 size, u32 v)
{
        u64 a = ecam_addr(dev, fn, off);

        if (size == 1)
                *(volatile u8 *)a = (u8)v;
        else if (size == 2)
                *(volatile u16 *)a = (u16)v;
        else
                *(volatile u32 *)a = v;
}

static u32 cfg_read(u8 dev, u8 fn, u32 off, u32 size)
{
        return use_cf8 ? pci_cf8_read(dev, fn, off, size) : pci_ecam_read(dev, fn, off, size);
}

u32 pci_read(const struct pci_fn *f, u32 off, u32 size)
{
        return cfg_read(f->dev, f->fn, off, size);
}

void pci_write(const struct pci_fn *f, u32 off, u32 size, u32 v)
{
        if (use_cf8)
                pci_cf8_write(f->dev, f->fn, off, size, v);
        else
                pci_ecam_write(f->dev, f->fn, off, size, v);
}

/* Both mechanisms must show the same function: IDs, class, header type. */
static void compare_mechanisms(u8 dev, u8 fn)
{
        static const u32 regs[] = {PCI_VENDOR_ID, PCI_CLASS_REVISION, 0x0c,
                                   PCI_SUBSYSTEM_VENDOR_ID};

        for (u32 i = 0; i < ARRAY_SIZE(regs); i++) {
                u32 a = pci_cf8_read(dev, fn, regs[i], 4), b = pci_ecam_read(dev, fn, regs[i], 4);

                if (a != b)
                        guest_fail(ST_PCI,
                                   "pci: 00:%02x.%u reg 0x%02x: 0xcf8 reads 0x%08x, ECAM 0x%08x",
                                   dev, fn, regs[i], a, b);
        }
}

u32 pci_scan(struct pci_fn *out, u32 max)
{
        u32 n = 0;

        for (u8 dev = 0; dev < 32; dev++) {
                u32 nfn = 1;

                for (u8 fn = 0; fn < nfn; fn++) {
                        u32 id;
                        struct pci_fn *f;

                        if (ecam_base)
                                compare_mechanisms(dev, fn);
                        id = cfg_read(dev, fn, PCI_VENDOR_ID, 4);
                        if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
                                continue;
                        if (n == max)
                                guest_fail(ST_PCI, "pci: more than %u functions", max);
                        f = &out[n++];
                        memset(f, 0, sizeof(*f));
                        f->dev = dev;
                        f->fn = fn;
                        f->vendor = (u16)id;
                        f->device = (u16)(id >> 16);
                        f->class_rev = cfg_read(dev, fn, PCI_CLASS_REVISION, 4);
                        f->header = (u8)cfg_read(dev, fn, PCI_HEADER_TYPE, 1);
                        if (fn == 0 && (f->header & PCI_HEADER_TYPE_MFD))
                                nfn = 8;
                        kprintf("pci: 00:%02x.%u %04x:%04x class %06x rev %u header 0x%02x\n", dev,
                                fn, f->vendor, f->device, f->class_rev >> 8, f->class_rev & 0xff,
                                f->header);
                }
        }
        /* Absent functions of present multi-function devices were skipped above; every
         * other slot's function 0 read all-ones through both mechanisms. */
        return n;
}

static u32 lowest_bit(u64 v)
{
        return v ? (u32)__builtin_ctzl(v) : 64;
}

bool pci_size_bars(struct pci_fn *f)
{
        u16 cmd = (u16)pci_read(f, PCI_COMMAND, 2);

        if ((f->header & PCI_HEADER_TYPE_MASK) != 0)
                return true; /* bridges: not ours */
        pci_write(f, PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        for (int i = 0; i < PCI_STD_NUM_BARS; i++) {
                u32 off = PCI_BASE_ADDRESS_0 + 4 * i;
                u32 lo = pci_read(f, off, 4), hi = 0, szlo, szhi = 0xffffffff;
                struct pci_bar *b = &f->bar[i];
                u64 mask, sz;

                pci_write(f, off, 4, 0xffffffff);
                szlo = pci_read(f, off, 4);
                pci_write(f, off, 4, lo);
                memset(b, 0, sizeof(*b));
                if (!szlo || szlo == 0xffffffff)
                        continue; /* not implemented */
                b->io = lo & PCI_BASE_ADDRESS_SPACE_IO;
                b->is64 =
                    !b->io && (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
                if (b->is64) {
                        if (i == PCI_STD_NUM_BARS - 1) {
                                pci_write(f, PCI_COMMAND, 2, cmd);
                                kprintf("pci: 00:%02x.%u: 64-bit BAR %d has no upper half\n",
                                        f->dev, f->fn, i);
                                return false;
                        }
                        hi = pci_read(f, off + 4, 4);
                        pci_write(f, off + 4, 4, 0xffffffff);
                        szhi = pci_read(f, off + 4, 4);
                        pci_write(f, off + 4, 4, hi);
                }
                mask = b->io ? (u32)PCI_BASE_ADDRESS_IO_MASK : (u32)PCI_BASE_ADDRESS_MEM_MASK;
                sz = ((u64)szhi << 32 | (szlo & mask));
                if (b->io)
                        sz &= 0xffff; /* the upper 16 bits of an I/O BAR may read 0 */
                b->size = sz ? 1UL << lowest_bit(sz) : 0;
                b->addr = ((u64)hi << 32 | lo) &
                          (b->io ? (u32)PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK);
                if (!b->is64)
                        b->addr &= 0xffffffffUL;
                kprintf("pci: 00:%02x.%u BAR %d: %s%s at 0x%lx size 0x%lx\n", f->dev, f->fn, i,
                        b->io ? "I/O" : "mem", b->is64 ? "64" : "", b->addr, b->size);
                if (b->is64)
                        i++;
        }
        pci_write(f, PCI_COMMAND, 2, cmd);
        return true;
}

u8 pci_find_cap(const struct pci_fn *f, u8 id, u8 from)
{
        u8 pos;
        int ttl = CAP_TTL;

        if (!(pci_read(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
                return 0;
        pos = from ? (u8)pci_read(f, from + PCI_CAP_LIST_NEXT, 1)
                   : (u8)pci_read(f, PCI_CAPABILITY_LIST, 1);
        while (ttl--) {
                u16 ent;

                pos &= ~3;
                if (pos < 0x40)
                        break;
                ent = (u16)pci_read(f, pos, 2);
                if ((ent & 0xff) == 0xff)
                        break;
                if ((ent & 0xff) == id)
                        return pos;
                pos = (u8)(ent >> 8);
        }
        return 0;
}

void pci_enable(const struct pci_fn *f)
{
        u16 cmd = (u16)pci_read(f, PCI_COMMAND, 2);

        pci_write(f, PCI_COMMAND, 2,
                  cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

struct pci_fn *pci_find_blk(struct pci_fn *fns, u32 nfns, u32 n)
{
        for (u32 i = 0; i < nfns; i++) {
                if (fns[i].vendor != PCI_VENDOR_ID_REDHAT_QUMRANET)
                        continue;
                if (fns[i].device != VIRTIO_PCI_TRANSITIONAL_BLK &&
                    fns[i].device != VIRTIO_PCI_MODERN_DEVICE_BASE + VIRTIO_ID_BLOCK)
                        continue;
                if (n-- == 0)
                        return &fns[i];
        }
        return NULL;
}
