/* bzImage setup-header and ELF64 program-header parsing, checked against the file size. */
#include "boot/kernel_image.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define SETUP_HDR_OFF 0x1f1
#define BZ_MIN_VERSION 0x020c /* 2.12: XLF_KERNEL_64, the 64-bit entry */
#define ELF_CMDLINE_MAX 2047  /* x86 COMMAND_LINE_SIZE - 1 */
#define DEFAULT_INITRD_MAX 0x37ffffffu

static int fail(const char **why, const char *msg)
{
        *why = msg;
        return -ENOEXEC;
}

/* True when [off, off + n) lies inside [0, len), without overflow. */
static int in_file(uint64_t off, uint64_t n, size_t len)
{
        return off <= len && n <= len - off;
}

static int parse_bzimage(const uint8_t *buf, size_t len, struct kernel_image *img, const char **why)
{
        struct setup_header h;
        size_t hdr_end;
        uint64_t pm_off, setup_sects;

        if (len < 0x202 + 1)
                return fail(why, "truncated bzImage setup header");
        /* The header runs to 0x202 + the byte at 0x201 (the jump's offset). */
        hdr_end = 0x202 + buf[0x201];
        if (hdr_end > len)
                return fail(why, "truncated bzImage setup header");
        if (hdr_end - SETUP_HDR_OFF > sizeof(h))
                hdr_end = SETUP_HDR_OFF + sizeof(h);
        memset(&h, 0, sizeof(h));
        memcpy(&h, buf + SETUP_HDR_OFF, hdr_end - SETUP_HDR_OFF);
        if (h.boot_flag != 0xaa55)
                return fail(why, "bzImage boot flag is not 0xAA55");
        if (h.version < BZ_MIN_VERSION || !(h.xloadflags & XLF_KERNEL_64))
                return fail(why, "bzImage has no 64-bit entry (boot protocol 2.12+ needed)");
        if (!(h.loadflags & LOADED_HIGH))
                return fail(why, "bzImage is a zImage (not loaded high)");

        setup_sects = h.setup_sects ? h.setup_sects : 4;
        pm_off = (setup_sects + 1) * 512;
        if (pm_off >= len)
                return fail(why, "truncated bzImage: no protected-mode kernel after the setup");
        /* syssize counts the protected-mode part in 16-byte paragraphs. */
        if (h.syssize && (uint64_t)h.syssize * 16 > len - pm_off)
                return fail(why, "truncated bzImage: shorter than its header says (syssize)");

        img->format = KERNEL_BZIMAGE;
        img->hdr = h;
        img->hdr_len = hdr_end - SETUP_HDR_OFF;
        img->nseg = 1;
        img->seg[0] = (struct kernel_segment){
            .off = pm_off, .filesz = len - pm_off, .gpa = WISP_KERNEL_ADDR, .memsz = len - pm_off};
        img->entry64 = WISP_KERNEL_ADDR + 0x200;
        /* The decompressor writes init_size bytes at the address the kernel
         * runs from: LOAD_PHYSICAL_ADDR (pref_address) for a non-relocatable
         * kernel, and the same for a relocatable one loaded below it
         * (head_64.S: max(aligned load address, LOAD_PHYSICAL_ADDR)).
         * Nothing, the initrd included, may be placed there. */
        uint64_t run_at = h.pref_address > WISP_KERNEL_ADDR ? h.pref_address : WISP_KERNEL_ADDR;
        uint64_t run_end;

        /* pref_address comes from the file: a sum that wraps would put end
         * below the area the decompressor claims (found by fuzz_loader). */
        if (__builtin_add_overflow(run_at, (uint64_t)h.init_size, &run_end))
                return fail(why, "corrupt bzImage: pref_address + init_size wraps");
        img->end = WISP_KERNEL_ADDR + img->seg[0].filesz;
        if (h.init_size && run_end > img->end)
                img->end = run_end;
        img->initrd_addr_max = h.initrd_addr_max ? h.initrd_addr_max : DEFAULT_INITRD_MAX;
        img->cmdline_max = h.cmdline_size ? h.cmdline_size : 255;
        return 0;
}

