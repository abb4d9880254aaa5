/* virtio-blk device model: features, config, and requests served through io_uring. */
#include "devices/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/virtio_ids.h>

#include "vmm/log.h"

#define BLK_SIZE_MAX (1u << 20)                   /* bytes per segment */
#define BLK_MAX_REQS 1024                         /* request slots per disk: bounds memory */
#define BLK_MAX_LEN (BLK_MAX_SEGS * BLK_SIZE_MAX) /* bytes per chain */

struct blk_req {
        struct blk_req *next_free;
        uint16_t queue;
        struct blk_plan plan;
        struct virtq_chain chain; /* BLK_MAX_SEGS segments follow */
};

static struct virtio_blk *to_blk(struct virtio_device *d)
{
        return d->priv;
}

/* --- request slots --------------------------------------------------------- */

static struct blk_req *req_get(struct virtio_blk *b)
{
        struct blk_req *r = b->free_reqs;

        if (r) {
                b->free_reqs = r->next_free;
                return r;
        }
        if (b->nreqs >= BLK_MAX_REQS)
                return NULL; /* a flood waits in the ring, not in wisp's memory */
        r = malloc(sizeof(*r) + BLK_MAX_SEGS * sizeof(struct virtq_seg));
        if (r)
                b->nreqs++;
        return r;
}

static void req_put(struct virtio_blk *b, struct blk_req *r)
{
        r->next_free = b->free_reqs;
        b->free_reqs = r;
}

/* --- completion ------------------------------------------------------------ */

static void complete(struct virtio_blk *b, struct blk_req *r, uint8_t status)
{
        struct virtq *vq = &b->dev.vq[r->queue];

        if (!b->dev.vq_ready || !b->dev.vq_ready[r->queue]) {
                req_put(b, r); /* the queue is gone (reset): nobody to tell */
                return;
        }
        b->requests++;
        if (status != VIRTIO_BLK_S_OK)
                b->ioerrs++;
        if (r->plan.status_byte) {
                *r->plan.status_byte = status;
                virtq_push(vq, &r->chain,
                           status == VIRTIO_BLK_S_OK ? blk_plan_written(&r->plan) : 1);
        } else {
                virtq_push(vq, &r->chain, 0); /* no status byte: returned unanswered */
        }
        b->pushed[r->queue] = true;
        req_put(b, r);
}

static void notify_pushed(struct virtio_blk *b)
{
        for (unsigned int q = 0; q < b->dev.num_queues; q++) {
                if (!b->pushed[q])
                        continue;
                b->pushed[q] = false;
                if (virtq_should_notify(&b->dev.vq[q]))
                        b->dev.irq.queue(b->dev.irq.ctx, q);
        }
}

static uint8_t status_of(const struct blk_req *r, int res)
{
        if (res == -EOPNOTSUPP && (r->plan.op == BLK_OP_DISCARD))
                return VIRTIO_BLK_S_UNSUPP;
        if (res < 0)
                return VIRTIO_BLK_S_IOERR;
        /* A short transfer (the image shrank, the disk filled) is an error. */
        if ((r->plan.op == BLK_OP_READ || r->plan.op == BLK_OP_WRITE) &&
            (uint64_t)res != r->plan.len)
                return VIRTIO_BLK_S_IOERR;
        return VIRTIO_BLK_S_OK;
}

/*
 * After a failed fdatasync the kernel may have dropped the dirty pages it could not write
 * and reports the error once: a later fdatasync succeeds without them. So one failed
 * FLUSH fails every later one (as QEMU does), and the guest is never told its lost
 * writes are safe.
 */
static bool flush_failed(const struct virtio_blk *b, const struct blk_req *r)
{
        return r->plan.op == BLK_OP_FLUSH && b->flush_failed;
}

/* Reaps completions. deliver=false (reset) drops them: the queues are going away. */
static void reap(struct virtio_blk *b, bool deliver)
{
        struct io_uring_cqe *cqe;

        while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
                struct blk_req *r = io_uring_cqe_get_data(cqe);
                int res = cqe->res;

                io_uring_cqe_seen(&b->ring, cqe);
                if (!r)
                        continue;
                b->inflight--;
                if (r->plan.op == BLK_OP_FLUSH && res < 0 && !b->flush_failed) {
                        wisp_warn("disk '%s': flush failed (%s): writes before it may be lost; "
                                  "every later flush fails too",
                                  b->opt.path, strerror(-res));
                        b->flush_failed = true;
                }
                if (deliver)
                        complete(b, r, flush_failed(b, r) ? VIRTIO_BLK_S_IOERR : status_of(r, res));
                else
                        req_put(b, r);
        }
}

