/* A small table-driven parser for short, long and --long=value options. */
#include "vmm/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
        O_KERNEL,
        O_INITRD,
        O_CMDLINE,
        O_CPUS,
        O_MEM,
        O_ENTRY,
        O_DISK,
        O_NET,
        O_CONSOLE,
        O_PORT,
        O_VERBOSE,
        O_STATS,
        O_SECCOMP,
        O_NO_SECCOMP,
        O_PRINT_SECCOMP,
        O_HELP,
        O_VERSION
};

struct opt_def {
        enum opt_id id;
        char short_name;
        const char *long_name;
        bool has_arg;
};

static const struct opt_def opts[] = {
    {O_KERNEL, 'k', "kernel", true},
    {O_INITRD, 'i', "initrd", true},
    {O_CMDLINE, 'p', "cmdline", true},
    {O_CPUS, 'c', "cpus", true},
    {O_MEM, 'm', "memory", true},
    {O_ENTRY, 0, "entry", true},
    {O_DISK, 'd', "disk", true},
    {O_NET, 'n', "net", true},
    {O_CONSOLE, 0, "console", true},
    {O_PORT, 0, "port", true},
    {O_VERBOSE, 'v', "verbose", false},
    {O_STATS, 0, "stats", false},
    {O_SECCOMP, 0, "seccomp", true},
    {O_NO_SECCOMP, 0, "no-seccomp", false},
    {O_PRINT_SECCOMP, 0, "print-seccomp", false},
    {O_HELP, 'h', "help", false},
    {O_VERSION, 'V', "version", false},
};

static const char usage[] =
    "usage: wisp run -k KERNEL [options]\n"
    "       wisp --help | --version | --print-seccomp\n"
    "\n"
    "Boots a Linux kernel (bzImage or ELF vmlinux) or any PVH/64-bit ELF in a KVM VM.\n"
    "\n"
    "  -k, --kernel PATH    kernel: bzImage, or ELF (PVH note or 64-bit entry)\n"
    "  -i, --initrd PATH    initial ramdisk (initramfs cpio, compressed or not)\n"
    "  -p, --cmdline TEXT   appended to the default kernel command line\n"
    "                       (\"console=ttyS0 reboot=k panic=-1 8250.nr_uarts=1\");\n"
    "                       repeatable; later options override earlier ones\n"
    "  -c, --cpus N         vCPUs, 1.."
    "254"
    " (default 1)\n"
    "  -m, --memory SIZE    guest RAM: number with K/M/G/T suffix, bare = MiB\n"
    "                       (default 256M; at least 8M, a multiple of 1M)\n"
    "      --entry MODE     ELF entry: auto (PVH if the kernel has it), pvh, 64\n"
    "  -d, --disk PATH[,ro][,serial=S][,transport=T][,cache=C]\n"
    "                       virtio-blk disk (raw image or block device), repeatable;\n"
    "                       T: transitional (default), modern, legacy;\n"
    "                       C: writeback (default) or none (O_DIRECT)\n"
    "  -n, --net tap=IFNAME[,mac=M][,transport=T][,queues=N]\n"
    "                       virtio-net on a tap (opened, or created with CAP_NET_ADMIN),\n"
    "                       repeatable; N queue pairs, 1..8\n"
    "      --console serial|virtio\n"
    "                       which device carries the guest console: COM1 (default) or\n"
    "                       virtio-console hvc0 (boot messages stay on COM1 until hvc0\n"
    "                       takes over)\n"
    "      --port NAME=unix:PATH\n"
    "                       a named virtio-console port (/dev/virtio-ports/NAME in the\n"
    "                       guest) served on the Unix socket PATH; repeatable, up to 8\n"
    "  -v, --verbose        more messages (repeat for debug output)\n"
    "      --stats          print exit counts and memory use when the VM stops\n"
    "      --seccomp MODE   what a forbidden system call does: trap (default: wisp\n"
    "                       names the thread and the call, restores the terminal and\n"
    "                       exits 159), kill (the kernel kills wisp at the call:\n"
    "                       SIGSYS, no report), off (no filters; debugging: a guest\n"
    "                       that escapes into wisp is then unconfined)\n"
    "      --no-seccomp     the same as --seccomp=off\n"
    "      --print-seccomp  print each thread's allowed system calls and exit\n"
    "  -h, --help           this text\n"
    "  -V, --version        wisp's version\n"
    "\n"
    "Console: the guest's COM1 is wired to stdin/stdout. On a terminal, input is raw\n"
    "and the escape key is Ctrl-A: Ctrl-A x stops the VM, Ctrl-A Ctrl-A sends Ctrl-A.\n"
    "\n"
    "Exit status: 0 the guest rebooted or powered off; N the guest wrote N to the\n"
    "debug-exit port 0x501; 124 the guest crashed (triple fault, KVM error);\n"
    "125 wisp failed (options, files, KVM); 128+N stopped by signal N\n"
    "(Ctrl-A x counts as SIGINT: 130; 159 a wisp thread made a system call its\n"
    "seccomp filter forbids).\n";

