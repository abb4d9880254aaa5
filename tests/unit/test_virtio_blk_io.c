/* Unit tests for devices/virtio_blk.c + blk_file.c: options, opening, and the device end to end. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/virtio_blk.h"
#include "vpci_harness.h"
#include "vring_driver.h"

#define RAM_SIZE (32ull << 20)
#define DISK_SIZE (4ull << 20)
#define CAPACITY (DISK_SIZE / 512)
#define QSZ BLK_QUEUE_SIZE
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x4000ull /* 256 entries: 4 KiB table, avail, used */
#define HEAP_BASE 0x400000ull
#define MAX_Q 5
#define BLK_SLOTS 1024 /* BLK_MAX_REQS in virtio_blk.c */
#define NO_VEC VIRTIO_MSI_NO_VECTOR
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define STATUS_UNSET 0xee

static struct vph h;
static struct virtio_blk b;
static bool b_open;
static struct vph_fn f;
static char path[64];
static int file; /* the test's own view of the image */
static struct vring_driver drv[MAX_Q];
static uint16_t next_desc[MAX_Q];
static unsigned int nq;
static uint64_t heap;

/* --- fdatasync, seen: virtio_blk_close must flush --------------------------------------- */

static unsigned int fdatasync_calls;
static int fdatasync_fd = -1;

int fdatasync(int fd)
{
        fdatasync_calls++;
        fdatasync_fd = fd;
        return (int)syscall(SYS_fdatasync, fd);
}

/* --- io_uring, seen: a signal that interrupts the device's wait for completions ----------------
 */

static bool hold_submit;         /* io_uring_submit keeps the SQEs back: requests stay in flight */
static unsigned int eintr_waits; /* so many waits fail with -EINTR, as when a signal arrives */

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

static uint8_t pattern(uint64_t off)
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

static void setup(void)
{
        make_image(DISK_SIZE);
        cr_assert_eq(vph_init(&h, RAM_SIZE), 0);
        heap = HEAP_BASE;
        memset(next_desc, 0, sizeof(next_desc));
        b_open = false;
}

static void teardown(void)
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

TestSuite(blk_opts);
TestSuite(blk_open, .init = setup, .fini = teardown);
TestSuite(blk, .init = setup, .fini = teardown);

/* --- options ---------------------------------------------------------------------------------- */

static int parse(const char *spec, struct blk_options *o, char *err)
{
        err[0] = 0;
        return blk_options_parse(spec, o, err, 256);
}

Test(blk_opts, a_bare_path_takes_the_defaults)
{
        struct blk_options o;
        char err[256];

        cr_assert_eq(parse("disk.img", &o, err), 0);
        cr_assert_str_eq(o.path, "disk.img");
        cr_assert_not(o.ro);
        cr_assert_str_eq(o.serial, "");
        cr_assert_eq(o.transport, VIRTIO_TRANSITIONAL);
        cr_assert_not(o.direct);
}

Test(blk_opts, every_key)
{
        struct blk_options o;
        char err[256];

        cr_assert_eq(parse("/a/b.img,ro,serial=abc-123,transport=modern,cache=none", &o, err), 0);
        cr_assert_str_eq(o.path, "/a/b.img");
        cr_assert(o.ro);
        cr_assert_str_eq(o.serial, "abc-123");
        cr_assert_eq(o.transport, VIRTIO_MODERN);
        cr_assert(o.direct);
        cr_assert_eq(parse("x,transport=legacy,cache=writeback", &o, err), 0);
        cr_assert_eq(o.transport, VIRTIO_LEGACY);
        cr_assert_not(o.direct);
        cr_assert_eq(parse("x,transport=transitional", &o, err), 0);
        cr_assert_eq(o.transport, VIRTIO_TRANSITIONAL);
        cr_assert_eq(parse("x,cache=none,cache=writeback", &o, err), 0, "the last one wins");
        cr_assert_not(o.direct);
}

Test(blk_opts, serial_of_20_bytes_fits_21_does_not)
{
        struct blk_options o;
        char err[256];

        cr_assert_eq(parse("x,serial=01234567890123456789", &o, err), 0);
        cr_assert_str_eq(o.serial, "01234567890123456789");
        cr_assert_eq(parse("x,serial=012345678901234567890", &o, err), -EINVAL);
        cr_assert(strstr(err, "serial"), "%s", err);
        cr_assert(strstr(err, "012345678901234567890"), "names the value: %s", err);
        cr_assert_eq(parse("x,serial=", &o, err), 0, "an empty serial is allowed");
        cr_assert_str_eq(o.serial, "");
}

Test(blk_opts, bad_specs_are_refused_with_a_message)
{
        static const struct {
                const char *spec, *says;
        } bad[] = {
            {"", "no image path"},
            {",ro", "no image path"},
            {"x,", "empty or unknown"},
            {"x,,ro", "empty or unknown"},
            {"x,=1", "empty or unknown"},
            {"x,foo", "unknown setting 'foo'"},
            {"x,foo=1", "unknown setting 'foo'"},
            {"x,ro=1", "unknown setting 'ro'"},
            {"x,serial", "unknown setting 'serial'"},
            {"x,transport", "unknown setting 'transport'"},
            {"x,transport=", "transport must be"},
            {"x,transport=pci", "transport must be"},
            {"x,transport=modernish", "transport must be"},
            {"x,transport=averyveryverylongtransportname", "transport must be"},
            {"x,cache=", "cache must be"},
            {"x,cache=unsafe", "cache must be"},
            {"x,cache=nonex", "cache must be"},
            {"x,RO", "unknown setting 'RO'"},
            {"x,averyveryverylongkeythatdoesnotfit=1", "unknown"},
        };
        struct blk_options o;
        char err[256];

        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cr_assert_eq(parse(bad[i].spec, &o, err), -EINVAL, "'%s' accepted", bad[i].spec);
                cr_assert(strstr(err, bad[i].says), "'%s': %s", bad[i].spec, err);
                cr_assert(strstr(err, "--disk"), "names the option: %s", err);
        }
}

