/* Unit tests for boot/e820.c: the memory map the guest sees for a given RAM layout. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <asm/e820.h>

#include "boot/e820.h"
#include "kvm/guest_mem.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define MAX 16

struct want {
        uint64_t addr, end;
        uint32_t type;
};

static int build(uint64_t ram, struct boot_e820_entry *out, size_t max)
{
        struct guest_mem m;

        cr_assert_eq(guest_mem_layout(&m, ram), 0);
        return e820_build(&m, out, max);
}

static void check_map(const struct boot_e820_entry *e, int n, const struct want *w, int nw)
{
        cr_assert_eq(n, nw, "entries: got %d, want %d", n, nw);
        for (int i = 0; i < n; i++) {
                cr_assert_eq(e[i].addr, w[i].addr, "entry %d addr %#llx", i,
                             (unsigned long long)e[i].addr);
                cr_assert_eq(e[i].addr + e[i].size, w[i].end, "entry %d end %#llx", i,
                             (unsigned long long)(e[i].addr + e[i].size));
                cr_assert_eq(e[i].type, w[i].type, "entry %d type %u", i, e[i].type);
        }
}

/* Sorted, non-empty, non-overlapping; RAM entries never touch the PCI hole. */
static void check_sane(const struct boot_e820_entry *e, int n)
{
        for (int i = 0; i < n; i++) {
                cr_assert_gt(e[i].size, 0, "entry %d is empty", i);
                cr_assert(e[i].type == E820_RAM || e[i].type == E820_RESERVED);
                if (i > 0)
                        cr_assert_geq(e[i].addr, e[i - 1].addr + e[i - 1].size,
                                      "entry %d overlaps or is out of order", i);
                if (e[i].type == E820_RAM)
                        cr_assert(e[i].addr + e[i].size <= 0xc0000000ull ||
                                      e[i].addr >= 0x100000000ull,
                                  "RAM entry %d in the PCI hole", i);
        }
}

Test(e820, map_for_64_mib)
{
        struct boot_e820_entry e[MAX];
        const struct want w[] = {
            {0, 0x9fc00, E820_RAM},
            {0x9fc00, 0x100000, E820_RESERVED},
            {0x100000, 64 * MiB, E820_RAM},
        };
        int n = build(64 * MiB, e, MAX);

        check_map(e, n, w, 3);
        check_sane(e, n);
}

Test(e820, map_for_exactly_3_gib)
{
        struct boot_e820_entry e[MAX];
        const struct want w[] = {
            {0, 0x9fc00, E820_RAM},
            {0x9fc00, 0x100000, E820_RESERVED},
            {0x100000, 3 * GiB, E820_RAM},
        };
        int n = build(3 * GiB, e, MAX);

        check_map(e, n, w, 3);
        check_sane(e, n);
}

Test(e820, map_for_5_gib_continues_at_4_gib)
{
        struct boot_e820_entry e[MAX];
        const struct want w[] = {
            {0, 0x9fc00, E820_RAM},
            {0x9fc00, 0x100000, E820_RESERVED},
            {0x100000, 3 * GiB, E820_RAM},
            {4 * GiB, 6 * GiB, E820_RAM},
        };
        int n = build(5 * GiB, e, MAX);

        check_map(e, n, w, 4);
        check_sane(e, n);
}

Test(e820, ram_totals_the_guest_size_minus_the_reserved_low_area)
{
        const uint64_t sizes[] = {2 * MiB, 64 * MiB, 3 * GiB, 3 * GiB + 4096, 5 * GiB};

        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                struct boot_e820_entry e[MAX];
                uint64_t ram = 0;
                int n = build(sizes[s], e, MAX);

                cr_assert_gt(n, 0);
                check_sane(e, n);
                for (int i = 0; i < n; i++)
                        if (e[i].type == E820_RAM)
                                ram += e[i].size;
                cr_assert_eq(ram, sizes[s] - (0x100000 - 0x9fc00), "size %#llx",
                             (unsigned long long)sizes[s]);
        }
}

Test(e820, too_small_max_is_enospc_and_writes_nothing_past_max)
{
        struct boot_e820_entry e[MAX];

        for (size_t max = 0; max < 4; max++) {
                memset(e, 0xa5, sizeof(e));
                cr_assert_eq(build(5 * GiB, e, max), -ENOSPC, "max %zu", max);
                for (size_t i = max; i < MAX; i++)
                        cr_assert_eq(e[i].type, 0xa5a5a5a5u, "entry %zu written past max %zu", i,
                                     max);
        }
        cr_assert_eq(build(5 * GiB, e, 4), 4, "exactly enough room");
        cr_assert_eq(build(64 * MiB, e, 2), -ENOSPC);
        cr_assert_eq(build(64 * MiB, e, 3), 3);
}
