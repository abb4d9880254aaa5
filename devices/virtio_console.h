/* virtio-console: port 0 is the guest console (hvc0), named ports reach host Unix sockets. */
#ifndef WISP_DEVICES_VIRTIO_CONSOLE_H
#define WISP_DEVICES_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_console.h>

#include "virtio/pci.h"

#define VCON_MAX_PORTS 8 /* named ports, besides port 0 */
#define VCON_QUEUE_SIZE 128
#define VCON_NAME_MAX 64
#define VCON_PENDING                                                                               \
        65536 /* bytes buffered per direction and port (a guest write is <= 32 KiB)                \
               */
#define VCON_CTRL_BACKLOG 64

/* --port NAME=unix:PATH */
struct vcon_port_options {
        char name[VCON_NAME_MAX];
        char path[108]; /* sun_path */
};

/* Parses one --port value. Pure. 0, or -EINVAL with a message. */
int vcon_port_parse(const char *spec, struct vcon_port_options *o, char *err, size_t errlen);

struct virtio_console;

#define VCON_MAX_SEGS 16

struct vcon_port {
        struct virtio_console *con;
        unsigned int id;
        struct vcon_port_options opt; /* named ports */
        int listen_fd, conn_fd;
        struct event_source listen_src, conn_src;
        bool conn_watched;
        bool conn_parked; /* hung up while the guest had no room: out of the epoll set */
        bool guest_open;
        uint8_t in[VCON_PENDING]; /* host -> guest bytes waiting for RX buffers */
        size_t in_len;
        uint8_t out[VCON_PENDING]; /* guest -> host bytes the socket did not take yet */
        size_t out_len;
        /* A TX chain being copied out in pieces (larger than what out can take). */
        union {
                struct virtq_chain c;
                uint8_t raw[sizeof(struct virtq_chain) + VCON_MAX_SEGS * sizeof(struct virtq_seg)];
        } tx;
        uint32_t tx_off;
        bool tx_busy;
};

struct vcon_ctrl_msg {
        struct virtio_console_control hdr;
        uint8_t extra[VCON_NAME_MAX]; /* a port name or a resize */
        uint32_t extra_len;
};

struct virtio_console {
        struct virtio_device dev;
        struct virtio_pci vp;
        struct virtio_console_config cfg;
        struct event_loop *loop;
        unsigned int nports; /* including port 0 */
        struct vcon_port port[1 + VCON_MAX_PORTS];
        int out_fd; /* port 0's output: wisp's stdout, or -1 when port 0 is not the console */
        void (*input_room)(void *ctx); /* port 0 takes input again */
        void *input_room_ctx;
        bool ready;                                      /* the driver sent DEVICE_READY */
        struct vcon_ctrl_msg backlog[VCON_CTRL_BACKLOG]; /* control messages waiting for buffers */
        unsigned int backlog_head, backlog_len;
        unsigned long dropped; /* output for a closed port, control messages over the backlog */
};

/*
 * Host side, before KVM: creates the listening Unix sockets of the named
 * ports. out_fd receives port 0's output (-1: discarded). Errors name the
 * socket path.
 */
int virtio_console_open(struct virtio_console *c, const struct vcon_port_options *ports,
                        unsigned int nports, int out_fd, char *err, size_t errlen);

int virtio_console_attach(struct virtio_console *c, const struct virtio_env *env,
                          struct pci_bus *bus);

/* Typed input for port 0 (a console_sink push): returns the bytes taken. */
size_t virtio_console_input(void *ctx, const uint8_t *buf, size_t len);

/* The terminal changed size (SIGWINCH): config update and RESIZE for port 0. */
void virtio_console_resize(struct virtio_console *c, uint16_t cols, uint16_t rows);

void virtio_console_close(struct virtio_console *c);

#endif
