/* virtio-console client: ports, the multiport control queues, port data both ways. */
#include "virtio.h"
#include "x86.h"

#define F(bit) (1UL << (bit))
#define CTRL_BUFS 16
#define PORT_BUFS 16
#define TX_BYTES (256u << 10)
#define TX_PIECE 4096 /* up to 16 KiB; larger writes go in 16 KiB descriptors */
#define TX_BIG_PIECE (16u << 10)
#define SEND_WAIT_MS 5000
#define CTRL_HDR sizeof(struct virtio_console_control)

void con_opts_parse(const char *cmdline, struct con_opts *o)
{
        memset(o, 0, sizeof(*o));
        virtio_opts_parse(cmdline, &o->v);
        o->multiport = cmdline_bool(cmdline, "console.multiport", true);
        o->size = cmdline_bool(cmdline, "console.size", true);
        o->emerg = cmdline_bool(cmdline, "console.emerg", true);
}

const char *con_event_name(u16 event)
{
        static const char *names[] = {"DEVICE_READY", "PORT_ADD", "PORT_REMOVE", "PORT_READY",
                                      "CONSOLE_PORT", "RESIZE",   "PORT_OPEN",   "PORT_NAME"};

        return event < ARRAY_SIZE(names) ? names[event] : "unknown";
}

/* Port n: receiveq and transmitq (5.3.2): 0/1 for port 0, 2n + 2 / 2n + 3 after the control. */
static u16 port_rxq(u32 id)
{
        return id == 0 ? 0 : (u16)(2 * id + 2);
}

static bool setup_queue(struct con *c, struct vq *q, u16 index)
{
        struct vdev *d = &c->v;
        u16 size = d->ops->queue_size(d, index);
        bool irq = !c->o.v.poll || c->o.v.no_msix;

        if (!size)
                return false;
        if (size & (size - 1))
                guest_fail(ST_VIRTIO, "console: queue %u: size %u", index, size);
        if (c->o.v.qsize && !d->legacy && c->o.v.qsize < size)
                size = c->o.v.qsize;
        vq_alloc(q, d, index, size);
        q->vector =
            d->have_msix && index + 1u < d->msix.nused ? (u16)(index + 1) : VIRTIO_MSI_NO_VECTOR;
        q->idt_vector = (u8)(c->idt_base + index + 1);
        if (!virtio_queue(d, q))
                guest_fail(ST_VIRTIO, "console: queue %u: set-up refused", index);
        vq_interrupts(q, irq);
        return true;
}

/* One writable buffer of len bytes at mem + slot * len, remembered by head. */
static void post(struct vq *q, u16 *slot_of, u8 *mem, u32 len, u16 slot)
{
        struct vbuf v = {(u64)mem + (u64)slot * len, len, true};
        int h = vq_add(q, &v, 1, false);

        if (h < 0)
                guest_fail(ST_VIRTIO, "console: queue %u full", q->index);
        slot_of[h] = slot;
}

static void setup_port(struct con *c, u32 id)
{
        struct con_port *p = &c->port[id];
        u16 n;

        if (!setup_queue(c, &p->rx, port_rxq(id)) || !setup_queue(c, &p->tx, port_rxq(id) + 1))
                guest_fail(ST_VIRTIO, "console: port %u: queue %u or %u has size 0", id,
                           port_rxq(id), port_rxq(id) + 1);
        p->have_queues = true;
        p->rxmem = palloc(PORT_BUFS * CON_PORT_BUF, 4096);
        p->txmem = palloc(TX_BYTES, 4096);
        p->txcap = TX_BYTES;
        p->slot_of = palloc(2UL * p->rx.size, 16);
        p->in = palloc(CON_IN_MAX, 64);
        n = p->rx.size < PORT_BUFS ? p->rx.size : PORT_BUFS;
        for (u16 s = 0; s < n; s++)
                post(&p->rx, p->slot_of, p->rxmem, CON_PORT_BUF, s);
}

