/* Unit tests for pci/bus.c: mechanism #1 and ECAM, absent functions, plugging, random writes. */
#include <criterion/criterion.h>
#include <errno.h>

#include "boot/layout.h"
#include "pci_bus_fixture.h"

TestSuite(pci_bus, .init = setup, .fini = teardown);

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
