/* Unit tests for vmm/sandbox.c: the lists' contents, and real filters loaded in forked children. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "boot/layout.h"
#include "vmm/sandbox.h"

static const struct sandbox_config on = {.enabled = true};

static bool allows_call(enum sandbox_class c, const struct sandbox_config *cfg, int nr)
{
        const struct sandbox_list *l[4];
        size_t n = sandbox_lists(c, cfg, l);

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < l[i]->ncalls; j++)
                        if (l[i]->calls[j].nr == nr)
                                return true;
        return false;
}

static bool allows_ioctl(enum sandbox_class c, unsigned long req)
{
        const struct sandbox_list *l[4];
        size_t n = sandbox_lists(c, &on, l);

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < l[i]->nioctls; j++)
                        if (l[i]->ioctls[j].req == req)
                                return true;
        return false;
}

static size_t distinct_calls(enum sandbox_class c)
{
        int seen[64];
        size_t count = 0;
        const struct sandbox_list *l[4];
        size_t n = sandbox_lists(c, &on, l);

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < l[i]->ncalls; j++) {
                        bool dup = false;

                        for (size_t k = 0; k < count; k++)
                                dup |= seen[k] == l[i]->calls[j].nr;
                        if (!dup && count < 64)
                                seen[count++] = l[i]->calls[j].nr;
                }
        return count;
}

Test(sandbox, lists_are_smaller_than_firecrackers)
{
        /* Firecracker's lists are 27 to 50 calls; every wisp class stays under 27. */
        for (int c = 0; c < SANDBOX_CLASSES; c++) {
                size_t n = distinct_calls((enum sandbox_class)c);

                cr_expect(n > 5 && n < 27, "%s: %zu calls", sandbox_class_name(c), n);
        }
        cr_expect_eq(sandbox_lists(SANDBOX_CLASSES, &on, (const struct sandbox_list *[4]){0}), 0);
}

Test(sandbox, no_class_may_start_programs_open_files_or_sockets_or_map_code)
{
        static const int forbidden[] = {SYS_execve,
                                        SYS_execveat,
                                        SYS_fork,
                                        SYS_vfork,
                                        SYS_clone,
                                        SYS_clone3,
                                        SYS_open,
                                        SYS_openat,
                                        SYS_socket,
                                        SYS_connect,
                                        SYS_ptrace,
                                        SYS_mprotect,
                                        SYS_rt_sigaction,
                                        SYS_prctl,
                                        SYS_seccomp,
                                        SYS_setuid,
                                        SYS_kill,
                                        SYS_tgkill,
                                        SYS_process_vm_writev,
                                        SYS_mount,
                                        SYS_chmod,
                                        SYS_bpf};

        for (int c = 0; c < SANDBOX_CLASSES; c++)
                for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
                        cr_expect(!allows_call((enum sandbox_class)c, &on, forbidden[i]),
                                  "%s allows call %d", sandbox_class_name(c), forbidden[i]);
}

Test(sandbox, kvm_requests_belong_to_the_thread_that_needs_them)
{
        cr_expect(allows_ioctl(SANDBOX_VCPU, KVM_RUN));
        cr_expect(!allows_ioctl(SANDBOX_IO, KVM_RUN));
        cr_expect(!allows_ioctl(SANDBOX_MAIN, KVM_RUN));
        /* Memory layout and vCPU state never change after start-up. */
        for (int c = 0; c < SANDBOX_CLASSES; c++) {
                cr_expect(!allows_ioctl(c, KVM_SET_USER_MEMORY_REGION));
                cr_expect(!allows_ioctl(c, KVM_CREATE_VCPU));
                cr_expect(!allows_ioctl(c, KVM_SET_REGS));
                cr_expect(!allows_ioctl(c, KVM_SET_CPUID2));
                cr_expect(!allows_ioctl(c, TUNSETIFF));
                cr_expect(allows_ioctl(c, TCSETS), "the fatal handlers restore the terminal");
        }
        cr_expect(allows_ioctl(SANDBOX_VCPU, KVM_SET_GSI_ROUTING));
        cr_expect(!allows_ioctl(SANDBOX_IO, KVM_SET_GSI_ROUTING));
}

Test(sandbox, stats_adds_reads_to_main_only)
{
        struct sandbox_config stats = {.enabled = true, .stats = true};

        cr_expect(!allows_call(SANDBOX_MAIN, &on, SYS_getrusage));
        cr_expect(allows_call(SANDBOX_MAIN, &stats, SYS_getrusage));
        cr_expect(allows_call(SANDBOX_MAIN, &stats, SYS_read));
        cr_expect(!allows_call(SANDBOX_VCPU, &stats, SYS_read));
}

Test(sandbox, report_names_the_thread_and_the_call)
{
        char buf[200];
        size_t n = sandbox_report(buf, sizeof(buf) - 1, SANDBOX_VCPU, SYS_socket);

        buf[n] = 0;
        cr_expect(strstr(buf, "the vCPU thread") != NULL, "%s", buf);
        cr_expect(strstr(buf, "socket (41)") != NULL, "%s", buf);
        n = sandbox_report(buf, sizeof(buf) - 1, SANDBOX_IO, 100000);
        buf[n] = 0;
        cr_expect(strstr(buf, "# (100000)") != NULL, "%s", buf);
        n = sandbox_report(buf, 10, SANDBOX_IO, 1);
        cr_expect_eq(n, 10, "the report never writes past its buffer");
}

