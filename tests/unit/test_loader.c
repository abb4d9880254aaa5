/* Unit tests for boot/loader.c: kernel, initrd and boot structures in a fake guest RAM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <asm/e820.h>

#include "boot/bootinfo.h"
#include "boot/cpu_tables.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "fake_mem.h"
#include "kimage.h"

#define MiB (1ull << 20)
#define FILL 0xcc

static struct guest_mem mem;
static struct kernel_image img;
static uint8_t *kfile;
static size_t klen;
static uint8_t *initrd;
static char err[256];

static void setup(void)
{
        cr_assert_eq(fake_mem_init(&mem, 64 * MiB, FILL), 0);
        initrd = malloc(4 * MiB);
        for (size_t i = 0; i < 4 * MiB; i++)
                initrd[i] = (uint8_t)(i * 13 + (i >> 12));
}

static void teardown(void)
{
        fake_mem_free(&mem);
        free(kfile);
        free(initrd);
        kfile = NULL;
}

TestSuite(loader, .init = setup, .fini = teardown);

static void load_elf(struct elf_spec s)
{
        const char *why;

        kfile = kimg_elf(&s, &klen);
        cr_assert_eq(kernel_image_parse(kfile, klen, &img, &why), 0, "%s", why);
}

static void load_bz(struct bz_spec s)
{
        const char *why;

        kfile = kimg_bzimage(&s, &klen);
        cr_assert_eq(kernel_image_parse(kfile, klen, &img, &why), 0, "%s", why);
}

static struct boot_input input(size_t initrd_len, const char *cmdline, enum boot_entry_pref e)
{
        return (struct boot_input){.kernel = kfile,
                                   .kernel_len = klen,
                                   .initrd = initrd_len ? initrd : NULL,
                                   .initrd_len = initrd_len,
                                   .cmdline = cmdline,
                                   .ncpus = 2,
                                   .entry = e};
}

static uint8_t *at(uint64_t gpa, uint64_t len)
{
        uint8_t *p = guest_ptr(&mem, gpa, len);

        cr_assert_not_null(p, "%#llx+%#llx not in fake RAM", (unsigned long long)gpa,
                           (unsigned long long)len);
        return p;
}

static void check_segments(void)
{
        for (unsigned int i = 0; i < img.nseg; i++) {
                const struct kernel_segment *s = &img.seg[i];
                const uint8_t *p = at(s->gpa, s->memsz);

                cr_assert_eq(memcmp(p, kfile + s->off, s->filesz), 0, "segment %u bytes", i);
                for (uint64_t j = s->filesz; j < s->memsz; j++)
                        cr_assert_eq(p[j], 0, "segment %u: byte %#llx past filesz not zeroed", i,
                                     (unsigned long long)j);
        }
}

static void check_initrd(uint64_t gpa, size_t len)
{
        cr_assert_neq(gpa, 0);
        cr_assert_eq(gpa & 0xfff, 0, "page aligned: %#llx", (unsigned long long)gpa);
        cr_assert_leq(gpa + len, 64 * MiB, "inside RAM");
        cr_assert_gt(gpa + len + 4096, 64 * MiB, "at the top of low RAM");
        cr_assert_geq(gpa, img.end, "above the kernel");
        cr_assert_eq(memcmp(at(gpa, len), initrd, len), 0, "initrd bytes");
}

static void check_cmdline(const char *cmd)
{
        cr_assert_str_eq((const char *)at(WISP_CMDLINE_ADDR, strlen(cmd) + 1), cmd);
}

static void check_machine_tables(void)
{
        uint64_t gdt[GDT_ENTRIES], pml4e;

        gdt_build(gdt);
        cr_assert_eq(memcmp(at(WISP_GDT_ADDR, sizeof(gdt)), gdt, sizeof(gdt)), 0, "GDT");
        memcpy(&pml4e, at(WISP_PML4_ADDR, 8), 8);
        cr_assert_eq(pml4e & ~0xfffull, WISP_PDPT_ADDR, "PML4[0] -> PDPT");
        cr_assert_eq(memcmp(at(WISP_MPTABLE_ADDR, 4), "_MP_", 4), 0, "MP floating pointer");
}

/* The e820 map boot_load must report for 64 MiB, read back from the guest. */
static void check_map64(const void *entries, size_t stride, unsigned int n)
{
        const uint64_t want[3][3] = {{0, 0x9fc00, E820_RAM},
                                     {0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED},
                                     {0x100000, 63 * MiB, E820_RAM}};

        cr_assert_eq(n, 3);
        for (unsigned int i = 0; i < n; i++) {
                const uint8_t *e = (const uint8_t *)entries + i * stride;
                uint64_t addr, size;
                uint32_t type;

                memcpy(&addr, e, 8);
                memcpy(&size, e + 8, 8);
                memcpy(&type, e + 16, 4);
                cr_assert_eq(addr, want[i][0], "entry %u addr", i);
                cr_assert_eq(size, want[i][1], "entry %u size", i);
                cr_assert_eq(type, want[i][2], "entry %u type", i);
        }
}

