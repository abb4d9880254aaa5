/* Fuzz target: the virtio-blk request path, blk_plan_request alone and the device end to end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "devices/blk_req.h"
#include "devices/virtio_blk.h"
#include "fuzz_driver.h"
#include "fuzz_input.h"
#include "vmm/log.h"

/*
 * The first byte picks the mode. Even: a chain built straight from the input (segment
 * counts, lengths, directions, the request bytes; limits from the input) goes to
 * blk_plan_request, and the plan is checked against the chain: I/O only inside the disk
 * and inside the chain's buffers, the status byte the chain's last writable byte, the
 * reported length within the writable total. Odd: a disk image (a small file) behind a
 * virtio-blk function on the vpci harness, driven by fuzz_driver.h's operations (descriptors,
 * heads, kicks, buffer writes, resets) plus well-formed request headers; closing completes
 * whatever is in flight, and the image never grows.
 */
#define DISK_SIZE (64u << 10)

/* --- blk_plan_request -------------------------------------------------------------------- */

static bool in_seg(const struct virtq_chain *c, unsigned int first, unsigned int n,
                   const uint8_t *p, uint64_t len)
{
        for (unsigned int i = first; i < first + n; i++)
                if (p >= c->seg[i].host && len <= c->seg[i].len &&
                    (uint64_t)(p - c->seg[i].host) <= c->seg[i].len - len)
                        return true;
        return false;
}

static void check_plan(const struct virtq_chain *c, const struct blk_limits *lim,
                       const struct blk_plan *p)
{
        uint64_t total = 0;
        bool data_in = p->op == BLK_OP_READ || p->op == BLK_OP_GET_ID;

        if (!p->status_byte) {
                FUZZ_CHECK(p->op == BLK_OP_NONE);
                return;
        }
        FUZZ_CHECK(c->nr_in > 0);
        FUZZ_CHECK(in_seg(c, c->nr_out, c->nr_in, p->status_byte, 1));
        FUZZ_CHECK(blk_plan_written(p) <= c->in_len);
        if (p->op == BLK_OP_NONE) {
                FUZZ_CHECK(p->niov == 0);
                FUZZ_CHECK(p->status == VIRTIO_BLK_S_IOERR || p->status == VIRTIO_BLK_S_UNSUPP);
                return;
        }
        if ((p->op == BLK_OP_WRITE || p->op == BLK_OP_DISCARD || p->op == BLK_OP_WRITE_ZEROES))
                FUZZ_CHECK(!lim->ro);
        if (p->op != BLK_OP_FLUSH && p->op != BLK_OP_GET_ID) {
                FUZZ_CHECK(p->offset % BLK_SECTOR == 0 && p->len % BLK_SECTOR == 0);
                FUZZ_CHECK(p->offset / BLK_SECTOR <= lim->capacity);
                FUZZ_CHECK(p->len / BLK_SECTOR <= lim->capacity - p->offset / BLK_SECTOR);
        }
        FUZZ_CHECK(p->niov <= BLK_MAX_SEGS);
        for (unsigned int i = 0; i < p->niov; i++) {
                const uint8_t *b = p->iov[i].iov_base;

                FUZZ_CHECK(data_in ? in_seg(c, c->nr_out, c->nr_in, b, p->iov[i].iov_len)
                                   : in_seg(c, 0, c->nr_out, b, p->iov[i].iov_len));
                /* The status byte is never data. */
                FUZZ_CHECK(!(p->status_byte >= b && p->status_byte < b + p->iov[i].iov_len));
                total += p->iov[i].iov_len;
        }
        if (p->op == BLK_OP_READ || p->op == BLK_OP_WRITE || p->op == BLK_OP_GET_ID)
                FUZZ_CHECK(total == p->len);
}

static void plan_one(struct fin *in)
{
        static struct blk_plan plan;
        struct virtq_chain *c = calloc(1, sizeof(*c) + BLK_MAX_SEGS * sizeof(struct virtq_seg));
        struct blk_limits lim;
        unsigned int n;

        if (!c)
                abort();
        lim.capacity = fin_u8(in) & 1 ? fin_u64(in) : fin_u16(in);
        lim.ro = fin_u8(in) & 1;
        lim.max_discard_sectors = fin_u32(in);
        lim.max_write_zeroes_sectors = fin_u32(in);
        c->nr_out = fin_u8(in) % (BLK_MAX_SEGS + 1);
        c->nr_in = (uint16_t)(fin_u8(in) % (BLK_MAX_SEGS + 1 - c->nr_out));
        n = (unsigned int)c->nr_out + c->nr_in;
        for (unsigned int i = 0; i < n; i++) {
                /* Mostly small, sometimes a sector or more; each its own allocation. */
                uint32_t len = fin_u8(in);

                len = len & 0x80 ? (len & 0x7f) * 512u + fin_u16(in) % 513 : len + 1;
                if (!len)
                        len = 1;
                c->seg[i].len = len;
                c->seg[i].host = malloc(len);
                if (!c->seg[i].host)
                        abort();
                fin_bytes(in, c->seg[i].host, len < 32 ? len : 32);
                if (i < c->nr_out)
                        c->out_len += len;
                else
                        c->in_len += len;
        }
        blk_plan_request(c, &lim, &plan);
        check_plan(c, &lim, &plan);
        for (unsigned int i = 0; i < n; i++)
                free(c->seg[i].host);
        free(c);
}

