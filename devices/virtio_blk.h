/* virtio-blk: a raw image or block device served through io_uring. */
#ifndef WISP_DEVICES_VIRTIO_BLK_H
#define WISP_DEVICES_VIRTIO_BLK_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_blk.h>

#include "devices/blk_req.h"
#include "virtio/pci.h"

#define BLK_QUEUE_SIZE 256
#define BLK_SERIAL_MAX VIRTIO_BLK_ID_BYTES

/* -d PATH[,ro][,serial=S][,transport=T][,cache=writeback|none] */
struct blk_options {
        char path[4096];
        bool ro;
        char serial[BLK_SERIAL_MAX + 1];
        enum virtio_transport transport;
        bool direct; /* cache=none: O_DIRECT when the guest's buffers allow it */
};

/* Parses one -d value. Pure. 0, or -EINVAL with a message naming the bad part. */
int blk_options_parse(const char *spec, struct blk_options *o, char *err, size_t errlen);

struct blk_req;

struct virtio_blk {
        struct virtio_device dev;
        struct virtio_pci vp;
        struct blk_options opt;
        int fd, direct_fd; /* direct_fd: O_DIRECT twin of fd, or -1 */
        struct blk_limits lim;
        uint32_t blk_size;
        struct virtio_blk_config cfg;
        struct io_uring ring;
        bool ring_ok;
        int ring_efd; /* signalled by io_uring on completions */
        struct event_source ring_src;
        struct blk_req *free_reqs;
        unsigned int nreqs, inflight;
        bool *blocked; /* per queue: popping stopped for lack of request slots */
        bool *pushed;  /* per queue: used entries added since the last notify check */
        unsigned long requests, ioerrs; /* completed; with an error status */
        bool flush_failed; /* a FLUSH failed: every later one fails (see virtio_blk.c) */
};

/*
 * Host side, before KVM exists: opens the image (read-write unless ro),
 * takes an advisory lock (exclusive, or shared for ro), reads its size
 * (a block device's too) and sets up io_uring. Errors name the file.
 */
int virtio_blk_open(struct virtio_blk *b, const struct blk_options *o, unsigned int nqueues,
                    char *err, size_t errlen);

/* Builds the virtio device and its PCI function and plugs it into bus. */
int virtio_blk_attach(struct virtio_blk *b, const struct virtio_env *env, struct pci_bus *bus);

/*
 * At exit: waits for every request in flight, completes it to the guest,
 * flushes the file (fdatasync) and closes everything.
 */
void virtio_blk_close(struct virtio_blk *b);

#endif
