/* virtio-net client: negotiation, config, RX buffers (small, big, mergeable), TX, control queue. */
#include "net.h"
#include "x86.h"

#define F(bit) (1UL << (bit))
#define BIG_SLOTS 24        /* big (65562-byte) RX buffers posted per queue */
#define MERGED_WAIT_MS 1000 /* the rest of a merged frame after its first buffer */
#define CTRL_WAIT_MS 5000
#define CTRL_DATA 16
#define CTRL_ACK 4000
#define ACK_UNSET 0xee

void net_opts_parse(const char *cmdline, struct net_opts *o)
{
        u64 v;

        memset(o, 0, sizeof(*o));
        virtio_opts_parse(cmdline, &o->v);
        o->pairs = 1;
        if (cmdline_u64(cmdline, "mq", &v)) {
                if (!v || v > NET_MAX_PAIRS)
                        guest_fail(ST_USAGE, "mq=%lu: 1..%u queue pairs", v, NET_MAX_PAIRS);
                o->pairs = (u16)v;
        }
        o->csum = cmdline_bool(cmdline, "net.csum", true);
        o->mrg = cmdline_bool(cmdline, "net.mrg", true);
        o->tso = cmdline_bool(cmdline, "net.tso", true);
        o->ctrl = cmdline_bool(cmdline, "net.ctrl", true);
        o->rxsplit = cmdline_bool(cmdline, "net.rxsplit", false);
        o->prefill = cmdline_bool(cmdline, "net.prefill", true);
        o->rxbuf = 2048;
        if (cmdline_u64(cmdline, "net.rxbuf", &v)) {
                if (v < 128 || v > NET_BIG_BUF)
                        guest_fail(ST_USAGE, "net.rxbuf=%lu: 128..%u bytes", v, NET_BIG_BUF);
                o->rxbuf = (u32)v;
        }
        if (cmdline_u64(cmdline, "nic", &v))
                o->nic = (u32)v;
}

static u64 wanted(const struct net_opts *o)
{
        u64 f = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_F_ANY_LAYOUT);

        if (o->csum)
                f |= F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM);
        if (o->csum && o->tso)
                f |= F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
                     F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6);
        if (o->mrg)
                f |= F(VIRTIO_NET_F_MRG_RXBUF);
        if (o->ctrl)
                f |= F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX);
        if (o->ctrl && o->pairs > 1)
                f |= F(VIRTIO_NET_F_MQ);
        if (o->v.event_idx)
                f |= F(VIRTIO_RING_F_EVENT_IDX);
        if (o->v.indirect)
                f |= F(VIRTIO_RING_F_INDIRECT_DESC);
        return f;
}

/* 5.1.3.1: a feature whose prerequisite was not offered cannot be accepted. */
static u64 fix_deps(u64 f)
{
        if (!(f & F(VIRTIO_NET_F_CSUM)))
                f &= ~(F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6));
        if (!(f & F(VIRTIO_NET_F_GUEST_CSUM)))
                f &= ~(F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6));
        if (!(f & F(VIRTIO_NET_F_CTRL_VQ)))
                f &= ~(F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_MQ));
        return f;
}

static u8 cfg8(struct net *n, u32 off)
{
        return (u8)n->v.ops->config_read(&n->v, off, 1);
}

static u16 cfg16(struct net *n, u32 off)
{
        return (u16)n->v.ops->config_read(&n->v, off, 2);
}

static bool any_layout(const struct net *n)
{
        return !n->v.legacy || net_has(n, VIRTIO_F_ANY_LAYOUT);
}

