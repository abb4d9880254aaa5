/* The structures that tell a kernel about its machine: the zero page and PVH start info. */
#ifndef WISP_BOOT_BOOTINFO_H
#define WISP_BOOT_BOOTINFO_H

#include <stddef.h>
#include <stdint.h>
#include <asm/bootparam.h>

#include "boot/kernel_image.h"

/* What both boot-info structures describe. */
struct boot_facts {
        uint64_t cmdline_gpa;
        uint32_t cmdline_len; /* without the NUL */
        uint64_t initrd_gpa;
        uint64_t initrd_len; /* 0: no initrd */
        const struct boot_e820_entry *e820;
        unsigned int e820_nr;
};

/*
 * Fills the zero page for the 64-bit Linux boot protocol: the bzImage's own
 * setup header (or a minimal one for ELF), loader type, command line,
 * initrd and e820 map. Pure. -E2BIG when the map does not fit.
 */
int zeropage_build(struct boot_params *bp, const struct kernel_image *img,
                   const struct boot_facts *f);

/* Xen's PVH start-of-day structures (xen/include/public/arch-x86/hvm/start_info.h). */
#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
        uint32_t magic;
        uint32_t version; /* 1: memmap fields valid */
        uint32_t flags;
        uint32_t nr_modules;
        uint64_t modlist_paddr;
        uint64_t cmdline_paddr;
        uint64_t rsdp_paddr;
        uint64_t memmap_paddr;
        uint32_t memmap_entries;
        uint32_t reserved;
};

struct hvm_memmap_table_entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type;
        uint32_t reserved;
};

struct hvm_modlist_entry {
        uint64_t paddr;
        uint64_t size;
        uint64_t cmdline_paddr;
        uint64_t reserved;
};

/*
 * Fills the PVH start info, its memory map (max entries) and module list
 * (the initrd, if any). The caller places them at memmap_gpa and
 * modlist_gpa. Pure. -E2BIG when the map does not fit.
 */
int pvh_build(struct hvm_start_info *si, struct hvm_memmap_table_entry *map, unsigned int max,
              struct hvm_modlist_entry *mod, uint64_t memmap_gpa, uint64_t modlist_gpa,
              const struct boot_facts *f);

#endif
