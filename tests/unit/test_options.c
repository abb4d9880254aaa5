/* Unit tests for vmm/options.c: every option form, defaults, errors and parse_size. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/options.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static struct options o;
static char err[512];

static int parse_argv(const char **args)
{
        int argc = 0;

        while (args[argc])
                argc++;
        memset(err, 0, sizeof(err));
        return options_parse(argc, (char *const *)args, &o, err, sizeof(err));
}

/* P("run", "-k", "x") parses "wisp run -k x". */
#define P(...) parse_argv((const char *[]){"wisp", __VA_ARGS__, NULL})

/* Asserts a failure whose message names both the option and the value. */
#define FAILS_NAMING(opt, val, ...)                                                                \
        do {                                                                                       \
                cr_assert_eq(P(__VA_ARGS__), -EINVAL, "accepted: %s %s", opt, val);                \
                cr_assert(strstr(err, opt), "err does not name %s: %s", opt, err);                 \
                cr_assert(strstr(err, val), "err does not name '%s': %s", val, err);               \
        } while (0)

Test(options, defaults)
{
        cr_assert_eq(P("run", "-k", "vmlinux"), 0, "%s", err);
        cr_assert_eq(o.cmd, WISP_CMD_RUN);
        cr_assert_str_eq(o.kernel, "vmlinux");
        cr_assert_null(o.initrd);
        cr_assert_str_eq(o.cmdline, "");
        cr_assert_eq(o.ncpus, 1);
        cr_assert_eq(o.mem, 256 * MiB);
        cr_assert_eq(o.entry, ENTRY_AUTO);
        cr_assert_eq(o.verbose, 0);
        cr_assert_not(o.stats);
        cr_assert(o.seccomp);
        cr_assert_not(o.seccomp_kill);
}

Test(options, kernel_in_every_form)
{
        cr_assert_eq(P("run", "-k", "a"), 0, "%s", err);
        cr_assert_str_eq(o.kernel, "a");
        cr_assert_eq(P("run", "-kb"), 0, "%s", err);
        cr_assert_str_eq(o.kernel, "b");
        cr_assert_eq(P("run", "--kernel", "c"), 0, "%s", err);
        cr_assert_str_eq(o.kernel, "c");
        cr_assert_eq(P("run", "--kernel=d/e=f"), 0, "%s", err);
        cr_assert_str_eq(o.kernel, "d/e=f", "only the first '=' splits");
}

Test(options, initrd_in_every_form)
{
        const char *forms[][3] = {{"-i", "x.cpio", NULL},
                                  {"-ix.cpio", NULL, NULL},
                                  {"--initrd", "x.cpio", NULL},
                                  {"--initrd=x.cpio", NULL, NULL}};

        for (size_t i = 0; i < 4; i++) {
                cr_assert_eq(P("run", "-k", "k", forms[i][0], forms[i][1]), 0, "%s: %s",
                             forms[i][0], err);
                cr_assert_str_eq(o.initrd, "x.cpio", "form %s", forms[i][0]);
        }
}

Test(options, cpus_in_every_form)
{
        cr_assert_eq(P("run", "-k", "k", "-c", "2"), 0, "%s", err);
        cr_assert_eq(o.ncpus, 2);
        cr_assert_eq(P("run", "-k", "k", "-c3"), 0, "%s", err);
        cr_assert_eq(o.ncpus, 3);
        cr_assert_eq(P("run", "-k", "k", "--cpus", "4"), 0, "%s", err);
        cr_assert_eq(o.ncpus, 4);
        cr_assert_eq(P("run", "-k", "k", "--cpus=254"), 0, "%s", err);
        cr_assert_eq(o.ncpus, 254);
        cr_assert_eq(P("run", "-k", "k", "-c", "1"), 0, "%s", err);
        cr_assert_eq(o.ncpus, 1);
}

