/* Dispatch of port I/O and MMIO exits to the device that claims the address. */
#ifndef WISP_DEVICES_BUS_H
#define WISP_DEVICES_BUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A device's access handler: offset is relative to the region's base; data
 * holds len (1..8) bytes, little-endian, to write or to fill on a read.
 */
typedef void (*io_handler)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                           bool is_write);

struct io_region {
        uint64_t base, len;
        io_handler fn;
        void *opaque;
        const char *name;
};

#define IO_BUS_MAX_REGIONS 64
#define IO_BUS_LOG_LIMIT 5 /* unclaimed accesses logged before going quiet */

struct io_bus {
        const char *name;                            /* "port" or "mmio", for messages */
        pthread_rwlock_t lock;                       /* regions change when the guest moves a BAR */
        struct io_region region[IO_BUS_MAX_REGIONS]; /* sorted by base */
        unsigned int nr;
        atomic_ulong unclaimed; /* accesses nobody claimed */
};

void io_bus_init(struct io_bus *bus, const char *name);
void io_bus_destroy(struct io_bus *bus);

/* Claims [base, base + len). -EEXIST if it overlaps a region, -ENOSPC when full. */
int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler fn, void *opaque,
               const char *name);

/* Releases the region that starts at base. -ENOENT if none does. */
int io_bus_remove(struct io_bus *bus, uint64_t base);

/*
 * Performs one access. An unclaimed read returns all-ones and a write is
 * dropped; both are counted and the first few are logged. Returns true when
 * a device claimed the address. Accesses of 0 or more than 8 bytes, or
 * running past the end of the claiming region, count as unclaimed.
 */
bool io_bus_access(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
