/* Unit tests for devices/bus.c: region table, dispatch and unclaimed accesses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "devices/bus.h"

struct dev {
        unsigned int calls;
        uint64_t offset;
        uint32_t len;
        bool is_write;
        uint8_t written[8];
        uint8_t fill; /* reads return fill, fill+1, ... */
};

static void handler(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct dev *d = opaque;

        d->calls++;
        d->offset = offset;
        d->len = len;
        d->is_write = is_write;
        if (is_write)
                memcpy(d->written, data, len);
        else
                for (uint32_t i = 0; i < len; i++)
                        data[i] = (uint8_t)(d->fill + i);
}

static struct io_bus bus;

static void setup(void)
{
        io_bus_init(&bus, "port");
}

static void teardown(void)
{
        io_bus_destroy(&bus);
}

TestSuite(bus, .init = setup, .fini = teardown);

Test(bus, add_and_dispatch_with_offset)
{
        struct dev a = {.fill = 0x10}, b = {.fill = 0x20};
        uint8_t data[8] = {0};

        cr_assert_eq(io_bus_add(&bus, 0x3f8, 8, handler, &a, "uart"), 0);
        cr_assert_eq(io_bus_add(&bus, 0x60, 1, handler, &b, "i8042"), 0);

        cr_assert(io_bus_access(&bus, 0x3fd, data, 1, false));
        cr_assert_eq(a.calls, 1);
        cr_assert_eq(a.offset, 5, "offset from the region base");
        cr_assert_eq(a.len, 1);
        cr_assert_not(a.is_write);
        cr_assert_eq(data[0], 0x10);
        cr_assert_eq(b.calls, 0);

        data[0] = 0xab;
        data[1] = 0xcd;
        cr_assert(io_bus_access(&bus, 0x3f8, data, 2, true));
        cr_assert_eq(a.offset, 0);
        cr_assert(a.is_write);
        cr_assert_eq(a.written[0], 0xab);
        cr_assert_eq(a.written[1], 0xcd);

        cr_assert(io_bus_access(&bus, 0x60, data, 1, false));
        cr_assert_eq(b.calls, 1);
        cr_assert_eq(b.offset, 0);
        cr_assert_eq(data[0], 0x20);
        cr_assert_eq(atomic_load(&bus.unclaimed), 0);
}

Test(bus, overlaps_are_eexist_adjacent_is_fine)
{
        struct dev d = {0};

        cr_assert_eq(io_bus_add(&bus, 0x100, 0x10, handler, &d, "a"), 0);
        cr_assert_eq(io_bus_add(&bus, 0x100, 0x10, handler, &d, "same"), -EEXIST);
        cr_assert_eq(io_bus_add(&bus, 0x100, 1, handler, &d, "same base"), -EEXIST);
        cr_assert_eq(io_bus_add(&bus, 0xf8, 0x10, handler, &d, "over the start"), -EEXIST);
        cr_assert_eq(io_bus_add(&bus, 0x10f, 0x10, handler, &d, "over the end"), -EEXIST);
        cr_assert_eq(io_bus_add(&bus, 0x104, 4, handler, &d, "inside"), -EEXIST);
        cr_assert_eq(io_bus_add(&bus, 0x80, 0x100, handler, &d, "around"), -EEXIST);
        cr_assert_eq(bus.nr, 1);
        cr_assert_eq(io_bus_add(&bus, 0x110, 0x10, handler, &d, "right after"), 0);
        cr_assert_eq(io_bus_add(&bus, 0xf0, 0x10, handler, &d, "right before"), 0);
        cr_assert_eq(io_bus_add(&bus, 0x108, 0x10, handler, &d, "between, overlapping"), -EEXIST);
        cr_assert_eq(bus.nr, 3);
        for (unsigned int i = 1; i < bus.nr; i++)
                cr_assert_lt(bus.region[i - 1].base, bus.region[i].base, "sorted");
}

