/* vCPU set-up (CPUID, MSRs, FPU, LAPIC, boot registers) and the KVM_RUN call. */
#include "kvm/vcpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/layout.h"
#include "kvm/cpuid.h"

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MISC_ENABLE_FAST_STRING 1
#define MTRR_ENABLE (1u << 11)
#define MTRR_TYPE_WB 6

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

unsigned int kvm_boot_msrs(const uint32_t *supported, unsigned int nsupported,
                           struct kvm_msr_entry *out, unsigned int max)
{
        static const struct kvm_msr_entry want[] = {
            {.index = MSR_IA32_SYSENTER_CS},
            {.index = MSR_IA32_SYSENTER_ESP},
            {.index = MSR_IA32_SYSENTER_EIP},
            {.index = MSR_STAR},
            {.index = MSR_LSTAR},
            {.index = MSR_CSTAR},
            {.index = MSR_SYSCALL_MASK},
            {.index = MSR_KERNEL_GS_BASE},
            {.index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING},
            {.index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE | MTRR_TYPE_WB},
        };
        unsigned int n = 0;

        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]) && n < max; i++)
                for (unsigned int j = 0; j < nsupported; j++)
                        if (supported[j] == want[i].index) {
                                out[n++] = want[i];
                                break;
                        }
        return n;
}

static void lvt_set_mode(struct kvm_lapic_state *l, unsigned int reg, uint32_t mode)
{
        uint32_t v;

        memcpy(&v, &l->regs[reg], sizeof(v));
        v = (v & ~0x700u & ~(1u << 16)) | (mode << 8); /* delivery mode, unmasked */
        memcpy(&l->regs[reg], &v, sizeof(v));
}

void kvm_lapic_set_lint(struct kvm_lapic_state *lapic)
{
        lvt_set_mode(lapic, APIC_LVT0, APIC_MODE_EXTINT);
        lvt_set_mode(lapic, APIC_LVT1, APIC_MODE_NMI);
}

static int set_cpuid(struct kvm_vcpu *v, unsigned int ncpus)
{
        const struct kvm_cpuid2 *sup = v->vm->supported;
        struct cpuid_params p = {.ncpus = ncpus, .apic_id = v->index, .pvm = v->vm->pvm};
        unsigned int max = sup->nent + 4;
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + max * sizeof(c->entries[0]));
        int r;

        if (!c)
                return -ENOMEM;
        r = cpuid_template(sup->entries, sup->nent, &p, c->entries, max);
        if (r >= 0) {
                c->nent = (uint32_t)r;
                r = kvm_ioctl(v->vm->sys, v->fd, KVM_SET_CPUID2, c);
        }
        free(c);
        return r < 0 ? r : 0;
}

static int set_msrs(struct kvm_vcpu *v)
{
        struct {
                struct kvm_msrs h;
                struct kvm_msr_entry e[16];
        } m = {0};
        int r;

        m.h.nmsrs = kvm_boot_msrs(v->vm->msrs->indices, v->vm->msrs->nmsrs, m.e, 16);
        r = kvm_ioctl(v->vm->sys, v->fd, KVM_SET_MSRS, &m);
        if (r < 0)
                return r;
        return (unsigned int)r == m.h.nmsrs ? 0 : -EINVAL;
}

static int set_fpu_and_lapic(struct kvm_vcpu *v)
{
        struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80}; /* the reset values */
        struct kvm_lapic_state lapic;
        int r;

        r = kvm_ioctl(v->vm->sys, v->fd, KVM_SET_FPU, &fpu);
        if (r < 0)
                return r;
        r = kvm_ioctl(v->vm->sys, v->fd, KVM_GET_LAPIC, &lapic);
        if (r < 0)
                return r;
        kvm_lapic_set_lint(&lapic);
        r = kvm_ioctl(v->vm->sys, v->fd, KVM_SET_LAPIC, &lapic);
        return r < 0 ? r : 0;
}

int kvm_vcpu_create(struct kvm_vm *vm, unsigned int index, unsigned int ncpus,
                    struct kvm_vcpu *vcpu, char *err, size_t errlen)
{
        const char *step = "KVM_CREATE_VCPU";
        int r;

        memset(vcpu, 0, sizeof(*vcpu));
        vcpu->vm = vm;
        vcpu->index = index;
        vcpu->fd = r = kvm_ioctl(vm->sys, vm->vm_fd, KVM_CREATE_VCPU, (void *)(unsigned long)index);
        if (r < 0)
                goto fail;
        step = "mapping kvm_run";
        vcpu->run = vm->sys->map_run(vm->sys, vcpu->fd, vm->run_size);
        if (!vcpu->run) {
                r = -errno;
                goto fail;
        }
        step = "KVM_SET_CPUID2";
        r = set_cpuid(vcpu, ncpus);
        if (r < 0)
                goto fail;
        step = "KVM_SET_MSRS";
        r = set_msrs(vcpu);
        if (r < 0)
                goto fail;
        step = "KVM_SET_FPU/LAPIC";
        r = set_fpu_and_lapic(vcpu);
        if (r < 0)
                goto fail;
        return 0;
fail:
        snprintf(err, errlen, "vCPU %u: %s failed: %s", index, step, strerror(-r));
        kvm_vcpu_destroy(vcpu);
        return r;
}

void kvm_vcpu_destroy(struct kvm_vcpu *vcpu)
{
        if (vcpu->run)
                vcpu->vm->sys->unmap_run(vcpu->vm->sys, vcpu->run, vcpu->vm->run_size);
        if (vcpu->fd > 0)
                close(vcpu->fd);
        vcpu->run = NULL;
        vcpu->fd = -1;
}

int kvm_vcpu_set_boot_state(struct kvm_vcpu *v, const struct boot_plan *plan)
{
        struct kvm_sregs sregs;
        struct kvm_regs regs;
        int r;

        r = kvm_ioctl(v->vm->sys, v->fd, KVM_GET_SREGS, &sregs);
        if (r < 0)
                return r;
        boot_sregs(&sregs, plan->mode, WISP_GDT_ADDR, WISP_PML4_ADDR);
        r = kvm_ioctl(v->vm->sys, v->fd, KVM_SET_SREGS, &sregs);
        if (r < 0)
                return r;
        boot_regs(&regs, plan->mode, plan->entry, plan->info_gpa, WISP_BOOT_STACK);
        r = kvm_ioctl(v->vm->sys, v->fd, KVM_SET_REGS, &regs);
        return r < 0 ? r : 0;
}

int kvm_vcpu_run(struct kvm_vcpu *v)
{
        int r = kvm_ioctl(v->vm->sys, v->fd, KVM_RUN, NULL);

        return r < 0 ? r : 0;
}

void kvm_vcpu_dump(struct kvm_vcpu *v, FILE *out)
{
        struct kvm_regs r;
        struct kvm_sregs s;

        if (kvm_ioctl(v->vm->sys, v->fd, KVM_GET_REGS, &r) < 0 ||
            kvm_ioctl(v->vm->sys, v->fd, KVM_GET_SREGS, &s) < 0) {
                fprintf(out, "vCPU %u: registers unavailable\n", v->index);
                return;
        }
        fprintf(out,
                "vCPU %u registers:\n"
                " rip %016llx rsp %016llx rflags %016llx\n"
                " rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
                " rsi %016llx rdi %016llx rbp %016llx\n"
                " r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
                " r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
                " cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx\n"
                " cs %04x (base %llx l %u db %u) ss %04x gdt %llx/%x idt %llx/%x\n",
                v->index, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
                r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4,
                s.efer, s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.gdt.base,
                s.gdt.limit, s.idt.base, s.idt.limit);
}
