/* Unit tests for pci/config.c: read-only bytes, w1c status, command bits, BAR sizing, capabilities.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "pci/config.h"

static const struct pci_id test_id = {
    .vendor = 0x1af4,
    .device = 0x1041,
    .subsys_vendor = 0x1af4,
    .subsys = 0x0001,
    .class_code = 0x020000,
    .revision = 0x01,
    .irq_pin = 1,
};

static struct pci_cfg cfg;

static void setup(void)
{
        pci_cfg_init(&cfg, &test_id);
}

TestSuite(pci_config, .init = setup);

#define STATUS_ERRORS 0xf900 /* parity, target aborts, master abort, SERR, detected parity */
#define COMMAND_WRITABLE 0x0507

Test(pci_config, header_fields)
{
        cr_assert_eq(pci_cfg_read(&cfg, PCI_VENDOR_ID, 2), 0x1af4);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_DEVICE_ID, 2), 0x1041);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_VENDOR_ID, 4), 0x10411af4);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_CLASS_REVISION, 4), 0x02000001);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00011af4);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_HEADER_TYPE, 1), 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_INTERRUPT_PIN, 1), 1);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_COMMAND, 2), 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_STATUS, 2), 0, "no capability list yet");
        cr_assert_eq(pci_cfg_read(&cfg, PCI_CAPABILITY_LIST, 1), 0);
        for (int n = 0; n < PCI_NUM_BARS; n++)
                cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_0 + 4 * n, 4), 0);
}

/* Offsets a guest must never change, listed by hand rather than taken from the masks. */
static bool is_read_only(uint32_t off)
{
        return off <= 0x03 ||                           /* vendor, device */
               (off >= 0x08 && off <= 0x0b) ||          /* revision, class */
               off == PCI_HEADER_TYPE || off == 0x0f || /* header type, BIST */
               (off >= 0x28 && off <= 0x3b) ||          /* cardbus, subsystem, ROM, cap ptr */
               off == PCI_INTERRUPT_PIN || off == 0x3e || off == 0x3f || off >= 0x40;
}

static void write_everywhere(uint32_t val)
{
        static const uint32_t sizes[] = {1, 2, 4};

        for (unsigned int s = 0; s < 3; s++)
                for (uint32_t off = 0; off < PCI_CFG_SIZE + 8; off++)
                        pci_cfg_write(&cfg, off, sizes[s], val);
}

Test(pci_config, read_only_bytes_survive_every_write)
{
        uint8_t before[PCI_CFG_SIZE];

        cr_assert_eq(pci_cfg_add_cap(&cfg, 0x09, 8), 0x40);
        pci_cfg_put(&cfg, 0x42, 4, 0xdeadbeef);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_IO, 32, 0xc000), 0);
        memcpy(before, cfg.data, sizeof(before));

        for (int round = 0; round < 2; round++) {
                write_everywhere(round == 0 ? 0xffffffff : 0);
                for (uint32_t off = 0; off < PCI_CFG_SIZE; off++)
                        if (is_read_only(off))
                                cr_assert_eq(cfg.data[off], before[off],
                                             "byte 0x%x changed to 0x%x (round %d)", off,
                                             cfg.data[off], round);
                cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_0, 4) & 3, 1, "I/O flag bits");
                cr_assert_eq(pci_cfg_read(&cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST,
                             PCI_STATUS_CAP_LIST);
        }
        /* After all-ones then zeros, the writable fields are back at zero. */
        cr_assert_eq(pci_cfg_read(&cfg, PCI_COMMAND, 2), 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_INTERRUPT_LINE, 1), 0);
}

Test(pci_config, command_writable_bits)
{
        pci_cfg_write(&cfg, PCI_COMMAND, 2, 0xffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_COMMAND, 2), COMMAND_WRITABLE);
        pci_cfg_write(&cfg, PCI_COMMAND, 1, 0x00);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_COMMAND, 2), 0x0500, "low byte alone");
        pci_cfg_write(&cfg, PCI_COMMAND + 1, 1, 0x00);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_COMMAND, 2), 0);
        pci_cfg_write(&cfg, PCI_COMMAND, 4, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

Test(pci_config, status_errors_are_write_one_to_clear)
{
        pci_cfg_add_cap(&cfg, 0x05, 4);
        pci_cfg_put(&cfg, PCI_STATUS, 2, STATUS_ERRORS | PCI_STATUS_CAP_LIST);

        pci_cfg_write(&cfg, PCI_STATUS, 2, 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_STATUS, 2), STATUS_ERRORS | PCI_STATUS_CAP_LIST,
                     "writing 0 keeps them");
        pci_cfg_write(&cfg, PCI_STATUS, 2, PCI_STATUS_PARITY);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_STATUS, 2),
                     (STATUS_ERRORS & ~PCI_STATUS_PARITY) | PCI_STATUS_CAP_LIST);
        /* A dword write to the command register writes 1s into status too. */
        pci_cfg_write(&cfg, PCI_COMMAND, 4, 0xffff0000 | PCI_COMMAND_IO);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_COMMAND, 2), PCI_COMMAND_IO);
        /* And a 1 where nothing is set sets nothing. */
        pci_cfg_write(&cfg, PCI_STATUS, 2, 0xffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
}

