/* virtio-console host ends: port 0 on stdout, named ports on listening Unix sockets. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio_console.h"
#include "devices/vcon_internal.h"
#include "vmm/log.h"

int vcon_port_parse(const char *spec, struct vcon_port_options *o, char *err, size_t errlen)
{
        const char *eq = strchr(spec, '=');
        size_t nlen = eq ? (size_t)(eq - spec) : 0;

        memset(o, 0, sizeof(*o));
        if (!eq || nlen == 0 || nlen >= sizeof(o->name) || strncmp(eq + 1, "unix:", 5) || !eq[6] ||
            strlen(eq + 6) >= sizeof(o->path)) {
                snprintf(err, errlen,
                         "option --port: '%s': expected NAME=unix:PATH (name under %zu bytes, "
                         "path under %zu)",
                         spec, sizeof(o->name), sizeof(o->path));
                return -EINVAL;
        }
        memcpy(o->name, spec, nlen);
        strcpy(o->path, eq + 6);
        return 0;
}

static void conn_close(struct vcon_port *p)
{
        if (p->conn_fd < 0)
                return;
        if (!p->conn_parked)
                event_del(p->con->loop, &p->conn_src);
        close(p->conn_fd);
        p->conn_fd = -1;
        p->conn_watched = p->conn_parked = false;
        p->out_len = 0;
        vcon_port_host_open(p, false);
}

void vcon_port_watch(struct vcon_port *p, bool on)
{
        uint32_t ev = (on ? EPOLLIN : 0) | (p->out_len ? EPOLLOUT : 0);

        if (p->conn_fd < 0)
                return;
        if (p->conn_parked) {
                if (!on)
                        return;
                /* Room again: the parked (hung-up) connection is read to its end. */
                if (event_add(p->con->loop, &p->conn_src, ev) == 0) {
                        p->conn_parked = false;
                        p->conn_watched = true;
                }
                return;
        }
        if (event_mod(p->con->loop, &p->conn_src, ev) == 0)
                p->conn_watched = on;
}

/* epoll reports a hang-up whatever the mask: out of the set until there is room. */
static void park(struct vcon_port *p)
{
        if (!p->conn_parked && event_del(p->con->loop, &p->conn_src) == 0) {
                p->conn_parked = true;
                p->conn_watched = false;
        }
}

void vcon_port_flush_out(struct vcon_port *p)
{
        struct virtio_console *c = p->con;
        int fd = p->id == 0 ? c->out_fd : p->conn_fd;
        size_t done = 0;

        if (fd < 0) {
                c->dropped += p->out_len; /* nobody on the host end */
                p->out_len = 0;
                return;
        }
        while (done < p->out_len) {
                ssize_t n = write(fd, p->out + done, p->out_len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break; /* the rest waits for EPOLLOUT */
                if (n <= 0) {
                        c->dropped += p->out_len - done;
                        done = p->out_len;
                        if (p->id)
                                conn_close(p);
                        break;
                }
                done += (size_t)n;
        }
        memmove(p->out, p->out + done, p->out_len - done);
        p->out_len -= done;
        if (p->id && p->conn_fd >= 0)
                vcon_port_watch(p, p->conn_watched);
}

static void on_conn(void *opaque, uint32_t events)
{
        struct vcon_port *p = opaque;
        struct virtio_console *c = p->con;
        uint8_t buf[VCON_PENDING];

        pthread_mutex_lock(&c->dev.lock);
        if (events & EPOLLOUT) {
                vcon_port_flush_out(p);
                if (!p->out_len)
                        vcon_port_resume_tx(p);
        }
        if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && p->conn_fd >= 0) {
                size_t room = sizeof(p->in) - p->in_len;
                ssize_t n = room ? read(p->conn_fd, buf, room) : 0;

                if (room == 0) {
                        /* Back-pressure until RX buffers come. */
                        if (events & (EPOLLHUP | EPOLLERR))
                                park(p);
                        else
                                vcon_port_watch(p, false);
                } else if (n > 0) {
                        vcon_port_receive(p, buf, (size_t)n);
                        if (p->in_len == sizeof(p->in))
                                vcon_port_watch(p, false);
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                        conn_close(p);
                }
        }
        pthread_mutex_unlock(&c->dev.lock);
}

