/* Unit tests for boot/kernel_image.c: ELF64 and bzImage parsing, truncated and corrupt files. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot/kernel_image.h"
#include "kimage.h"

static struct kernel_image img;
static const char *why;

/*
 * The file lies in a read-only mapping between two PROT_NONE pages, once flush
 * against the page after it and once against the page before it, so that any
 * read outside [buf, buf + len) (or any write) faults and Criterion reports a
 * crash. Both runs must agree.
 */
static const uint8_t *guarded(const uint8_t *src, size_t len, bool at_end, void **map,
                              size_t *maplen)
{
        const size_t pg = 4096;
        size_t data = len ? (len + pg - 1) / pg * pg : pg;
        uint8_t *m, *p;

        *maplen = data + 2 * pg;
        m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq(m, MAP_FAILED);
        p = at_end ? m + pg + data - len : m + pg;
        memcpy(p, src, len);
        cr_assert_eq(mprotect(m, pg, PROT_NONE), 0);
        cr_assert_eq(mprotect(m + pg, data, PROT_READ), 0);
        cr_assert_eq(mprotect(m + pg + data, pg, PROT_NONE), 0);
        *map = m;
        return p;
}

static int parse(const uint8_t *buf, size_t len)
{
        struct kernel_image first;
        const char *first_why = NULL;
        int r[2];

        for (int k = 0; k < 2; k++) {
                void *map;
                size_t maplen;
                const uint8_t *p = guarded(buf, len, k == 0, &map, &maplen);

                why = (const char *)1; /* must be replaced */
                memset(&img, 0x5a, sizeof(img));
                r[k] = kernel_image_parse(p, len, &img, &why);
                munmap(map, maplen);
                if (k == 0) {
                        first = img;
                        first_why = why;
                }
        }
        cr_assert_eq(r[0], r[1], "result depends on where the file lies in memory");
        cr_assert_eq(first_why, why);
        if (r[1] == 0)
                cr_assert_eq(memcmp(&first, &img, sizeof(img)), 0, "parse is deterministic");
        return r[1];
}

static void expect_fail(const uint8_t *buf, size_t len, const char *what)
{
        int r = parse(buf, len);

        cr_assert_eq(r, -ENOEXEC, "%s: returned %d", what, r);
        cr_assert_not_null(why, "%s: no reason given", what);
        cr_assert_neq(why, (const char *)1, "%s: reason not set", what);
        cr_assert_gt(strlen(why), 0, "%s: empty reason", what);
}

/* What every successful parse must promise: segments inside the file, sane sizes. */
static void check_consistent(size_t len)
{
        cr_assert_geq(img.nseg, 1);
        cr_assert_leq(img.nseg, KERNEL_MAX_SEGMENTS);
        for (unsigned int i = 0; i < img.nseg; i++) {
                const struct kernel_segment *s = &img.seg[i];

                cr_assert_leq(s->off, len, "segment %u starts past the file", i);
                cr_assert_leq(s->filesz, len - s->off, "segment %u runs past the file", i);
                cr_assert_leq(s->filesz, s->memsz, "segment %u", i);
                cr_assert_geq(s->gpa + s->memsz, s->gpa, "segment %u wraps", i);
                cr_assert_geq(s->gpa, 0x100000, "segment %u below 1 MiB", i);
                cr_assert_geq(img.end, s->gpa + s->memsz, "end below segment %u", i);
        }
}

static Elf64_Ehdr *ehdr(uint8_t *buf)
{
        return (Elf64_Ehdr *)buf;
}

/* Program header i of a kimg_elf file (the note, if any, is header 0). */
static Elf64_Phdr *phdr(uint8_t *buf, unsigned int i)
{
        return (Elf64_Phdr *)(buf + KIMG_PHOFF + i * sizeof(Elf64_Phdr));
}

/* ---- ELF ---- */

