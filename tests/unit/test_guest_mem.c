/* Unit tests for kvm/guest_mem.c: the RAM layout around the PCI hole and the checked accessor. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "boot/layout.h"
#include "fake_mem.h"
#include "kvm/guest_mem.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

Test(guest_mem_layout, small_ram_is_one_region_at_zero)
{
        struct guest_mem m;

        cr_assert_eq(guest_mem_layout(&m, 64 * MiB), 0);
        cr_assert_eq(m.nr, 1);
        cr_assert_eq(m.region[0].gpa, 0);
        cr_assert_eq(m.region[0].size, 64 * MiB);
        cr_assert_null(m.region[0].host, "layout is pure: no host memory");
        cr_assert_eq(m.ram_size, 64 * MiB);
        cr_assert_eq(guest_mem_low_end(&m), 64 * MiB);
}

Test(guest_mem_layout, exactly_three_gib_fills_below_the_hole)
{
        struct guest_mem m;

        cr_assert_eq(guest_mem_layout(&m, 3 * GiB), 0);
        cr_assert_eq(m.nr, 1);
        cr_assert_eq(m.region[0].size, 3 * GiB);
        cr_assert_eq(guest_mem_low_end(&m), WISP_PCI_HOLE_START);
}

Test(guest_mem_layout, one_page_over_the_hole_goes_to_4_gib)
{
        struct guest_mem m;

        cr_assert_eq(guest_mem_layout(&m, 3 * GiB + 4 * KiB), 0);
        cr_assert_eq(m.nr, 2);
        cr_assert_eq(m.region[0].size, 3 * GiB);
        cr_assert_eq(m.region[1].gpa, 4 * GiB);
        cr_assert_eq(m.region[1].size, 4 * KiB);
}

Test(guest_mem_layout, five_gib_splits_into_low_and_4_to_6_gib)
{
        struct guest_mem m;

        cr_assert_eq(guest_mem_layout(&m, 5 * GiB), 0);
        cr_assert_eq(m.nr, 2);
        cr_assert_eq(m.region[0].gpa, 0);
        cr_assert_eq(m.region[0].size, 3 * GiB);
        cr_assert_eq(m.region[1].gpa, 4 * GiB);
        cr_assert_eq(m.region[1].size, 2 * GiB, "[4 GiB, 6 GiB)");
        cr_assert_eq(m.ram_size, 5 * GiB);
        cr_assert_eq(guest_mem_low_end(&m), 3 * GiB, "low end stops at the hole");
}

Test(guest_mem_layout, rejects_zero_and_unaligned_sizes)
{
        struct guest_mem m;
        const uint64_t bad[] = {0, 1, 4095, 4097, 64 * MiB + 512, 5 * GiB - 1};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&m, 0x5a, sizeof(m));
                cr_assert_eq(guest_mem_layout(&m, bad[i]), -EINVAL, "size %#llx",
                             (unsigned long long)bad[i]);
                cr_assert_eq(m.nr, 0, "a refused layout leaves no regions");
                cr_assert_eq(guest_mem_low_end(&m), 0);
        }
}

/*
 * A hand-built memory with the real boundaries but small regions: the last
 * 64 KiB below the hole at 3 GiB and the first 64 KiB above 4 GiB.
 */
static struct guest_mem hole;
#define LOW_GPA (3 * GiB - 64 * KiB)
#define HIGH_GPA (4 * GiB)
#define RSIZE (64 * KiB)

static void hole_setup(void)
{
        memset(&hole, 0, sizeof(hole));
        cr_assert_eq(fake_mem_add(&hole, LOW_GPA, RSIZE, 0), 0);
        cr_assert_eq(fake_mem_add(&hole, HIGH_GPA, RSIZE, 0), 0);
}

static void hole_teardown(void)
{
        fake_mem_free(&hole);
}

TestSuite(guest_ptr, .init = hole_setup, .fini = hole_teardown);

Test(guest_ptr, first_and_last_byte_of_each_region)
{
        uint8_t *lo = hole.region[0].host, *hi = hole.region[1].host;

        cr_assert_eq(guest_ptr(&hole, LOW_GPA, 1), lo);
        cr_assert_eq(guest_ptr(&hole, 3 * GiB - 1, 1), lo + RSIZE - 1);
        cr_assert_eq(guest_ptr(&hole, HIGH_GPA, 1), hi);
        cr_assert_eq(guest_ptr(&hole, HIGH_GPA + RSIZE - 1, 1), hi + RSIZE - 1);
        cr_assert_eq(guest_ptr(&hole, HIGH_GPA + 0x1234, 8), hi + 0x1234);
}

