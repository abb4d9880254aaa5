/* Unit tests for boot/kernel_image.c: bzImage files: good, refused, truncated; where they end. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_image_fixture.h"
#include "kimage.h"

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
