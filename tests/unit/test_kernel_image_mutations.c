/* Unit tests for boot/kernel_image.c: files of neither kind, random mutations of good ones. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_image_fixture.h"
#include "kimage.h"

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