Test(guest_ptr, whole_region_fits_one_more_byte_does_not)
{
        cr_assert_eq(guest_ptr(&hole, LOW_GPA, RSIZE), hole.region[0].host);
        cr_assert_null(guest_ptr(&hole, LOW_GPA, RSIZE + 1));
        cr_assert_eq(guest_ptr(&hole, HIGH_GPA + RSIZE - 8, 8), hole.region[1].host + RSIZE - 8);
        cr_assert_null(guest_ptr(&hole, HIGH_GPA + RSIZE - 8, 9), "runs past the region end");
}

Test(guest_ptr, hole_and_outside_addresses_are_refused)
{
        cr_assert_null(guest_ptr(&hole, 3 * GiB, 1), "first byte of the hole");
        cr_assert_null(guest_ptr(&hole, 3 * GiB + 0x1000, 4));
        cr_assert_null(guest_ptr(&hole, WISP_LAPIC_ADDR, 4));
        cr_assert_null(guest_ptr(&hole, 4 * GiB - 1, 1), "last byte of the hole");
        cr_assert_null(guest_ptr(&hole, HIGH_GPA + RSIZE, 1), "just above RAM");
        cr_assert_null(guest_ptr(&hole, LOW_GPA - 1, 1), "just below RAM");
        cr_assert_null(guest_ptr(&hole, 0, 1));
}

Test(guest_ptr, straddling_the_hole_is_refused)
{
        cr_assert_null(guest_ptr(&hole, 3 * GiB - 1, 2));
        cr_assert_null(guest_ptr(&hole, 3 * GiB - 4, 8));
        /* From the low region across the whole hole into the high one. */
        cr_assert_null(guest_ptr(&hole, 3 * GiB - 16, 1 * GiB + 32));
        cr_assert_null(guest_ptr(&hole, 4 * GiB - 4, 8), "from the hole into RAM");
}

Test(guest_ptr, zero_length_is_refused)
{
        cr_assert_null(guest_ptr(&hole, LOW_GPA, 0));
        cr_assert_null(guest_ptr(&hole, HIGH_GPA + 8, 0));
        cr_assert_not(guest_range_is_ram(&hole, LOW_GPA, 0));
}

Test(guest_ptr, lengths_and_addresses_that_overflow)
{
        cr_assert_null(guest_ptr(&hole, UINT64_MAX, 1));
        cr_assert_null(guest_ptr(&hole, UINT64_MAX - 7, 8));
        cr_assert_null(guest_ptr(&hole, HIGH_GPA, UINT64_MAX));
        cr_assert_null(guest_ptr(&hole, HIGH_GPA + 1, UINT64_MAX));
        /* gpa + len wraps around to an address inside the low region. */
        cr_assert_null(guest_ptr(&hole, HIGH_GPA + 16, UINT64_MAX - HIGH_GPA + LOW_GPA + 8));
        cr_assert_null(guest_ptr(&hole, LOW_GPA + 8, UINT64_MAX - 4));
        cr_assert_null(guest_ptr(&hole, LOW_GPA, (uint64_t)1 << 63));
}

Test(guest_ptr, region_ending_at_the_top_of_the_address_space)
{
        struct guest_mem m = {0};

        cr_assert_eq(fake_mem_add(&m, UINT64_MAX - 0xfff, 0x1000, 0), 0);
        cr_assert_eq(guest_ptr(&m, UINT64_MAX, 1), m.region[0].host + 0xfff);
        cr_assert_eq(guest_ptr(&m, UINT64_MAX - 0xfff, 0x1000), m.region[0].host);
        cr_assert_null(guest_ptr(&m, UINT64_MAX, 2));
        cr_assert_null(guest_ptr(&m, UINT64_MAX - 0xfff, 0x1001));
        cr_assert_null(guest_ptr(&m, UINT64_MAX - 0xfff, UINT64_MAX));
        fake_mem_free(&m);
}

Test(guest_ptr, no_regions_nothing_is_ram)
{
        struct guest_mem m = {0};

        cr_assert_null(guest_ptr(&m, 0, 1));
        cr_assert_not(guest_range_is_ram(&m, 0, 1));
        cr_assert_eq(guest_mem_low_end(&m), 0);
}