Test(bus, bad_regions_are_einval)
{
        struct dev d = {0};

        cr_assert_eq(io_bus_add(&bus, 0x100, 0, handler, &d, "empty"), -EINVAL);
        cr_assert_eq(io_bus_add(&bus, UINT64_MAX - 3, 8, handler, &d, "wraps"), -EINVAL);
        cr_assert_eq(bus.nr, 0);
        cr_assert_eq(io_bus_add(&bus, UINT64_MAX - 7, 7, handler, &d, "top, not wrapping"), 0);
}

Test(bus, remove)
{
        struct dev a = {0}, b = {0};
        uint8_t data[4];

        cr_assert_eq(io_bus_add(&bus, 0x10, 4, handler, &a, "a"), 0);
        cr_assert_eq(io_bus_add(&bus, 0x20, 4, handler, &b, "b"), 0);
        cr_assert_eq(io_bus_remove(&bus, 0x12), -ENOENT, "only by base");
        cr_assert_eq(io_bus_remove(&bus, 0x30), -ENOENT);
        cr_assert_eq(io_bus_remove(&bus, 0x10), 0);
        cr_assert_eq(io_bus_remove(&bus, 0x10), -ENOENT, "already gone");
        cr_assert_not(io_bus_access(&bus, 0x10, data, 1, false));
        cr_assert_eq(a.calls, 0);
        cr_assert(io_bus_access(&bus, 0x22, data, 1, false), "the other region stays");
        cr_assert_eq(b.calls, 1);
        cr_assert_eq(io_bus_add(&bus, 0x10, 0x10, handler, &a, "a again"), 0, "space reusable");
}

Test(bus, unclaimed_read_is_all_ones_and_counted)
{
        uint8_t data[16];

        memset(data, 0, sizeof(data));
        cr_assert_not(io_bus_access(&bus, 0x80, data, 4, false));
        for (int i = 0; i < 4; i++)
                cr_assert_eq(data[i], 0xff);
        cr_assert_eq(data[4], 0, "only len bytes filled");
        cr_assert_eq(atomic_load(&bus.unclaimed), 1);

        memset(data, 0x12, sizeof(data));
        cr_assert_not(io_bus_access(&bus, 0x80, data, 2, true));
        cr_assert_eq(data[0], 0x12, "a dropped write leaves the buffer alone");
        cr_assert_eq(atomic_load(&bus.unclaimed), 2);

        for (int i = 0; i < 20; i++)
                io_bus_access(&bus, 0x81, data, 1, false);
        cr_assert_eq(atomic_load(&bus.unclaimed), 22, "counted past the log limit");
}

Test(bus, access_past_a_regions_end_is_unclaimed)
{
        struct dev d = {.fill = 1};
        uint8_t data[8];

        cr_assert_eq(io_bus_add(&bus, 0x10, 8, handler, &d, "r"), 0);
        cr_assert(io_bus_access(&bus, 0x14, data, 4, false), "the last four bytes");
        cr_assert_eq(d.calls, 1);
        memset(data, 0, sizeof(data));
        cr_assert_not(io_bus_access(&bus, 0x15, data, 4, false));
        cr_assert_not(io_bus_access(&bus, 0x17, data, 2, true));
        cr_assert(io_bus_access(&bus, 0x10, data, 8, false), "8 from the base fits");
        cr_assert_eq(d.calls, 2, "the handler never sees a partial access");
        cr_assert_eq(atomic_load(&bus.unclaimed), 2);
}

Test(bus, zero_and_oversized_accesses_are_unclaimed)
{
        struct dev d = {0};
        uint8_t data[16];

        cr_assert_eq(io_bus_add(&bus, 0x10, 0x100, handler, &d, "big"), 0);
        memset(data, 0x33, sizeof(data));
        cr_assert_not(io_bus_access(&bus, 0x10, data, 0, false));
        cr_assert_eq(data[0], 0x33, "len 0 writes nothing");
        cr_assert_not(io_bus_access(&bus, 0x10, data, 9, false));
        cr_assert_not(io_bus_access(&bus, 0x10, data, 16, true));
        for (int i = 8; i < 16; i++)
                cr_assert_eq(data[i], 0x33, "never more than 8 bytes written");
        cr_assert_eq(d.calls, 0);
        cr_assert_eq(atomic_load(&bus.unclaimed), 3);
}