Test(blk_opts, a_path_too_long_is_refused)
{
        static char spec[5000];
        struct blk_options o;
        char err[256];

        memset(spec, 'a', sizeof(spec) - 1);
        cr_assert_eq(parse(spec, &o, err), -EINVAL);
        cr_assert(strstr(err, "option --disk"), "%s", err); /* the rest is the long spec */
        spec[4095] = 0;
        cr_assert_eq(parse(spec, &o, err), 0, "4095 bytes and the NUL fit");
}

/* --- opening ---------------------------------------------------------------------------------- */

static int open_spec(struct virtio_blk *d, const char *extra, unsigned int queues, char *err)
{
        struct blk_options o;
        char spec[256];

        snprintf(spec, sizeof(spec), "%s%s", path, extra);
        cr_assert_eq(blk_options_parse(spec, &o, err, 256), 0, "%s", err);
        err[0] = 0;
        return virtio_blk_open(d, &o, queues, err, 256);
}

/* Runs fn with stderr going to a file, returns what was written. */
static void capture_stderr_begin(int *saved, FILE **tmp)
{
        *tmp = tmpfile();
        cr_assert_not_null(*tmp);
        fflush(stderr);
        *saved = dup(2);
        dup2(fileno(*tmp), 2);
}

static void capture_stderr_end(int saved, FILE *tmp, char *out, size_t len)
{
        size_t n;

        dup2(saved, 2);
        close(saved);
        rewind(tmp);
        n = fread(out, 1, len - 1, tmp);
        out[n] = 0;
        fclose(tmp);
}

Test(blk_open, opens_locks_and_sizes_the_image)
{
        char err[256];

        cr_assert_eq(open_spec(&b, "", 1, err), 0, "%s", err);
        b_open = true;
        cr_assert_eq(b.lim.capacity, CAPACITY);
        cr_assert_not(b.lim.ro);
        cr_assert_eq(b.blk_size, 512);
        cr_assert_eq(b.direct_fd, -1);
}

Test(blk_open, a_missing_file_names_the_file)
{
        char err[256];
        struct virtio_blk d;

        unlink(path);
        cr_assert_eq(open_spec(&d, "", 1, err), -ENOENT);
        cr_assert(strstr(err, path), "%s", err);
        cr_assert(strstr(err, "cannot open"), "%s", err);
        virtio_blk_close(&d);
}

Test(blk_open, a_directory_is_refused)
{
        char err[256];
        struct virtio_blk d;
        struct blk_options o;

        cr_assert_eq(blk_options_parse("/var/tmp", &o, err, 256), 0);
        cr_assert_lt(virtio_blk_open(&d, &o, 1, err, 256), 0);
        cr_assert(strstr(err, "/var/tmp"), "%s", err);
        virtio_blk_close(&d);
        cr_assert_eq(blk_options_parse("/var/tmp,ro", &o, err, 256), 0);
        cr_assert_lt(virtio_blk_open(&d, &o, 1, err, 256), 0);
        cr_assert(strstr(err, "not a regular file or block device"), "%s", err);
        virtio_blk_close(&d);
}

Test(blk_open, a_read_only_file_opened_read_write_suggests_ro)
{
        char err[256];
        struct virtio_blk d;
        int r;

        cr_assert_eq(fchmod(file, 0444), 0);
        /* Root ignores the mode: drop to nobody for the open (this process only). */
        if (geteuid() == 0)
                cr_assert_eq(seteuid(65534), 0);
        r = open_spec(&d, "", 1, err);
        if (getuid() == 0)
                cr_assert_eq(seteuid(0), 0);
        cr_assert_eq(r, -EACCES, "%s", err);
        cr_assert(strstr(err, ",ro"), "the hint: %s", err);
        cr_assert(strstr(err, path), "%s", err);
        virtio_blk_close(&d);
        if (geteuid() == 0)
                cr_assert_eq(seteuid(65534), 0);
        r = open_spec(&d, ",ro", 1, err);
        cr_assert_eq(r, 0, "%s", err);
        cr_assert(d.lim.ro);
        virtio_blk_close(&d);
        if (getuid() == 0)
                cr_assert_eq(seteuid(0), 0);
}