static void on_listen(void *opaque, uint32_t events)
{
        struct vcon_port *p = opaque;
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        (void)events;
        if (fd < 0)
                return;
        pthread_mutex_lock(&p->con->dev.lock);
        if (p->conn_fd >= 0) {
                close(fd); /* one client per port at a time */
        } else {
                p->conn_fd = fd;
                p->conn_src = (struct event_source){.fd = fd, .fn = on_conn, .opaque = p};
                if (event_add(p->con->loop, &p->conn_src, EPOLLIN) == 0)
                        p->conn_watched = true;
                vcon_port_host_open(p, true);
        }
        pthread_mutex_unlock(&p->con->dev.lock);
}

static int listen_on(struct vcon_port *p, char *err, size_t errlen)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;

        strcpy(sa.sun_path, p->opt.path);
        /* A socket left by an earlier run is replaced; any other file is not. */
        if (lstat(p->opt.path, &st) == 0 && S_ISSOCK(st.st_mode))
                unlink(p->opt.path);
        p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(p->listen_fd, 1) < 0) {
                int e = errno;

                snprintf(err, errlen, "port '%s': cannot listen on '%s': %s", p->opt.name,
                         p->opt.path, strerror(e));
                if (p->listen_fd >= 0)
                        close(p->listen_fd);
                p->listen_fd = -1; /* not ours: close must not unlink the path */
                return -e;
        }
        return 0;
}

int virtio_console_open(struct virtio_console *c, const struct vcon_port_options *ports,
                        unsigned int nports, int out_fd, char *err, size_t errlen)
{
        memset(c, 0, sizeof(*c));
        c->out_fd = out_fd;
        c->nports = nports + 1;
        /* Every port gets its fds marked unused first: a failure part-way
         * leaves nothing that close would mistake for ours. */
        for (unsigned int i = 0; i < c->nports; i++) {
                c->port[i].con = c;
                c->port[i].id = i;
                c->port[i].listen_fd = c->port[i].conn_fd = -1;
                if (i)
                        c->port[i].opt = ports[i - 1];
        }
        for (unsigned int i = 1; i < c->nports; i++) {
                struct vcon_port *p = &c->port[i];

                for (unsigned int j = 1; j < i; j++)
                        if (!strcmp(c->port[j].opt.name, p->opt.name) ||
                            !strcmp(c->port[j].opt.path, p->opt.path)) {
                                if (strcmp(c->port[j].opt.name, p->opt.name))
                                        snprintf(err, errlen,
                                                 "port '%s': path '%s' is taken by port '%s'",
                                                 p->opt.name, p->opt.path, c->port[j].opt.name);
                                else
                                        snprintf(err, errlen, "port '%s' given twice", p->opt.name);
                                return -EINVAL;
                        }
                int r = listen_on(p, err, errlen);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* Registers the listening sockets once the event loop exists (attach). */
int vcon_ports_start(struct virtio_console *c)
{
        for (unsigned int i = 1; i < c->nports; i++) {
                struct vcon_port *p = &c->port[i];
                int r;

                p->listen_src =
                    (struct event_source){.fd = p->listen_fd, .fn = on_listen, .opaque = p};
                r = event_add(c->loop, &p->listen_src, EPOLLIN);
                if (r < 0)
                        return r;
        }
        return 0;
}

void virtio_console_close(struct virtio_console *c)
{
        virtio_pci_destroy(&c->vp);
        for (unsigned int i = 1; i < c->nports; i++) {
                struct vcon_port *p = &c->port[i];

                if (p->conn_fd >= 0)
                        close(p->conn_fd);
                if (p->listen_fd >= 0) {
                        close(p->listen_fd);
                        unlink(p->opt.path);
                }
                p->conn_fd = p->listen_fd = -1;
        }
}