Test(elf, valid_with_pvh_note)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf = kimg_elf(&s, &len);

        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.format, KERNEL_ELF);
        cr_assert_eq(img.nseg, 2);
        for (unsigned int i = 0; i < 2; i++) {
                cr_assert_eq(img.seg[i].off, KIMG_SEG_OFF(i));
                cr_assert_eq(img.seg[i].filesz, 0x800);
                cr_assert_eq(img.seg[i].memsz, 0x1000);
                cr_assert_eq(img.seg[i].gpa, 0x1000000 + i * 0x200000, "p_paddr, not p_vaddr");
        }
        cr_assert_eq(img.entry64, KIMG_ENTRY64);
        cr_assert_eq(img.entry_pvh, KIMG_PVH_ENTRY);
        cr_assert_eq(img.end, 0x1201000);
        cr_assert_eq(img.initrd_addr_max, 0xbfffffff, "below the PCI hole");
        cr_assert_eq(img.cmdline_max, 2047);
        cr_assert_eq(img.hdr_len, 0);
        check_consistent(len);
        free(buf);
}

Test(elf, pvh_note_with_an_8_byte_descriptor)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf;

        s.pvh_descsz = 8;
        s.pvh_entry = 0x1000180;
        buf = kimg_elf(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0x1000180);
        free(buf);
}

Test(elf, pvh_note_found_after_other_notes)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf;

        s.other_notes = true;
        s.pvh_descsz = 8;
        buf = kimg_elf(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, KIMG_PVH_ENTRY);
        free(buf);
}

Test(elf, no_pvh_note)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf;

        s.pvh_descsz = 0;
        buf = kimg_elf(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0);
        cr_assert_eq(img.nseg, 2);
        free(buf);

        s.other_notes = true; /* notes, but none of type 18 */
        buf = kimg_elf(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0);
        free(buf);
}

Test(elf, odd_pvh_notes_are_ignored)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf = kimg_elf(&s, &len);
        Elf64_Nhdr *nh = (Elf64_Nhdr *)(buf + KIMG_NOTE_OFF);

        nh->n_descsz = 2; /* neither 4 nor 8 */
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0);

        nh->n_descsz = 4;
        memcpy(buf + KIMG_NOTE_OFF + sizeof(*nh), "Xem", 4);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0, "name must be Xen");

        memcpy(buf + KIMG_NOTE_OFF + sizeof(*nh), "Xen", 4);
        nh->n_namesz = 0xfffffff0u; /* runs far past the segment */
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0);

        nh->n_namesz = 4;
        nh->n_descsz = 0xffffffffu;
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0);
        free(buf);
}

Test(elf, note_cut_short_by_its_segment_is_ignored)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf;

        s.pvh_descsz = 8;
        buf = kimg_elf(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, KIMG_PVH_ENTRY);
        phdr(buf, 0)->p_filesz -= 4; /* the descriptor's last 4 bytes lie outside the segment */
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0, "a note running past its segment is not read");
        phdr(buf, 0)->p_filesz = 11; /* less than a note header */
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0);
        free(buf);
}

Test(elf, note_segment_outside_the_file_is_skipped)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf = kimg_elf(&s, &len);

        phdr(buf, 0)->p_offset = len - 4;
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.entry_pvh, 0);
        phdr(buf, 0)->p_offset = UINT64_MAX - 2;
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        free(buf);
}

Test(elf, zero_sized_load_segments_are_skipped)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf;

        s.nload = 3;
        buf = kimg_elf(&s, &len);
        phdr(buf, 2)->p_memsz = 0;
        phdr(buf, 2)->p_filesz = 0;
        phdr(buf, 2)->p_paddr = 0; /* would be refused if it were loaded */
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.nseg, 2);
        cr_assert_eq(img.seg[1].gpa, 0x1400000);
        free(buf);
}

Test(elf, exactly_16_segments_fit)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf;

        s.nload = KERNEL_MAX_SEGMENTS;
        buf = kimg_elf(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.nseg, KERNEL_MAX_SEGMENTS);
        cr_assert_eq(img.end, 0x1000000 + 15 * 0x200000 + 0x1000);
        free(buf);

        s.nload = KERNEL_MAX_SEGMENTS + 1;
        buf = kimg_elf(&s, &len);
        expect_fail(buf, len, "17 segments");
        free(buf);
}

Test(elf, end_is_the_highest_segment_whatever_the_order)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *buf;

        s.nload = 3;
        s.paddr[0] = 0x3000000;
        s.paddr[1] = 0x1000000;
        s.paddr[2] = 0x2000000;
        buf = kimg_elf(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.end, 0x3001000);
        free(buf);
}

struct corruption {
        const char *name;
        void (*apply)(uint8_t *buf, size_t len);
};

