/* Building, running and tearing down the VM: the order of things lives here. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "boot/layout.h"
#include "kvm/host.h"
#include "vmm/log.h"
#include "vmm/term.h"

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1 8250.nr_uarts=1"
/* hvc0 as the console; COM1 as an early console until hvc0 registers and
 * replaces it (the kernel drops boot consoles then), so no line is printed twice. */
#define VIRTIO_CONSOLE_CMDLINE                                                                     \
        "earlycon=uart8250,io,0x3f8 console=hvc0 reboot=k panic=-1 8250.nr_uarts=1"
#define MAX_FILE (1ull << 31) /* kernels and initrds above 2 GiB are refused */

void vm_request_stop(struct vm *vm, int status)
{
        int none = -1;
        uint64_t one = 1;

        if (atomic_compare_exchange_strong(&vm->exit_status, &none, status))
                (void)!write(vm->stop_fd, &one, sizeof(one));
}

/*
 * Opens a host file that must be a non-empty regular file; errors name the
 * file and the reason.
 */
static int open_input(const char *what, const char *path, int *fd, size_t *len, char *err,
                      size_t errlen)
{
        struct stat st;
        const char *why = NULL;

        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd < 0 || fstat(*fd, &st) < 0)
                why = strerror(errno);
        else if (!S_ISREG(st.st_mode))
                why = "not a regular file";
        else if (st.st_size == 0)
                why = "file is empty";
        else if ((uint64_t)st.st_size > MAX_FILE)
                why = "file larger than 2 GiB";
        if (why) {
                snprintf(err, errlen, "%s '%s': %s", what, path, why);
                return -EINVAL;
        }
        *len = (size_t)st.st_size;
        return 0;
}

static void build_cmdline(char *out, size_t len, const struct options *o, bool pvm)
{
        snprintf(out, len, "%s%s%s%s%s",
                 o->console_virtio ? VIRTIO_CONSOLE_CMDLINE : DEFAULT_CMDLINE, pvm ? " " : "",
                 pvm ? KVM_PVM_GUEST_CMDLINE : "", o->cmdline[0] ? " " : "", o->cmdline);
}

/*
 * The host files, opened and the kernel parsed before KVM is touched, so bad
 * input fails fast. The kernel is mapped for its headers only; segments and
 * the initrd are read straight into guest RAM (boot_files_fds).
 */
struct boot_files {
        const uint8_t *kernel; /* read-only mapping of the kernel file */
        size_t klen, ilen;
        struct boot_files_fds fds;
        struct kernel_image img;
};

static void close_boot_files(struct boot_files *f)
{
        if (f->kernel)
                munmap((void *)f->kernel, f->klen);
        if (f->fds.kernel_fd >= 0)
                close(f->fds.kernel_fd);
        if (f->fds.initrd_fd >= 0)
                close(f->fds.initrd_fd);
        f->kernel = NULL;
        f->fds.kernel_fd = f->fds.initrd_fd = -1;
}

static int open_boot_files(const struct options *o, struct boot_files *f, char *err, size_t errlen)
{
        const char *bad;
        void *map;
        int r;

        r = open_input("kernel", o->kernel, &f->fds.kernel_fd, &f->klen, err, errlen);
        if (r < 0)
                return r;
        map = mmap(NULL, f->klen, PROT_READ, MAP_PRIVATE, f->fds.kernel_fd, 0);
        if (map == MAP_FAILED) {
                snprintf(err, errlen, "kernel '%s': %s", o->kernel, strerror(errno));
                return -errno;
        }
        f->kernel = map;
        r = kernel_image_parse(f->kernel, f->klen, &f->img, &bad);
        if (r < 0) {
                snprintf(err, errlen, "kernel '%s': %s", o->kernel, bad);
                return r;
        }
        if (o->entry == ENTRY_PVH && !f->img.entry_pvh) {
                snprintf(err, errlen, "kernel '%s': no PVH entry note (try --entry=64)", o->kernel);
                return -ENOEXEC;
        }
        if (o->initrd)
                r = open_input("initrd", o->initrd, &f->fds.initrd_fd, &f->ilen, err, errlen);
        return r;
}