Test(loader, elf_with_pvh_note_boots_pvh)
{
        struct boot_plan plan;
        struct boot_input in;
        struct hvm_start_info si;
        struct hvm_memmap_table_entry map[3];
        struct hvm_modlist_entry mod;
        const size_t ilen = 100000;

        load_elf(kimg_elf_default());
        in = input(ilen, "console=ttyS0 quiet", ENTRY_AUTO);
        memset(&plan, 0xaa, sizeof(plan));
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(plan.mode, BOOT_PVH32);
        cr_assert_eq(plan.entry, KIMG_PVH_ENTRY);
        cr_assert_eq(plan.info_gpa, WISP_PVH_INFO_ADDR);
        cr_assert_eq(plan.info_gpa, 0x6000);
        check_segments();
        check_initrd(plan.initrd_gpa, ilen);
        check_cmdline("console=ttyS0 quiet");
        check_machine_tables();

        cr_assert_eq(guest_read(&mem, 0x6000, &si, sizeof(si)), 0);
        cr_assert_eq(si.magic, 0x336ec578);
        cr_assert_eq(si.version, 1);
        cr_assert_eq(si.cmdline_paddr, WISP_CMDLINE_ADDR);
        cr_assert_str_eq((const char *)at(si.cmdline_paddr, 20), "console=ttyS0 quiet");
        cr_assert_eq(si.memmap_entries, 3);
        cr_assert_eq(guest_read(&mem, si.memmap_paddr, map, sizeof(map)), 0);
        check_map64(map, sizeof(map[0]), si.memmap_entries);
        cr_assert_eq(si.nr_modules, 1);
        cr_assert_eq(guest_read(&mem, si.modlist_paddr, &mod, sizeof(mod)), 0);
        cr_assert_eq(mod.paddr, plan.initrd_gpa);
        cr_assert_eq(mod.size, ilen);
}

Test(loader, pvh_without_initrd_has_no_module)
{
        struct boot_plan plan;
        struct boot_input in;
        struct hvm_start_info si;

        load_elf(kimg_elf_default());
        in = input(0, "", ENTRY_PVH);
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(plan.mode, BOOT_PVH32);
        cr_assert_eq(plan.initrd_gpa, 0);
        cr_assert_eq(guest_read(&mem, 0x6000, &si, sizeof(si)), 0);
        cr_assert_eq(si.nr_modules, 0);
        check_cmdline("");
}

