/* Guest RAM: the regions wisp maps, and the one checked way to reach them. */
#ifndef WISP_KVM_GUEST_MEM_H
#define WISP_KVM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
        uint64_t gpa;  /* guest physical start */
        uint64_t size; /* bytes */
        uint8_t *host; /* host virtual address of gpa */
};

struct guest_mem {
        struct guest_region region[GUEST_MEM_MAX_REGIONS];
        unsigned int nr;
        uint64_t ram_size; /* total bytes of RAM over all regions */
};

/*
 * Splits ram_size bytes of RAM around the PCI hole: [0, min(size, hole))
 * and, for what is left, [4 GiB, ...). Pure: fills gpa and size, not host.
 * Returns 0, or -EINVAL for a size of zero or not a multiple of 4 KiB.
 */
int guest_mem_layout(struct guest_mem *mem, uint64_t ram_size);

/*
 * The one place a guest physical range becomes a host pointer: returns
 * NULL unless all of [gpa, gpa + len) lies inside one RAM region (no
 * overflow, no straddling a hole or two regions). len 0 is refused.
 */
void *guest_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copies in or out of guest RAM through guest_ptr; 0 or -EFAULT. */
int guest_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
int guest_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);

/* True when [gpa, gpa + len) is entirely RAM (same rule as guest_ptr). */
bool guest_range_is_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Highest RAM address + 1 below the PCI hole. */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

#endif
