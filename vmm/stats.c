/* --stats: exit counts per vCPU and wisp's memory use net of guest RAM. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/vm.h"

/*
 * Bytes of guest RAM resident in wisp's mappings, from /proc/self/smaps.
 * (mincore() would also count pages the guest only read, which map the
 * shared zero page and cost nothing.)
 */
static unsigned long long guest_resident(const struct guest_mem *mem, int fd)
{
        unsigned long long total = 0, start, end, kib;
        bool in_guest = false;
        char line[256];
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

        if (!f) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "%llx-%llx ", &start, &end) == 2) {
                        in_guest = false;
                        for (unsigned int i = 0; i < mem->nr; i++)
                                if (start >= (unsigned long long)(uintptr_t)mem->region[i].host &&
                                    end <= (unsigned long long)(uintptr_t)mem->region[i].host +
                                               mem->region[i].size)
                                        in_guest = true;
                } else if (in_guest && sscanf(line, "Rss: %llu kB", &kib) == 1) {
                        total += kib << 10;
                }
        }
        fclose(f);
        return total;
}

/* Current resident set size in bytes, from /proc/self/statm. */
static unsigned long long rss_now(int fd)
{
        unsigned long long size = 0, resident = 0;
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

        if (!f && fd >= 0)
                close(fd);
        if (f) {
                if (fscanf(f, "%llu %llu", &size, &resident) != 2)
                        resident = 0;
                fclose(f);
        }
        return resident * (unsigned long long)sysconf(_SC_PAGESIZE);
}

int stats_open(struct vm *vm)
{
        /* Opened before the seccomp filters load: main may not open files later. */
        vm->stats_fd[0] = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
        vm->stats_fd[1] = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        return vm->stats_fd[0] < 0 || vm->stats_fd[1] < 0 ? -errno : 0;
}

void stats_print(struct vm *vm)
{
        struct rusage ru;
        unsigned long long guest = guest_resident(&vm->kvm.mem, vm->stats_fd[0]),
                           rss = rss_now(vm->stats_fd[1]);

        vm->stats_fd[0] = vm->stats_fd[1] = -1; /* closed by the readers */

        for (unsigned int i = 0; i < vm->ncpus; i++) {
                const struct vcpu_stats *s = &vm->cpu[i].stats;

                wisp_log(LOG_ERROR, "stats: vCPU %u: %lu exits (%lu port I/O, %lu MMIO, %lu other)",
                         i, s->exits, s->io, s->mmio, s->other);
        }
        wisp_log(LOG_ERROR, "stats: unclaimed accesses: %lu port, %lu MMIO",
                 atomic_load(&vm->pio.unclaimed), atomic_load(&vm->mmio.unclaimed));
        for (unsigned int i = 0; i < vm->ndisks; i++)
                wisp_log(LOG_ERROR, "stats: disk %u (%s): %lu requests, %lu with an error status",
                         i, vm->disk[i].opt.path, vm->disk[i].requests, vm->disk[i].ioerrs);
        for (unsigned int i = 0; i < vm->nnics; i++) {
                const struct net_stats *n = &vm->nic[i].stats;

                wisp_log(LOG_ERROR,
                         "stats: net %u (%s): tx %lu frames, %lu dropped; rx %lu frames, %lu "
                         "dropped; %lu tap errors",
                         i, vm->nic[i].opt.ifname, n->tx_frames, n->tx_dropped, n->rx_frames,
                         n->rx_dropped, n->tap_errors);
        }
        getrusage(RUSAGE_SELF, &ru);
        wisp_log(LOG_ERROR,
                 "stats: memory: rss %llu KiB, guest RAM touched %llu KiB, wisp's own %llu KiB, "
                 "peak rss %ld KiB",
                 rss >> 10, guest >> 10, (rss > guest ? rss - guest : 0) >> 10, ru.ru_maxrss);
}