static void read_config(struct net *n)
{
        for (u32 i = 0; i < 6; i++)
                n->mac[i] = net_has(n, VIRTIO_NET_F_MAC) ? cfg8(n, VIRTIO_NET_CFG_MAC + i) : 0;
        n->link = net_has(n, VIRTIO_NET_F_STATUS) ? cfg16(n, VIRTIO_NET_CFG_STATUS)
                                                  : VIRTIO_NET_S_LINK_UP;
        n->max_pairs = net_has(n, VIRTIO_NET_F_MQ) ? cfg16(n, VIRTIO_NET_CFG_MAX_PAIRS) : 1;
        kprintf("net: mac %02x:%02x:%02x:%02x:%02x:%02x, status 0x%x, max pairs %u, header %u "
                "bytes, %s%s%s%s%s%s\n",
                n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->link,
                n->max_pairs, n->hdr_len,
                n->mrg   ? "mergeable"
                : n->big ? "big"
                         : "small",
                " RX buffers", net_has(n, VIRTIO_NET_F_CSUM) ? ", csum" : "",
                net_has(n, VIRTIO_NET_F_HOST_TSO4) ? ", host tso" : "",
                net_has(n, VIRTIO_NET_F_GUEST_TSO4) ? ", guest tso" : "",
                net_has(n, VIRTIO_NET_F_CTRL_VQ) ? ", control queue" : "");
}

static void setup_queue(struct net *n, struct vq *q, u16 index, bool irq)
{
        struct vdev *d = &n->v;
        u16 size = d->ops->queue_size(d, index);

        if (!size || (size & (size - 1)))
                guest_fail(ST_VIRTIO, "net: queue %u: size %u", index, size);
        if (n->o.v.qsize && !d->legacy && n->o.v.qsize < size)
                size = n->o.v.qsize;
        vq_alloc(q, d, index, size);
        q->vector =
            d->have_msix && index + 1u < d->msix.nused ? (u16)(index + 1) : VIRTIO_MSI_NO_VECTOR;
        q->idt_vector = (u8)(n->idt_base + index + 1);
        if (!virtio_queue(d, q))
                guest_fail(ST_VIRTIO, "net: queue %u: set-up refused", index);
        vq_interrupts(q, irq);
}

static void alloc_rx(struct net *n, u16 p)
{
        struct net_rxq *r = &n->rx[p];

        r->buflen = n->big ? NET_BIG_BUF : n->o.rxbuf;
        r->nslots = n->big && r->q.size > BIG_SLOTS ? BIG_SLOTS : r->q.size;
        r->mem = palloc((u64)r->nslots * ((r->buflen + 63) & ~63u), 4096);
        r->slot_of = palloc(2UL * r->q.size, 16);
}

