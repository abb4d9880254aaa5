/* Unit tests for virtio/pci_legacy.c: IDs, Linux's probe sequence, queue set-up. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "virtio/queue.h"
#include "virtio_pci_legacy_fixture.h"
#include "vring_driver.h"

TestSuite(legacy, .init = setup_legacy, .fini = teardown);

/* --- identity ------------------------------------------------------------------ */

Test(legacy, ids_revision_0_io_bar_and_no_modern_caps)
{
        cr_assert_eq(f.vendor, 0x1af4);
        cr_assert_eq(f.device, 0x1000 + VPH_FAKE_ID);
        cr_assert(f.device >= 0x1000 && f.device <= 0x103f, "vp_legacy_probe's range");
        cr_assert_eq(f.revision, 0, "VIRTIO_PCI_ABI_VERSION");
        cr_assert_eq(f.subsys, VPH_FAKE_ID, "the legacy driver's virtio id");
        cr_assert(f.bar_io[VIRTIO_PCI_BAR_LEGACY]);
        cr_assert_eq(f.bar_size[VIRTIO_PCI_BAR_LEGACY], 32);
        cr_assert_eq(f.bar_size[VIRTIO_PCI_BAR_MODERN], 0, "no modern BAR");
        cr_assert_eq(vph_cfg_read(&h, slot, PCI_BASE_ADDRESS_4, 4), 0);
        cr_assert_eq(f.nvndr, 0, "no virtio capabilities");
        cr_assert_neq(f.msix_cap, 0);
        cr_assert_eq(f.msix_nvec, NVEC);
}

Test(legacy, host_features_never_carry_version_1)
{
        cr_assert_eq(lread(VIRTIO_PCI_HOST_FEATURES, 4), LEGACY_OFFERED);
        cr_assert_eq(LEGACY_OFFERED >> 32, 0);
        /* Read-only. */
        lwrite(VIRTIO_PCI_HOST_FEATURES, 4, 0xffffffff);
        cr_assert_eq(lread(VIRTIO_PCI_HOST_FEATURES, 4), LEGACY_OFFERED);
}

Test(legacy, device_ids_of_the_spec_table)
{
        /* Linux binds legacy devices by subsystem id; other drivers by these. */
        static const struct {
                uint32_t id;
                uint16_t pci;
        } t[] = {{1, 0x1000}, {2, 0x1001}, {3, 0x1003}, {4, 0x1005}, {9, 0x1009}};

        for (unsigned int i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                struct vph_fake_dev d2;
                struct virtio_pci v2;

                vph_fake_dev_init(&d2, t[i].id);
                cr_assert_eq(virtio_pci_init(&v2, &d2.dev, VIRTIO_LEGACY, &h.env), 0);
                cr_assert_eq(pci_cfg_read(&v2.pci.cfg, PCI_DEVICE_ID, 2), t[i].pci, "id %u",
                             t[i].id);
                cr_assert_eq(pci_cfg_read(&v2.pci.cfg, PCI_SUBSYSTEM_ID, 2), t[i].id);
                virtio_pci_destroy(&v2);
        }
}

/* Virtio 1.1 4.1.2.1, "Transitional PCI Device ID": memory balloon 0x1002, SCSI host 0x1004.
 * 0x1000 + id gives balloon 0x1005 (the entropy device's id) and SCSI 0x1008; drivers that bind
 * by PCI id (Windows' virtio-win) would bind the wrong driver. Latent: wisp has neither device. */
Test(legacy, transitional_ids_for_balloon_and_scsi)
{
        static const struct {
                uint32_t id;
                uint16_t pci;
        } t[] = {{5, 0x1002}, {8, 0x1004}};

        for (unsigned int i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                struct vph_fake_dev d2;
                struct virtio_pci v2;

                vph_fake_dev_init(&d2, t[i].id);
                cr_assert_eq(virtio_pci_init(&v2, &d2.dev, VIRTIO_LEGACY, &h.env), 0);
                cr_expect_eq(pci_cfg_read(&v2.pci.cfg, PCI_DEVICE_ID, 2), t[i].pci,
                             "virtio id %u: got 0x%x", t[i].id,
                             pci_cfg_read(&v2.pci.cfg, PCI_DEVICE_ID, 2));
                virtio_pci_destroy(&v2);
        }
}

/* --- the Linux legacy sequence ------------------------------------------------------ */

