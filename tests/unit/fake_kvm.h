/* Test helper: a fake struct kvm_sys that answers KVM's queries and records what is set. */
#ifndef WISP_TESTS_FAKE_KVM_H
#define WISP_TESTS_FAKE_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "kvm/sys.h"

#define FAKE_MAX_CPUID 64
#define FAKE_MAX_MSR_INDEX 32
#define FAKE_MAX_SLOTS 4
#define FAKE_MAX_VCPUS 8
#define FAKE_LOG 512

struct fake_kvm {
        struct kvm_sys sys; /* hand &f->sys to wisp; sys.ctx points back here */

        /* What the fake answers (fake_kvm_init sets a working host). */
        int open_result;  /* 0: a fresh eventfd; otherwise returned as is */
        int api_version;  /* KVM_GET_API_VERSION */
        bool cap_missing; /* KVM_CHECK_EXTENSION(missing_cap) returns 0 */
        unsigned long missing_cap;
        int max_vcpus; /* KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS) */
        int mmap_size; /* KVM_GET_VCPU_MMAP_SIZE */
        struct kvm_cpuid_entry2 cpuid[FAKE_MAX_CPUID];
        unsigned int ncpuid;
        uint32_t msr_index[FAKE_MAX_MSR_INDEX];
        unsigned int nmsr_index;
        struct kvm_lapic_state lapic; /* KVM_GET_LAPIC */
        struct kvm_sregs sregs;       /* KVM_GET_SREGS */
        unsigned long fail_req;       /* this request fails with fail_err (0: none) */
        int fail_err;
        unsigned int msrs_short; /* KVM_SET_MSRS claims this many fewer were set */
        int run_result;          /* KVM_RUN */
        bool map_fail;           /* map_run returns NULL with errno ENOMEM */

        /* File descriptors the fake handed out. */
        int kvm_fd, vm_fd;
        int vcpu_fd[FAKE_MAX_VCPUS];
        unsigned long vcpu_id[FAKE_MAX_VCPUS];
        unsigned int nvcpu;

        /* What wisp did. */
        unsigned long log[FAKE_LOG]; /* every request, in order */
        unsigned int nlog;
        unsigned int wrong_fd; /* requests sent to a fd of the wrong kind */
        unsigned int opens;
        struct kvm_userspace_memory_region slot[FAKE_MAX_SLOTS];
        unsigned int nslot;
        uint64_t tss_addr, identity_addr;
        struct kvm_pit_config pit;
        struct kvm_cpuid_entry2 set_cpuid[FAKE_MAX_CPUID + 8];
        unsigned int nset_cpuid;
        int set_cpuid_fd;
        struct kvm_msr_entry set_msrs[FAKE_MAX_MSR_INDEX];
        unsigned int nset_msrs;
        struct kvm_fpu fpu;
        struct kvm_lapic_state set_lapic;
        struct kvm_sregs set_sregs;
        struct kvm_regs set_regs;
        struct kvm_irq_level irq;
        void *run;
        size_t run_size;
        int run_fd;
        unsigned int maps, unmaps;
};

/* A host with every capability, API 12, a small CPUID and MSR list, 12 KiB kvm_run. */
void fake_kvm_init(struct fake_kvm *f);

/* How many times req was issued. */
unsigned int fake_kvm_count(const struct fake_kvm *f, unsigned long req);

/* True while fd is an open file descriptor of this process. */
bool fd_is_open(int fd);

#endif
