/* Unit tests for virtio/pci.c + pci_modern.c, driven through a real PCI bus as Linux 6.1 does. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio/pci.h"
#include "vpci_harness.h"

#define RAM_SIZE (16ull << 20)
#define RING_BASE 0x100000ull
#define RING_STRIDE 0x10000ull
#define NO_VEC VIRTIO_MSI_NO_VECTOR
#define ISR_QUEUE 0x1 /* used buffers (virtio 1.1 4.1.4.5) */
#define NVEC (VPH_FAKE_QUEUES + 1)
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define VERSION_1 (1ull << VIRTIO_F_VERSION_1)
#define RING_FEATURES ((1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC))
#define OFFERED (VPH_FAKE_FEATURES | RING_FEATURES | VERSION_1)

static struct vph h;
static struct vph_fake_dev fd;
static struct virtio_pci vp;
static struct vph_fn f;
static int slot;

static void setup_mode(enum virtio_transport mode)
{
        cr_assert_eq(vph_init(&h, RAM_SIZE), 0);
        vph_fake_dev_init(&fd, VPH_FAKE_ID);
        cr_assert_eq(virtio_pci_init(&vp, &fd.dev, mode, &h.env), 0);
        vp.pci.name = "virtio-fake";
        cr_assert_eq(virtio_pci_plug(&vp, &h.bus), 0);
        slot = (int)vp.pci.slot;
        cr_assert_gt(slot, 0);
        cr_assert_eq(vph_probe(&h, (unsigned int)slot, &f), 0);
}

static void setup_modern(void)
{
        setup_mode(VIRTIO_MODERN);
}

static void setup_transitional(void)
{
        setup_mode(VIRTIO_TRANSITIONAL);
}

static void teardown(void)
{
        cr_expect(fd.locked_in_ops, "every device op ran with dev->lock held");
        cr_expect_eq(h.kvm.wrong_fd, 0, "irqfd/ioeventfd/routing ioctls went to the VM fd");
        vph_fini(&h);
        virtio_pci_destroy(&vp);
}

TestSuite(modern, .init = setup_modern, .fini = teardown);
TestSuite(transitional, .init = setup_transitional, .fini = teardown);

static uint64_t ring_addr(unsigned int q, unsigned int which)
{
        return RING_BASE + q * RING_STRIDE + which * 0x1000;
}

static int setup_queue(uint16_t q, uint16_t size, uint16_t vector)
{
        return vph_modern_setup_queue(&f, q, size, ring_addr(q, 0), ring_addr(q, 1),
                                      ring_addr(q, 2), vector, NULL);
}

static uint16_t status(void)
{
        return (uint16_t)vph_common_read(&f, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void select_q(uint16_t q)
{
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
}

static uint64_t qreg(uint16_t q, uint32_t off, uint32_t len)
{
        select_q(q);
        return vph_common_read(&f, off, len);
}

/* Programs queue q's registers as given, with none of the driver's own checks. */
static void program_queue(uint16_t q, uint16_t size, uint64_t d, uint64_t a, uint64_t u)
{
        select_q(q);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)d);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_DESCHI, 4, d >> 32);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)a);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, a >> 32);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)u);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_USEDHI, 4, u >> 32);
}

/* The whole of virtio_dev_probe + vp_find_vqs_msix + virtio_device_ready; the final status. */
static uint8_t bring_up(bool msix)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        if (msix) {
                vph_msix_enable(&f, NVEC);
                cr_assert_eq(vph_modern_config_vector(&f, 0), 0);
        }
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++)
                cr_assert_eq(setup_queue(q, VPH_FAKE_QMAX, msix ? (uint16_t)(q + 1) : NO_VEC), 0);
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++)
                cr_assert_eq(vph_modern_enable_queue(&f, q), 1);
        return vph_modern_add_status(&f, DOK);
}

/* Runs the loop until nothing more is pending (kicks are local eventfds). */
static void drain_loop(void)
{
        for (int i = 0; i < 16 && vph_poll(&h, 0) > 0; i++)
                ;
}

/* --- identity and capabilities ------------------------------------------------ */