/* --- submission ------------------------------------------------------------ */

static bool aligned_for_direct(const struct blk_plan *p)
{
        if (p->offset % BLK_SECTOR)
                return false;
        for (unsigned int i = 0; i < p->niov; i++)
                if ((uintptr_t)p->iov[i].iov_base % BLK_SECTOR || p->iov[i].iov_len % BLK_SECTOR)
                        return false;
        return true;
}

static struct io_uring_sqe *sqe_get(struct virtio_blk *b)
{
        struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

        if (!sqe) {
                io_uring_submit(&b->ring); /* the SQ is full: push it to the kernel */
                sqe = io_uring_get_sqe(&b->ring);
        }
        return sqe;
}

/* Starts the host I/O for a planned request, or completes it at once. */
static void submit(struct virtio_blk *b, struct blk_req *r)
{
        struct blk_plan *p = &r->plan;
        struct io_uring_sqe *sqe;
        int fd = b->fd;

        if (p->op == BLK_OP_NONE) {
                complete(b, r, p->status);
                return;
        }
        if (p->op == BLK_OP_GET_ID) {
                char id[VIRTIO_BLK_ID_BYTES] = {0};
                size_t off = 0;

                memcpy(id, b->opt.serial, strnlen(b->opt.serial, sizeof(id)));
                for (unsigned int i = 0; i < p->niov; i++) {
                        memcpy(p->iov[i].iov_base, id + off, p->iov[i].iov_len);
                        off += p->iov[i].iov_len;
                }
                complete(b, r, VIRTIO_BLK_S_OK);
                return;
        }
        sqe = sqe_get(b);
        if (!sqe) {
                complete(b, r, VIRTIO_BLK_S_IOERR);
                return;
        }
        if (b->direct_fd >= 0 && aligned_for_direct(p))
                fd = b->direct_fd;
        switch (p->op) {
        case BLK_OP_READ:
                io_uring_prep_readv(sqe, fd, p->iov, p->niov, p->offset);
                break;
        case BLK_OP_WRITE:
                io_uring_prep_writev(sqe, fd, p->iov, p->niov, p->offset);
                break;
        case BLK_OP_FLUSH:
                /* DRAIN: the flush starts only after every earlier request
                 * completed, and completes after fdatasync returned. */
                io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
                sqe->flags |= IOSQE_IO_DRAIN;
                break;
        case BLK_OP_DISCARD:
                io_uring_prep_fallocate(sqe, b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                        p->offset, p->len);
                break;
        case BLK_OP_WRITE_ZEROES:
                io_uring_prep_fallocate(sqe, b->fd,
                                        (p->unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) |
                                            FALLOC_FL_KEEP_SIZE,
                                        p->offset, p->len);
                break;
        default:
                break;
        }
        io_uring_sqe_set_data(sqe, r);
        b->inflight++;
}

/* Pops and starts requests until the ring is empty or the slots run out. */
static void process_queue(struct virtio_blk *b, unsigned int q)
{
        struct virtq *vq = &b->dev.vq[q];

        b->blocked[q] = false;
        for (;;) {
                struct blk_req *r = req_get(b);
                int got;

                if (!r) {
                        b->blocked[q] = true;
                        break;
                }
                got = virtq_pop(vq, &r->chain);
                if (got <= 0) {
                        req_put(b, r);
                        if (got < 0) {
                                virtio_device_broken(&b->dev);
                                break;
                        }
                        if (!virtq_enable_kicks(vq))
                                break;
                        continue; /* buffers arrived while kicks were off */
                }
                r->queue = (uint16_t)q;
                blk_plan_request(&r->chain, &b->lim, &r->plan);
                submit(b, r);
        }
        if (vq->stats.rejected)
                b->pushed[q] = true; /* rejected chains went back with length 0 */
        io_uring_submit(&b->ring);
        notify_pushed(b);
}

/* io_uring signalled completions (I/O thread). */
static void on_ring(void *opaque, uint32_t events)
{
        struct virtio_blk *b = opaque;
        uint64_t v;

        (void)events;
        (void)!read(b->ring_efd, &v, sizeof(v));
        pthread_mutex_lock(&b->dev.lock);
        reap(b, true);
        notify_pushed(b);
        /* The driver refills as completions come: take what it added since
         * the last kick now rather than waiting for the next kick, which
         * keeps the disk's queue full. Costs one read of avail->idx. */
        for (unsigned int q = 0; q < b->dev.num_queues; q++)
                if (b->dev.vq_ready[q])
                        process_queue(b, q);
        pthread_mutex_unlock(&b->dev.lock);
}

