/* virtio-net device model: TX to the tap, RX from it with back-pressure, the control queue. */
#include "devices/virtio_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>

#include "vmm/log.h"

#define NET_MAX_SEGS 64                 /* MAX_SKB_FRAGS + header + linear part, with room */
#define NET_RX_BATCH 64                 /* frames per tap event before yielding to other fds */
#define NET_TX_BATCH 128                /* chains per turn before yielding to other fds */
#define NET_MAX_MRG_BUFS NET_QUEUE_SIZE /* buffers one merged frame may take */
#define NET_CHAIN_BYTES (sizeof(struct virtq_chain) + NET_MAX_SEGS * sizeof(struct virtq_seg))

/* Queue layout: rx0, tx0, rx1, tx1, ..., then the control queue. */
static unsigned int rxq(unsigned int pair)
{
        return 2 * pair;
}

/* The control queue follows the last pair with MQ, and pair 0 without (5.1.2). */
static unsigned int ctrlq(const struct virtio_net *n)
{
        return n->dev.features & (1ull << VIRTIO_NET_F_MQ) ? 2 * n->opt.queues : 2;
}

static struct virtio_net *to_net(struct virtio_device *d)
{
        return d->priv;
}

static bool negotiated(const struct virtio_net *n, unsigned int bit)
{
        return n->dev.features & (1ull << bit);
}

/* A chain with room for NET_MAX_SEGS segments, on the stack. */
#define CHAIN(name)                                                                                \
        union {                                                                                    \
                struct virtq_chain c;                                                              \
                uint8_t raw[sizeof(struct virtq_chain) + NET_MAX_SEGS * sizeof(struct virtq_seg)]; \
        } name

static void notify_if_wanted(struct virtio_net *n, unsigned int q)
{
        if (virtq_should_notify(&n->dev.vq[q]))
                n->dev.irq.queue(n->dev.irq.ctx, q);
}

static void tap_watch(struct net_pair *p, bool on)
{
        if (p->tap_dead || p->tap_watched == on)
                return;
        if (event_mod(p->net->loop, &p->tap_src, on ? EPOLLIN : 0) == 0)
                p->tap_watched = on;
}

/* A read or write error on the tap: a deleted tap costs packets, not the VMM. */
static void tap_failed(struct net_pair *p, int e)
{
        p->net->stats.tap_errors++;
        if (e == EBADFD || e == EIO || e == ENODEV) {
                if (!p->tap_dead) {
                        wisp_warn("tap '%s': %s: its packets are dropped from now on",
                                  p->net->opt.ifname, strerror(e));
                        /* Out of the loop altogether: a deleted tap polls EPOLLERR, which
                         * epoll reports whatever the mask, so it would fire forever. */
                        event_del(p->net->loop, &p->tap_src);
                }
                p->tap_watched = false;
                p->tap_dead = true;
        }
}

/* --- TX: guest -> tap ------------------------------------------------------ */

static void tx_one(struct net_pair *p, const struct virtq_chain *c)
{
        struct virtio_net *n = p->net;
        struct iovec iov[NET_MAX_SEGS + 1];
        uint8_t hdr[NET_HDR_MRG] = {0};
        int k;

        /* The header is read once into our copy, checked, and that copy is
         * what the tap gets: the guest cannot change it after the check. */
        if (c->out_len < n->hdr_len || virtq_read_out(c, 0, hdr, n->hdr_len) != n->hdr_len ||
            net_tx_hdr_check((struct virtio_net_hdr *)hdr, n->dev.features,
                             c->out_len - n->hdr_len) < 0) {
                n->stats.tx_dropped++;
                return;
        }
        iov[0] = (struct iovec){.iov_base = hdr, .iov_len = n->hdr_len};
        k = virtq_iov(c, false, n->hdr_len, c->out_len - n->hdr_len, iov + 1, NET_MAX_SEGS);
        if (k < 0 || p->tap_dead) {
                n->stats.tx_dropped++;
                return;
        }
        if (writev(p->tap_fd, iov, k + 1) < 0) {
                n->stats.tx_dropped++;
                tap_failed(p, errno);
                return;
        }
        n->stats.tx_frames++;
}

