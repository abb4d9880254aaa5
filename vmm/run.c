/* The running VM's threads: vCPUs, the I/O thread, and main waiting to tear down. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "boot/layout.h"
#include "vmm/log.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

/*
 * No vCPU enters KVM_RUN before every thread has its seccomp filter: the
 * gate opens only after the I/O thread and main have loaded theirs (the
 * vCPUs load their own before waiting at it).
 */
static void gate_set(struct start_gate *g, bool *flag)
{
        pthread_mutex_lock(&g->lock);
        *flag = true;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

static void gate_wait(struct start_gate *g, const bool *flag)
{
        pthread_mutex_lock(&g->lock);
        while (!*flag)
                pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
}

/* A thread whose filter failed to load stops the VM: it never runs unfiltered. */
static bool enter_sandbox(struct vm *vm, enum sandbox_class c)
{
        int r = sandbox_enter(c, &vm->sandbox);

        if (r < 0) {
                wisp_error("cannot load the %s thread's seccomp filter: %s", sandbox_class_name(c),
                           strerror(-r));
                vm_request_stop(vm, WISP_EXIT_ERROR);
                return false;
        }
        return true;
}

void *vcpu_thread_start(void *arg)
{
        struct vcpu_thread *t = arg;
        char name[16];

        snprintf(name, sizeof(name), "wisp-vcpu%u", t->vcpu.index);
        pthread_setname_np(pthread_self(), name);
        vcpu_thread_signals();
        if (!enter_sandbox(t->vm, SANDBOX_VCPU))
                return NULL;
        gate_wait(&t->vm->gate, &t->vm->gate.open);
        sandbox_probe(SANDBOX_VCPU);
        return vcpu_thread_main(t);
}

static void *io_thread_main(void *arg)
{
        struct vm *vm = arg;
        int r;

        pthread_setname_np(pthread_self(), "wisp-io");
        if (!enter_sandbox(vm, SANDBOX_IO)) {
                gate_set(&vm->gate, &vm->gate.io_ready);
                return NULL;
        }
        gate_set(&vm->gate, &vm->gate.io_ready);
        sandbox_probe(SANDBOX_IO);
        r = event_loop_run(&vm->loop, &vm->stopping);
        if (r < 0) {
                wisp_error("event loop failed: %s", strerror(-r));
                vm_request_stop(vm, WISP_EXIT_ERROR);
        }
        return NULL;
}

void vm_stop_vcpus(struct vm *vm)
{
        atomic_store(&vm->stopping, true);
        /* A vCPU still at the gate leaves at once: it sees the stop. */
        gate_set(&vm->gate, &vm->gate.open);
        if (!vm->cpu)
                return;
        for (unsigned int i = 0; i < vm->ncpus; i++) {
                struct vcpu_thread *t = &vm->cpu[i];

                if (!t->started)
                        continue;
                /* immediate_exit covers a kick that lands before KVM_RUN. */
                t->vcpu.run->immediate_exit = 1;
                pthread_kill(t->thread, SIGUSR1);
        }
        for (unsigned int i = 0; i < vm->ncpus; i++)
                if (vm->cpu[i].started) {
                        pthread_join(vm->cpu[i].thread, NULL);
                        vm->cpu[i].started = false;
                }
}

static int start_threads(struct vm *vm, pthread_t *io)
{
        pthread_attr_t attr;
        int r = 0;

        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 << 10);
        for (unsigned int i = 0; i < vm->ncpus; i++) {
                r = pthread_create(&vm->cpu[i].thread, &attr, vcpu_thread_start, &vm->cpu[i]);
                if (r) {
                        wisp_error("cannot start vCPU %u: %s", i, strerror(r));
                        break;
                }
                vm->cpu[i].started = true;
        }
        if (r == 0) {
                r = pthread_create(io, &attr, io_thread_main, vm);
                if (r)
                        wisp_error("cannot start the I/O thread: %s", strerror(r));
        }
        pthread_attr_destroy(&attr);
        return -r;
}

int vm_run(struct vm *vm)
{
        pthread_t io;
        int r;

        r = vm_start_console(vm);
        if (r < 0) {
                wisp_error("cannot set up the console: %s", strerror(-r));
                return WISP_EXIT_ERROR;
        }
        pthread_setname_np(pthread_self(), "wisp-main");
        r = sandbox_init(&vm->sandbox);
        if (r < 0) {
                wisp_error("cannot install the SIGSYS handler: %s", strerror(-r));
                return WISP_EXIT_ERROR;
        }
        if (start_threads(vm, &io) < 0) {
                vm_request_stop(vm, WISP_EXIT_ERROR);
                vm_stop_vcpus(vm);
                return atomic_load(&vm->exit_status);
        }
        gate_wait(&vm->gate, &vm->gate.io_ready);
        if (enter_sandbox(vm, SANDBOX_MAIN)) {
                sandbox_probe(SANDBOX_MAIN);
                gate_set(&vm->gate, &vm->gate.open);
        }
        pthread_join(io, NULL);
        vm_stop_vcpus(vm);
        vm->ran = true; /* --stats prints at teardown, once the disks have drained */
        return atomic_load(&vm->exit_status);
}