Test(blk_open, a_second_writer_is_refused_readers_share)
{
        char err[256];
        struct virtio_blk d2, d3;

        cr_assert_eq(open_spec(&b, "", 1, err), 0, "%s", err);
        b_open = true;
        cr_assert_lt(open_spec(&d2, "", 1, err), 0);
        cr_assert(strstr(err, "in use by another VM"), "%s", err);
        cr_assert(strstr(err, path), "%s", err);
        virtio_blk_close(&d2);
        cr_assert_lt(open_spec(&d2, ",ro", 1, err), 0, "a reader while a writer holds it");
        cr_assert(strstr(err, "in use by another VM"), "%s", err);
        virtio_blk_close(&d2);
        virtio_blk_close(&b);
        b_open = false;

        cr_assert_eq(open_spec(&d2, ",ro", 1, err), 0, "%s", err);
        cr_assert_eq(open_spec(&d3, ",ro", 1, err), 0, "two readers: %s", err);
        cr_assert_lt(open_spec(&b, "", 1, err), 0, "a writer while readers hold it");
        virtio_blk_close(&b);
        virtio_blk_close(&d2);
        virtio_blk_close(&d3);
        cr_assert_eq(open_spec(&b, "", 1, err), 0, "closing released the locks: %s", err);
        b_open = true;
}

Test(blk_open, a_size_not_a_multiple_of_512_hides_the_tail)
{
        char err[256], log[1024];
        int saved;
        FILE *tmp;

        cr_assert_eq(ftruncate(file, DISK_SIZE + 100), 0);
        capture_stderr_begin(&saved, &tmp);
        int r = open_spec(&b, "", 1, err);

        capture_stderr_end(saved, tmp, log, sizeof(log));
        cr_assert_eq(r, 0, "%s", err);
        b_open = true;
        cr_assert_eq(b.lim.capacity, CAPACITY);
        cr_assert(strstr(log, "not a multiple of 512"), "warning: %s", log);
        cr_assert(strstr(log, "100 bytes"), "%s", log);
        cr_assert(strstr(log, path), "%s", log);
}

Test(blk_open, smaller_than_a_sector_is_refused)
{
        char err[256];
        struct virtio_blk d;

        cr_assert_eq(ftruncate(file, 100), 0);
        cr_assert_lt(open_spec(&d, "", 1, err), 0);
        cr_assert(strstr(err, "smaller than one 512-byte sector"), "%s", err);
        virtio_blk_close(&d);
        cr_assert_eq(ftruncate(file, 0), 0);
        cr_assert_lt(open_spec(&d, "", 1, err), 0);
        virtio_blk_close(&d);
        /* The failed opens left no lock behind once closed. */
        cr_assert_eq(ftruncate(file, 512), 0);
        cr_assert_eq(open_spec(&b, "", 1, err), 0, "%s", err);
        b_open = true;
        cr_assert_eq(b.lim.capacity, 1);
}

Test(blk_open, cache_none_opens_a_direct_twin)
{
        char err[256];

        cr_assert_eq(open_spec(&b, ",cache=none", 1, err), 0, "%s", err);
        b_open = true;
        cr_assert_geq(b.direct_fd, 0, "ext4 supports O_DIRECT");
        cr_assert(fcntl(b.direct_fd, F_GETFL) & O_DIRECT);
}

/* --- the device, driven through the modern transport ------------------------------------------ */

static uint64_t galloc(uint64_t len, uint64_t align)
{
        uint64_t a = (heap + align - 1) & ~(align - 1);

        heap = a + len;
        cr_assert_leq(heap, RAM_SIZE, "test heap exhausted");
        return a;
}

static void *gptr(uint64_t gpa, uint64_t len)
{
        void *p = guest_ptr(&h.mem, gpa, len);

        cr_assert_not_null(p);
        return p;
}

static uint64_t ring(unsigned int q, unsigned int which)
{
        return RING_BASE + q * RING_STRIDE + which * 0x1000;
}

/* Opens the image with extra options, attaches it, and probes the function. */
static void attach(const char *extra, unsigned int queues)
{
        char err[256];

        nq = queues;
        cr_assert_eq(open_spec(&b, extra, queues, err), 0, "%s", err);
        b_open = true;
        cr_assert_eq(virtio_blk_attach(&b, &h.env, &h.bus), 0);
        cr_assert_eq(vph_probe(&h, b.vp.pci.slot, &f), 0);
}

/* virtio_dev_probe + virtblk_probe's find_vqs with one MSI-X vector per queue + DRIVER_OK. */
static void driver_up(uint64_t want)
{
        cr_assert_eq(vph_modern_negotiate(&f, want, NULL), 0);
        vph_msix_enable(&f, nq + 1);
        cr_assert_eq(vph_modern_config_vector(&f, 0), 0);
        for (unsigned int q = 0; q < nq; q++) {
                vd_init(&drv[q], &h.mem, QSZ, ring(q, 0), ring(q, 1), ring(q, 2));
                cr_assert_eq(vph_modern_setup_queue(&f, (uint16_t)q, QSZ, ring(q, 0), ring(q, 1),
                                                    ring(q, 2), (uint16_t)(q + 1), NULL),
                             0);
        }
        for (unsigned int q = 0; q < nq; q++)
                cr_assert_eq(vph_modern_enable_queue(&f, (uint16_t)q), 1);
        cr_assert_eq(vph_modern_add_status(&f, DOK), ACK | DRV | FOK | DOK);
}

/* Everything the device offers but EVENT_IDX: then every batch interrupts. */
#define WANT (~(1ull << VIRTIO_RING_F_EVENT_IDX))

struct rq {
        unsigned int q;
        uint16_t head;
        uint64_t data, st;
        uint32_t len;
};

