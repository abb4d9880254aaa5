/* Ending the guest: PASS/FAIL lines and the debug-exit port. */
#include "guest.h"
#include "x86.h"

void guest_exit(u8 status)
{
        static const struct desc_ptr no_idt;

        outb(WISP_PORT_DEBUG_EXIT, status);
        /* Still running (no debug-exit device): triple fault rather than hang. */
        cli();
        lidt(&no_idt);
        for (;;)
                __asm__ volatile("ud2");
}

void guest_pass(void)
{
        kprintf("wisp-test-guest: PASS\n");
        guest_exit(ST_PASS);
}

void guest_fail(enum guest_status st, const char *fmt, ...)
{
        va_list ap;

        kprintf("wisp-test-guest: FAIL ");
        va_start(ap, fmt);
        kvprintf(fmt, ap);
        va_end(ap);
        kprintf(" (status %u)\n", st);
        guest_exit(st);
}
