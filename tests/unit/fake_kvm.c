/* Test helper: the fake /dev/kvm behind struct kvm_sys, with real fds (eventfds). */
#include "fake_kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

static const uint32_t default_msrs[] = {0x174,      0x175,      0x176,      0x1a0,
                                        0x2ff,      0xc0000080, 0xc0000081, 0xc0000082,
                                        0xc0000083, 0xc0000084, 0xc0000102, 0x10};

unsigned int fake_kvm_count(const struct fake_kvm *f, unsigned long req)
{
        unsigned int n = 0;

        for (unsigned int i = 0; i < f->nlog && i < FAKE_LOG; i++)
                n += f->log[i] == req;
        return n;
}

bool fd_is_open(int fd)
{
        return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

enum fd_kind { FD_KVM, FD_VM, FD_VCPU };

static enum fd_kind kind_of(unsigned long req)
{
        switch (req) {
        case KVM_GET_API_VERSION:
        case KVM_CHECK_EXTENSION:
        case KVM_GET_VCPU_MMAP_SIZE:
        case KVM_GET_SUPPORTED_CPUID:
        case KVM_GET_MSR_INDEX_LIST:
        case KVM_CREATE_VM:
                return FD_KVM;
        case KVM_SET_USER_MEMORY_REGION:
        case KVM_SET_TSS_ADDR:
        case KVM_SET_IDENTITY_MAP_ADDR:
        case KVM_CREATE_IRQCHIP:
        case KVM_CREATE_PIT2:
        case KVM_CREATE_VCPU:
        case KVM_IRQ_LINE:
                return FD_VM;
        default:
                return FD_VCPU;
        }
}

static bool fd_matches(const struct fake_kvm *f, int fd, enum fd_kind k)
{
        if (k == FD_KVM)
                return fd == f->kvm_fd;
        if (k == FD_VM)
                return fd == f->vm_fd;
        for (unsigned int i = 0; i < f->nvcpu; i++)
                if (fd == f->vcpu_fd[i])
                        return true;
        return false;
}

static int new_fd(void)
{
        int fd = eventfd(0, EFD_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

static int fake_ioctl(const struct kvm_sys *sys, int fd, unsigned long req, void *arg)
{
        struct fake_kvm *f = sys->ctx;

        if (f->nlog < FAKE_LOG)
                f->log[f->nlog] = req;
        f->nlog++;
        if (!fd_matches(f, fd, kind_of(req))) {
                f->wrong_fd++;
                return -ENOTTY;
        }
        if (f->fail_req && req == f->fail_req)
                return f->fail_err;

        switch (req) {
        case KVM_GET_API_VERSION:
                return f->api_version;
        case KVM_CHECK_EXTENSION: {
                unsigned long cap = (unsigned long)arg;

                if (f->cap_missing && cap == f->missing_cap)
                        return 0;
                return cap == KVM_CAP_MAX_VCPUS ? f->max_vcpus : 1;
        }
        case KVM_GET_VCPU_MMAP_SIZE:
                return f->mmap_size;
        case KVM_GET_SUPPORTED_CPUID: {
                struct kvm_cpuid2 *c = arg;

                if (c->nent < f->ncpuid)
                        return -E2BIG;
                memcpy(c->entries, f->cpuid, f->ncpuid * sizeof(f->cpuid[0]));
                c->nent = f->ncpuid;
                return 0;
        }
        case KVM_GET_MSR_INDEX_LIST: {
                struct kvm_msr_list *l = arg;
                uint32_t room = l->nmsrs;

                l->nmsrs = f->nmsr_index;
                if (room < f->nmsr_index)
                        return -E2BIG;
                memcpy(l->indices, f->msr_index, f->nmsr_index * sizeof(uint32_t));
                return 0;
        }
        case KVM_CREATE_VM:
                f->vm_fd = new_fd();
                return f->vm_fd;
        case KVM_SET_USER_MEMORY_REGION:
                if (f->nslot < FAKE_MAX_SLOTS)
                        f->slot[f->nslot] = *(struct kvm_userspace_memory_region *)arg;
                f->nslot++;
                return 0;
        case KVM_SET_TSS_ADDR:
                f->tss_addr = (uint64_t)(unsigned long)arg;
                return 0;
        case KVM_SET_IDENTITY_MAP_ADDR:
                f->identity_addr = *(uint64_t *)arg;
                return 0;
        case KVM_CREATE_IRQCHIP:
                return 0;
        case KVM_CREATE_PIT2:
                f->pit = *(struct kvm_pit_config *)arg;
                return 0;
        case KVM_CREATE_VCPU: {
                int vfd;

                if (f->nvcpu == FAKE_MAX_VCPUS)
                        return -EMFILE;
                vfd = new_fd();
                if (vfd < 0)
                        return vfd;
                f->vcpu_fd[f->nvcpu] = vfd;
                f->vcpu_id[f->nvcpu] = (unsigned long)arg;
                f->nvcpu++;
                return vfd;
        }
        case KVM_IRQ_LINE:
                f->irq = *(struct kvm_irq_level *)arg;
                return 0;
        case KVM_SET_CPUID2: {
                const struct kvm_cpuid2 *c = arg;
                unsigned int n = c->nent;

                if (n > FAKE_MAX_CPUID + 8)
                        return -E2BIG;
                memcpy(f->set_cpuid, c->entries, n * sizeof(c->entries[0]));
                f->nset_cpuid = n;
                f->set_cpuid_fd = fd;
                return 0;
        }
        case KVM_SET_MSRS: {
                const struct kvm_msrs *m = arg;
                unsigned int n = m->nmsrs;

                if (n > FAKE_MAX_MSR_INDEX)
                        return -E2BIG;
                memcpy(f->set_msrs, m->entries, n * sizeof(m->entries[0]));
                f->nset_msrs = n;
                return (int)(n > f->msrs_short ? n - f->msrs_short : 0);
        }
        case KVM_SET_FPU:
                f->fpu = *(struct kvm_fpu *)arg;
                return 0;
        case KVM_GET_LAPIC:
                *(struct kvm_lapic_state *)arg = f->lapic;
                return 0;
        case KVM_SET_LAPIC:
                f->set_lapic = *(struct kvm_lapic_state *)arg;
                return 0;
        case KVM_GET_SREGS:
                *(struct kvm_sregs *)arg = f->sregs;
                return 0;
        case KVM_SET_SREGS:
                f->set_sregs = *(struct kvm_sregs *)arg;
                return 0;
        case KVM_GET_REGS:
                *(struct kvm_regs *)arg = f->set_regs;
                return 0;
        case KVM_SET_REGS:
                f->set_regs = *(struct kvm_regs *)arg;
                return 0;
        case KVM_RUN:
                return f->run_result;
        }
        return -ENOTTY;
}

static int fake_open_dev(const struct kvm_sys *sys)
{
        struct fake_kvm *f = sys->ctx;

        f->opens++;
        if (f->open_result)
                return f->open_result;
        f->kvm_fd = new_fd();
        return f->kvm_fd;
}

static void *fake_map_run(const struct kvm_sys *sys, int vcpu_fd, size_t size)
{
        struct fake_kvm *f = sys->ctx;

        if (f->map_fail) {
                errno = ENOMEM;
                return NULL;
        }
        f->run = calloc(1, size);
        if (!f->run)
                return NULL;
        f->run_size = size;
        f->run_fd = vcpu_fd;
        f->maps++;
        return f->run;
}

static void fake_unmap_run(const struct kvm_sys *sys, void *run, size_t size)
{
        struct fake_kvm *f = sys->ctx;

        if (run == f->run && size == f->run_size) {
                f->run = NULL;
                f->unmaps++;
        }
        free(run);
}

void fake_kvm_init(struct fake_kvm *f)
{
        static const struct kvm_cpuid_entry2 cpuid[] = {
            {.function = 0, .eax = 0xd, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
            {.function = 1,
             .eax = 0x906ea,
             .ebx = 0x00100800,
             .ecx = 0xfffa3203,
             .edx = 0x1f8bfbff},
            {.function = 0xb,
             .index = 0,
             .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
             .ebx = 1,
             .ecx = 0x100},
            {.function = 0xb,
             .index = 1,
             .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
             .ebx = 1,
             .ecx = 0x201},
            {.function = 0x40000000,
             .eax = 0x40000001,
             .ebx = 0x4b4d564b,
             .ecx = 0x564b4d56,
             .edx = 0x4d},
            {.function = 0x40000001, .eax = 0x01ffffff},
            {.function = 0x80000001, .ecx = 0x121, .edx = 0x2c100800},
        };

        memset(f, 0, sizeof(*f));
        f->sys = (struct kvm_sys){.ioctl = fake_ioctl,
                                  .open_dev = fake_open_dev,
                                  .map_run = fake_map_run,
                                  .unmap_run = fake_unmap_run,
                                  .ctx = f};
        f->api_version = KVM_API_VERSION;
        f->max_vcpus = 288;
        f->mmap_size = 3 * 4096;
        memcpy(f->cpuid, cpuid, sizeof(cpuid));
        f->ncpuid = sizeof(cpuid) / sizeof(cpuid[0]);
        memcpy(f->msr_index, default_msrs, sizeof(default_msrs));
        f->nmsr_index = sizeof(default_msrs) / sizeof(default_msrs[0]);
        /* KVM's LAPIC after reset: LVT0/LVT1 masked (bit 16). */
        f->lapic.regs[0x350 + 2] = 0x01;
        f->lapic.regs[0x360 + 2] = 0x01;
        f->lapic.regs[0x20 + 3] = 0; /* APIC id */
        f->lapic.regs[0x30] = 0x14;  /* version */
        f->sregs.apic_base = 0xfee00900;
        f->sregs.interrupt_bitmap[0] = 0x8000000000000001ull;
        f->sregs.cr0 = 0x60000010;
        f->kvm_fd = f->vm_fd = -1;
        f->set_cpuid_fd = f->run_fd = -1;
        for (unsigned int i = 0; i < FAKE_MAX_VCPUS; i++)
                f->vcpu_fd[i] = -1;
}
