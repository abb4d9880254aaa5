/* Unit tests for boot/kernel_image.c: ELF64 vmlinux files, good, odd, corrupt and truncated. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_image_fixture.h"
#include "kimage.h"

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