Test(guest_ptr, range_is_ram_agrees_with_guest_ptr)
{
        const uint64_t gpas[] = {0,
                                 LOW_GPA - 1,
                                 LOW_GPA,
                                 LOW_GPA + 1,
                                 3 * GiB - 8,
                                 3 * GiB - 1,
                                 3 * GiB,
                                 4 * GiB - 1,
                                 HIGH_GPA,
                                 HIGH_GPA + RSIZE / 2,
                                 HIGH_GPA + RSIZE - 1,
                                 HIGH_GPA + RSIZE,
                                 UINT64_MAX - 1,
                                 UINT64_MAX};
        const uint64_t lens[] = {0,
                                 1,
                                 2,
                                 7,
                                 8,
                                 9,
                                 RSIZE / 2,
                                 RSIZE - 1,
                                 RSIZE,
                                 RSIZE + 1,
                                 1 * GiB,
                                 UINT64_MAX / 2,
                                 UINT64_MAX - 1,
                                 UINT64_MAX};

        for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++)
                for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
                        uint64_t g = gpas[i], l = lens[j];
                        void *p = guest_ptr(&hole, g, l);
                        bool inside = false;

                        /* The model: some region holds all of [g, g + l), in 128-bit math. */
                        for (unsigned int k = 0; k < hole.nr; k++) {
                                unsigned __int128 s = hole.region[k].gpa;
                                unsigned __int128 e = s + hole.region[k].size;

                                if (l && g >= s && (unsigned __int128)g + l <= e)
                                        inside = true;
                        }
                        cr_assert_eq(p != NULL, inside, "gpa %#llx len %#llx",
                                     (unsigned long long)g, (unsigned long long)l);
                        cr_assert_eq(guest_range_is_ram(&hole, g, l), inside, "gpa %#llx len %#llx",
                                     (unsigned long long)g, (unsigned long long)l);
                }
}

Test(guest_ptr, read_and_write_reach_the_host_bytes)
{
        const uint8_t msg[] = "wisp guest memory";
        uint8_t back[sizeof(msg)] = {0};

        cr_assert_eq(guest_write(&hole, HIGH_GPA + 100, msg, sizeof(msg)), 0);
        cr_assert_eq(memcmp(hole.region[1].host + 100, msg, sizeof(msg)), 0);
        cr_assert_eq(guest_read(&hole, HIGH_GPA + 100, back, sizeof(back)), 0);
        cr_assert_eq(memcmp(back, msg, sizeof(msg)), 0);
        cr_assert_eq(guest_write(&hole, 3 * GiB - 4, "abcd", 4), 0);
        cr_assert_eq(memcmp(hole.region[0].host + RSIZE - 4, "abcd", 4), 0);
}

Test(guest_ptr, read_and_write_out_of_ram_are_efault_and_touch_nothing)
{
        uint8_t buf[16];
        uint8_t zero[RSIZE];

        memset(buf, 0x77, sizeof(buf));
        memset(zero, 0, sizeof(zero));
        cr_assert_eq(guest_write(&hole, 3 * GiB - 8, buf, 16), -EFAULT, "straddles the hole");
        cr_assert_eq(guest_write(&hole, HIGH_GPA + RSIZE - 8, buf, 16), -EFAULT);
        cr_assert_eq(guest_write(&hole, UINT64_MAX - 3, buf, 16), -EFAULT);
        cr_assert_eq(guest_write(&hole, HIGH_GPA, buf, 0), -EFAULT, "len 0 is refused");
        cr_assert_eq(memcmp(hole.region[0].host, zero, RSIZE), 0, "low RAM untouched");
        cr_assert_eq(memcmp(hole.region[1].host, zero, RSIZE), 0, "high RAM untouched");

        cr_assert_eq(guest_read(&hole, 3 * GiB, buf, 4), -EFAULT);
        cr_assert_eq(guest_read(&hole, HIGH_GPA + RSIZE - 1, buf, 2), -EFAULT);
        cr_assert_eq(guest_read(&hole, HIGH_GPA, buf, 0), -EFAULT);
        for (size_t i = 0; i < sizeof(buf); i++)
                cr_assert_eq(buf[i], 0x77, "destination untouched on -EFAULT");
}
