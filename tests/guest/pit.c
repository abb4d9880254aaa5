/* 8254 PIT channel 0 as a periodic IRQ 0 source. */
#include "guest.h"
#include "x86.h"

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_HZ 1193182

void pit_start_periodic(u32 hz)
{
        u32 div = PIT_HZ / hz;

        outb(PIT_CMD, 0x34); /* channel 0, lo/hi byte, mode 2 (rate generator) */
        outb(PIT_CH0, (u8)div);
        outb(PIT_CH0, (u8)(div >> 8));
}

void pit_stop(void)
{
        /* Mode 0 (one-shot): one last edge after 65536 counts, then silence. */
        outb(PIT_CMD, 0x30);
        outb(PIT_CH0, 0);
        outb(PIT_CH0, 0);
}
