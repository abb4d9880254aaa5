/* 16550A register semantics as Linux's 8250 driver probes and uses them. */
#include "devices/uart.h"

#include <string.h>

/* Register offsets and bits (PC16550D datasheet; Linux serial_reg.h names). */
enum { RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR };
#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08 /* gates the IRQ line onto the ISA bus on a PC */
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void uart_init(struct uart *u, const struct uart_ops *ops, void *ctx)
{
        memset(u, 0, sizeof(*u));
        pthread_mutex_init(&u->lock, NULL);
        u->ops = ops;
        u->ctx = ctx;
        u->dll = 0x0c; /* 9600 baud, what a BIOS leaves */
}

void uart_destroy(struct uart *u)
{
        pthread_mutex_destroy(&u->lock);
}

static uint8_t iir(const struct uart *u)
{
        uint8_t fifo = u->fifo_enabled ? IIR_FIFO : 0;

        if ((u->ier & IER_RDI) && u->rx_count)
                return fifo | IIR_RDI;
        if ((u->ier & IER_THRI) && u->thri_pending)
                return fifo | IIR_THRI;
        return fifo | IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
        bool level = !(iir(u) & IIR_NO_INT) && (u->mcr & MCR_OUT2);

        if (level != u->irq_level) {
                u->irq_level = level;
                u->ops->irq(u->ctx, level);
        }
}

static size_t push_rx(struct uart *u, const uint8_t *buf, size_t len)
{
        size_t n = 0;

        while (n < len && u->rx_count < UART_FIFO_SIZE) {
                u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = buf[n++];
                u->rx_count++;
        }
        return n;
}

static uint8_t pop_rx(struct uart *u)
{
        uint8_t b;

        if (!u->rx_count)
                return 0;
        b = u->rx[u->rx_head];
        u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
        if (u->rx_count-- == UART_FIFO_SIZE)
                u->ops->rx_room(u->ctx);
        return b;
}

static uint8_t modem_status(const struct uart *u)
{
        if (u->mcr & MCR_LOOP)
                return (u->mcr & MCR_RTS ? MSR_CTS : 0) | (u->mcr & MCR_DTR ? MSR_DSR : 0) |
                       (u->mcr & MCR_OUT1 ? MSR_RI : 0) | (u->mcr & MCR_OUT2 ? MSR_DCD : 0);
        return MSR_DCD | MSR_DSR | MSR_CTS; /* a terminal is always there */
}

static uint8_t read_reg(struct uart *u, unsigned int reg)
{
        bool dlab = u->lcr & LCR_DLAB;
        uint8_t v;

        switch (reg) {
        case RBR_THR:
                return dlab ? u->dll : pop_rx(u);
        case IER:
                return dlab ? u->dlm : u->ier;
        case IIR_FCR:
                v = iir(u);
                /* Reading IIR acknowledges a transmitter-empty interrupt. */
                if ((v & ~IIR_FIFO) == IIR_THRI)
                        u->thri_pending = false;
                return v;
        case LCR:
                return u->lcr;
        case MCR:
                return u->mcr;
        case LSR:
                /* Bytes leave at once: the transmitter is always empty. */
                return (u->rx_count ? LSR_DR : 0) | LSR_THRE | LSR_TEMT;
        case MSR:
                return modem_status(u);
        default:
                return u->scr;
        }
}

static void write_reg(struct uart *u, unsigned int reg, uint8_t v)
{
        bool dlab = u->lcr & LCR_DLAB;

        switch (reg) {
        case RBR_THR:
                if (dlab) {
                        u->dll = v;
                } else {
                        if (u->mcr & MCR_LOOP)
                                push_rx(u, &v, 1);
                        else
                                u->ops->tx(u->ctx, v);
                        u->thri_pending = true;
                }
                break;
        case IER:
                if (dlab) {
                        u->dlm = v;
                        break;
                }
                /* Enabling THRI with the transmitter empty interrupts at
                 * once: Linux's start_tx relies on it. */
                if ((v & IER_THRI) && !(u->ier & IER_THRI))
                        u->thri_pending = true;
                u->ier = v & 0x0f;
                break;
        case IIR_FCR:
                u->fifo_enabled = v & FCR_ENABLE;
                if (v & FCR_CLEAR_RX) {
                        bool was_full = u->rx_count == UART_FIFO_SIZE;

                        u->rx_count = 0;
                        if (was_full)
                                u->ops->rx_room(u->ctx);
                }
                break;
        case LCR:
                u->lcr = v;
                break;
        case MCR:
                u->mcr = v & 0x1f;
                break;
        case LSR:
        case MSR:
                break; /* read-only; writes are factory-test only */
        default:
                u->scr = v;
        }
}

void uart_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct uart *u = opaque;

        pthread_mutex_lock(&u->lock);
        /* Byte registers: a wider access touches the first one only. */
        if (is_write) {
                write_reg(u, (unsigned int)offset, data[0]);
        } else {
                memset(data, 0, len);
                data[0] = read_reg(u, (unsigned int)offset);
        }
        update_irq(u);
        pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
        size_t n;

        pthread_mutex_lock(&u->lock);
        n = push_rx(u, buf, len);
        update_irq(u);
        pthread_mutex_unlock(&u->lock);
        return n;
}
