/* The test guest's virtio-net client (net.c) and the frames it trades with the tap peer
 * (netframe.c). */
#ifndef GUEST_NET_H
#define GUEST_NET_H

#include "virtio.h"

/* --- net.c: virtio-net client ----------------------------------------------------------- */

#define NET_MAX_PAIRS 8
#define NET_MRG_MAX 256      /* buffers one merged frame may take (a queue of 256) */
#define NET_MAX_FRAME 65550u /* largest frame (GSO included) a device must take, header aside */
#define NET_BIG_BUF 65562u   /* RX buffer without MRG_RXBUF but with GUEST_TSO (5.1.6.3.1) */
#define NET_TX_SLOT 2048u    /* per TX head: header and a frame of up to 2036 bytes */
#define NET_TIMEOUT 0x100    /* net_ctrl: no used entry in time */
#define NET_NO_ACK 0x200     /* net_ctrl: returned with used length 0 */

/* net: mq=N net.csum= net.mrg= net.tso= net.ctrl= net.rxbuf=B net.rxsplit= net.prefill= nic=K */
struct net_opts {
        struct virtio_opts v;
        u16 pairs; /* queue pairs to use (mq=, default 1) */
        bool csum, mrg, tso, ctrl;
        bool rxsplit; /* RX chains: header and data in separate descriptors */
        bool prefill; /* post RX buffers at set-up (default 1) */
        u32 rxbuf;    /* bytes per RX buffer with MRG_RXBUF or without GSO */
        u32 nic;      /* which virtio-net function */
};
void net_opts_parse(const char *cmdline, struct net_opts *o);

struct net_rxq {
        struct vq q;
        u8 *mem; /* nslots x buflen */
        u32 buflen;
        u16 nslots;
        u16 *slot_of; /* per head: its slot */
        u16 posted;
        u32 frames, merged, zero_len, partial;
};

struct net_txq {
        struct vq q;
        u8 *mem; /* per head: NET_TX_SLOT bytes */
        u32 frames;
};

struct net {
        struct vdev v;
        struct net_opts o;
        u8 mac[6];
        u16 link, max_pairs, mtu;
        u32 hdr_len; /* 12 with VERSION_1 or MRG_RXBUF, else 10 */
        bool mrg, big;
        u16 npairs; /* queue pairs set up */
        u16 active; /* pairs the device may use (VQ_PAIRS_SET) */
        u16 ctrl_index;
        struct net_rxq rx[NET_MAX_PAIRS];
        struct net_txq tx[NET_MAX_PAIRS];
        struct vq cvq;
        bool have_cvq;
        u8 *ctrl_mem;
        u8 idt_base;
        u32 nb_bad;      /* frames whose num_buffers broke 5.1.6.3.2 */
        u32 rx_inactive; /* frames on a receive queue past the active pairs (5.1.6.5.5) */
        u16 nb_bad_val;
        /* Hostile scenarios: called after the queues are set up, before DRIVER_OK. */
        void (*hook_pre_driver_ok)(struct net *n);
};

/* One received frame: the header, and its bytes in up to NET_MRG_MAX buffers. */
struct net_frame {
        u16 pair, nbufs;
        struct virtio_net_hdr hdr; /* num_buffers only with a 12-byte header */
        u32 len;                   /* frame bytes, header excluded */
        u8 *piece[NET_MRG_MAX];
        u32 plen[NET_MRG_MAX];
        u16 slot[NET_MRG_MAX];
};

static inline bool net_has(const struct net *n, u32 bit)
{
        return n->v.features & (1UL << bit);
}

/* Attach, negotiate, config, queues (pairs, control), RX buffers, DRIVER_OK. ST_* on failure. */
void net_open(struct net *n, const struct net_opts *o, u8 idt_base);
/* RX: post slot s of pair p (no kick); post every free slot and kick. */
void net_rx_post(struct net *n, u16 p, u16 slot);
void net_rx_fill(struct net *n, u16 p);
/* Pops one frame from pair p (false: none). A buffer back with length 0 is re-posted, counted. */
bool net_rx_pop(struct net *n, u16 p, struct net_frame *f);
/* Gives the frame's buffers back to the device and kicks if it asks. */
void net_rx_release(struct net *n, struct net_frame *f);
/* Waits up to ms for a frame on any of pairs [0, upto): false on timeout. Frames on pairs
 * past n->active are taken too, and counted in rx_inactive. */