Test(loader, elf_with_entry_64_gets_a_zero_page)
{
        struct boot_plan plan;
        struct boot_input in;
        struct boot_params bp;
        const size_t ilen = 3 * MiB + 5;

        load_elf(kimg_elf_default());
        in = input(ilen, "root=/dev/vda", ENTRY_64);
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(plan.mode, BOOT_LONG64);
        cr_assert_eq(plan.entry, KIMG_ENTRY64);
        cr_assert_eq(plan.info_gpa, 0x7000);
        check_segments();
        check_initrd(plan.initrd_gpa, ilen);
        check_machine_tables();

        cr_assert_eq(guest_read(&mem, 0x7000, &bp, sizeof(bp)), 0);
        cr_assert_eq(bp.hdr.boot_flag, 0xaa55);
        cr_assert_eq(bp.hdr.type_of_loader, 0xff);
        cr_assert_eq(bp.hdr.cmd_line_ptr, WISP_CMDLINE_ADDR);
        cr_assert_str_eq((const char *)at(bp.hdr.cmd_line_ptr, 14), "root=/dev/vda");
        cr_assert_eq(bp.hdr.ramdisk_image, plan.initrd_gpa);
        cr_assert_eq(bp.hdr.ramdisk_size, ilen);
        cr_assert_eq(bp.e820_entries, 3);
        check_map64(bp.e820_table, sizeof(bp.e820_table[0]), bp.e820_entries);
}

Test(loader, elf_without_note_auto_picks_64)
{
        struct elf_spec s = kimg_elf_default();
        struct boot_plan plan;
        struct boot_input in;

        s.pvh_descsz = 0;
        load_elf(s);
        in = input(0, "x", ENTRY_AUTO);
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(plan.mode, BOOT_LONG64);
        cr_assert_eq(plan.entry, KIMG_ENTRY64);
}

Test(loader, entry_pvh_without_a_note_is_refused)
{
        struct elf_spec s = kimg_elf_default();
        struct boot_plan plan;
        struct boot_input in;

        s.pvh_descsz = 0;
        load_elf(s);
        in = input(0, "x", ENTRY_PVH);
        err[0] = 0;
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), -ENOEXEC);
        cr_assert(strstr(err, "PVH"), "err: %s", err);
}

/* Boots a bzImage preferring 16 MiB with init_size 32 MiB and a 20 MiB initrd in 64 MiB. */
static int load_big_bzimage(uint8_t relocatable, struct boot_plan *plan, uint8_t *big)
{
        struct bz_spec s = kimg_bz_default();
        struct boot_input in;

        s.init_size = 32 * MiB;
        s.relocatable = relocatable;
        load_bz(s);
        in = input(0, "", ENTRY_64);
        in.initrd = big;
        in.initrd_len = 20 * MiB;
        return boot_load(&mem, &img, &in, plan, err, sizeof(err));
}

/*
 * Was a bug (reported; fixed for relocatable kernels): a bzImage loaded at
 * 1 MiB decompresses into [pref_address, pref_address + init_size) (Linux
 * arch/x86/boot/compressed/head_64.S, startup_64), so a 20 MiB initrd at
 * 44 MiB of 64 MiB would be overwritten. It must be refused or placed clear.
 */
Test(loader, initrd_clear_of_the_bzimage_decompressor_relocatable)
{
        struct boot_plan plan;
        uint8_t *big = calloc(1, 20 * MiB);

        if (load_big_bzimage(1, &plan, big) == 0)
                cr_assert_geq(plan.initrd_gpa, 16 * MiB + 32 * MiB,
                              "initrd at %#llx inside the decompression buffer [16 MiB, 48 MiB)",
                              (unsigned long long)plan.initrd_gpa);
        else
                cr_assert_str_eq(plan.culprit, "initrd");
        free(big);
}

/*
 * BUG (boot/loader.c place_initrd, through kernel_image.c's img->end): the
 * same for a non-relocatable bzImage (images/kernel.config: CONFIG_RELOCATABLE
 * is not set), which always decompresses at pref_address (LOAD_PHYSICAL_ADDR).
 * wisp still places the initrd at 44 MiB, inside [16 MiB, 48 MiB).
 */
Test(loader, initrd_clear_of_the_bzimage_decompressor_non_relocatable)
{
        struct boot_plan plan;
        uint8_t *big = calloc(1, 20 * MiB);

        if (load_big_bzimage(0, &plan, big) == 0)
                cr_assert_geq(plan.initrd_gpa, 16 * MiB + 32 * MiB,
                              "initrd at %#llx inside the decompression buffer [16 MiB, 48 MiB)",
                              (unsigned long long)plan.initrd_gpa);
        free(big);
}