Test(modern, ids_and_revision_of_a_modern_only_function)
{
        cr_assert_eq(f.vendor, 0x1af4);
        cr_assert_eq(f.device, 0x1040 + VPH_FAKE_ID);
        cr_assert_eq(f.revision, 1, "modern-only: revision 1");
        cr_assert_eq(f.subsys_vendor, 0x1af4);
        cr_assert_eq(f.subsys, VPH_FAKE_ID);
        cr_assert_eq(vph_cfg_read(&h, slot, PCI_INTERRUPT_PIN, 1), 1);
        cr_assert_eq(vph_cfg_read(&h, slot, PCI_INTERRUPT_LINE, 1), vp.pci.intx_gsi);
}

Test(modern, no_io_bar_and_a_64bit_memory_bar_4)
{
        for (int n = 0; n < PCI_NUM_BARS; n++)
                cr_assert_not(f.bar_io[n], "BAR %d is I/O", n);
        cr_assert_eq(f.bar_size[0], 0, "no legacy BAR 0");
        cr_assert_eq(vph_cfg_read(&h, slot, PCI_BASE_ADDRESS_0, 4), 0);
        cr_assert(f.bar_64[VIRTIO_PCI_BAR_MODERN]);
        cr_assert_eq(f.bar_size[VIRTIO_PCI_BAR_MODERN], VIRTIO_PCI_MODERN_BAR_SIZE);
        cr_assert_eq(f.bar_size[VIRTIO_PCI_BAR_MSIX], VIRTIO_PCI_MSIX_BAR_SIZE);
        cr_assert_eq(f.bar[VIRTIO_PCI_BAR_MODERN], vp.pci.mapped_addr[VIRTIO_PCI_BAR_MODERN]);
        cr_assert(vp.pci.mapped[VIRTIO_PCI_BAR_MODERN], "decoding once the command register says");
        cr_assert_eq(f.bar[VIRTIO_PCI_BAR_MODERN] % VIRTIO_PCI_MODERN_BAR_SIZE, 0);
}

Test(modern, capabilities_as_virtio_pci_find_capability_sees_them)
{
        cr_assert_eq(f.nvndr, 5, "common, isr, device, notify, pci_cfg");
        cr_assert_eq(f.common.bar, VIRTIO_PCI_BAR_MODERN);
        cr_assert_eq(f.common.offset, VIRTIO_PCI_MODERN_COMMON);
        cr_assert_geq(f.common.length, sizeof(struct virtio_pci_common_cfg));
        cr_assert_eq(f.isr.bar, VIRTIO_PCI_BAR_MODERN);
        cr_assert_eq(f.isr.offset, VIRTIO_PCI_MODERN_ISR);
        cr_assert_geq(f.isr.length, 1);
        cr_assert_eq(f.device_cfg.bar, VIRTIO_PCI_BAR_MODERN);
        cr_assert_eq(f.device_cfg.offset, VIRTIO_PCI_MODERN_DEVICE);
        cr_assert_eq(f.device_cfg.length, VPH_FAKE_CONFIG);
        cr_assert_eq(f.notify.bar, VIRTIO_PCI_BAR_MODERN);
        cr_assert_eq(f.notify.offset, VIRTIO_PCI_MODERN_NOTIFY);
        cr_assert_eq(f.notify_mult, VIRTIO_PCI_NOTIFY_MULTIPLIER);
        /* vp_modern_map_vq_notify: off * multiplier + 2 must fit the cap. */
        cr_assert_geq(f.notify.length, (VPH_FAKE_QUEUES - 1) * f.notify_mult + 2);
        cr_assert_neq(f.pci_cfg.pos, 0);
        cr_assert_eq(vph_cfg_read(&h, slot, f.pci_cfg.pos + VIRTIO_PCI_CAP_LEN, 1),
                     sizeof(struct virtio_pci_cfg_cap));
        /* Every region lies inside the BAR (vp_modern_map_capability's check). */
        cr_assert_leq(f.common.offset + f.common.length, f.bar_size[f.common.bar]);
        cr_assert_leq(f.notify.offset + f.notify.length, f.bar_size[f.notify.bar]);
        cr_assert_leq(f.device_cfg.offset + f.device_cfg.length, f.bar_size[f.device_cfg.bar]);
}

