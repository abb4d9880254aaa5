/* Unit tests for pci/bus.c: mechanism #1 and ECAM, absent functions, BAR assignment and mapping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "pci/bus.h"

#define RAM_SIZE 0x4000000ULL /* 64 MiB */
#define ENABLE 0x80000000u
#define DEV_VENDOR 0x1af4
#define DEV_DEVICE 0x1041
#define DEV_CLASS 0x020000

struct hit {
        unsigned int calls;
        uint64_t offset;
        uint32_t len;
        bool is_write;
};

struct moved {
        int n;
        uint64_t addr;
        bool mapped;
};

struct tdev {
        struct pci_device pci;
        struct hit hit[PCI_NUM_BARS];
        struct moved moved[64];
        unsigned int nmoved;
        uint32_t written_off, written_len;
        unsigned int nwritten;
};

static struct io_bus pio, mmio;
static struct guest_mem mem;
static struct pci_bus bus;
static struct tdev dev1, dev2;

/* One handler per BAR so the test sees which BAR an access reached. */
static void record(struct tdev *t, int n, uint64_t off, uint8_t *data, uint32_t len, bool wr)
{
        t->hit[n] = (struct hit){t->hit[n].calls + 1, off, len, wr};
        if (!wr)
                memset(data, 0x40 + n, len);
}
#define BAR_HANDLER(n)                                                                             \
        static void bar##n##_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool wr)          \
        {                                                                                          \
                record(o, n, off, d, len, wr);                                                     \
        }
BAR_HANDLER(0)
BAR_HANDLER(1)
BAR_HANDLER(2)

static void on_bar_moved(void *opaque, int n, uint64_t addr, bool mapped)
{
        struct tdev *t = opaque;

        cr_assert_lt(t->nmoved, 64);
        t->moved[t->nmoved++] = (struct moved){n, addr, mapped};
}

static void on_cfg_written(void *opaque, uint32_t off, uint32_t len)
{
        struct tdev *t = opaque;

        t->written_off = off;
        t->written_len = len;
        t->nwritten++;
}

static const struct pci_device_ops tdev_ops = {.cfg_written = on_cfg_written,
                                               .bar_moved = on_bar_moved};

/* BAR 0: 32 ports, BAR 1: 4 KiB 32-bit memory, BAR 2/3: 16 KiB 64-bit memory. */
static void tdev_init(struct tdev *t, const char *name)
{
        struct pci_id id = {.vendor = DEV_VENDOR,
                            .device = DEV_DEVICE,
                            .class_code = DEV_CLASS,
                            .revision = 1,
                            .irq_pin = 1};

        memset(t, 0, sizeof(*t));
        pci_cfg_init(&t->pci.cfg, &id);
        t->pci.bar[0] = (struct pci_bar_def){PCI_BAR_IO, 32, bar0_io, t};
        t->pci.bar[1] = (struct pci_bar_def){PCI_BAR_MEM32, 0x1000, bar1_io, t};
        t->pci.bar[2] = (struct pci_bar_def){PCI_BAR_MEM64, 0x4000, bar2_io, t};
        t->pci.ops = &tdev_ops;
        t->pci.opaque = t;
        t->pci.name = name;
}

static void setup_ram(uint64_t ram)
{
        io_bus_init(&pio, "port");
        io_bus_init(&mmio, "mmio");
        cr_assert_eq(guest_mem_layout(&mem, ram), 0); /* host == NULL: layout only */
        cr_assert_eq(pci_bus_init(&bus, &pio, &mmio, &mem), 0);
        tdev_init(&dev1, "dev1");
        tdev_init(&dev2, "dev2");
}

static void setup(void)
{
        setup_ram(RAM_SIZE);
}

static void teardown(void)
{
        pci_bus_destroy(&bus);
        cr_assert_eq(pio.nr, 0, "destroy releases every port region");
        cr_assert_eq(mmio.nr, 0, "destroy releases every MMIO region");
        io_bus_destroy(&pio);
        io_bus_destroy(&mmio);
}

TestSuite(pci_bus, .init = setup, .fini = teardown);

/* --- access helpers, all through the I/O buses as a vCPU exit would go --- */

static uint64_t get_le(const uint8_t *d, uint32_t len)
{
        uint64_t v = 0;

        for (uint32_t i = 0; i < len; i++)
                v |= (uint64_t)d[i] << (8 * i);
        return v;
}