/* Posts header, data (device-writable unless type is OUT) and status as a chain (or an
 * indirect table), unpublished. */
static struct rq post(unsigned int q, uint32_t type, uint64_t sector, uint32_t len, bool indirect)
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

static void kick(unsigned int q)
{
        vd_publish(&drv[q]);
        vph_modern_notify(&f, (uint16_t)q, (uint16_t)q);
}

static unsigned int pending_used(unsigned int q)
{
        return (uint16_t)(vd_used_idx(&drv[q]) - drv[q].last_used);
}

/* Runs the event loop until queue q has n used entries to read (5 s at most). */
static void wait_used(unsigned int q, unsigned int n)
{
        for (int i = 0; i < 500 && pending_used(q) < n; i++)
                cr_assert_geq(vph_poll(&h, 10), 0);
        cr_assert_geq(pending_used(q), n, "queue %u: %u of %u completions", q, pending_used(q), n);
}

/* Submits one request, waits for it, returns its status; *used_len gets the used length. */
static uint8_t run1(struct rq *r, uint32_t *used_len)
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

static void file_read(uint64_t off, void *buf, size_t len)
{
        cr_assert_eq(pread(file, buf, len, (off_t)off), (ssize_t)len);
}

static void assert_file_pattern(uint64_t off, uint64_t len)
{
        uint8_t *buf = malloc(len);

        file_read(off, buf, len);
        for (uint64_t i = 0; i < len; i++)
                cr_assert_eq(buf[i], pattern(off + i), "file byte 0x%llx",
                             (unsigned long long)(off + i));
        free(buf);
}

Test(blk, offers_its_features_and_config)
{
        uint64_t feat;

        attach(",serial=SER", 2);
        vph_modern_reset(&f);
        feat = vph_modern_device_features(&f);
        cr_assert(feat & (1ull << VIRTIO_F_VERSION_1));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_FLUSH));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_BLK_SIZE));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_SEG_MAX));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_SIZE_MAX));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_MQ));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_DISCARD));
        cr_assert(feat & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
        cr_assert_not(feat & (1ull << VIRTIO_BLK_F_RO));
        cr_assert_eq(f.device, 0x1001, "transitional block device");
        cr_assert_eq(f.subsys, 2);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, capacity), 8),
                     CAPACITY);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, seg_max), 4),
                     BLK_MAX_SEGS - 2);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, blk_size), 4), 512);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, num_queues), 2), 2);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_blk_config, max_discard_seg), 4),
                     1);
        cr_assert_gt(
            vph_devcfg_read(&f, offsetof(struct virtio_blk_config, max_write_zeroes_sectors), 4),
            0);
        cr_assert_eq(f.device_cfg.length, sizeof(struct virtio_blk_config));
        /* Read-only config: a write changes nothing. */
        vph_devcfg_write(&f, 0, 4, 0);
        cr_assert_eq(vph_devcfg_read(&f, 0, 8), CAPACITY);
}

Test(blk, write_lands_in_the_file_at_its_offset)
{
        uint8_t buf[4096];
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_OUT, 8, 4096, false);
        for (unsigned int i = 0; i < 4096; i++)
                ((uint8_t *)gptr(r.data, 4096))[i] = (uint8_t)(i ^ 0x5a);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 1, "a write writes only the status");
        file_read(8 * 512, buf, sizeof(buf));
        for (unsigned int i = 0; i < 4096; i++)
                cr_assert_eq(buf[i], (uint8_t)(i ^ 0x5a));
        assert_file_pattern(0, 8 * 512);
        assert_file_pattern(8 * 512 + 4096, 4096);
        cr_assert_gt(b.vp.msix.fired[1], 0, "queue 0's vector");
}

Test(blk, read_returns_the_file)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_IN, 100, 8192, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 8192 + 1);
        for (unsigned int i = 0; i < 8192; i++)
                cr_assert_eq(((uint8_t *)gptr(r.data, 8192))[i], pattern(100 * 512 + i));
}

Test(blk, read_and_write_through_indirect_tables)
{
        struct rq w, r;

        attach("", 1);
        driver_up(WANT);
        w = post(0, VIRTIO_BLK_T_OUT, 40, 512, true);
        memset(gptr(w.data, 512), 0x77, 512);
        cr_assert_eq(run1(&w, NULL), VIRTIO_BLK_S_OK);
        r = post(0, VIRTIO_BLK_T_IN, 40, 512, true);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(memcmp(gptr(r.data, 512), gptr(w.data, 512), 512), 0);
}

/*
 * io_uring operations bypass seccomp: the disk's ring may only read, write, fsync and
 * fallocate. Anything else (here: opening a file, and a no-op) fails with EACCES.
 */
Test(blk, the_ring_refuses_what_the_device_never_asks)
{
        struct io_uring_cqe *cqe;

        attach("", 1);
        for (int i = 0; i < 2; i++) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&b.ring);

                cr_assert_not_null(sqe);
                if (i == 0)
                        io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
                else
                        io_uring_prep_nop(sqe);
                io_uring_sqe_set_data(sqe, NULL);
                cr_assert_eq(io_uring_submit(&b.ring), 1);
                cr_assert_eq(io_uring_wait_cqe(&b.ring, &cqe), 0);
                cr_assert_eq(cqe->res, -EACCES, "op %d: %d", i, cqe->res);
                io_uring_cqe_seen(&b.ring, cqe);
        }
}

