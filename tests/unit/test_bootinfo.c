/* Unit tests for boot/bootinfo.c: the Linux zero page and the PVH start info. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "boot/bootinfo.h"

static struct boot_e820_entry map[E820_MAX_ENTRIES_ZEROPAGE + 2];

static void fill_map(unsigned int n)
{
        for (unsigned int i = 0; i < n; i++)
                map[i] = (struct boot_e820_entry){
                    .addr = 0x100000ull * (i + 1) * 3, .size = 0x100000ull + i, .type = 1 + i % 2};
}

static struct boot_facts facts(uint64_t initrd_gpa, uint64_t initrd_len, unsigned int nmap)
{
        fill_map(nmap);
        return (struct boot_facts){.cmdline_gpa = 0x20000,
                                   .cmdline_len = 42,
                                   .initrd_gpa = initrd_gpa,
                                   .initrd_len = initrd_len,
                                   .e820 = map,
                                   .e820_nr = nmap};
}

static struct boot_params bp;

Test(zeropage, elf_gets_a_minimal_header)
{
        struct kernel_image img = {.format = KERNEL_ELF};
        struct boot_facts f = facts(0x3f000000, 0x123456, 3);

        memset(&bp, 0xaa, sizeof(bp));
        cr_assert_eq(zeropage_build(&bp, &img, &f), 0);
        cr_assert_eq(bp.hdr.boot_flag, 0xaa55);
        cr_assert_eq(memcmp(&bp.hdr.header, "HdrS", 4), 0);
        cr_assert_geq(bp.hdr.version, 0x020c, "a 64-bit boot protocol version");
        cr_assert_eq(bp.hdr.type_of_loader, 0xff);
        cr_assert_eq(bp.hdr.cmd_line_ptr, 0x20000);
        cr_assert_eq(bp.ext_cmd_line_ptr, 0);
        cr_assert_eq(bp.hdr.ramdisk_image, 0x3f000000);
        cr_assert_eq(bp.hdr.ramdisk_size, 0x123456);
        cr_assert_eq(bp.ext_ramdisk_image, 0);
        cr_assert_eq(bp.ext_ramdisk_size, 0);
        cr_assert_eq(bp.e820_entries, 3);
        cr_assert_eq(memcmp(bp.e820_table, map, 3 * sizeof(map[0])), 0);
        /* Everything the builder does not set is zero, not left over. */
        cr_assert_eq(bp.hdr.setup_sects, 0);
        cr_assert_eq(bp.hdr.loadflags, 0, "no stale loadflags");
        cr_assert_eq(bp.acpi_rsdp_addr, 0);
        cr_assert_eq(bp.screen_info.orig_video_isVGA, 0);
        cr_assert_eq(bp.e820_table[3].size, 0);
        cr_assert_eq(bp.hdr.setup_data, 0);
}

Test(zeropage, without_initrd_the_ramdisk_fields_are_zero)
{
        struct kernel_image img = {.format = KERNEL_ELF};
        struct boot_facts f = facts(0x3f000000, 0, 3);

        memset(&bp, 0xaa, sizeof(bp));
        cr_assert_eq(zeropage_build(&bp, &img, &f), 0);
        cr_assert_eq(bp.hdr.ramdisk_image, 0);
        cr_assert_eq(bp.hdr.ramdisk_size, 0);
        cr_assert_eq(bp.ext_ramdisk_image, 0);
        cr_assert_eq(bp.ext_ramdisk_size, 0);
}

Test(zeropage, values_above_4_gib_use_the_ext_fields)
{
        struct kernel_image img = {.format = KERNEL_ELF};
        struct boot_facts f = facts(0x123456000ull, 0x100001000ull, 4);

        f.cmdline_gpa = 0x200020000ull;
        cr_assert_eq(zeropage_build(&bp, &img, &f), 0);
        cr_assert_eq(bp.hdr.cmd_line_ptr, 0x20000);
        cr_assert_eq(bp.ext_cmd_line_ptr, 2);
        cr_assert_eq(bp.hdr.ramdisk_image, 0x23456000);
        cr_assert_eq(bp.ext_ramdisk_image, 1);
        cr_assert_eq(bp.hdr.ramdisk_size, 0x1000);
        cr_assert_eq(bp.ext_ramdisk_size, 1);
}

