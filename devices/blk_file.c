/* virtio-blk host side: the -d option and opening, locking and sizing the image. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "vmm/log.h"

#define URING_ENTRIES 256

static int bad(char *err, size_t errlen, const char *spec, const char *what)
{
        snprintf(err, errlen, "option --disk: '%s': %s", spec, what);
        return -EINVAL;
}

int blk_options_parse(const char *spec, struct blk_options *o, char *err, size_t errlen)
{
        const char *p = spec, *comma;
        size_t n;

        memset(o, 0, sizeof(*o));
        o->transport = VIRTIO_TRANSITIONAL;
        comma = strchr(p, ',');
        n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0)
                return bad(err, errlen, spec, "no image path");
        if (n >= sizeof(o->path))
                return bad(err, errlen, spec, "image path too long");
        memcpy(o->path, p, n);
        while (comma) {
                char key[32];
                const char *val, *item = comma + 1;

                comma = strchr(item, ',');
                n = comma ? (size_t)(comma - item) : strlen(item);
                val = memchr(item, '=', n);
                size_t klen = val ? (size_t)(val - item) : n;
                size_t vlen = val ? n - klen - 1 : 0;

                if (klen == 0 || klen >= sizeof(key))
                        return bad(err, errlen, spec, "empty or unknown setting");
                memcpy(key, item, klen);
                key[klen] = 0;
                if (val)
                        val++;
                if (!strcmp(key, "ro") && !val) {
                        o->ro = true;
                } else if (!strcmp(key, "serial") && val) {
                        if (vlen > BLK_SERIAL_MAX)
                                return bad(err, errlen, spec, "serial longer than 20 bytes");
                        memcpy(o->serial, val, vlen);
                        o->serial[vlen] = 0;
                } else if (!strcmp(key, "transport") && val) {
                        char t[16] = {0};

                        if (vlen >= sizeof(t))
                                return bad(err, errlen, spec,
                                           "transport must be modern, legacy or transitional");
                        memcpy(t, val, vlen);
                        if (virtio_transport_parse(t, &o->transport) < 0)
                                return bad(err, errlen, spec,
                                           "transport must be modern, legacy or transitional");
                } else if (!strcmp(key, "cache") && val) {
                        if (vlen == 4 && !strncmp(val, "none", 4))
                                o->direct = true;
                        else if (vlen == 9 && !strncmp(val, "writeback", 9))
                                o->direct = false;
                        else
                                return bad(err, errlen, spec, "cache must be none or writeback");
                } else {
                        snprintf(err, errlen, "option --disk: '%s': unknown setting '%s'", spec,
                                 key);
                        return -EINVAL;
                }
        }
        return 0;
}

static int file_error(char *err, size_t errlen, const char *path, const char *what, int e)
{
        snprintf(err, errlen, "disk '%s': %s%s%s", path, what, e ? ": " : "", e ? strerror(e) : "");
        return e ? -e : -EINVAL;
}

/* Size in bytes and logical block size of a regular file or block device. */
static int disk_geometry(int fd, const struct stat *st, uint64_t *bytes, uint32_t *blk)
{
        *blk = BLK_SECTOR;
        if (S_ISREG(st->st_mode)) {
                *bytes = (uint64_t)st->st_size;
                return 0;
        }
        if (!S_ISBLK(st->st_mode))
                return -ENOTBLK;
        if (ioctl(fd, BLKGETSIZE64, bytes) < 0)
                return -errno;
        int ssz = 0;

        if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz >= (int)BLK_SECTOR && ssz <= 4096)
                *blk = (uint32_t)ssz;
        return 0;
}