static int load_kernel(struct vm *vm, const struct options *o, const struct boot_files *f,
                       struct boot_plan *plan, char *err, size_t errlen)
{
        char cmdline[WISP_CMDLINE_MAX + 256];
        char why[256];
        int r;

        build_cmdline(cmdline, sizeof(cmdline), o, vm->kvm.pvm);
        struct boot_input in = {.kernel = f->kernel,
                                .kernel_len = f->klen,
                                .initrd_len = f->ilen,
                                .fds = &f->fds,
                                .cmdline = cmdline,
                                .ncpus = o->ncpus,
                                .entry = o->entry};
        r = boot_load(&vm->kvm.mem, &f->img, &in, plan, why, sizeof(why));
        if (r < 0)
                snprintf(err, errlen, "%s '%s': %s", plan->culprit,
                         strcmp(plan->culprit, "initrd") ? o->kernel : o->initrd, why);
        else
                wisp_info("kernel: %s entry 0x%llx, command line: %s",
                          plan->mode == BOOT_PVH32 ? "PVH" : "64-bit",
                          (unsigned long long)plan->entry, cmdline);
        return r;
}

static void com1_irq(void *ctx, int level)
{
        struct vm *vm = ctx;

        kvm_vm_irq_line(&vm->kvm, WISP_IRQ_COM1, level);
}

static void guest_reset(void *ctx)
{
        vm_request_stop(ctx, WISP_EXIT_OK);
}

static void guest_exit(void *ctx, int status)
{
        vm_request_stop(ctx, status);
}

static size_t uart_push(void *ctx, const uint8_t *buf, size_t len)
{
        return uart_receive(ctx, buf, len);
}

/* Typed input goes to virtio-console port 0 with --console virtio, else to COM1. */
static struct console_sink console_sink(struct vm *vm)
{
        if (vm->vcon)
                return (struct console_sink){.push = virtio_console_input, .ctx = vm->vcon};
        return (struct console_sink){.push = uart_push, .ctx = &vm->com1};
}

static void console_quit(void *ctx)
{
        vm_request_stop(ctx, WISP_EXIT_SIGNAL_BASE + SIGINT);
}

/* COM1 talks to the console and to the irqchip, both reached through the vm. */
static void com1_tx(void *ctx, uint8_t b)
{
        console_tx(&((struct vm *)ctx)->con, b);
}

static void com1_room(void *ctx)
{
        console_rx_room(&((struct vm *)ctx)->con);
}

static const struct uart_ops com1_vm_ops = {.tx = com1_tx, .irq = com1_irq, .rx_room = com1_room};

static int add_devices(struct vm *vm, char *err, size_t errlen)
{
        int r = 0;

        uart_init(&vm->com1, &com1_vm_ops, vm);
        i8042_init(&vm->kbd, guest_reset, vm);
        vm->dbg = (struct debug_exit){.exit = guest_exit, .ctx = vm};

        r |= io_bus_add(&vm->pio, WISP_PORT_COM1, UART_NR_PORTS, uart_io, &vm->com1, "com1");
        r |= io_bus_add(&vm->pio, WISP_PORT_I8042_DATA, 1, i8042_data_io, &vm->kbd, "i8042");
        r |= io_bus_add(&vm->pio, WISP_PORT_I8042_CMD, 1, i8042_cmd_io, &vm->kbd, "i8042");
        r |= io_bus_add(&vm->pio, WISP_PORT_DEBUG_EXIT, 1, debug_exit_io, &vm->dbg, "debug-exit");
        if (r)
                snprintf(err, errlen, "cannot register the legacy devices");
        return r ? -EEXIST : 0;
}

/* The terminal's size for virtio-console (80x24 when stdin is no terminal). */
static void terminal_size(uint16_t *cols, uint16_t *rows)
{
        struct winsize ws;

        *cols = 80;
        *rows = 24;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
                *cols = ws.ws_col;
                *rows = ws.ws_row;
        }
}