void con_open(struct con *c, const struct con_opts *o, u8 idt_base)
{
        struct pci_fn *f = pci_find_virtio(pci_fns, pci_nfns, VIRTIO_ID_CONSOLE, 0);
        struct vdev *d = &c->v;
        u64 want = 0;

        memset(c, 0, sizeof(*c));
        c->o = *o;
        c->idt_base = idt_base;
        if (!f)
                guest_fail(ST_PCI, "pci: no virtio-console function");
        if (!virtio_attach(d, f, &o->v, idt_base))
                guest_fail(ST_VIRTIO, "console: 00:%02x.%u: no usable interface", f->dev, f->fn);
        if (o->multiport)
                want |= F(VIRTIO_CONSOLE_F_MULTIPORT);
        if (o->size)
                want |= F(VIRTIO_CONSOLE_F_SIZE);
        if (o->emerg)
                want |= F(VIRTIO_CONSOLE_F_EMERG_WRITE);
        if (o->v.event_idx)
                want |= F(VIRTIO_RING_F_EVENT_IDX);
        if (o->v.indirect)
                want |= F(VIRTIO_RING_F_INDIRECT_DESC);
        if (!virtio_negotiate(d, want))
                guest_fail(ST_VIRTIO, "console: feature negotiation refused");
        c->multiport = d->features & F(VIRTIO_CONSOLE_F_MULTIPORT);
        c->size = d->features & F(VIRTIO_CONSOLE_F_SIZE);
        c->emerg = d->features & F(VIRTIO_CONSOLE_F_EMERG_WRITE);
        if (c->size) {
                c->cols = (u16)d->ops->config_read(d, VIRTIO_CONSOLE_CFG_COLS, 2);
                c->rows = (u16)d->ops->config_read(d, VIRTIO_CONSOLE_CFG_ROWS, 2);
        }
        c->max_ports =
            c->multiport ? d->ops->config_read(d, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 4) : 1;
        kprintf("console: features 0x%lx%s%s%s, max_nr_ports %u, %ux%u\n", d->features,
                c->multiport ? " multiport" : "", c->size ? " size" : "",
                c->emerg ? " emerg_write" : "", c->max_ports, c->cols, c->rows);
        if (!c->max_ports)
                guest_fail(ST_CONSOLE, "console: max_nr_ports 0");
        if (d->have_msix && d->ops->set_config_vector(d, 0) != 0)
                guest_fail(ST_VIRTIO, "console: config vector 0 not accepted");
        c->nports = c->max_ports < CON_MAX_PORTS ? c->max_ports : CON_MAX_PORTS;
        setup_port(c, 0);
        if (c->multiport) {
                if (!setup_queue(c, &c->crx, 2) || !setup_queue(c, &c->ctx, 3))
                        guest_fail(ST_VIRTIO, "console: multiport without control queues");
                c->crx_mem = palloc(CTRL_BUFS * CON_CTRL_BUF, 4096);
                c->ctx_mem = palloc(128UL << 10, 4096);
                c->crx_slot = palloc(2UL * c->crx.size, 16);
                for (u16 s = 0; s < CTRL_BUFS && s < c->crx.size; s++)
                        post(&c->crx, c->crx_slot, c->crx_mem, CON_CTRL_BUF, s);
                for (u32 id = 1; id < c->nports; id++)
                        setup_port(c, id);
        }
        virtio_driver_ok(d);
        if (!(d->ops->get_status(d) & VIRTIO_CONFIG_S_DRIVER_OK))
                guest_fail(ST_VIRTIO, "console: DRIVER_OK not set (status 0x%x)",
                           d->ops->get_status(d));
        for (u32 id = 0; id < c->nports; id++)
                if (c->port[id].have_queues)
                        vq_kick(&c->port[id].rx, false);
        if (c->multiport)
                vq_kick(&c->crx, false);
}

void con_emerg_write(struct con *c, u8 ch)
{
        struct vdev *d = &c->v;

        if (d->legacy)
                outl((u16)(d->io + VIRTIO_PCI_CONFIG_OFF(d->have_msix) +
                           VIRTIO_CONSOLE_CFG_EMERG_WR),
                     ch);
        else
                *(volatile u32 *)(d->devcfg + VIRTIO_CONSOLE_CFG_EMERG_WR) = ch;
}

