/* Unit tests for devices/uart.c: the 16550A as Linux's 8250 driver probes and drives it. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/uart.h"

/* Register offsets and bits, from the PC16550D datasheet (Linux serial_reg.h names). */
enum {
        RX = 0,
        TX = 0,
        DLL = 0,
        IER = 1,
        DLM = 1,
        IIR = 2,
        FCR = 2,
        EFR = 2,
        LCR = 3,
        MCR = 4,
        LSR = 5,
        MSR = 6,
        SCR = 7
};
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NO_INT 0x01
#define IIR_ID 0x0e
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

struct host {
        uint8_t tx[512];
        unsigned int ntx;
        int level;
        unsigned int irq_calls, raises;
        unsigned int rx_room;
};

static void h_tx(void *ctx, uint8_t b)
{
        struct host *h = ctx;

        if (h->ntx < sizeof(h->tx))
                h->tx[h->ntx] = b;
        h->ntx++;
}

static void h_irq(void *ctx, int level)
{
        struct host *h = ctx;

        cr_assert_neq(h->level, level, "irq callback without a change");
        h->level = level;
        h->irq_calls++;
        h->raises += level == 1;
}

static void h_rx_room(void *ctx)
{
        ((struct host *)ctx)->rx_room++;
}

static const struct uart_ops ops = {.tx = h_tx, .irq = h_irq, .rx_room = h_rx_room};
static struct uart u;
static struct host h;

static void setup(void)
{
        memset(&h, 0, sizeof(h));
        uart_init(&u, &ops, &h);
}

static void teardown(void)
{
        uart_destroy(&u);
}

TestSuite(uart, .init = setup, .fini = teardown);

static uint8_t in(unsigned int reg)
{
        uint8_t v = 0xaa;

        uart_io(&u, reg, &v, 1, false);
        return v;
}

static void out(unsigned int reg, uint8_t v)
{
        uart_io(&u, reg, &v, 1, true);
}

/* serial8250_clear_fifos + the tail of autoconfig() */
static void clear_fifos(void)
{
        out(FCR, 0x01);
        out(FCR, 0x01 | 0x02 | 0x04);
        out(FCR, 0);
}