Test(modern, msix_capability_one_vector_per_queue_plus_config)
{
        cr_assert_neq(f.msix_cap, 0);
        cr_assert_eq(f.msix_nvec, NVEC);
        cr_assert_eq(f.msix_bar, VIRTIO_PCI_BAR_MSIX);
        cr_assert_eq(f.pba_bar, VIRTIO_PCI_BAR_MSIX);
        cr_assert_eq(f.pba_off, 0x1000);
}

Test(modern, config_space_reads_the_same_through_ecam)
{
        for (uint32_t reg = 0; reg < 0x100; reg += 4)
                cr_assert_eq(vph_ecam_read(&h, slot, reg, 4), vph_cfg_read(&h, slot, reg, 4),
                             "dword 0x%x", reg);
        cr_assert_eq(vph_ecam_read(&h, slot, 0x100, 4), 0, "no extended capabilities");
}

Test(modern, bar_accesses_need_memory_decode)
{
        uint16_t cmd = (uint16_t)vph_cfg_read(&h, slot, PCI_COMMAND, 2);

        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), VPH_FAKE_QUEUES);
        vph_cfg_write(&h, slot, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff, "unclaimed");
        vph_common_write(&f, VIRTIO_PCI_COMMON_STATUS, 1, ACK);
        vph_cfg_write(&h, slot, PCI_COMMAND, 2, cmd);
        cr_assert_eq(status(), 0, "a write while not decoding went nowhere");
}

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

/* --- notifications ------------------------------------------------------------------ */

Test(modern, notify_reaches_the_device_through_the_kick_eventfd)
{
        bring_up(true);
        h.kvm.ioeventfd_refused = true;
        vph_modern_notify(&f, 1, 1);
        cr_assert_eq(fd.notifies[1], 0, "never on the vCPU");
        cr_assert_eq(vph_poll(&h, 1000), 1);
        cr_assert_eq(fd.notifies[1], 1);
        cr_assert_eq(fd.notifies[0] + fd.notifies[2], 0);
        /* Kicks coalesce in the eventfd: three writes, one notify. */
        vph_modern_notify(&f, 2, 2);
        vph_modern_notify(&f, 2, 2);
        vph_modern_notify(&f, 2, 2);
        drain_loop();
        cr_assert_eq(fd.notifies[2], 1);
        cr_assert_eq(vph_poll(&h, 0), 0, "nothing left pending");
}

Test(modern, notify_before_driver_ok_or_out_of_range_does_nothing)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        vph_modern_notify(&f, 0, 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0], 0, "not before DRIVER_OK");
        vph_modern_add_status(&f, DOK);
        /* Past the last queue, up to the end of the BAR: ignored. */
        vph_modern_notify(&f, VPH_FAKE_QUEUES, VPH_FAKE_QUEUES);
        vph_modern_notify(&f, 0xffff, 0x3ff);
        vph_bar_write(&f, VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_BAR_SIZE - 2, 2, 0);
        cr_assert_eq(vph_bar_read(&f, VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_NOTIFY, 2), 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0] + fd.notifies[1] + fd.notifies[2], 0);
        /* Queue 1 was never enabled: its kick is dropped. */
        vph_modern_notify(&f, 1, 1);
        drain_loop();
        cr_assert_eq(fd.notifies[1], 0);
        vph_modern_notify(&f, 0, 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0], 1);
}

