/* Unit tests for pci/bus.c: BAR decoding, sizing and moving, and BARs that must stay unmapped. */
#include <criterion/criterion.h>
#include <errno.h>

#include "boot/layout.h"
#include "pci_bus_fixture.h"

TestSuite(pci_bus, .init = setup, .fini = teardown);

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