/* Linux 6.1 drivers/tty/serial/8250/8250_port.c autoconfig(), step by step. */
Test(uart, linux_autoconfig_finds_a_16550a)
{
        uint8_t scratch, scratch2, scratch3, save_mcr, save_lcr, status1;

        /* The IER existence test. */
        scratch = in(IER);
        out(IER, 0);
        scratch2 = in(IER)&0x0f;
        out(IER, 0x0f);
        scratch3 = in(IER)&0x0f;
        out(IER, scratch);
        cr_assert_eq(scratch2, 0, "IER reads back 0");
        cr_assert_eq(scratch3, 0x0f, "IER reads back 0x0f");

        save_mcr = in(MCR);
        save_lcr = in(LCR);

        /* The loopback test: RTS and OUT2 come back as CTS and DCD. */
        out(MCR, MCR_LOOP | 0x0a);
        status1 = in(MSR)&0xf0;
        out(MCR, save_mcr);
        cr_assert_eq(status1, 0x90, "loopback MSR %#x", status1);

        /* EFR probe (LCR 0xBF), then the FIFO enable that tells the type. */
        out(LCR, 0xbf);
        out(EFR, 0);
        out(LCR, 0);
        out(FCR, 0x01);
        scratch = in(IIR);
        cr_assert_eq(scratch >> 6, 3, "IIR %#x: FIFO bits say 16550A", scratch);

        out(LCR, save_lcr);
        out(MCR, save_mcr);
        clear_fifos();
        in(RX);
        out(IER, 0);

        cr_assert_eq(h.ntx, 0, "probing transmits nothing");
        cr_assert_eq(h.raises, 0, "probing raises no interrupt (OUT2 never set with IER on)");
        cr_assert_eq(in(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
        cr_assert_eq(in(LSR)&LSR_DR, 0);
}

Test(uart, scratch_register)
{
        uint8_t scratch = in(SCR);

        out(SCR, 0xa5);
        cr_assert_eq(in(SCR), 0xa5);
        out(SCR, 0x5a);
        cr_assert_eq(in(SCR), 0x5a);
        out(SCR, scratch);
        cr_assert_eq(in(SCR), scratch);
}

Test(uart, divisor_latch_behind_dlab)
{
        out(IER, IER_RDI);
        out(LCR, 0x80 | 0x03);
        cr_assert_eq(in(DLL), 0x0c, "9600 baud left by the BIOS");
        out(DLL, 0x01);
        out(DLM, 0x00);
        cr_assert_eq(in(DLL), 0x01);
        cr_assert_eq(in(DLM), 0x00);
        cr_assert_eq(in(LCR), 0x83);
        cr_assert_eq(h.ntx, 0, "a DLL write is not a byte to send");
        out(LCR, 0x03);
        cr_assert_eq(in(IER), IER_RDI, "IER untouched by the DLM write");
        out(TX, 'x');
        cr_assert_eq(h.ntx, 1);
        cr_assert_eq(h.tx[0], 'x');
        out(LCR, 0x83);
        cr_assert_eq(in(DLL), 0x01, "DLL untouched by the THR write");
}

Test(uart, ier_keeps_only_the_low_nibble)
{
        out(IER, 0xff);
        cr_assert_eq(in(IER), 0x0f);
}

/* serial8250_do_startup: the THRE re-assertion test and the TXEN test. */
Test(uart, linux_startup_thre_tests)
{
        uint8_t iir1, iir, lsr;

        out(IER, IER_THRI);
        iir1 = in(IIR);
        out(IER, 0);
        out(IER, IER_THRI);
        iir = in(IIR);
        out(IER, 0);
        cr_assert_eq(iir1 & IIR_NO_INT, 0, "THRE interrupt on enabling THRI");
        cr_assert_eq(iir & IIR_NO_INT, 0, "and again after re-enabling it (no UART_BUG_THRE)");

        out(LCR, 0x03);
        out(MCR, MCR_OUT2 | MCR_DTR | MCR_RTS);
        out(IER, IER_THRI);
        lsr = in(LSR);
        iir = in(IIR);
        out(IER, 0);
        cr_assert(lsr & LSR_TEMT);
        cr_assert_eq(iir & IIR_NO_INT, 0, "no UART_BUG_TXEN");
}

Test(uart, thr_writes_go_to_tx_in_order)
{
        const char *msg = "Linux version 6.1\r\n";

        for (const char *p = msg; *p; p++) {
                cr_assert(in(LSR)&LSR_THRE, "always ready to send");
                out(TX, (uint8_t)*p);
        }
        cr_assert_eq(h.ntx, strlen(msg));
        cr_assert_eq(memcmp(h.tx, msg, h.ntx), 0);
}

Test(uart, thri_raised_and_acknowledged_by_reading_iir)
{
        out(MCR, MCR_OUT2);
        out(FCR, 0x01);
        cr_assert_eq(h.level, 0);
        out(IER, IER_THRI);
        cr_assert_eq(h.level, 1, "THRE interrupt as soon as THRI is enabled");
        cr_assert_eq(in(IIR), 0xc0 | IIR_THRI);
        cr_assert_eq(h.level, 0, "reading IIR acknowledged it");
        cr_assert_eq(in(IIR), 0xc0 | IIR_NO_INT);

        out(TX, 'a');
        cr_assert_eq(h.level, 1, "THR empty again after the byte left");
        cr_assert_eq(in(IIR)&IIR_ID, IIR_THRI);
        cr_assert_eq(h.level, 0);

        out(IER, 0);
        out(TX, 'b');
        cr_assert_eq(h.level, 0, "no interrupt with THRI disabled");
        cr_assert_eq(in(IIR)&IIR_NO_INT, IIR_NO_INT);
}

Test(uart, irq_line_needs_out2)
{
        out(IER, IER_THRI | IER_RDI);
        cr_assert_eq(h.irq_calls, 0, "pending but gated off the bus");
        cr_assert_eq(in(IIR)&IIR_NO_INT, 0, "IIR still reports it");
        uart_receive(&u, (const uint8_t *)"x", 1);
        cr_assert_eq(h.irq_calls, 0);
        out(MCR, MCR_OUT2);
        cr_assert_eq(h.level, 1, "raised once OUT2 is set");
        out(MCR, 0);
        cr_assert_eq(h.level, 0, "and lowered when it is cleared");
}

Test(uart, receive_then_read)
{
        out(MCR, MCR_OUT2);
        out(FCR, 0x01);
        out(IER, IER_RDI);
        cr_assert_eq(in(LSR)&LSR_DR, 0);
        cr_assert_eq(uart_receive(&u, (const uint8_t *)"abc", 3), 3);
        cr_assert_eq(h.level, 1, "receive interrupt");
        cr_assert(in(LSR)&LSR_DR);
        cr_assert_eq(in(IIR), 0xc0 | IIR_RDI);
        cr_assert_eq(in(RX), 'a');
        cr_assert_eq(in(RX), 'b');
        cr_assert_eq(h.level, 1, "still data");
        cr_assert_eq(in(RX), 'c');
        cr_assert_eq(in(LSR)&LSR_DR, 0);
        cr_assert_eq(h.level, 0, "lowered once the FIFO is empty");
        cr_assert_eq(in(IIR)&IIR_NO_INT, IIR_NO_INT);
        cr_assert_eq(in(RX), 0, "reading an empty FIFO is harmless");
        cr_assert_eq(h.rx_room, 0, "the FIFO was never full");
}

Test(uart, receive_has_priority_over_thre_in_iir)
{
        out(IER, IER_RDI | IER_THRI);
        uart_receive(&u, (const uint8_t *)"z", 1);
        cr_assert_eq(in(IIR)&IIR_ID, IIR_RDI);
        cr_assert_eq(in(IIR)&IIR_ID, IIR_RDI, "reading IIR does not drop pending THRE");
        in(RX);
        cr_assert_eq(in(IIR)&IIR_ID, IIR_THRI);
        cr_assert_eq(in(IIR)&IIR_NO_INT, IIR_NO_INT);
}

Test(uart, full_fifo_takes_fewer_and_reports_room)
{
        uint8_t buf[100];

        for (unsigned int i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)i;
        cr_assert_eq(uart_receive(&u, buf, sizeof(buf)), UART_FIFO_SIZE);
        cr_assert_eq(uart_receive(&u, buf, 1), 0, "full");
        cr_assert_eq(h.rx_room, 0);
        cr_assert_eq(in(RX), 0);
        cr_assert_eq(h.rx_room, 1, "room again after one byte");
        cr_assert_eq(in(RX), 1);
        cr_assert_eq(h.rx_room, 1, "only when a full FIFO drains");
        cr_assert_eq(uart_receive(&u, buf + 64, 36), 2);
        for (unsigned int i = 2; i < 66; i++)
                cr_assert_eq(in(RX), i, "byte %u in order across the ring wrap", i);
        cr_assert_eq(in(LSR)&LSR_DR, 0);
}

Test(uart, fcr_clears_the_receive_fifo)
{
        uint8_t buf[UART_FIFO_SIZE];

        memset(buf, 'q', sizeof(buf));
        uart_receive(&u, buf, 5);
        out(FCR, 0x01 | 0x02);
        cr_assert_eq(in(LSR)&LSR_DR, 0);
        cr_assert_eq(h.rx_room, 0, "was not full");
        uart_receive(&u, buf, UART_FIFO_SIZE);
        out(FCR, 0x01 | 0x02);
        cr_assert_eq(h.rx_room, 1, "a full FIFO cleared has room");
        cr_assert_eq(uart_receive(&u, (const uint8_t *)"n", 1), 1);
        cr_assert_eq(in(RX), 'n', "new data after the clear, not stale");
        out(FCR, 0x01 | 0x04); /* clear TX only */
        cr_assert_eq(h.rx_room, 1);
}

Test(uart, fifo_bits_in_iir_follow_fcr)
{
        cr_assert_eq(in(IIR)&0xc0, 0, "FIFO off after reset");
        out(FCR, 0x01);
        cr_assert_eq(in(IIR)&0xc0, 0xc0);
        out(FCR, 0);
        cr_assert_eq(in(IIR)&0xc0, 0);
}

Test(uart, loopback_modem_lines_and_data)
{
        const struct {
                uint8_t mcr, msr;
        } map[] = {{MCR_DTR, 0x20}, {MCR_RTS, 0x10}, {MCR_OUT1, 0x40}, {MCR_OUT2, 0x80}};

        cr_assert_eq(in(MSR)&0xf0, 0xb0, "outside loopback: CTS, DSR and DCD up");
        for (unsigned int i = 0; i < 4; i++) {
                out(MCR, MCR_LOOP | map[i].mcr);
                cr_assert_eq(in(MSR)&0xf0, map[i].msr, "MCR %#x", map[i].mcr);
        }
        out(MCR, MCR_LOOP);
        cr_assert_eq(in(MSR)&0xf0, 0);
        out(TX, 0x42);
        cr_assert_eq(h.ntx, 0, "looped back, not sent");
        cr_assert(in(LSR)&LSR_DR);
        cr_assert_eq(in(RX), 0x42);
        out(MCR, 0);
        out(TX, 0x43);
        cr_assert_eq(h.ntx, 1);
}

Test(uart, wide_access_touches_the_first_register_only)
{
        uint8_t d[4] = {0xff, 0xff, 0xff, 0xff};

        uart_io(&u, LSR, d, 4, false);
        cr_assert_eq(d[0], LSR_THRE | LSR_TEMT);
        cr_assert_eq(d[1], 0);
        cr_assert_eq(d[2], 0);
        cr_assert_eq(d[3], 0);
        d[0] = 'w';
        d[1] = 0x0f; /* would be an IER write if it spilled over */
        uart_io(&u, TX, d, 2, true);
        cr_assert_eq(h.ntx, 1);
        cr_assert_eq(in(IER), 0);
}
