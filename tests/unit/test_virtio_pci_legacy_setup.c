/* Unit tests for virtio/pci_legacy.c over virtio/pci.c, driven as Linux 6.1's legacy driver. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio/pci.h"
#include "virtio/queue.h"
#include "vpci_harness.h"
#include "vring_driver.h"

#define RAM_SIZE (16ull << 20)
#define PFN_BASE 0x200u /* rings from 2 MiB up, one 64 KiB slot per queue */
#define PFN_STRIDE 0x10u
#define NO_VEC VIRTIO_MSI_NO_VECTOR
#define NVEC (VPH_FAKE_QUEUES + 1)
#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define ISR_QUEUE 0x1
#define LEGACY_OFFERED                                                                             \
        (VPH_FAKE_FEATURES | (1ull << VIRTIO_RING_F_EVENT_IDX) |                                   \
         (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_F_ANY_LAYOUT))

static struct vph h;
static struct vph_fake_dev fd;
static struct virtio_pci vp;
static struct vph_fn f;
static int slot;

static void setup_mode(enum virtio_transport mode, uint32_t id)
{
        cr_assert_eq(vph_init(&h, RAM_SIZE), 0);
        vph_fake_dev_init(&fd, id);
        cr_assert_eq(virtio_pci_init(&vp, &fd.dev, mode, &h.env), 0);
        vp.pci.name = "virtio-fake";
        cr_assert_eq(virtio_pci_plug(&vp, &h.bus), 0);
        slot = (int)vp.pci.slot;
        cr_assert_eq(vph_probe(&h, (unsigned int)slot, &f), 0);
}

static void setup_legacy(void)
{
        setup_mode(VIRTIO_LEGACY, VPH_FAKE_ID);
}

static void setup_transitional(void)
{
        setup_mode(VIRTIO_TRANSITIONAL, VPH_FAKE_ID);
}

static void teardown(void)
{
        cr_expect(fd.locked_in_ops, "every device op ran with dev->lock held");
        cr_expect_eq(h.kvm.wrong_fd, 0);
        vph_fini(&h);
        virtio_pci_destroy(&vp);
}

TestSuite(legacy, .init = setup_legacy, .fini = teardown);
TestSuite(legacy_transitional, .init = setup_transitional, .fini = teardown);

static uint64_t lread(uint32_t off, uint32_t len)
{
        return vph_legacy_read(&f, off, len);
}

static void lwrite(uint32_t off, uint32_t len, uint64_t v)
{
        vph_legacy_write(&f, off, len, v);
}

static uint8_t status(void)
{
        return (uint8_t)lread(VIRTIO_PCI_STATUS, 1);
}

/* virtio_add_status over the legacy header. */
static uint8_t add_status(uint8_t bits)
{
        lwrite(VIRTIO_PCI_STATUS, 1, status() | bits);
        return status();
}

/* vp_reset: write 0, read back to flush. */
static void reset(void)
{
        lwrite(VIRTIO_PCI_STATUS, 1, 0);
        cr_assert_eq(status(), 0);
}

static uint32_t pfn_of(unsigned int q)
{
        return PFN_BASE + q * PFN_STRIDE;
}

/* vp_legacy_get_queue_size: select, read QUEUE_NUM. */
static uint16_t queue_num(uint16_t q)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        return (uint16_t)lread(VIRTIO_PCI_QUEUE_NUM, 2);
}

/* vp_legacy_get_queue_enable: select, read QUEUE_PFN, non-zero means active. */
static uint32_t queue_pfn(uint16_t q)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        return (uint32_t)lread(VIRTIO_PCI_QUEUE_PFN, 4);
}

static void set_pfn(uint16_t q, uint32_t pfn)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        lwrite(VIRTIO_PCI_QUEUE_PFN, 4, pfn);
}

/* vp_legacy_queue_vector: select, write, read back. */
static uint16_t queue_vector(uint16_t q, uint16_t v)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        lwrite(VIRTIO_MSI_QUEUE_VECTOR, 2, v);
        return (uint16_t)lread(VIRTIO_MSI_QUEUE_VECTOR, 2);
}

static uint16_t config_vector(uint16_t v)
{
        lwrite(VIRTIO_MSI_CONFIG_VECTOR, 2, v);
        return (uint16_t)lread(VIRTIO_MSI_CONFIG_VECTOR, 2);
}

/* setup_vq in virtio_pci_legacy.c: size, not yet active, PFN, then the vector. */
static int setup_vq(uint16_t q, uint16_t vector)
{
        uint16_t num = queue_num(q);

        if (!num || queue_pfn(q))
                return -ENOENT;
        set_pfn(q, pfn_of(q));
        if (vector != NO_VEC && queue_vector(q, vector) == NO_VEC) {
                set_pfn(q, 0);
                return -EBUSY;
        }
        return 0;
}

/* virtio_dev_probe over the legacy interface, then find_vqs and DRIVER_OK. */
static uint8_t bring_up(bool msix, uint32_t guest_features)
{
        reset();
        add_status(ACK);
        add_status(DRV);
        lwrite(VIRTIO_PCI_GUEST_FEATURES, 4, guest_features);
        if (msix) {
                vph_msix_enable(&f, NVEC);
                cr_assert_eq(config_vector(0), 0);
        }
        for (uint16_t q = 0; q < VPH_FAKE_QUEUES; q++)
                cr_assert_eq(setup_vq(q, msix ? (uint16_t)(q + 1) : NO_VEC), 0);
        return add_status(DOK);
}

static void drain_loop(void)
{
        for (int i = 0; i < 16 && vph_poll(&h, 0) > 0; i++)
                ;
}

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
