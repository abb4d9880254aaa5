/* struct vm: the one owner of every fd, thread, device and byte of guest RAM. */
#ifndef WISP_VMM_VM_H
#define WISP_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "devices/bus.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/uart.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_net.h"
#include "kvm/irq.h"
#include "kvm/vcpu.h"
#include "pci/bus.h"
#include "kvm/vm.h"
#include "vmm/console.h"
#include "vmm/event.h"
#include "vmm/options.h"
#include "vmm/sandbox.h"

/* Per-vCPU exit counters, for --stats and the benchmarks. */
struct vcpu_stats {
        unsigned long exits, io, mmio, other;
};

struct vcpu_thread {
        struct vm *vm;
        struct kvm_vcpu vcpu;
        pthread_t thread;
        bool started;
        struct vcpu_stats stats;
};

/* Holds the vCPUs back until every thread has loaded its seccomp filter (run.c). */
struct start_gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool io_ready, open;
};

struct vm {
        const struct options *opt;
        struct kvm_vm kvm;
        struct io_bus pio, mmio;
        struct irq_routing routing;
        struct pci_bus pci;
        struct virtio_blk *disk;
        unsigned int ndisks;
        struct virtio_net *nic;
        unsigned int nnics;
        struct virtio_console *vcon; /* with --console virtio or --port */
        struct uart com1;
        struct i8042 kbd;
        struct debug_exit dbg;
        struct console con;
        struct event_loop loop;
        struct vcpu_thread *cpu;
        unsigned int ncpus;
        int stop_fd;   /* eventfd: wakes the event loop to stop */
        int signal_fd; /* SIGINT, SIGTERM, SIGHUP, SIGQUIT */
        struct event_source stop_src, signal_src;
        atomic_int exit_status; /* -1 until the first reason to stop */
        atomic_bool stopping;   /* set by the event loop; vCPUs leave KVM_RUN */
        bool tty;
        bool ran; /* vm_run got as far as starting the guest */
        struct sandbox_config sandbox;
        int stats_fd[2]; /* --stats: /proc/self/smaps and statm, read (and closed) at the end */
        struct start_gate gate;
};

/*
 * Builds the whole VM from the options: reads the kernel and initrd, opens
 * KVM, maps RAM, loads the boot structures, creates devices and vCPUs.
 * Nothing runs yet. Returns 0, or -errno with err naming the problem.
 */
int vm_setup(struct vm *vm, const struct options *o, char *err, size_t errlen);

/* Puts the terminal in raw mode and starts serving the console (vm.c). 0 or -errno. */
int vm_start_console(struct vm *vm);

/* Stops and joins the vCPU threads that were started (run.c). Idempotent. */
void vm_stop_vcpus(struct vm *vm);

/* Starts the vCPUs, serves events until a stop, stops and joins the vCPUs. Returns the exit status.
 */
int vm_run(struct vm *vm);

/* Releases everything vm_setup acquired (safe on a partial setup). */
void vm_teardown(struct vm *vm);

/* Asks for a stop with status; the first request wins. Any thread. */
void vm_request_stop(struct vm *vm, int status);

/* --stats: opens what stats_print reads, before the filters load (stats.c). 0 or -errno. */
int stats_open(struct vm *vm);

/* Prints exit counts and memory use to stderr, closing the stats fds (stats.c). */
void stats_print(struct vm *vm);

/* The vCPU thread body (vcpu_thread.c): KVM_RUN until a stop. */
void *vcpu_thread_main(struct vcpu_thread *t);

/* Sets up the calling vCPU thread's SIGUSR1 kick; before its filter (vcpu_thread.c). */
void vcpu_thread_signals(void);

/* A vCPU thread's start: its name and filter, then the gate, then the body (run.c). */
void *vcpu_thread_start(void *arg);

#endif
