/* Unit tests for virtio/pci_legacy.c: config under MSI-X, notify and interrupts, reset. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "virtio_pci_legacy_fixture.h"

TestSuite(legacy, .init = setup_legacy, .fini = teardown);
TestSuite(legacy_transitional, .init = setup_transitional, .fini = teardown);

/* --- MSI-X vectors move the device config ----------------------------------------------------- */

Test(legacy, device_config_at_20_without_msix_and_at_24_with_it)
{
        /* vp_get reads byte by byte at VIRTIO_PCI_CONFIG_OFF(msix_enabled). */
        for (uint32_t i = 0; i < 8 && 20 + i < 32; i++)
                cr_assert_eq(lread(VIRTIO_PCI_CONFIG_OFF(false) + i, 1), 0x10 + i);
        cr_assert_eq(lread(20, 2), 0x1110, "offset 20 is config, not a vector");
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(lread(VIRTIO_MSI_CONFIG_VECTOR, 2), NO_VEC);
        cr_assert_eq(lread(VIRTIO_MSI_QUEUE_VECTOR, 2), NO_VEC);
        for (uint32_t i = 0; i < 8; i++)
                cr_assert_eq(lread(VIRTIO_PCI_CONFIG_OFF(true) + i, 1), 0x10 + i);
        cr_assert_eq(lread(24, 4), 0x13121110);
        vph_msix_disable(&f);
        cr_assert_eq(lread(20, 1), 0x10, "back at 20");
}

Test(legacy, config_writes_at_the_current_offset)
{
        lwrite(20 + 2, 1, 0xab);
        cr_assert_eq(fd.config[2], 0xab);
        vph_msix_enable(&f, NVEC);
        lwrite(24 + 3, 1, 0xcd);
        cr_assert_eq(fd.config[3], 0xcd);
        lwrite(VIRTIO_MSI_CONFIG_VECTOR, 2, 1);
        cr_assert_eq(fd.config_writes, 2, "the vector write is not config");
}

Test(legacy, device_config_past_the_end_reads_zero_and_drops_writes)
{
        /* Without MSI-X config is 20..27 and the BAR has 32 bytes. */
        cr_assert_eq(lread(28, 4), 0);
        cr_assert_eq(lread(26, 4), 0, "straddling the end");
        lwrite(28, 4, 0xffffffff);
        lwrite(26, 4, 0xffffffff);
        cr_assert_eq(fd.config_writes, 0);
        cr_assert_eq(lread(20, 4), 0x13121110);
        cr_assert_eq(lread(32, 1), 0xff, "past the BAR: unclaimed");
}

Test(legacy, msix_vectors_beyond_the_table_read_back_no_vector)
{
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(config_vector(NVEC - 1), NVEC - 1);
        cr_assert_eq(config_vector(NVEC), NO_VEC);
        cr_assert_eq(config_vector(0x8000), NO_VEC);
        cr_assert_eq(queue_vector(0, NVEC - 1), NVEC - 1);
        cr_assert_eq(queue_vector(0, NVEC), NO_VEC);
        cr_assert_eq(queue_vector(1, 0xfffe), NO_VEC);
}

Test(legacy, registers_need_their_own_width)
{
        lwrite(VIRTIO_PCI_STATUS, 2, ACK);
        cr_assert_eq(status(), 0, "a 16-bit status write is not a register");
        cr_assert_eq(lread(VIRTIO_PCI_STATUS, 2), 0xffff);
        cr_assert_eq(lread(VIRTIO_PCI_HOST_FEATURES, 2), 0xffff);
        cr_assert_eq(lread(VIRTIO_PCI_HOST_FEATURES + 1, 1), 0xff, "inside a register");
        lwrite(VIRTIO_PCI_QUEUE_SEL, 4, 2);
        cr_assert_eq(lread(VIRTIO_PCI_QUEUE_SEL, 2), 0);
        cr_assert_eq(lread(VIRTIO_PCI_ISR, 4), 0xffffffff);
}

/* --- notify and interrupts -----------------------------------------------------------------------
 */

Test(legacy, notify_at_16_kicks_the_queue)
{
        h.kvm.ioeventfd_refused = true;
        cr_assert_eq(bring_up(true, (uint32_t)LEGACY_OFFERED), ACK | DRV | DOK);
        lwrite(VIRTIO_PCI_QUEUE_NOTIFY, 2, 2);
        cr_assert_eq(vph_poll(&h, 1000), 1);
        cr_assert_eq(fd.notifies[2], 1);
        lwrite(VIRTIO_PCI_QUEUE_NOTIFY, 2, VPH_FAKE_QUEUES);
        lwrite(VIRTIO_PCI_QUEUE_NOTIFY, 2, 0xffff);
        drain_loop();
        cr_assert_eq(fd.notifies[0] + fd.notifies[1] + fd.notifies[2], 1);
}