/* --- device ops ------------------------------------------------------------ */

static uint64_t blk_features(struct virtio_device *d)
{
        struct virtio_blk *b = to_blk(d);
        uint64_t f = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
                     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
                     (1ull << VIRTIO_BLK_F_MQ);

        if (b->opt.ro)
                f |= 1ull << VIRTIO_BLK_F_RO;
        else
                f |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
        return f;
}

static void blk_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
        memcpy(buf, (uint8_t *)&to_blk(d)->cfg + off, len);
}

static void blk_config_write(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len)
{
        (void)d, (void)off, (void)buf, (void)len; /* nothing is writable */
}

static int blk_activate(struct virtio_device *d)
{
        (void)d;
        return 0;
}

static void blk_reset(struct virtio_device *d)
{
        struct virtio_blk *b = to_blk(d);

        /* Requests in flight still write guest memory: wait for every one. */
        while (b->inflight) {
                struct io_uring_cqe *cqe;

                if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
                        break;
                reap(b, false);
        }
        for (unsigned int q = 0; q < d->num_queues; q++)
                b->blocked[q] = b->pushed[q] = false;
}

static void blk_notify(struct virtio_device *d, unsigned int q)
{
        process_queue(to_blk(d), q);
}

static const struct virtio_device_ops blk_ops = {
    .features = blk_features,
    .config_read = blk_config_read,
    .config_write = blk_config_write,
    .activate = blk_activate,
    .reset = blk_reset,
    .notify = blk_notify,
};

static void fill_config(struct virtio_blk *b)
{
        struct virtio_blk_config *c = &b->cfg;

        memset(c, 0, sizeof(*c));
        c->capacity = b->lim.capacity;
        c->size_max = BLK_SIZE_MAX;
        c->seg_max = BLK_MAX_SEGS - 2;
        c->blk_size = b->blk_size;
        c->num_queues = b->dev.num_queues;
        c->max_discard_sectors = b->lim.max_discard_sectors;
        c->max_discard_seg = 1;
        c->discard_sector_alignment = b->blk_size / BLK_SECTOR;
        c->max_write_zeroes_sectors = b->lim.max_write_zeroes_sectors;
        c->max_write_zeroes_seg = 1;
        c->write_zeroes_may_unmap = 1;
}

int virtio_blk_attach(struct virtio_blk *b, const struct virtio_env *env, struct pci_bus *bus)
{
        struct virtio_device *d = &b->dev;
        int r;

        d->ops = &blk_ops;
        d->id = VIRTIO_ID_BLOCK;
        d->queue_max = BLK_QUEUE_SIZE;
        d->max_segs = BLK_MAX_SEGS;
        d->max_len = BLK_MAX_LEN;
        d->config_size = sizeof(b->cfg);
        d->priv = b;
        fill_config(b);
        b->blocked = calloc(d->num_queues, sizeof(*b->blocked));
        b->pushed = calloc(d->num_queues, sizeof(*b->pushed));
        b->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!b->blocked || !b->pushed || b->ring_efd < 0)
                return -ENOMEM;
        r = io_uring_register_eventfd(&b->ring, b->ring_efd);
        if (r < 0)
                return r;
        b->ring_src = (struct event_source){.fd = b->ring_efd, .fn = on_ring, .opaque = b};
        r = event_add(env->loop, &b->ring_src, EPOLLIN);
        if (r == 0)
                r = virtio_pci_init(&b->vp, d, b->opt.transport, env);
        if (r == 0) {
                b->vp.pci.name = "virtio-blk";
                r = virtio_pci_plug(&b->vp, bus);
        }
        return r;
}

void virtio_blk_close(struct virtio_blk *b)
{
        if (b->ring_ok) {
                /* Finish what is in flight and tell the guest, as a clean
                 * stop should (the vCPUs are gone by now). */
                while (b->inflight) {
                        struct io_uring_cqe *cqe;

                        if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
                                break;
                        reap(b, true);
                }
                io_uring_queue_exit(&b->ring);
        }
        if (b->fd >= 0 && !b->opt.ro && fdatasync(b->fd) < 0)
                wisp_warn("disk '%s': flush at exit failed: %s", b->opt.path, strerror(errno));
        virtio_pci_destroy(&b->vp);
        while (b->free_reqs) {
                struct blk_req *r = b->free_reqs;

                b->free_reqs = r->next_free;
                free(r);
        }
        free(b->blocked);
        free(b->pushed);
        if (b->ring_efd >= 0)
                close(b->ring_efd);
        if (b->direct_fd >= 0)
                close(b->direct_fd);
        if (b->fd >= 0)
                close(b->fd);
}
