/* Pure builders for the Linux zero page and the PVH start info. */
#include "boot/bootinfo.h"

#include <errno.h>
#include <string.h>

#define LOADER_TYPE_UNDEFINED 0xff
#define HDRS_MAGIC 0x53726448u /* "HdrS" */

int zeropage_build(struct boot_params *bp, const struct kernel_image *img,
                   const struct boot_facts *f)
{
        struct setup_header *h = &bp->hdr;

        if (f->e820_nr > E820_MAX_ENTRIES_ZEROPAGE)
                return -E2BIG;
        memset(bp, 0, sizeof(*bp));
        if (img->format == KERNEL_BZIMAGE) {
                memcpy(h, &img->hdr, img->hdr_len);
        } else {
                /* Just enough of a header for the kernel's sanity checks. */
                h->boot_flag = 0xaa55;
                h->header = HDRS_MAGIC;
                h->version = 0x020f;
                h->kernel_alignment = 0x1000000;
        }
        h->type_of_loader = LOADER_TYPE_UNDEFINED;
        h->cmd_line_ptr = (uint32_t)f->cmdline_gpa;
        bp->ext_cmd_line_ptr = (uint32_t)(f->cmdline_gpa >> 32);
        h->cmdline_size = f->cmdline_len;
        if (f->initrd_len) {
                h->ramdisk_image = (uint32_t)f->initrd_gpa;
                bp->ext_ramdisk_image = (uint32_t)(f->initrd_gpa >> 32);
                h->ramdisk_size = (uint32_t)f->initrd_len;
                bp->ext_ramdisk_size = (uint32_t)(f->initrd_len >> 32);
        }
        memcpy(bp->e820_table, f->e820, f->e820_nr * sizeof(f->e820[0]));
        bp->e820_entries = (uint8_t)f->e820_nr;
        return 0;
}

int pvh_build(struct hvm_start_info *si, struct hvm_memmap_table_entry *map, unsigned int max,
              struct hvm_modlist_entry *mod, uint64_t memmap_gpa, uint64_t modlist_gpa,
              const struct boot_facts *f)
{
        if (f->e820_nr > max)
                return -E2BIG;
        memset(si, 0, sizeof(*si));
        si->magic = HVM_START_MAGIC;
        si->version = 1;
        si->cmdline_paddr = f->cmdline_gpa;
        si->memmap_paddr = memmap_gpa;
        si->memmap_entries = f->e820_nr;
        for (unsigned int i = 0; i < f->e820_nr; i++)
                map[i] = (struct hvm_memmap_table_entry){
                    .addr = f->e820[i].addr, .size = f->e820[i].size, .type = f->e820[i].type};
        memset(mod, 0, sizeof(*mod));
        if (f->initrd_len) {
                si->nr_modules = 1;
                si->modlist_paddr = modlist_gpa;
                mod->paddr = f->initrd_gpa;
                mod->size = f->initrd_len;
        }
        return 0;
}
