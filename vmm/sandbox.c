/* Per-thread seccomp allowlists: the tables, their loading, and the SIGSYS report. */
#include "vmm/sandbox.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "boot/layout.h"
#include "vmm/term.h"

/*
 * Every list was taken from what the code does (strace of the whole test
 * suite and Linux boots with disk, net and console), then each entry was
 * checked against the code that needs it: the `why` says which.
 */
#define CALL(nr, chk, why)                                                                         \
        {                                                                                          \
                SYS_##nr, #nr, chk, why                                                            \
        }
#define IOCTL(req, why)                                                                            \
        {                                                                                          \
                req, #req, why                                                                     \
        }

static const struct sandbox_call every_thread[] = {
    CALL(futex, SANDBOX_ARGS_ANY, "locks, condition variables, joins"),
    CALL(rt_sigprocmask, SANDBOX_ARGS_ANY, "libc masks signals around thread exit and raise"),
    CALL(rt_sigreturn, SANDBOX_ARGS_ANY, "returning from the vCPU kick and fatal handlers"),
    CALL(tkill, SANDBOX_ARGS_FATAL_SIGNAL, "the fatal-signal handler re-raises its signal"),
    CALL(exit_group, SANDBOX_ARGS_ANY, "the process ends (also the SIGSYS report)"),
    CALL(write, SANDBOX_ARGS_ANY, "eventfds, the console, log lines"),
    CALL(writev, SANDBOX_ARGS_ANY, "stdio to stderr (crash register dumps)"),
    CALL(mmap, SANDBOX_ARGS_NO_EXEC, "the allocator; never executable"),
    CALL(munmap, SANDBOX_ARGS_ANY, "the allocator"),
    CALL(madvise, SANDBOX_ARGS_MADV_FREE, "the allocator returns pages"),
    CALL(brk, SANDBOX_ARGS_ANY, "the allocator grows its metadata area"),
    CALL(clock_gettime, SANDBOX_ARGS_ANY, "where the vDSO falls back to the system call"),
    CALL(ioctl, SANDBOX_ARGS_IOCTL, "only the requests listed"),
};

static const struct sandbox_ioctl every_thread_ioctls[] = {
    IOCTL(TCSETS, "a fatal-signal or SIGSYS report restores the terminal"),
};

static const struct sandbox_call vcpu_calls[] = {
    CALL(exit, SANDBOX_ARGS_ANY, "the thread ends"),
    CALL(epoll_ctl, SANDBOX_ARGS_ANY, "virtio-net activation re-arms the tap's RX"),
    CALL(io_uring_enter, SANDBOX_ARGS_ANY, "a device reset waits for the disk's I/O in flight"),
};

static const struct sandbox_ioctl vcpu_ioctls[] = {
    IOCTL(KVM_RUN, "runs the guest"),
    IOCTL(KVM_IOEVENTFD, "BARs move: queue-notify eventfds follow them"),
    IOCTL(KVM_SET_GSI_ROUTING, "the guest programs MSI-X vectors"),
    IOCTL(KVM_IRQ_LINE, "COM1's interrupt line"),
    IOCTL(KVM_GET_REGS, "register dump when the guest crashes"),
    IOCTL(KVM_GET_SREGS, "register dump when the guest crashes"),
    IOCTL(TUNSETOFFLOAD, "virtio-net: offloads follow the features the guest accepted"),
    IOCTL(TUNSETVNETHDRSZ, "virtio-net: header size follows the features"),
    IOCTL(TUNSETQUEUE, "virtio-net: queue pairs detach at reset"),
};

static const struct sandbox_call io_calls[] = {
    CALL(exit, SANDBOX_ARGS_ANY, "the thread ends"),
    CALL(epoll_pwait, SANDBOX_ARGS_ANY, "the event loop"),
    CALL(epoll_ctl, SANDBOX_ARGS_ANY, "back-pressure: fds leave and rejoin the loop"),
    CALL(read, SANDBOX_ARGS_ANY, "eventfds, stdin, signalfd, tap, console sockets"),
    CALL(readv, SANDBOX_ARGS_ANY, "tap frames straight into guest buffers"),
    CALL(io_uring_enter, SANDBOX_ARGS_ANY, "disk I/O submission and completion"),
    CALL(accept4, SANDBOX_ARGS_ANY, "a client connects to a console port's socket"),
    CALL(close, SANDBOX_ARGS_ANY, "a console port's client hangs up"),
};

