/* The command line: `wisp run` options parsed into one struct, with clear errors. */
#ifndef WISP_VMM_OPTIONS_H
#define WISP_VMM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/layout.h"
#include "boot/loader.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_net.h"

#define WISP_VERSION "0.1.0"
#define WISP_DEFAULT_MEM (256ull << 20)
#define WISP_MIN_MEM (8ull << 20)
#define WISP_MAX_MEM (1ull << 40)
#define WISP_MAX_CPUS 254 /* xAPIC ids and the MP table */
#define WISP_MAX_DISKS 8
#define WISP_MAX_NICS 4

enum wisp_cmd { WISP_CMD_RUN, WISP_CMD_HELP, WISP_CMD_VERSION, WISP_CMD_PRINT_SECCOMP };

struct options {
        enum wisp_cmd cmd;
        const char *kernel;
        const char *initrd;
        char cmdline[WISP_CMDLINE_MAX]; /* the user's -p pieces, space-joined */
        unsigned int ncpus;
        uint64_t mem;
        enum boot_entry_pref entry;
        int verbose;
        bool stats;
        bool seccomp;      /* per-thread filters (default on; --seccomp=off, --no-seccomp) */
        bool seccomp_kill; /* --seccomp=kill: the kernel kills, no report */
        struct blk_options disk[WISP_MAX_DISKS];
        unsigned int ndisks;
        struct net_options nic[WISP_MAX_NICS];
        unsigned int nnics;
        bool console_virtio; /* --console virtio: hvc0 carries the console */
        struct vcon_port_options port[VCON_MAX_PORTS];
        unsigned int nports;
};

/*
 * Parses argv (argv[0] is the program). Pure: no output, no exit. Returns 0,
 * or -EINVAL with a message in err that names the option and the value.
 */
int options_parse(int argc, char *const argv[], struct options *o, char *err, size_t errlen);

/*
 * Parses a size: a number with an optional K, M, G or T suffix (binary
 * units, optional "B"/"iB"); a bare number means MiB. 0 or -EINVAL.
 */
int parse_size(const char *s, uint64_t *bytes);

/* The text of `wisp --help`. */
const char *options_usage(void);

#endif
