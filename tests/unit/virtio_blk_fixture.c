/* Test fixture for test_virtio_blk_*: see virtio_blk_fixture.h. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "virtio_blk_fixture.h"
#include "vph_driver.h"

struct vph h;
struct virtio_blk b;
bool b_open;
struct vph_fn f;
char path[64];
int file; /* the test's own view of the image */
struct vring_driver drv[MAX_Q];
uint16_t next_desc[MAX_Q];
static unsigned int nq;
uint64_t heap;

/* --- fdatasync, seen: virtio_blk_close must flush --------------------------------------- */

unsigned int fdatasync_calls;
int fdatasync_fd = -1;

int fdatasync(int fd)
{
        fdatasync_calls++;
        fdatasync_fd = fd;
        return (int)syscall(SYS_fdatasync, fd);
}

/* --- io_uring, seen: a signal that interrupts the device's wait for completions ----------------
 */

bool hold_submit;         /* io_uring_submit keeps the SQEs back: requests stay in flight */
unsigned int eintr_waits; /* so many waits fail with -EINTR, as when a signal arrives */

int io_uring_submit(struct io_uring *ring)
{
        int (*real)(struct io_uring *) = (int (*)(struct io_uring *))dlsym(RTLD_NEXT, __func__);

        return hold_submit ? 0 : real(ring);
}

int __io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
                       unsigned wait_nr, sigset_t *sigmask)
{
        int (*real)(struct io_uring *, struct io_uring_cqe **, unsigned, unsigned, sigset_t *) =
            (int (*)(struct io_uring *, struct io_uring_cqe **, unsigned, unsigned,
                     sigset_t *))dlsym(RTLD_NEXT, __func__);

        if (eintr_waits) {
                /* The held requests go to the kernel while the signal is handled. */
                eintr_waits--;
                hold_submit = false;
                io_uring_submit(ring);
                return -EINTR;
        }
        return real(ring, cqe_ptr, submit, wait_nr, sigmask);
}

/* --- the image ------------------------------------------------------------------------------ */

uint8_t pattern(uint64_t off)
{
        return (uint8_t)(off * 13 + (off >> 9) * 7 + 1);
}

static void make_image(uint64_t size)
{
        static uint8_t buf[1 << 16];

        strcpy(path, "/var/tmp/wisp-blk-XXXXXX");
        file = mkstemp(path);
        cr_assert_geq(file, 0);
        cr_assert_eq(ftruncate(file, (off_t)size), 0);
        for (uint64_t off = 0; off < size; off += sizeof(buf)) {
                uint64_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

                for (uint64_t i = 0; i < n; i++)
                        buf[i] = pattern(off + i);
                cr_assert_eq(pwrite(file, buf, n, (off_t)off), (ssize_t)n);
        }
}

void setup(void)
{
        make_image(DISK_SIZE);
        cr_assert_eq(vph_init(&h, RAM_SIZE), 0);
        heap = HEAP_BASE;
        memset(next_desc, 0, sizeof(next_desc));
        b_open = false;
}

void teardown(void)
{
        /* As vm.c: the device finishes (writing guest RAM) before RAM goes away. */
        if (b_open)
                virtio_blk_close(&b);
        b_open = false;
        vph_fini(&h);
        if (file >= 0)
                close(file);
        chmod(path, 0600);
        unlink(path);
}

int open_spec(struct virtio_blk *d, const char *extra, unsigned int queues, char *err)
{
        struct blk_options o;
        char spec[256];

        snprintf(spec, sizeof(spec), "%s%s", path, extra);
        cr_assert_eq(blk_options_parse(spec, &o, err, 256), 0, "%s", err);
        err[0] = 0;
        return virtio_blk_open(d, &o, queues, err, 256);
}

/* Runs fn with stderr going to a file, returns what was written. */
/* --- the device, driven through the modern transport ------------------------------------------ */

uint64_t galloc(uint64_t len, uint64_t align)
{
        return vph_galloc(&heap, RAM_SIZE, len, align);
}

