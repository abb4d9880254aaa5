/* Unit tests for devices/net_hdr.c: every TX header rule, and the tap offloads per feature set. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/if_tun.h>

#include "devices/virtio_net.h"

#define F(bit) (1ull << (bit))
#define CSUM F(VIRTIO_NET_F_CSUM)
#define TSO4 F(VIRTIO_NET_F_HOST_TSO4)
#define TSO6 F(VIRTIO_NET_F_HOST_TSO6)
#define HECN F(VIRTIO_NET_F_HOST_ECN)
#define ALL_HOST (CSUM | TSO4 | TSO6 | HECN | F(VIRTIO_NET_F_HOST_UFO) | F(VIRTIO_F_VERSION_1))
#define NEEDS_CSUM VIRTIO_NET_HDR_F_NEEDS_CSUM

/* A header as Linux's virtio_net sends a TSO frame: checksum at the TCP header. */
static struct virtio_net_hdr tso(uint8_t type)
{
        return (struct virtio_net_hdr){.flags = NEEDS_CSUM,
                                       .gso_type = type,
                                       .hdr_len = 54,
                                       .gso_size = 1448,
                                       .csum_start = 34,
                                       .csum_offset = 16};
}

static int check(struct virtio_net_hdr h, uint64_t features, uint32_t len)
{
        return net_tx_hdr_check(&h, features, len);
}

/* --- plain frames -------------------------------------------------------------------------- */

Test(net_hdr, a_zero_header_is_fine_without_any_feature)
{
        struct virtio_net_hdr h = {0};

        cr_assert_eq(check(h, 0, 60), 0);
        cr_assert_eq(check(h, ALL_HOST, 60), 0);
        cr_assert_eq(check(h, 0, 1), 0, "one byte is a frame");
}

Test(net_hdr, known_flags_pass_unknown_bits_are_refused)
{
        struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_DATA_VALID};

        cr_assert_eq(check(h, 0, 60), 0, "DATA_VALID is a known bit");
        for (unsigned int bit = 2; bit < 8; bit++) {
                h.flags = (uint8_t)(1u << bit);
                cr_assert_eq(check(h, ALL_HOST, 60), -EINVAL, "flag bit %u accepted", bit);
                h.flags = (uint8_t)((1u << bit) | NEEDS_CSUM);
                cr_assert_eq(check(h, ALL_HOST, 60), -EINVAL, "flag bit %u + NEEDS_CSUM", bit);
        }
}

Test(net_hdr, frame_length_zero_and_above_the_maximum_are_refused)
{
        struct virtio_net_hdr h = {0};

        cr_assert_eq(check(h, ALL_HOST, 0), -EINVAL);
        cr_assert_eq(check(h, ALL_HOST, NET_MAX_FRAME), 0);
        cr_assert_eq(NET_MAX_FRAME, 65550u);
        cr_assert_eq(check(h, ALL_HOST, NET_MAX_FRAME + 1), -EINVAL);
        cr_assert_eq(check(h, ALL_HOST, UINT32_MAX), -EINVAL);
}

/* --- checksum offload ---------------------------------------------------------------------- */

Test(net_hdr, needs_csum_only_with_csum_negotiated)
{
        struct virtio_net_hdr h = {.flags = NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};

        cr_assert_eq(check(h, CSUM, 60), 0);
        cr_assert_eq(check(h, 0, 60), -EINVAL);
        cr_assert_eq(check(h, ALL_HOST & ~CSUM, 60), -EINVAL);
}

Test(net_hdr, csum_field_must_lie_inside_the_frame)
{
        struct virtio_net_hdr h = {.flags = NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};

        /* The tap writes 2 bytes at 34 + 16 = 50: a 52-byte frame holds them. */
        cr_assert_eq(check(h, CSUM, 52), 0, "exactly at the edge");
        cr_assert_eq(check(h, CSUM, 51), -EINVAL, "one byte past");
        cr_assert_eq(check(h, CSUM, 50), -EINVAL);
        h.csum_start = 0;
        h.csum_offset = 0;
        cr_assert_eq(check(h, CSUM, 2), 0);
        cr_assert_eq(check(h, CSUM, 1), -EINVAL);
}

Test(net_hdr, csum_fields_at_their_maximum_do_not_wrap)
{
        struct virtio_net_hdr h = {
            .flags = NEEDS_CSUM, .csum_start = 0xffff, .csum_offset = 0xffff};

        cr_assert_eq(check(h, CSUM, NET_MAX_FRAME), -EINVAL, "0x1ffff is past any frame");
        h.csum_offset = 0xfffd; /* 0xffff + 0xfffd + 2 = 0x1fffe: still past */
        cr_assert_eq(check(h, CSUM, NET_MAX_FRAME), -EINVAL);
        h.csum_start = 0xfffe;
        h.csum_offset = 0x0e; /* 0xfffe + 14 + 2 = 65550 */
        cr_assert_eq(check(h, CSUM, NET_MAX_FRAME), 0);
}

Test(net_hdr, csum_fields_are_ignored_without_needs_csum)
{
        struct virtio_net_hdr h = {.csum_start = 0xffff, .csum_offset = 0xffff};

        cr_assert_eq(check(h, 0, 60), 0);
}

/* --- GSO ----------------------------------------------------------------------------------- */

Test(net_hdr, gso_none_with_ecn_is_refused)
{
        struct virtio_net_hdr h = {.gso_type = VIRTIO_NET_HDR_GSO_NONE | VIRTIO_NET_HDR_GSO_ECN};

        cr_assert_eq(check(h, ALL_HOST, 60), -EINVAL);
}

