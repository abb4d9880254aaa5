/* CPUID template: topology, hypervisor leaves and the kvm_pvm feature mask. */
#include "kvm/cpuid.h"

#include <errno.h>
#include <string.h>
#include <asm/kvm_para.h>

#define LEAF1_ECX_OSXSAVE (1u << 27)
#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_EDX_HTT (1u << 28)
#define TOPO_LEVEL_SMT 1
#define TOPO_LEVEL_CORE 2

/* KVM PV features that are delivered by vmcall, which hangs on kvm_pvm. */
#define KVM_PV_HYPERCALL_FEATURES                                                                  \
        ((1u << KVM_FEATURE_PV_UNHALT) | (1u << KVM_FEATURE_PV_TLB_FLUSH) |                        \
         (1u << KVM_FEATURE_PV_SEND_IPI) | (1u << KVM_FEATURE_PV_SCHED_YIELD) |                    \
         (1u << KVM_FEATURE_HC_MAP_GPA_RANGE))

/* Bits needed to number ncpus cores: ceil(log2(ncpus)). */
static unsigned int order_of(unsigned int n)
{
        unsigned int s = 0;

        while ((1u << s) < n)
                s++;
        return s;
}

static void fix_leaf(struct kvm_cpuid_entry2 *e, const struct cpuid_params *p)
{
        unsigned int logical = p->ncpus > 255 ? 255 : p->ncpus;

        switch (e->function) {
        case 1:
                e->ebx = (e->ebx & 0x0000ffffu) | (logical << 16) | (p->apic_id << 24);
                e->ecx |= LEAF1_ECX_HYPERVISOR;
                e->ecx &= ~LEAF1_ECX_OSXSAVE;
                if (p->ncpus > 1)
                        e->edx |= LEAF1_EDX_HTT;
                else
                        e->edx &= ~LEAF1_EDX_HTT;
                break;
        case 4: {
                unsigned int cores = p->ncpus > 64 ? 64 : p->ncpus;
                unsigned int level = (e->eax >> 5) & 7;
                unsigned int sharing = level >= 3 ? cores - 1 : 0;

                e->eax = (e->eax & 0x3fffu) | (sharing << 14) | ((cores - 1) << 26);
                break;
        }
        case 6:
        case 0xa:
                e->eax = e->ebx = e->ecx = e->edx = 0;
                break;
        case KVM_CPUID_FEATURES:
                if (p->pvm)
                        e->eax &= ~KVM_PV_HYPERCALL_FEATURES;
                break;
        }
}

/* Leaf 0xB, subleaf idx: SMT level, core level, then the terminating level. */
static struct kvm_cpuid_entry2 topology_leaf(unsigned int idx, const struct cpuid_params *p)
{
        struct kvm_cpuid_entry2 e = {.function = 0xb,
                                     .index = idx,
                                     .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                                     .edx = p->apic_id};

        if (idx == 0) {
                e.eax = 0; /* one thread per core: no SMT id bits */
                e.ebx = 1;
                e.ecx = (TOPO_LEVEL_SMT << 8) | idx;
        } else if (idx == 1) {
                e.eax = order_of(p->ncpus);
                e.ebx = p->ncpus;
                e.ecx = (TOPO_LEVEL_CORE << 8) | idx;
        } else {
                e.ecx = idx; /* level type 0: no more levels */
        }
        return e;
}

int cpuid_template(const struct kvm_cpuid_entry2 *sup, unsigned int nsup,
                   const struct cpuid_params *p, struct kvm_cpuid_entry2 *out, unsigned int max)
{
        unsigned int n = 0;
        int has_topology = 0;

        for (unsigned int i = 0; i < nsup; i++) {
                if (sup[i].function == 0x1f)
                        continue;
                if (sup[i].function == 0xb) {
                        has_topology = 1;
                        continue;
                }
                if (n == max)
                        return -E2BIG;
                out[n] = sup[i];
                fix_leaf(&out[n], p);
                n++;
        }
        if (has_topology) {
                for (unsigned int idx = 0; idx < 3; idx++) {
                        if (n == max)
                                return -E2BIG;
                        out[n++] = topology_leaf(idx, p);
                }
        }
        return (int)n;
}