Test(zeropage, bzimage_header_is_copied_then_overridden)
{
        struct kernel_image img = {.format = KERNEL_BZIMAGE};
        struct boot_facts f = facts(0x7000000, 0x8000, 5);

        img.hdr.setup_sects = 27;
        img.hdr.boot_flag = 0xaa55;
        img.hdr.header = 0x53726448;
        img.hdr.version = 0x020f;
        img.hdr.loadflags = 0x01;
        img.hdr.kernel_alignment = 0x200000;
        img.hdr.relocatable_kernel = 1;
        img.hdr.xloadflags = 0x7f;
        img.hdr.cmdline_size = 2047;
        img.hdr.init_size = 0x1234000;
        img.hdr.pref_address = 0x1000000;
        img.hdr.type_of_loader = 0x21;  /* the file's value: overridden */
        img.hdr.cmd_line_ptr = 0xdead;  /* overridden */
        img.hdr.ramdisk_image = 0xbeef; /* overridden */
        img.hdr_len = sizeof(img.hdr);

        memset(&bp, 0xaa, sizeof(bp));
        cr_assert_eq(zeropage_build(&bp, &img, &f), 0);
        cr_assert_eq(bp.hdr.setup_sects, 27);
        cr_assert_eq(bp.hdr.version, 0x020f);
        cr_assert_eq(bp.hdr.kernel_alignment, 0x200000);
        cr_assert_eq(bp.hdr.relocatable_kernel, 1);
        cr_assert_eq(bp.hdr.xloadflags, 0x7f);
        cr_assert_eq(bp.hdr.init_size, 0x1234000);
        cr_assert_eq(bp.hdr.pref_address, 0x1000000);
        cr_assert_eq(bp.hdr.loadflags, 0x01);
        cr_assert_eq(bp.hdr.type_of_loader, 0xff);
        cr_assert_eq(bp.hdr.cmd_line_ptr, 0x20000);
        cr_assert_eq(bp.hdr.ramdisk_image, 0x7000000);
        cr_assert_eq(bp.hdr.ramdisk_size, 0x8000);
        cr_assert_eq(bp.e820_entries, 5);
        cr_assert_eq(memcmp(bp.e820_table, map, 5 * sizeof(map[0])), 0);
}

Test(zeropage, only_hdr_len_bytes_of_the_bzimage_header_are_copied)
{
        struct kernel_image img = {.format = KERNEL_BZIMAGE};
        struct boot_facts f = facts(0, 0, 1);

        memset(&img.hdr, 0x33, sizeof(img.hdr));
        img.hdr_len = offsetof(struct setup_header, kernel_alignment);
        memset(&bp, 0xaa, sizeof(bp));
        cr_assert_eq(zeropage_build(&bp, &img, &f), 0);
        cr_assert_eq(bp.hdr.setup_sects, 0x33, "inside hdr_len: copied");
        cr_assert_eq(bp.hdr.kernel_alignment, 0, "past hdr_len: zero");
        cr_assert_eq(bp.hdr.init_size, 0);
        cr_assert_eq(bp.hdr.pref_address, 0);
}

Test(zeropage, e820_limit)
{
        struct kernel_image img = {.format = KERNEL_ELF};
        struct boot_facts f = facts(0, 0, E820_MAX_ENTRIES_ZEROPAGE);

        cr_assert_eq(zeropage_build(&bp, &img, &f), 0, "128 entries fit");
        cr_assert_eq(bp.e820_entries, E820_MAX_ENTRIES_ZEROPAGE);
        cr_assert_eq(memcmp(bp.e820_table, map, sizeof(bp.e820_table)), 0);
        f = facts(0, 0, E820_MAX_ENTRIES_ZEROPAGE + 1);
        cr_assert_eq(zeropage_build(&bp, &img, &f), -E2BIG);
}