static const struct sandbox_ioctl io_ioctls[] = {
    IOCTL(KVM_IRQ_LINE, "COM1's interrupt line"),
    IOCTL(TIOCGWINSZ, "SIGWINCH: the terminal size for virtio-console"),
    IOCTL(TUNSETQUEUE, "virtio-net: queue pairs attach and detach"),
    IOCTL(TUNSETOFFLOAD, "virtio-net: offloads follow the features the guest accepted"),
    IOCTL(TUNSETVNETHDRSZ, "virtio-net: header size follows the features"),
};

static const struct sandbox_call main_calls[] = {
    CALL(tkill, SANDBOX_ARGS_KICK_SIGNAL, "kicks vCPUs out of KVM_RUN at the stop"),
    CALL(close, SANDBOX_ARGS_ANY, "teardown"),
    CALL(io_uring_enter, SANDBOX_ARGS_ANY, "teardown: disk I/O in flight completes"),
    CALL(fdatasync, SANDBOX_ARGS_ANY, "teardown: disks are flushed"),
    CALL(unlink, SANDBOX_ARGS_ANY, "teardown: console port sockets are removed"),
};

static const struct sandbox_ioctl main_ioctls[] = {
    IOCTL(KVM_IOEVENTFD, "teardown: notify eventfds are unbound"),
    IOCTL(KVM_IRQFD, "teardown: interrupt eventfds are unbound"),
};

/* With --stats only: main reads /proc/self/statm and smaps (opened at start-up) at the end. */
static const struct sandbox_call stats_calls[] = {
    CALL(read, SANDBOX_ARGS_ANY, "--stats: /proc/self/statm and smaps"),
    CALL(lseek, SANDBOX_ARGS_ANY, "--stats: stdio's fclose after reading"),
    CALL(getrusage, SANDBOX_ARGS_ANY, "--stats: peak RSS"),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct sandbox_list lists[SANDBOX_CLASSES] = {
    [SANDBOX_MAIN] = {main_calls, N(main_calls), main_ioctls, N(main_ioctls)},
    [SANDBOX_IO] = {io_calls, N(io_calls), io_ioctls, N(io_ioctls)},
    [SANDBOX_VCPU] = {vcpu_calls, N(vcpu_calls), vcpu_ioctls, N(vcpu_ioctls)},
};

static const struct sandbox_list common = {every_thread, N(every_thread), every_thread_ioctls,
                                           N(every_thread_ioctls)};
static const struct sandbox_list stats = {stats_calls, N(stats_calls), NULL, 0};

static const char *const sandbox_probe_names[SANDBOX_CLASSES] = {"main", "io", "vcpu"};

const char *sandbox_class_name(enum sandbox_class c)
{
        static const char *const names[] = {"main", "I/O", "vCPU"};

        return c < SANDBOX_CLASSES ? names[c] : "?";
}

size_t sandbox_lists(enum sandbox_class c, const struct sandbox_config *cfg,
                     const struct sandbox_list **out)
{
        size_t n = 0;

        if (c >= SANDBOX_CLASSES)
                return 0;
        out[n++] = &common;
        out[n++] = &lists[c];
        if (c == SANDBOX_MAIN && cfg->stats)
                out[n++] = &stats;
        return n;
}

/* The argument conditions of a rule: 0, 1 or 2 comparisons. */
static unsigned int arg_conditions(enum sandbox_args chk, struct scmp_arg_cmp *cmp)
{
        switch (chk) {
        case SANDBOX_ARGS_NO_EXEC: /* mmap(addr, len, prot, ...) */
                cmp[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
                return 1;
        default:
                return 0;
        }
}

/* Calls whose allowed arguments are a set of values: one rule per value. */
static int add_value_rules(scmp_filter_ctx ctx, const struct sandbox_call *call)
{
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        static const int madv[] = {MADV_FREE, MADV_DONTNEED};
        static const int kick[] = {SIGUSR1};
        const int *v = NULL;
        size_t n = 0;
        unsigned int arg = 1;
        int r = 0;

        switch (call->check) {
        case SANDBOX_ARGS_FATAL_SIGNAL: /* tkill(tid, sig) */
                v = fatal, n = N(fatal);
                break;
        case SANDBOX_ARGS_KICK_SIGNAL:
                v = kick, n = N(kick);
                break;
        case SANDBOX_ARGS_MADV_FREE: /* madvise(addr, len, advice) */
                v = madv, n = N(madv), arg = 2;
                break;
        default:
                return -EINVAL;
        }
        for (size_t i = 0; i < n && r == 0; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, call->nr, 1,
                                     SCMP_CMP(arg, SCMP_CMP_EQ, (scmp_datum_t)v[i]));
        return r;
}

static int add_list(scmp_filter_ctx ctx, const struct sandbox_list *l)
{
        struct scmp_arg_cmp cmp[2];
        int r = 0;

        for (size_t i = 0; i < l->ncalls && r == 0; i++) {
                const struct sandbox_call *c = &l->calls[i];
                unsigned int n;

                switch (c->check) {
                case SANDBOX_ARGS_IOCTL: /* rules per request, below */
                        continue;
                case SANDBOX_ARGS_FATAL_SIGNAL:
                case SANDBOX_ARGS_KICK_SIGNAL:
                case SANDBOX_ARGS_MADV_FREE:
                        r = add_value_rules(ctx, c);
                        continue;
                default:
                        n = arg_conditions(c->check, cmp);
                        r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, c->nr, n, n ? cmp : NULL);
                }
        }
        /* The kernel takes the request as an unsigned int; libc may sign-extend
         * it to 64 bits in the register, so only the low 32 bits are compared. */
        for (size_t i = 0; i < l->nioctls && r == 0; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SYS_ioctl, 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, l->ioctls[i].req));
        return r;
}

