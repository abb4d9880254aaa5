/* epoll wrapper: each registered fd carries its own handler. */
#include "vmm/event.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 16

int event_loop_init(struct event_loop *l)
{
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        return l->epfd < 0 ? -errno : 0;
}

void event_loop_close(struct event_loop *l)
{
        if (l->epfd >= 0)
                close(l->epfd);
        l->epfd = -1;
}

static int ctl(struct event_loop *l, int op, struct event_source *s, uint32_t events)
{
        struct epoll_event ev = {.events = events, .data.ptr = s};

        return epoll_ctl(l->epfd, op, s->fd, &ev) < 0 ? -errno : 0;
}

int event_add(struct event_loop *l, struct event_source *s, uint32_t events)
{
        return ctl(l, EPOLL_CTL_ADD, s, events);
}

int event_mod(struct event_loop *l, struct event_source *s, uint32_t events)
{
        return ctl(l, EPOLL_CTL_MOD, s, events);
}

int event_del(struct event_loop *l, struct event_source *s)
{
        return ctl(l, EPOLL_CTL_DEL, s, 0);
}

int event_loop_run(struct event_loop *l, const atomic_bool *stop)
{
        struct epoll_event ev[MAX_EVENTS];

        while (!atomic_load(stop)) {
                int n = epoll_wait(l->epfd, ev, MAX_EVENTS, -1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                for (int i = 0; i < n && !atomic_load(stop); i++) {
                        struct event_source *s = ev[i].data.ptr;

                        s->fn(s->opaque, ev[i].events);
                }
        }
        return 0;
}
