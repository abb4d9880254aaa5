/* virtio-net header rules (virtio 1.1, 5.1.6): what a guest may hand the tap. */
#include <errno.h>
#include <linux/if_tun.h>

#include "devices/virtio_net.h"

static bool has(uint64_t features, unsigned int bit)
{
        return features & (1ull << bit);
}

int net_tx_hdr_check(const struct virtio_net_hdr *h, uint64_t features, uint32_t frame_len)
{
        uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

        if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
                return -EINVAL;
        if (frame_len == 0 || frame_len > NET_MAX_FRAME)
                return -EINVAL;
        if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
                /* The tap writes 2 bytes at csum_start + csum_offset. */
                if (!has(features, VIRTIO_NET_F_CSUM) ||
                    (uint32_t)h->csum_start + h->csum_offset + 2 > frame_len)
                        return -EINVAL;
        }
        switch (gso) {
        case VIRTIO_NET_HDR_GSO_NONE:
                return h->gso_type & VIRTIO_NET_HDR_GSO_ECN ? -EINVAL : 0;
        case VIRTIO_NET_HDR_GSO_TCPV4:
                if (!has(features, VIRTIO_NET_F_HOST_TSO4))
                        return -EINVAL;
                break;
        case VIRTIO_NET_HDR_GSO_TCPV6:
                if (!has(features, VIRTIO_NET_F_HOST_TSO6))
                        return -EINVAL;
                break;
        default:
                return -EINVAL; /* UFO and friends are never offered */
        }
        if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(features, VIRTIO_NET_F_HOST_ECN))
                return -EINVAL;
        /* A GSO frame needs a segment size, a header inside the frame, and a
         * checksum to fill in on every segment. */
        if (h->gso_size == 0 || h->hdr_len > frame_len || !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
                return -EINVAL;
        return 0;
}

unsigned int net_tap_offloads(uint64_t features)
{
        unsigned int f = 0;

        if (has(features, VIRTIO_NET_F_GUEST_CSUM))
                f |= TUN_F_CSUM;
        if (f && has(features, VIRTIO_NET_F_GUEST_TSO4))
                f |= TUN_F_TSO4;
        if (f && has(features, VIRTIO_NET_F_GUEST_TSO6))
                f |= TUN_F_TSO6;
        return f;
}
