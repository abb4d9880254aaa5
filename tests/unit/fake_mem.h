/* Test helper: a guest_mem whose regions are calloc'd host buffers, no KVM needed. */
#ifndef WISP_TESTS_FAKE_MEM_H
#define WISP_TESTS_FAKE_MEM_H

#include <stdint.h>

#include "kvm/guest_mem.h"

/* Empties mem, then adds one region [0, size) filled with fill. 0 or -ENOMEM. */
int fake_mem_init(struct guest_mem *mem, uint64_t size, uint8_t fill);

/* Appends a region [gpa, gpa + size) filled with fill. 0, -ENOSPC or -ENOMEM. */
int fake_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint8_t fill);

/* Frees every region's buffer and empties mem. */
void fake_mem_free(struct guest_mem *mem);

#endif
