/* virtio-console device model: port data queues and the multiport control protocol. */
#include "devices/virtio_console.h"
#include "devices/vcon_internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <linux/virtio_ids.h>

#include "vmm/log.h"

#define CTRL_RXQ 2 /* device -> driver control messages */
#define CTRL_TXQ 3 /* driver -> device control messages */

#define CHAIN(name)                                                                                \
        union {                                                                                    \
                struct virtq_chain c;                                                              \
                uint8_t                                                                            \
                    raw[sizeof(struct virtq_chain) + VCON_MAX_SEGS * sizeof(struct virtq_seg)];    \
        } name

/* Port 0 owns queues 0/1, the control queues are 2/3, port n >= 1 owns 2n + 2 and 2n + 3. */
static unsigned int rxq(unsigned int id)
{
        return id == 0 ? 0 : 2 * id + 2;
}

static struct virtio_console *to_con(struct virtio_device *d)
{
        return d->priv;
}

static bool multiport(const struct virtio_console *c)
{
        return c->dev.features & (1ull << VIRTIO_CONSOLE_F_MULTIPORT);
}

static bool queue_ready(const struct virtio_console *c, unsigned int q)
{
        return c->dev.vq_ready && q < c->dev.num_queues && c->dev.vq_ready[q];
}

static void notify_if_wanted(struct virtio_console *c, unsigned int q)
{
        if (virtq_should_notify(&c->dev.vq[q]))
                c->dev.irq.queue(c->dev.irq.ctx, q);
}

/* --- control messages to the driver ------------------------------------------ */

static void ctrl_flush(struct virtio_console *c)
{
        struct virtq *vq = &c->dev.vq[CTRL_RXQ];
        bool pushed = false;
        CHAIN(ch);

        if (!queue_ready(c, CTRL_RXQ))
                return;
        while (c->backlog_len) {
                struct vcon_ctrl_msg *m = &c->backlog[c->backlog_head];
                uint32_t n;
                int got = virtq_pop(vq, &ch.c);

                if (got < 0) {
                        virtio_device_broken(&c->dev);
                        break;
                }
                if (got == 0) {
                        if (!virtq_enable_kicks(vq))
                                break;
                        continue;
                }
                n = virtq_write_in(&ch.c, 0, &m->hdr, sizeof(m->hdr));
                if (n == sizeof(m->hdr))
                        n += virtq_write_in(&ch.c, n, m->extra, m->extra_len);
                virtq_push(vq, &ch.c, n == sizeof(m->hdr) + m->extra_len ? n : 0);
                pushed = true;
                c->backlog_head = (c->backlog_head + 1) % VCON_CTRL_BACKLOG;
                c->backlog_len--;
        }
        if (pushed)
                notify_if_wanted(c, CTRL_RXQ);
}

static void ctrl_send(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value,
                      const void *extra, uint32_t extra_len)
{
        struct vcon_ctrl_msg *m;

        if (c->backlog_len == VCON_CTRL_BACKLOG || extra_len > sizeof(m->extra)) {
                c->dropped++;
                return;
        }
        m = &c->backlog[(c->backlog_head + c->backlog_len) % VCON_CTRL_BACKLOG];
        m->hdr = (struct virtio_console_control){.id = id, .event = event, .value = value};
        if (extra_len) /* extra may be NULL then: memcpy(d, NULL, 0) is undefined */
                memcpy(m->extra, extra, extra_len);
        m->extra_len = extra_len;
        c->backlog_len++;
        ctrl_flush(c);
}

/* The host end of a port opened or closed (a socket client came or went). */
void vcon_port_host_open(struct vcon_port *p, bool open)
{
        if (p->con->ready && multiport(p->con))
                ctrl_send(p->con, p->id, VIRTIO_CONSOLE_PORT_OPEN, open, NULL, 0);
}

static bool host_open(const struct vcon_port *p)
{
        return p->id == 0 ? true : p->conn_fd >= 0;
}

static size_t port_deliver(struct vcon_port *p);

