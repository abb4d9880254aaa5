/* Puts a parsed kernel, its initrd and every boot structure into guest RAM. */
#ifndef WISP_BOOT_LOADER_H
#define WISP_BOOT_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "boot/cpu_tables.h"
#include "boot/kernel_image.h"
#include "kvm/guest_mem.h"

enum boot_entry_pref { ENTRY_AUTO, ENTRY_PVH, ENTRY_64 };

/*
 * Where segment and initrd bytes come from when not from the buffers: the
 * files themselves, read straight into guest RAM so that wisp never holds a
 * second copy of a large kernel or initrd.
 */
struct boot_files_fds {
        int kernel_fd;
        int initrd_fd; /* -1: none */
};

struct boot_input {
        const uint8_t *kernel; /* the whole file (may be a mapping, touched only for headers) */
        size_t kernel_len;
        const uint8_t *initrd; /* NULL: none, or read through fds */
        size_t initrd_len;
        const struct boot_files_fds *fds; /* NULL: copy from the buffers above */
        const char *cmdline;
        unsigned int ncpus;
        enum boot_entry_pref entry;
};

/* Where the boot vCPU starts. */
struct boot_plan {
        enum boot_mode mode;
        uint64_t entry;
        uint64_t info_gpa; /* zero page or PVH start info */
        uint64_t initrd_gpa;
        const char *culprit; /* on failure: "kernel" or "initrd" */
};

/*
 * Loads everything into mem: kernel segments, initrd (as high as the kernel
 * allows, below the PCI hole), command line, GDT, page tables, MP table and
 * the zero page or PVH start info. Works on any guest_mem, so unit tests
 * use plain buffers. Returns 0 or -errno with a message in err naming
 * what does not fit or is missing.
 */
int boot_load(const struct guest_mem *mem, const struct kernel_image *img,
              const struct boot_input *in, struct boot_plan *plan, char *err, size_t errlen);

#endif
