/* Test fixture for test_kernel_image_*: see kernel_image_fixture.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel_image_fixture.h"

struct kernel_image img;
const char *why;

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

int parse(const uint8_t *buf, size_t len)
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

void expect_fail(const uint8_t *buf, size_t len, const char *what)
{
        int r = parse(buf, len);

        cr_assert_eq(r, -ENOEXEC, "%s: returned %d", what, r);
        cr_assert_not_null(why, "%s: no reason given", what);
        cr_assert_neq(why, (const char *)1, "%s: reason not set", what);
        cr_assert_gt(strlen(why), 0, "%s: empty reason", what);
}

/* What every successful parse must promise: segments inside the file, sane sizes. */
void check_consistent(size_t len)
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