void net_open(struct net *n, const struct net_opts *o, u8 idt_base)
{
        struct pci_fn *f = pci_find_virtio(pci_fns, pci_nfns, VIRTIO_ID_NET, o->nic);
        struct vdev *d = &n->v;
        bool irq = !o->v.poll || o->v.no_msix;
        u64 want = wanted(o), fixed;

        memset(n, 0, sizeof(*n));
        n->o = *o;
        n->idt_base = idt_base;
        if (!f)
                guest_fail(ST_PCI, "pci: no virtio-net function #%u", o->nic);
        if (!virtio_attach(d, f, &o->v, idt_base))
                guest_fail(ST_VIRTIO, "net: 00:%02x.%u: no usable interface", f->dev, f->fn);
        if (!virtio_negotiate(d, want))
                guest_fail(ST_VIRTIO, "net: feature negotiation refused");
        fixed = fix_deps(d->features);
        if (fixed != d->features) {
                kprintf("net: again without features whose prerequisite is missing\n");
                if (!virtio_negotiate(d, fixed))
                        guest_fail(ST_VIRTIO, "net: feature negotiation refused");
        }
        n->mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);
        n->hdr_len = !d->legacy || n->mrg ? 12 : 10;
        n->big =
            !n->mrg && (net_has(n, VIRTIO_NET_F_GUEST_TSO4) || net_has(n, VIRTIO_NET_F_GUEST_TSO6));
        if (!any_layout(n))
                n->o.rxsplit = true; /* 5.1.6.6: the header in a descriptor of its own */
        read_config(n);
        if (o->pairs > 1 && !net_has(n, VIRTIO_NET_F_MQ))
                guest_fail(ST_NET_CONFIG, "net: mq=%u but VIRTIO_NET_F_MQ was not negotiated",
                           o->pairs);
        if (o->pairs > n->max_pairs)
                guest_fail(ST_NET_CONFIG, "net: mq=%u but max_virtqueue_pairs is %u", o->pairs,
                           n->max_pairs);
        n->npairs = o->pairs;
        n->active = 1;
        n->ctrl_index = net_has(n, VIRTIO_NET_F_MQ) ? (u16)(2 * n->max_pairs) : 2;
        if (!d->legacy && d->ops->num_queues(d) <= n->ctrl_index &&
            net_has(n, VIRTIO_NET_F_CTRL_VQ))
                guest_fail(ST_NET_CONFIG, "net: num_queues %u, the control queue is queue %u",
                           d->ops->num_queues(d), n->ctrl_index);
        if (d->have_msix && d->ops->set_config_vector(d, 0) != 0)
                guest_fail(ST_VIRTIO, "net: config vector 0 not accepted");
        for (u16 p = 0; p < n->npairs; p++) {
                setup_queue(n, &n->rx[p].q, (u16)(2 * p), irq);
                setup_queue(n, &n->tx[p].q, (u16)(2 * p + 1), irq);
                alloc_rx(n, p);
                n->tx[p].mem = palloc((u64)n->tx[p].q.size * NET_TX_SLOT, 4096);
        }
        if (net_has(n, VIRTIO_NET_F_CTRL_VQ)) {
                setup_queue(n, &n->cvq, n->ctrl_index, irq);
                n->have_cvq = true;
                n->ctrl_mem = palloc(4096, 4096);
        }
        if (o->prefill)
                for (u16 p = 0; p < n->npairs; p++)
                        net_rx_fill(n, p);
        if (n->hook_pre_driver_ok)
                n->hook_pre_driver_ok(n);
        virtio_driver_ok(d);
        if (!(d->ops->get_status(d) & VIRTIO_CONFIG_S_DRIVER_OK))
                guest_fail(ST_VIRTIO, "net: DRIVER_OK not set (status 0x%x)",
                           d->ops->get_status(d));
        for (u16 p = 0; p < n->npairs; p++)
                if (n->rx[p].posted)
                        vq_kick(&n->rx[p].q, false);
}

/* --- RX ----------------------------------------------------------------------------------- */

void net_rx_post(struct net *n, u16 p, u16 slot)
{
        struct net_rxq *r = &n->rx[p];
        u8 *b = r->mem + (u64)slot * ((r->buflen + 63) & ~63u);
        struct vbuf v[2] = {{(u64)b, r->buflen, true}};
        u32 nv = 1;
        int h;

        if (n->o.rxsplit) {
                v[0].len = n->hdr_len;
                v[1] = (struct vbuf){(u64)b + n->hdr_len, r->buflen - n->hdr_len, true};
                nv = 2;
        }
        h = vq_prepare(&r->q, v, nv, false);
        if (h < 0)
                guest_fail(ST_VIRTIO, "net: rx queue %u: no room for a buffer", r->q.index);
        r->slot_of[h] = slot;
        vq_publish(&r->q, (u16)h);
        r->posted++;
}

void net_rx_fill(struct net *n, u16 p)
{
        struct net_rxq *r = &n->rx[p];
        u16 per = n->o.rxsplit ? 2 : 1, cap = r->q.size / per;

        if (r->posted)
                guest_fail(ST_USAGE, "net: rx %u refilled with %u buffers posted", p, r->posted);
        if (cap > r->nslots)
                cap = r->nslots;
        for (u16 s = 0; s < cap; s++)
                net_rx_post(n, p, s);
        kprintf("net: rx queue %u: %u buffers of %u bytes%s\n", r->q.index, cap, r->buflen,
                n->o.rxsplit ? " (header descriptor apart)" : "");
        if (n->v.ops->get_status(&n->v) & VIRTIO_CONFIG_S_DRIVER_OK)
                vq_kick(&r->q, false);
}