Test(options, memory_in_every_form)
{
        cr_assert_eq(P("run", "-k", "k", "-m", "512M"), 0, "%s", err);
        cr_assert_eq(o.mem, 512 * MiB);
        cr_assert_eq(P("run", "-k", "k", "-m2G"), 0, "%s", err);
        cr_assert_eq(o.mem, 2 * GiB);
        cr_assert_eq(P("run", "-k", "k", "--memory", "1024"), 0, "%s", err);
        cr_assert_eq(o.mem, 1 * GiB, "a bare number is MiB");
        cr_assert_eq(P("run", "-k", "k", "--memory=8M"), 0, "%s", err);
        cr_assert_eq(o.mem, 8 * MiB, "the minimum");
        cr_assert_eq(P("run", "-k", "k", "-m", "1T"), 0, "%s", err);
        cr_assert_eq(o.mem, 1ull << 40, "the maximum");
        cr_assert_eq(P("run", "-k", "k", "-m", "8192K"), 0, "%s", err);
        cr_assert_eq(o.mem, 8 * MiB);
        cr_assert_eq(P("run", "-k", "k", "-m", "5GiB"), 0, "%s", err);
        cr_assert_eq(o.mem, 5 * GiB);
}

Test(options, entry_in_every_form)
{
        cr_assert_eq(P("run", "-k", "k", "--entry", "pvh"), 0, "%s", err);
        cr_assert_eq(o.entry, ENTRY_PVH);
        cr_assert_eq(P("run", "-k", "k", "--entry=64"), 0, "%s", err);
        cr_assert_eq(o.entry, ENTRY_64);
        cr_assert_eq(P("run", "-k", "k", "--entry=64", "--entry", "auto"), 0, "%s", err);
        cr_assert_eq(o.entry, ENTRY_AUTO);
        FAILS_NAMING("--entry", "32", "run", "-k", "k", "--entry", "32");
        FAILS_NAMING("--entry", "PVH", "run", "-k", "k", "--entry=PVH");
}

Test(options, flags)
{
        cr_assert_eq(P("run", "-k", "k", "-v"), 0, "%s", err);
        cr_assert_eq(o.verbose, 1);
        cr_assert_eq(P("run", "-k", "k", "--verbose", "-v"), 0, "%s", err);
        cr_assert_eq(o.verbose, 2);
        cr_assert_eq(P("run", "-k", "k", "-vv"), 0, "%s", err);
        cr_assert_eq(o.verbose, 2, "clustered flags");
        cr_assert_eq(P("run", "-k", "k", "--stats"), 0, "%s", err);
        cr_assert(o.stats);
        cr_assert_eq(P("run", "-k", "k", "--stats=yes"), -EINVAL);
        cr_assert(strstr(err, "--stats"), "err: %s", err);
        cr_assert_eq(P("run", "-k", "k", "--verbose=2"), -EINVAL);
        cr_assert(strstr(err, "--verbose"), "err: %s", err);
        cr_assert_eq(P("run", "-k", "k", "-vk"), -EINVAL, "-k is not a flag");
        cr_assert(strstr(err, "-vk"), "err: %s", err);
}

Test(options, seccomp_modes)
{
        cr_assert_eq(P("run", "-k", "k", "--seccomp=trap"), 0, "%s", err);
        cr_assert(o.seccomp && !o.seccomp_kill);
        cr_assert_eq(P("run", "-k", "k", "--seccomp", "kill"), 0, "%s", err);
        cr_assert(o.seccomp && o.seccomp_kill);
        cr_assert_eq(P("run", "-k", "k", "--seccomp=off"), 0, "%s", err);
        cr_assert(!o.seccomp && !o.seccomp_kill);
        cr_assert_eq(P("run", "-k", "k", "--seccomp=kill", "--no-seccomp"), 0, "%s", err);
        cr_assert(!o.seccomp && !o.seccomp_kill, "the later option wins");
        cr_assert_eq(P("run", "-k", "k", "--no-seccomp", "--seccomp=kill"), 0, "%s", err);
        cr_assert(o.seccomp && o.seccomp_kill, "the later option wins");
        FAILS_NAMING("--seccomp", "log", "run", "-k", "k", "--seccomp=log");
        FAILS_NAMING("--seccomp", "", "run", "-k", "k", "--seccomp=");
}