Test(bus, full_table_and_binary_search)
{
        static struct dev devs[IO_BUS_MAX_REGIONS];
        uint8_t data[8];
        struct dev extra = {0};

        /* Insert in a scrambled order: 37 is coprime with 64. */
        for (unsigned int k = 0; k < IO_BUS_MAX_REGIONS; k++) {
                unsigned int i = (k * 37) % IO_BUS_MAX_REGIONS;

                devs[i].fill = (uint8_t)i;
                cr_assert_eq(io_bus_add(&bus, 0x1000 + i * 0x10, 8, handler, &devs[i], "d"), 0);
        }
        cr_assert_eq(io_bus_add(&bus, 0x8000, 1, handler, &extra, "one too many"), -ENOSPC);
        for (unsigned int i = 0; i < IO_BUS_MAX_REGIONS; i++) {
                uint64_t base = 0x1000 + i * 0x10;

                cr_assert(io_bus_access(&bus, base + 7, data, 1, false), "region %u", i);
                cr_assert_eq(data[0], i);
                cr_assert_eq(devs[i].offset, 7);
                cr_assert_not(io_bus_access(&bus, base + 8, data, 1, false), "gap after %u", i);
        }
        cr_assert_not(io_bus_access(&bus, 0xfff, data, 1, false));
        for (unsigned int i = 0; i < IO_BUS_MAX_REGIONS; i++)
                cr_assert_eq(devs[i].calls, 1);
        cr_assert_eq(io_bus_remove(&bus, 0x1000 + 5 * 0x10), 0);
        cr_assert_eq(io_bus_add(&bus, 0x8000, 1, handler, &extra, "fits now"), 0);
}

static void *reader(void *arg)
{
        uint8_t data[4];

        (void)arg;
        for (int i = 0; i < 20000; i++)
                io_bus_access(&bus, 0x3f8 + (i & 7), data, 1, false);
        return NULL;
}

Test(bus, concurrent_access_while_regions_change, .timeout = 20)
{
        struct dev uart = {0}, other = {0};
        pthread_t t;

        cr_assert_eq(io_bus_add(&bus, 0x3f8, 8, handler, &uart, "uart"), 0);
        cr_assert_eq(pthread_create(&t, NULL, reader, NULL), 0);
        for (int i = 0; i < 2000; i++) {
                cr_assert_eq(io_bus_add(&bus, 0x100 + (i % 16) * 0x10, 8, handler, &other, "x"), 0);
                cr_assert_eq(io_bus_remove(&bus, 0x100 + (i % 16) * 0x10), 0);
        }
        pthread_join(t, NULL);
        cr_assert_eq(uart.calls, 20000, "every access reached the UART");
        cr_assert_eq(atomic_load(&bus.unclaimed), 0);
}

static struct dev moved = {.fill = 0x77};

/* A config-space write that moves a BAR: the handler remaps regions on the same bus. */
static void remapping_handler(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                              bool is_write)
{
        (void)opaque;
        (void)offset;
        (void)len;
        if (is_write) {
                cr_assert_eq(io_bus_remove(&bus, 0x1000), 0);
                cr_assert_eq(io_bus_add(&bus, 0x2000, 0x10, handler, &moved, "bar"), 0);
        } else {
                data[0] = 0x42;
        }
}

Test(bus, handler_may_change_regions, .timeout = 10)
{
        uint8_t data[4] = {1, 0, 0, 0};

        cr_assert_eq(io_bus_add(&bus, 0xcf8, 8, remapping_handler, NULL, "cfg"), 0);
        cr_assert_eq(io_bus_add(&bus, 0x1000, 0x10, handler, &moved, "bar"), 0);
        cr_assert(io_bus_access(&bus, 0xcfc, data, 4, true), "no deadlock on the bus lock");
        cr_assert_not(io_bus_access(&bus, 0x1000, data, 1, false), "old place unclaimed");
        cr_assert(io_bus_access(&bus, 0x2004, data, 1, false), "new place claimed");
        cr_assert_eq(moved.offset, 4);
        cr_assert_eq(data[0], 0x77);
}