static void on_stop(void *opaque, uint32_t events)
{
        struct vm *vm = opaque;
        uint64_t v;

        (void)events;
        (void)!read(vm->stop_fd, &v, sizeof(v));
        atomic_store(&vm->stopping, true);
}

static void on_signal(void *opaque, uint32_t events)
{
        struct vm *vm = opaque;
        struct signalfd_siginfo si;

        (void)events;
        if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
                return;
        if (si.ssi_signo == SIGWINCH) {
                uint16_t cols, rows;

                if (vm->vcon) {
                        terminal_size(&cols, &rows);
                        virtio_console_resize(vm->vcon, cols, rows);
                }
                return;
        }
        {
                wisp_info("signal %u: stopping the VM", si.ssi_signo);
                vm_request_stop(vm, WISP_EXIT_SIGNAL_BASE + (int)si.ssi_signo);
        }
}

/* Signals become events: blocked in every thread, read from a signalfd (SIGPIPE is
 * ignored from the start, in main). */
static int setup_signals(struct vm *vm)
{
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGQUIT);
        sigaddset(&set, SIGWINCH);
        sigaddset(&set, SIGUSR1); /* only vCPU threads unblock it */
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        sigdelset(&set, SIGUSR1);
        vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (vm->signal_fd < 0)
                return -errno;
        vm->signal_src = (struct event_source){.fd = vm->signal_fd, .fn = on_signal, .opaque = vm};
        return event_add(&vm->loop, &vm->signal_src, EPOLLIN);
}

static int setup_events(struct vm *vm, char *err, size_t errlen)
{
        int r = event_loop_init(&vm->loop);

        if (r == 0) {
                vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                r = vm->stop_fd < 0 ? -errno : 0;
        }
        if (r == 0) {
                vm->stop_src =
                    (struct event_source){.fd = vm->stop_fd, .fn = on_stop, .opaque = vm};
                r = event_add(&vm->loop, &vm->stop_src, EPOLLIN);
        }
        if (r == 0)
                r = setup_signals(vm);
        if (r < 0)
                snprintf(err, errlen, "cannot set up the event loop: %s", strerror(-r));
        return r;
}

static int check_memory(const struct options *o, char *err, size_t errlen)
{
        struct sysinfo si;

        if (sysinfo(&si) == 0 && o->mem > (uint64_t)si.totalram * si.mem_unit) {
                snprintf(err, errlen, "option --memory: %llu MiB is more than the host's %llu MiB",
                         (unsigned long long)(o->mem >> 20),
                         (unsigned long long)(((uint64_t)si.totalram * si.mem_unit) >> 20));
                return -EINVAL;
        }
        return 0;
}