Test(blk, flush_completes_ok)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 1);
}

/*
 * Durability: a failing fsync is an I/O error, never a later success. Linux reports a
 * writeback error to fdatasync once and may drop the pages it could not write, so the
 * next fdatasync succeeds: the device must keep failing FLUSH. The fsync fails here
 * because the image's fd is swapped for a pipe (fsync on a pipe is EINVAL).
 */
Test(blk, a_failed_flush_fails_every_later_flush)
{
        struct rq r;
        int p[2], saved;

        attach("", 1);
        driver_up(WANT);
        cr_assert_eq(pipe(p), 0);
        saved = dup(b.fd);
        cr_assert_geq(saved, 0);
        cr_assert_geq(dup2(p[1], b.fd), 0);
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "the failing fsync");
        cr_assert_geq(dup2(saved, b.fd), 0, "the image is back: fsync would succeed now");
        close(saved);
        close(p[0]);
        close(p[1]);
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "a later flush");
        r = post(0, VIRTIO_BLK_T_OUT, 8, 512, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK, "writes still work");
        r = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "a flush after new writes");
        cr_assert_eq(b.ioerrs, 3);
}

Test(blk, get_id_returns_the_serial)
{
        uint32_t used;
        struct rq r;
        uint8_t want[VIRTIO_BLK_ID_BYTES] = "wisp-serial-7";

        attach(",serial=wisp-serial-7", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, VIRTIO_BLK_ID_BYTES + 1);
        cr_assert_eq(memcmp(gptr(r.data, VIRTIO_BLK_ID_BYTES), want, sizeof(want)), 0,
                     "serial, zero-padded");
}

Test(blk, get_id_of_a_full_20_byte_serial)
{
        struct rq r;

        attach(",serial=ABCDEFGHIJKLMNOPQRST", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_GET_ID, 0, 64, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(memcmp(gptr(r.data, 20), "ABCDEFGHIJKLMNOPQRST", 20), 0);
        cr_assert_eq(((uint8_t *)gptr(r.data, 64))[20], 0xcc, "nothing past 20 bytes");
}

static void assert_file_zero(uint64_t off, uint64_t len)
{
        uint8_t *buf = malloc(len);

        file_read(off, buf, len);
        for (uint64_t i = 0; i < len; i++)
                cr_assert_eq(buf[i], 0, "byte 0x%llx not zero", (unsigned long long)(off + i));
        free(buf);
}

static struct rq post_range(unsigned int q, uint32_t type, uint64_t sector, uint32_t num,
                            uint32_t flags)
{
        struct rq r = post(q, type, 0, 16, false);
        struct virtio_blk_discard_write_zeroes s = {
            .sector = sector, .num_sectors = num, .flags = flags};

        /* The segment is driver-to-device: make the data buffer readable. */
        drv[q].desc[(r.head + 1) % QSZ].flags &= (uint16_t)~VRING_DESC_F_WRITE;
        memcpy(gptr(r.data, 16), &s, sizeof(s));
        return r;
}

Test(blk, discard_and_write_zeroes_zero_the_range)
{
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post_range(0, VIRTIO_BLK_T_DISCARD, 64, 64, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        assert_file_zero(64 * 512, 64 * 512);
        assert_file_pattern(63 * 512, 512);
        assert_file_pattern(128 * 512, 512);

        r = post_range(0, VIRTIO_BLK_T_WRITE_ZEROES, 300, 17, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        assert_file_zero(300 * 512, 17 * 512);
        assert_file_pattern(299 * 512, 512);
        assert_file_pattern(317 * 512, 512);

        r = post_range(0, VIRTIO_BLK_T_WRITE_ZEROES, 1000, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        assert_file_zero(1000 * 512, 8 * 512);
        assert_file_pattern(1008 * 512, 512);

        struct stat st;

        cr_assert_eq(fstat(file, &st), 0);
        cr_assert_eq(st.st_size, DISK_SIZE, "the size stays");
}

Test(blk, read_past_the_end_is_an_io_error_with_only_the_status_written)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY - 1, 1024, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_IOERR);
        cr_assert_eq(used, 1, "the used length counts only the status byte");
        for (unsigned int i = 0; i < 1024; i++)
                cr_assert_eq(((uint8_t *)gptr(r.data, 1024))[i], 0xcc, "nothing read");
        cr_assert_eq(b.ioerrs, 1);
        /* The queue goes on. */
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY - 2, 1024, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_OK);
        cr_assert_eq(used, 1025);
}

Test(blk, unknown_types_are_unsupported_and_unanswerable_chains_come_back_empty)
{
        uint32_t id, len;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        r = post(0, 0x77, 0, 512, false);
        cr_assert_eq(run1(&r, &len), VIRTIO_BLK_S_UNSUPP);
        cr_assert_eq(len, 1);
        /* A chain with nothing writable: returned with length 0. */
        struct vd_buf only_rd[] = {{galloc(16, 16), 16, false}};
        uint16_t head = vd_add_chain(&drv[0], next_desc[0], only_rd, 1);

        next_desc[0]++;
        kick(0);
        wait_used(0, 1);
        cr_assert(vd_get_used(&drv[0], &id, &len));
        cr_assert_eq(id, head);
        cr_assert_eq(len, 0);
}

Test(blk, read_only_disk_refuses_writes_and_leaves_the_file)
{
        uint64_t feat;
        struct rq r;

        attach(",ro", 1);
        vph_modern_reset(&f);
        feat = vph_modern_device_features(&f);
        cr_assert(feat & (1ull << VIRTIO_BLK_F_RO));
        cr_assert_not(feat & (1ull << VIRTIO_BLK_F_DISCARD));
        /* Even a driver that declines VIRTIO_BLK_F_RO gets IOERR. */
        driver_up(WANT & ~(1ull << VIRTIO_BLK_F_RO));
        r = post(0, VIRTIO_BLK_T_OUT, 0, 4096, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR);
        r = post_range(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR);
        r = post_range(0, VIRTIO_BLK_T_DISCARD, 0, 8, 0);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR);
        assert_file_pattern(0, 8192);
        r = post(0, VIRTIO_BLK_T_IN, 0, 512, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK, "reads still work");
}