static void tx_process(struct net_pair *p)
{
        struct virtio_net *n = p->net;
        unsigned int q = rxq(p->index) + 1;
        struct virtq *vq = &n->dev.vq[q];
        unsigned long rejected = vq->stats.rejected;
        CHAIN(ch);

        for (unsigned int done = 0;; done++) {
                int got;

                /* A driver that refills the ring as fast as it drains would keep
                 * the I/O thread here for good, starving RX and every other
                 * device: after a batch, come back through the kick. */
                if (done == NET_TX_BATCH) {
                        virtio_device_requeue(&n->dev, q);
                        break;
                }
                got = virtq_pop(vq, &ch.c);
                if (got < 0) {
                        virtio_device_broken(&n->dev);
                        break;
                }
                if (got == 0) {
                        if (!virtq_enable_kicks(vq))
                                break;
                        continue;
                }
                tx_one(p, &ch.c);
                virtq_push(vq, &ch.c, 0);
        }
        /* Chains the queue refused (too long, too many segments) are frames dropped too. */
        n->stats.tx_dropped += vq->stats.rejected - rejected;
        notify_if_wanted(n, q);
}

/* --- RX: tap -> guest ------------------------------------------------------ */

/*
 * Places the frame in p->pkt (header included) into guest buffers: one
 * chain, or with MRG_RXBUF as many as it takes. Returns 1 when delivered
 * or dropped, 0 when the guest has no (or too few) buffers: the frame stays
 * pending and the caller stops reading the tap.
 */
static int rx_deliver(struct net_pair *p)
{
        struct virtio_net *n = p->net;
        struct virtq *vq = &n->dev.vq[rxq(p->index)];
        bool mrg = negotiated(n, VIRTIO_NET_F_MRG_RXBUF);
        const struct virtq_chain *popped[NET_MAX_MRG_BUFS];
        uint32_t used[NET_MAX_MRG_BUFS];
        uint16_t mark = vq->last_avail;
        unsigned long rejected = vq->stats.rejected;
        uint32_t off = 0;
        unsigned int nbuf = 0;

        while (off < p->pkt_len) {
                int got;

                if (nbuf == NET_MAX_MRG_BUFS || (!mrg && nbuf == 1))
                        goto drop; /* buffers too small for this frame */
                struct virtq_chain *ch =
                    (struct virtq_chain *)(p->rx_chains + nbuf * NET_CHAIN_BYTES);

                got = virtq_pop(vq, ch);
                if (got < 0) {
                        virtio_device_broken(&n->dev);
                        goto drop;
                }
                if (got == 0) {
                        /* Out of buffers mid-frame: give them back and wait. */
                        if (virtq_rewind(vq, popped, nbuf, mark, rejected))
                                return 0;
                        goto drop;
                }
                popped[nbuf] = ch;
                used[nbuf] = virtq_write_in(ch, 0, p->pkt + off, p->pkt_len - off);
                off += used[nbuf];
                /* Counted before the check: a dropped frame returns every buffer. */
                nbuf++;
                if (used[nbuf - 1] < (nbuf == 1 ? n->hdr_len : 1u))
                        goto drop; /* a buffer that cannot even hold the header */
        }
        if (n->hdr_len == NET_HDR_MRG && nbuf) {
                /* num_buffers follows the 10-byte header: the count with MRG_RXBUF,
                 * and 1 in a modern device without it (5.1.6.4). The tap never
                 * writes it. */
                uint16_t nb = mrg ? (uint16_t)nbuf : 1;

                virtq_write_in(popped[0], sizeof(struct virtio_net_hdr), &nb, sizeof(nb));
        }
        virtq_push_many(vq, popped, used, nbuf);
        n->stats.rx_frames++;
        p->pkt_len = 0;
        return 1;
drop:
        for (unsigned int i = 0; i < nbuf; i++)
                used[i] = 0;
        virtq_push_many(vq, popped, used, nbuf);
        n->stats.rx_dropped++;
        p->pkt_len = 0;
        return 1;
}

static void rx_process(struct net_pair *p)
{
        struct virtio_net *n = p->net;
        struct virtq *vq = &n->dev.vq[rxq(p->index)];

        unsigned int i;

        for (i = 0; i < NET_RX_BATCH; i++) {
                if (!p->pkt_len) {
                        ssize_t r =
                            p->tap_dead ? -1 : read(p->tap_fd, p->pkt, n->hdr_len + NET_MAX_FRAME);

                        if (r < 0) {
                                if (!p->tap_dead && errno != EAGAIN && errno != EINTR)
                                        tap_failed(p, errno);
                                tap_watch(p, !p->tap_dead);
                                break;
                        }
                        if ((uint32_t)r <= n->hdr_len)
                                continue;
                        p->pkt_len = (uint32_t)r;
                }
                if (rx_deliver(p) == 0) {
                        /* Back-pressure: too few buffers. Stop reading the tap until
                         * the driver adds some (it will kick); retry at once if it
                         * did meanwhile. */
                        tap_watch(p, false);
                        if (virtq_kick_on_more(vq))
                                continue;
                        break;
                }
        }
        /* A full batch: keep the tap armed (level-triggered, it fires again)
         * so other fds get their turn and the rest is read next time. */
        if (i == NET_RX_BATCH)
                tap_watch(p, true);
        notify_if_wanted(n, rxq(p->index));
}

