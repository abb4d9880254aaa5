/* Unit tests for virtio/pci_modern.c: feature negotiation, device status, queue set-up. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio_pci_modern_fixture.h"

TestSuite(modern, .init = setup_modern, .fini = teardown);

/* --- features and status ------------------------------------------------------- */

Test(modern, device_features_through_both_selects)
{
        cr_assert_eq(vph_modern_device_features(&f), OFFERED);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_DFSELECT, 4), 1);
        vph_common_write(&f, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_DF, 4), 0, "no bits beyond 64");
        vph_common_write(&f, VIRTIO_PCI_COMMON_DFSELECT, 4, 0xffffffff);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_DF, 4), 0);
        cr_assert_eq(OFFERED & (1ull << VIRTIO_F_ANY_LAYOUT), 0);
}

Test(modern, linux_probe_sequence_negotiates_and_activates)
{
        uint64_t offered = 0;

        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, &offered), 0);
        cr_assert_eq(offered, OFFERED);
        cr_assert_eq(status(), ACK | DRV | FOK);
        /* The driver's features read back through guest_feature_select. */
        vph_common_write(&f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_GF, 4), (uint32_t)OFFERED);
        vph_common_write(&f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_GF, 4), OFFERED >> 32);

        vph_msix_enable(&f, NVEC);
        cr_assert_eq(vph_modern_config_vector(&f, 0), 0);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), VPH_FAKE_QUEUES);
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                uint16_t noff = 0xbeef;

                cr_assert_eq(vph_modern_setup_queue(&f, q, 32, ring_addr(q, 0), ring_addr(q, 1),
                                                    ring_addr(q, 2), q + 1, &noff),
                             0);
                cr_assert_eq(noff, q, "queue_notify_off");
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_SIZE, 2), 32);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_MSIX, 2), q + 1);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_DESCLO, 4), (uint32_t)ring_addr(q, 0));
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_AVAILLO, 8), ring_addr(q, 1));
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_USEDLO, 8), ring_addr(q, 2));
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0, "not before enable");
        }
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++)
                cr_assert_eq(vph_modern_enable_queue(&f, q), 1);
        cr_assert_eq(fd.activates, 0, "nothing is activated before DRIVER_OK");
        cr_assert_eq(vph_modern_add_status(&f, DOK), ACK | DRV | FOK | DOK);
        cr_assert_eq(fd.activates, 1);
        cr_assert_eq(fd.features_at_activate, OFFERED);
        for (unsigned int q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert(fd.ready_at_activate[q]);
                cr_assert_eq(fd.dev.vq[q].size, 32);
                cr_assert(fd.dev.vq[q].event_idx, "EVENT_IDX negotiated");
                cr_assert(fd.dev.vq[q].indirect, "INDIRECT_DESC negotiated");
        }
        cr_assert_eq(fd.dev.features, OFFERED);
}

Test(modern, negotiated_ring_features_reach_the_queues)
{
        cr_assert_eq(vph_modern_negotiate(&f, VERSION_1, NULL), 0);
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        vph_modern_add_status(&f, DOK);
        cr_assert_eq(fd.features_at_activate, VERSION_1);
        cr_assert_not(fd.dev.vq[0].event_idx);
        cr_assert_not(fd.dev.vq[0].indirect);
        cr_assert(fd.ready_at_activate[0]);
        cr_assert_not(fd.ready_at_activate[1], "never enabled");
}

Test(modern, features_ok_with_a_feature_never_offered_is_not_acknowledged)
{
        static const uint64_t bad[] = {1ull << 1, 1ull << VIRTIO_F_ANY_LAYOUT,
                                       1ull << VIRTIO_F_RING_PACKED, 1ull << 63};

        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cr_assert_eq(vph_modern_reset(&f), 0);
                vph_modern_add_status(&f, ACK);
                vph_modern_add_status(&f, DRV);
                vph_modern_set_features(&f, OFFERED | bad[i]);
                cr_assert_eq(vph_modern_add_status(&f, FOK), ACK | DRV, "bit 0x%llx",
                             (unsigned long long)bad[i]);
                /* Linux then gives up: FAILED; a DRIVER_OK after it is refused too. */
                cr_assert_eq(vph_modern_add_status(&f, VIRTIO_CONFIG_S_FAILED),
                             ACK | DRV | VIRTIO_CONFIG_S_FAILED);
        }
        cr_assert_eq(fd.activates, 0);
}

