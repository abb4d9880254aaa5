/* Loading the kernel, initrd and boot structures into guest RAM through guest_ptr. */
#include "boot/loader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/bootinfo.h"
#include "boot/e820.h"
#include "boot/layout.h"
#include "boot/mptable.h"

#define E820_MAX 16

static int choose_entry(const struct kernel_image *img, enum boot_entry_pref pref,
                        struct boot_plan *plan, char *err, size_t errlen)
{
        int pvh_ok = img->entry_pvh != 0;

        if (pref == ENTRY_PVH && !pvh_ok) {
                snprintf(err, errlen, "no PVH entry note in the kernel (try --entry=64)");
                return -ENOEXEC;
        }
        /* PVH is preferred when offered, as QEMU and Firecracker do: it is
         * the one entry that every Linux with CONFIG_PVH keeps stable. */
        if (pref == ENTRY_PVH || (pref == ENTRY_AUTO && pvh_ok)) {
                plan->mode = BOOT_PVH32;
                plan->entry = img->entry_pvh;
                plan->info_gpa = WISP_PVH_INFO_ADDR;
        } else {
                plan->mode = BOOT_LONG64;
                plan->entry = img->entry64;
                plan->info_gpa = WISP_ZERO_PAGE_ADDR;
        }
        return 0;
}