bool net_rx_wait(struct net *n, u16 upto, struct net_frame *f, u32 ms);
/* Copies len bytes at frame offset off out of the pieces; returns what was there. */
u32 net_frame_read(const struct net_frame *f, u32 off, void *dst, u32 len);
/* TX: memory for header and frame at the next head of pair p (NULL: queue full after reclaim). */
u8 *net_tx_slot(struct net *n, u16 p);
/* Sends the slot's header + len frame bytes in ndesc (1..4) descriptors, indirect if asked. */
void net_tx_send(struct net *n, u16 p, u32 len, u32 ndesc, bool indirect);
/* Any readable chain (the caller's memory); kicked. Head or -1. */
int net_tx_chain(struct net *n, u16 p, const struct vbuf *b, u32 nb, bool indirect);
/* Takes back used TX chains (their used length must be 0). */
void net_tx_reclaim(struct net *n, u16 p);
/* Waits until every TX chain of pair p is back; false on timeout. */
bool net_tx_drain(struct net *n, u16 p, u32 ms);
/* One control command: VIRTIO_NET_OK / _ERR, NET_NO_ACK or NET_TIMEOUT. */
u32 net_ctrl(struct net *n, u8 class, u8 cmd, const void *data, u32 len);
const char *net_ack_name(u32 ack);

/* --- netframe.c: frames for the tap peer (tests/integration/tappeer.py) ---------------- */

#define NET_GUEST_IP 0x0a630002u /* 10.99.0.2 */
#define NET_PEER_IP 0x0a630001u  /* 10.99.0.1 */
#define NET_PEER_PORT 7777
#define NET_GUEST_PORT 40000
#define WIRE_MAGIC 0x54454e57u /* "WNET" */
#define ETH_HLEN 14
#define IP_HLEN 20
#define UDP_HLEN 8
#define TCP_HLEN 20
#define WIRE_OFF (ETH_HLEN + IP_HLEN + UDP_HLEN) /* the wire header in a UDP frame */
#define WIRE_PAYLOAD (WIRE_OFF + sizeof(struct wire))
#define TCP_PAYLOAD (ETH_HLEN + IP_HLEN + TCP_HLEN)

/*
 * The message in every UDP frame between the guest and the peer; the payload follows.
 * HELLO -> HELLO_ACK. ECHO -> ECHO_REPLY with the same seq, args and payload, flags bit 0 if
 * the peer found its CRC and pattern right. SEND: arg0 DATA frames of arg1 + i * arg2 payload
 * bytes (arg3 bit 0: each to its own port, a flow each). TCP: a TCP frame of arg0 payload
 * bytes (seed arg2), a GSO one of gso_size arg1 if non-zero, its checksum partial if arg3 bit
 * 0. TCP_RESULT: the peer's verdict on a TCP frame of ours: arg0 payload bytes, arg1 segments,
 * arg2 TCPRES_* flags, arg3 gso_size. REPORT -> REPORT_REPLY: arg0 good frames, arg1 bad CRC,
 * arg2 POISON frames (ones the device should have dropped), arg3 others. QUIT -> BYE, the peer
 * exits. BENCH_END -> BENCH_COUNT: arg0 bench frames (ethertype 0x88b5) seen so far,
 * arg1 KiB, arg2 microseconds. FLOOD: bench frames of arg0 bytes for arg1 ms (or arg2 frames),
 * then FLOOD_END: arg0 frames sent, arg1 microseconds. RW: a hostile-net-tx-rewrite frame (flags
 * bit 0: from the second buffer; arg0 variant, arg1 its two allowed frame lengths, arg2 its two
 * allowed offload states, tappeer.py); RW_REPORT (arg0 variant) -> RW_REPORT_REPLY: arg0 frames,
 * arg1 of a later version, arg2 of no version. FLOOD_ON: frames of arg0 bytes over arg1 UDP flows
 * from a thread of the peer's until FLOOD_OFF -> FLOOD_OFF_ACK (arg0 frames sent).
 */