Test(options, help_and_version)
{
        const char *help[] = {"-h", "--help"};
        const char *version[] = {"-V", "--version"};

        for (int i = 0; i < 2; i++) {
                cr_assert_eq(P(help[i]), 0, "%s: %s", help[i], err);
                cr_assert_eq(o.cmd, WISP_CMD_HELP, "%s", help[i]);
                cr_assert_eq(P(version[i]), 0, "%s: %s", version[i], err);
                cr_assert_eq(o.cmd, WISP_CMD_VERSION, "%s", version[i]);
        }
        cr_assert_eq(P("run", "--help"), 0, "help needs no kernel: %s", err);
        cr_assert_eq(o.cmd, WISP_CMD_HELP);
        cr_assert_eq(P("run", "-k", "k", "--version"), 0, "%s", err);
        cr_assert_eq(o.cmd, WISP_CMD_VERSION);
        cr_assert_eq(P("--help=all"), -EINVAL);
        cr_assert(strstr(err, "--help"), "err: %s", err);
        cr_assert(strstr(options_usage(), "--kernel"));
        cr_assert(strstr(options_usage(), "--memory"));
        cr_assert(strstr(options_usage(), "Ctrl-A x"));
}

Test(options, cmdline_pieces_join_with_spaces)
{
        cr_assert_eq(P("run", "-k", "k", "-p", "console=ttyS0", "--cmdline", "quiet loglevel=3",
                       "--cmdline=init=/bin/sh", "-pro"),
                     0, "%s", err);
        cr_assert_str_eq(o.cmdline, "console=ttyS0 quiet loglevel=3 init=/bin/sh ro");
        cr_assert_eq(P("run", "-k", "k", "-p", "-x"), 0, "a value may start with '-': %s", err);
        cr_assert_str_eq(o.cmdline, "-x");
}

Test(options, cmdline_length_limit)
{
        static char a[WISP_CMDLINE_MAX + 1], b[WISP_CMDLINE_MAX];

        memset(a, 'a', WISP_CMDLINE_MAX - 1);
        a[WISP_CMDLINE_MAX - 1] = 0;
        cr_assert_eq(P("run", "-k", "k", "-p", a), 0, "4095 bytes fit: %s", err);
        cr_assert_eq(strlen(o.cmdline), WISP_CMDLINE_MAX - 1);
        a[WISP_CMDLINE_MAX - 1] = 'a';
        a[WISP_CMDLINE_MAX] = 0;
        cr_assert_eq(P("run", "-k", "k", "-p", a), -EINVAL, "4096 bytes do not");
        cr_assert(strstr(err, "cmdline"), "err: %s", err);

        memset(a, 'a', 2047);
        a[2047] = 0;
        memset(b, 'b', 2047);
        b[2047] = 0;
        cr_assert_eq(P("run", "-k", "k", "-p", a, "-p", b), 0, "2047 + space + 2047: %s", err);
        cr_assert_eq(strlen(o.cmdline), 4095);
        cr_assert_eq(o.cmdline[2047], ' ');
        b[2047] = 'b';
        b[2048] = 0;
        cr_assert_eq(P("run", "-k", "k", "-p", a, "-p", b), -EINVAL, "one byte too many");
}

Test(options, later_values_win)
{
        cr_assert_eq(P("run", "-k", "a", "-k", "b", "-m", "1G", "-m", "2G", "-c", "2", "-c", "3"),
                     0, "%s", err);
        cr_assert_str_eq(o.kernel, "b");
        cr_assert_eq(o.mem, 2 * GiB);
        cr_assert_eq(o.ncpus, 3);
}

Test(options, unknown_options)
{
        FAILS_NAMING("--bogus", "--bogus", "run", "-k", "k", "--bogus");
        FAILS_NAMING("-z", "-z", "run", "-k", "k", "-z");
        FAILS_NAMING("--kern", "--kern", "run", "--kern", "x"); /* no abbreviations */
        FAILS_NAMING("--kernelx", "--kernelx", "run", "--kernelx=y");
        FAILS_NAMING("--", "--", "run", "-k", "k", "--");
}

Test(options, missing_values)
{
        const char *opts[] = {"-k", "--kernel", "-i", "--initrd", "-p",     "--cmdline",
                              "-c", "--cpus",   "-m", "--memory", "--entry"};

        for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
                cr_assert_eq(P("run", "-k", "k", opts[i]), -EINVAL, "%s without a value", opts[i]);
                cr_assert(strstr(err, opts[i]), "err does not name %s: %s", opts[i], err);
        }
}

