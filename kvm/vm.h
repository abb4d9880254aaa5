/* A KVM virtual machine: its fds, guest RAM slots, irqchip and PIT. */
#ifndef WISP_KVM_VM_H
#define WISP_KVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "kvm/guest_mem.h"
#include "kvm/sys.h"

struct kvm_vm {
        const struct kvm_sys *sys;
        int kvm_fd;
        int vm_fd;
        size_t run_size; /* bytes of each vCPU's kvm_run mapping */
        unsigned int max_vcpus;
        struct guest_mem mem;
        struct kvm_cpuid2 *supported; /* KVM_GET_SUPPORTED_CPUID */
        struct kvm_msr_list *msrs;    /* KVM_GET_MSR_INDEX_LIST */
        bool pvm;                     /* host is kvm_pvm */
};

/*
 * Opens /dev/kvm, checks the API version and every capability wisp relies
 * on, creates the VM with its TSS and identity-map pages, the in-kernel
 * irqchip and PIT, and maps ram_size bytes of guest RAM (MAP_NORESERVE,
 * split around the PCI hole). Returns 0, or -errno with a message in err
 * naming what is missing and how to fix it. On failure nothing is left
 * open.
 */
int kvm_vm_open(struct kvm_vm *vm, const struct kvm_sys *sys, uint64_t ram_size, bool pvm,
                char *err, size_t errlen);

void kvm_vm_close(struct kvm_vm *vm);

/* Drives an in-kernel irqchip input (GSI) to level. Thread-safe. */
int kvm_vm_irq_line(struct kvm_vm *vm, unsigned int gsi, int level);

#endif