/* Which class the calling thread is, for the SIGSYS report. */
static _Thread_local enum sandbox_class thread_class = SANDBOX_MAIN;

int sandbox_enter(enum sandbox_class c, const struct sandbox_config *cfg)
{
        const struct sandbox_list *l[4];
        size_t n = sandbox_lists(c, cfg, l);
        scmp_filter_ctx ctx;
        int r = 0;

        thread_class = c;
        if (!cfg->enabled)
                return 0;
        if (n == 0)
                return -EINVAL;
        /* Anything else traps into report_sigsys, which ends the process;
         * or, asked for, the kernel kills the process at the call. */
        ctx = seccomp_init(cfg->kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        for (size_t i = 0; i < n && r == 0; i++)
                r = add_list(ctx, l[i]);
        if (r == 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r < 0 ? r : 0;
}

void sandbox_probe(enum sandbox_class c)
{
        const char *want = getenv("WISP_SECCOMP_PROBE");

        /* socket(2) is in no list: the call an escaped guest would want first. */
        if (want && !strcmp(want, sandbox_probe_names[c]))
                syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
}

static const char *const syscall_names[] = {
#include "syscall_names.h"
};

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
        while (*s && at < cap)
                buf[at++] = *s++;
        return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, unsigned int v)
{
        char digits[12];
        size_t n = 0;

        do
                digits[n++] = (char)('0' + v % 10);
        while ((v /= 10) && n < sizeof(digits));
        while (n && at < cap)
                buf[at++] = digits[--n];
        return at;
}

size_t sandbox_report(char *buf, size_t cap, enum sandbox_class c, int nr)
{
        const char *name = nr >= 0 && (size_t)nr < N(syscall_names) ? syscall_names[nr] : NULL;
        size_t n = 0;

        n = put(buf, n, cap, "wisp: seccomp: the ");
        n = put(buf, n, cap, sandbox_class_name(c));
        n = put(buf, n, cap, " thread made a system call its filter forbids: ");
        n = put(buf, n, cap, name ? name : "#");
        n = put(buf, n, cap, " (");
        n = put_num(buf, n, cap, (unsigned int)nr);
        n = put(buf, n, cap, "); stopping (see wisp --print-seccomp)\n");
        return n;
}

/*
 * The default action is a trap rather than a silent kill so the user learns
 * which thread made which call, and the terminal is restored. The forbidden
 * call has not run and never will: the handler only writes and exits with
 * the status a kill by SIGSYS would give. rt_sigaction is not allowed after
 * start-up, so nothing can replace this handler.
 */
static void report_sigsys(int sig, siginfo_t *si, void *uc)
{
        char line[200];
        size_t n = sandbox_report(line, sizeof(line), thread_class, si->si_syscall);

        (void)sig;
        (void)uc;
        term_restore();
        (void)!write(STDERR_FILENO, line, n);
        _exit(WISP_EXIT_SYSCALL_DENIED);
}

int sandbox_init(const struct sandbox_config *cfg)
{
        struct sigaction sa;

        if (!cfg->enabled || cfg->kill)
                return 0;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = report_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigfillset(&sa.sa_mask);
        return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}