/* Copies len bytes at file offset off into dst, from the fd if given, else from buf. */
static int copy_in(int fd, const uint8_t *buf, uint64_t off, uint8_t *dst, uint64_t len)
{
        if (fd < 0) {
                memcpy(dst, buf + off, len);
                return 0;
        }
        while (len) {
                ssize_t n = pread(fd, dst, len, (off_t)off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                dst += n;
                off += (uint64_t)n;
                len -= (uint64_t)n;
        }
        return 0;
}

static int load_segments(const struct guest_mem *mem, const struct kernel_image *img,
                         const struct boot_input *in, char *err, size_t errlen)
{
        /* Everything the kernel claims (a bzImage's decompression area too)
         * must be RAM below the hole. */
        if (img->end > guest_mem_low_end(mem)) {
                snprintf(err, errlen,
                         "kernel needs guest RAM up to 0x%" PRIx64
                         ": give the guest more memory (-m)",
                         img->end);
                return -ENOMEM;
        }
        for (unsigned int i = 0; i < img->nseg; i++) {
                const struct kernel_segment *s = &img->seg[i];
                uint8_t *p = guest_ptr(mem, s->gpa, s->memsz);

                if (!p || s->gpa + s->memsz > WISP_PCI_HOLE_START) {
                        snprintf(err, errlen,
                                 "kernel needs guest RAM at 0x%" PRIx64 "..0x%" PRIx64
                                 ": give the guest more memory (-m)",
                                 s->gpa, s->gpa + s->memsz);
                        return -ENOMEM;
                }
                if (copy_in(in->fds ? in->fds->kernel_fd : -1, in->kernel, s->off, p, s->filesz) <
                    0) {
                        snprintf(err, errlen, "read error while loading");
                        return -EIO;
                }
                memset(p + s->filesz, 0, s->memsz - s->filesz);
        }
        return 0;
}

static bool has_initrd(const struct boot_input *in)
{
        return in->initrd || (in->fds && in->fds->initrd_fd >= 0);
}

static int place_initrd(const struct guest_mem *mem, const struct kernel_image *img,
                        const struct boot_input *in, uint64_t *gpa, char *err, size_t errlen)
{
        uint64_t top = guest_mem_low_end(mem);
        uint64_t addr;
        void *p;

        *gpa = 0;
        if (!has_initrd(in))
                return 0;
        if (img->initrd_addr_max + 1 < top)
                top = img->initrd_addr_max + 1;
        if (in->initrd_len == 0 || in->initrd_len > top) {
                snprintf(err, errlen, "%s",
                         in->initrd_len ? "larger than guest RAM allows (raise -m)" : "empty");
                return in->initrd_len ? -E2BIG : -EINVAL;
        }
        addr = (top - in->initrd_len) & ~0xfffull;
        if (addr < img->end) {
                snprintf(err, errlen,
                         "%zu bytes do not fit between the kernel's end at 0x%" PRIx64
                         " and 0x%" PRIx64 ": give the guest more memory (-m)",
                         in->initrd_len, img->end, top);
                return -E2BIG;
        }
        p = guest_ptr(mem, addr, in->initrd_len);
        if (!p) {
                snprintf(err, errlen, "does not fit in guest RAM");
                return -E2BIG;
        }
        if (copy_in(in->fds ? in->fds->initrd_fd : -1, in->initrd, 0, p, in->initrd_len) < 0) {
                snprintf(err, errlen, "read error while loading");
                return -EIO;
        }
        *gpa = addr;
        return 0;
}

/* GDT, page tables and MP table: the same for every entry mode. */
static int write_machine_tables(const struct guest_mem *mem, unsigned int ncpus, char *err,
                                size_t errlen)
{
        uint64_t gdt[GDT_ENTRIES];
        void *pt = guest_ptr(mem, WISP_PML4_ADDR, PAGE_TABLES_SIZE);
        void *mp = guest_ptr(mem, WISP_MPTABLE_ADDR, WISP_MPTABLE_MAX);
        int r;

        gdt_build(gdt);
        if (guest_write(mem, WISP_GDT_ADDR, gdt, sizeof(gdt)) || !pt || !mp) {
                snprintf(err, errlen, "guest RAM too small for the boot tables");
                return -ENOMEM;
        }
        page_tables_build(pt, WISP_PML4_ADDR);
        r = mptable_write(mp, WISP_MPTABLE_MAX, WISP_MPTABLE_ADDR, ncpus);
        if (r < 0)
                snprintf(err, errlen, "cannot describe %u CPUs in the MP table", ncpus);
        return r < 0 ? r : 0;
}

static int write_boot_info(const struct guest_mem *mem, const struct kernel_image *img,
                           const struct boot_plan *plan, const struct boot_facts *f, char *err,
                           size_t errlen)
{
        int r;

        if (plan->mode == BOOT_LONG64) {
                struct boot_params *bp = guest_ptr(mem, WISP_ZERO_PAGE_ADDR, sizeof(*bp));

                r = bp ? zeropage_build(bp, img, f) : -ENOMEM;
        } else {
                struct hvm_start_info *si = guest_ptr(mem, WISP_PVH_INFO_ADDR, sizeof(*si));
                struct hvm_memmap_table_entry *map =
                    guest_ptr(mem, WISP_PVH_MEMMAP_ADDR, WISP_PVH_MEMMAP_MAX * sizeof(*map));
                struct hvm_modlist_entry *mod = guest_ptr(mem, WISP_PVH_MODLIST_ADDR, sizeof(*mod));

                r = si && map && mod ? pvh_build(si, map, WISP_PVH_MEMMAP_MAX, mod,
                                                 WISP_PVH_MEMMAP_ADDR, WISP_PVH_MODLIST_ADDR, f)
                                     : -ENOMEM;
        }
        if (r < 0)
                snprintf(err, errlen, "cannot write the boot information");
        return r;
}

int boot_load(const struct guest_mem *mem, const struct kernel_image *img,
              const struct boot_input *in, struct boot_plan *plan, char *err, size_t errlen)
{
        struct boot_e820_entry e820[E820_MAX];
        size_t cmd_len = strlen(in->cmdline);
        size_t cmd_max =
            img->cmdline_max < WISP_CMDLINE_MAX - 1 ? img->cmdline_max : WISP_CMDLINE_MAX - 1;
        struct boot_facts f = {0};
        int r, n;

        memset(plan, 0, sizeof(*plan));
        plan->culprit = "kernel";
        if (guest_mem_low_end(mem) < 2 * WISP_HIGHMEM_START) {
                snprintf(err, errlen, "guest RAM below 2 MiB");
                return -EINVAL;
        }
        r = choose_entry(img, in->entry, plan, err, errlen);
        if (r < 0)
                return r;
        if (cmd_len > cmd_max) {
                snprintf(err, errlen, "command line is %zu bytes; this kernel takes at most %zu",
                         cmd_len, cmd_max);
                return -E2BIG;
        }
        r = load_segments(mem, img, in, err, errlen);
        if (r < 0)
                return r;
        r = place_initrd(mem, img, in, &plan->initrd_gpa, err, errlen);
        if (r < 0) {
                plan->culprit = "initrd";
                return r;
        }
        if (guest_write(mem, WISP_CMDLINE_ADDR, in->cmdline, cmd_len + 1)) {
                snprintf(err, errlen, "guest RAM too small for the command line");
                return -ENOMEM;
        }
        r = write_machine_tables(mem, in->ncpus, err, errlen);
        if (r < 0)
                return r;
        n = e820_build(mem, e820, E820_MAX);
        if (n < 0)
                return n;
        f = (struct boot_facts){.cmdline_gpa = WISP_CMDLINE_ADDR,
                                .cmdline_len = (uint32_t)cmd_len,
                                .initrd_gpa = plan->initrd_gpa,
                                .initrd_len = has_initrd(in) ? in->initrd_len : 0,
                                .e820 = e820,
                                .e820_nr = (unsigned int)n};
        return write_boot_info(mem, img, plan, &f, err, errlen);
}