/* The used element at last_used, checked before vq_get_used frees its chain. */
static bool pop_used(struct net *n, struct net_rxq *r, u16 *slot, u32 *len)
{
        struct vq *q = &r->q;
        struct vring_used_elem *e;
        u32 id, l;

        if (!vq_has_used(q))
                return false;
        e = &q->used->ring[q->last_used & (q->size - 1)];
        id = *(volatile u32 *)&e->id;
        if (id >= q->size || !q->chain_len[id])
                guest_fail(ST_VIRTIO, "net: rx queue %u: used id %u is not a buffer in flight",
                           q->index, id);
        vq_get_used(q, &id, &l);
        r->posted--;
        *slot = r->slot_of[id];
        if (l > r->buflen)
                guest_fail(ST_VIRTIO, "net: rx queue %u: used length %u, the buffer has %u bytes",
                           q->index, l, r->buflen);
        *len = l;
        (void)n;
        return true;
}

static u8 *slot_mem(const struct net_rxq *r, u16 slot)
{
        return r->mem + (u64)slot * ((r->buflen + 63) & ~63u);
}

bool net_rx_pop(struct net *n, u16 p, struct net_frame *f)
{
        struct net_rxq *r = &n->rx[p];
        u16 slot, nb = 1;
        u32 len;
        u8 *b;

        for (;;) {
                if (!pop_used(n, r, &slot, &len))
                        return false;
                if (len)
                        break;
                /* Given back unused: a frame the device dropped. */
                r->zero_len++;
                net_rx_post(n, p, slot);
                vq_kick(&r->q, false);
        }
        if (len < n->hdr_len)
                guest_fail(ST_NET, "net: rx queue %u: used length %u, less than the %u-byte header",
                           r->q.index, len, n->hdr_len);
        b = slot_mem(r, slot);
        memset(&f->hdr, 0, sizeof(f->hdr));
        memcpy(&f->hdr, b, n->hdr_len);
        f->pair = p;
        f->piece[0] = b + n->hdr_len;
        f->plen[0] = len - n->hdr_len;
        f->slot[0] = slot;
        f->len = f->plen[0];
        f->nbufs = 1;
        if (n->mrg) {
                nb = f->hdr.num_buffers;
                if (!nb || nb > NET_MRG_MAX)
                        guest_fail(ST_NET, "net: rx queue %u: num_buffers %u", r->q.index, nb);
        } else if (n->hdr_len == 12 && f->hdr.num_buffers != 1) {
                /* 5.1.6.3.2 (1.1) / 5.1.6.4.2 (1.2): a single buffer, so num_buffers is 1. */
                if (!n->nb_bad++)
                        kprintf("net: rx queue %u: num_buffers %u without MRG_RXBUF "
                                "(must be 1)\n",
                                r->q.index, f->hdr.num_buffers);
                n->nb_bad_val = f->hdr.num_buffers;
        }
        for (u16 k = 1; k < nb; k++) {
                u64 end = deadline_ms(MERGED_WAIT_MS);
                bool waited = false;

                while (!pop_used(n, r, &slot, &len)) {
                        if (deadline_passed(end))
                                guest_fail(ST_NET,
                                           "net: rx queue %u: merged frame: buffer %u of %u "
                                           "not used within %u ms",
                                           r->q.index, k + 1, nb, MERGED_WAIT_MS);
                        waited = true;
                }
                if (waited)
                        r->partial++;
                if (!len)
                        guest_fail(ST_NET,
                                   "net: rx queue %u: merged frame: buffer %u of %u has "
                                   "used length 0",
                                   r->q.index, k + 1, nb);
                f->piece[k] = slot_mem(r, slot);
                f->plen[k] = len;
                f->slot[k] = slot;
                f->len += len;
                f->nbufs++;
        }
        if (nb > 1)
                r->merged++;
        if (p >= n->active && !n->rx_inactive++)
                kprintf("net: a frame on rx queue %u while %u pair%s active (5.1.6.5.5)\n",
                        r->q.index, n->active, n->active > 1 ? "s are" : " is");
        r->frames++;
        return true;
}