enum wire_op {
        OP_HELLO = 1,
        OP_HELLO_ACK = 2,
        OP_ECHO = 3,
        OP_ECHO_REPLY = 4,
        OP_SEND = 5,
        OP_DATA = 6,
        OP_TCP = 7,
        OP_TCP_RESULT = 8,
        OP_REPORT = 9,
        OP_REPORT_REPLY = 10,
        OP_POISON = 11,
        OP_QUIT = 12,
        OP_BYE = 13,
        OP_BENCH_END = 21,
        OP_BENCH_COUNT = 22,
        OP_FLOOD = 23,
        OP_FLOOD_END = 25,
        OP_RW = 26,
        OP_RW_REPORT = 27,
        OP_RW_REPORT_REPLY = 28,
        OP_FLOOD_ON = 29,
        OP_FLOOD_OFF = 30,
        OP_FLOOD_OFF_ACK = 31,
};

struct wire {
        u32 magic;
        u16 op, flags;
        u32 seq, len, crc;
        u32 arg[4];
} __attribute__((packed));

#define TCPRES_CSUM_OK 1 /* the segment checksums were right once completed */
#define TCPRES_IPCSUM_OK 2
#define TCPRES_DATA_OK 4
#define TCPRES_PARTIAL 8 /* it came with NEEDS_CSUM */
#define TCPRES_GSO 16    /* it came as one GSO frame */

struct peer_link {
        struct net *n;
        u8 peer_mac[6];
        u16 ip_id;
};

/* byte i of a payload (UDP: the bytes after the wire header; TCP: stream offset i) */
static inline u8 payload_byte(u32 seed, u32 i)
{
        return (u8)(i * 29 + (i >> 8) + seed);
}

/* In ring 3 when possible. */
void payload_fill(u8 *buf, u32 len, u32 seed, u32 first);
u32 crc32_buf(u32 crc, const void *buf, u32 len);
/* CRC32 (zlib's) of frame bytes [off, off + len) across the frame's pieces. */
u32 frame_crc(const struct net_frame *f, u32 off, u32 len);
/* Frame bytes [off, off + len) hold payload_byte(seed, first + i)? */
bool frame_payload_ok(const struct net_frame *f, u32 off, u32 len, u32 seed, u32 first);
/* One's-complement sum of frame bytes [off, off + len) (not folded), across pieces. */
u64 frame_sum(const struct net_frame *f, u32 off, u32 len);
u64 csum_add_buf(u64 sum, const void *buf, u32 len);
u16 csum_fold(u64 sum);

/*
 * Builds Ethernet + IPv4 + UDP (+ the wire header) at buf with payload_len bytes after it
 * (filled with the payload pattern of seed w->seq unless nofill); returns the frame length.
 * The UDP checksum is 0 (none).
 */
u32 frame_wire(struct peer_link *l, u8 *buf, u16 sport, struct wire *w, u32 payload_len,
               bool nofill);
/* Ethernet + IPv4 + TCP with payload_len bytes of stream seed at offset 0; checksum: see
 * partial (pseudo-header sum only, for NEEDS_CSUM) or complete. Returns the frame length. */
u32 frame_tcp(struct peer_link *l, u8 *buf, u32 seq, u32 payload_len, u32 seed, bool partial);
/* The wire header of a UDP frame from the peer to us, or NULL (copied to w). */
bool frame_get_wire(const struct net_frame *f, struct wire *w, u16 *dport);
/* Sends a wire message (with payload) on pair p from port sport, nd descriptors. */
void peer_send(struct peer_link *l, u16 p, u16 sport, u16 op, u32 seq, const u32 arg[4],
               u32 payload_len, u32 nd);
/* Waits up to ms for a wire message with op (and seq, unless ~0) on any pair set up; other
 * frames are dropped (counted). The frame stays held: release it. */
bool peer_wait(struct peer_link *l, u16 op, u32 seq, struct net_frame *f, struct wire *w, u32 ms);
/* HELLO until acknowledged (the peer may start late): learns the peer's MAC. */
void peer_hello(struct peer_link *l);
/* REPORT: the peer's counters into arg[4]. */
void peer_report(struct peer_link *l, u32 arg[4]);
void peer_quit(struct peer_link *l);

#endif