/* Looks for the PVH entry note in one PT_NOTE segment. */
static void find_pvh_note(const uint8_t *p, uint64_t n, struct kernel_image *img)
{
        while (n >= sizeof(Elf64_Nhdr)) {
                Elf64_Nhdr nh;
                uint64_t name_sz, desc_sz, step;

                memcpy(&nh, p, sizeof(nh));
                name_sz = ((uint64_t)nh.n_namesz + 3) & ~3ull;
                desc_sz = ((uint64_t)nh.n_descsz + 3) & ~3ull;
                step = sizeof(nh) + name_sz + desc_sz;
                if (step > n)
                        return;
                if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
                    !memcmp(p + sizeof(nh), "Xen", 4) && (nh.n_descsz == 4 || nh.n_descsz == 8)) {
                        uint64_t e = 0;

                        memcpy(&e, p + sizeof(nh) + name_sz, nh.n_descsz);
                        img->entry_pvh = e;
                }
                p += step;
                n -= step;
        }
}

static int parse_elf(const uint8_t *buf, size_t len, struct kernel_image *img, const char **why)
{
        Elf64_Ehdr eh;

        if (len < sizeof(eh))
                return fail(why, "truncated ELF header");
        memcpy(&eh, buf, sizeof(eh));
        if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
                return fail(why, "not a 64-bit little-endian ELF");
        if (eh.e_machine != EM_X86_64)
                return fail(why, "ELF is not for x86-64");
        if (eh.e_type != ET_EXEC)
                return fail(why, "ELF is not an executable");
        if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
                return fail(why, "ELF has no usable program headers");
        if (!in_file(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len))
                return fail(why, "truncated ELF program headers");

        img->format = KERNEL_ELF;
        for (unsigned int i = 0; i < eh.e_phnum; i++) {
                Elf64_Phdr ph;

                memcpy(&ph, buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
                if (ph.p_type == PT_NOTE && in_file(ph.p_offset, ph.p_filesz, len)) {
                        find_pvh_note(buf + ph.p_offset, ph.p_filesz, img);
                        continue;
                }
                if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
                        continue;
                if (!in_file(ph.p_offset, ph.p_filesz, len))
                        return fail(why, "truncated ELF: a segment runs past the end of the file");
                if (ph.p_filesz > ph.p_memsz)
                        return fail(why, "corrupt ELF: segment file size above its memory size");
                if (ph.p_paddr + ph.p_memsz < ph.p_paddr)
                        return fail(why, "corrupt ELF: segment address wraps");
                if (ph.p_paddr < WISP_HIGHMEM_START)
                        return fail(why, "ELF segment below 1 MiB (would overwrite boot data)");
                if (img->nseg == KERNEL_MAX_SEGMENTS)
                        return fail(why, "ELF has too many loadable segments");
                img->seg[img->nseg++] = (struct kernel_segment){.off = ph.p_offset,
                                                                .filesz = ph.p_filesz,
                                                                .gpa = ph.p_paddr,
                                                                .memsz = ph.p_memsz};
                if (ph.p_paddr + ph.p_memsz > img->end)
                        img->end = ph.p_paddr + ph.p_memsz;
        }
        if (img->nseg == 0)
                return fail(why, "ELF has no loadable segment");
        img->entry64 = eh.e_entry;
        img->initrd_addr_max = WISP_PCI_HOLE_START - 1;
        img->cmdline_max = ELF_CMDLINE_MAX;
        return 0;
}

int kernel_image_parse(const uint8_t *buf, size_t len, struct kernel_image *img, const char **why)
{
        memset(img, 0, sizeof(*img));
        *why = NULL;
        if (len == 0)
                return fail(why, "file is empty");
        if (len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG))
                return parse_elf(buf, len, img, why);
        if (len >= 0x206 && !memcmp(buf + 0x202, "HdrS", 4))
                return parse_bzimage(buf, len, img, why);
        return fail(why, "not a bzImage or an ELF kernel");
}