/*
 * BUG (boot/loader.c load_segments / boot_load): only the file bytes at 1 MiB
 * are checked against RAM, not the decompression buffer the kernel will write,
 * [pref_address, pref_address + init_size). With 20 MiB of RAM, a relocatable
 * kernel preferring 16 MiB with init_size 8 MiB needs RAM up to 24 MiB: wisp
 * accepts it and the guest's decompressor writes past the end of RAM.
 * Expected: an error naming -m (like a too-big ELF segment); actual: 0.
 */
Test(loader, decompression_buffer_must_fit_in_ram)
{
        struct bz_spec s = kimg_bz_default();
        struct boot_plan plan;
        struct boot_input in;
        struct guest_mem small;

        s.init_size = 8 * MiB;
        load_bz(s);
        cr_assert_eq(fake_mem_init(&small, 20 * MiB, 0), 0);
        in = input(0, "", ENTRY_64);
        cr_assert_neq(boot_load(&small, &img, &in, &plan, err, sizeof(err)), 0,
                      "the kernel needs [16 MiB, 24 MiB) but RAM ends at 20 MiB");
        cr_assert(strstr(err, "-m"), "err says how to fix it: %s", err);
        fake_mem_free(&small);
}

Test(loader, bzimage_gets_its_own_header_in_the_zero_page)
{
        struct bz_spec s = kimg_bz_default();
        struct boot_plan plan;
        struct boot_input in;
        struct boot_params bp;

        load_bz(s);
        in = input(8192, "console=ttyS0", ENTRY_AUTO);
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(plan.mode, BOOT_LONG64, "a bzImage has no PVH note");
        cr_assert_eq(plan.entry, 0x100200);
        check_segments();
        check_initrd(plan.initrd_gpa, 8192);
        cr_assert_eq(guest_read(&mem, 0x7000, &bp, sizeof(bp)), 0);
        cr_assert_eq(bp.hdr.setup_sects, 15);
        cr_assert_eq(bp.hdr.version, 0x020f);
        cr_assert_eq(bp.hdr.init_size, 0x200000);
        cr_assert_eq(bp.hdr.type_of_loader, 0xff);
        cr_assert_eq(bp.hdr.cmd_line_ptr, WISP_CMDLINE_ADDR);
        cr_assert_eq(bp.hdr.ramdisk_image, plan.initrd_gpa);
}

Test(loader, initrd_respects_the_kernels_initrd_addr_max)
{
        struct bz_spec s = kimg_bz_default();
        struct boot_plan plan;
        struct boot_input in;

        s.initrd_addr_max = 32 * MiB - 1;
        load_bz(s);
        in = input(MiB + 1, "", ENTRY_64);
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_leq(plan.initrd_gpa + MiB + 1, 32 * MiB, "initrd ends at %#llx",
                      (unsigned long long)(plan.initrd_gpa + MiB + 1));
        cr_assert_gt(plan.initrd_gpa + MiB + 1 + 4096, 32 * MiB, "as high as allowed");
        cr_assert_eq(plan.initrd_gpa & 0xfff, 0);
        cr_assert_eq(memcmp(at(plan.initrd_gpa, MiB + 1), initrd, MiB + 1), 0);
}

Test(loader, initrd_larger_than_ram_is_refused)
{
        struct boot_plan plan;
        struct boot_input in;

        load_elf(kimg_elf_default());
        in = input(4 * MiB, "", ENTRY_AUTO);
        in.initrd_len = 64 * MiB + 4096;
        err[0] = 0;
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), -E2BIG);
        cr_assert_str_eq(plan.culprit, "initrd");
        cr_assert(strstr(err, "-m"), "err says how to fix it: %s", err);
}

