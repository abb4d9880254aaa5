/* Fuzz target: the command-line parser (options_parse and parse_size) on argv split at NULs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "vmm/options.h"

/*
 * Input: the arguments after argv[0] ("wisp"), separated by NUL bytes; each is its own
 * malloc'd string so that reading past one is caught. The checks: a refusal comes with a
 * message, and what a success fills in is within its bounds and terminated.
 */
#define MAX_ARGS 64

static void check_parsed(const struct options *o)
{
        FUZZ_CHECK(strnlen(o->cmdline, sizeof(o->cmdline)) < sizeof(o->cmdline));
        FUZZ_CHECK(o->ndisks <= WISP_MAX_DISKS && o->nnics <= WISP_MAX_NICS);
        FUZZ_CHECK(o->nports <= VCON_MAX_PORTS);
        if (o->cmd != WISP_CMD_RUN)
                return;
        FUZZ_CHECK(o->kernel != NULL);
        FUZZ_CHECK(o->ncpus >= 1 && o->ncpus <= WISP_MAX_CPUS);
        FUZZ_CHECK(o->mem >= WISP_MIN_MEM && o->mem <= WISP_MAX_MEM);
        for (unsigned int i = 0; i < o->ndisks; i++) {
                FUZZ_CHECK(strnlen(o->disk[i].path, sizeof(o->disk[i].path)) <
                           sizeof(o->disk[i].path));
                FUZZ_CHECK(o->disk[i].path[0] != 0);
                FUZZ_CHECK(strnlen(o->disk[i].serial, sizeof(o->disk[i].serial)) <
                           sizeof(o->disk[i].serial));
        }
        for (unsigned int i = 0; i < o->nnics; i++) {
                FUZZ_CHECK(strnlen(o->nic[i].ifname, sizeof(o->nic[i].ifname)) <
                           sizeof(o->nic[i].ifname));
                FUZZ_CHECK(o->nic[i].queues >= 1 && o->nic[i].queues <= NET_MAX_PAIRS);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct options o;
        char *argv[MAX_ARGS + 2];
        char err[256];
        int argc = 0, r;
        size_t start = 0;

        argv[argc++] = strdup("wisp");
        for (size_t i = 0; i <= size && argc <= MAX_ARGS; i++) {
                if (i < size && data[i])
                        continue;
                argv[argc] = malloc(i - start + 1);
                if (!argv[argc])
                        abort();
                memcpy(argv[argc], data + start, i - start);
                argv[argc][i - start] = 0;
                argc++;
                start = i + 1;
        }
        argv[argc] = NULL;

        memset(err, 0x5a, sizeof(err));
        r = options_parse(argc, argv, &o, err, sizeof(err));
        if (r == 0) {
                check_parsed(&o);
        } else {
                FUZZ_CHECK(r == -EINVAL);
                FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err) && err[0]);
        }
        for (int i = 1; i < argc; i++) {
                uint64_t bytes;

                (void)parse_size(argv[i], &bytes);
        }
        for (int i = 0; i < argc; i++)
                free(argv[i]);
        return 0;
}