Test(pvh, start_info_layout_is_xens_abi)
{
        cr_assert_eq(sizeof(struct hvm_start_info), 56);
        cr_assert_eq(offsetof(struct hvm_start_info, nr_modules), 12);
        cr_assert_eq(offsetof(struct hvm_start_info, modlist_paddr), 16);
        cr_assert_eq(offsetof(struct hvm_start_info, cmdline_paddr), 24);
        cr_assert_eq(offsetof(struct hvm_start_info, rsdp_paddr), 32);
        cr_assert_eq(offsetof(struct hvm_start_info, memmap_paddr), 40);
        cr_assert_eq(offsetof(struct hvm_start_info, memmap_entries), 48);
        cr_assert_eq(sizeof(struct hvm_memmap_table_entry), 24);
        cr_assert_eq(offsetof(struct hvm_memmap_table_entry, type), 16);
        cr_assert_eq(sizeof(struct hvm_modlist_entry), 32);
        cr_assert_eq(offsetof(struct hvm_modlist_entry, cmdline_paddr), 16);
}

Test(pvh, with_initrd)
{
        struct hvm_start_info si;
        struct hvm_memmap_table_entry mm[8];
        struct hvm_modlist_entry mod;
        struct boot_facts f = facts(0x3e000000, 0x54321, 4);

        memset(&si, 0xaa, sizeof(si));
        memset(mm, 0xaa, sizeof(mm));
        memset(&mod, 0xaa, sizeof(mod));
        cr_assert_eq(pvh_build(&si, mm, 8, &mod, 0x6040, 0x6400, &f), 0);
        cr_assert_eq(si.magic, 0x336ec578);
        cr_assert_eq(si.version, 1);
        cr_assert_eq(si.flags, 0);
        cr_assert_eq(si.cmdline_paddr, 0x20000);
        cr_assert_eq(si.rsdp_paddr, 0);
        cr_assert_eq(si.memmap_paddr, 0x6040);
        cr_assert_eq(si.memmap_entries, 4);
        cr_assert_eq(si.reserved, 0);
        for (unsigned int i = 0; i < 4; i++) {
                cr_assert_eq(mm[i].addr, map[i].addr);
                cr_assert_eq(mm[i].size, map[i].size);
                cr_assert_eq(mm[i].type, map[i].type);
                cr_assert_eq(mm[i].reserved, 0);
        }
        cr_assert_eq(mm[4].type, 0xaaaaaaaa, "nothing written past the map");
        cr_assert_eq(si.nr_modules, 1);
        cr_assert_eq(si.modlist_paddr, 0x6400);
        cr_assert_eq(mod.paddr, 0x3e000000);
        cr_assert_eq(mod.size, 0x54321);
        cr_assert_eq(mod.cmdline_paddr, 0);
        cr_assert_eq(mod.reserved, 0);
}

Test(pvh, without_initrd_no_module)
{
        struct hvm_start_info si;
        struct hvm_memmap_table_entry mm[8];
        struct hvm_modlist_entry mod;
        struct boot_facts f = facts(0, 0, 3);

        memset(&si, 0xaa, sizeof(si));
        memset(&mod, 0xaa, sizeof(mod));
        cr_assert_eq(pvh_build(&si, mm, 8, &mod, 0x6040, 0x6400, &f), 0);
        cr_assert_eq(si.nr_modules, 0);
        cr_assert_eq(si.modlist_paddr, 0);
        cr_assert_eq(mod.paddr, 0);
        cr_assert_eq(mod.size, 0);
}

Test(pvh, memmap_limit)
{
        struct hvm_start_info si;
        struct hvm_memmap_table_entry mm[4];
        struct hvm_modlist_entry mod;
        struct boot_facts f = facts(0, 0, 4);

        cr_assert_eq(pvh_build(&si, mm, 4, &mod, 0x6040, 0x6400, &f), 0, "exactly max fits");
        f = facts(0, 0, 5);
        cr_assert_eq(pvh_build(&si, mm, 4, &mod, 0x6040, 0x6400, &f), -E2BIG);
}
