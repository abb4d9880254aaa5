/* Test helper: guest_mem regions backed by malloc'd buffers. */
#include "fake_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fake_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint8_t fill)
{
        struct guest_region *r;

        if (mem->nr >= GUEST_MEM_MAX_REGIONS)
                return -ENOSPC;
        r = &mem->region[mem->nr];
        r->host = malloc(size ? size : 1);
        if (!r->host)
                return -ENOMEM;
        memset(r->host, fill, size);
        r->gpa = gpa;
        r->size = size;
        mem->nr++;
        mem->ram_size += size;
        return 0;
}

int fake_mem_init(struct guest_mem *mem, uint64_t size, uint8_t fill)
{
        memset(mem, 0, sizeof(*mem));
        return fake_mem_add(mem, 0, size, fill);
}

void fake_mem_free(struct guest_mem *mem)
{
        for (unsigned int i = 0; i < mem->nr; i++)
                free(mem->region[i].host);
        memset(mem, 0, sizeof(*mem));
}
