/* Unit tests for devices/virtio_net.c: features, config and header size, modern and legacy. */
#include <criterion/criterion.h>
#include <string.h>

#include <linux/virtio_pci.h>

#include "virtio_net_fixture.h"

TestSuite(vnet, .init = setup, .fini = teardown);

/* --- features, config, header size ------------------------------------------------------------ */

Test(vnet, offers_its_features_and_config)
{
        uint64_t feat;
        uint8_t mac[6];

        attach("tap=t0,mac=02:12:34:56:78:9a");
        cr_assert_eq(f.device, 0x1000, "transitional network device");
        vph_modern_reset(&f);
        feat = vph_modern_device_features(&f);
        static const unsigned int bits[] = {
            VIRTIO_NET_F_CSUM,       VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MAC,
            VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_HOST_TSO4,
            VIRTIO_NET_F_HOST_TSO6,  VIRTIO_NET_F_MRG_RXBUF,  VIRTIO_NET_F_STATUS,
            VIRTIO_NET_F_CTRL_VQ,    VIRTIO_NET_F_CTRL_RX,    VIRTIO_F_VERSION_1};
        for (unsigned int i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
                cr_assert(feat & F(bits[i]), "feature %u not offered", bits[i]);
        cr_assert_not(feat & F(VIRTIO_NET_F_MQ), "one pair: no MQ");
        cr_assert_not(feat & F(VIRTIO_NET_F_HOST_UFO));
        cr_assert_not(feat & F(VIRTIO_NET_F_GUEST_UFO));
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), 3, "rx, tx, control");
        for (unsigned int i = 0; i < 6; i++)
                mac[i] =
                    (uint8_t)vph_devcfg_read(&f, offsetof(struct virtio_net_config, mac) + i, 1);
        cr_assert_eq(memcmp(mac, (uint8_t[]){0x02, 0x12, 0x34, 0x56, 0x78, 0x9a}, 6), 0);
        cr_assert_eq(vph_devcfg_read(&f, offsetof(struct virtio_net_config, status), 2),
                     VIRTIO_NET_S_LINK_UP);
        cr_assert_eq(
            vph_devcfg_read(&f, offsetof(struct virtio_net_config, max_virtqueue_pairs), 2), 1);
}

Test(vnet, several_pairs_offer_mq)
{
        attach("tap=t0,queues=4,transport=modern");
        cr_assert_eq(f.device, 0x1041, "modern network device");
        vph_modern_reset(&f);
        cr_assert(vph_modern_device_features(&f) & F(VIRTIO_NET_F_MQ));
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), 9);
        cr_assert_eq(
            vph_devcfg_read(&f, offsetof(struct virtio_net_config, max_virtqueue_pairs), 2), 4);
}

Test(vnet, version_1_uses_the_12_byte_header_with_and_without_mrg)
{
        attach("tap=t0");
        driver_up(WANT);
        cr_assert_eq(n.hdr_len, 12);
        cr_assert(n.pair[0].tap_watched, "DRIVER_OK arms the tap");
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_not(n.pair[0].tap_watched, "reset disarms it");
        driver_up(WANT & ~MRG);
        cr_assert_eq(n.hdr_len, 12);
        cr_assert(n.pair[0].tap_watched);
}

/* --- the legacy transport: a 10-byte header without MRG_RXBUF ----------------------------------
 */

static void legacy_up(uint32_t features)
{
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, 0);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK);
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV);
        vph_legacy_write(&f, VIRTIO_PCI_GUEST_FEATURES, 4,
                         vph_legacy_read(&f, VIRTIO_PCI_HOST_FEATURES, 4) & features);
        for (unsigned int q = 0; q < nq; q++) {
                uint64_t desc = ring(q, 0), avail = desc + 16 * QSZ;
                uint64_t usedr = (avail + 6 + 2 * QSZ + 4095) & ~4095ull;

                vph_legacy_write(&f, VIRTIO_PCI_QUEUE_SEL, 2, q);
                cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_QUEUE_NUM, 2), QSZ);
                vd_init(&drv[q], &h.mem, QSZ, desc, avail, usedr);
                next_desc[q] = 0;
                vph_legacy_write(&f, VIRTIO_PCI_QUEUE_PFN, 4, desc >> 12);
        }
        vph_legacy_write(&f, VIRTIO_PCI_STATUS, 1, ACK | DRV | DOK);
}

static void legacy_kick(unsigned int q)
{
        vd_publish(&drv[q]);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_NOTIFY, 2, q);
}

Test(vnet, legacy_driver_header_is_10_bytes_without_mrg_and_12_with)
{
        uint8_t buf[256];
        struct chain t, r;
        uint32_t len;

        attach("tap=t0,transport=legacy");
        legacy_up(~(uint32_t)MRG);
        cr_assert_eq(n.hdr_len, 10);
        len = frame(buf, &plain_hdr, 10, 60, 0x61);
        t = post(1, buf, len, 0, false);
        legacy_kick(1);
        wait_used(1, 1);
        used(1, t.head, 0);
        cr_assert_eq(tap_recv(0, got, sizeof(got)), (ssize_t)len, "10 + 60 bytes");
        cr_assert_eq(memcmp(got, buf, len), 0);
        r = post_rx(0, 2048);
        legacy_kick(0);
        len = frame(buf, &plain_hdr, 10, 100, 0x62);
        tap_send(0, buf, len);
        wait_used(0, 1);
        used(0, r.head, len);
        cr_assert_eq(memcmp(gptr(r.gpa, len), buf, len), 0);

        legacy_up(~0u);
        cr_assert_eq(n.hdr_len, 12, "MRG_RXBUF brings num_buffers");
}
