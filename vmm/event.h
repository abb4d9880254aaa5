/* The event thread's epoll loop: fds in, callbacks out. */
#ifndef WISP_VMM_EVENT_H
#define WISP_VMM_EVENT_H

#include <stdatomic.h>
#include <stdint.h>

struct event_source {
        int fd;
        void (*fn)(void *opaque, uint32_t events);
        void *opaque;
};

struct event_loop {
        int epfd;
};

int event_loop_init(struct event_loop *l);
void event_loop_close(struct event_loop *l);

/* Watches s->fd for events (EPOLLIN...); s must outlive the registration. */
int event_add(struct event_loop *l, struct event_source *s, uint32_t events);
int event_mod(struct event_loop *l, struct event_source *s, uint32_t events);
int event_del(struct event_loop *l, struct event_source *s);

/* Dispatches until *stop becomes true. Returns 0 or -errno from epoll_wait. */
int event_loop_run(struct event_loop *l, const atomic_bool *stop);

#endif