Test(options, bad_cpu_counts)
{
        const char *bad[] = {"0",
                             "255",
                             "abc",
                             "1x",
                             "-1",
                             "+2",
                             " 2",
                             "2 ",
                             "1000",
                             "4294967297",
                             "18446744073709551617",
                             "0x2"};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                FAILS_NAMING("-c", bad[i], "run", "-k", "k", "-c", bad[i]);
                FAILS_NAMING("--cpus", bad[i], "run", "-k", "k", "--cpus", bad[i]);
        }
        cr_assert_eq(P("run", "-k", "k", "-c", ""), -EINVAL, "empty");
        cr_assert(strstr(err, "-c"), "err: %s", err);
}

Test(options, bad_memory_sizes)
{
        const char *bad[] = {"0",   "3Q", "1.5G", "7M",   "1025K", "99999999999T", "2T", "1025G",
                             "8M1", "G",  "-8G",  "8GB!", "0x100", "1025M ",       "8 M"};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                FAILS_NAMING("-m", bad[i], "run", "-k", "k", "-m", bad[i]);
                FAILS_NAMING("--memory", bad[i], "run", "-k", "k", "--memory", bad[i]);
        }
        cr_assert_eq(P("run", "-k", "k", "-m", ""), -EINVAL, "empty");
        cr_assert(strstr(err, "-m"), "err: %s", err);
        cr_assert_eq(P("run", "-k", "k", "--memory="), -EINVAL, "empty after '='");
        cr_assert(strstr(err, "--memory"), "err: %s", err);
}

Test(options, commands)
{
        cr_assert_eq(P("run"), -EINVAL);
        cr_assert(strstr(err, "kernel"), "no kernel: %s", err);
        cr_assert_eq(P("start", "-k", "k"), -EINVAL);
        cr_assert(strstr(err, "start"), "names the command: %s", err);
        cr_assert_eq(P("-k", "k"), -EINVAL, "no command");
        cr_assert_neq(err[0], 0);
        cr_assert_eq(parse_argv((const char *[]){"wisp", NULL}), -EINVAL, "no arguments at all");
        cr_assert_neq(err[0], 0);
        cr_assert_eq(P("run", "-k", "k", "extra"), -EINVAL);
        cr_assert(strstr(err, "extra"), "err: %s", err);
        cr_assert_eq(P("run", "-k", "k", "-"), -EINVAL, "a lone '-'");
}

/* ---- parse_size ---- */

Test(parse_size, units)
{
        const struct {
                const char *s;
                uint64_t v;
        } ok[] = {
            {"0", 0},
            {"1", MiB},
            {"256", 256 * MiB},
            {"1K", 1024},
            {"1k", 1024},
            {"4M", 4 * MiB},
            {"4m", 4 * MiB},
            {"3G", 3 * GiB},
            {"3g", 3 * GiB},
            {"2T", 2ull << 40},
            {"2t", 2ull << 40},
            {"4MiB", 4 * MiB},
            {"4MB", 4 * MiB},
            {"2GB", 2 * GiB},
            {"2GiB", 2 * GiB},
            {"16KiB", 16 * 1024},
            {"007M", 7 * MiB},
            {"16777215T", 16777215ull << 40},
            {"17592186044415", 17592186044415ull << 20},
        };

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                uint64_t v = 1;

                cr_assert_eq(parse_size(ok[i].s, &v), 0, "'%s' refused", ok[i].s);
                cr_assert_eq(v, ok[i].v, "'%s' = %llu", ok[i].s, (unsigned long long)v);
        }
}

Test(parse_size, refused)
{
        const char *bad[] = {"",
                             "abc",
                             "1.5G",
                             "3Q",
                             "1 G",
                             "G",
                             "-1",
                             "+1",
                             " 1",
                             "1B",
                             "1iB",
                             "1Gb",
                             "1KIB",
                             "1MM",
                             "1MiBs",
                             "99999999999T",
                             "16777216T",
                             "17592186044416",
                             "18446744073709551616K",
                             "0x10"};

        cr_assert_eq(parse_size(NULL, &(uint64_t){0}), -EINVAL);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint64_t v = 12345;

                cr_assert_eq(parse_size(bad[i], &v), -EINVAL, "'%s' accepted as %llu", bad[i],
                             (unsigned long long)v);
                cr_assert_eq(v, 12345, "'%s': output written on failure", bad[i]);
        }
}