/* --- the device --------------------------------------------------------------------------- */

static char disk_path[64];

static void disk_remove(void)
{
        unlink(disk_path);
}

static void disk_once(void)
{
        struct stat st;
        int fd;

        if (disk_path[0])
                return;
        snprintf(disk_path, sizeof(disk_path), "%s/wisp-fuzz-blk-XXXXXX",
                 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/var/tmp");
        fd = mkstemp(disk_path);
        if (fd < 0 || ftruncate(fd, DISK_SIZE))
                abort();
        close(fd);
        atexit(disk_remove);
}

/* A request header at a heap offset: the fields a driver fills, values from the input. */
static void op_header(struct fz_drv *d, struct fin *in)
{
        static const uint32_t types[] = {VIRTIO_BLK_T_IN,      VIRTIO_BLK_T_OUT,
                                         VIRTIO_BLK_T_FLUSH,   VIRTIO_BLK_T_GET_ID,
                                         VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
                                         VIRTIO_BLK_T_SCSI_CMD};
        struct virtio_blk_outhdr h = {0};
        uint32_t off = fin_u16(in) % (FZ_HEAP - 32);
        struct virtio_blk_discard_write_zeroes seg;
        uint8_t *p = fz_heap(d, off, 32);

        h.type = types[fin_u8(in) % 7];
        h.sector = fin_u8(in) & 1 ? fin_u64(in) : fin_u8(in);
        seg.sector = fin_u8(in);
        seg.num_sectors = fin_u8(in);
        seg.flags = fin_u8(in) & 3;
        memcpy(p, &h, sizeof(h));
        memcpy(p + sizeof(h), &seg, sizeof(seg));
}

static void device_run(struct fin *in)
{
        static struct vph h;
        static struct virtio_blk b;
        static struct vph_fn f;
        struct fz_drv d = {.h = &h, .f = &f};
        struct blk_options o;
        uint8_t cfg = fin_u8(in);
        char spec[128], err[256];
        struct stat st;

        disk_once();
        snprintf(spec, sizeof(spec), "%s%s%s%s", disk_path, cfg & 1 ? ",ro" : "",
                 cfg & 2 ? ",cache=none" : "", cfg & 4 ? ",serial=fuzz" : "");
        d.nq = 1 + (cfg >> 3) % 2;
        if (vph_init(&h, FZ_RAM) || blk_options_parse(spec, &o, err, sizeof(err)) ||
            virtio_blk_open(&b, &o, d.nq, err, sizeof(err))) {
                fprintf(stderr, "fuzz_blk: set-up failed: %s\n", err);
                abort();
        }
        if (virtio_blk_attach(&b, &h.env, &h.bus) || vph_probe(&h, b.vp.pci.slot, &f))
                abort();
        fz_up(&d, cfg & 0x80 ? ~0ull : fin_u64(in)); /* everything, or a fuzzed subset */
        while (in->n) {
                unsigned int op = fin_u8(in) % (FZ_OPS + 1);

                if (op == FZ_OPS)
                        op_header(&d, in);
                else
                        fz_op(&d, op, in);
        }
        for (int i = 0; i < 4 && vph_poll(&h, 0) > 0; i++)
                ;
        virtio_blk_close(&b);
        if (getenv("FUZZ_VERBOSE")) /* for writing seeds: did the requests get through? */
                fprintf(stderr, "fuzz_blk: up %d, %lu requests, %lu errors\n", d.up, b.requests,
                        b.ioerrs);
        vph_fini(&h);
        FUZZ_CHECK(stat(disk_path, &st) == 0 && st.st_size == DISK_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fin in = fin_make(data, size);

        log_set_level(LOG_ERROR);
        if (fin_u8(&in) & 1)
                device_run(&in);
        else
                plan_one(&in);
        return 0;
}