Test(modern, ioeventfds_follow_the_bar)
{
        uint64_t base = f.bar[VIRTIO_PCI_BAR_MODERN];
        uint16_t cmd = (uint16_t)vph_cfg_read(&h, slot, PCI_COMMAND, 2);

        for (unsigned int q = 0; q < VPH_FAKE_QUEUES; q++) {
                const struct vph_ioev *e =
                    vph_ioev_at(&h, base + VIRTIO_PCI_MODERN_NOTIFY + 4 * q, false);

                cr_assert_not_null(e, "queue %u", q);
                cr_assert_eq(e->fd, vp.queue[q].kick_fd);
                cr_assert_eq(e->len, 2);
                cr_assert_not(e->match);
        }
        vph_cfg_write(&h, slot, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
        for (unsigned int q = 0; q < VPH_FAKE_QUEUES; q++)
                cr_assert_null(vph_ioev_at(&h, base + VIRTIO_PCI_MODERN_NOTIFY + 4 * q, false));
        /* The guest moves BAR 4 and decodes again. */
        uint64_t nb = base + 0x100000;

        vph_cfg_write(&h, slot, PCI_BASE_ADDRESS_4, 4, (uint32_t)nb | 4);
        vph_cfg_write(&h, slot, PCI_COMMAND, 2, cmd);
        cr_assert_not_null(vph_ioev_at(&h, nb + VIRTIO_PCI_MODERN_NOTIFY, false));
        cr_assert_null(vph_ioev_at(&h, base + VIRTIO_PCI_MODERN_NOTIFY, false));
        f.bar[VIRTIO_PCI_BAR_MODERN] = nb;
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), VPH_FAKE_QUEUES);
}

/* --- interrupts ------------------------------------------------------------------------ */

Test(modern, intx_sets_isr_and_isr_read_clears_it)
{
        int intx;

        bring_up(false);
        cr_assert_not_null(vph_irqfd_for_gsi(&h, vp.pci.intx_gsi));
        intx = vph_irqfd_for_gsi(&h, vp.pci.intx_gsi)->fd;
        cr_assert_geq(vph_irqfd_for_gsi(&h, vp.pci.intx_gsi)->resample_fd, 0, "level: resample");
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);
        cr_assert_eq(vph_efd_take(intx), 1, "INTx asserted");
        cr_assert_eq(vph_isr_read(&f), ISR_QUEUE);
        cr_assert_eq(vph_isr_read(&f), 0, "read-to-clear");
        fd.dev.irq.config(fd.dev.irq.ctx);
        cr_assert_eq(vph_efd_take(intx), 1);
        fd.dev.irq.queue(fd.dev.irq.ctx, 2);
        cr_assert_eq(vph_isr_read(&f), ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG);
        cr_assert_eq(vph_isr_read(&f), 0);
        /* Only the first ISR byte is the ISR; the rest of the region reads 0, writes do nothing. */
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);
        vph_bar_write(&f, f.isr.bar, f.isr.offset, 1, 0);
        cr_assert_eq(vph_bar_read(&f, f.isr.bar, f.isr.offset + 1, 1), 0);
        cr_assert_eq(vph_isr_read(&f), 1, "an ISR write does not clear it");
        fd.dev.irq.queue(fd.dev.irq.ctx, VPH_FAKE_QUEUES); /* no such queue */
        cr_assert_eq(vph_isr_read(&f), 0);
}

Test(modern, intx_disable_keeps_the_line_quiet)
{
        int intx;

        bring_up(false);
        intx = vph_irqfd_for_gsi(&h, vp.pci.intx_gsi)->fd;
        vph_efd_take(intx);
        vph_cfg_write(&h, slot, PCI_COMMAND, 2,
                      vph_cfg_read(&h, slot, PCI_COMMAND, 2) | PCI_COMMAND_INTX_DISABLE);
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);
        cr_assert_eq(vph_efd_take(intx), 0);
        cr_assert_eq(vph_isr_read(&f), 1, "the ISR still says why");
}

Test(modern, intx_resample_reasserts_while_the_isr_is_pending)
{
        const struct vph_irqfd *irq;

        bring_up(false);
        irq = vph_irqfd_for_gsi(&h, vp.pci.intx_gsi);
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);
        cr_assert_eq(vph_efd_take(irq->fd), 1);
        /* The guest EOIs without reading the ISR: KVM signals the resample fd. */
        uint64_t one = 1;

        cr_assert_eq(write(irq->resample_fd, &one, 8), 8);
        drain_loop();
        cr_assert_eq(vph_efd_take(irq->fd), 1, "re-asserted");
        cr_assert_eq(vph_isr_read(&f), 1);
        cr_assert_eq(write(irq->resample_fd, &one, 8), 8);
        drain_loop();
        cr_assert_eq(vph_efd_take(irq->fd), 0, "ISR read: the line stays low");
}