Test(legacy, linux_probe_sequence_activates_with_the_vring_layout)
{
        struct vring_driver drv;
        struct virtq_chain *c;
        uint64_t desc = (uint64_t)pfn_of(0) << 12;

        reset();
        cr_assert_eq(add_status(ACK), ACK);
        cr_assert_eq(add_status(DRV), ACK | DRV);
        uint32_t host = (uint32_t)lread(VIRTIO_PCI_HOST_FEATURES, 4);

        lwrite(VIRTIO_PCI_GUEST_FEATURES, 4, host);
        cr_assert_eq(lread(VIRTIO_PCI_GUEST_FEATURES, 4), host);
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(config_vector(0), 0);
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert_eq(queue_num(q), VPH_FAKE_QMAX);
                cr_assert_eq(queue_pfn(q), 0, "not active yet");
                cr_assert_eq(setup_vq(q, q + 1), 0);
                cr_assert_eq(queue_pfn(q), pfn_of(q));
                cr_assert_eq(queue_vector(q, q + 1), q + 1);
        }
        cr_assert_eq(fd.activates, 0);
        cr_assert_eq(add_status(DOK), ACK | DRV | DOK);
        cr_assert_eq(fd.activates, 1);
        cr_assert_eq(fd.features_at_activate, LEGACY_OFFERED);
        for (unsigned int q = 0; q < VPH_FAKE_QUEUES; q++)
                cr_assert(fd.ready_at_activate[q]);

        /* vring_init(num, p, 4096): the device must read the same rings the driver writes. */
        vd_init(&drv, &h.mem, VPH_FAKE_QMAX, desc, desc + 16 * VPH_FAKE_QMAX,
                (desc + 16 * VPH_FAKE_QMAX + 6 + 2 * VPH_FAKE_QMAX + 4095) & ~4095ull);
        cr_assert_eq(fd.dev.vq[0].size, VPH_FAKE_QMAX);
        cr_assert_eq((void *)fd.dev.vq[0].desc, (void *)drv.desc);
        cr_assert_eq((void *)fd.dev.vq[0].avail, (void *)drv.avail);
        cr_assert_eq((void *)fd.dev.vq[0].used, (void *)drv.used);
        struct vd_buf b[2] = {{0x400000, 16, false}, {0x401000, 512, true}};

        vd_add_chain(&drv, 0, b, 2);
        vd_publish(&drv);
        c = calloc(1, sizeof(*c) + 16 * sizeof(struct virtq_seg));
        cr_assert_eq(virtq_pop(&fd.dev.vq[0], c), 1);
        cr_assert_eq(c->nr_out, 1);
        cr_assert_eq(c->in_len, 512);
        virtq_push(&fd.dev.vq[0], c, 512);
        uint32_t id, len;

        cr_assert(vd_get_used(&drv, &id, &len));
        cr_assert_eq(id, 0);
        cr_assert_eq(len, 512);
        free(c);
}

Test(legacy, extra_guest_features_are_masked_off)
{
        uint32_t extra = (1u << 1) | (1u << 30) | (1u << 31);

        cr_assert_eq(bring_up(false, (uint32_t)LEGACY_OFFERED | extra), ACK | DRV | DOK);
        cr_assert_eq(fd.features_at_activate, LEGACY_OFFERED);
        cr_assert_eq(fd.dev.features, LEGACY_OFFERED);
        cr_assert_eq(lread(VIRTIO_PCI_GUEST_FEATURES, 4), LEGACY_OFFERED);
}

Test(legacy, no_features_ok_on_the_legacy_interface)
{
        reset();
        add_status(ACK | DRV);
        lwrite(VIRTIO_PCI_GUEST_FEATURES, 4, 0);
        cr_assert_eq(add_status(FOK), ACK | DRV, "not a legacy status bit");
        cr_assert_eq(add_status(DOK), ACK | DRV | DOK, "legacy needs no FEATURES_OK");
        cr_assert_eq(fd.activates, 1);
        cr_assert_eq(fd.dev.features, 0);
}

/* --- queues ------------------------------------------------------------------------------- */

Test(legacy, queue_num_is_read_only)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, 0);
        lwrite(VIRTIO_PCI_QUEUE_NUM, 2, 16);
        cr_assert_eq(queue_num(0), VPH_FAKE_QMAX);
}

Test(legacy, pfn_zero_disables_the_queue)
{
        reset();
        add_status(ACK | DRV);
        set_pfn(1, pfn_of(1));
        cr_assert_eq(queue_pfn(1), pfn_of(1));
        cr_assert(vp.queue[1].enabled);
        set_pfn(1, 0);
        cr_assert_eq(queue_pfn(1), 0);
        cr_assert_not(vp.queue[1].enabled);
        add_status(DOK);
        cr_assert_not(fd.ready_at_activate[1]);
}

