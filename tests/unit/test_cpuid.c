/* Unit tests for kvm/cpuid.c: the guest CPUID template derived from a fake supported table. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kvm/cpuid.h"

/* KVM PV feature bits (Linux Documentation/virt/kvm/x86/cpuid.rst). */
#define PV_CLOCKSOURCE (1u << 0)
#define PV_CLOCKSOURCE2 (1u << 3)
#define PV_UNHALT (1u << 7)
#define PV_TLB_FLUSH (1u << 9)
#define PV_SEND_IPI (1u << 11)
#define PV_POLL_CONTROL (1u << 12)
#define PV_SCHED_YIELD (1u << 13)
#define PV_ASYNC_PF_INT (1u << 14)
#define HC_MAP_GPA_RANGE (1u << 16)
#define PV_CLOCKSOURCE_STABLE (1u << 24)
#define ALL_PV 0x0103ffffu /* bits 0..17 and 24 */
#define PVM_CLEARED (PV_UNHALT | PV_TLB_FLUSH | PV_SEND_IPI | PV_SCHED_YIELD | HC_MAP_GPA_RANGE)

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* Leaf 4 EAX: type in 4:0, level in 7:5, host-reported sharing and core fields. */
#define L4(type, level) ((type) | (level) << 5 | 0x100 | 7u << 14 | 0x1fu << 26)