Test(modern, msix_delivers_on_the_programmed_vector_and_leaves_the_isr)
{
        const struct vph_irqfd *irq;

        bring_up(true);
        fd.dev.irq.queue(fd.dev.irq.ctx, 1);
        cr_assert_eq(vp.msix.fired[2], 1, "queue 1 -> vector 2");
        irq = vph_irqfd_for_gsi(&h, vp.msix.gsi[2]);
        cr_assert_not_null(irq);
        cr_assert_eq(vph_efd_take(irq->fd), 1, "through the vector's irqfd");
        cr_assert_eq(vph_isr_read(&f), 0, "MSI-X: no ISR");
        cr_assert_eq(vph_efd_take(vph_irqfd_for_gsi(&h, vp.pci.intx_gsi)->fd), 0, "no INTx");
        fd.dev.irq.config(fd.dev.irq.ctx);
        cr_assert_eq(vp.msix.fired[0], 1, "config -> vector 0");
        cr_assert_gt(h.kvm.routing_commits, 0, "the table entries were routed");
}

Test(modern, msix_with_no_vector_is_silent)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        vph_modern_add_status(&f, DOK);
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);
        fd.dev.irq.config(fd.dev.irq.ctx);
        for (unsigned int v = 0; v < NVEC; v++)
                cr_assert_eq(vp.msix.fired[v], 0);
        cr_assert_eq(vph_isr_read(&f), 0);
}

/* --- device config ------------------------------------------------------------------------ */

Test(modern, device_config_reads_at_every_width)
{
        cr_assert_eq(vph_devcfg_read(&f, 0, 1), 0x10);
        cr_assert_eq(vph_devcfg_read(&f, 7, 1), 0x17);
        cr_assert_eq(vph_devcfg_read(&f, 2, 2), 0x1312);
        cr_assert_eq(vph_devcfg_read(&f, 4, 4), 0x17161514);
        cr_assert_eq(vph_devcfg_read(&f, 0, 8), 0x1716151413121110ull);
}

Test(modern, device_config_past_the_end_reads_zero_and_drops_writes)
{
        cr_assert_eq(vph_devcfg_read(&f, 6, 4), 0, "straddling the end");
        cr_assert_eq(vph_devcfg_read(&f, 8, 1), 0);
        cr_assert_eq(vph_devcfg_read(&f, 0x100, 4), 0);
        cr_assert_eq(vph_devcfg_read(&f, 0xffc, 4), 0);
        vph_devcfg_write(&f, 6, 4, 0xdeadbeef);
        vph_devcfg_write(&f, 8, 1, 0xaa);
        vph_devcfg_write(&f, 0xffc, 4, 0xdeadbeef);
        cr_assert_eq(fd.config_writes, 0);
        cr_assert_eq(vph_devcfg_read(&f, 0, 8), 0x1716151413121110ull);
        vph_devcfg_write(&f, 1, 1, 0xab);
        cr_assert_eq(fd.config_writes, 1);
        cr_assert_eq(fd.config[1], 0xab);
}

Test(modern, config_generation_moves_with_a_config_change)
{
        uint8_t g0 = (uint8_t)vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1);

        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), g0, "stable");
        fd.dev.irq.config(fd.dev.irq.ctx);
        cr_assert_neq(vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), g0);
        /* Writes to the read-only fields change nothing. */
        uint8_t g1 = (uint8_t)vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1);

        vph_common_write(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1, g1 + 5);
        vph_common_write(&f, VIRTIO_PCI_COMMON_NUMQ, 2, 77);
        vph_common_write(&f, VIRTIO_PCI_COMMON_DF, 4, 0);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), g1);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_NUMQ, 2), VPH_FAKE_QUEUES);
        cr_assert_eq(vph_modern_device_features(&f), OFFERED);
}

Test(modern, common_config_past_its_end_reads_zero)
{
        cr_assert_eq(vph_common_read(&f, sizeof(struct virtio_pci_common_cfg), 4), 0);
        cr_assert_eq(vph_common_read(&f, 0xffc, 4), 0);
        vph_common_write(&f, 0xffc, 4, 0xffffffff);
        cr_assert_eq(status(), 0);
}

/* --- reset ------------------------------------------------------------------------------- */

