/* Unit tests for virtio/pci_modern.c: notifications, interrupts, reset and NEEDS_RESET. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "virtio_pci_modern_fixture.h"

TestSuite(modern, .init = setup_modern, .fini = teardown);

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