Test(legacy, pfn_beyond_ram_or_straddling_its_end_is_rejected)
{
        const uint32_t ram_pfns = (uint32_t)(RAM_SIZE >> 12);
        /* 64 entries: 1024 + 134 bytes, then the used ring on the next page: 8 KiB + 518. */
        static const uint32_t bad_off[] = {0, 1, 2, 0x1000};

        reset();
        add_status(ACK | DRV);
        for (unsigned int i = 0; i < sizeof(bad_off) / sizeof(bad_off[0]); i++) {
                /* bad_off 0: the table fits, the used ring is on the page after RAM. */
                set_pfn(0, ram_pfns - 1 + bad_off[i]);
                cr_assert_eq(queue_pfn(0), 0, "pfn 0x%x accepted", ram_pfns - 1 + bad_off[i]);
                cr_assert_not(vp.queue[0].enabled);
        }
        set_pfn(0, 0xffffffff);
        cr_assert_eq(queue_pfn(0), 0);
        set_pfn(0, 0xc0000); /* the PCI hole */
        cr_assert_eq(queue_pfn(0), 0);
        set_pfn(0, ram_pfns - 2);
        cr_assert_eq(queue_pfn(0), ram_pfns - 2, "the last two pages hold a 64-entry ring");
}

Test(legacy, queue_select_out_of_range_reads_zero_and_ignores_writes)
{
        static const uint16_t sel[] = {VPH_FAKE_QUEUES, 0x100, 0xffff};

        reset();
        add_status(ACK | DRV);
        vph_msix_enable(&f, NVEC);
        for (unsigned int i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
                lwrite(VIRTIO_PCI_QUEUE_SEL, 2, sel[i]);
                cr_assert_eq(lread(VIRTIO_PCI_QUEUE_SEL, 2), sel[i]);
                cr_assert_eq(lread(VIRTIO_PCI_QUEUE_NUM, 2), 0);
                cr_assert_eq(lread(VIRTIO_PCI_QUEUE_PFN, 4), 0);
                lwrite(VIRTIO_PCI_QUEUE_PFN, 4, pfn_of(0));
                cr_assert_eq(lread(VIRTIO_PCI_QUEUE_PFN, 4), 0);
                /* 0xffff then the vector register: ignored, and reads as no vector. */
                lwrite(VIRTIO_MSI_QUEUE_VECTOR, 2, 1);
                cr_assert_eq(lread(VIRTIO_MSI_QUEUE_VECTOR, 2), NO_VEC);
        }
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++) {
                cr_assert_eq(queue_pfn(q), 0);
                cr_assert_eq(queue_vector(q, NO_VEC), NO_VEC);
                cr_assert_not(vp.queue[q].enabled);
        }
}

Test(legacy, queue_registers_after_driver_ok_are_ignored)
{
        reset();
        add_status(ACK | DRV);
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(setup_vq(0, 1), 0);
        add_status(DOK);
        set_pfn(0, 0);
        cr_assert_eq(queue_pfn(0), pfn_of(0), "PFN 0 after DRIVER_OK ignored");
        cr_assert(fd.dev.vq_ready[0]);
        set_pfn(1, pfn_of(1));
        cr_assert_eq(queue_pfn(1), 0, "late enable ignored");
        cr_assert_not(fd.dev.vq_ready[1]);
        cr_assert_eq(fd.dev.vq[1].size, 0);
        lwrite(VIRTIO_PCI_GUEST_FEATURES, 4, 1);
        cr_assert_eq(fd.dev.features, 0);
        cr_assert_eq(lread(VIRTIO_PCI_GUEST_FEATURES, 4), 0);
}

/* BAD-INPUTS: "queue registers written after DRIVER_OK: ignored". The modern interface ignores a
 * late queue_msix_vector write (pci_modern.c checks vp_setup_phase); the legacy one takes it. */
Test(legacy, queue_vector_written_after_driver_ok_is_taken)
{
        reset();
        add_status(ACK | DRV);
        vph_msix_enable(&f, NVEC);
        cr_assert_eq(setup_vq(0, 1), 0);
        add_status(DOK);
        cr_expect_eq(queue_vector(0, 2), 1, "queue 0's vector moved after DRIVER_OK");
        fd.dev.irq.queue(fd.dev.irq.ctx, 0);
        cr_expect_eq(vp.msix.fired[1], 1, "interrupt went to vector 2 instead");
}
