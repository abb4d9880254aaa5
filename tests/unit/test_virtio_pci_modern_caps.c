/* Unit tests for virtio/pci_modern.c: IDs, capabilities, config, PCI_CFG window, transitional. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio_pci_modern_fixture.h"

TestSuite(modern, .init = setup_modern, .fini = teardown);
TestSuite(transitional, .init = setup_transitional, .fini = teardown);

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