/*
 * Runs body in a forked child that loads class c's filter first; returns
 * the child's wait status. Criterion's own process never gets a filter.
 */
static int in_child_with(enum sandbox_class c, const struct sandbox_config *cfg, int (*body)(void))
{
        int status;
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                /* Kill mode ends children by SIGSYS, whose default is a core dump. */
                setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
                if (sandbox_init(cfg) < 0 || sandbox_enter(c, cfg) < 0)
                        _exit(100);
                _exit(body());
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        return status;
}

static int in_filtered_child(enum sandbox_class c, int (*body)(void))
{
        return in_child_with(c, &on, body);
}

static int make_socket(void)
{
        return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

static int map_executable(void)
{
        return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
                       MAP_FAILED
                   ? 1
                   : 0;
}

static int map_data(void)
{
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        return p != MAP_FAILED && munmap(p, 4096) == 0 ? 42 : 1;
}

static int kvm_run_on_bad_fd(void)
{
        return ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF ? 42 : 1;
}

static int winsize_on_bad_fd(void)
{
        struct winsize ws;

        return ioctl(-1, TIOCGWINSZ, &ws) < 0 && errno == EBADF ? 42 : 1;
}

static int sign_extended_request(void)
{
        /* KVM_GET_REGS (_IOR) has bit 31 set: libc may pass it sign-extended. */
        long req = (long)(int)KVM_GET_REGS;

        return syscall(SYS_ioctl, -1, req, 0) < 0 && errno == EBADF ? 42 : 1;
}

Test(sandbox, a_forbidden_call_ends_the_process_with_159)
{
        for (int c = 0; c < SANDBOX_CLASSES; c++) {
                int st = in_filtered_child((enum sandbox_class)c, make_socket);

                cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == WISP_EXIT_SYSCALL_DENIED,
                          "%s: status 0x%x", sandbox_class_name(c), st);
        }
}

/* --seccomp=kill: no handler runs; the kernel kills the process at the call. */
Test(sandbox, kill_mode_kills_the_process_by_sigsys)
{
        static const struct sandbox_config kill = {.enabled = true, .kill = true};

        for (int c = 0; c < SANDBOX_CLASSES; c++) {
                int st = in_child_with((enum sandbox_class)c, &kill, make_socket);

                cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: status 0x%x",
                          sandbox_class_name(c), st);
                st = in_child_with((enum sandbox_class)c, &kill, map_data);
                cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 42, "allowed calls still run: 0x%x",
                          st);
        }
}

static int read_nothing(void)
{
        char c;

        return read(-1, &c, 1) < 0 && errno == EBADF ? 42 : 1;
}

/* The program loaded is the one for the configuration: --stats lets main read. */
Test(sandbox, stats_program_lets_main_read)
{
        static const struct sandbox_config with_stats = {.enabled = true, .stats = true};
        int st = in_child_with(SANDBOX_MAIN, &with_stats, read_nothing);

        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 42, "with --stats: 0x%x", st);
        st = in_filtered_child(SANDBOX_MAIN, read_nothing);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == WISP_EXIT_SYSCALL_DENIED, "without: 0x%x",
                  st);
        st = in_filtered_child(SANDBOX_IO, read_nothing);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 42, "the I/O thread reads: 0x%x", st);
}

Test(sandbox, no_executable_mappings_after_start_up)
{
        int st = in_filtered_child(SANDBOX_IO, map_executable);

        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == WISP_EXIT_SYSCALL_DENIED, "0x%x", st);
        st = in_filtered_child(SANDBOX_IO, map_data);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 42, "data mappings stay allowed: 0x%x", st);
}

Test(sandbox, ioctl_is_filtered_by_request)
{
        int st = in_filtered_child(SANDBOX_IO, kvm_run_on_bad_fd);

        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == WISP_EXIT_SYSCALL_DENIED, "0x%x", st);
        st = in_filtered_child(SANDBOX_VCPU, kvm_run_on_bad_fd);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 42, "0x%x", st);
        st = in_filtered_child(SANDBOX_IO, winsize_on_bad_fd);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 42, "0x%x", st);
        st = in_filtered_child(SANDBOX_VCPU, winsize_on_bad_fd);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == WISP_EXIT_SYSCALL_DENIED, "0x%x", st);
        st = in_filtered_child(SANDBOX_VCPU, sign_extended_request);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 42, "sign-extended request: 0x%x", st);
}

Test(sandbox, off_loads_nothing)
{
        struct sandbox_config off = {.enabled = false};
        int status;
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (sandbox_enter(SANDBOX_VCPU, &off) < 0)
                        _exit(100);
                _exit(make_socket() == 0 ? 42 : 1);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 42, "0x%x", status);
}