Test(loader, initrd_that_would_overlap_the_kernel_is_refused)
{
        struct boot_plan plan;
        struct boot_input in;
        uint8_t *big = malloc(48 * MiB);
        uint8_t *lo = at(0, 64 * MiB);

        load_elf(kimg_elf_default()); /* kernel up to 0x1201000 */
        memset(big, 0x42, 48 * MiB);
        in = input(0, "", ENTRY_AUTO);
        in.initrd = big;
        in.initrd_len = 64 * MiB - 0x1201000 + 1;
        err[0] = 0;
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), -E2BIG);
        cr_assert_str_eq(plan.culprit, "initrd");
        cr_assert(strstr(err, "0x1201000"), "err names the kernel's end: %s", err);
        for (uint64_t a = 0x1000000; a < 0x1201000; a += 0x800)
                cr_assert_neq(lo[a], 0x42, "kernel at %#llx overwritten", (unsigned long long)a);

        in.initrd_len = 64 * MiB - 0x1201000 - 4096; /* just fits above the kernel */
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_geq(plan.initrd_gpa, img.end);
        check_segments();
        free(big);
}

Test(loader, empty_initrd_is_refused)
{
        struct boot_plan plan;
        struct boot_input in;

        load_elf(kimg_elf_default());
        in = input(0, "", ENTRY_AUTO);
        in.initrd = initrd;
        in.initrd_len = 0;
        err[0] = 0;
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(plan.culprit, "initrd");
        cr_assert(strstr(err, "empty"), "err: %s", err);
}

Test(loader, command_line_limit_is_the_kernels)
{
        struct bz_spec s = kimg_bz_default();
        struct boot_plan plan;
        struct boot_input in;
        char cmd[64];

        s.cmdline_size = 16;
        load_bz(s);
        memset(cmd, 'a', 16);
        cmd[16] = 0;
        in = input(0, cmd, ENTRY_64);
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "16 bytes fit: %s",
                     err);
        check_cmdline(cmd);
        cmd[16] = 'b';
        cmd[17] = 0;
        err[0] = 0;
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), -E2BIG);
        cr_assert(strstr(err, "17") && strstr(err, "16"), "err names both lengths: %s", err);
}

Test(loader, elf_command_line_limit_is_2047)
{
        struct boot_plan plan;
        struct boot_input in;
        char *cmd = malloc(4096);

        load_elf(kimg_elf_default());
        memset(cmd, 'c', 2047);
        cmd[2047] = 0;
        in = input(0, cmd, ENTRY_AUTO);
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(at(WISP_CMDLINE_ADDR, 2048)[2047], 0, "NUL terminated");
        cr_assert_eq(memcmp(at(WISP_CMDLINE_ADDR, 2047), cmd, 2047), 0);
        memset(cmd, 'c', 2048);
        cmd[2048] = 0;
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), -E2BIG);
        free(cmd);
}

Test(loader, segments_beyond_ram_are_refused)
{
        struct elf_spec s = kimg_elf_default();
        struct boot_plan plan;
        struct boot_input in;

        s.paddr[1] = 64 * MiB - 0x800; /* half inside RAM */
        load_elf(s);
        in = input(0, "", ENTRY_AUTO);
        err[0] = 0;
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), -ENOMEM);
        cr_assert_str_eq(plan.culprit, "kernel");
        cr_assert(strstr(err, "-m"), "err says how to fix it: %s", err);
}

Test(loader, kernel_bigger_than_ram_is_refused)
{
        struct boot_plan plan;
        struct boot_input in;
        struct guest_mem small;

        load_elf(kimg_elf_default()); /* needs RAM up to 18 MiB + 4 KiB */
        cr_assert_eq(fake_mem_init(&small, 16 * MiB, 0), 0);
        in = input(0, "", ENTRY_AUTO);
        cr_assert_eq(boot_load(&small, &img, &in, &plan, err, sizeof(err)), -ENOMEM);
        fake_mem_free(&small);
}

Test(loader, ram_below_2_mib_is_refused)
{
        struct boot_plan plan;
        struct boot_input in;
        struct guest_mem small;
        struct bz_spec s = kimg_bz_default();

        s.init_size = 0;
        s.payload = 0x1000;
        load_bz(s);
        cr_assert_eq(fake_mem_init(&small, 2 * MiB - 4096, 0), 0);
        in = input(0, "", ENTRY_AUTO);
        err[0] = 0;
        cr_assert_eq(boot_load(&small, &img, &in, &plan, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "2 MiB"), "err: %s", err);
        fake_mem_free(&small);

        cr_assert_eq(fake_mem_init(&small, 2 * MiB, 0), 0);
        cr_assert_eq(boot_load(&small, &img, &in, &plan, err, sizeof(err)), 0, "2 MiB: %s", err);
        fake_mem_free(&small);
}