static const struct kvm_cpuid_entry2 sup[] = {
    {.function = 0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
    {.function = 1,
     .eax = 0x000906ea,
     .ebx = 0x0a100800,
     .ecx = 0xfffa3203 | 1u << 27,
     .edx = 0x1f8bfbff | 1u << 28},
    {.function = 4, .index = 0, .flags = SIG, .eax = L4(1, 1), .ebx = 0x01c0003f, .ecx = 0x3f},
    {.function = 4, .index = 1, .flags = SIG, .eax = L4(2, 1), .ebx = 0x01c0003f, .ecx = 0x3f},
    {.function = 4, .index = 2, .flags = SIG, .eax = L4(3, 2), .ebx = 0x03c0003f, .ecx = 0x3ff},
    {.function = 4,
     .index = 3,
     .flags = SIG,
     .eax = L4(3, 3),
     .ebx = 0x03c0003f,
     .ecx = 0x3fff,
     .edx = 6},
    {.function = 4, .index = 4, .flags = SIG},
    {.function = 6, .eax = 0x77, .ebx = 2, .ecx = 9, .edx = 1},
    {.function = 0xa, .eax = 0x07300404, .ebx = 0, .ecx = 0, .edx = 0x603},
    {.function = 0xb, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 0x0a},
    {.function = 0xb, .index = 1, .flags = SIG, .eax = 4, .ebx = 8, .ecx = 0x201, .edx = 0x0a},
    {.function = 0xb, .index = 2, .flags = SIG, .ecx = 2, .edx = 0x0a},
    {.function = 0x1f, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100},
    {.function = 0x1f, .index = 1, .flags = SIG, .eax = 4, .ebx = 8, .ecx = 0x201},
    {.function = 0x1f, .index = 2, .flags = SIG, .ecx = 2},
    {.function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d},
    {.function = 0x40000001, .eax = ALL_PV, .edx = 1},
    {.function = 0x80000001, .ecx = 0x121, .edx = 0x2c100800},
};
#define NSUP (sizeof(sup) / sizeof(sup[0]))
/* 3 leaf-0xB and 3 leaf-0x1F entries go; 3 rebuilt 0xB entries come. */
#define NOUT (NSUP - 3)

static struct kvm_cpuid_entry2 out[NSUP + 8];

static int run(unsigned int ncpus, unsigned int apic_id, bool pvm)
{
        struct cpuid_params p = {.ncpus = ncpus, .apic_id = apic_id, .pvm = pvm};

        memset(out, 0xee, sizeof(out));
        return cpuid_template(sup, NSUP, &p, out, NSUP + 8);
}

static const struct kvm_cpuid_entry2 *find(int n, uint32_t fn, uint32_t idx)
{
        for (int i = 0; i < n; i++)
                if (out[i].function == fn && out[i].index == idx)
                        return &out[i];
        return NULL;
}

static const struct kvm_cpuid_entry2 *must(int n, uint32_t fn, uint32_t idx)
{
        const struct kvm_cpuid_entry2 *e = find(n, fn, idx);

        cr_assert_not_null(e, "leaf %#x.%u missing", fn, idx);
        return e;
}

static const struct kvm_cpuid_entry2 *sup_entry(uint32_t fn, uint32_t idx)
{
        for (size_t i = 0; i < NSUP; i++)
                if (sup[i].function == fn && sup[i].index == idx)
                        return &sup[i];
        return NULL;
}

Test(cpuid, entry_count_and_passthrough)
{
        int n = run(4, 2, false);

        cr_assert_eq(n, (int)NOUT);
        /* Leaves wisp does not touch come through bit for bit. */
        cr_assert_eq(memcmp(must(n, 0, 0), sup_entry(0, 0), sizeof(sup[0])), 0, "leaf 0");
        cr_assert_eq(memcmp(must(n, 0x40000000, 0), sup_entry(0x40000000, 0), sizeof(sup[0])), 0,
                     "KVM signature leaf");
        cr_assert_eq(memcmp(must(n, 0x80000001, 0), sup_entry(0x80000001, 0), sizeof(sup[0])), 0,
                     "leaf 0x80000001");
}

Test(cpuid, leaf1_apic_id_count_hypervisor_osxsave)
{
        int n = run(4, 3, false);
        const struct kvm_cpuid_entry2 *e = must(n, 1, 0);

        cr_assert_eq(e->ebx >> 24, 3, "initial APIC id");
        cr_assert_eq((e->ebx >> 16) & 0xff, 4, "logical processor count");
        cr_assert_eq(e->ebx & 0xffff, 0x0800, "CLFLUSH size and brand kept");
        cr_assert(e->ecx & (1u << 31), "hypervisor bit");
        cr_assert_eq(e->ecx & (1u << 27), 0, "OSXSAVE cleared: KVM derives it from CR4");
        cr_assert_eq(e->ecx & ~(1u << 31 | 1u << 27), sup[1].ecx & ~(1u << 31 | 1u << 27),
                     "other ECX bits kept");
        cr_assert(e->edx & (1u << 28), "HTT with more than one CPU");
        cr_assert_eq(e->edx & ~(1u << 28), sup[1].edx & ~(1u << 28), "other EDX bits kept");
        cr_assert_eq(e->eax, sup[1].eax, "family/model/stepping kept");
}

Test(cpuid, leaf1_single_cpu_has_no_htt)
{
        int n = run(1, 0, false);
        const struct kvm_cpuid_entry2 *e = must(n, 1, 0);

        cr_assert_eq(e->edx & (1u << 28), 0, "HTT cleared although the host had it");
        cr_assert_eq(e->ebx >> 24, 0);
        cr_assert_eq((e->ebx >> 16) & 0xff, 1);
}

Test(cpuid, leaf1_apic_id_per_vcpu)
{
        for (unsigned int id = 0; id < 8; id++) {
                int n = run(8, id, false);

                cr_assert_eq(must(n, 1, 0)->ebx >> 24, id);
                for (unsigned int sub = 0; sub < 3; sub++)
                        cr_assert_eq(must(n, 0xb, sub)->edx, id, "x2APIC id in 0xB.%u", sub);
        }
}

Test(cpuid, leaf4_cores_and_sharing)
{
        const unsigned int counts[] = {1, 2, 3, 4, 64};

        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
                unsigned int ncpus = counts[c];
                int n = run(ncpus, 0, false);

                for (uint32_t sub = 0; sub < 4; sub++) {
                        const struct kvm_cpuid_entry2 *e = must(n, 4, sub);
                        const struct kvm_cpuid_entry2 *s = sup_entry(4, sub);
                        unsigned int level = (s->eax >> 5) & 7;

                        cr_assert_eq(e->eax >> 26, ncpus - 1, "4.%u cores per package (%u cpus)",
                                     sub, ncpus);
                        cr_assert_eq((e->eax >> 14) & 0xfff, level == 3 ? ncpus - 1 : 0,
                                     "4.%u threads sharing the level-%u cache", sub, level);
                        cr_assert_eq(e->eax & 0x3fff, s->eax & 0x3fff, "4.%u type/level kept", sub);
                        cr_assert_eq(e->ebx, s->ebx);
                        cr_assert_eq(e->ecx, s->ecx);
                        cr_assert_eq(e->edx, s->edx);
                        cr_assert_eq(e->flags, SIG);
                }
                cr_assert_eq(must(n, 4, 4)->eax & 0x1f, 0, "null subleaf stays a null subleaf");
        }
}

Test(cpuid, leaf4_core_field_saturates_at_64)
{
        int n = run(200, 0, false);

        cr_assert_eq(must(n, 4, 0)->eax >> 26, 63);
        cr_assert_eq((must(n, 1, 0)->ebx >> 16) & 0xff, 200);
}