static void c_class32(uint8_t *b, size_t l)
{
        (void)l;
        b[EI_CLASS] = ELFCLASS32;
}
static void c_bigendian(uint8_t *b, size_t l)
{
        (void)l;
        b[EI_DATA] = ELFDATA2MSB;
}
static void c_machine(uint8_t *b, size_t l)
{
        (void)l;
        ehdr(b)->e_machine = EM_386;
}
static void c_type_dyn(uint8_t *b, size_t l)
{
        (void)l;
        ehdr(b)->e_type = ET_DYN;
}
static void c_type_rel(uint8_t *b, size_t l)
{
        (void)l;
        ehdr(b)->e_type = ET_REL;
}
static void c_phentsize(uint8_t *b, size_t l)
{
        (void)l;
        ehdr(b)->e_phentsize = 32;
}
static void c_phnum0(uint8_t *b, size_t l)
{
        (void)l;
        ehdr(b)->e_phnum = 0;
}
static void c_phoff_past_end(uint8_t *b, size_t l)
{
        ehdr(b)->e_phoff = l;
}
static void c_phoff_near_end(uint8_t *b, size_t l)
{
        ehdr(b)->e_phoff = l - sizeof(Elf64_Phdr) / 2;
}
static void c_phoff_huge(uint8_t *b, size_t l)
{
        (void)l;
        ehdr(b)->e_phoff = UINT64_MAX - 16;
}
static void c_phnum_huge(uint8_t *b, size_t l)
{
        (void)l;
        ehdr(b)->e_phnum = 0xffff; /* 0xffff * 56 bytes of headers */
}
static void c_offset_past_end(uint8_t *b, size_t l)
{
        phdr(b, 1)->p_offset = l + 1;
}
static void c_filesz_past_end(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 2)->p_filesz += 1;
        phdr(b, 2)->p_memsz += 1;
}
static void c_offset_plus_filesz_wraps(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 1)->p_filesz = UINT64_MAX - 0x800;
        phdr(b, 1)->p_memsz = UINT64_MAX;
}
static void c_filesz_above_memsz(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 1)->p_memsz = phdr(b, 1)->p_filesz - 1;
}
static void c_paddr_wraps(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 1)->p_paddr = UINT64_MAX - 0x7ff;
}
static void c_paddr_wraps_to_zero(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 1)->p_paddr = 0 - phdr(b, 1)->p_memsz;
}
static void c_below_1mib(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 2)->p_paddr = 0xff000;
}
static void c_at_zero(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 1)->p_paddr = 0;
}
static void c_no_load(uint8_t *b, size_t l)
{
        (void)l;
        phdr(b, 1)->p_type = PT_DYNAMIC;
        phdr(b, 2)->p_memsz = 0;
}

static const struct corruption elf_corruptions[] = {
    {"ELFCLASS32", c_class32},
    {"big-endian", c_bigendian},
    {"EM_386", c_machine},
    {"ET_DYN", c_type_dyn},
    {"ET_REL", c_type_rel},
    {"e_phentsize 32", c_phentsize},
    {"e_phnum 0", c_phnum0},
    {"e_phoff at the end", c_phoff_past_end},
    {"e_phoff half a header before the end", c_phoff_near_end},
    {"e_phoff near UINT64_MAX", c_phoff_huge},
    {"e_phnum 0xffff", c_phnum_huge},
    {"p_offset past the end", c_offset_past_end},
    {"p_offset + p_filesz one past the end", c_filesz_past_end},
    {"p_offset + p_filesz wraps", c_offset_plus_filesz_wraps},
    {"p_filesz > p_memsz", c_filesz_above_memsz},
    {"p_paddr + p_memsz wraps", c_paddr_wraps},
    {"p_paddr + p_memsz wraps to exactly 0", c_paddr_wraps_to_zero},
    {"segment below 1 MiB", c_below_1mib},
    {"segment at 0", c_at_zero},
    {"no PT_LOAD", c_no_load},
};

Test(elf, corrupt_fields_are_refused)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *good = kimg_elf(&s, &len);
        uint8_t *buf = malloc(len);

        for (size_t i = 0; i < sizeof(elf_corruptions) / sizeof(elf_corruptions[0]); i++) {
                memcpy(buf, good, len);
                elf_corruptions[i].apply(buf, len);
                expect_fail(buf, len, elf_corruptions[i].name);
        }
        free(buf);
        free(good);
}