static void on_tap(void *opaque, uint32_t events)
{
        struct net_pair *p = opaque;

        pthread_mutex_lock(&p->net->dev.lock);
        if (events & (EPOLLERR | EPOLLHUP))
                tap_failed(p, EBADFD); /* tun polls EPOLLERR once its device is gone */
        else if (!p->tap_dead && p->attached && p->net->dev.vq_ready &&
                 p->net->dev.vq_ready[rxq(p->index)])
                rx_process(p);
        else
                tap_watch(p, false);
        pthread_mutex_unlock(&p->net->dev.lock);
}

/*
 * Only the first k pairs take frames: the others' tap queues are detached
 * (the tap then spreads flows over the attached ones) and not read. Until
 * the driver's VQ_PAIRS_SET, k is 1 (5.1.6.5.5).
 */
static void set_active_pairs(struct virtio_net *n, unsigned int k)
{
        for (unsigned int i = 0; i < n->opt.queues; i++) {
                struct net_pair *p = &n->pair[i];
                bool on = i < k;

                if (n->opt.queues > 1 && p->attached != on) {
                        struct ifreq ifr = {.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE};

                        ioctl(p->tap_fd, TUNSETQUEUE, &ifr);
                }
                p->attached = on;
                if (!on)
                        p->pkt_len = 0;
                tap_watch(p, on);
        }
        n->active_pairs = k;
}

/* --- control queue ------------------------------------------------------------ */

static uint8_t ctrl_command(struct virtio_net *n, const struct virtq_chain *c)
{
        struct virtio_net_ctrl_hdr h;
        uint16_t pairs;

        if (virtq_read_out(c, 0, &h, sizeof(h)) != sizeof(h))
                return VIRTIO_NET_ERR;
        switch (h.class) {
        case VIRTIO_NET_CTRL_RX:
        case VIRTIO_NET_CTRL_MAC:
                /* Filters are the tap's business: every mode is accepted. */
                return VIRTIO_NET_OK;
        case VIRTIO_NET_CTRL_MQ:
                if (!negotiated(n, VIRTIO_NET_F_MQ) || h.cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
                    virtq_read_out(c, sizeof(h), &pairs, sizeof(pairs)) != sizeof(pairs) ||
                    pairs < 1 || pairs > n->opt.queues)
                        return VIRTIO_NET_ERR;
                set_active_pairs(n, pairs);
                return VIRTIO_NET_OK;
        }
        return VIRTIO_NET_ERR;
}

static void ctrl_process(struct virtio_net *n)
{
        struct virtq *vq = &n->dev.vq[ctrlq(n)];
        CHAIN(ch);

        for (;;) {
                int got = virtq_pop(vq, &ch.c);
                uint8_t ack;

                if (got < 0) {
                        virtio_device_broken(&n->dev);
                        break;
                }
                if (got == 0) {
                        /* Re-arm kicks (EVENT_IDX: avail_event) before sleeping. */
                        if (!virtq_enable_kicks(vq))
                                break;
                        continue;
                }
                ack = ctrl_command(n, &ch.c);
                wisp_debug("virtio-net %s: control command: %s", n->opt.ifname,
                           ack == VIRTIO_NET_OK ? "ok" : "refused");
                /* The ack is the chain's last writable byte. */
                if (ch.c.in_len >= 1 && virtq_write_in(&ch.c, ch.c.in_len - 1, &ack, 1) == 1)
                        virtq_push(vq, &ch.c, ch.c.in_len);
                else
                        virtq_push(vq, &ch.c, 0);
        }
        notify_if_wanted(n, ctrlq(n));
}

/* --- device ops ------------------------------------------------------------ */