/* Disks are opened (and locked) before KVM, so a bad image fails fast. */
static int open_disks(struct vm *vm, const struct options *o, char *err, size_t errlen)
{
        vm->disk = calloc(o->ndisks ? o->ndisks : 1, sizeof(*vm->disk));
        if (!vm->disk)
                return -ENOMEM;
        for (unsigned int i = 0; i < o->ndisks; i++) {
                /* One queue per vCPU: requests complete where they were made. */
                int r = virtio_blk_open(&vm->disk[i], &o->disk[i], o->ncpus, err, errlen);

                vm->ndisks = i + 1;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Taps are opened before KVM too: a missing tap or permission fails fast. */
static int open_nics(struct vm *vm, const struct options *o, char *err, size_t errlen)
{
        vm->nic = calloc(o->nnics ? o->nnics : 1, sizeof(*vm->nic));
        if (!vm->nic)
                return -ENOMEM;
        for (unsigned int i = 0; i < o->nnics; i++) {
                int r = virtio_net_open(&vm->nic[i], &o->nic[i], err, errlen);

                vm->nnics = i + 1;
                if (r < 0)
                        return r;
        }
        return 0;
}

static void console_room(void *ctx)
{
        console_rx_room(ctx);
}

static int open_console(struct vm *vm, const struct options *o, char *err, size_t errlen)
{
        int r;

        if (!o->console_virtio && !o->nports)
                return 0;
        vm->vcon = calloc(1, sizeof(*vm->vcon));
        if (!vm->vcon)
                return -ENOMEM;
        r = virtio_console_open(vm->vcon, o->port, o->nports,
                                o->console_virtio ? STDOUT_FILENO : -1, err, errlen);
        vm->vcon->input_room = console_room;
        vm->vcon->input_room_ctx = &vm->con;
        uint16_t cols, rows;

        terminal_size(&cols, &rows);
        vm->vcon->cfg.cols = cols;
        vm->vcon->cfg.rows = rows;
        return r;
}

static int add_pci(struct vm *vm, char *err, size_t errlen)
{
        struct virtio_env env = {.sys = vm->kvm.sys,
                                 .vm_fd = vm->kvm.vm_fd,
                                 .routing = &vm->routing,
                                 .loop = &vm->loop,
                                 .mem = &vm->kvm.mem};
        int r;

        irq_routing_init(&vm->routing, vm->kvm.sys, vm->kvm.vm_fd);
        r = pci_bus_init(&vm->pci, &vm->pio, &vm->mmio, &vm->kvm.mem);
        if (r < 0) {
                snprintf(err, errlen, "cannot set up the PCI bus: %s", strerror(-r));
                return r;
        }
        if (vm->vcon) {
                r = virtio_console_attach(vm->vcon, &env, &vm->pci);
                if (r < 0) {
                        snprintf(err, errlen, "virtio-console: cannot attach: %s", strerror(-r));
                        return r;
                }
        }
        for (unsigned int i = 0; i < vm->nnics; i++) {
                r = virtio_net_attach(&vm->nic[i], &env, &vm->pci);
                if (r < 0) {
                        snprintf(err, errlen, "tap '%s': cannot attach: %s", vm->nic[i].opt.ifname,
                                 strerror(-r));
                        return r;
                }
        }
        for (unsigned int i = 0; i < vm->ndisks; i++) {
                r = virtio_blk_attach(&vm->disk[i], &env, &vm->pci);
                if (r < 0) {
                        snprintf(err, errlen, "disk '%s': cannot attach: %s", vm->disk[i].opt.path,
                                 strerror(-r));
                        return r;
                }
        }
        return 0;
}

static int create_vcpus(struct vm *vm, const struct boot_plan *plan, char *err, size_t errlen)
{
        int r;

        if (vm->ncpus > vm->kvm.max_vcpus) {
                snprintf(err, errlen, "option --cpus: the host's KVM allows at most %u vCPUs",
                         vm->kvm.max_vcpus);
                return -EINVAL;
        }
        vm->cpu = calloc(vm->ncpus, sizeof(*vm->cpu));
        if (!vm->cpu)
                return -ENOMEM;
        for (unsigned int i = 0; i < vm->ncpus; i++) {
                vm->cpu[i].vm = vm;
                vm->cpu[i].vcpu.fd = -1;
        }
        for (unsigned int i = 0; i < vm->ncpus; i++) {
                r = kvm_vcpu_create(&vm->kvm, i, vm->ncpus, &vm->cpu[i].vcpu, err, errlen);
                if (r < 0)
                        return r;
        }
        r = kvm_vcpu_set_boot_state(&vm->cpu[0].vcpu, plan);
        if (r < 0)
                snprintf(err, errlen, "cannot set the boot vCPU's registers: %s", strerror(-r));
        return r;
}

int vm_setup(struct vm *vm, const struct options *o, char *err, size_t errlen)
{
        struct boot_files files = {.fds = {.kernel_fd = -1, .initrd_fd = -1}};
        struct boot_plan plan;
        bool pvm = kvm_host_is_pvm("/sys");
        int r;

        memset(vm, 0, sizeof(*vm));
        vm->opt = o;
        vm->ncpus = o->ncpus;
        vm->stop_fd = vm->signal_fd = -1;
        vm->stats_fd[0] = vm->stats_fd[1] = -1;
        vm->loop.epfd = -1;
        vm->con.room_fd = vm->con.ready_fd = -1;
        atomic_init(&vm->exit_status, -1);
        pthread_mutex_init(&vm->gate.lock, NULL);
        pthread_cond_init(&vm->gate.cond, NULL);
        vm->sandbox = (struct sandbox_config){
            .enabled = o->seccomp, .kill = o->seccomp_kill, .stats = o->stats};
        io_bus_init(&vm->pio, "port");
        io_bus_init(&vm->mmio, "mmio");

        r = check_memory(o, err, errlen);
        if (r < 0)
                return r;
        if (o->stats && stats_open(vm) < 0) {
                snprintf(err, errlen, "--stats: cannot open /proc/self/smaps or statm");
                return -EIO;
        }
        r = open_boot_files(o, &files, err, errlen);
        if (r == 0)
                r = open_disks(vm, o, err, errlen);
        if (r == 0)
                r = open_nics(vm, o, err, errlen);
        if (r == 0)
                r = open_console(vm, o, err, errlen);
        if (r < 0)
                goto out;
        if (pvm)
                wisp_warn("host KVM is kvm_pvm (software, nested): guest kernel code is emulated; "
                          "adding '%s' to the guest command line",
                          KVM_PVM_GUEST_CMDLINE);
        r = kvm_vm_open(&vm->kvm, &kvm_sys_host, o->mem, pvm, err, errlen);
        if (r < 0)
                goto out;
        r = load_kernel(vm, o, &files, &plan, err, errlen);
out:
        /* Loaded into guest RAM (or failed): the host copies are not kept. */
        close_boot_files(&files);
        if (r < 0)
                return r;
        r = setup_events(vm, err, errlen);
        if (r < 0)
                return r;
        r = add_devices(vm, err, errlen);
        if (r < 0)
                return r;
        r = add_pci(vm, err, errlen);
        if (r < 0)
                return r;
        return create_vcpus(vm, &plan, err, errlen);
}

int vm_start_console(struct vm *vm)
{
        vm->tty = term_raw_enter(STDIN_FILENO);
        return console_init(&vm->con, &vm->loop, console_sink(vm), STDIN_FILENO, STDOUT_FILENO,
                            vm->tty, console_quit, vm);
}

void vm_teardown(struct vm *vm)
{
        vm_stop_vcpus(vm);
        if (vm->cpu)
                for (unsigned int i = 0; i < vm->ncpus; i++)
                        if (vm->cpu[i].vcpu.vm)
                                kvm_vcpu_destroy(&vm->cpu[i].vcpu);
        /* vCPUs are gone: unplug the functions (their BARs and ioeventfds)
         * while the devices still exist, then finish disk I/O in flight and
         * flush the images. */
        if (vm->pci.pio)
                pci_bus_destroy(&vm->pci);
        for (unsigned int i = 0; i < vm->ndisks; i++)
                virtio_blk_close(&vm->disk[i]);
        /* After the disks drained, so every request the guest made is counted. */
        if (vm->ran && vm->opt->stats)
                stats_print(vm);
        free(vm->cpu);
        vm->cpu = NULL;
        free(vm->disk);
        vm->disk = NULL;
        vm->ndisks = 0;
        for (unsigned int i = 0; i < vm->nnics; i++)
                virtio_net_close(&vm->nic[i]);
        if (vm->vcon)
                virtio_console_close(vm->vcon);
        free(vm->vcon);
        vm->vcon = NULL;
        free(vm->nic);
        vm->nic = NULL;
        vm->nnics = 0;
        if (vm->routing.sys)
                irq_routing_destroy(&vm->routing);
        console_close(&vm->con);
        if (vm->stop_fd >= 0)
                close(vm->stop_fd);
        if (vm->signal_fd >= 0)
                close(vm->signal_fd);
        for (int i = 0; i < 2; i++)
                if (vm->stats_fd[i] >= 0)
                        close(vm->stats_fd[i]);
        event_loop_close(&vm->loop);
        kvm_vm_close(&vm->kvm);
        uart_destroy(&vm->com1);
        i8042_destroy(&vm->kbd);
        io_bus_destroy(&vm->pio);
        io_bus_destroy(&vm->mmio);
}
