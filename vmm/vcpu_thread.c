/* The vCPU threads: KVM_RUN, exit dispatch to the buses, crash reports. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "boot/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

enum exit_action { EXIT_CONTINUE, EXIT_STOP };

static void handle_io(struct vcpu_thread *t)
{
        struct kvm_run *run = t->vcpu.run;
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        bool out = run->io.direction == KVM_EXIT_IO_OUT;

        /* String I/O (rep ins/outs) arrives as count elements of size bytes. */
        for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
                io_bus_access(&t->vm->pio, run->io.port, data, run->io.size, out);
        t->stats.io++;
}

static enum exit_action crash(struct vcpu_thread *t, const char *what, unsigned long long a,
                              unsigned long long b)
{
        wisp_error("vCPU %u: guest crashed: %s (0x%llx, 0x%llx)", t->vcpu.index, what, a, b);
        kvm_vcpu_dump(&t->vcpu, stderr);
        vm_request_stop(t->vm, WISP_EXIT_GUEST_CRASH);
        return EXIT_STOP;
}

static enum exit_action handle_exit(struct vcpu_thread *t)
{
        struct kvm_run *run = t->vcpu.run;

        t->stats.exits++;
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
                handle_io(t);
                return EXIT_CONTINUE;
        case KVM_EXIT_MMIO:
                io_bus_access(&t->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
                              run->mmio.is_write);
                t->stats.mmio++;
                return EXIT_CONTINUE;
        case KVM_EXIT_INTR:
        case KVM_EXIT_HLT: /* not expected with the in-kernel LAPIC; harmless */
                t->stats.other++;
                return EXIT_CONTINUE;
        case KVM_EXIT_SHUTDOWN:
                return crash(t, "triple fault", 0, 0);
        case KVM_EXIT_FAIL_ENTRY:
                return crash(t, "VM entry failed", run->fail_entry.hardware_entry_failure_reason,
                             0);
        case KVM_EXIT_INTERNAL_ERROR:
                return crash(t, "KVM internal error (suberror, first data word)",
                             run->internal.suberror,
                             run->internal.ndata ? run->internal.data[0] : 0);
        case KVM_EXIT_SYSTEM_EVENT:
                if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
                        return crash(t, "guest reported a crash", 0, 0);
                vm_request_stop(t->vm, WISP_EXIT_OK);
                return EXIT_STOP;
        default:
                return crash(t, "unexpected exit reason", run->exit_reason, 0);
        }
}

static void kick(int sig)
{
        (void)sig; /* only interrupts KVM_RUN */
}

void vcpu_thread_signals(void)
{
        struct sigaction sa = {.sa_handler = kick};
        sigset_t set;

        /* SIGUSR1 kicks this thread out of KVM_RUN; no SA_RESTART. */
        sigaction(SIGUSR1, &sa, NULL);
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void *vcpu_thread_main(struct vcpu_thread *t)
{
        struct vm *vm = t->vm;

        while (!atomic_load(&vm->stopping) && atomic_load(&vm->exit_status) < 0) {
                int r = kvm_vcpu_run(&t->vcpu);

                if (r == -EINTR || r == -EAGAIN)
                        continue; /* a kick, or the first run after a SIPI */
                if (r < 0) {
                        crash(t, "KVM_RUN failed (errno)", (unsigned long long)-r, 0);
                        break;
                }
                if (handle_exit(t) == EXIT_STOP)
                        break;
        }
        return NULL;
}
