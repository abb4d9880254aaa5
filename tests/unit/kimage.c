/* Test helper: builders for synthetic ELF64 and bzImage kernel files. */
#include "kimage.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <asm/bootparam.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_spec kimg_elf_default(void)
{
        return (struct elf_spec){.nload = 2,
                                 .filesz = 0x800,
                                 .memsz = 0x1000,
                                 .entry = KIMG_ENTRY64,
                                 .pvh_descsz = 4,
                                 .pvh_entry = KIMG_PVH_ENTRY};
}

static size_t put_note(uint8_t *p, const char *name, uint32_t type, const void *desc,
                       uint32_t descsz)
{
        Elf64_Nhdr nh = {
            .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz, .n_type = type};
        size_t off = sizeof(nh);

        memcpy(p, &nh, sizeof(nh));
        memcpy(p + off, name, nh.n_namesz);
        off += (nh.n_namesz + 3u) & ~3u;
        memcpy(p + off, desc, descsz);
        off += (descsz + 3u) & ~3u;
        return off;
}

uint8_t *kimg_elf(const struct elf_spec *s, size_t *len)
{
        unsigned int nnote = s->pvh_descsz || s->other_notes ? 1 : 0;
        size_t size = s->nload ? KIMG_SEG_OFF(s->nload - 1) + s->filesz : KIMG_SEG_OFF(0);
        uint8_t *buf = calloc(1, size);
        Elf64_Ehdr eh = {0};
        size_t notes = 0;

        if (!buf)
                return NULL;
        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_type = ET_EXEC;
        eh.e_machine = EM_X86_64;
        eh.e_version = EV_CURRENT;
        eh.e_entry = s->entry;
        eh.e_phoff = KIMG_PHOFF;
        eh.e_ehsize = sizeof(eh);
        eh.e_phentsize = sizeof(Elf64_Phdr);
        eh.e_phnum = (uint16_t)(s->nload + nnote);
        memcpy(buf, &eh, sizeof(eh));

        if (s->other_notes) {
                uint8_t id[20];
                uint64_t v = 0x1234;

                memset(id, 0xab, sizeof(id));
                notes += put_note(buf + KIMG_NOTE_OFF + notes, "GNU", 3, id, sizeof(id));
                /* XEN_ELFNOTE_ENTRY (1): a Xen note that is not the PVH entry. */
                notes += put_note(buf + KIMG_NOTE_OFF + notes, "Xen", 1, &v, sizeof(v));
        }
        if (s->pvh_descsz) {
                uint64_t e = s->pvh_entry;

                notes += put_note(buf + KIMG_NOTE_OFF + notes, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &e,
                                  s->pvh_descsz);
        }
        if (nnote) {
                Elf64_Phdr ph = {.p_type = PT_NOTE,
                                 .p_offset = KIMG_NOTE_OFF,
                                 .p_vaddr = 0xffffffff81000000ull,
                                 .p_paddr = 0x1000000,
                                 .p_filesz = notes,
                                 .p_memsz = notes,
                                 .p_align = 4};
                memcpy(buf + KIMG_PHOFF, &ph, sizeof(ph));
        }
        for (unsigned int i = 0; i < s->nload; i++) {
                uint64_t paddr = s->paddr[i] ? s->paddr[i] : 0x1000000 + (uint64_t)i * 0x200000;
                Elf64_Phdr ph = {.p_type = PT_LOAD,
                                 .p_flags = PF_R | PF_X,
                                 .p_offset = KIMG_SEG_OFF(i),
                                 .p_vaddr = 0xffffffff80000000ull + paddr,
                                 .p_paddr = paddr,
                                 .p_filesz = s->filesz,
                                 .p_memsz = s->memsz,
                                 .p_align = 0x200000};

                memcpy(buf + KIMG_PHOFF + (nnote + i) * sizeof(ph), &ph, sizeof(ph));
                for (uint64_t j = 0; j < s->filesz; j++)
                        buf[KIMG_SEG_OFF(i) + j] = kimg_pattern(i, j);
        }
        *len = size;
        return buf;
}

struct bz_spec kimg_bz_default(void)
{
        return (struct bz_spec){.setup_sects = 15,
                                .version = 0x020f,
                                .loadflags = LOADED_HIGH,
                                .xloadflags = XLF_KERNEL_64,
                                .init_size = 0x200000,
                                .cmdline_size = 2047,
                                .initrd_addr_max = 0x7fffffff,
                                .relocatable = 1,
                                .pref_address = 0x1000000,
                                .payload = 0x10000,
                                .jump = -1};
}

uint8_t *kimg_bzimage(const struct bz_spec *s, size_t *len)
{
        size_t pm = kimg_bz_pm_off(s->setup_sects);
        size_t size = pm + s->payload;
        uint8_t *buf = calloc(1, size < 0x400 ? 0x400 : size);
        struct setup_header h = {0};
        int jump = s->jump >= 0 ? s->jump : (int)(0x1f1 + sizeof(h) - 0x202);

        if (!buf)
                return NULL;
        h.setup_sects = s->setup_sects;
        h.syssize = (uint32_t)((s->payload + 15) / 16);
        h.boot_flag = 0xaa55;
        h.jump = (uint16_t)(0xeb | (jump << 8));
        h.header = 0x53726448; /* "HdrS" */
        h.version = s->version;
        h.loadflags = s->loadflags;
        h.kernel_alignment = 0x200000;
        h.relocatable_kernel = s->relocatable;
        h.min_alignment = 21;
        h.xloadflags = s->xloadflags;
        h.cmdline_size = s->cmdline_size;
        h.initrd_addr_max = s->initrd_addr_max;
        h.init_size = s->init_size;
        h.pref_address = s->pref_address;
        memcpy(buf + 0x1f1, &h, sizeof(h));
        for (size_t j = 0; j < s->payload; j++)
                buf[pm + j] = kimg_pattern(0, j);
        *len = size;
        return buf;
}
