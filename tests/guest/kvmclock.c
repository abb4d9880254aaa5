/* kvmclock: MSR_KVM_SYSTEM_TIME_NEW and the pvclock structure it fills. */
#include "guest.h"
#include "x86.h"

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define READ_TRIES 1000

struct pvclock_vcpu_time_info {
        u32 version;
        u32 pad0;
        u64 tsc_timestamp;
        u64 system_time;
        u32 tsc_to_system_mul;
        s8 tsc_shift;
        u8 flags;
        u8 pad[2];
} __attribute__((packed));

/* Must not cross a page; 32-byte alignment guarantees it. */
static volatile struct pvclock_vcpu_time_info pvclock __attribute__((aligned(32)));

struct pvclock_snap {
        u32 version;
        u32 mul;
        s8 shift;
        u64 ns;
};

/* Reads a consistent snapshot (even version, unchanged across the read). */
static bool pvclock_read(struct pvclock_snap *s)
{
        for (int i = 0; i < READ_TRIES; i++) {
                u32 v = pvclock.version;
                u64 delta;

                barrier();
                s->version = v;
                s->mul = pvclock.tsc_to_system_mul;
                s->shift = pvclock.tsc_shift;
                delta = rdtsc() - pvclock.tsc_timestamp;
                delta = s->shift < 0 ? delta >> -s->shift : delta << s->shift;
                s->ns = pvclock.system_time + (u64)(((unsigned __int128)delta * s->mul) >> 32);
                barrier();
                if (!(v & 1) && v == pvclock.version)
                        return true;
        }
        return false;
}

enum guest_status kvmclock_check(void)
{
        struct pvclock_snap a, b;
        enum guest_status st = ST_PASS;
        u64 khz;

        if (cpuid(KVM_CPUID_SIGNATURE, 0).eax < KVM_CPUID_FEATURES ||
            !(cpuid(KVM_CPUID_FEATURES, 0).eax & KVM_FEATURE_CLOCKSOURCE2)) {
                kprintf("kvmclock: absent\n");
                return ST_PASS;
        }
        wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u64)&pvclock | 1);
        if (!pvclock_read(&a) || a.mul == 0) {
                kprintf("kvmclock: no consistent reading (version %u, mul %u)\n", pvclock.version,
                        pvclock.tsc_to_system_mul);
                st = ST_KVMCLOCK;
                goto out;
        }
        delay_us(1000);
        if (!pvclock_read(&b) || b.ns <= a.ns) {
                kprintf("kvmclock: time did not advance (%lu -> %lu ns)\n", a.ns, b.ns);
                st = ST_KVMCLOCK;
                goto out;
        }
        /* 2^32 / mul ticks per ns, scaled back by the shift. */
        khz = (1000000UL << 32) / a.mul;
        khz = a.shift < 0 ? khz << -a.shift : khz >> a.shift;
        kprintf("kvmclock: version %u, %lu ns, advanced %lu ns over a ~1 ms wait, tsc %lu kHz\n",
                a.version, a.ns, b.ns - a.ns, khz);
out:
        wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
        return st;
}

/* The TSC frequency kvmclock implies (0 without kvmclock); the MSR is cleared after. */
u64 kvmclock_tsc_khz(void)
{
        struct pvclock_snap s;
        u64 khz = 0;

        if (cpuid(KVM_CPUID_SIGNATURE, 0).eax < KVM_CPUID_FEATURES ||
            !(cpuid(KVM_CPUID_FEATURES, 0).eax & KVM_FEATURE_CLOCKSOURCE2))
                return 0;
        wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u64)&pvclock | 1);
        if (pvclock_read(&s) && s.mul) {
                khz = (1000000UL << 32) / s.mul;
                khz = s.shift < 0 ? khz << -s.shift : khz >> s.shift;
        }
        wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
        return khz;
}
