/* The host side of the guest console: stdin into the UART, the UART out to stdout. */
#ifndef WISP_VMM_CONSOLE_H
#define WISP_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/event.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

/* The escape-key state machine, separate so it can be tested alone. */
struct escape_state {
        bool armed; /* Ctrl-A seen, waiting for the command key */
};

/*
 * Filters n input bytes into out (room for 2 * n): Ctrl-A x sets *quit and
 * drops the rest, Ctrl-A Ctrl-A yields one Ctrl-A, Ctrl-A followed by
 * anything else yields both bytes. Pure. Returns bytes written to out.
 */
size_t escape_filter(struct escape_state *st, const uint8_t *in, size_t n, uint8_t *out,
                     bool *quit);

/*
 * Where typed input goes: the UART's FIFO or virtio-console port 0. push
 * returns how many bytes it took; the rest is offered again after the sink
 * calls console_rx_room.
 */
struct console_sink {
        size_t (*push)(void *ctx, const uint8_t *buf, size_t len);
        void *ctx;
};

struct console {
        struct console_sink sink;
        struct event_loop *loop;
        int in_fd, out_fd;
        bool tty;    /* in_fd is a terminal in raw mode: escape keys apply */
        bool paused; /* the UART's FIFO is full: in_fd not watched */
        struct escape_state esc;
        uint8_t pending[512]; /* filtered input the UART had no room for */
        size_t pending_off, pending_len;
        struct event_source in_src, room_src;
        int room_fd;  /* eventfd: the UART has room again */
        int ready_fd; /* always-readable eventfd standing in for a file on stdin */
        void (*quit)(void *ctx);
        void *ctx;
};

/*
 * Wires in_fd to sink and out_fd for output through loop. Input that cannot
 * be watched (a regular file, /dev/null, a closed fd) is treated as no input.
 */
int console_init(struct console *c, struct event_loop *loop, struct console_sink sink, int in_fd,
                 int out_fd, bool tty, void (*quit)(void *ctx), void *ctx);
void console_close(struct console *c);

/* Output for the host (the UART's tx, port 0's data); the sink has room again. */
void console_tx(void *ctx, uint8_t byte);
void console_rx_room(void *ctx);

#endif