Test(net_hdr, tcpv4_only_with_host_tso4)
{
        struct virtio_net_hdr h = tso(VIRTIO_NET_HDR_GSO_TCPV4);

        cr_assert_eq(check(h, CSUM | TSO4, 9000), 0);
        cr_assert_eq(check(h, CSUM, 9000), -EINVAL);
        cr_assert_eq(check(h, CSUM | TSO6, 9000), -EINVAL, "TSO6 does not stand for TSO4");
}

Test(net_hdr, tcpv6_only_with_host_tso6)
{
        struct virtio_net_hdr h = tso(VIRTIO_NET_HDR_GSO_TCPV6);

        cr_assert_eq(check(h, CSUM | TSO6, 9000), 0);
        cr_assert_eq(check(h, CSUM, 9000), -EINVAL);
        cr_assert_eq(check(h, CSUM | TSO4, 9000), -EINVAL, "TSO4 does not stand for TSO6");
}

Test(net_hdr, udp_and_unknown_gso_types_are_refused_whatever_was_negotiated)
{
        static const uint8_t types[] = {VIRTIO_NET_HDR_GSO_UDP, 2, 5, 6, 0x10, 0x3f, 0x7f};

        for (unsigned int i = 0; i < sizeof(types); i++) {
                struct virtio_net_hdr h = tso(types[i]);

                cr_assert_eq(check(h, ALL_HOST, 9000), -EINVAL, "gso type 0x%x", types[i]);
                h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
                cr_assert_eq(check(h, ALL_HOST, 9000), -EINVAL, "gso type 0x%x|ECN", types[i]);
        }
}

Test(net_hdr, ecn_only_with_host_ecn)
{
        struct virtio_net_hdr h = tso(VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);

        cr_assert_eq(check(h, CSUM | TSO4, 9000), -EINVAL);
        cr_assert_eq(check(h, CSUM | TSO4 | HECN, 9000), 0);
        h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
        cr_assert_eq(check(h, CSUM | TSO6, 9000), -EINVAL);
        cr_assert_eq(check(h, CSUM | TSO6 | HECN, 9000), 0);
}

Test(net_hdr, gso_needs_a_segment_size)
{
        struct virtio_net_hdr h = tso(VIRTIO_NET_HDR_GSO_TCPV4);

        h.gso_size = 0;
        cr_assert_eq(check(h, ALL_HOST, 9000), -EINVAL);
        h.gso_size = 1;
        cr_assert_eq(check(h, ALL_HOST, 9000), 0);
}

Test(net_hdr, gso_header_length_must_lie_inside_the_frame)
{
        struct virtio_net_hdr h = tso(VIRTIO_NET_HDR_GSO_TCPV6);

        h.hdr_len = 100;
        cr_assert_eq(check(h, ALL_HOST, 100), 0, "the header may fill the frame");
        cr_assert_eq(check(h, ALL_HOST, 99), -EINVAL);
        h.hdr_len = 0xffff;
        cr_assert_eq(check(h, ALL_HOST, NET_MAX_FRAME), 0);
        cr_assert_eq(check(h, ALL_HOST, 0xfffe), -EINVAL);
}

Test(net_hdr, gso_without_needs_csum_is_refused)
{
        struct virtio_net_hdr h = tso(VIRTIO_NET_HDR_GSO_TCPV4);

        h.flags = 0;
        cr_assert_eq(check(h, ALL_HOST, 9000), -EINVAL);
        h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
        cr_assert_eq(check(h, ALL_HOST, 9000), -EINVAL);
}

Test(net_hdr, gso_checksum_still_follows_the_csum_rules)
{
        struct virtio_net_hdr h = tso(VIRTIO_NET_HDR_GSO_TCPV4);

        cr_assert_eq(check(h, TSO4, 9000), -EINVAL, "NEEDS_CSUM without CSUM");
        h.csum_start = 8990;
        h.csum_offset = 8;
        cr_assert_eq(check(h, CSUM | TSO4, 9000), 0);
        h.csum_offset = 9;
        cr_assert_eq(check(h, CSUM | TSO4, 9000), -EINVAL);
}

/* --- tap offloads -------------------------------------------------------------------------- */

Test(net_hdr, tap_offloads_for_every_guest_feature_combination)
{
        for (unsigned int m = 0; m < 8; m++) {
                bool csum = m & 1, tso4 = m & 2, tso6 = m & 4;
                uint64_t f = (csum ? F(VIRTIO_NET_F_GUEST_CSUM) : 0) |
                             (tso4 ? F(VIRTIO_NET_F_GUEST_TSO4) : 0) |
                             (tso6 ? F(VIRTIO_NET_F_GUEST_TSO6) : 0);
                unsigned int want = 0;

                if (csum)
                        want = TUN_F_CSUM | (tso4 ? TUN_F_TSO4 : 0) | (tso6 ? TUN_F_TSO6 : 0);
                cr_assert_eq(net_tap_offloads(f), want, "csum %d tso4 %d tso6 %d", csum, tso4,
                             tso6);
                /* Host-side (TX) features never change what the tap may hand us. */
                cr_assert_eq(net_tap_offloads(f | ALL_HOST | F(VIRTIO_NET_F_MRG_RXBUF)), want,
                             "with host features, combination %u", m);
        }
}

Test(net_hdr, tap_offloads_never_include_what_is_not_offered)
{
        uint64_t f = F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
                     F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) |
                     F(VIRTIO_NET_F_GUEST_UFO);

        cr_assert_eq(net_tap_offloads(f), TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
        cr_assert_eq(net_tap_offloads(0), 0);
        cr_assert_eq(net_tap_offloads(~0ull & ~F(VIRTIO_NET_F_GUEST_CSUM)), 0,
                     "no TSO without GUEST_CSUM");
}
