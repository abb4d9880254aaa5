/* Test fixture for test_pci_bus_*: see pci_bus_fixture.h. */
#include <criterion/criterion.h>
#include <string.h>

#include "boot/layout.h"
#include "pci_bus_fixture.h"

struct io_bus pio, mmio;
struct guest_mem mem;
struct pci_bus bus;
struct tdev dev1, dev2;

/* One handler per BAR so the test sees which BAR an access reached. */
static void record(struct tdev *t, int n, uint64_t off, uint8_t *data, uint32_t len, bool wr)
{
        t->hit[n] = (struct hit){t->hit[n].calls + 1, off, len, wr};
        if (!wr)
                memset(data, 0x40 + n, len);
}
#define BAR_HANDLER(n)                                                                             \
        void bar##n##_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool wr)                 \
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
void tdev_init(struct tdev *t, const char *name)
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

void setup(void)
{
        setup_ram(RAM_SIZE);
}

void teardown(void)
{
        pci_bus_destroy(&bus);
        cr_assert_eq(pio.nr, 0, "destroy releases every port region");
        cr_assert_eq(mmio.nr, 0, "destroy releases every MMIO region");
        io_bus_destroy(&pio);
        io_bus_destroy(&mmio);
}

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

uint64_t bus_read(struct io_bus *b, uint64_t addr, uint32_t len)
{
        uint8_t d[8];

        memset(d, 0xa5, sizeof(d));
        io_bus_access(b, addr, d, len, false);
        return get_le(d, len);
}

void bus_write(struct io_bus *b, uint64_t addr, uint32_t len, uint64_t v)
{
        uint8_t d[8];

        put_le(d, len, v);
        io_bus_access(b, addr, d, len, true);
}

uint32_t cf8(unsigned int dev, unsigned int fn, uint32_t reg)
{
        return ENABLE | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* Mechanism #1: latch the dword, then access 0xcfc + (reg & 3). */
uint32_t m1_read(unsigned int dev, uint32_t reg, uint32_t len)
{
        bus_write(&pio, 0xcf8, 4, cf8(dev, 0, reg));
        return (uint32_t)bus_read(&pio, 0xcfc + (reg & 3), len);
}

void m1_write(unsigned int dev, uint32_t reg, uint32_t len, uint32_t v)
{
        bus_write(&pio, 0xcf8, 4, cf8(dev, 0, reg));
        bus_write(&pio, 0xcfc + (reg & 3), len, v);
}

uint64_t ecam_addr(unsigned int dev, unsigned int fn, uint32_t reg)
{
        return WISP_PCI_ECAM_ADDR + ((uint64_t)dev << 15 | fn << 12 | reg);
}

uint64_t ecam_read(unsigned int dev, uint32_t reg, uint32_t len)
{
        return bus_read(&mmio, ecam_addr(dev, 0, reg), len);
}

void ecam_write(unsigned int dev, uint32_t reg, uint32_t len, uint64_t v)
{
        bus_write(&mmio, ecam_addr(dev, 0, reg), len, v);
}

int plug(struct tdev *t)
{
        return pci_bus_add(&bus, &t->pci);
}
