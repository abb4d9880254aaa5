/* Host tool: wraps the test guest's flat image into a bzImage (setup stub + protected-mode part).
 */
#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../boot/layout.h"

#define SECTOR 512
#define HDR_OFFSET 0x1f1
#define SETUP_MAX (64 * SECTOR) /* the real-mode part may not exceed 32 KiB */
#define SETUP_SECTS_MIN 4       /* old loaders treat 0 as 4; never go below */
#define PAYLOAD_MAX (64UL << 20)
#define BOOT_PROTOCOL 0x020f

static int read_file(const char *path, unsigned char **buf, size_t *len, size_t max)
{
        FILE *f = fopen(path, "rb");
        long n;

        if (!f)
                return -errno;
        if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
                fclose(f);
                return -EIO;
        }
        if ((size_t)n > max || n == 0) {
                fclose(f);
                return -EFBIG;
        }
        *buf = malloc(n);
        if (!*buf || fread(*buf, 1, n, f) != (size_t)n) {
                free(*buf);
                fclose(f);
                return -EIO;
        }
        fclose(f);
        *len = n;
        return 0;
}

static int write_file(const char *path, const unsigned char *a, size_t alen, const unsigned char *b,
                      size_t blen)
{
        FILE *f = fopen(path, "wb");
        int err = 0;

        if (!f)
                return -errno;
        if (fwrite(a, 1, alen, f) != alen || fwrite(b, 1, blen, f) != blen)
                err = -EIO;
        if (fclose(f) && !err)
                err = -EIO;
        return err;
}

/* Fills the header; the stub supplies the jump (and so the header's end) at 0x200. */
static int fill_header(unsigned char *setup, size_t setup_size, size_t payload_len,
                       unsigned long init_size)
{
        struct setup_header h;
        size_t hdr_end = 0x202 + setup[0x201];

        if (setup[0x200] != 0xeb || hdr_end < HDR_OFFSET + sizeof(h)) {
                fprintf(stderr,
                        "mkbzimage: setup stub has no short jump past the header at 0x200\n");
                return -EINVAL;
        }
        memcpy(&h, setup + HDR_OFFSET, sizeof(h));
        h.setup_sects = setup_size / SECTOR - 1;
        h.root_flags = 0;
        h.syssize = (payload_len + 15) / 16;
        h.vid_mode = 0xffff; /* "normal" */
        h.root_dev = 0;
        h.boot_flag = 0xaa55;
        h.header = 0x53726448; /* "HdrS" */
        h.version = BOOT_PROTOCOL;
        h.realmode_swtch = 0;
        h.start_sys_seg = 0x1000;
        h.kernel_version = 0;
        h.type_of_loader = 0;
        h.loadflags = LOADED_HIGH;
        h.setup_move_size = 0;
        h.code32_start = WISP_KERNEL_ADDR;
        h.ramdisk_image = 0;
        h.ramdisk_size = 0;
        h.bootsect_kludge = 0;
        h.heap_end_ptr = 0;
        h.cmd_line_ptr = 0;
        h.initrd_addr_max = 0x7fffffff;
        h.kernel_alignment = WISP_KERNEL_ADDR; /* not relocatable: informational */
        h.relocatable_kernel = 0;
        h.min_alignment = 20;
        h.xloadflags = XLF_KERNEL_64;
        h.cmdline_size = WISP_CMDLINE_MAX - 1;
        h.hardware_subarch = 0;
        h.hardware_subarch_data = 0;
        h.payload_offset = 0;
        h.payload_length = 0;
        h.setup_data = 0;
        h.pref_address = WISP_KERNEL_ADDR;
        h.init_size = (init_size + 0xfff) & ~0xfffUL;
        h.handover_offset = 0;
        h.kernel_info_offset = 0;
        memcpy(setup + HDR_OFFSET, &h, sizeof(h));
        return 0;
}

int main(int argc, char **argv)
{
        unsigned char *stub = NULL, *payload = NULL, *setup = NULL;
        size_t stub_len, payload_len, setup_size;
        unsigned long init_size;
        char *end;
        int err;

        if (argc != 5) {
                fprintf(stderr,
                        "usage: mkbzimage SETUP.bin PAYLOAD.bin INIT_SIZE OUT.bzImage\n"
                        "  SETUP: real-mode stub, PAYLOAD: flat image loaded at 0x%lx,\n"
                        "  INIT_SIZE: memory the payload needs from its load address\n",
                        WISP_KERNEL_ADDR);
                return 2;
        }
        init_size = strtoul(argv[3], &end, 0);
        if (*end || !init_size || init_size > 0xffffffffUL) {
                fprintf(stderr, "mkbzimage: bad INIT_SIZE %s\n", argv[3]);
                return 2;
        }
        err = read_file(argv[1], &stub, &stub_len, SETUP_MAX - SECTOR);
        if (!err && stub_len < HDR_OFFSET + sizeof(struct setup_header))
                err = -EINVAL;
        if (err) {
                fprintf(stderr, "mkbzimage: %s: %s\n", argv[1], strerror(-err));
                goto out;
        }
        err = read_file(argv[2], &payload, &payload_len, PAYLOAD_MAX);
        if (err) {
                fprintf(stderr, "mkbzimage: %s: %s\n", argv[2], strerror(-err));
                goto out;
        }
        /* syssize counts 16-byte paragraphs: pad with zeros (where .bss starts), as Linux's
         * arch/x86/boot/tools/build.c does, so the header never claims more than the file has. */
        if (payload_len % 16) {
                size_t padded = (payload_len + 15) & ~(size_t)15;
                unsigned char *p = realloc(payload, padded);

                if (!p) {
                        err = -ENOMEM;
                        goto out;
                }
                memset(p + payload_len, 0, padded - payload_len);
                payload = p;
                payload_len = padded;
        }
        if (init_size < payload_len) {
                fprintf(stderr, "mkbzimage: INIT_SIZE 0x%lx below the payload size 0x%zx\n",
                        init_size, payload_len);
                err = -EINVAL;
                goto out;
        }
        setup_size = (stub_len + SECTOR - 1) / SECTOR * SECTOR;
        if (setup_size < (SETUP_SECTS_MIN + 1) * SECTOR)
                setup_size = (SETUP_SECTS_MIN + 1) * SECTOR;
        setup = calloc(1, setup_size);
        if (!setup) {
                err = -ENOMEM;
                goto out;
        }
        memcpy(setup, stub, stub_len);
        err = fill_header(setup, setup_size, payload_len, init_size);
        if (err)
                goto out;
        err = write_file(argv[4], setup, setup_size, payload, payload_len);
        if (err)
                fprintf(stderr, "mkbzimage: %s: %s\n", argv[4], strerror(-err));
out:
        free(stub);
        free(payload);
        free(setup);
        return err ? 1 : 0;
}
