/* Per-thread seccomp filters: loading the precompiled programs, and the SIGSYS report. */
#include "vmm/sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "boot/layout.h"
#include "vmm/term.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* One finished BPF program (made at build time by vmm/sandbox_gen.c). */
struct sandbox_bpf {
        const struct sock_filter *insns;
        unsigned short len;
};

#include "sandbox_bpf.h"

static const char *const sandbox_probe_names[SANDBOX_CLASSES] = {"main", "io", "vcpu"};

/* Which class the calling thread is, for the SIGSYS report. */
static _Thread_local enum sandbox_class thread_class = SANDBOX_MAIN;

int sandbox_enter(enum sandbox_class c, const struct sandbox_config *cfg)
{
        const struct sandbox_bpf *b;
        struct sock_fprog prog;

        thread_class = c;
        if (!cfg->enabled)
                return 0;
        if (c >= SANDBOX_CLASSES)
                return -EINVAL;
        b = &sandbox_bpf[c][cfg->stats][cfg->kill];
        /* The kernel only reads the program: the cast drops a const it cannot see. */
        prog = (struct sock_fprog){.len = b->len, .filter = (struct sock_filter *)b->insns};
        /* Without CAP_SYS_ADMIN the kernel takes a filter only from a thread
         * that can never gain privileges (no setuid execve; execve is in no
         * list anyway). libseccomp's seccomp_load sets it for the same reason. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? -errno : 0;
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