Test(legacy, notify_ioeventfd_is_a_port_with_datamatch)
{
        uint64_t io = f.bar[VIRTIO_PCI_BAR_LEGACY];
        unsigned int n = 0;

        for (unsigned int i = 0; i < h.kvm.nioev; i++) {
                const struct vph_ioev *e = &h.kvm.ioev[i];

                if (!e->on)
                        continue;
                n++;
                cr_assert(e->pio);
                cr_assert_eq(e->addr, io + VIRTIO_PCI_QUEUE_NOTIFY);
                cr_assert_eq(e->len, 2);
                cr_assert(e->match);
                cr_assert_lt(e->datamatch, VPH_FAKE_QUEUES);
                cr_assert_eq(e->fd, vp.queue[e->datamatch].kick_fd);
        }
        cr_assert_eq(n, VPH_FAKE_QUEUES);
        vph_cfg_write(&h, slot, PCI_COMMAND, 2, 0);
        for (unsigned int i = 0; i < h.kvm.nioev; i++)
                cr_assert_not(h.kvm.ioev[i].on, "I/O decode off: deassigned");
}

Test(legacy, isr_at_19_reads_and_clears)
{
        int intx;

        cr_assert_eq(bring_up(false, 0), ACK | DRV | DOK);
        intx = vph_irqfd_for_gsi(&h, vp.pci.intx_gsi)->fd;
        fd.dev.irq.queue(fd.dev.irq.ctx, 1);
        cr_assert_eq(vph_efd_take(intx), 1);
        cr_assert_eq(lread(VIRTIO_PCI_ISR, 1), ISR_QUEUE);
        cr_assert_eq(lread(VIRTIO_PCI_ISR, 1), 0);
        fd.dev.irq.config(fd.dev.irq.ctx);
        cr_assert_eq(lread(VIRTIO_PCI_ISR, 1), VIRTIO_PCI_ISR_CONFIG);
        lwrite(VIRTIO_PCI_ISR, 1, 0xff);
        cr_assert_eq(lread(VIRTIO_PCI_ISR, 1), 0, "read-only");
}

Test(legacy, msix_queue_interrupt_on_its_vector)
{
        cr_assert_eq(bring_up(true, 0), ACK | DRV | DOK);
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);
        cr_assert_eq(vp.msix.fired[1], 1);
        cr_assert_eq(lread(VIRTIO_PCI_ISR, 1), 0);
}

/* --- reset and NEEDS_RESET
 * ------------------------------------------------------------------------- */

Test(legacy, reset_after_driver_ok_resets_the_device_once)
{
        cr_assert_eq(bring_up(true, (uint32_t)LEGACY_OFFERED), ACK | DRV | DOK);
        reset();
        cr_assert_eq(fd.resets, 1);
        reset();
        cr_assert_eq(fd.resets, 1);
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert_eq(queue_pfn(q), 0);
                cr_assert_eq(queue_num(q), VPH_FAKE_QMAX);
                cr_assert_not(fd.dev.vq_ready[q]);
        }
        cr_assert_eq(lread(VIRTIO_PCI_GUEST_FEATURES, 4), 0);
        cr_assert_eq(lread(VIRTIO_MSI_CONFIG_VECTOR, 2), NO_VEC);
        cr_assert_eq(bring_up(true, (uint32_t)LEGACY_OFFERED), ACK | DRV | DOK);
        cr_assert_eq(fd.activates, 2);
}

Test(legacy, del_vqs_after_reset_as_linux_removes_the_driver)
{
        cr_assert_eq(bring_up(true, 0), ACK | DRV | DOK);
        reset();
        /* del_vq: vector NO_VECTOR, flush by reading ISR, PFN 0. */
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert_eq(queue_vector(q, NO_VEC), NO_VEC);
                lread(VIRTIO_PCI_ISR, 1);
                set_pfn(q, 0);
        }
        cr_assert_eq(fd.resets, 1);
        cr_assert_eq(status(), 0);
}

Test(legacy, needs_reset_and_config_interrupt)
{
        cr_assert_eq(bring_up(true, 0), ACK | DRV | DOK);
        fd.dev.needs_reset(&fd.dev);
        cr_assert_eq(status(), ACK | DRV | DOK | NEEDS_RESET);
        cr_assert_eq(vp.msix.fired[0], 1);
        reset();
        cr_assert_eq(status(), 0);
}

/* --- transitional: a legacy driver on the transitional function
 * --------------------------------------- */

Test(legacy_transitional, legacy_driver_on_a_transitional_function)
{
        cr_assert_eq(f.device, 0x1000 + VPH_FAKE_ID);
        cr_assert_eq(f.revision, 0);
        cr_assert_eq(bring_up(true, (uint32_t)LEGACY_OFFERED), ACK | DRV | DOK);
        cr_assert_eq(fd.features_at_activate, LEGACY_OFFERED, "no VERSION_1 from legacy");
        /* The modern common config shows the same state. */
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_STATUS, 1), ACK | DRV | DOK);
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
        cr_assert_eq(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_DESCLO, 8), (uint64_t)pfn_of(0) << 12);
}

Test(legacy_transitional, legacy_io_bar_holds_header_vectors_and_config)
{
        cr_assert_eq(f.bar_size[VIRTIO_PCI_BAR_LEGACY], 32);
        cr_assert_eq(lread(VIRTIO_PCI_HOST_FEATURES, 4), LEGACY_OFFERED);
}