Test(elf, every_truncation_fails_cleanly)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *good = kimg_elf(&s, &len);

        for (size_t n = 0; n < len; n++) {
                /* parse() puts the n bytes against a guard page: no read past n survives. */
                if (parse(good, n) == 0) {
                        check_consistent(n);
                        cr_assert_fail("truncated to %zu of %zu bytes: parsed", n, len);
                }
                expect_fail(good, n, "truncated ELF");
        }
        free(good);
}

/* ---- bzImage ---- */

Test(bzimage, valid)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf = kimg_bzimage(&s, &len);

        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.format, KERNEL_BZIMAGE);
        cr_assert_eq(img.nseg, 1);
        cr_assert_eq(img.seg[0].off, 16 * 512, "after 15 setup sectors and the boot sector");
        cr_assert_eq(img.seg[0].filesz, 0x10000);
        cr_assert_eq(img.seg[0].gpa, 0x100000);
        cr_assert_eq(img.seg[0].memsz, 0x10000,
                     "only the file is copied; init_size is reserved by end");
        cr_assert_eq(img.entry64, 0x100200, "startup_64 is 0x200 into the protected-mode code");
        cr_assert_eq(img.entry_pvh, 0);
        cr_assert_eq(img.end, 0x1200000, "relocatable: decompressed at pref_address + init_size");
        cr_assert_eq(img.initrd_addr_max, 0x7fffffff);
        cr_assert_eq(img.cmdline_max, 2047);
        cr_assert_eq(img.hdr_len, sizeof(struct setup_header));
        cr_assert_eq(img.hdr.version, 0x020f);
        cr_assert_eq(img.hdr.setup_sects, 15);
        cr_assert_eq(img.hdr.xloadflags, XLF_KERNEL_64);
        cr_assert_eq(img.hdr.pref_address, 0x1000000);
        cr_assert_eq(memcmp(&img.hdr, buf + 0x1f1, sizeof(img.hdr)), 0, "header copied as is");
        check_consistent(len);
        free(buf);
}

Test(bzimage, defaults_for_zero_fields)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf;

        s.setup_sects = 0; /* means 4 */
        s.init_size = 0x100;
        s.initrd_addr_max = 0;
        s.cmdline_size = 0;
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.seg[0].off, 5 * 512);
        cr_assert_eq(img.seg[0].memsz, img.seg[0].filesz, "init_size below the file size");
        cr_assert_eq(img.initrd_addr_max, 0x37ffffff, "the boot protocol's old default");
        cr_assert_eq(img.cmdline_max, 255);
        free(buf);
}

Test(bzimage, short_header_stops_at_the_jump_target)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf;

        /* The header ends at 0x202 + buf[0x201]: 0x240 covers xloadflags (0x236) and
         * cmdline_size (0x238) but not init_size (0x260). */
        s.jump = 0x3e;
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.hdr_len, 0x240 - 0x1f1);
        cr_assert_eq(img.hdr.cmdline_size, 2047);
        cr_assert_eq(img.hdr.init_size, 0, "past the header's end: not read");
        cr_assert_eq(img.seg[0].memsz, img.seg[0].filesz);
        free(buf);

        /* Ending before xloadflags: no 64-bit entry can be claimed. */
        s.jump = 0x30;
        buf = kimg_bzimage(&s, &len);
        expect_fail(buf, len, "header without xloadflags");
        free(buf);

        /* A jump past the struct: only the struct's bytes are taken. */
        s.jump = 0xff;
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.hdr_len, sizeof(struct setup_header));
        free(buf);
}

static void bz_expect_fail(struct bz_spec s, const char *what)
{
        size_t len;
        uint8_t *buf = kimg_bzimage(&s, &len);

        expect_fail(buf, len, what);
        free(buf);
}

Test(bzimage, refused_headers)
{
        struct bz_spec s = kimg_bz_default();

        s.version = 0x020b;
        bz_expect_fail(s, "protocol 2.11");
        s = kimg_bz_default();
        s.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
        bz_expect_fail(s, "no XLF_KERNEL_64");
        s = kimg_bz_default();
        s.loadflags = 0;
        bz_expect_fail(s, "zImage (not LOADED_HIGH)");
        s = kimg_bz_default();
        s.payload = 0;
        bz_expect_fail(s, "no protected-mode code");
}

