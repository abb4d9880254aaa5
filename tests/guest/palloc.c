/* Physical memory for rings and buffers: a bump allocator over RAM after the image. */
#include "virtio.h"

extern const u8 _end[];

static u64 cur, limit, first;
bool palloc_user; /* ring3.c: new memory gets the U bit */

/* The RAM region holding the image, from the first 2 MiB boundary after it, below 3 GiB. */
static void palloc_init(void)
{
        const struct boot_info *bi = &boot_info;
        u64 start = ((u64)_end + (1UL << 21) - 1) & ~((1UL << 21) - 1);

        for (u32 i = 0; i < bi->nr_mem; i++) {
                const struct mem_region *r = &bi->mem[i];
                u64 end = r->addr + r->size;

                if (r->type != E820_RAM || r->addr > start || end <= start)
                        continue;
                cur = first = start;
                limit = end < WISP_PCI_HOLE_START ? end : WISP_PCI_HOLE_START;
                return;
        }
        guest_fail(ST_USAGE, "palloc: no RAM after the image at 0x%lx", start);
}

void *palloc(u64 size, u64 align)
{
        u64 a;

        if (!cur)
                palloc_init();
        a = (cur + align - 1) & ~(align - 1);
        if (a + size > limit || a + size < a)
                guest_fail(ST_USAGE, "palloc: out of memory (0x%lx bytes wanted, 0x%lx left)", size,
                           limit - cur);
        cur = a + size;
        if (palloc_user)
                mmu_set_user(a, size);
        return (void *)a;
}

void *pzalloc(u64 size, u64 align)
{
        return memset(palloc(size, align), 0, size);
}

void palloc_range(u64 *start, u64 *end)
{
        if (!cur)
                palloc_init();
        *start = first;
        *end = cur;
}

u64 ram_top(void)
{
        u64 top = 0;

        for (u32 i = 0; i < boot_info.nr_mem; i++)
                if (boot_info.mem[i].type == E820_RAM &&
                    boot_info.mem[i].addr + boot_info.mem[i].size > top)
                        top = boot_info.mem[i].addr + boot_info.mem[i].size;
        return top;
}
