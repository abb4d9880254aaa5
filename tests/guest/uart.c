/* COM1 16550 UART: polled transmit, receive with an optional interrupt. */
#include "guest.h"
#include "x86.h"

#define THR 0 /* transmit holding (write) / receive buffer (read) */
#define IER 1
#define LCR 3
#define MCR 4
#define LSR 5

#define IER_RX 0x01
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT2 0x08 /* gates the UART's interrupt line on PCs */

#define THRE_SPINS 100000 /* bounded: a stuck LSR must not hang the guest */

void uart_init(void)
{
        outb(WISP_PORT_COM1 + IER, 0);
        outb(WISP_PORT_COM1 + LCR, 0x80); /* DLAB: 115200 baud */
        outb(WISP_PORT_COM1 + 0, 1);
        outb(WISP_PORT_COM1 + 1, 0);
        outb(WISP_PORT_COM1 + LCR, 0x03); /* 8N1 */
        /* FCR left alone: changing FIFO mode clears the receive FIFO, losing early input. */
        outb(WISP_PORT_COM1 + MCR, MCR_DTR | MCR_RTS);
}

void uart_putc(char c)
{
        if (c == '\n')
                uart_putc('\r');
        for (int i = 0; i < THRE_SPINS; i++)
                if (inb(WISP_PORT_COM1 + LSR) & LSR_THRE)
                        break;
        outb(WISP_PORT_COM1 + THR, (u8)c);
}

bool uart_rx_ready(void)
{
        return inb(WISP_PORT_COM1 + LSR) & LSR_DR;
}

u8 uart_getc(void)
{
        return inb(WISP_PORT_COM1 + THR);
}

void uart_enable_rx_irq(void)
{
        outb(WISP_PORT_COM1 + MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        outb(WISP_PORT_COM1 + IER, IER_RX);
}