Test(blk, queues_complete_independently)
{
        struct rq r[3];

        attach("", 3);
        driver_up(WANT);
        for (unsigned int q = 0; q < 3; q++) {
                r[q] = post(q, VIRTIO_BLK_T_IN, q * 8, 4096, false);
                kick(q);
        }
        for (unsigned int q = 0; q < 3; q++) {
                uint32_t id, len;

                wait_used(q, 1);
                cr_assert(vd_get_used(&drv[q], &id, &len));
                cr_assert_eq(id, r[q].head);
                cr_assert_eq(*(uint8_t *)gptr(r[q].st, 1), VIRTIO_BLK_S_OK);
                cr_assert_gt(b.vp.msix.fired[q + 1], 0, "vector of queue %u", q);
        }
}

Test(blk, a_broken_ring_needs_reset_and_the_device_recovers)
{
        struct rq r;

        attach("", 2);
        driver_up(WANT);
        vd_set_avail_idx(&drv[0], QSZ + 5); /* more than a ring's worth */
        vph_modern_notify(&f, 0, 0);
        for (int i = 0; i < 10; i++)
                vph_poll(&h, 10);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_STATUS, 1) & NEEDS_RESET, NEEDS_RESET);
        cr_assert_eq(b.vp.msix.fired[0], 1, "config interrupt");
        /* Queue 1 is not served while the device waits for its reset... */
        r = post(1, VIRTIO_BLK_T_IN, 0, 512, false);
        kick(1);
        for (int i = 0; i < 10; i++)
                vph_poll(&h, 10);
        cr_assert_eq(pending_used(1), 0);
        /* ...and everything works after one. */
        memset(next_desc, 0, sizeof(next_desc));
        driver_up(WANT);
        r = post(1, VIRTIO_BLK_T_IN, 0, 512, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
}

/* FLUSH completes after every write before it (IOSQE_IO_DRAIN): it is the last used entry. */
Test(blk, flush_completes_after_the_writes_before_it)
{
        enum { N = 32 };
        struct rq w[N], fl;
        uint32_t id, len;

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++) {
                w[i] = post(0, VIRTIO_BLK_T_OUT, i * 128ull, 64 * 1024, true);
                memset(gptr(w[i].data, 64 * 1024), i + 1, 64 * 1024);
        }
        fl = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, true);
        kick(0);
        wait_used(0, N + 1);
        for (unsigned int i = 0; i < N; i++) {
                cr_assert(vd_get_used(&drv[0], &id, &len));
                cr_assert_neq(id, fl.head, "the flush completed before write %u", i);
        }
        cr_assert(vd_get_used(&drv[0], &id, &len));
        cr_assert_eq(id, fl.head);
        cr_assert_eq(*(uint8_t *)gptr(fl.st, 1), VIRTIO_BLK_S_OK);
        for (unsigned int i = 0; i < N; i++)
                cr_assert_eq(*(uint8_t *)gptr(w[i].st, 1), VIRTIO_BLK_S_OK);
}

/* BAD-INPUTS: the disk shrinks while running: the guest sees IOERR, the VMM keeps going. */
Test(blk, a_shrunk_image_gives_io_errors)
{
        uint32_t used;
        struct rq r;

        attach("", 1);
        driver_up(WANT);
        cr_assert_eq(ftruncate(file, DISK_SIZE / 2), 0);
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY - 8, 4096, false);
        cr_assert_eq(run1(&r, &used), VIRTIO_BLK_S_IOERR);
        cr_assert_eq(used, 1);
        r = post(0, VIRTIO_BLK_T_IN, CAPACITY / 2 - 4, 4096, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_IOERR, "a short read is an error");
        r = post(0, VIRTIO_BLK_T_IN, 0, 4096, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
}

