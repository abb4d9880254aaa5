/* The TSC frequency, for rates: kvmclock, else CPUID 0x15/0x16, else the PIT. */
#include "virtio.h"
#include "x86.h"

#define PIT_HZ 1193182UL
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61   /* bit 0: channel 2 gate, bit 5: channel 2 output */
#define CAL_TICKS 59659 /* 50 ms of PIT ticks */

u64 kvmclock_tsc_khz(void);

/* Channel 2 one-shot (mode 0) with the gate up; counts TSC until its output rises. */
static u64 pit_calibrate(void)
{
        u64 t0, t1, end = deadline_ms(2000);

        outb(PIT_GATE, (inb(PIT_GATE) & ~0x02) | 0x01);
        outb(PIT_CMD, 0xb0); /* channel 2, lo/hi, mode 0 */
        outb(PIT_CH2, CAL_TICKS & 0xff);
        outb(PIT_CH2, CAL_TICKS >> 8);
        t0 = rdtsc();
        while (!(inb(PIT_GATE) & 0x20))
                if (deadline_passed(end))
                        return 0;
        t1 = rdtsc();
        return (t1 - t0) * PIT_HZ / CAL_TICKS / 1000;
}

u64 tsc_khz(void)
{
        static u64 khz;
        struct cpuid_regs r;
        const char *src = "kvmclock";

        if (khz)
                return khz;
        khz = kvmclock_tsc_khz();
        if (!khz && cpuid(0, 0).eax >= 0x15) {
                r = cpuid(0x15, 0);
                src = "cpuid 0x15";
                if (r.eax && r.ebx && r.ecx)
                        khz = (u64)r.ecx * r.ebx / r.eax / 1000;
                if (!khz && cpuid(0, 0).eax >= 0x16) {
                        src = "cpuid 0x16";
                        khz = (u64)(cpuid(0x16, 0).eax & 0xffff) * 1000;
                }
        }
        if (!khz) {
                src = "the PIT";
                khz = pit_calibrate();
        }
        if (!khz)
                guest_fail(ST_USAGE, "tsc: no frequency from kvmclock, CPUID or the PIT");
        kprintf("tsc: %lu kHz from %s\n", khz, src);
        return khz;
}
