/* A 16550A UART: the register model, a receive FIFO and the interrupt line. */
#ifndef WISP_DEVICES_UART_H
#define WISP_DEVICES_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_FIFO_SIZE 64
#define UART_NR_PORTS 8

/* What the UART needs from its owner. Called with the UART's lock held. */
struct uart_ops {
        void (*tx)(void *ctx, uint8_t byte); /* a byte the guest sent */
        void (*irq)(void *ctx, int level);   /* the IRQ line changed */
        void (*rx_room)(void *ctx);          /* a full FIFO has room again */
};

struct uart {
        pthread_mutex_t lock; /* vCPU threads write registers, the event thread feeds input */
        const struct uart_ops *ops;
        void *ctx;
        uint8_t ier, lcr, mcr, scr, dll, dlm;
        bool fifo_enabled;
        bool thri_pending; /* "transmitter empty" interrupt not yet acknowledged */
        bool irq_level;
        uint8_t rx[UART_FIFO_SIZE];
        unsigned int rx_head, rx_count;
};

void uart_init(struct uart *u, const struct uart_ops *ops, void *ctx);
void uart_destroy(struct uart *u);

/* Bus handler for the 8 registers at the UART's base port. */
void uart_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/*
 * Queues received bytes for the guest; returns how many fit (the rest must
 * be offered again after ops->rx_room). Raises the receive interrupt.
 */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

#endif