static uint64_t net_features(struct virtio_device *d)
{
        struct virtio_net *n = to_net(d);
        uint64_t f = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
                     (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |
                     (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_HOST_TSO4) |
                     (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
                     (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_CTRL_VQ) |
                     (1ull << VIRTIO_NET_F_CTRL_RX);

        if (n->opt.queues > 1)
                f |= 1ull << VIRTIO_NET_F_MQ;
        return f;
}

static void net_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
        memcpy(buf, (uint8_t *)&to_net(d)->cfg + off, len);
}

static void net_config_write(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len)
{
        (void)d, (void)off, (void)buf, (void)len; /* the MAC is set through the ctrl queue */
}

static int net_activate(struct virtio_device *d)
{
        struct virtio_net *n = to_net(d);
        int vnet_hdr_sz;

        /* Modern drivers and MRG_RXBUF use the 12-byte header (num_buffers). */
        n->hdr_len = negotiated(n, VIRTIO_F_VERSION_1) || negotiated(n, VIRTIO_NET_F_MRG_RXBUF)
                         ? NET_HDR_MRG
                         : NET_HDR_LEGACY;
        vnet_hdr_sz = (int)n->hdr_len;
        for (unsigned int i = 0; i < n->opt.queues; i++) {
                struct net_pair *p = &n->pair[i];

                if (ioctl(p->tap_fd, TUNSETVNETHDRSZ, &vnet_hdr_sz) < 0 ||
                    ioctl(p->tap_fd, TUNSETOFFLOAD, net_tap_offloads(d->features)) < 0)
                        wisp_warn("tap '%s': cannot set the vnet header or offloads: %s",
                                  n->opt.ifname, strerror(errno));
                p->pkt_len = 0;
        }
        set_active_pairs(n, 1);
        return 0;
}

static void net_reset(struct virtio_device *d)
{
        struct virtio_net *n = to_net(d);

        for (unsigned int i = 0; i < n->opt.queues; i++) {
                tap_watch(&n->pair[i], false);
                n->pair[i].pkt_len = 0;
                ioctl(n->pair[i].tap_fd, TUNSETOFFLOAD, 0);
        }
}

static void net_notify(struct virtio_device *d, unsigned int q)
{
        struct virtio_net *n = to_net(d);

        if (q == ctrlq(n))
                ctrl_process(n);
        else if (q % 2)
                tx_process(&n->pair[q / 2]);
        else if (n->pair[q / 2].attached)
                rx_process(&n->pair[q / 2]); /* buffers arrived: resume the tap */
}

static const struct virtio_device_ops net_ops = {
    .features = net_features,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .activate = net_activate,
    .reset = net_reset,
    .notify = net_notify,
};

int virtio_net_attach(struct virtio_net *n, const struct virtio_env *env, struct pci_bus *bus)
{
        struct virtio_device *d = &n->dev;
        int r;

        d->ops = &net_ops;
        d->id = VIRTIO_ID_NET;
        d->num_queues = (uint16_t)(2 * n->opt.queues + 1);
        d->queue_max = NET_QUEUE_SIZE;
        d->max_segs = NET_MAX_SEGS;
        d->max_len = NET_HDR_MRG + NET_MAX_FRAME;
        d->config_size = sizeof(n->cfg);
        d->priv = n;
        n->loop = env->loop;
        memcpy(n->cfg.mac, n->opt.mac, sizeof(n->cfg.mac));
        n->cfg.status = VIRTIO_NET_S_LINK_UP;
        n->cfg.max_virtqueue_pairs = (uint16_t)n->opt.queues;
        for (unsigned int i = 0; i < n->opt.queues; i++) {
                struct net_pair *p = &n->pair[i];

                p->net = n;
                p->index = i;
                p->attached = true; /* as opened: every tap queue attached */
                p->rx_chains = calloc(NET_MAX_MRG_BUFS, NET_CHAIN_BYTES);
                if (!p->rx_chains)
                        return -ENOMEM;
                p->tap_src = (struct event_source){.fd = p->tap_fd, .fn = on_tap, .opaque = p};
                /* Registered but not armed until the driver is ready. */
                r = event_add(env->loop, &p->tap_src, 0);
                if (r < 0)
                        return r;
        }
        r = virtio_pci_init(&n->vp, d, n->opt.transport, env);
        if (r == 0) {
                n->vp.pci.name = "virtio-net";
                r = virtio_pci_plug(&n->vp, bus);
        }
        return r;
}

void virtio_net_close(struct virtio_net *n)
{
        virtio_pci_destroy(&n->vp);
        for (unsigned int i = 0; i < NET_MAX_PAIRS; i++) {
                if (n->pair[i].tap_fd >= 0)
                        close(n->pair[i].tap_fd);
                free(n->pair[i].pkt);
                free(n->pair[i].rx_chains);
                n->pair[i].tap_fd = -1;
                n->pair[i].pkt = NULL;
                n->pair[i].rx_chains = NULL;
        }
}
