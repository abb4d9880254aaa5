/* The interface between a virtio device model and the core: ops one way, interrupts the other. */
#ifndef WISP_VIRTIO_DEVICE_H
#define WISP_VIRTIO_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/guest_mem.h"
#include "virtio/queue.h"

struct virtio_device;

/* The only way a device reaches the driver. Any thread. */
struct virtio_irq {
        void (*queue)(void *ctx, unsigned int q); /* used buffers on queue q */
        void (*config)(void *ctx);                /* configuration changed */
        void *ctx;
};

struct virtio_device_ops {
        /* Device-specific feature bits. The core adds VERSION_1 (modern),
         * RING_EVENT_IDX and RING_INDIRECT_DESC itself. */
        uint64_t (*features)(struct virtio_device *d);
        /* Config space; the core has checked off + len <= config_size. */
        void (*config_read)(struct virtio_device *d, uint32_t off, void *buf, uint32_t len);
        void (*config_write)(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len);
        /* DRIVER_OK: d->vq[i] is usable where d->vq_ready[i]. 0, or -errno
         * for NEEDS_RESET. */
        int (*activate)(struct virtio_device *d);
        /* Reset: finish or cancel every request in flight before returning;
         * the queues are forgotten afterwards. */
        void (*reset)(struct virtio_device *d);
        /* Queue q was kicked. Runs on the I/O thread, never on a vCPU. */
        void (*notify)(struct virtio_device *d, unsigned int q);
};

struct virtio_device {
        /* Serialises the ops (the core calls them with it held) and the
         * device's own completion handlers (which take it themselves). */
        pthread_mutex_t lock;
        const struct virtio_device_ops *ops;
        uint32_t id; /* VIRTIO_ID_* */
        uint16_t num_queues;
        uint16_t queue_max;   /* largest queue size offered */
        uint16_t max_segs;    /* longest chain the device accepts */
        uint32_t max_len;     /* most bytes in one chain */
        uint32_t config_size; /* bytes of device config space */
        void *priv;           /* the device model's own state */

        /* Owned by the core, valid from activate until reset: */
        const struct guest_mem *mem;
        uint64_t features; /* negotiated */
        struct virtq *vq;  /* num_queues entries */
        bool *vq_ready;
        struct virtio_irq irq;
        /* Set by the device when the driver broke the rules (e.g. a ring the
         * queue code declared broken): the core reports NEEDS_RESET. */
        void (*needs_reset)(struct virtio_device *d);
        /* Set by the core: queue q has more work than one turn should take;
         * the core raises its kick again, so the device is called back after
         * the I/O thread has served its other fds. */
        void (*requeue)(struct virtio_device *d, unsigned int q);
        void *core; /* the transport, for needs_reset and requeue */
};

/* The device model reports that the driver misbehaved: NEEDS_RESET + config interrupt. */
static inline void virtio_device_broken(struct virtio_device *d)
{
        if (d->needs_reset)
                d->needs_reset(d);
}

/* The device stops after a batch on queue q and asks to be called again (fairness). */
static inline void virtio_device_requeue(struct virtio_device *d, unsigned int q)
{
        if (d->requeue)
                d->requeue(d, q);
}

#endif
