/* Test fixture for test_virtio_console_*: the device with port 0 on a pipe and named ports on
 * sockets, a modern driver, and the multiport control protocol as the driver sees it. */
#ifndef WISP_TESTS_VIRTIO_CONSOLE_FIXTURE_H
#define WISP_TESTS_VIRTIO_CONSOLE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ring.h>

#include "devices/virtio_console.h"
#include "vpci_harness.h"
#include "vring_driver.h"

#define RAM_SIZE (16ull << 20)
#define QSZ VCON_QUEUE_SIZE
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x4000ull /* 128 entries: 2 KiB table, avail, used */
#define HEAP_BASE 0x400000ull
#define NAMED 2                     /* named ports besides port 0 */
#define MAX_Q (2 * (NAMED + 1) + 2) /* port 0, control, then 2 per named port */
#define CRX 2                       /* control: device -> driver */
#define CTX 3                       /* control: driver -> device */
#define RXQ(id) ((id) == 0 ? 0u : 2u * (id) + 2)
#define TXQ(id) (RXQ(id) + 1)
#define MAX_SEGS 16
#define CTRL_BUF 128
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define F(bit) (1ull << (bit))
#define MP F(VIRTIO_CONSOLE_F_MULTIPORT)
#define SIZE F(VIRTIO_CONSOLE_F_SIZE)
/* Everything the device offers but EVENT_IDX: then every batch interrupts. */
#define WANT (~F(VIRTIO_RING_F_EVENT_IDX))
#define ANY 0x10000 /* expect_ctrl: any value */
#define COLS 80
#define ROWS 25

/* The fixture's state: the device, its function as probed, the host ends, the driver's rings. */
extern struct vph h;
extern struct virtio_console con;
extern struct vph_fn f;
extern int client[NAMED + 1]; /* by port id: the test's end of each port's socket */
extern struct vcon_port_options opts[NAMED];
extern struct vring_driver drv[MAX_Q];
extern uint64_t head_gpa[MAX_Q][QSZ]; /* where each posted chain's bytes lie */
extern unsigned int nq;
extern unsigned int room_calls; /* how many times the device offered room for input */

/* TestSuite(vcon, .init = setup, .fini = teardown) */
void setup(void);
void teardown(void);

/* Opens port 0 on the pipe plus named ports "alpha", "beta", attaches and probes. */
void attach(void);
/* Queue q's ring (which: 0 descriptors, 1 avail, 2 used) in guest RAM. */
uint64_t ring(unsigned int q, unsigned int which);
/* Negotiates want, MSI-X, sets up and enables the first count queues, DRIVER_OK. */
void driver_up_n(uint64_t want, unsigned int count);
/* driver_up_n with every queue under MULTIPORT, port 0's two without. */
void driver_up(uint64_t want);
/* The device status register. */
uint8_t status(void);

/* A host pointer to guest RAM. */
void *gptr(uint64_t gpa, uint64_t len);
/* len bytes (src NULL: 0xcc) posted on q as one chain of seg-byte descriptors (0: one), all
 * readable or all writable; unpublished. Returns the head. */
uint16_t post_seg(unsigned int q, const void *src, uint32_t len, uint32_t seg, bool write);
uint16_t post(unsigned int q, const void *src, uint32_t len, bool write);
/* n writable buffers of len bytes on queue q, published (no kick). */
void post_rx(unsigned int q, unsigned int n, uint32_t len);
/* Publishes queue q and notifies it. */
void kick(unsigned int q);
/* Used entries of queue q not read yet. */
unsigned int pending_used(unsigned int q);
/* Runs the event loop until it has nothing left to do (a bounded number of rounds). */
void settle(void);
/* Runs the event loop until queue q has n used entries to read (5 s at most). */
void wait_used(unsigned int q, unsigned int n);
/* The next used entry of queue q must be (head, len). */
void used(unsigned int q, uint16_t head, uint32_t len);
/* Concatenates what the device wrote into every used buffer of queue q. Returns the bytes. */
size_t gather(unsigned int q, uint8_t *buf, size_t cap);
/* A byte pattern from seed. */
void fill(uint8_t *p, size_t len, uint8_t seed);

/* Port 0's output so far (the pipe, not waiting); out_empty: there is none. */
size_t out_read(void *buf, size_t cap);
void out_empty(void);
/* A client connects to port id's socket, or closes, and the event loop takes note. */
void connect_client(unsigned int id);
void close_client(unsigned int id);
void client_send(unsigned int id, const void *buf, size_t len);
/* What the client can read now (0: nothing). */
size_t client_recv(unsigned int id, void *buf, size_t cap);
/* Bytes the device has not read yet from its end of port id's socket. */
int unread(unsigned int id);

struct cmsg {
        uint32_t id;
        uint16_t event, value;
        uint8_t extra[CTRL_BUF];
        uint32_t extra_len;
};

/* n control RX buffers, published (no kick). */
void ctrl_buffers(unsigned int n);
/* Posts raw bytes, or a message, on the control TX queue (unkicked). Returns the head. */
uint16_t ctrl_post_raw(const void *msg, uint32_t len);
uint16_t ctrl_post(uint32_t id, uint16_t event, uint16_t value);
/* The driver sends one control message; the device returns it having written nothing. */
void ctrl_send(uint32_t id, uint16_t event, uint16_t value);
/* The next control message the device sent, if any. */
bool ctrl_next(struct cmsg *m);
/* The next control message the driver receives must be this one (value ANY: not checked). */
struct cmsg expect_ctrl(uint32_t id, uint16_t event, uint32_t value);
/* No control message comes once the event loop settles. */
void ctrl_none(void);
/* The next control message is RESIZE to cols x rows. */
void expect_resize(uint16_t cols, uint16_t rows);
/* PORT_ADD for every port, in order. */
void expect_port_adds(void);
/* virtcons_probe with MULTIPORT: every queue, control RX buffers, then DEVICE_READY. */
void multiport_ready(uint64_t want);
/* multiport_ready, then every port opened by the driver. */
void multiport_up(uint64_t want);
/* Config interrupts since the last call (MSI-X vector 0). */
uint64_t config_irqs(void);
/* A 16-bit field of the device config. */
uint16_t devcfg16(size_t off);

#endif
