/* The per-thread seccomp allowlists: which calls and ioctl requests each class needs, and why. */
#include "vmm/sandbox.h"

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

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
