/* virtio-net on a tap device: TX and RX served in-process, offloads passed through. */
#ifndef WISP_DEVICES_VIRTIO_NET_H
#define WISP_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/if.h>
#include <linux/virtio_net.h>

#include "virtio/pci.h"

#define NET_MAX_PAIRS 8
#define NET_QUEUE_SIZE 256
#define NET_MAX_FRAME 65550u /* largest GSO frame the tap hands over, without the header */
#define NET_HDR_MRG sizeof(struct virtio_net_hdr_mrg_rxbuf) /* 12: modern or MRG_RXBUF */
#define NET_HDR_LEGACY sizeof(struct virtio_net_hdr)        /* 10: legacy without MRG_RXBUF */

/* -n tap=IFNAME[,mac=M][,transport=T][,queues=N] */
struct net_options {
        char ifname[IFNAMSIZ];
        uint8_t mac[6];
        bool mac_set;
        enum virtio_transport transport;
        unsigned int queues; /* queue pairs, 1..NET_MAX_PAIRS */
};

/* Parses one -n value. Pure. 0, or -EINVAL with a message naming the bad part. */
int net_options_parse(const char *spec, struct net_options *o, char *err, size_t errlen);

/*
 * Checks a guest TX header against the negotiated features and the frame
 * it comes with (pure): a GSO type that was not negotiated, or with a zero
 * segment size, a checksum request pointing past the frame, a header
 * length beyond the frame, unknown flag bits. 0 if the tap may have it,
 * -EINVAL otherwise (the frame is dropped and counted).
 */
int net_tx_hdr_check(const struct virtio_net_hdr *h, uint64_t features, uint32_t frame_len);

/* TUNSETOFFLOAD flags matching the offloads the guest accepts on RX. Pure. */
unsigned int net_tap_offloads(uint64_t features);

struct net_stats {
        unsigned long tx_frames, tx_dropped, rx_frames, rx_dropped, tap_errors;
};

struct virtio_net;

struct net_pair {
        struct virtio_net *net;
        unsigned int index;
        int tap_fd;
        struct event_source tap_src;
        bool tap_watched; /* EPOLLIN armed: off while the guest has no RX buffers */
        bool tap_dead;    /* the tap went away: stop reading it */
        uint8_t *pkt;     /* a frame read from the tap waiting for RX buffers */
        uint32_t pkt_len;
        uint8_t *rx_chains; /* room for the chains of one merged frame (touched as used) */
        bool attached;      /* this tap queue delivers frames (MQ: VQ_PAIRS_SET) */
};

struct virtio_net {
        struct virtio_device dev;
        struct virtio_pci vp;
        struct net_options opt;
        struct virtio_net_config cfg;
        struct event_loop *loop;
        struct net_pair pair[NET_MAX_PAIRS];
        unsigned int active_pairs;
        uint32_t hdr_len; /* negotiated virtio-net header size */
        struct net_stats stats;
};

/*
 * Host side, before KVM: opens (or creates, with CAP_NET_ADMIN) the tap with
 * IFF_VNET_HDR and, for several queues, IFF_MULTI_QUEUE (one fd per pair).
 * Errors name the interface and what is missing.
 */
int virtio_net_open(struct virtio_net *n, const struct net_options *o, char *err, size_t errlen);

/* Builds the virtio device and its PCI function and plugs it into bus. */
int virtio_net_attach(struct virtio_net *n, const struct virtio_env *env, struct pci_bus *bus);

void virtio_net_close(struct virtio_net *n);

#endif