Test(bzimage, bad_boot_flag)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf = kimg_bzimage(&s, &len);

        buf[0x1fe] = 0x55;
        buf[0x1ff] = 0x55;
        expect_fail(buf, len, "boot flag 0x5555");
        free(buf);
}

Test(bzimage, setup_sects_past_the_end)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf;

        s.payload = 0x200;
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(len, 17 * 512);
        buf[0x1f1] = 200; /* 201 * 512 bytes of setup: far beyond the file */
        expect_fail(buf, len, "setup_sects 200");
        buf[0x1f1] = 16; /* protected-mode code would start exactly at the end */
        expect_fail(buf, len, "setup ends at the file's end");
        buf[0x1f1] = 15;
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        free(buf);
}

Test(bzimage, header_jump_past_the_end_of_a_short_file)
{
        uint8_t buf[0x220];

        memset(buf, 0, sizeof(buf));
        memcpy(buf + 0x202, "HdrS", 4);
        buf[0x1fe] = 0x55;
        buf[0x1ff] = 0xaa;
        buf[0x200] = 0xeb;
        buf[0x201] = 0x6a; /* header would run to 0x26c */
        expect_fail(buf, sizeof(buf), "header past the end");
        expect_fail(buf, 0x206, "just the magic");
        expect_fail(buf, 0x205, "magic cut short");
}

Test(bzimage, truncations_fail_or_stay_inside_the_file)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *good;

        s.payload = 0x800;
        good = kimg_bzimage(&s, &len);
        for (size_t n = 0; n < len; n++) {
                if (parse(good, n) == 0) {
                        cr_assert_eq(img.format, KERNEL_BZIMAGE);
                        cr_assert_eq(img.seg[0].filesz, n - img.seg[0].off);
                        check_consistent(n);
                } else {
                        expect_fail(good, n, "truncated bzImage");
                }
        }
        free(good);
}

/*
 * Was a bug (reported; fixed in parse_bzimage): a bzImage cut short inside its
 * protected-mode code was accepted. syssize (16-byte paragraphs after the
 * setup, written by Linux's arch/x86/boot/tools/build.c) tells the real size.
 */
Test(bzimage, truncated_payload_is_refused)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf = kimg_bzimage(&s, &len);

        cr_assert_eq(parse(buf, len), 0, "the whole file parses: why %s", why);
        expect_fail(buf, len - 16, "bzImage missing its last 16 bytes");
        expect_fail(buf, kimg_bz_pm_off(s.setup_sects) + 1, "bzImage with 1 byte of code");
        free(buf);
}

/* ---- neither ---- */

Test(kernel_image, empty_file)
{
        uint8_t b = 0;

        expect_fail(&b, 0, "empty");
        cr_assert(strstr(why, "empty"), "why: %s", why);
}

Test(kernel_image, random_bytes_and_text)
{
        uint8_t buf[4096];
        uint64_t x = 0x9e3779b97f4a7c15ull;

        for (size_t i = 0; i < sizeof(buf); i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[i] = (uint8_t)x;
        }
        buf[0] = 'X'; /* not "\177ELF" */
        expect_fail(buf, sizeof(buf), "random bytes");
        expect_fail((const uint8_t *)"#!/bin/sh\necho hi\n", 18, "a shell script");
        expect_fail((const uint8_t *)"\177EL", 3, "ELF magic cut short");
        expect_fail((const uint8_t *)"\177ELF", 4, "only the ELF magic");
}

/* ---- random mutations: only 0 or -ENOEXEC, and consistent results ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static void mutate_and_parse(const uint8_t *good, size_t len, size_t hot, unsigned int rounds)
{
        uint8_t *buf = malloc(len);
        unsigned int ok = 0;

        for (unsigned int round = 0; round < rounds; round++) {
                unsigned int edits = 1 + next() % 4;
                int r;

                memcpy(buf, good, len);
                for (unsigned int e = 0; e < edits; e++) {
                        uint64_t v = next();
                        /* Mostly the headers, where the parser makes its decisions. */
                        size_t pos = (v & 3) ? (v >> 8) % hot : (v >> 8) % len;

                        switch ((v >> 2) & 3) {
                        case 0:
                                buf[pos] = (uint8_t)(v >> 40);
                                break;
                        case 1:
                                buf[pos] ^= (uint8_t)(1u << ((v >> 40) & 7));
                                break;
                        case 2:
                                buf[pos] = 0xff;
                                break;
                        default:
                                buf[pos] = 0;
                        }
                }
                r = parse(buf, len);
                cr_assert(r == 0 || r == -ENOEXEC, "round %u returned %d", round, r);
                if (r == 0) {
                        check_consistent(len);
                        ok++;
                } else {
                        cr_assert_not_null(why, "round %u: no reason", round);
                        cr_assert_neq(why, (const char *)1, "round %u: reason not set", round);
                }
        }
        cr_assert_gt(ok, 0, "some mutations leave a valid image (the loop is not vacuous)");
        free(buf);
}