Test(modern, features_ok_without_version_1_is_not_acknowledged)
{
        cr_assert_eq(vph_modern_negotiate(&f, OFFERED & ~VERSION_1, NULL), -ENODEV);
        cr_assert_eq(status(), ACK | DRV);
}

Test(modern, driver_ok_without_features_ok_is_ignored)
{
        vph_modern_reset(&f);
        vph_modern_add_status(&f, ACK);
        vph_modern_add_status(&f, DRV);
        vph_modern_set_features(&f, OFFERED);
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        cr_assert_eq(vph_modern_add_status(&f, DOK), ACK | DRV, "DRIVER_OK dropped");
        cr_assert_eq(fd.activates, 0);
        /* Nor with a refused FEATURES_OK in the same write. */
        vph_modern_set_features(&f, OFFERED | 2);
        cr_assert_eq(vph_modern_add_status(&f, FOK | DOK), ACK | DRV);
        cr_assert_eq(fd.activates, 0);
}

Test(modern, status_bits_cannot_be_cleared_except_by_reset)
{
        cr_assert_eq(bring_up(false), ACK | DRV | FOK | DOK);
        vph_common_write(&f, VIRTIO_PCI_COMMON_STATUS, 1, ACK | DRV);
        cr_assert_eq(status(), ACK | DRV | FOK | DOK);
        cr_assert_eq(fd.activates, 1);
        cr_assert_eq(fd.resets, 0);
}

/* The driver may not change its features once FEATURES_OK was accepted (virtio 1.1 3.1.1):
 * the device must be activated with what it accepted at FEATURES_OK. */
Test(modern, features_rewritten_after_features_ok_reach_the_device)
{
        cr_assert_eq(vph_modern_negotiate(&f, VERSION_1, NULL), 0);
        /* Now a feature never offered, after the check. */
        vph_modern_set_features(&f, VERSION_1 | (1ull << VIRTIO_F_RING_PACKED));
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        vph_modern_add_status(&f, DOK);
        cr_expect_eq(fd.activates, 1);
        cr_expect_eq(fd.features_at_activate, VERSION_1,
                     "activated with features 0x%llx: RING_PACKED was never offered",
                     (unsigned long long)fd.features_at_activate);
        vph_common_write(&f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        cr_expect_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_GF, 4), VERSION_1 >> 32,
                     "guest_feature after FEATURES_OK changed");
}

/* --- queues ----------------------------------------------------------------------- */

Test(modern, queue_size_reads_the_maximum_after_reset)
{
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_SIZE, 2), VPH_FAKE_QMAX);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_MSIX, 2), NO_VEC);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
        }
}

Test(modern, bad_queue_sizes_are_not_enabled)
{
        static const uint16_t bad[] = {0, 3, 48, VPH_FAKE_QMAX * 2, 0x8000, 0xffff};

        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                program_queue(0, bad[i], ring_addr(0, 0), ring_addr(0, 1), ring_addr(0, 2));
                cr_assert_eq(vph_modern_enable_queue(&f, 0), 0, "size %u enabled", bad[i]);
                cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_SIZE, 2), bad[i], "reads back as written");
        }
        /* The driver may fix the size and try again. */
        cr_assert_eq(setup_queue(0, VPH_FAKE_QMAX, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        cr_assert_eq(setup_queue(1, 1, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 1), 1, "size 1 is a power of two");
}

Test(modern, rings_outside_ram_or_misaligned_are_not_enabled)
{
        const uint64_t good_d = ring_addr(0, 0), good_a = ring_addr(0, 1), good_u = ring_addr(0, 2);
        const struct {
                uint64_t d, a, u;
        } bad[] = {
            {RAM_SIZE, good_a, good_u},                     /* desc past RAM */
            {good_d, RAM_SIZE, good_u},                     /* avail past RAM */
            {good_d, good_a, RAM_SIZE},                     /* used past RAM */
            {RAM_SIZE - 16 * 8, good_a, good_u},            /* desc straddles the end */
            {good_d, good_a, RAM_SIZE - 8},                 /* used straddles the end */
            {good_d + 8, good_a, good_u},                   /* desc not 16-aligned */
            {good_d, good_a + 1, good_u},                   /* avail not 2-aligned */
            {good_d, good_a, good_u + 2},                   /* used not 4-aligned */
            {0xc0000000ull, good_a, good_u},                /* in the PCI hole (BARs) */
            {f.bar[VIRTIO_PCI_BAR_MODERN], good_a, good_u}, /* on the device's own BAR */
            {0xfffffffffffffff0ull, good_a, good_u},        /* wraps */
            {1ull << 40, good_a, good_u},                   /* far above RAM */
        };

        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                program_queue(0, 16, bad[i].d, bad[i].a, bad[i].u);
                cr_assert_eq(vph_modern_enable_queue(&f, 0), 0, "case %u enabled", i);
        }
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
}