Test(modern, reset_after_driver_ok_resets_the_device_once)
{
        bring_up(true);
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(fd.resets, 1);
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(fd.resets, 1, "already reset: not again");
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_SIZE, 2), VPH_FAKE_QMAX);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_MSIX, 2), NO_VEC);
                cr_assert_eq(qreg(q, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
                cr_assert_not(fd.dev.vq_ready[q]);
        }
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_MSIX, 2), NO_VEC);
        vph_common_write(&f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_GF, 4), 0);
        cr_assert_eq(fd.dev.features, 0);
        /* A kick after the reset goes nowhere. */
        vph_modern_notify(&f, 0, 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0], 0);
        /* And the device comes back. */
        bring_up(true);
        cr_assert_eq(fd.activates, 2);
}

Test(modern, reset_before_driver_ok_does_not_reset_the_device)
{
        cr_assert_eq(vph_modern_negotiate(&f, ~0ull, NULL), 0);
        cr_assert_eq(setup_queue(0, 16, NO_VEC), 0);
        cr_assert_eq(vph_modern_enable_queue(&f, 0), 1);
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(fd.resets, 0, "never activated");
        cr_assert_eq(qreg(0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
        /* A refused DRIVER_OK did not activate either. */
        vph_modern_add_status(&f, ACK | DRV);
        vph_modern_add_status(&f, DOK);
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(fd.resets, 0);
        cr_assert_eq(fd.activates, 0);
}

Test(modern, reset_with_kicks_pending_drops_them)
{
        bring_up(false);
        vph_modern_notify(&f, 0, 0);
        cr_assert_eq(vph_modern_reset(&f), 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0], 0);
}

/* --- NEEDS_RESET --------------------------------------------------------------------------- */

Test(modern, needs_reset_sets_the_bit_and_raises_a_config_interrupt)
{
        uint8_t g0;

        bring_up(true);
        g0 = (uint8_t)vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
        cr_assert_not_null(fd.dev.needs_reset);
        fd.dev.needs_reset(&fd.dev);
        cr_assert_eq(status(), ACK | DRV | FOK | DOK | NEEDS_RESET);
        cr_assert_eq(vp.msix.fired[0], 1, "config vector");
        cr_assert_eq(vph_efd_take(vph_irqfd_for_gsi(&h, vp.msix.gsi[0])->fd), 1);
        cr_assert_neq(vph_common_read(&f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), g0);
        /* Once is enough. */
        virtio_device_broken(&fd.dev);
        cr_assert_eq(vp.msix.fired[0], 1);
        /* The device is not served while it waits for the reset. */
        vph_modern_notify(&f, 0, 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0], 0);
        /* Status writes without a reset keep the bit; a reset clears it. */
        vph_common_write(&f, VIRTIO_PCI_COMMON_STATUS, 1, ACK | DRV | FOK | DOK);
        cr_assert_eq(status() & NEEDS_RESET, NEEDS_RESET);
        cr_assert_eq(vph_modern_reset(&f), 0);
        cr_assert_eq(status(), 0);
        cr_assert_eq(fd.resets, 1);
}

Test(modern, needs_reset_without_msix_uses_the_isr)
{
        bring_up(false);
        vph_efd_take(vph_irqfd_for_gsi(&h, vp.pci.intx_gsi)->fd);
        fd.dev.needs_reset(&fd.dev);
        cr_assert_eq(status() & NEEDS_RESET, NEEDS_RESET);
        cr_assert_eq(vph_efd_take(vph_irqfd_for_gsi(&h, vp.pci.intx_gsi)->fd), 1);
        cr_assert_eq(vph_isr_read(&f), VIRTIO_PCI_ISR_CONFIG);
}

Test(modern, failed_activation_reports_needs_reset)
{
        fd.activate_result = -EIO;
        cr_assert_eq(bring_up(true), ACK | DRV | FOK | DOK | NEEDS_RESET);
        cr_assert_eq(fd.activates, 1);
        cr_assert_eq(status() & NEEDS_RESET, NEEDS_RESET);
        cr_assert_eq(vp.msix.fired[0], 1);
        vph_modern_notify(&f, 0, 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0], 0);
}

