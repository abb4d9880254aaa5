/* The guest's physical memory map, as e820 entries. */
#ifndef WISP_BOOT_E820_H
#define WISP_BOOT_E820_H

#include <stddef.h>
#include <asm/bootparam.h>

#include "kvm/guest_mem.h"

/*
 * Fills out[] with the map Linux and the test guest see: low RAM up to the
 * EBDA, the EBDA..1 MiB reserved (MP table, legacy holes), RAM from 1 MiB to
 * the PCI hole and RAM above 4 GiB. Pure. Returns the number of entries,
 * or -ENOSPC when max is too small.
 */
int e820_build(const struct guest_mem *mem, struct boot_e820_entry *out, size_t max);

#endif
