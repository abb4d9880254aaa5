/* Parsing a kernel file (bzImage or ELF vmlinux) into what must be loaded where. */
#ifndef WISP_BOOT_KERNEL_IMAGE_H
#define WISP_BOOT_KERNEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <asm/bootparam.h>

#define KERNEL_MAX_SEGMENTS 16

enum kernel_format { KERNEL_BZIMAGE, KERNEL_ELF };

/* Copy file[off, off + filesz) to gpa, then zero up to memsz. */
struct kernel_segment {
        uint64_t off, filesz, gpa, memsz;
};

struct kernel_image {
        enum kernel_format format;
        struct kernel_segment seg[KERNEL_MAX_SEGMENTS];
        unsigned int nseg;
        uint64_t entry64;         /* 64-bit boot protocol entry; 0 if none */
        uint64_t entry_pvh;       /* PVH 32-bit entry from the Xen ELF note; 0 if none */
        uint64_t end;             /* first byte above everything the kernel claims */
        uint64_t initrd_addr_max; /* highest byte an initrd may occupy */
        uint32_t cmdline_max;     /* longest command line, without the NUL */
        struct setup_header hdr;  /* bzImage: its setup header; ELF: zero */
        size_t hdr_len;           /* bytes of hdr taken from the file */
};

/*
 * Parses buf[0, len). Pure and defensive: every offset and size is checked
 * against len with overflow in mind. Returns 0, or -ENOEXEC with *why set
 * to a static string saying what is wrong.
 */
int kernel_image_parse(const uint8_t *buf, size_t len, struct kernel_image *img, const char **why);

#endif
