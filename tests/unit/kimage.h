/* Test helper: synthetic ELF64 vmlinux and bzImage files, built in memory. */
#ifndef WISP_TESTS_KIMAGE_H
#define WISP_TESTS_KIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ELF layout: header, program headers at 64, notes at KIMG_NOTE_OFF, segment i at
 * KIMG_SEG_OFF(i). The file ends exactly where the last PT_LOAD's bytes end. */
#define KIMG_PHOFF 64
#define KIMG_NOTE_OFF 0x600
#define KIMG_SEG_OFF(i) (0x1000 + (size_t)(i)*0x1000)
#define KIMG_MAX_LOAD 20
#define KIMG_ENTRY64 0x1000200
#define KIMG_PVH_ENTRY 0x1000100

struct elf_spec {
        unsigned int nload;            /* PT_LOAD headers */
        uint64_t paddr[KIMG_MAX_LOAD]; /* 0: 16 MiB + i * 2 MiB */
        uint64_t filesz;               /* each segment; at most 0x1000 */
        uint64_t memsz;                /* each segment */
        uint64_t entry;                /* e_entry */
        unsigned int pvh_descsz;       /* 0: no Xen PVH note; else 4 or 8 */
        uint64_t pvh_entry;
        bool other_notes; /* a GNU and a Xen note of other types first */
};

/* Two segments at 16 and 18 MiB (0x800 bytes in the file, 0x1000 in memory), a PVH note
 * with a 4-byte descriptor. */
struct elf_spec kimg_elf_default(void);

/* The byte a builder puts at offset j of segment i's file data. */
static inline uint8_t kimg_pattern(unsigned int i, uint64_t j)
{
        return (uint8_t)(0x11 + i * 0x35 + j * 7 + (j >> 8));
}

/* A malloc'd ELF file for s; *len is its size. */
uint8_t *kimg_elf(const struct elf_spec *s, size_t *len);

struct bz_spec {
        uint8_t setup_sects; /* 0 means 4, as the boot protocol says */
        uint16_t version;
        uint8_t loadflags;
        uint16_t xloadflags;
        uint32_t init_size;
        uint32_t cmdline_size;
        uint32_t initrd_addr_max;
        uint8_t relocatable;   /* relocatable_kernel */
        uint64_t pref_address; /* LOAD_PHYSICAL_ADDR */
        size_t payload;        /* bytes of protected-mode code after the setup */
        int jump;              /* byte at 0x201; -1: the full struct setup_header */
};

/* Protocol 2.15, LOADED_HIGH, XLF_KERNEL_64, relocatable, preferred at 16 MiB, 15 setup
 * sectors, 64 KiB payload. */
struct bz_spec kimg_bz_default(void);

/* A malloc'd bzImage for s (syssize set as Linux's tools/build.c does). */
uint8_t *kimg_bzimage(const struct bz_spec *s, size_t *len);

/* Offset of the protected-mode code in a bzImage with this setup_sects. */
static inline size_t kimg_bz_pm_off(uint8_t setup_sects)
{
        return ((size_t)(setup_sects ? setup_sects : 4) + 1) * 512;
}

#endif