/* --- the VIRTIO_PCI_CAP_PCI_CFG window ------------------------------------------------------- */

static void window_aim(uint8_t bar, uint32_t off, uint32_t len)
{
        vph_cfg_write(&h, slot, f.pci_cfg.pos + VIRTIO_PCI_CAP_BAR, 1, bar);
        vph_cfg_write(&h, slot, f.pci_cfg.pos + VIRTIO_PCI_CAP_OFFSET, 4, off);
        vph_cfg_write(&h, slot, f.pci_cfg.pos + VIRTIO_PCI_CAP_LENGTH, 4, len);
}

static uint32_t window_data(uint32_t len)
{
        return vph_cfg_read(&h, slot,
                            f.pci_cfg.pos + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), len);
}

static void window_write(uint32_t len, uint32_t v)
{
        vph_cfg_write(&h, slot, f.pci_cfg.pos + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data),
                      len, v);
}

Test(modern, pci_cfg_window_reads_the_bar)
{
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_DEVICE + 4, 4);
        cr_assert_eq(window_data(4), 0x17161514);
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_DEVICE + 2, 2);
        cr_assert_eq(window_data(2), 0x1312);
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_COMMON_NUMQ, 2);
        cr_assert_eq(window_data(2), VPH_FAKE_QUEUES);
        /* The window works with decoding off (that is what it is for). */
        vph_cfg_write(&h, slot, PCI_COMMAND, 2, 0);
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_DEVICE, 1);
        cr_assert_eq(window_data(1), 0x10);
}

Test(modern, pci_cfg_window_writes_the_bar)
{
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_COMMON_STATUS, 1);
        window_write(1, ACK);
        cr_assert_eq(status(), ACK);
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_DEVICE + 3, 1);
        window_write(1, 0x99);
        cr_assert_eq(fd.config[3], 0x99);
}

Test(modern, pci_cfg_window_notify_kicks)
{
        bring_up(false);
        h.kvm.ioeventfd_refused = true;
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_NOTIFY + 4, 2);
        window_write(2, 1);
        drain_loop();
        cr_assert_eq(fd.notifies[1], 1);
}

Test(modern, pci_cfg_window_refuses_bad_aims)
{
        const struct {
                uint8_t bar;
                uint32_t off, len;
        } bad[] = {
            {0, VIRTIO_PCI_COMMON_STATUS, 1},                           /* not the modern BAR */
            {1, 0, 4},                                                  /* the MSI-X BAR */
            {VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_COMMON_STATUS, 3},       /* length 3 */
            {VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_COMMON_STATUS, 8},       /* length 8 */
            {VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_BAR_SIZE - 2, 4}, /* past the BAR */
            {VIRTIO_PCI_BAR_MODERN, 0xfffffffe, 4},                     /* wraps */
        };

        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                window_aim(bad[i].bar, bad[i].off, bad[i].len);
                window_write(4, ACK);
                cr_assert_eq(status(), 0, "case %u reached the BAR", i);
        }
}

/* Virtio 1.1 4.1.4.9.1: "Upon detecting driver read access to pci_cfg_data, the device MUST
 * execute a read access ... in BAR". wisp samples the BAR when the window is aimed instead. */
Test(modern, pci_cfg_window_read_returns_a_stale_value)
{
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_COMMON_STATUS, 1);
        vph_common_write(&f, VIRTIO_PCI_COMMON_STATUS, 1, ACK); /* status changes meanwhile */
        cr_expect_eq(window_data(1), ACK, "read the status sampled when the window was aimed");
}

/* Aiming the window is not an access: SeaBIOS's vp_read sequence (bar, offset, length, then
 * read the data) must return the ISR, and only the data read may clear it. */
Test(modern, pci_cfg_window_aiming_at_the_isr_clears_it)
{
        bring_up(false);
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_ISR, 1);
        cr_assert_eq(window_data(1), 0, "nothing pending yet");
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);                         /* used buffers: ISR bit 0 */
        window_aim(VIRTIO_PCI_BAR_MODERN, VIRTIO_PCI_MODERN_ISR, 1); /* SeaBIOS re-aims */
        cr_expect_eq(window_data(1), ISR_QUEUE,
                     "the interrupt was consumed by the aiming writes, never seen");
        cr_expect_eq(vph_isr_read(&f), 0, "and it is gone from the ISR too");
}