/* Waits until the queue has every chain back (transmit queues: nothing is written). */
static bool drain(struct con *c, struct vq *q, u32 ms)
{
        u64 end = deadline_ms(ms);
        u32 id, len;

        for (;;) {
                while (vq_get_used(q, &id, &len))
                        if (len)
                                guest_fail(ST_VIRTIO,
                                           "console: queue %u: used length %u for a "
                                           "device-readable chain",
                                           q->index, len);
                if (q->num_free == q->size)
                        return true;
                if (deadline_passed(end))
                        return false;
                if (!c->o.v.poll && c->v.have_msix) {
                        cli();
                        if (!vq_has_used(q))
                                sti_hlt();
                        sti();
                }
        }
}

bool con_ctrl_raw(struct con *c, const struct vbuf *b, u32 nb)
{
        if (vq_add(&c->ctx, b, nb, false) < 0)
                guest_fail(ST_VIRTIO, "console: control transmit queue full");
        vq_kick(&c->ctx, false);
        return drain(c, &c->ctx, SEND_WAIT_MS);
}

bool con_ctrl_send(struct con *c, u32 id, u16 event, u16 value, const void *extra, u32 len)
{
        struct virtio_console_control *m = (struct virtio_console_control *)c->ctx_mem;
        struct vbuf v = {(u64)m, (u32)CTRL_HDR + len, false};

        if (!c->multiport)
                guest_fail(ST_USAGE, "console: a control message without MULTIPORT");
        m->id = id;
        m->event = event;
        m->value = value;
        memcpy(m + 1, extra, len);
        return con_ctrl_raw(c, &v, 1);
}

static void log_msg(struct con *c, const struct virtio_console_control *m, const u8 *extra,
                    u32 extra_len)
{
        struct con_msg *l;

        kprintf("console: control <- %s id %u value %u (+%u bytes)\n", con_event_name(m->event),
                m->id, m->value, extra_len);
        if (c->nlog == CON_LOG_MAX) {
                c->lost_log++;
                return;
        }
        l = &c->log[c->nlog++];
        l->id = m->id;
        l->event = m->event;
        l->value = m->value;
        l->extra_len = extra_len;
        memcpy(l->extra, extra, extra_len < CON_NAME_MAX ? extra_len : CON_NAME_MAX);
}

/* What the device says about its ports (5.3.6.2). */
static void handle(struct con *c, const struct virtio_console_control *m, const u8 *extra,
                   u32 extra_len)
{
        struct con_port *p = m->id < c->nports ? &c->port[m->id] : NULL;

        log_msg(c, m, extra, extra_len);
        switch (m->event) {
        case VIRTIO_CONSOLE_PORT_ADD:
                if (p)
                        p->added = true;
                break;
        case VIRTIO_CONSOLE_CONSOLE_PORT:
                if (p)
                        p->console = m->value == 1;
                break;
        case VIRTIO_CONSOLE_PORT_OPEN:
                if (p)
                        p->host_open = m->value == 1;
                break;
        case VIRTIO_CONSOLE_PORT_NAME:
                if (p) {
                        u32 n = extra_len < CON_NAME_MAX - 1 ? extra_len : CON_NAME_MAX - 1;

                        memcpy(p->name, extra, n);
                        p->name[n] = 0;
                        p->named = true;
                }
                break;
        }
}

static void poll_ctrl(struct con *c)
{
        u32 id, len;

        while (vq_has_used(&c->crx)) {
                struct vring_used_elem *e =
                    &c->crx.used->ring[c->crx.last_used & (c->crx.size - 1)];
                u16 slot;
                u8 *b;

                id = *(volatile u32 *)&e->id;
                if (id >= c->crx.size || !c->crx.chain_len[id])
                        guest_fail(ST_VIRTIO, "console: control rx: used id %u not in flight", id);
                vq_get_used(&c->crx, &id, &len);
                slot = c->crx_slot[id];
                b = c->crx_mem + (u64)slot * CON_CTRL_BUF;
                if (len > CON_CTRL_BUF)
                        guest_fail(ST_VIRTIO, "console: control rx: used length %u > %u", len,
                                   CON_CTRL_BUF);
                if (len < CTRL_HDR)
                        c->ctrl_short++;
                else
                        handle(c, (struct virtio_console_control *)b, b + CTRL_HDR,
                               len - (u32)CTRL_HDR);
                post(&c->crx, c->crx_slot, c->crx_mem, CON_CTRL_BUF, slot);
                vq_kick(&c->crx, false);
        }
}

