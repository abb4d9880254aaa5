/* Sorted region table with binary search; unclaimed accesses read all-ones. */
#include "devices/bus.h"

#include <errno.h>
#include <string.h>

#include "vmm/log.h"

void io_bus_init(struct io_bus *bus, const char *name)
{
        memset(bus, 0, sizeof(*bus));
        bus->name = name;
        pthread_rwlock_init(&bus->lock, NULL);
}

void io_bus_destroy(struct io_bus *bus)
{
        pthread_rwlock_destroy(&bus->lock);
}

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler fn, void *opaque,
               const char *name)
{
        unsigned int i;
        int r = 0;

        if (len == 0 || base + len < base)
                return -EINVAL;
        pthread_rwlock_wrlock(&bus->lock);
        for (i = 0; i < bus->nr && bus->region[i].base < base; i++)
                ;
        if (bus->nr == IO_BUS_MAX_REGIONS)
                r = -ENOSPC;
        else if (i > 0 && bus->region[i - 1].base + bus->region[i - 1].len > base)
                r = -EEXIST;
        else if (i < bus->nr && base + len > bus->region[i].base)
                r = -EEXIST;
        if (r == 0) {
                memmove(&bus->region[i + 1], &bus->region[i],
                        (bus->nr - i) * sizeof(bus->region[0]));
                bus->region[i] = (struct io_region){base, len, fn, opaque, name};
                bus->nr++;
        }
        pthread_rwlock_unlock(&bus->lock);
        return r;
}

int io_bus_remove(struct io_bus *bus, uint64_t base)
{
        int r = -ENOENT;

        pthread_rwlock_wrlock(&bus->lock);
        for (unsigned int i = 0; i < bus->nr; i++) {
                if (bus->region[i].base != base)
                        continue;
                memmove(&bus->region[i], &bus->region[i + 1],
                        (bus->nr - i - 1) * sizeof(bus->region[0]));
                bus->nr--;
                r = 0;
                break;
        }
        pthread_rwlock_unlock(&bus->lock);
        return r;
}

/* The region containing addr, or NULL. Caller holds the lock. */
static const struct io_region *find(const struct io_bus *bus, uint64_t addr)
{
        unsigned int lo = 0, hi = bus->nr;

        while (lo < hi) {
                unsigned int mid = lo + (hi - lo) / 2;
                const struct io_region *r = &bus->region[mid];

                if (addr < r->base)
                        hi = mid;
                else if (addr - r->base >= r->len)
                        lo = mid + 1;
                else
                        return r;
        }
        return NULL;
}

bool io_bus_access(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
        struct io_region r = {0};
        bool claimed = false;

        if (len >= 1 && len <= 8) {
                const struct io_region *found;

                pthread_rwlock_rdlock(&bus->lock);
                found = find(bus, addr);
                if (found && len <= found->len - (addr - found->base)) {
                        r = *found;
                        claimed = true;
                }
                pthread_rwlock_unlock(&bus->lock);
        }
        /* The handler runs outside the lock: a config write that moves a
         * BAR remaps regions from inside a handler. Devices outlive every
         * vCPU, so a region removed meanwhile still has a live handler. */
        if (claimed) {
                r.fn(r.opaque, addr - r.base, data, len, is_write);
                return true;
        }
        unsigned long n = atomic_fetch_add(&bus->unclaimed, 1);

        if (!is_write)
                memset(data, 0xff, len > 8 ? 8 : len);
        if (n < IO_BUS_LOG_LIMIT)
                wisp_debug("unclaimed %s %s at 0x%llx (%u bytes)%s", bus->name,
                           is_write ? "write" : "read", (unsigned long long)addr, len,
                           n + 1 == IO_BUS_LOG_LIMIT ? "; not logging more" : "");
        return false;
}