/* --- transitional: both interfaces, the driver picks modern ----------------------------------- */

Test(transitional, ids_bars_and_capabilities)
{
        cr_assert_eq(f.device, 0x1000 + VPH_FAKE_ID, "transitional id");
        cr_assert_eq(f.revision, 0);
        cr_assert_eq(f.subsys, VPH_FAKE_ID, "Linux takes the virtio id from here");
        cr_assert(f.bar_io[VIRTIO_PCI_BAR_LEGACY]);
        cr_assert_eq(f.bar_size[VIRTIO_PCI_BAR_LEGACY], 32, "24 + 8 config bytes, a power of two");
        cr_assert(f.bar_64[VIRTIO_PCI_BAR_MODERN]);
        cr_assert_neq(f.common.pos, 0);
        cr_assert_neq(f.notify.pos, 0);
        cr_assert_neq(f.isr.pos, 0);
}

Test(transitional, version_1_only_on_the_modern_interface)
{
        cr_assert_eq(vph_modern_device_features(&f), OFFERED);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_HOST_FEATURES, 4),
                     (uint32_t)(VPH_FAKE_FEATURES | RING_FEATURES | (1ull << VIRTIO_F_ANY_LAYOUT)));
}

Test(transitional, a_modern_driver_works_and_legacy_sees_the_same_state)
{
        bring_up(true);
        cr_assert_eq(fd.activates, 1);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_STATUS, 1), ACK | DRV | FOK | DOK);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_SEL, 2, 1);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_PCI_QUEUE_NUM, 2), VPH_FAKE_QMAX);
        cr_assert_eq(vph_legacy_read(&f, VIRTIO_MSI_QUEUE_VECTOR, 2), 2);
}

Test(transitional, ioeventfds_on_both_notify_addresses)
{
        uint64_t io = f.bar[VIRTIO_PCI_BAR_LEGACY], mem = f.bar[VIRTIO_PCI_BAR_MODERN];

        for (unsigned int q = 0; q < VPH_FAKE_QUEUES; q++) {
                const struct vph_ioev *m =
                    vph_ioev_at(&h, mem + VIRTIO_PCI_MODERN_NOTIFY + 4 * q, false);
                unsigned int n = 0;

                cr_assert_not_null(m);
                cr_assert_eq(m->fd, vp.queue[q].kick_fd);
                for (unsigned int i = 0; i < h.kvm.nioev; i++) {
                        const struct vph_ioev *e = &h.kvm.ioev[i];

                        if (!e->on || !e->pio || e->fd != vp.queue[q].kick_fd)
                                continue;
                        n++;
                        cr_assert_eq(e->addr, io + VIRTIO_PCI_QUEUE_NOTIFY);
                        cr_assert_eq(e->len, 2);
                        cr_assert(e->match);
                        cr_assert_eq(e->datamatch, q);
                }
                cr_assert_eq(n, 1, "one port ioeventfd for queue %u", q);
        }
}

Test(transitional, ioeventfd_refused_still_kicks_through_the_bar)
{
        vph_fini(&h);
        virtio_pci_destroy(&vp);
        cr_assert_eq(vph_init(&h, RAM_SIZE), 0);
        h.kvm.ioeventfd_refused = true;
        vph_fake_dev_init(&fd, VPH_FAKE_ID);
        cr_assert_eq(virtio_pci_init(&vp, &fd.dev, VIRTIO_TRANSITIONAL, &h.env), 0);
        vp.pci.name = "virtio-fake";
        cr_assert_eq(virtio_pci_plug(&vp, &h.bus), 0);
        cr_assert_eq(vph_probe(&h, vp.pci.slot, &f), 0);
        slot = (int)vp.pci.slot;
        cr_assert_eq(h.kvm.nioev, 0);
        bring_up(false);
        vph_modern_notify(&f, 0, 0);
        drain_loop();
        cr_assert_eq(fd.notifies[0], 1);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_NOTIFY, 2, 2);
        drain_loop();
        cr_assert_eq(fd.notifies[2], 1);
}