Test(mutations, elf)
{
        struct elf_spec s = kimg_elf_default();
        size_t len;
        uint8_t *good;

        s.nload = 3;
        s.other_notes = true;
        good = kimg_elf(&s, &len);
        mutate_and_parse(good, len, KIMG_NOTE_OFF + 0x80, 4000);
        free(good);
}

Test(mutations, bzimage)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *good;

        s.payload = 0x400;
        good = kimg_bzimage(&s, &len);
        mutate_and_parse(good, len, 0x280, 4000);
        free(good);
}

/*
 * Was a bug (reported; fixed for relocatable kernels): img->end was
 * WISP_KERNEL_ADDR + max(payload, init_size), but the decompressor works at
 * max(ALIGN(load, kernel_alignment), LOAD_PHYSICAL_ADDR) (Linux 6.1
 * arch/x86/boot/compressed/head_64.S, startup_64), LOAD_PHYSICAL_ADDR being
 * the header's pref_address.
 */
Test(bzimage, end_covers_the_decompression_buffer_relocatable)
{
        struct bz_spec s = kimg_bz_default(); /* relocatable, pref_address 16 MiB */
        size_t len;
        uint8_t *buf = kimg_bzimage(&s, &len);

        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.hdr.relocatable_kernel, 1);
        cr_assert_geq(img.end, 0x1000000 + s.init_size,
                      "end %#llx: the decompressor uses [16 MiB, 16 MiB + init_size)",
                      (unsigned long long)img.end);
        free(buf);
}

/*
 * BUG (boot/kernel_image.c, parse_bzimage): for a kernel that is NOT
 * relocatable (relocatable_kernel = 0, as images/kernel.config builds it:
 * CONFIG_RELOCATABLE is not set), end is still 1 MiB + init_size. But such a
 * kernel always decompresses and runs at LOAD_PHYSICAL_ADDR = pref_address:
 * head_64.S skips the "run where loaded" branch without CONFIG_RELOCATABLE and
 * does movq $LOAD_PHYSICAL_ADDR, %rbp; the boot protocol says of pref_address
 * "A non-relocatable kernel will unconditionally move itself and to run at
 * this address". The code's comment ("the load address otherwise") is wrong.
 * Expected end >= pref_address + init_size (0x1200000); actual 0x300000.
 */
Test(bzimage, end_covers_the_decompression_buffer_non_relocatable)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf;

        s.relocatable = 0;
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_geq(img.end, 0x1000000 + s.init_size,
                      "end %#llx: a non-relocatable kernel runs at pref_address (16 MiB)",
                      (unsigned long long)img.end);
        free(buf);
}

/*
 * Was a bug (found by tests/fuzz/fuzz_loader, regress/loader/): pref_address near 2^64 made
 * pref_address + init_size wrap, so end stayed at the file's end and nothing kept the
 * initrd or anything else out of the decompressor's way. Such a header is refused.
 */
Test(bzimage, pref_address_plus_init_size_wrapping_is_refused)
{
        struct bz_spec s = kimg_bz_default();
        size_t len;
        uint8_t *buf;

        s.pref_address = 0xfffffffffffff000ull;
        s.init_size = 0x2000;
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(parse(buf, len), -ENOEXEC);
        cr_assert(strstr(why, "wraps"), "why: %s", why);
        free(buf);
        s.init_size = 0x1000; /* ends exactly at 2^64: wraps to 0 */
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(parse(buf, len), -ENOEXEC);
        free(buf);
        s.pref_address = 0xffffffffffffe000ull; /* ends at 2^64 - 0x1000: no wrap */
        buf = kimg_bzimage(&s, &len);
        cr_assert_eq(parse(buf, len), 0, "why: %s", why);
        cr_assert_eq(img.end, 0xfffffffffffff000ull, "end covers the whole claim");
        free(buf);
}