const char *options_usage(void)
{
        return usage;
}

int parse_size(const char *s, uint64_t *bytes)
{
        char *end;
        unsigned long long v;
        unsigned int shift = 20;
        bool suffix = true;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -EINVAL;
        switch (*end) {
        case 'k':
        case 'K':
                shift = 10;
                end++;
                break;
        case 'm':
        case 'M':
                shift = 20;
                end++;
                break;
        case 'g':
        case 'G':
                shift = 30;
                end++;
                break;
        case 't':
        case 'T':
                shift = 40;
                end++;
                break;
        case '\0':
                suffix = false;
                break;
        default:
                return -EINVAL;
        }
        if (suffix && (!strcmp(end, "B") || !strcmp(end, "iB")))
                end += strlen(end);
        if (*end)
                return -EINVAL;
        if (v > (UINT64_MAX >> shift))
                return -EINVAL;
        *bytes = (uint64_t)v << shift;
        return 0;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned int *out)
{
        char *end;
        unsigned long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -EINVAL;
        *out = (unsigned int)v;
        return 0;
}

static const struct opt_def *lookup(const char *arg, const char **inline_val)
{
        *inline_val = NULL;
        if (arg[0] == '-' && arg[1] == '-') {
                const char *name = arg + 2;
                size_t n = strcspn(name, "=");

                for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
                        if (strlen(opts[i].long_name) == n &&
                            !strncmp(name, opts[i].long_name, n)) {
                                if (name[n] == '=')
                                        *inline_val = name + n + 1;
                                return &opts[i];
                        }
                return NULL;
        }
        for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
                if (opts[i].short_name && arg[1] == opts[i].short_name) {
                        if (arg[2])
                                *inline_val = arg + 2;
                        return &opts[i];
                }
        return NULL;
}

static int append_cmdline(struct options *o, const char *v, char *err, size_t errlen)
{
        size_t have = strlen(o->cmdline);
        size_t add = strlen(v);

        if (have + !!have + add + 1 > sizeof(o->cmdline)) {
                snprintf(err, errlen, "option -p/--cmdline: command line longer than %zu bytes",
                         sizeof(o->cmdline) - 1);
                return -EINVAL;
        }
        if (have)
                o->cmdline[have++] = ' ';
        memcpy(o->cmdline + have, v, add + 1);
        return 0;
}

static int apply(struct options *o, const struct opt_def *d, const char *name, const char *v,
                 char *err, size_t errlen)
{
        switch (d->id) {
        case O_KERNEL:
                o->kernel = v;
                return 0;
        case O_INITRD:
                o->initrd = v;
                return 0;
        case O_CMDLINE:
                return append_cmdline(o, v, err, errlen);
        case O_CPUS:
                if (parse_uint(v, 1, WISP_MAX_CPUS, &o->ncpus) == 0)
                        return 0;
                snprintf(err, errlen, "option %s: '%s' is not a CPU count from 1 to %d", name, v,
                         WISP_MAX_CPUS);
                return -EINVAL;
        case O_MEM:
                if (parse_size(v, &o->mem) < 0) {
                        snprintf(err, errlen, "option %s: '%s' is not a size (try 512M or 2G)",
                                 name, v);
                        return -EINVAL;
                }
                if (o->mem < WISP_MIN_MEM || o->mem > WISP_MAX_MEM || o->mem % (1ull << 20)) {
                        snprintf(err, errlen,
                                 "option %s: '%s' must be a multiple of 1M from 8M to 1T", name, v);
                        return -EINVAL;
                }
                return 0;
        case O_ENTRY:
                if (!strcmp(v, "auto"))
                        o->entry = ENTRY_AUTO;
                else if (!strcmp(v, "pvh"))
                        o->entry = ENTRY_PVH;
                else if (!strcmp(v, "64"))
                        o->entry = ENTRY_64;
                else {
                        snprintf(err, errlen, "option %s: '%s' is not auto, pvh or 64", name, v);
                        return -EINVAL;
                }
                return 0;
        case O_DISK:
                if (o->ndisks == WISP_MAX_DISKS) {
                        snprintf(err, errlen, "option %s: at most %d disks", name, WISP_MAX_DISKS);
                        return -EINVAL;
                }
                return blk_options_parse(v, &o->disk[o->ndisks++], err, errlen);
        case O_NET:
                if (o->nnics == WISP_MAX_NICS) {
                        snprintf(err, errlen, "option %s: at most %d network devices", name,
                                 WISP_MAX_NICS);
                        return -EINVAL;
                }
                return net_options_parse(v, &o->nic[o->nnics++], err, errlen);
        case O_CONSOLE:
                if (!strcmp(v, "serial") || !strcmp(v, "virtio")) {
                        o->console_virtio = !strcmp(v, "virtio");
                        return 0;
                }
                snprintf(err, errlen, "option %s: '%s' is not serial or virtio", name, v);
                return -EINVAL;
        case O_PORT:
                if (o->nports == VCON_MAX_PORTS) {
                        snprintf(err, errlen, "option %s: at most %d ports", name, VCON_MAX_PORTS);
                        return -EINVAL;
                }
                return vcon_port_parse(v, &o->port[o->nports++], err, errlen);
        case O_VERBOSE:
                o->verbose++;
                return 0;
        case O_STATS:
                o->stats = true;
                return 0;
        case O_SECCOMP:
                if (strcmp(v, "trap") && strcmp(v, "kill") && strcmp(v, "off")) {
                        snprintf(err, errlen, "option %s: '%s' is not trap, kill or off", name, v);
                        return -EINVAL;
                }
                o->seccomp = strcmp(v, "off") != 0;
                o->seccomp_kill = !strcmp(v, "kill");
                return 0;
        case O_NO_SECCOMP:
                o->seccomp = false;
                o->seccomp_kill = false;
                return 0;
        case O_PRINT_SECCOMP:
                o->cmd = WISP_CMD_PRINT_SECCOMP;
                return 0;
        case O_HELP:
                o->cmd = WISP_CMD_HELP;
                return 0;
        case O_VERSION:
                o->cmd = WISP_CMD_VERSION;
                return 0;
        }
        return 0;
}

