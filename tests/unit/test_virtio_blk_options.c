/* Unit tests for devices/virtio_blk.c + blk_file.c: --disk options, and opening the image. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "virtio_blk_fixture.h"

TestSuite(blk_opts);
TestSuite(blk_open, .init = setup, .fini = teardown);

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