Test(loader, boot_structures_do_not_overlap)
{
        const struct {
                uint64_t start, end;
        } r[] = {
            {WISP_GDT_ADDR, WISP_GDT_ADDR + GDT_ENTRIES * 8},
            {WISP_PVH_INFO_ADDR, WISP_PVH_INFO_ADDR + sizeof(struct hvm_start_info)},
            {WISP_PVH_MEMMAP_ADDR,
             WISP_PVH_MEMMAP_ADDR + WISP_PVH_MEMMAP_MAX * sizeof(struct hvm_memmap_table_entry)},
            {WISP_PVH_MODLIST_ADDR, WISP_PVH_MODLIST_ADDR + sizeof(struct hvm_modlist_entry)},
            {WISP_ZERO_PAGE_ADDR, WISP_ZERO_PAGE_ADDR + sizeof(struct boot_params)},
            {WISP_PML4_ADDR, WISP_PML4_ADDR + PAGE_TABLES_SIZE},
            {WISP_CMDLINE_ADDR, WISP_CMDLINE_ADDR + WISP_CMDLINE_MAX},
            {WISP_MPTABLE_ADDR, WISP_HIGHMEM_START},
        };
        const size_t n = sizeof(r) / sizeof(r[0]);

        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        cr_assert(r[i].end <= r[j].start || r[j].end <= r[i].start,
                                  "ranges %zu and %zu overlap", i, j);
        cr_assert_lt(WISP_ZERO_PAGE_ADDR + sizeof(struct boot_params), WISP_BOOT_STACK,
                     "the stack grows down from above the zero page");
        cr_assert_leq(WISP_BOOT_STACK, WISP_PML4_ADDR);
}

/* A memfd holding len bytes of data. */
static int memfd_with(const uint8_t *data, size_t len)
{
        int fd = memfd_create("wisp-test", MFD_CLOEXEC);

        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, data, len), (ssize_t)len);
        return fd;
}

Test(loader, kernel_and_initrd_read_from_their_files)
{
        struct boot_plan plan;
        struct boot_input in;
        const size_t ilen = 200000;
        struct boot_files_fds fds;

        load_elf(kimg_elf_default());
        fds.kernel_fd = memfd_with(kfile, klen);
        fds.initrd_fd = memfd_with(initrd, ilen);
        in = input(0, "fd", ENTRY_AUTO);
        in.initrd_len = ilen;
        in.fds = &fds;
        in.kernel = NULL; /* never touched when the fds are given */
        cr_assert_eq(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0, "%s", err);
        check_segments();
        check_initrd(plan.initrd_gpa, ilen);
        close(fds.kernel_fd);
        close(fds.initrd_fd);
}

Test(loader, short_files_are_read_errors)
{
        struct boot_plan plan;
        struct boot_input in;
        struct boot_files_fds fds;

        load_elf(kimg_elf_default());
        fds.kernel_fd = memfd_with(kfile, klen - 1); /* the file shrank after parsing */
        fds.initrd_fd = -1;
        in = input(0, "", ENTRY_AUTO);
        in.fds = &fds;
        err[0] = 0;
        cr_assert_lt(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0);
        cr_assert_str_eq(plan.culprit, "kernel");
        cr_assert_neq(err[0], 0);
        close(fds.kernel_fd);

        fds.kernel_fd = memfd_with(kfile, klen);
        fds.initrd_fd = memfd_with(initrd, 1000);
        in.initrd_len = 1001; /* the initrd shrank after its size was taken */
        err[0] = 0;
        cr_assert_lt(boot_load(&mem, &img, &in, &plan, err, sizeof(err)), 0);
        cr_assert_str_eq(plan.culprit, "initrd");
        cr_assert_neq(err[0], 0);
        close(fds.kernel_fd);
        close(fds.initrd_fd);
}