/* Applies each letter of a cluster of value-less short options ("vv"). */
static int apply_cluster(struct options *o, const char *letters, char *err, size_t errlen)
{
        for (const char *c = letters; *c; c++) {
                const struct opt_def *d = NULL;
                char name[3] = {'-', *c, 0};

                for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
                        if (opts[i].short_name == *c)
                                d = &opts[i];
                if (!d || d->has_arg) {
                        snprintf(err, errlen, "option '-%s': '%s' is not a flag", letters, name);
                        return -EINVAL;
                }
                apply(o, d, name, NULL, err, errlen);
        }
        return 0;
}

int options_parse(int argc, char *const argv[], struct options *o, char *err, size_t errlen)
{
        int i = 1;
        bool run = false;

        memset(o, 0, sizeof(*o));
        o->cmd = WISP_CMD_RUN;
        o->ncpus = 1;
        o->mem = WISP_DEFAULT_MEM;
        o->seccomp = true;
        if (argc > 1 && !strcmp(argv[1], "run")) {
                run = true;
                i = 2;
        } else if (argc > 1 && argv[1][0] != '-') {
                snprintf(err, errlen, "unknown command '%s' (try 'wisp --help')", argv[1]);
                return -EINVAL;
        }
        for (; i < argc; i++) {
                const char *arg = argv[i], *val;
                const struct opt_def *d;
                int r;

                if (arg[0] != '-' || arg[1] == '\0') {
                        snprintf(err, errlen, "unexpected argument '%s'", arg);
                        return -EINVAL;
                }
                d = lookup(arg, &val);
                if (!d) {
                        snprintf(err, errlen, "unknown option '%s' (try 'wisp --help')", arg);
                        return -EINVAL;
                }
                if (!d->has_arg && val && arg[1] != '-') {
                        /* Clustered flags: -vv is -v -v. */
                        r = apply_cluster(o, arg + 1, err, errlen);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!d->has_arg && val) {
                        snprintf(err, errlen, "option '%s' takes no value", arg);
                        return -EINVAL;
                }
                if (d->has_arg && !val) {
                        if (i + 1 >= argc) {
                                snprintf(err, errlen, "option '%s' needs a value", arg);
                                return -EINVAL;
                        }
                        val = argv[++i];
                }
                char name[32];

                if (arg[1] == '-')
                        snprintf(name, sizeof(name), "--%s", d->long_name);
                else
                        snprintf(name, sizeof(name), "-%c", d->short_name);
                r = apply(o, d, name, val, err, errlen);
                if (r < 0)
                        return r;
        }
        if (o->cmd != WISP_CMD_RUN)
                return 0;
        if (!run) {
                snprintf(err, errlen,
                         "no command given (try 'wisp run -k KERNEL' or 'wisp --help')");
                return -EINVAL;
        }
        if (!o->kernel) {
                snprintf(err, errlen, "no kernel given: wisp run -k KERNEL");
                return -EINVAL;
        }
        return 0;
}