Test(cpuid, leaves_6_and_0xa_are_zeroed)
{
        int n = run(2, 0, false);
        const struct kvm_cpuid_entry2 *e6 = must(n, 6, 0), *ea = must(n, 0xa, 0);

        cr_assert_eq(e6->eax | e6->ebx | e6->ecx | e6->edx, 0, "no thermal/power management");
        cr_assert_eq(ea->eax | ea->ebx | ea->ecx | ea->edx, 0, "no PMU");
}

Test(cpuid, leaf_0x1f_is_removed)
{
        int n = run(4, 0, false);

        for (int i = 0; i < n; i++)
                cr_assert_neq(out[i].function, 0x1f, "entry %d is leaf 0x1F", i);
}

Test(cpuid, leaf_0xb_is_rebuilt)
{
        const unsigned int counts[] = {1, 2, 3, 4, 5, 8, 9, 254};
        const unsigned int shift[] = {0, 1, 2, 2, 3, 3, 4, 8};

        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
                unsigned int ncpus = counts[c], id = ncpus - 1;
                int n = run(ncpus, id, false), seen = 0;
                const struct kvm_cpuid_entry2 *smt, *core, *end;

                for (int i = 0; i < n; i++)
                        seen += out[i].function == 0xb;
                cr_assert_eq(seen, 3, "three 0xB subleaves");
                smt = must(n, 0xb, 0);
                core = must(n, 0xb, 1);
                end = must(n, 0xb, 2);
                cr_assert_eq(smt->flags & SIG, SIG);
                cr_assert_eq(smt->eax & 0x1f, 0, "no SMT bits");
                cr_assert_eq(smt->ebx & 0xffff, 1, "one thread per core");
                cr_assert_eq((smt->ecx >> 8) & 0xff, 1, "level type SMT");
                cr_assert_eq(smt->ecx & 0xff, 0);
                cr_assert_eq(core->eax & 0x1f, shift[c], "%u cpus: shift %u", ncpus,
                             core->eax & 0x1f);
                cr_assert_geq(1u << (core->eax & 0x1f), ncpus, "ids fit in the shift");
                cr_assert_eq(core->ebx & 0xffff, ncpus, "logical processors in the package");
                cr_assert_eq((core->ecx >> 8) & 0xff, 2, "level type core");
                cr_assert_eq(core->ecx & 0xff, 1);
                cr_assert_eq((end->ecx >> 8) & 0xff, 0, "level type 0 ends the list");
                cr_assert_eq(end->ecx & 0xff, 2);
                cr_assert_eq(end->ebx, 0);
                cr_assert_eq(smt->edx, id);
                cr_assert_eq(core->edx, id);
                cr_assert_eq(end->edx, id);
        }
}

Test(cpuid, no_0xb_without_host_topology)
{
        struct kvm_cpuid_entry2 small[2] = {sup[0], sup[1]};
        struct cpuid_params p = {.ncpus = 2, .apic_id = 1};

        cr_assert_eq(cpuid_template(small, 2, &p, out, 8), 2);
        cr_assert_eq(out[1].function, 1);
}

Test(cpuid, pvm_clears_exactly_the_vmcall_features)
{
        int n = run(2, 0, true);
        const struct kvm_cpuid_entry2 *e = must(n, 0x40000001, 0);

        cr_assert_eq(e->eax, ALL_PV & ~PVM_CLEARED, "eax %#x", e->eax);
        cr_assert(e->eax & PV_CLOCKSOURCE2, "kvmclock stays");
        cr_assert(e->eax & PV_CLOCKSOURCE_STABLE);
        cr_assert(e->eax & PV_POLL_CONTROL);
        cr_assert(e->eax & PV_ASYNC_PF_INT);
        cr_assert_eq(e->edx, 1, "hints kept");
}

Test(cpuid, non_pvm_keeps_every_pv_feature)
{
        int n = run(2, 0, false);

        cr_assert_eq(must(n, 0x40000001, 0)->eax, ALL_PV);
}

Test(cpuid, too_small_max_is_e2big_and_stays_in_bounds)
{
        struct cpuid_params p = {.ncpus = 2, .apic_id = 0};

        for (unsigned int max = 0; max < NOUT; max++) {
                memset(out, 0xee, sizeof(out));
                cr_assert_eq(cpuid_template(sup, NSUP, &p, out, max), -E2BIG, "max %u", max);
                for (size_t i = max; i < sizeof(out) / sizeof(out[0]); i++)
                        cr_assert_eq(out[i].function, 0xeeeeeeee, "max %u: entry %zu written", max,
                                     i);
        }
        cr_assert_eq(cpuid_template(sup, NSUP, &p, out, NOUT), (int)NOUT, "exactly enough");
}
