/* stdin -> UART with back-pressure and the Ctrl-A escape; UART -> stdout. */
#include "vmm/console.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"

size_t escape_filter(struct escape_state *st, const uint8_t *in, size_t n, uint8_t *out, bool *quit)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                uint8_t b = in[i];

                if (!st->armed) {
                        if (b == CONSOLE_ESCAPE)
                                st->armed = true;
                        else
                                out[o++] = b;
                        continue;
                }
                st->armed = false;
                if (b == 'x' || b == 'X') {
                        *quit = true;
                        break;
                }
                if (b != CONSOLE_ESCAPE)
                        out[o++] = CONSOLE_ESCAPE;
                out[o++] = b;
        }
        return o;
}

/* Offers pending input to the UART; pauses stdin while the FIFO is full. */
static void feed(struct console *c)
{
        while (c->pending_off < c->pending_len) {
                size_t n = c->sink.push(c->sink.ctx, c->pending + c->pending_off,
                                        c->pending_len - c->pending_off);

                if (n == 0)
                        break;
                c->pending_off += n;
        }
        if (c->pending_off < c->pending_len) {
                if (!c->paused && event_mod(c->loop, &c->in_src, 0) == 0)
                        c->paused = true;
        } else {
                c->pending_off = c->pending_len = 0;
                if (c->paused && event_mod(c->loop, &c->in_src, EPOLLIN) == 0)
                        c->paused = false;
        }
}

static void on_input(void *opaque, uint32_t events)
{
        struct console *c = opaque;
        uint8_t buf[sizeof(c->pending) / 2];
        bool quit = false;
        ssize_t n;

        (void)events;
        n = read(c->in_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* End of input (or an error): the guest keeps running. */
                event_del(c->loop, &c->in_src);
                return;
        }
        if (c->tty) {
                c->pending_len = escape_filter(&c->esc, buf, (size_t)n, c->pending, &quit);
        } else {
                for (ssize_t i = 0; i < n; i++)
                        c->pending[i] = buf[i];
                c->pending_len = (size_t)n;
        }
        c->pending_off = 0;
        feed(c);
        if (quit)
                c->quit(c->ctx);
}

static void on_room(void *opaque, uint32_t events)
{
        struct console *c = opaque;
        uint64_t v;

        (void)events;
        (void)!read(c->room_fd, &v, sizeof(v));
        feed(c);
}

int console_init(struct console *c, struct event_loop *loop, struct console_sink sink, int in_fd,
                 int out_fd, bool tty, void (*quit)(void *ctx), void *ctx)
{
        int r;

        *c = (struct console){.sink = sink,
                              .loop = loop,
                              .in_fd = in_fd,
                              .out_fd = out_fd,
                              .tty = tty,
                              .quit = quit,
                              .ctx = ctx,
                              .ready_fd = -1};
        c->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->room_fd < 0)
                return -errno;
        c->room_src = (struct event_source){.fd = c->room_fd, .fn = on_room, .opaque = c};
        r = event_add(loop, &c->room_src, EPOLLIN);
        if (r < 0)
                return r;
        c->in_src = (struct event_source){.fd = in_fd, .fn = on_input, .opaque = c};
        r = event_add(loop, &c->in_src, EPOLLIN);
        if (r == -EPERM) {
                /* A regular file (or /dev/null) cannot be polled but never
                 * blocks: stand in an eventfd that is always readable and
                 * read the file itself until it ends. */
                uint64_t one = 1;

                c->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (c->ready_fd < 0)
                        return -errno;
                (void)!write(c->ready_fd, &one, sizeof(one));
                c->in_src.fd = c->ready_fd;
                r = event_add(loop, &c->in_src, EPOLLIN);
        }
        if (r < 0)
                wisp_debug("console input cannot be watched (%d): the guest gets none", r);
        return 0;
}

void console_close(struct console *c)
{
        if (c->room_fd >= 0)
                close(c->room_fd);
        if (c->ready_fd >= 0)
                close(c->ready_fd);
        c->room_fd = c->ready_fd = -1;
}

void console_tx(void *ctx, uint8_t byte)
{
        struct console *c = ctx;

        /* A closed or broken stdout costs the output, not the guest. */
        (void)!write(c->out_fd, &byte, 1);
}

void console_rx_room(void *ctx)
{
        struct console *c = ctx;
        uint64_t one = 1;

        (void)!write(c->room_fd, &one, sizeof(one));
}