Test(pci_config, housekeeping_bytes_writable)
{
        pci_cfg_write(&cfg, PCI_CACHE_LINE_SIZE, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_CACHE_LINE_SIZE, 4), 0x0000ffff,
                     "cache line and latency, not header type or BIST");
        pci_cfg_write(&cfg, PCI_INTERRUPT_LINE, 4, 0x12345678);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_INTERRUPT_LINE, 1), 0x78);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_INTERRUPT_PIN, 1), 1);
}

Test(pci_config, io_bar_sizing)
{
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_IO, 64, 0xc040), 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_0, 4), 0xc041);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 0), 0xc040);

        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
        uint32_t v = pci_cfg_read(&cfg, PCI_BASE_ADDRESS_0, 4);

        cr_assert_eq(v, 0xffffffc1);
        cr_assert_eq(~(v & (uint32_t)PCI_BASE_ADDRESS_IO_MASK) + 1, 64, "size from the mask");
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_0, 4, 0xd003);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_0, 4), 0xd001, "flag bits stay");
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 0), 0xd000);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_0, 4, 0xd07f);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 0), 0xd040, "address bits below the size stay 0");
}

Test(pci_config, mem32_bar_sizing)
{
        cr_assert_eq(pci_cfg_set_bar(&cfg, 3, PCI_BAR_MEM32, 0x2000, 0xc0002000), 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_3, 4), 0xc0002000);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_3, 4), 0xffffe000);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_3 + 2, 2, 0xd000);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_3, 2, 0x0000);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 3), 0xd0000000, "written in words");
        cr_assert_eq(cfg.bar_size[3], 0x2000);
        cr_assert_eq(cfg.bar_type[3], PCI_BAR_MEM32);
}

Test(pci_config, mem64_bar_sizing_both_halves)
{
        cr_assert_eq(pci_cfg_set_bar(&cfg, 2, PCI_BAR_MEM64, 0x4000, 0x100004000ULL), 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_2, 4), 0x00004004, "64-bit type");
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_3, 4), 0x1);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 2), 0x100004000ULL);

        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_2, 4), 0xffffc004);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 2), 0x1ffffc000ULL, "half-written: low half sized");
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_3, 4), 0xffffffff, "upper dword");
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 2), 0xffffffffffffc000ULL);
        cr_assert_eq(~pci_cfg_bar_addr(&cfg, 2) + 1, 0x4000);

        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_2, 4, 0xe0000000);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_3, 4, 0x00000002);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 2), 0x2e0000000ULL);
        cr_assert_eq(cfg.bar_type[3], PCI_BAR_NONE, "upper half is not a BAR of its own");
}

Test(pci_config, mem64_bar_larger_than_4g)
{
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM64, 1ULL << 33, 1ULL << 34), 0);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_0, 4), 0x4);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_1, 4), 0xfffffffe);
        cr_assert_eq(~pci_cfg_bar_addr(&cfg, 0) + 1, 1ULL << 33);
}

Test(pci_config, unused_bars_read_zero)
{
        cr_assert_eq(pci_cfg_set_bar(&cfg, 1, PCI_BAR_MEM32, 0x1000, 0), 0);
        for (int n = 0; n < PCI_NUM_BARS; n++)
                pci_cfg_write(&cfg, PCI_BASE_ADDRESS_0 + 4 * n, 4, 0xffffffff);
        pci_cfg_write(&cfg, PCI_ROM_ADDRESS, 4, 0xffffffff);
        for (int n = 0; n < PCI_NUM_BARS; n++)
                if (n != 1)
                        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_0 + 4 * n, 4), 0, "BAR %d",
                                     n);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_ROM_ADDRESS, 4), 0, "no expansion ROM");
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 0), 0);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, 6), 0);
        cr_assert_eq(pci_cfg_bar_addr(&cfg, -1), 0);
}

Test(pci_config, bar_declarations_refused)
{
        cr_assert_eq(pci_cfg_set_bar(&cfg, -1, PCI_BAR_MEM32, 0x1000, 0), -EINVAL);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 6, PCI_BAR_MEM32, 0x1000, 0), -EINVAL);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM32, 0x1800, 0), -EINVAL, "not 2^n");
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM32, 8, 0), -EINVAL, "below 16");
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_IO, 2, 0), -EINVAL, "below 4");
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM32, 0, 0), -EINVAL);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM32, 1ULL << 32, 0), -EINVAL);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM32, 0x1000, 0x800), -EINVAL, "unaligned");
        cr_assert_eq(pci_cfg_set_bar(&cfg, 0, PCI_BAR_MEM32, 0x1000, 1ULL << 32), -EINVAL);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 5, PCI_BAR_MEM64, 0x1000, 0), -EINVAL, "no BAR 6");
        cr_assert_eq(pci_cfg_set_bar(&cfg, 2, PCI_BAR_MEM64, 0x1000, 0), 0);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 3, PCI_BAR_IO, 16, 0), -EINVAL, "upper half taken");
        cr_assert_eq(pci_cfg_set_bar(&cfg, 1, PCI_BAR_MEM64, 0x1000, 0), -EINVAL,
                     "would overwrite BAR 2");
        for (int n = 0; n < PCI_NUM_BARS; n++)
                cr_assert_eq(cfg.bar_type[n], n == 2 ? PCI_BAR_MEM64 : PCI_BAR_NONE);
        /* Redeclaring BAR 2 as 32-bit frees its upper half. */
        cr_assert_eq(pci_cfg_set_bar(&cfg, 2, PCI_BAR_MEM32, 0x1000, 0x1000), 0);
        pci_cfg_write(&cfg, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_3, 4), 0);
        cr_assert_eq(pci_cfg_set_bar(&cfg, 2, PCI_BAR_NONE, 0, 0), 0);
        cr_assert_eq(pci_cfg_read(&cfg, PCI_BASE_ADDRESS_2, 4), 0);
}