Test(modern, ring_addresses_in_one_64bit_write)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        select_q(1);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_DESCLO, 8, ring_addr(1, 0));
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, ring_addr(1, 1));
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_USEDLO, 8, ring_addr(1, 2));
        cr_assert_eq(qreg(1, VIRTIO_PCI_COMMON_Q_DESCLO, 8), ring_addr(1, 0));
        cr_assert_eq(qreg(1, VIRTIO_PCI_COMMON_Q_USEDHI, 4), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 1), 1);
}

Test(modern, an_enabled_queue_keeps_its_geometry)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        select_q(0);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x200000);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_DESCLO, 8), ring_addr(0, 0));
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1, "writing 0 does not disable");
        cr_assert_eq(fd.dev.vq[0].size, 16);
}

Test(modern, queue_registers_after_driver_ok_are_ignored)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(setup_queue(0, 16, 1), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        cr_assert_eq(setup_queue(2, 16, NO_VEC), 0); /* programmed, never enabled */
        vph_modern_add_status(&f, DOK);
        cr_assert_eq(fd.activates, 1);

        /* Queue 0 is live: nothing about it moves. */
        select_q(0);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x300000);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_USEDHI, 4, 1);
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_MSIX, 2), 1);
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_DESCLO, 8), ring_addr(0, 0));
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_USEDLO, 8), ring_addr(0, 2));

        /* Queue 2 cannot be enabled late (CVE-2026-5747). */
        cr_assert_eq(setup_queue(2, 32, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 2), 0);
        cr_assert_eq(qreg(2, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
        cr_assert_not(fd.dev.vq_ready[2]);
        cr_assert_eq(fd.dev.vq[2].size, 0, "no rings attached behind the device's back");

        /* Features cannot change either. */
        vph_modern_set_features(&f, VERSION_1);
        cr_assert_eq(fd.dev.features, OFFERED);
        vph_common_write(&f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_GF, 4), (uint32_t)OFFERED);
}

Test(modern, queue_select_out_of_range_reads_zero_and_ignores_writes)
{
        static const uint16_t sel[] = {VPH_FAKE_QUEUES, 0x100, 0x7fff, 0xffff};

        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        vph_msix_enable(&f, NVEC);
        for (unsigned int i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
                select_q(sel[i]);
                cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_SELECT, 2), sel[i]);
                cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
                cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
                cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
                /* Cloud Hypervisor's crash: 0xffff then the vector register. */
                vph_common_write(&f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
                cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
                vph_common_write(&f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
                vph_common_write(&f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, ring_addr(0, 0));
                vph_common_write(&f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, ring_addr(0, 1));
                vph_common_write(&f, VIRTIO_PCI_COMMON_Q_USEDLO, 4, ring_addr(0, 2));
                vph_common_write(&f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
                cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
                cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
        }
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_SIZE, 2), VPH_FAKE_QMAX, "queue %u", q);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_MSIX, 2), NO_VEC);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
        }
}

Test(modern, msix_vectors_beyond_the_table_read_back_no_vector)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(vph_modern_config_vector(&f, NVEC - 1), NVEC - 1);
        cr_assert_eq(vph_modern_config_vector(&f, NVEC), NO_VEC);
        cr_assert_eq(vph_modern_config_vector(&f, 0x7ff), NO_VEC);
        cr_assert_eq(vph_modern_config_vector(&f, 0), 0);
        cr_assert_eq(setup_queue(0, 16, NVEC - 1), 0);
        cr_assert_eq(setup_queue(1, 16, NVEC), -EBUSY, "Linux sees NO_VECTOR and gives up");
        cr_assert_eq(qreg(1, VIRTIO_PCI_COMMON_Q_MSIX, 2), NO_VEC);
        cr_assert_eq(setup_queue(2, 16, 0xfffe), -EBUSY);
        select_q(0);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_MSIX, 2, NO_VEC);
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_MSIX, 2), NO_VEC, "NO_VECTOR is accepted");
}
