/* --print-seccomp: each thread class's allowlist, with why each entry is there. */
#include "vmm/sandbox.h"

static const char *arg_note(enum sandbox_args chk)
{
        switch (chk) {
        case SANDBOX_ARGS_NO_EXEC:
                return " [prot without PROT_EXEC]";
        case SANDBOX_ARGS_MADV_FREE:
                return " [MADV_FREE, MADV_DONTNEED]";
        case SANDBOX_ARGS_FATAL_SIGNAL:
                return " [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT]";
        case SANDBOX_ARGS_KICK_SIGNAL:
                return " [SIGUSR1]";
        case SANDBOX_ARGS_IOCTL:
                return " [requests below]";
        default:
                return "";
        }
}

/* Distinct system calls in a class: a call in two lists (tkill) counts once. */
static size_t count_calls(const struct sandbox_list *const *l, size_t n)
{
        size_t count = 0;

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < l[i]->ncalls; j++) {
                        bool seen = false;

                        for (size_t pi = 0; pi <= i && !seen; pi++)
                                for (size_t pj = 0; pj < (pi == i ? j : l[pi]->ncalls); pj++)
                                        if (l[pi]->calls[pj].nr == l[i]->calls[j].nr)
                                                seen = true;
                        count += !seen;
                }
        return count;
}

void sandbox_print(FILE *f, const struct sandbox_config *cfg)
{
        fprintf(f, "wisp seccomp filters, one per thread class, loaded before the first "
                   "KVM_RUN.\n");
        if (cfg->kill)
                fprintf(f, "Any other system call (--seccomp=kill): the kernel kills the "
                           "process (SIGSYS, status 159);\nthe call never runs.\n");
        else
                fprintf(f, "Any other system call: trap -> wisp reports the thread and the "
                           "call, restores the\nterminal and exits with status 159 (as a "
                           "kill by SIGSYS); the call never runs.\n");
        fprintf(f, "Other ABIs (i386, x32): the process is killed.\n");
        for (int c = 0; c < SANDBOX_CLASSES; c++) {
                const struct sandbox_list *l[4];
                size_t n = sandbox_lists((enum sandbox_class)c, cfg, l);

                fprintf(f, "\n%s thread: %zu system calls\n", sandbox_class_name(c),
                        count_calls(l, n));
                for (size_t i = 0; i < n; i++)
                        for (size_t j = 0; j < l[i]->ncalls; j++)
                                fprintf(f, "  %-16s %s%s\n", l[i]->calls[j].name,
                                        l[i]->calls[j].why, arg_note(l[i]->calls[j].check));
                fprintf(f, "  ioctl requests:\n");
                for (size_t i = 0; i < n; i++)
                        for (size_t j = 0; j < l[i]->nioctls; j++)
                                fprintf(f, "    %-20s %s\n", l[i]->ioctls[j].name,
                                        l[i]->ioctls[j].why);
        }
        if (!cfg->stats)
                fprintf(f, "\nWith --stats, main may also read, lseek (two /proc/self "
                           "files opened at start-up) and getrusage.\n");
}