static int open_image(struct virtio_blk *b, char *err, size_t errlen)
{
        const char *path = b->opt.path;
        int flags = (b->opt.ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
        struct stat st;
        uint64_t bytes;
        int r;

        b->fd = open(path, flags);
        if (b->fd < 0 && !b->opt.ro && (errno == EACCES || errno == EROFS || errno == EPERM))
                return file_error(err, errlen, path,
                                  "cannot open read-write (add ,ro for a read-only disk)", errno);
        if (b->fd < 0)
                return file_error(err, errlen, path, "cannot open", errno);
        if (fstat(b->fd, &st) < 0)
                return file_error(err, errlen, path, "cannot stat", errno);
        r = disk_geometry(b->fd, &st, &bytes, &b->blk_size);
        if (r < 0)
                return file_error(err, errlen, path,
                                  r == -ENOTBLK ? "not a regular file or block device"
                                                : "cannot read its size",
                                  r == -ENOTBLK ? 0 : -r);
        /* Two VMs writing one image corrupt it: one writer, or shared readers. */
        if (flock(b->fd, (b->opt.ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
                return file_error(err, errlen, path,
                                  errno == EWOULDBLOCK
                                      ? "in use by another VM (locked); share it only with ,ro "
                                        "on every VM"
                                      : "cannot lock",
                                  errno == EWOULDBLOCK ? 0 : errno);
        if (bytes < BLK_SECTOR)
                return file_error(err, errlen, path, "smaller than one 512-byte sector", 0);
        if (bytes % BLK_SECTOR)
                wisp_warn("disk '%s': size is not a multiple of 512; the last %llu bytes are "
                          "hidden from the guest",
                          path, (unsigned long long)(bytes % BLK_SECTOR));
        b->lim.capacity = bytes / BLK_SECTOR;
        b->lim.ro = b->opt.ro;
        b->lim.max_discard_sectors = 0x3fffff;
        b->lim.max_write_zeroes_sectors = 0x3fffff;
        b->direct_fd = -1;
        if (b->opt.direct) {
                b->direct_fd = open(path, flags | O_DIRECT);
                if (b->direct_fd < 0)
                        wisp_warn("disk '%s': cache=none unavailable (%s); using the page cache",
                                  path, strerror(errno));
        }
        return 0;
}

int virtio_blk_open(struct virtio_blk *b, const struct blk_options *o, unsigned int nqueues,
                    char *err, size_t errlen)
{
        int r;

        memset(b, 0, sizeof(*b));
        b->opt = *o;
        b->fd = b->direct_fd = b->ring_efd = -1;
        b->dev.num_queues = (uint16_t)nqueues;
        r = open_image(b, err, errlen);
        if (r < 0)
                return r;
        /* Disabled until blk_ring_lock_down has restricted it. */
        r = io_uring_queue_init(URING_ENTRIES, &b->ring, IORING_SETUP_R_DISABLED);
        if (r < 0)
                return file_error(err, errlen, o->path, "io_uring is unavailable on this host", -r);
        b->ring_ok = true;
        return 0;
}

int blk_ring_lock_down(struct virtio_blk *b)
{
        /*
         * io_uring operations do not pass through seccomp: a thread taken
         * over could otherwise open files, sockets or connections through
         * the ring. The ring may only do what submit() does, on fds the
         * thread could read and write anyway, and register nothing more.
         * (Fixed files would pin the image's flock past close: the ring's
         * teardown is asynchronous.)
         */
        static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
                                      IORING_OP_FALLOCATE};
        struct io_uring_restriction res[sizeof(ops) + 1];
        unsigned int n = 0;

        memset(res, 0, sizeof(res));
        for (size_t i = 0; i < sizeof(ops); i++) {
                res[n].opcode = IORING_RESTRICTION_SQE_OP;
                res[n++].sqe_op = ops[i];
        }
        res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
        res[n++].sqe_flags = IOSQE_IO_DRAIN;
        /* The raw calls: Debian's liburing.so does not export the wrappers. */
        if (syscall(SYS_io_uring_register, b->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, n) <
                0 ||
            syscall(SYS_io_uring_register, b->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) <
                0)
                return -errno;
        return 0;
}