void net_rx_release(struct net *n, struct net_frame *f)
{
        for (u16 k = 0; k < f->nbufs; k++)
                net_rx_post(n, f->pair, f->slot[k]);
        vq_kick(&n->rx[f->pair].q, false);
        f->nbufs = 0;
}

static bool rx_any(struct net *n, u16 upto)
{
        for (u16 p = 0; p < upto; p++)
                if (vq_has_used(&n->rx[p].q))
                        return true;
        return false;
}

bool net_rx_wait(struct net *n, u16 upto, struct net_frame *f, u32 ms)
{
        u64 end = deadline_ms(ms);
        bool irq = !n->o.v.poll && n->v.have_msix;

        for (;;) {
                for (u16 p = 0; p < upto; p++)
                        if (net_rx_pop(n, p, f))
                                return true;
                if (deadline_passed(end))
                        return false;
                if (irq) {
                        /* An MSI-X message or the 10 ms watchdog tick ends the hlt. */
                        cli();
                        if (!rx_any(n, upto))
                                sti_hlt();
                        sti();
                }
        }
}

u32 net_frame_read(const struct net_frame *f, u32 off, void *dst, u32 len)
{
        u8 *d = dst;
        u32 done = 0;

        for (u16 k = 0; k < f->nbufs && done < len; k++) {
                u32 c;

                if (off >= f->plen[k]) {
                        off -= f->plen[k];
                        continue;
                }
                c = f->plen[k] - off < len - done ? f->plen[k] - off : len - done;
                memcpy(d + done, f->piece[k] + off, c);
                done += c;
                off = 0;
        }
        return done;
}

/* --- TX ----------------------------------------------------------------------------------- */

void net_tx_reclaim(struct net *n, u16 p)
{
        struct vq *q = &n->tx[p].q;
        u32 id, len;

        while (vq_has_used(q)) {
                struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];

                id = *(volatile u32 *)&e->id;
                if (id >= q->size || !q->chain_len[id])
                        guest_fail(ST_VIRTIO, "net: tx queue %u: used id %u is not in flight",
                                   q->index, id);
                vq_get_used(q, &id, &len);
                if (len)
                        guest_fail(ST_VIRTIO,
                                   "net: tx queue %u: used length %u for a chain with nothing "
                                   "writable (2.6.8.2)",
                                   q->index, len);
        }
}

u8 *net_tx_slot(struct net *n, u16 p)
{
        struct vq *q = &n->tx[p].q;

        net_tx_reclaim(n, p);
        if (q->num_free < 4)
                return NULL;
        return n->tx[p].mem + (u64)q->free_head * NET_TX_SLOT;
}

void net_tx_send(struct net *n, u16 p, u32 len, u32 ndesc, bool indirect)
{
        struct net_txq *t = &n->tx[p];
        u8 *b = t->mem + (u64)t->q.free_head * NET_TX_SLOT;
        u32 h = n->hdr_len, total = h + len, third = len / 3;
        struct vbuf v[4];
        u32 nv;
        int head;

        if (total > NET_TX_SLOT)
                guest_fail(ST_USAGE, "net: a %u-byte frame in a TX slot", len);
        if (!any_layout(n) && (ndesc == 1 || ndesc == 4))
                ndesc = ndesc == 1 ? 2 : 3; /* legacy: the header in its own descriptor */
        switch (ndesc) {
        case 1:
                v[0] = (struct vbuf){(u64)b, total, false};
                nv = 1;
                break;
        case 2:
                v[0] = (struct vbuf){(u64)b, h, false};
                v[1] = (struct vbuf){(u64)b + h, len, false};
                nv = 2;
                break;
        case 3:
                v[0] = (struct vbuf){(u64)b, h, false};
                v[1] = (struct vbuf){(u64)b + h, len / 2, false};
                v[2] = (struct vbuf){(u64)b + h + len / 2, len - len / 2, false};
                nv = 3;
                break;
        default: /* the header itself across two descriptors */
                v[0] = (struct vbuf){(u64)b, 5, false};
                v[1] = (struct vbuf){(u64)b + 5, h - 5 + third, false};
                v[2] = (struct vbuf){(u64)b + h + third, third, false};
                v[3] = (struct vbuf){(u64)b + h + 2 * third, len - 2 * third, false};
                nv = 4;
                break;
        }
        head = vq_add(&t->q, v, nv, indirect);
        if (head < 0)
                guest_fail(ST_VIRTIO, "net: tx queue %u: no room for %u descriptors", t->q.index,
                           nv);
        t->frames++;
        vq_kick(&t->q, false);
}

