/* Local xAPIC: enable, EOI, IPIs through the ICR, the periodic timer. */
#include "guest.h"
#include "x86.h"

#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define SVR_ENABLE (1u << 8)
#define ICR_BUSY (1u << 12)
#define ICR_SPINS 100000

static u32 rd(u32 reg)
{
        return mmio_read32(WISP_LAPIC_ADDR + reg);
}

static void wr(u32 reg, u32 v)
{
        mmio_write32(WISP_LAPIC_ADDR + reg, v);
}

void lapic_enable(void)
{
        wr(LAPIC_TPR, 0);
        /* LINT0 carries the 8259's ExtINT: masked, or the PIT arrives twice. */
        wr(LAPIC_LVT_LINT0, LVT_MASKED);
        wr(LAPIC_LVT_ERROR, LVT_MASKED);
        wr(LAPIC_LVT_TIMER, LVT_MASKED);
        wr(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

u8 lapic_id(void)
{
        return rd(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
        wr(LAPIC_EOI, 0);
}

/* Physical destination, edge. Callers keep interrupts off around it. */
bool lapic_send_ipi(u8 apic_id, u32 icr_low)
{
        int i;

        for (i = 0; i < ICR_SPINS && (rd(LAPIC_ICR_LO) & ICR_BUSY); i++)
                ;
        wr(LAPIC_ICR_HI, (u32)apic_id << 24);
        wr(LAPIC_ICR_LO, icr_low);
        for (i = 0; i < ICR_SPINS && (rd(LAPIC_ICR_LO) & ICR_BUSY); i++)
                ;
        return i < ICR_SPINS;
}

/* count in bus clocks / 16 (KVM's APIC bus runs at 1 GHz: 62500 = 1 ms). */
void lapic_timer_periodic(u8 vector, u32 count)
{
        wr(LAPIC_TIMER_DIV, 0x3); /* divide by 16 */
        wr(LAPIC_LVT_TIMER, LVT_PERIODIC | vector);
        wr(LAPIC_TIMER_INIT, count);
}

void lapic_timer_stop(void)
{
        wr(LAPIC_TIMER_INIT, 0);
        wr(LAPIC_LVT_TIMER, LVT_MASKED);
}
