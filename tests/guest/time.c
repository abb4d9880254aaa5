/* Bounded waits on the TSC. */
#include "guest.h"
#include "x86.h"

/*
 * No calibration: timeouts only bound failures, so assume a 3 GHz TSC. A
 * 1.5 GHz TSC doubles every timeout, a 6 GHz one halves it; both are fine for
 * the generous limits the tests use.
 */
#define GUEST_TSC_KHZ 3000000UL

u64 deadline_ms(u64 ms)
{
        return rdtsc() + ms * GUEST_TSC_KHZ;
}

bool deadline_passed(u64 deadline)
{
        return (s64)(rdtsc() - deadline) >= 0;
}

void delay_us(u64 us)
{
        u64 end = rdtsc() + us * (GUEST_TSC_KHZ / 1000);

        while ((s64)(rdtsc() - end) < 0)
                ;
}
