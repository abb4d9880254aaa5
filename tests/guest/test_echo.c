/* wisp.test=echo: UART receive interrupt through IOAPIC pin 4, bytes echoed uppercased until 'q'.
 */
#include "guest.h"
#include "x86.h"

#define WATCHDOG_COUNT 3125000 /* LAPIC timer: 50 ms at 1 GHz / 16 */
#define LOST_IRQ_MS 1000

static volatile bool done;
static volatile u32 rx_irqs;

static void uart_irq(struct trap_frame *f)
{
        (void)f;
        rx_irqs++;
        while (uart_rx_ready()) {
                u8 c = uart_getc();

                uart_putc(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
                if (c == 'q')
                        done = true;
        }
        lapic_eoi();
}

/* Wakes the halted CPU so a byte that never raised an interrupt is noticed. */
static void watchdog_irq(struct trap_frame *f)
{
        (void)f;
        lapic_eoi();
}

void test_echo(const struct boot_info *bi)
{
        u64 pending_since = 0;

        (void)bi;
        irq_set_handler(VEC_UART, uart_irq);
        irq_set_handler(VEC_LAPIC_TIMER, watchdog_irq);
        lapic_enable();
        ioapic_route(WISP_IRQ_COM1, VEC_UART, lapic_id());
        uart_enable_rx_irq();
        lapic_timer_periodic(VEC_LAPIC_TIMER, WATCHDOG_COUNT);
        kprintf("echo: ready\n");
        for (;;) {
                cli();
                if (done)
                        break;
                if (uart_rx_ready()) {
                        if (!pending_since)
                                pending_since = deadline_ms(LOST_IRQ_MS);
                        else if (deadline_passed(pending_since))
                                guest_fail(ST_ECHO,
                                           "echo: byte pending for %u ms without an interrupt "
                                           "(%u received)",
                                           LOST_IRQ_MS, rx_irqs);
                } else {
                        pending_since = 0;
                }
                sti_hlt();
        }
        lapic_timer_stop();
        ioapic_mask(WISP_IRQ_COM1);
        kprintf("\necho: done after %u interrupts\n", rx_irqs);
        guest_pass();
}