int net_tx_chain(struct net *n, u16 p, const struct vbuf *b, u32 nb, bool indirect)
{
        struct net_txq *t = &n->tx[p];
        int head;

        net_tx_reclaim(n, p);
        head = vq_add(&t->q, b, nb, indirect);
        if (head >= 0) {
                t->frames++;
                vq_kick(&t->q, false);
        }
        return head;
}

bool net_tx_drain(struct net *n, u16 p, u32 ms)
{
        struct vq *q = &n->tx[p].q;
        u64 end = deadline_ms(ms);
        bool irq = !n->o.v.poll && n->v.have_msix;

        for (;;) {
                net_tx_reclaim(n, p);
                if (q->num_free == q->size)
                        return true;
                if (deadline_passed(end))
                        return false;
                if (irq) {
                        cli();
                        if (!vq_has_used(q))
                                sti_hlt();
                        sti();
                }
        }
}

/* --- control queue ------------------------------------------------------------------------ */

u32 net_ctrl(struct net *n, u8 class, u8 cmd, const void *data, u32 len)
{
        struct vq *q = &n->cvq;
        u8 *m = n->ctrl_mem;
        struct vbuf v[3];
        u32 nv = 0, id, used;
        u64 end = deadline_ms(CTRL_WAIT_MS);
        bool irq = !n->o.v.poll && n->v.have_msix;
        int head;

        if (!n->have_cvq)
                guest_fail(ST_USAGE, "net: a control command without a control queue");
        if (len > CTRL_ACK - CTRL_DATA)
                guest_fail(ST_USAGE, "net: a %u-byte control command", len);
        ((struct virtio_net_ctrl_hdr *)m)->class = class;
        ((struct virtio_net_ctrl_hdr *)m)->cmd = cmd;
        memcpy(m + CTRL_DATA, data, len);
        m[CTRL_ACK] = ACK_UNSET;
        v[nv++] = (struct vbuf){(u64)m, sizeof(struct virtio_net_ctrl_hdr), false};
        if (len)
                v[nv++] = (struct vbuf){(u64)m + CTRL_DATA, len, false};
        v[nv++] = (struct vbuf){(u64)m + CTRL_ACK, 1, true};
        head = vq_add(q, v, nv, false);
        if (head < 0)
                guest_fail(ST_VIRTIO, "net: control queue full");
        vq_kick(q, false);
        while (!vq_has_used(q)) {
                if (deadline_passed(end))
                        return NET_TIMEOUT;
                if (irq) {
                        cli();
                        if (!vq_has_used(q))
                                sti_hlt();
                        sti();
                }
        }
        vq_get_used(q, &id, &used);
        if (id != (u32)head)
                guest_fail(ST_VIRTIO, "net: control queue returned head %u, expected %d", id, head);
        if (used > 1)
                guest_fail(ST_VIRTIO, "net: control queue: used length %u, 1 byte was writable",
                           used);
        if (!used)
                return NET_NO_ACK;
        return m[CTRL_ACK];
}

const char *net_ack_name(u32 ack)
{
        switch (ack) {
        case VIRTIO_NET_OK:
                return "OK";
        case VIRTIO_NET_ERR:
                return "ERR";
        case NET_NO_ACK:
                return "returned-without-ack";
        case NET_TIMEOUT:
                return "timeout";
        default:
                return "bad-ack";
        }
}