/* cache=none: sector-aligned guest buffers go through the O_DIRECT twin. */
Test(blk, cache_none_reads_and_writes_aligned_buffers)
{
        struct rq w, r, u;
        void *ram;

        /* fake_mem's malloc'd RAM is not 512-aligned on the host: give it aligned RAM. */
        cr_assert_eq(posix_memalign(&ram, 4096, RAM_SIZE), 0);
        memset(ram, 0, RAM_SIZE);
        free(h.mem.region[0].host);
        h.mem.region[0].host = ram;
        attach(",cache=none", 1);
        cr_assert_geq(b.direct_fd, 0);
        driver_up(WANT);
        w = post(0, VIRTIO_BLK_T_OUT, 16, 8192, false);
        memset(gptr(w.data, 8192), 0xa7, 8192);
        cr_assert_eq(run1(&w, NULL), VIRTIO_BLK_S_OK);
        r = post(0, VIRTIO_BLK_T_IN, 16, 8192, false);
        cr_assert_eq(run1(&r, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(memcmp(gptr(r.data, 8192), gptr(w.data, 8192), 8192), 0);
        /* An unaligned buffer takes the page cache path, and sees the same data. */
        u = post(0, VIRTIO_BLK_T_IN, 16, 1024, false);
        struct vring_desc *d = &drv[0].desc[(u.head + 1) % QSZ];

        d->addr += 8; /* 512 bytes at +8: inside the 1024-byte buffer */
        d->len = 512;
        cr_assert_eq(run1(&u, NULL), VIRTIO_BLK_S_OK);
        cr_assert_eq(((uint8_t *)gptr(u.data + 8, 1))[0], 0xa7);
        uint8_t buf[8192];

        file_read(16 * 512, buf, sizeof(buf));
        cr_assert_eq(buf[0], 0xa7);
        cr_assert_eq(buf[8191], 0xa7);
}

/* A reset with requests in flight waits for them: nothing reaches the forgotten rings. */
Test(blk, reset_with_requests_in_flight_waits_for_them)
{
        enum { N = 64, LEN = 64 * 1024 };
        struct rq r[N];

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++)
                r[i] = post(0, VIRTIO_BLK_T_IN, (uint64_t)i * (LEN / 512), LEN, true);
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1, "the kick alone");
        cr_assert_eq(b.inflight, N, "submitted, not yet reaped");
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(b.inflight, 0, "the reset waited for every request");
        for (unsigned int i = 0; i < N; i++) {
                const uint8_t *d = gptr(r[i].data, LEN);

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), STATUS_UNSET, "no status after reset");
                for (unsigned int k = 0; k < LEN; k += 4093)
                        cr_assert_eq(d[k], pattern((uint64_t)i * LEN + k),
                                     "the read finished before the reset returned");
        }
        for (int i = 0; i < 20; i++)
                vph_poll(&h, 5);
        cr_assert_eq(vd_used_idx(&drv[0]), 0, "nothing pushed to the old ring");
        cr_assert_eq(b.vp.msix.fired[1], 0);
        /* The slots came back: the device serves a new driver. */
        memset(next_desc, 0, sizeof(next_desc));
        driver_up(WANT);
        struct rq again = post(0, VIRTIO_BLK_T_IN, 0, 512, false);

        cr_assert_eq(run1(&again, NULL), VIRTIO_BLK_S_OK);
        cr_assert_leq(b.nreqs, N + 1);
}

Test(blk, close_finishes_in_flight_writes_and_flushes)
{
        enum { N = 16 };
        struct rq r[N];
        int fd;

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++) {
                r[i] = post(0, VIRTIO_BLK_T_OUT, 2000 + i * 8ull, 4096, false);
                memset(gptr(r[i].data, 4096), 0x30 + i, 4096);
        }
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1);
        cr_assert_eq(b.inflight, N);
        fd = b.fd;
        fdatasync_calls = 0;
        virtio_blk_close(&b);
        b_open = false;
        cr_assert_geq(fdatasync_calls, 1, "flushed at close");
        cr_assert_eq(fdatasync_fd, fd, "the image's fd");
        cr_assert_eq(vd_used_idx(&drv[0]), N, "every write completed to the guest");
        for (unsigned int i = 0; i < N; i++) {
                uint8_t buf[4096];

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), VIRTIO_BLK_S_OK);
                file_read((2000 + i * 8ull) * 512, buf, sizeof(buf));
                for (unsigned int k = 0; k < sizeof(buf); k++)
                        cr_assert_eq(buf[k], 0x30 + i);
        }
}

/*
 * Was a bug (found by tests/fuzz/fuzz_blk as a leak of request slots): a signal interrupting
 * the wait for completions (-EINTR) ended the wait, so the reset returned with reads still
 * writing guest memory, and close abandoned requests (never completed, never freed).
 */
Test(blk, reset_interrupted_by_a_signal_still_waits_for_in_flight_io)
{
        enum { N = 4, LEN = 4096 };
        struct rq r[N];

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++)
                r[i] = post(0, VIRTIO_BLK_T_IN, (uint64_t)i * 8, LEN, false);
        hold_submit = true;
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1, "the kick alone");
        cr_assert_eq(b.inflight, N);
        eintr_waits = 1;
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(eintr_waits, 0, "the reset waited, and the wait was interrupted");
        cr_assert_eq(b.inflight, 0, "the reset went on waiting after the signal");
        for (unsigned int i = 0; i < N; i++) {
                const uint8_t *d = gptr(r[i].data, LEN);

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), STATUS_UNSET, "no status after reset");
                cr_assert_eq(d[LEN - 1], pattern((uint64_t)i * 8 * 512 + LEN - 1),
                             "the read finished before the reset returned");
        }
}

