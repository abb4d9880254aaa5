/* One KVM vCPU: creation with its CPUID, MSRs and LAPIC wiring, boot state, KVM_RUN. */
#ifndef WISP_KVM_VCPU_H
#define WISP_KVM_VCPU_H

#include <stdint.h>
#include <stdio.h>
#include <linux/kvm.h>

#include "boot/loader.h"
#include "kvm/vm.h"

struct kvm_vcpu {
        struct kvm_vm *vm;
        unsigned int index; /* also its APIC id */
        int fd;
        struct kvm_run *run;
};

/*
 * Creates vCPU index of ncpus and gives it the CPUID template, the boot
 * MSRs, a clean FPU and the LAPIC's LINT0 = ExtINT, LINT1 = NMI wiring a
 * BIOS would leave. Every vCPU but 0 then waits, as on real hardware, for
 * the guest's INIT/SIPI. Returns 0 or -errno (err says which step).
 */
int kvm_vcpu_create(struct kvm_vm *vm, unsigned int index, unsigned int ncpus,
                    struct kvm_vcpu *vcpu, char *err, size_t errlen);

void kvm_vcpu_destroy(struct kvm_vcpu *vcpu);

/* Puts the boot vCPU at the kernel's entry as plan says. */
int kvm_vcpu_set_boot_state(struct kvm_vcpu *vcpu, const struct boot_plan *plan);

/* One KVM_RUN: 0 on an exit to handle, -EINTR/-EAGAIN to retry or stop, -errno. */
int kvm_vcpu_run(struct kvm_vcpu *vcpu);

/* Prints the vCPU's registers (for crash reports). */
void kvm_vcpu_dump(struct kvm_vcpu *vcpu, FILE *out);

/*
 * The boot MSR values (SYSENTER/SYSCALL MSRs zeroed, fast strings on,
 * MTRRs enabled with write-back default), keeping only the MSRs listed in
 * supported. Pure. Returns the number of entries written (at most max).
 */
unsigned int kvm_boot_msrs(const uint32_t *supported, unsigned int nsupported,
                           struct kvm_msr_entry *out, unsigned int max);

/* Sets LVT0 to ExtINT and LVT1 to NMI in a LAPIC register page. Pure. */
void kvm_lapic_set_lint(struct kvm_lapic_state *lapic);

#endif