static void poll_port(struct con_port *p)
{
        u32 id, len;

        /* Only what fits: the rest waits in the ring. */
        while (vq_has_used(&p->rx) && p->in_len + CON_PORT_BUF <= CON_IN_MAX) {
                struct vring_used_elem *e = &p->rx.used->ring[p->rx.last_used & (p->rx.size - 1)];
                u16 slot;

                id = *(volatile u32 *)&e->id;
                if (id >= p->rx.size || !p->rx.chain_len[id])
                        guest_fail(ST_VIRTIO, "console: queue %u: used id %u not in flight",
                                   p->rx.index, id);
                vq_get_used(&p->rx, &id, &len);
                if (len > CON_PORT_BUF)
                        guest_fail(ST_VIRTIO, "console: queue %u: used length %u > %u", p->rx.index,
                                   len, CON_PORT_BUF);
                slot = p->slot_of[id];
                memcpy(p->in + p->in_len, p->rxmem + (u64)slot * CON_PORT_BUF, len);
                p->in_len += len;
                p->rx_bytes += len;
                p->rx_bufs++;
                post(&p->rx, p->slot_of, p->rxmem, CON_PORT_BUF, slot);
                vq_kick(&p->rx, false);
        }
}

void con_poll(struct con *c)
{
        if (c->multiport)
                poll_ctrl(c);
        for (u32 id = 0; id < c->nports; id++)
                if (c->port[id].have_queues)
                        poll_port(&c->port[id]);
}

static bool anything(struct con *c)
{
        if (c->multiport && vq_has_used(&c->crx))
                return true;
        for (u32 id = 0; id < c->nports; id++)
                if (c->port[id].have_queues && vq_has_used(&c->port[id].rx))
                        return true;
        return false;
}

bool con_wait(struct con *c, bool (*fn)(struct con *c, u64 arg), u64 arg, u32 ms)
{
        u64 end = deadline_ms(ms);

        for (;;) {
                con_poll(c);
                if (fn(c, arg))
                        return true;
                if (deadline_passed(end))
                        return false;
                /* An MSI-X message or the 10 ms watchdog tick ends the hlt. */
                cli();
                if (!anything(c))
                        sti_hlt();
                sti();
        }
}

bool con_write(struct con *c, u32 id, const void *buf, u32 len)
{
        struct con_port *p = &c->port[id];
        u32 piece = len <= 4 * TX_PIECE ? TX_PIECE : TX_BIG_PIECE, nv = 0;
        struct vbuf v[TX_BYTES / TX_BIG_PIECE];

        if (id >= c->nports || !p->have_queues || len > TX_BYTES || !len)
                guest_fail(ST_USAGE, "console: write of %u bytes on port %u", len, id);
        if (buf != p->txmem)
                memcpy(p->txmem, buf, len);
        for (u32 off = 0; off < len; off += piece)
                v[nv++] = (struct vbuf){(u64)p->txmem + off, len - off < piece ? len - off : piece,
                                        false};
        if (vq_add(&p->tx, v, nv, false) < 0)
                guest_fail(ST_VIRTIO, "console: port %u: transmit queue full", id);
        vq_kick(&p->tx, false);
        return drain(c, &p->tx, SEND_WAIT_MS);
}

static bool has_line(struct con *c, u64 id)
{
        struct con_port *p = &c->port[id];

        for (u32 i = 0; i < p->in_len; i++)
                if (p->in[i] == '\n')
                        return true;
        return false;
}

bool con_read_line(struct con *c, u32 id, char *buf, u32 max, u32 ms, u32 *len)
{
        struct con_port *p = &c->port[id];
        u32 n = 0;

        if (!con_wait(c, has_line, id, ms))
                return false;
        while (p->in[n] != '\n')
                n++;
        if (n >= max)
                guest_fail(ST_CONSOLE, "console: port %u: a %u-byte line, at most %u expected", id,
                           n, max - 1);
        memcpy(buf, p->in, n);
        buf[n] = 0;
        *len = n;
        p->in_len -= n + 1;
        memcpy(p->in, p->in + n + 1, p->in_len);
        return true;
}