Test(pci_config, capability_chain)
{
        static const uint8_t ids[] = {0x09, 0x11, 0x05};
        static const uint8_t lens[] = {13, 12, 6};
        int off[3];

        for (int i = 0; i < 3; i++)
                off[i] = pci_cfg_add_cap(&cfg, ids[i], lens[i]);
        cr_assert_eq(off[0], 0x40);
        cr_assert_eq(off[1], 0x50, "4-byte aligned after 13 bytes");
        cr_assert_eq(off[2], 0x5c);
        cr_assert(pci_cfg_read(&cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);

        /* Walk it as a driver would. */
        uint32_t p = pci_cfg_read(&cfg, PCI_CAPABILITY_LIST, 1);
        int n = 0;

        while (p && n < 48) {
                cr_assert_eq(p % 4, 0);
                cr_assert_eq(p, (uint32_t)off[n]);
                cr_assert_eq(pci_cfg_read(&cfg, p + PCI_CAP_LIST_ID, 1), ids[n]);
                p = pci_cfg_read(&cfg, p + PCI_CAP_LIST_NEXT, 1);
                n++;
        }
        cr_assert_eq(n, 3);

        /* Read-only until the owner opens bytes; then only those. */
        pci_cfg_write(&cfg, 0x50, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, 0x50, 4), 0x00005c11);
        pci_cfg_set_wmask(&cfg, 0x52, 2, 0xc000);
        pci_cfg_write(&cfg, 0x50, 4, 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, 0x50, 4), 0xc0005c11);
}

Test(pci_config, capability_space_runs_out)
{
        int off = 0, n = 0;

        cr_assert_eq(pci_cfg_add_cap(&cfg, 0x09, 1), -EINVAL);
        while ((off = pci_cfg_add_cap(&cfg, 0x09, 16)) > 0)
                n++;
        cr_assert_eq(off, -ENOSPC);
        cr_assert_eq(n, (256 - 0x40) / 16, "the standard space filled exactly");
        cr_assert_eq(pci_cfg_read(&cfg, 0xf0 + PCI_CAP_LIST_NEXT, 1), 0, "last one ends the list");
        cr_assert_eq(pci_cfg_add_cap(&cfg, 0x09, 2), -ENOSPC);
}

Test(pci_config, accesses_past_the_end)
{
        pci_cfg_put(&cfg, 0xffc, 4, 0x11223344);
        cr_assert_eq(pci_cfg_read(&cfg, 0xffc, 4), 0x11223344, "extended space is there");
        cr_assert_eq(pci_cfg_read(&cfg, 0xfff, 1), 0x11);
        cr_assert_eq(pci_cfg_read(&cfg, 0xfff, 2), 0xffff);
        cr_assert_eq(pci_cfg_read(&cfg, 0xffe, 4), 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, 0x1000, 1), 0xff);
        cr_assert_eq(pci_cfg_read(&cfg, 0xffffffff, 4), 0xffffffff);
        cr_assert_eq(pci_cfg_read(&cfg, 0, 3), 0xffffff, "odd sizes are not accesses");
        cr_assert_eq(pci_cfg_read(&cfg, 0, 8), 0xffffffff);

        pci_cfg_set_wmask(&cfg, 0xffc, 4, 0xffffffff);
        pci_cfg_write(&cfg, 0xffe, 4, 0);
        pci_cfg_write(&cfg, 0xffffffff, 4, 0);
        pci_cfg_write(&cfg, 0xffc, 3, 0);
        cr_assert_eq(pci_cfg_read(&cfg, 0xffc, 4), 0x11223344, "dropped");
        pci_cfg_write(&cfg, 0xffd, 2, 0xaabb);
        cr_assert_eq(pci_cfg_read(&cfg, 0xffc, 4), 0x11aabb44, "unaligned inside is fine");
}

Test(pci_config, unaligned_reads_combine_bytes)
{
        cr_assert_eq(pci_cfg_read(&cfg, 0x01, 2), 0x411a);
        cr_assert_eq(pci_cfg_read(&cfg, 0x03, 4), 0x00000010);
        cr_assert_eq(pci_cfg_read(&cfg, 0x0a, 2), 0x0200);
}