static void put_le(uint8_t *d, uint32_t len, uint64_t v)
{
        for (uint32_t i = 0; i < len; i++)
                d[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t bus_read(struct io_bus *b, uint64_t addr, uint32_t len)
{
        uint8_t d[8];

        memset(d, 0xa5, sizeof(d));
        io_bus_access(b, addr, d, len, false);
        return get_le(d, len);
}

static void bus_write(struct io_bus *b, uint64_t addr, uint32_t len, uint64_t v)
{
        uint8_t d[8];

        put_le(d, len, v);
        io_bus_access(b, addr, d, len, true);
}

static uint32_t cf8(unsigned int dev, unsigned int fn, uint32_t reg)
{
        return ENABLE | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* Mechanism #1: latch the dword, then access 0xcfc + (reg & 3). */
static uint32_t m1_read(unsigned int dev, uint32_t reg, uint32_t len)
{
        bus_write(&pio, 0xcf8, 4, cf8(dev, 0, reg));
        return (uint32_t)bus_read(&pio, 0xcfc + (reg & 3), len);
}

static void m1_write(unsigned int dev, uint32_t reg, uint32_t len, uint32_t v)
{
        bus_write(&pio, 0xcf8, 4, cf8(dev, 0, reg));
        bus_write(&pio, 0xcfc + (reg & 3), len, v);
}

static uint64_t ecam_addr(unsigned int dev, unsigned int fn, uint32_t reg)
{
        return WISP_PCI_ECAM_ADDR + ((uint64_t)dev << 15 | fn << 12 | reg);
}

static uint64_t ecam_read(unsigned int dev, uint32_t reg, uint32_t len)
{
        return bus_read(&mmio, ecam_addr(dev, 0, reg), len);
}

static void ecam_write(unsigned int dev, uint32_t reg, uint32_t len, uint64_t v)
{
        bus_write(&mmio, ecam_addr(dev, 0, reg), len, v);
}

static int plug(struct tdev *t)
{
        return pci_bus_add(&bus, &t->pci);
}

/* --- host bridge and config mechanisms --- */

Test(pci_bus, host_bridge_by_both_mechanisms)
{
        cr_assert_eq(m1_read(0, 0, 4), 0x29c08086);
        cr_assert_eq(m1_read(0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
        cr_assert_eq(m1_read(0, PCI_HEADER_TYPE, 1), 0);
        cr_assert_eq(ecam_read(0, 0, 4), 0x29c08086);
        cr_assert_eq(ecam_read(0, PCI_CLASS_REVISION + 1, 2), 0x0000);
        cr_assert_eq(ecam_read(0, PCI_CLASS_REVISION + 3, 1), 0x06);
        cr_assert_eq(ecam_read(0, PCI_BASE_ADDRESS_0, 4), 0, "the bridge has no BARs");
}

Test(pci_bus, config_address_latch)
{
        bus_write(&pio, 0xcf8, 4, 0x80000000);
        cr_assert_eq(bus_read(&pio, 0xcf8, 4), 0x80000000, "Linux's type 1 probe");
        bus_write(&pio, 0xcf8, 4, 0x8000f8ff);
        cr_assert_eq(bus_read(&pio, 0xcf8, 4), 0x8000f8fc, "register bits 1:0 read 0");

        /* Other sizes neither latch nor alias: 0xcf9 is a reset port on real chipsets. */
        bus_write(&pio, 0xcf8, 1, 0x00);
        bus_write(&pio, 0xcf9, 1, 0x06);
        bus_write(&pio, 0xcf8, 2, 0x0000);
        bus_write(&pio, 0xcfa, 2, 0x0000);
        cr_assert_eq(bus_read(&pio, 0xcf8, 4), 0x8000f8fc, "latch unchanged");
        cr_assert_eq(bus_read(&pio, 0xcf8, 1), 0xff);
        cr_assert_eq(bus_read(&pio, 0xcf9, 1), 0xff);
        cr_assert_eq(bus_read(&pio, 0xcf8, 2), 0xffff);
        cr_assert_eq(bus_read(&pio, 0xcfa, 2), 0xffff);
}

Test(pci_bus, disabled_latch_reads_all_ones)
{
        bus_write(&pio, 0xcf8, 4, 0x00000000); /* enable bit clear, dev 0 reg 0 */
        cr_assert_eq(bus_read(&pio, 0xcfc, 4), 0xffffffff);
        bus_write(&pio, 0xcf8, 4, cf8(0, 0, PCI_COMMAND) & ~ENABLE);
        bus_write(&pio, 0xcfc, 2, 0xffff);
        cr_assert_eq(m1_read(0, PCI_COMMAND, 2), 0, "write without enable dropped");
}

Test(pci_bus, byte_and_word_data_ports)
{
        bus_write(&pio, 0xcf8, 4, cf8(0, 0, 0));
        cr_assert_eq(bus_read(&pio, 0xcfc, 1), 0x86);
        cr_assert_eq(bus_read(&pio, 0xcfd, 1), 0x80);
        cr_assert_eq(bus_read(&pio, 0xcfe, 1), 0xc0);
        cr_assert_eq(bus_read(&pio, 0xcff, 1), 0x29);
        cr_assert_eq(bus_read(&pio, 0xcfe, 2), 0x29c0);
        cr_assert_eq(bus_read(&pio, 0xcfd, 2), 0xc080, "unaligned word inside the dword");
        cr_assert_eq(bus_read(&pio, 0xcff, 2), 0xffff, "runs past 0xcff: nobody claims it");

        cr_assert_eq(plug(&dev1), 1);
        /* The byte at 0xcfd is the command register's high byte. */
        bus_write(&pio, 0xcf8, 4, cf8(1, 0, PCI_COMMAND));
        bus_write(&pio, 0xcfd, 1, PCI_COMMAND_INTX_DISABLE >> 8);
        cr_assert_eq(m1_read(1, PCI_COMMAND, 2), PCI_COMMAND_INTX_DISABLE);
        cr_assert_eq(dev1.written_off, PCI_COMMAND + 1);
        cr_assert_eq(dev1.written_len, 1);
        /* Status w1c through 0xcfe. */
        dev1.pci.cfg.data[PCI_STATUS + 1] = PCI_STATUS_REC_MASTER_ABORT >> 8;
        bus_write(&pio, 0xcf8, 4, cf8(1, 0, PCI_STATUS));
        bus_write(&pio, 0xcfe, 2, PCI_STATUS_REC_MASTER_ABORT);
        cr_assert_eq(ecam_read(1, PCI_STATUS, 2), 0);
}

Test(pci_bus, ecam_same_registers_any_width)
{
        cr_assert_eq(plug(&dev1), 1);
        for (uint32_t reg = 0; reg < 0x40; reg++) {
                cr_assert_eq(ecam_read(1, reg, 1), m1_read(1, reg, 1), "reg 0x%x", reg);
                if (reg % 2 == 0)
                        cr_assert_eq(ecam_read(1, reg, 2), m1_read(1, reg, 2));
                if (reg % 4 == 0)
                        cr_assert_eq(ecam_read(1, reg, 4), m1_read(1, reg, 4));
        }
        ecam_write(1, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
        cr_assert_eq(ecam_read(1, 0, 8), 0x0000000410411af4ULL, "8 bytes: two dwords");
        cr_assert_eq(ecam_read(1, PCI_CLASS_REVISION, 8), 0x0000000002000001ULL);
        ecam_write(1, PCI_CACHE_LINE_SIZE, 2, 0x4010);
        cr_assert_eq(m1_read(1, PCI_CACHE_LINE_SIZE, 2), 0x4010);
        /* ECAM reaches the extended space; mechanism #1 cannot. */
        dev1.pci.cfg.data[0x100] = 0x5a;
        cr_assert_eq(ecam_read(1, 0x100, 1), 0x5a);
        cr_assert_eq(ecam_read(1, 0xffc, 4), 0);
        ecam_write(1, 0x100, 4, 0xffffffff);
        cr_assert_eq(ecam_read(1, 0x100, 4), 0x5a, "read-only");
        cr_assert_eq(ecam_read(1, 0xfff, 2), 0xffffffffffff & 0xffff, "crosses the function");
        cr_assert_eq(ecam_read(1, 0, 3), 0xffffff, "3 bytes is no access");
}

Test(pci_bus, absent_functions_read_all_ones)
{
        cr_assert_eq(plug(&dev1), 1);
        for (unsigned int dev = 2; dev < 32; dev++) {
                cr_assert_eq(m1_read(dev, 0, 4), 0xffffffff);
                cr_assert_eq(ecam_read(dev, 0, 4), 0xffffffff);
                cr_assert_eq(ecam_read(dev, 0x40, 2), 0xffff);
        }
        for (unsigned int fn = 1; fn < 8; fn++) {
                bus_write(&pio, 0xcf8, 4, cf8(1, fn, 0));
                cr_assert_eq(bus_read(&pio, 0xcfc, 4), 0xffffffff, "function %u", fn);
                cr_assert_eq(bus_read(&mmio, ecam_addr(0, fn, 0), 4), 0xffffffff);
        }
        bus_write(&pio, 0xcf8, 4, ENABLE | 1 << 16); /* bus 1, dev 0 */
        cr_assert_eq(bus_read(&pio, 0xcfc, 4), 0xffffffff, "bus 1");
        bus_write(&pio, 0xcf8, 4, ENABLE | 1 << 16 | PCI_COMMAND);
        bus_write(&pio, 0xcfc, 2, 0xffff);
        cr_assert_eq(m1_read(0, PCI_COMMAND, 2), 0, "not routed to bus 0");
        m1_write(5, PCI_COMMAND, 2, 0xffff);
        cr_assert_eq(dev1.nwritten, 0);
}

/* --- plugging --- */

Test(pci_bus, slots_bars_and_interrupt_line)
{
        cr_assert_eq(plug(&dev1), 1);
        cr_assert_eq(plug(&dev2), 2);
        cr_assert_eq(dev1.pci.slot, 1);
        cr_assert_eq(pci_cfg_bar_addr(&dev1.pci.cfg, 0), WISP_PCI_IO_START);
        cr_assert_eq(pci_cfg_bar_addr(&dev1.pci.cfg, 1), WISP_PCI_MMIO32_START);
        cr_assert_eq(pci_cfg_bar_addr(&dev1.pci.cfg, 2), WISP_PCI_MMIO32_START + 0x4000,
                     "naturally aligned after the 4 KiB BAR");
        cr_assert_eq(m1_read(1, PCI_BASE_ADDRESS_2, 4), (WISP_PCI_MMIO32_START + 0x4000) | 4);
        cr_assert_eq(m1_read(1, PCI_BASE_ADDRESS_3, 4), 0);
        cr_assert_eq(pci_cfg_bar_addr(&dev2.pci.cfg, 0), WISP_PCI_IO_START + 32);
        cr_assert_eq(pci_cfg_bar_addr(&dev2.pci.cfg, 1), WISP_PCI_MMIO32_START + 0x8000);
        cr_assert_eq(pci_cfg_bar_addr(&dev2.pci.cfg, 2), WISP_PCI_MMIO32_START + 0xc000);

        cr_assert_eq(dev1.pci.intx_gsi, WISP_PCI_INTX_FIRST_PIN + 1);
        cr_assert_eq(m1_read(1, PCI_INTERRUPT_LINE, 1), WISP_PCI_INTX_FIRST_PIN + 1);
        cr_assert_eq(m1_read(2, PCI_INTERRUPT_LINE, 1), WISP_PCI_INTX_FIRST_PIN + 2);
        cr_assert_eq(m1_read(1, PCI_INTERRUPT_PIN, 1), 1);
        /* Decoding starts off: nothing mapped, nobody told. */
        cr_assert_eq(dev1.nmoved, 0);
        cr_assert_eq(bus_read(&mmio, WISP_PCI_MMIO32_START, 4), 0xffffffff);
}

Test(pci_bus, no_interrupt_line_without_a_pin)
{
        dev1.pci.cfg.data[PCI_INTERRUPT_PIN] = 0;
        cr_assert_eq(plug(&dev1), 1);
        cr_assert_eq(dev1.pci.intx_gsi, 0);
        cr_assert_eq(m1_read(1, PCI_INTERRUPT_LINE, 1), 0);
}

Test(pci_bus, slots_run_out)
{
        static struct tdev many[31];

        for (int i = 0; i < 31; i++) {
                tdev_init(&many[i], "many");
                many[i].pci.bar[0].type = PCI_BAR_NONE; /* 31 x 32 ports would fit anyway */
                cr_assert_eq(plug(&many[i]), i + 1);
        }
        cr_assert_eq(plug(&dev1), -ENOSPC);
        cr_assert_eq(many[30].pci.intx_gsi, WISP_PCI_INTX_FIRST_PIN + 31 % 8);
        pci_bus_destroy(&bus);
        cr_assert_eq(pci_bus_init(&bus, &pio, &mmio, &mem), 0);
}

Test(pci_bus, window_runs_out_and_bad_bars)
{
        dev1.pci.bar[1].size = 0x20000000; /* the whole 512 MiB window */
        cr_assert_eq(plug(&dev1), -ENOSPC, "BAR 2 no longer fits");
        cr_assert_eq(bus.mem_next, WISP_PCI_MMIO32_START, "nothing taken");
        cr_assert_eq(m1_read(1, 0, 4), 0xffffffff, "not plugged");

        tdev_init(&dev1, "dev1");
        dev1.pci.bar[1].size = 0x1800;
        cr_assert_eq(plug(&dev1), -EINVAL);
        tdev_init(&dev1, "dev1");
        dev1.pci.bar[3] = (struct pci_bar_def){PCI_BAR_MEM32, 0x1000, bar1_io, &dev1};
        cr_assert_eq(plug(&dev1), -EINVAL, "BAR 3 is BAR 2's upper half");
}

/* --- decoding --- */

static void expect_moved(struct tdev *t, unsigned int i, int n, uint64_t addr, bool mapped)
{
        cr_assert_gt(t->nmoved, i, "bar_moved call %u missing", i);
        cr_assert_eq(t->moved[i].n, n, "call %u: BAR", i);
        cr_assert_eq(t->moved[i].addr, addr, "call %u: address 0x%llx", i,
                     (unsigned long long)t->moved[i].addr);
        cr_assert_eq(t->moved[i].mapped, mapped, "call %u: mapped", i);
}

Test(pci_bus, memory_decode_maps_and_unmaps)
{
        const uint64_t b1 = WISP_PCI_MMIO32_START, b2 = WISP_PCI_MMIO32_START + 0x4000;

        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        cr_assert_eq(dev1.nmoved, 2, "BARs 1 and 2, not the I/O BAR");
        expect_moved(&dev1, 0, 1, b1, true);
        expect_moved(&dev1, 1, 2, b2, true);
        cr_assert(dev1.pci.mapped[1] && dev1.pci.mapped[2] && !dev1.pci.mapped[0]);
        cr_assert_eq(dev1.pci.mapped_addr[1], b1);

        cr_assert_eq(bus_read(&mmio, b1 + 0x10, 4), 0x41414141);
        cr_assert_eq(dev1.hit[1].offset, 0x10);
        cr_assert_eq(dev1.hit[1].len, 4);
        bus_write(&mmio, b2 + 0x3ff8, 8, 1);
        cr_assert_eq(dev1.hit[2].offset, 0x3ff8);
        cr_assert(dev1.hit[2].is_write);
        cr_assert_eq(bus_read(&mmio, b2 + 0x4000, 1), 0xff, "past the BAR");
        cr_assert_eq(bus_read(&pio, WISP_PCI_IO_START, 1), 0xff, "I/O decode still off");

        m1_write(1, PCI_COMMAND, 2, 0);
        cr_assert_eq(dev1.nmoved, 4);
        expect_moved(&dev1, 2, 1, b1, false);
        expect_moved(&dev1, 3, 2, b2, false);
        cr_assert_eq(bus_read(&mmio, b1 + 0x10, 4), 0xffffffff);
        cr_assert_eq(dev1.hit[1].calls, 1);
}

Test(pci_bus, io_decode_maps_ports)
{
        cr_assert_eq(plug(&dev1), 1);
        ecam_write(1, PCI_COMMAND, 1, PCI_COMMAND_IO);
        cr_assert_eq(dev1.nmoved, 1);
        expect_moved(&dev1, 0, 0, WISP_PCI_IO_START, true);
        cr_assert_eq(bus_read(&pio, WISP_PCI_IO_START + 0x12, 2), 0x4040);
        cr_assert_eq(dev1.hit[0].offset, 0x12);
        cr_assert_eq(bus_read(&mmio, WISP_PCI_MMIO32_START, 4), 0xffffffff, "memory still off");
        /* Writing the same command again changes nothing. */
        ecam_write(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
        cr_assert_eq(dev1.nmoved, 1);
}

Test(pci_bus, moving_a_bar_moves_the_region)
{
        const uint64_t old = WISP_PCI_MMIO32_START, new = 0xd0000000;

        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        dev1.nmoved = 0;
        m1_write(1, PCI_BASE_ADDRESS_1, 4, (uint32_t) new);
        cr_assert_eq(dev1.nmoved, 1);
        expect_moved(&dev1, 0, 1, new, true);
        cr_assert_eq(bus_read(&mmio, old, 4), 0xffffffff);
        bus_read(&mmio, new + 0xffc, 4);
        cr_assert_eq(dev1.hit[1].offset, 0xffc);
        cr_assert_eq(dev1.written_off, PCI_BASE_ADDRESS_1, "cfg_written after a BAR write");

        /* I/O BAR moved a word at a time through 0xcfc. */
        bus_write(&pio, 0xcf8, 4, cf8(1, 0, PCI_BASE_ADDRESS_0));
        bus_write(&pio, 0xcfc, 2, 0xd000);
        expect_moved(&dev1, 1, 0, 0xd000, true);
        bus_read(&pio, 0xd01f, 1);
        cr_assert_eq(dev1.hit[0].offset, 0x1f);
        cr_assert_eq(bus_read(&pio, WISP_PCI_IO_START, 1), 0xff);
}

Test(pci_bus, sizing_with_decode_on_unmaps_then_restores)
{
        const uint64_t b1 = WISP_PCI_MMIO32_START;

        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        dev1.nmoved = 0;
        m1_write(1, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
        cr_assert_eq(m1_read(1, PCI_BASE_ADDRESS_1, 4), 0xfffff000);
        cr_assert_not(dev1.pci.mapped[1], "all-ones is not an address");
        expect_moved(&dev1, 0, 1, b1, false);
        m1_write(1, PCI_BASE_ADDRESS_1, 4, (uint32_t)b1);
        expect_moved(&dev1, 1, 1, b1, true);

        m1_write(1, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
        cr_assert_eq(m1_read(1, PCI_BASE_ADDRESS_0, 4), 0xffffffe1);
        cr_assert_not(dev1.pci.mapped[0], "beyond the 16-bit port space");
        m1_write(1, PCI_BASE_ADDRESS_0, 4, 0);
        cr_assert_not(dev1.pci.mapped[0], "port 0 is not an address");
        m1_write(1, PCI_BASE_ADDRESS_0, 4, 0xffe0);
        cr_assert(dev1.pci.mapped[0], "the last 32 ports are fine");
        cr_assert_eq(dev1.pci.mapped_addr[0], 0xffe0);
}

Test(pci_bus, mem64_written_in_halves)
{
        const uint64_t b2 = WISP_PCI_MMIO32_START + 0x4000;

        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        dev1.nmoved = 0;
        /* Sizing, as Linux does it: low, high, then restore both. */
        m1_write(1, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
        m1_write(1, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
        cr_assert_eq(m1_read(1, PCI_BASE_ADDRESS_2, 4), 0xffffc004);
        cr_assert_eq(m1_read(1, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
        cr_assert_not(dev1.pci.mapped[2], "the sizing pattern never decodes");
        /* Half restored: a real (if odd) address, so it decodes there for a moment. */
        m1_write(1, PCI_BASE_ADDRESS_2, 4, (uint32_t)b2);
        cr_assert(dev1.pci.mapped[2]);
        cr_assert_eq(dev1.pci.mapped_addr[2], 0xffffffff00000000ULL | b2);
        m1_write(1, PCI_BASE_ADDRESS_3, 4, 0);
        cr_assert(dev1.pci.mapped[2]);
        cr_assert_eq(dev1.pci.mapped_addr[2], b2);

        /* Above 4 GiB (RAM is 64 MiB): the upper dword alone moves it. */
        dev1.nmoved = 0;
        ecam_write(1, PCI_BASE_ADDRESS_3, 4, 0x10);
        expect_moved(&dev1, 0, 2, 0x1000000000ULL | b2, true);
        bus_read(&mmio, 0x1000000000ULL | (b2 + 8), 8);
        cr_assert_eq(dev1.hit[2].offset, 8);
        cr_assert_eq(dev1.hit[2].len, 8);
        /* Both halves in one 8-byte ECAM access. */
        ecam_write(1, PCI_BASE_ADDRESS_2, 8, 0x00000002d0000000ULL);
        cr_assert_eq(dev1.pci.mapped_addr[2], 0x2d0000000ULL);
        cr_assert_eq(pci_cfg_bar_addr(&dev1.pci.cfg, 2), 0x2d0000000ULL);
}

Test(pci_bus, bar_over_ram_stays_unmapped)
{
        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        dev1.nmoved = 0;
        m1_write(1, PCI_BASE_ADDRESS_1, 4, 0x00100000);
        cr_assert_not(dev1.pci.mapped[1]);
        expect_moved(&dev1, 0, 1, WISP_PCI_MMIO32_START, false);
        m1_write(1, PCI_BASE_ADDRESS_1, 4, (uint32_t)(RAM_SIZE - 0x1000));
        cr_assert_not(dev1.pci.mapped[1], "last page of RAM");
        m1_write(1, PCI_BASE_ADDRESS_1, 4, (uint32_t)RAM_SIZE);
        cr_assert(dev1.pci.mapped[1], "right after RAM is a hole");
        cr_assert_eq(dev1.pci.mapped_addr[1], RAM_SIZE);
}

Test(pci_bus, bar_straddling_ram_end_stays_unmapped)
{
        /* RAM ends 4 KiB past a 16 KiB boundary: a 16 KiB BAR there is partly RAM. */
        const uint64_t ram = RAM_SIZE + 0x1000;

        pci_bus_destroy(&bus);
        cr_assert_eq(guest_mem_layout(&mem, ram), 0);
        cr_assert_eq(pci_bus_init(&bus, &pio, &mmio, &mem), 0);
        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        cr_assert_not(guest_range_is_ram(&mem, RAM_SIZE, 0x4000), "not all RAM...");
        cr_assert(guest_range_is_ram(&mem, RAM_SIZE, 1), "...but its first page is");
        m1_write(1, PCI_BASE_ADDRESS_3, 4, 0);
        m1_write(1, PCI_BASE_ADDRESS_2, 4, (uint32_t)RAM_SIZE);
        cr_assert_not(dev1.pci.mapped[2]);
        m1_write(1, PCI_BASE_ADDRESS_2, 4, (uint32_t)(RAM_SIZE + 0x4000));
        cr_assert(dev1.pci.mapped[2]);
}

Test(pci_bus, bar_in_high_ram_stays_unmapped)
{
        pci_bus_destroy(&bus);
        cr_assert_eq(guest_mem_layout(&mem, WISP_PCI_HOLE_START + 0x100000), 0);
        cr_assert_eq(pci_bus_init(&bus, &pio, &mmio, &mem), 0);
        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        cr_assert(dev1.pci.mapped[2]);
        m1_write(1, PCI_BASE_ADDRESS_2, 4, 0);
        cr_assert_not(dev1.pci.mapped[2], "address 0");
        m1_write(1, PCI_BASE_ADDRESS_3, 4, 1); /* 4 GiB: high RAM */
        cr_assert_not(dev1.pci.mapped[2]);
        m1_write(1, PCI_BASE_ADDRESS_2, 4, 0x000fc000); /* its last 16 KiB */
        cr_assert_not(dev1.pci.mapped[2]);
        m1_write(1, PCI_BASE_ADDRESS_2, 4, 0x00100000); /* 4 GiB + 1 MiB: just past it */
        cr_assert(dev1.pci.mapped[2]);
}

Test(pci_bus, overlapping_bars_first_one_wins)
{
        const uint64_t a = WISP_PCI_MMIO32_START;

        cr_assert_eq(plug(&dev1), 1);
        cr_assert_eq(plug(&dev2), 2);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        m1_write(2, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        cr_assert(dev2.pci.mapped[1]);
        dev2.nmoved = 0;

        m1_write(2, PCI_BASE_ADDRESS_1, 4, (uint32_t)a);
        cr_assert_not(dev2.pci.mapped[1], "dev1's BAR 1 is there");
        expect_moved(&dev2, 0, 1, WISP_PCI_MMIO32_START + 0x8000, false);
        bus_read(&mmio, a, 4);
        cr_assert_eq(dev1.hit[1].calls, 1);
        cr_assert_eq(dev2.hit[1].calls, 0);

        /* Onto its own device's other BAR, or the ECAM window: the same. */
        m1_write(1, PCI_BASE_ADDRESS_1, 4, (uint32_t)(a + 0x4000));
        cr_assert_not(dev1.pci.mapped[1]);
        cr_assert(dev1.pci.mapped[2]);
        cr_assert(dev2.pci.mapped[1], "dev2 takes the place dev1 left");
        expect_moved(&dev2, 1, 1, a, true);
        m1_write(1, PCI_BASE_ADDRESS_1, 4, WISP_PCI_ECAM_ADDR);
        cr_assert_not(dev1.pci.mapped[1]);
        cr_assert_eq(m1_read(0, 0, 4), 0x29c08086, "ECAM untouched");
        cr_assert_eq(ecam_read(0, 0, 4), 0x29c08086);
}

Test(pci_bus, io_bar_over_config_ports_stays_unmapped)
{
        cr_assert_eq(plug(&dev1), 1);
        m1_write(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
        m1_write(1, PCI_BASE_ADDRESS_0, 4, 0xce0); /* 0xce0..0xcff covers 0xcf8 */
        cr_assert_not(dev1.pci.mapped[0]);
        cr_assert_eq(m1_read(0, 0, 4), 0x29c08086);
}

/* --- fuzz --- */

Test(pci_bus, random_config_writes_keep_ids)
{
        static const uint32_t sizes[] = {1, 2, 4, 8};
        uint32_t id1, class1, id0, class0;

        cr_assert_eq(plug(&dev1), 1);
        cr_assert_eq(plug(&dev2), 2);
        id0 = m1_read(0, 0, 4);
        class0 = m1_read(0, PCI_CLASS_REVISION, 4);
        id1 = m1_read(1, 0, 4);
        class1 = m1_read(1, PCI_CLASS_REVISION, 4);
        srandom(0x5eed);
        for (int i = 0; i < 20000; i++) {
                unsigned int dev = (unsigned int)random() % 4; /* 3 is absent */
                uint32_t reg = (uint32_t)random() % 0x1000, len = sizes[random() % 4];
                uint64_t v = (uint64_t)random() << 33 ^ (uint64_t)random();

                switch (random() % 8) {
                case 0: /* all-ones, as sizing would */
                        v = ~0ULL;
                        break;
                case 1:
                        v = 0;
                        break;
                }
                if (random() % 2) {
                        uint32_t port = 0xcf8 + (uint32_t)random() % 8;

                        if (random() % 8 == 0)
                                bus_write(&pio, port, len, v);
                        else
                                m1_write(dev, reg & 0xff, len, (uint32_t)v);
                        m1_read(dev, reg & 0xff, len);
                } else {
                        ecam_write(dev, reg, len, v);
                        ecam_read(dev, reg, len);
                }
                /* Whatever got mapped must answer where it says it is. */
                if (dev1.pci.mapped[1]) {
                        unsigned int before = dev1.hit[1].calls;

                        bus_read(&mmio, dev1.pci.mapped_addr[1], 4);
                        cr_assert_eq(dev1.hit[1].calls, before + 1);
                }
        }
        cr_assert_eq(m1_read(0, 0, 4), id0);
        cr_assert_eq(ecam_read(0, PCI_CLASS_REVISION, 4), class0);
        for (unsigned int dev = 1; dev <= 2; dev++) {
                cr_assert_eq(m1_read(dev, 0, 4), id1);
                cr_assert_eq(ecam_read(dev, PCI_CLASS_REVISION, 4), class1);
                cr_assert_eq(ecam_read(dev, PCI_HEADER_TYPE, 1), 0);
                cr_assert_eq(ecam_read(dev, PCI_INTERRUPT_PIN, 1), 1);
                cr_assert_eq(m1_read(dev, PCI_BASE_ADDRESS_0, 4) & 3, 1);
                cr_assert_eq(m1_read(dev, PCI_BASE_ADDRESS_2, 4) & 0xf, 4);
        }
        cr_assert_eq(m1_read(3, 0, 4), 0xffffffff);
}
