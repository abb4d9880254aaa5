/* Fuzz target: the kernel image parser (bzImage, ELF, PVH note) and boot_load on a fake RAM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/kernel_image.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "fuzz_input.h"

/*
 * Input: a 6-byte header (entry preference, vCPUs, RAM size, whether to read through file
 * descriptors, initrd length in KiB, command-line length), the command line, then the kernel
 * file itself. A parsed image must describe only bytes of the file; a successful load must
 * leave the entry and boot information inside guest RAM.
 */
#define RAM_MAX (64ull << 20)
#define INITRD_MAX (4ull << 20)

static struct guest_mem mem;
static uint8_t *ram, *initrd;
static int kernel_fd = -1, initrd_fd = -1;

static void init_once(void)
{
        ram = mmap(NULL, RAM_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        initrd = malloc(INITRD_MAX);
        kernel_fd = memfd_create("fuzz-kernel", 0);
        initrd_fd = memfd_create("fuzz-initrd", 0);
        if (ram == MAP_FAILED || !initrd || kernel_fd < 0 || initrd_fd < 0)
                abort();
        for (size_t i = 0; i < INITRD_MAX; i++)
                initrd[i] = (uint8_t)(i * 13 + (i >> 12));
        if (write(initrd_fd, initrd, INITRD_MAX) != (ssize_t)INITRD_MAX)
                abort();
}

static void check_image(const struct kernel_image *img, size_t len)
{
        FUZZ_CHECK(img->nseg >= 1 && img->nseg <= KERNEL_MAX_SEGMENTS);
        for (unsigned int i = 0; i < img->nseg; i++) {
                const struct kernel_segment *s = &img->seg[i];

                FUZZ_CHECK(s->off <= len && s->filesz <= len - s->off);
                FUZZ_CHECK(s->filesz <= s->memsz);
                FUZZ_CHECK(s->gpa + s->memsz >= s->gpa);
                FUZZ_CHECK(s->gpa + s->memsz <= img->end);
        }
        if (img->format == KERNEL_BZIMAGE && img->hdr.init_size) {
                /* Nothing may go where the decompressor writes: the image's end covers it. */
                uint64_t run_at = img->hdr.pref_address > WISP_KERNEL_ADDR ? img->hdr.pref_address
                                                                           : WISP_KERNEL_ADDR;

                FUZZ_CHECK((unsigned __int128)run_at + img->hdr.init_size <= img->end);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint64_t ram_sizes[] = {1ull << 20, 4ull << 20, 16ull << 20, RAM_MAX};
        static char cmdline[WISP_CMDLINE_MAX + 64];
        struct fin in = fin_make(data, size);
        struct kernel_image img;
        struct boot_plan plan;
        struct boot_files_fds fds;
        struct boot_input bi;
        const char *why;
        char err[256];
        uint8_t entry, ncpus, flags;
        uint32_t initrd_len, cmd_len;
        uint8_t *kernel;
        size_t klen;
        int r;

        if (!ram)
                init_once();
        entry = fin_u8(&in);
        ncpus = fin_u8(&in);
        flags = fin_u8(&in);
        initrd_len = (uint32_t)(fin_u16(&in) % (INITRD_MAX / 1024 + 1)) * 1024;
        if (flags & 8)
                initrd_len += fin_u16(&in) % 1024; /* not a multiple of 1 KiB */
        if (initrd_len > INITRD_MAX)
                initrd_len = INITRD_MAX;
        cmd_len = fin_u16(&in) % (WISP_CMDLINE_MAX + 64);
        fin_bytes(&in, cmdline, cmd_len < in.n ? cmd_len : in.n);
        cmdline[cmd_len < in.n ? cmd_len : in.n] = 0;

        /* The file in its own allocation: a read past its end is caught. */
        klen = in.n;
        kernel = malloc(klen ? klen : 1);
        if (!kernel)
                abort();
        fin_bytes(&in, kernel, klen);
        r = kernel_image_parse(kernel, klen, &img, &why);
        if (r) {
                FUZZ_CHECK(r == -ENOEXEC && why && why[0]);
                goto out;
        }
        check_image(&img, klen);

        memset(&mem, 0, sizeof(mem));
        mem.nr = 1;
        mem.region[0] = (struct guest_region){.gpa = 0, .size = ram_sizes[flags & 3], .host = ram};
        mem.ram_size = mem.region[0].size;
        bi = (struct boot_input){.kernel = kernel,
                                 .kernel_len = klen,
                                 .initrd = initrd_len || (flags & 16) ? initrd : NULL,
                                 .initrd_len = initrd_len,
                                 .cmdline = cmdline,
                                 .ncpus = 1 + ncpus % 64,
                                 .entry = (enum boot_entry_pref)(entry % 3)};
        if (flags & 4) {
                /* Read through the files, as wisp does for large kernels and initrds. */
                if (ftruncate(kernel_fd, 0) || pwrite(kernel_fd, kernel, klen, 0) != (ssize_t)klen)
                        abort();
                fds = (struct boot_files_fds){.kernel_fd = kernel_fd,
                                              .initrd_fd = bi.initrd ? initrd_fd : -1};
                bi.fds = &fds;
                bi.initrd = NULL;
        }
        err[0] = 0;
        r = boot_load(&mem, &img, &bi, &plan, err, sizeof(err));
        if (getenv("FUZZ_VERBOSE")) /* for writing seeds: did it load? */
                fprintf(stderr, "fuzz_loader: boot_load %d %s\n", r, r ? err : "");
        if (r) {
                FUZZ_CHECK(r < 0 && err[0]);
                goto out;
        }
        FUZZ_CHECK(plan.info_gpa < mem.region[0].size);
        if (plan.initrd_gpa)
                FUZZ_CHECK(plan.initrd_gpa + initrd_len <= mem.region[0].size);
out:
        free(kernel);
        return 0;
}