/* A message from the driver (virtio 1.1, 5.3.6.2). Anything unknown is ignored. */
static void ctrl_receive(struct virtio_console *c, const struct virtio_console_control *m)
{
        struct vcon_port *p = m->id < c->nports ? &c->port[m->id] : NULL;

        switch (m->event) {
        case VIRTIO_CONSOLE_DEVICE_READY:
                c->ready = m->value == 1;
                for (unsigned int i = 0; c->ready && i < c->nports; i++)
                        ctrl_send(c, i, VIRTIO_CONSOLE_PORT_ADD, 0, NULL, 0);
                break;
        case VIRTIO_CONSOLE_PORT_READY:
                if (!p || m->value != 1)
                        break;
                if (p->id == 0) {
                        ctrl_send(c, 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
                        if (c->dev.features & (1ull << VIRTIO_CONSOLE_F_SIZE)) {
                                uint16_t size[2] = {c->cfg.cols,
                                                    c->cfg.rows}; /* cols, rows (5.3.6.2) */

                                ctrl_send(c, 0, VIRTIO_CONSOLE_RESIZE, 0, size, sizeof(size));
                        }
                } else {
                        ctrl_send(c, p->id, VIRTIO_CONSOLE_PORT_NAME, 1, p->opt.name,
                                  (uint32_t)strlen(p->opt.name) + 1);
                }
                if (host_open(p))
                        ctrl_send(c, p->id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
                break;
        case VIRTIO_CONSOLE_PORT_OPEN:
                if (!p)
                        break;
                p->guest_open = m->value;
                if (p->guest_open && p->in_len) {
                        /* What waited for the open goes now; then take more. */
                        port_deliver(p);
                        if (p->id == 0 && c->input_room)
                                c->input_room(c->input_room_ctx);
                        else if (p->id)
                                vcon_port_watch(p, true);
                }
                break;
        }
}

static void ctrl_process(struct virtio_console *c)
{
        struct virtq *vq = &c->dev.vq[CTRL_TXQ];
        CHAIN(ch);

        for (;;) {
                struct virtio_console_control m;
                int got = virtq_pop(vq, &ch.c);

                if (got < 0) {
                        virtio_device_broken(&c->dev);
                        break;
                }
                if (got == 0) {
                        if (!virtq_enable_kicks(vq))
                                break;
                        continue;
                }
                /* Copied once; a short message is ignored. */
                if (virtq_read_out(&ch.c, 0, &m, sizeof(m)) == sizeof(m))
                        ctrl_receive(c, &m);
                virtq_push(vq, &ch.c, 0);
        }
        notify_if_wanted(c, CTRL_TXQ);
}

/* --- port data -------------------------------------------------------------- */

/* Host -> guest: moves p->in into the port's RX buffers. Returns bytes moved. */
static size_t port_deliver(struct vcon_port *p)
{
        struct virtio_console *c = p->con;
        unsigned int q = rxq(p->id);
        size_t moved = 0;
        CHAIN(ch);

        /* Linux drops what reaches a port nobody has open (in_intr ->
         * discard_port_data): hold it until the guest opens the port. */
        if (!queue_ready(c, q) || (multiport(c) && !p->guest_open))
                return 0;
        while (moved < p->in_len) {
                int got = virtq_pop(&c->dev.vq[q], &ch.c);
                uint32_t n;

                if (got < 0) {
                        virtio_device_broken(&c->dev);
                        break;
                }
                if (got == 0) {
                        if (!virtq_enable_kicks(&c->dev.vq[q]))
                                break;
                        continue;
                }
                n = virtq_write_in(&ch.c, 0, p->in + moved, (uint32_t)(p->in_len - moved));
                virtq_push(&c->dev.vq[q], &ch.c, n);
                moved += n;
        }
        memmove(p->in, p->in + moved, p->in_len - moved);
        p->in_len -= moved;
        if (moved)
                notify_if_wanted(c, q);
        return moved;
}

size_t virtio_console_input(void *ctx, const uint8_t *buf, size_t len)
{
        struct virtio_console *c = ctx;
        struct vcon_port *p = &c->port[0];
        size_t take;

        /* Buffered here (4 KiB) and delivered as the driver posts buffers;
         * when full the console stops reading stdin until input_room. */
        pthread_mutex_lock(&c->dev.lock);
        take = len < sizeof(p->in) - p->in_len ? len : sizeof(p->in) - p->in_len;
        memcpy(p->in + p->in_len, buf, take);
        p->in_len += take;
        port_deliver(p);
        pthread_mutex_unlock(&c->dev.lock);
        return take;
}

/* Guest -> host output of a port: stdout for port 0, the socket client for named ones. */

static void port_tx(struct vcon_port *p)
{
        struct virtio_console *c = p->con;
        unsigned int q = rxq(p->id) + 1;

        for (;;) {
                uint32_t n;

                if (!p->tx_busy) {
                        int got = virtq_pop(&c->dev.vq[q], &p->tx.c);

                        if (got < 0) {
                                virtio_device_broken(&c->dev);
                                break;
                        }
                        if (got == 0) {
                                if (!virtq_enable_kicks(&c->dev.vq[q]))
                                        break;
                                continue;
                        }
                        p->tx_busy = true;
                        p->tx_off = 0;
                }
                /* Copy what the buffer takes; a chain larger than that goes out
                 * in pieces as the host end drains it (EPOLLOUT resumes here). */
                n = virtq_read_out(&p->tx.c, p->tx_off, p->out + p->out_len,
                                   (uint32_t)(sizeof(p->out) - p->out_len));
                p->out_len += n;
                p->tx_off += n;
                vcon_port_flush_out(p);
                if (p->tx_off < p->tx.c.out_len) {
                        if (p->out_len)
                                break; /* the host end is slow: the rest waits */
                        continue;      /* drained: copy the next piece */
                }
                virtq_push(&c->dev.vq[q], &p->tx.c, 0);
                p->tx_busy = false;
        }
        notify_if_wanted(c, q);
}

/* Called by the port code when a port's socket can take output again. */
void vcon_port_resume_tx(struct vcon_port *p)
{
        if (queue_ready(p->con, rxq(p->id) + 1))
                port_tx(p);
}

/* Called by the port code with bytes from a named port's socket (dev lock held). */
size_t vcon_port_receive(struct vcon_port *p, const uint8_t *buf, size_t len)
{
        size_t take = len < sizeof(p->in) - p->in_len ? len : sizeof(p->in) - p->in_len;

        memcpy(p->in + p->in_len, buf, take);
        p->in_len += take;
        port_deliver(p);
        return take;
}

/* --- device ops -------------------------------------------------------------- */

static uint64_t con_features(struct virtio_device *d)
{
        (void)d;
        return (1ull << VIRTIO_CONSOLE_F_SIZE) | (1ull << VIRTIO_CONSOLE_F_MULTIPORT) |
               (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE);
}

static void con_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
        memcpy(buf, (uint8_t *)&to_con(d)->cfg + off, len);
}

static void con_config_write(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len)
{
        struct virtio_console *c = to_con(d);

        /* emerg_wr: one character for port 0, before the queues exist. */
        if (off == offsetof(struct virtio_console_config, emerg_wr) && len == 4 && c->out_fd >= 0)
                (void)!write(c->out_fd, buf, 1);
}

static int con_activate(struct virtio_device *d)
{
        struct virtio_console *c = to_con(d);

        c->ready = false;
        c->backlog_len = 0;
        return 0;
}

static void con_reset(struct virtio_device *d)
{
        struct virtio_console *c = to_con(d);

        c->ready = false;
        c->backlog_len = 0;
        for (unsigned int i = 0; i < c->nports; i++) {
                c->port[i].guest_open = false;
                c->port[i].in_len = 0;
                c->port[i].tx_busy = false; /* the chain went with the queue */
        }
}

static void con_notify(struct virtio_device *d, unsigned int q)
{
        struct virtio_console *c = to_con(d);

        if ((q == CTRL_TXQ || q == CTRL_RXQ) && !multiport(c)) {
                return; /* the control queues exist only with MULTIPORT (5.3.2) */
        } else if (q == CTRL_TXQ) {
                ctrl_process(c);
        } else if (q == CTRL_RXQ) {
                ctrl_flush(c); /* buffers for pending control messages */
        } else {
                unsigned int id = q < 2 ? 0 : q / 2 - 1;

                if (id >= c->nports)
                        return;
                if (q % 2) {
                        port_tx(&c->port[id]);
                } else {
                        /* RX buffers arrived: deliver what waits, then take more. */
                        port_deliver(&c->port[id]);
                        if (id == 0 && c->input_room)
                                c->input_room(c->input_room_ctx);
                        else if (id)
                                vcon_port_watch(&c->port[id], true);
                }
        }
}

static const struct virtio_device_ops con_ops = {
    .features = con_features,
    .config_read = con_config_read,
    .config_write = con_config_write,
    .activate = con_activate,
    .reset = con_reset,
    .notify = con_notify,
};

int virtio_console_attach(struct virtio_console *c, const struct virtio_env *env,
                          struct pci_bus *bus)
{
        struct virtio_device *d = &c->dev;
        int r;

        d->ops = &con_ops;
        d->id = VIRTIO_ID_CONSOLE;
        d->num_queues = (uint16_t)(2 * c->nports + 2);
        d->queue_max = VCON_QUEUE_SIZE;
        d->max_segs = VCON_MAX_SEGS;
        d->max_len = 1u << 20;
        d->config_size = sizeof(c->cfg);
        d->priv = c;
        c->loop = env->loop;
        c->cfg.max_nr_ports = c->nports;
        r = vcon_ports_start(c);
        if (r == 0)
                r = virtio_pci_init(&c->vp, d, VIRTIO_TRANSITIONAL, env);
        if (r == 0) {
                c->vp.pci.name = "virtio-console";
                r = virtio_pci_plug(&c->vp, bus);
        }
        return r;
}

void virtio_console_resize(struct virtio_console *c, uint16_t cols, uint16_t rows)
{
        pthread_mutex_lock(&c->dev.lock);
        c->cfg.cols = cols;
        c->cfg.rows = rows;
        if (c->dev.irq.config && (c->dev.features & (1ull << VIRTIO_CONSOLE_F_SIZE))) {
                if (multiport(c) && c->ready) {
                        uint16_t size[2] = {cols, rows}; /* cols, rows (5.3.6.2) */

                        ctrl_send(c, 0, VIRTIO_CONSOLE_RESIZE, 0, size, sizeof(size));
                } else {
                        c->dev.irq.config(c->dev.irq.ctx);
                }
        }
        pthread_mutex_unlock(&c->dev.lock);
}