void *gptr(uint64_t gpa, uint64_t len)
{
        return vph_gptr(&h, gpa, len);
}

static const struct vph_rings rings = {QSZ, RING_BASE, RING_STRIDE};

uint64_t ring(unsigned int q, unsigned int which)
{
        return vph_ring(&rings, q, which);
}

/* Opens the image with extra options, attaches it, and probes the function. */
void attach(const char *extra, unsigned int queues)
{
        char err[256];

        nq = queues;
        cr_assert_eq(open_spec(&b, extra, queues, err), 0, "%s", err);
        b_open = true;
        cr_assert_eq(virtio_blk_attach(&b, &h.env, &h.bus), 0);
        cr_assert_eq(vph_probe(&h, b.vp.pci.slot, &f), 0);
}

/* virtio_dev_probe + virtblk_probe's find_vqs with one MSI-X vector per queue + DRIVER_OK. */
void driver_up(uint64_t want)
{
        vph_driver_up(&f, &h.mem, &rings, drv, NULL, want, nq + 1, nq);
}
/* Posts header, data (device-writable unless type is OUT) and status as a chain (or an
 * indirect table), unpublished. */
struct rq post(unsigned int q, uint32_t type, uint64_t sector, uint32_t len, bool indirect)
{
        struct rq r = {.q = q, .len = len};
        struct virtio_blk_outhdr hdr = {.type = type, .sector = sector};
        uint64_t hg = galloc(16, 16);
        struct vd_buf bufs[3];
        unsigned int n = 0;

        memcpy(gptr(hg, 16), &hdr, 16);
        bufs[n++] = (struct vd_buf){hg, 16, false};
        if (len) {
                r.data = galloc(len, 512);
                memset(gptr(r.data, len), 0xcc, len);
                bufs[n++] = (struct vd_buf){r.data, len, type != VIRTIO_BLK_T_OUT};
        }
        r.st = galloc(1, 1);
        *(uint8_t *)gptr(r.st, 1) = STATUS_UNSET;
        bufs[n++] = (struct vd_buf){r.st, 1, true};
        if (indirect) {
                r.head = vd_add_indirect(&drv[q], next_desc[q], galloc(16 * n, 16), bufs, n);
                next_desc[q] = (uint16_t)((next_desc[q] + 1) % QSZ);
        } else {
                r.head = vd_add_chain(&drv[q], next_desc[q], bufs, n);
                next_desc[q] = (uint16_t)((next_desc[q] + n) % QSZ);
        }
        return r;
}

void kick(unsigned int q)
{
        vd_publish(&drv[q]);
        vph_modern_notify(&f, (uint16_t)q, (uint16_t)q);
}

unsigned int pending_used(unsigned int q)
{
        return vph_pending_used(&drv[q]);
}

/* Runs the event loop until queue q has n used entries to read (5 s at most). */
void wait_used(unsigned int q, unsigned int n)
{
        vph_wait_used(&h, &drv[q], q, n);
}

/* Submits one request, waits for it, returns its status; *used_len gets the used length. */
uint8_t run1(struct rq *r, uint32_t *used_len)
{
        uint32_t id, len;

        kick(r->q);
        wait_used(r->q, 1);
        cr_assert(vd_get_used(&drv[r->q], &id, &len));
        cr_assert_eq(id, r->head);
        if (used_len)
                *used_len = len;
        return *(uint8_t *)gptr(r->st, 1);
}

void file_read(uint64_t off, void *buf, size_t len)
{
        cr_assert_eq(pread(file, buf, len, (off_t)off), (ssize_t)len);
}

void assert_file_pattern(uint64_t off, uint64_t len)
{
        uint8_t *buf = malloc(len);

        file_read(off, buf, len);
        for (uint64_t i = 0; i < len; i++)
                cr_assert_eq(buf[i], pattern(off + i), "file byte 0x%llx",
                             (unsigned long long)(off + i));
        free(buf);
}