Test(blk, close_interrupted_by_a_signal_still_completes_in_flight_io)
{
        enum { N = 4 };
        struct rq r[N];

        attach("", 1);
        driver_up(WANT);
        for (unsigned int i = 0; i < N; i++) {
                r[i] = post(0, VIRTIO_BLK_T_OUT, 3000 + i * 8ull, 4096, false);
                memset(gptr(r[i].data, 4096), 0x50 + i, 4096);
        }
        hold_submit = true;
        kick(0);
        cr_assert_eq(vph_poll(&h, 1000), 1);
        cr_assert_eq(b.inflight, N);
        eintr_waits = 1;
        virtio_blk_close(&b);
        b_open = false;
        cr_assert_eq(eintr_waits, 0, "close waited, and the wait was interrupted");
        cr_assert_eq(vd_used_idx(&drv[0]), N, "every write completed to the guest");
        for (unsigned int i = 0; i < N; i++) {
                uint8_t buf[4096];

                cr_assert_eq(*(uint8_t *)gptr(r[i].st, 1), VIRTIO_BLK_S_OK);
                file_read((3000 + i * 8ull) * 512, buf, sizeof(buf));
                cr_assert_eq(buf[0], 0x50 + i);
                cr_assert_eq(buf[4095], 0x50 + i);
        }
}

Test(blk, close_of_a_read_only_disk_does_not_flush)
{
        attach(",ro", 1);
        fdatasync_calls = 0;
        virtio_blk_close(&b);
        b_open = false;
        cr_assert_eq(fdatasync_calls, 0);
}

/* More requests than request slots (BLK_MAX_REQS), over several rounds: all complete, memory
 * stays bounded. Five queues of 256 indirect chains each: 1280 in flight at once. */
Test(blk, a_flood_beyond_the_request_slots_completes, .timeout = 60)
{
        enum { ROUNDS = 3, LEN = 512 };

        attach("", MAX_Q);
        driver_up(WANT | (1ull << VIRTIO_RING_F_INDIRECT_DESC));
        cr_assert_gt(MAX_Q * QSZ, BLK_SLOTS);
        for (unsigned int round = 0; round < ROUNDS; round++) {
                static struct rq r[MAX_Q][QSZ];

                heap = HEAP_BASE;
                for (unsigned int q = 0; q < MAX_Q; q++)
                        for (unsigned int i = 0; i < QSZ; i++)
                                r[q][i] = post(q, VIRTIO_BLK_T_IN,
                                               (round * 7919u + q * QSZ + i) % CAPACITY, LEN, true);
                for (unsigned int q = 0; q < MAX_Q; q++)
                        kick(q);
                for (unsigned int q = 0; q < MAX_Q; q++) {
                        wait_used(q, QSZ);
                        for (unsigned int i = 0; i < QSZ; i++) {
                                uint32_t id, len;
                                uint64_t sector = (round * 7919u + q * QSZ + i) % CAPACITY;

                                cr_assert(vd_get_used(&drv[q], &id, &len));
                                cr_assert_lt(id, QSZ);
                                cr_assert_eq(len, LEN + 1);
                                cr_assert_eq(*(uint8_t *)gptr(r[q][id].st, 1), VIRTIO_BLK_S_OK);
                                cr_assert_eq(*(uint8_t *)gptr(r[q][i].data, 1),
                                             pattern(sector * 512));
                        }
                }
                cr_assert_leq(b.nreqs, BLK_SLOTS, "request memory is bounded");
        }
        cr_assert_eq(b.nreqs, BLK_SLOTS, "the flood used every slot");
        cr_assert_eq(b.inflight, 0);
        cr_assert_eq(b.ioerrs, 0);
}

/* --- the legacy transport ---------------------------------------------------------------- */

Test(blk, a_legacy_driver_reads_through_the_pfn_ring)
{
        uint32_t pfn = 0x300, id, len;
        uint64_t desc = (uint64_t)pfn << 12, avail = desc + 16 * QSZ;
        uint64_t used = (avail + 6 + 2 * QSZ + 4095) & ~4095ull;

        attach(",transport=legacy", 1);
        cr_assert_eq(f.device, 0x1001);
        cr_assert_eq(f.revision, 0);
        cr_assert_eq(f.nvndr, 0);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_HOST_FEATURES, 4) & (1u << VIRTIO_BLK_F_FLUSH),
                     1u << VIRTIO_BLK_F_FLUSH);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, 0);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV);
        vph_legacy_write(&f, VIRTIO_PCI_GUEST_FEATURES, 4,
                         vph_legacy_read(&f, VIRTIO_PCI_HOST_FEATURES, 4));
        /* Capacity through the legacy config at 20 (no MSI-X). */
        cr_assert_eq(vph_legacy_read(&f, 20, 4), (uint32_t)CAPACITY);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_SEL, 2, 0);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_QUEUE_NUM, 2), QSZ);
        vd_init(&drv[0], &h.mem, QSZ, desc, avail, used);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_PFN, 4, pfn);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_QUEUE_PFN, 4), pfn);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV | DOK);
        struct rq r = post(0, VIRTIO_BLK_T_IN, 3, 1024, false);

        vd_publish(&drv[0]);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
        wait_used(0, 1);
        cr_assert(vd_get_used(&drv[0], &id, &len));
        cr_assert_eq(len, 1025);
        cr_assert_eq(*(uint8_t *)gptr(r.st, 1), VIRTIO_BLK_S_OK);
        cr_assert_eq(((uint8_t *)gptr(r.data, 1024))[5], pattern(3 * 512 + 5));
        /* INTx: the ISR says "used buffers". */
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_ISR, 1), 1);
}
