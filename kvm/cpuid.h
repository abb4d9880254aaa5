/* The guest's CPUID: a documented template over what KVM supports. */
#ifndef WISP_KVM_CPUID_H
#define WISP_KVM_CPUID_H

#include <stdbool.h>
#include <linux/kvm.h>

struct cpuid_params {
        unsigned int ncpus;   /* vCPUs in the VM: one core each, one socket */
        unsigned int apic_id; /* this vCPU's APIC id (its index) */
        bool pvm;             /* host is kvm_pvm: hide hypercall-based PV features */
};

/*
 * Derives one vCPU's CPUID from KVM_GET_SUPPORTED_CPUID (sup). Pure.
 *
 *   leaf 1        APIC id and logical count in EBX, hypervisor bit set,
 *                 HTT when ncpus > 1, OSXSAVE cleared (KVM derives it)
 *   leaf 4        cores per package = ncpus; L3 shared by all, L1/L2 private
 *   leaf 6        thermal and power management: none
 *   leaf 0xA      no PMU: the guest does not program counters it cannot use
 *   leaf 0xB      x2APIC topology: 1 thread per core, ncpus cores
 *   leaf 0x1F     dropped so the guest falls back to 0xB
 *   0x40000000    "KVMKVMKVM" signature as KVM reports it
 *   0x40000001    KVM PV features; on kvm_pvm without the ones that use
 *                 vmcall (PV unhalt, TLB flush, send-IPI, sched-yield,
 *                 map-gpa-range), because vmcall hangs the vCPU there
 *
 * Everything else is passed through as KVM reports it. Returns the number
 * of entries written to out, or -E2BIG when max is too small.
 */
int cpuid_template(const struct kvm_cpuid_entry2 *sup, unsigned int nsup,
                   const struct cpuid_params *p, struct kvm_cpuid_entry2 *out, unsigned int max);

#endif
