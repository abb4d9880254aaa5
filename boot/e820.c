/* The guest's physical memory map, derived from the RAM layout alone. */
#include "boot/e820.h"

#include <errno.h>
#include <asm/e820.h>

#include "boot/layout.h"

static int add(struct boot_e820_entry *out, size_t max, size_t *n, uint64_t addr, uint64_t end,
               uint32_t type)
{
        if (end <= addr)
                return 0;
        if (*n >= max)
                return -ENOSPC;
        out[*n] = (struct boot_e820_entry){.addr = addr, .size = end - addr, .type = type};
        (*n)++;
        return 0;
}

int e820_build(const struct guest_mem *mem, struct boot_e820_entry *out, size_t max)
{
        uint64_t low_end = guest_mem_low_end(mem);
        size_t n = 0;
        int r = 0;

        /* wisp refuses RAM sizes below 2 MiB, so low RAM always reaches 1 MiB. */
        r |= add(out, max, &n, 0, WISP_EBDA_ADDR, E820_RAM);
        r |= add(out, max, &n, WISP_EBDA_ADDR, WISP_HIGHMEM_START, E820_RESERVED);
        r |= add(out, max, &n, WISP_HIGHMEM_START, low_end, E820_RAM);
        for (unsigned int i = 1; i < mem->nr; i++)
                r |= add(out, max, &n, mem->region[i].gpa, mem->region[i].gpa + mem->region[i].size,
                         E820_RAM);
        return r ? -ENOSPC : (int)n;
}
