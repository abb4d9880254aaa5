/* Fuzz target: virtio-pci modern common config, device config, notify and legacy register
 * sequences. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "fuzz_input.h"
#include "virtio/pci_internal.h"
#include "vmm/log.h"
#include "vpci_harness.h"

/*
 * One function (transitional, modern or legacy, from the first byte) over the harness's fake
 * device, probed as Linux does. Then operations: raw reads and writes of sizes 1, 2, 4 (and
 * 8 on the memory BAR) at any offset of the common, ISR, device and notify regions and of
 * the legacy I/O BAR, config writes through the PCI_CFG window, MSI-X on and off, and the
 * Linux sequences (negotiate, queue set-up, enable, status bits) with fuzzed values, with the
 * event loop run between them. After each: every device op ran under the device lock, the
 * transport's ioctls went to the VM fd, an enabled queue's rings lie in RAM, a selected
 * queue out of range reads size 0, the device's vectors are valid or NO_VECTOR, DRIVER_OK
 * (modern) came with FEATURES_OK and offered features only, and from DRIVER_OK to the next
 * reset the queue registers and the features do not change.
 */
#define RAM_SIZE (256ull << 10)

static struct vph h;
static struct vph_fake_dev fd;
static struct virtio_pci vp;
static struct vph_fn f;

static uint64_t ring_addr(struct fin *in, uint64_t align)
{
        uint32_t v = fin_u32(in);

        /* Mostly inside RAM and aligned; sometimes anything. */
        if (v & 1)
                return (uint64_t)v << 16 | fin_u16(in);
        return (v >> 1) % RAM_SIZE & ~(align - 1);
}

/* The queue registers and features as DRIVER_OK found them: fixed until a reset. */
static struct virtio_pci_queue at_ok[VPH_FAKE_QUEUES];
static uint64_t features_at_ok;
static bool was_ok;

static void check_after_driver_ok(void)
{
        struct virtio_device *d = &fd.dev;
        bool ok = vp.status & VIRTIO_CONFIG_S_DRIVER_OK;

        if (!ok) {
                was_ok = false;
                return;
        }
        if (!was_ok) {
                /* Modern drivers reach DRIVER_OK only through an accepted FEATURES_OK, and
                 * the features are what the interface in use offered (a later legacy access
                 * makes the driver "legacy" but changes nothing negotiated). */
                FUZZ_CHECK(vp.legacy_used || (vp.status & VIRTIO_CONFIG_S_FEATURES_OK));
                FUZZ_CHECK(!(d->features & ~vp_offered_features(&vp, vp.legacy_used)));
                memcpy(at_ok, vp.queue, sizeof(at_ok));
                features_at_ok = vp.driver_features;
                was_ok = true;
                return;
        }
        FUZZ_CHECK(vp.driver_features == features_at_ok);
        for (unsigned int i = 0; i < VPH_FAKE_QUEUES; i++) {
                FUZZ_CHECK(vp.queue[i].size == at_ok[i].size);
                FUZZ_CHECK(vp.queue[i].desc == at_ok[i].desc);
                FUZZ_CHECK(vp.queue[i].avail == at_ok[i].avail);
                FUZZ_CHECK(vp.queue[i].used == at_ok[i].used);
                FUZZ_CHECK(vp.queue[i].enabled == at_ok[i].enabled);
        }
}

static void check_transport(void)
{
        struct virtio_device *d = &fd.dev;

        check_after_driver_ok();
        FUZZ_CHECK(fd.locked_in_ops);
        FUZZ_CHECK(h.kvm.wrong_fd == 0);
        for (unsigned int i = 0; i < d->num_queues; i++) {
                struct virtio_pci_queue *q = &vp.queue[i];

                FUZZ_CHECK(q->vector == VIRTIO_MSI_NO_VECTOR || q->vector < vp.msix.nvec);
                if (d->vq && d->vq_ready && d->vq_ready[i]) {
                        FUZZ_CHECK(guest_range_is_ram(&h.mem, q->desc, 16ull * d->vq[i].size));
                        FUZZ_CHECK(d->vq[i].size && !(d->vq[i].size & (d->vq[i].size - 1)));
                }
        }
        FUZZ_CHECK(vp.config_vector == VIRTIO_MSI_NO_VECTOR || vp.config_vector < vp.msix.nvec);
        if (f.common.pos && vp.queue_select >= d->num_queues) {
                uint16_t sel = vp.queue_select;

                FUZZ_CHECK(vph_common_read(&f, VIRTIO_PCI_COMMON_Q_SIZE, 2) == 0);
                FUZZ_CHECK(vp.queue_select == sel);
        }
}

static void region(struct fin *in, const struct vph_cap *c, uint32_t span, bool eight)
{
        uint32_t off = fin_u16(in) % span, len = fin_size(in, eight);
        bool wr = fin_u8(in) & 1;
        uint64_t v = fin_u64(in);

        if (!c->pos)
                return;
        if (wr)
                vph_bar_write(&f, c->bar, c->offset + off, len, v);
        else
                (void)vph_bar_read(&f, c->bar, c->offset + off, len);
}

static void op_queue_setup(struct fin *in)
{
        uint16_t q = fin_u8(in) % (VPH_FAKE_QUEUES + 1);
        uint16_t size = (uint16_t)(1u << (fin_u8(in) % 8));
        uint64_t desc = ring_addr(in, 16), avail = ring_addr(in, 2), used = ring_addr(in, 4);
        uint16_t vector = fin_u16(in) % 6;

        if (!f.common.pos)
                return;
        if (vector == 5)
                vector = VIRTIO_MSI_NO_VECTOR;
        (void)vph_modern_setup_queue(&f, q, size, desc, avail, used, vector, NULL);
}

/* Legacy set-up of the selected queue: select, size read, PFN, vector. */
static void op_legacy_queue(struct fin *in)
{
        uint16_t q = fin_u8(in) % (VPH_FAKE_QUEUES + 1);
        uint32_t pfn = fin_u8(in) & 1 ? fin_u32(in) : (uint32_t)(fin_u16(in) % (RAM_SIZE >> 12));

        if (!f.bar_io[VIRTIO_PCI_BAR_LEGACY])
                return;
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_SEL, 2, q);
        (void)vph_legacy_read(&f, VIRTIO_PCI_QUEUE_NUM, 2);
        vph_legacy_write(&f, VIRTIO_PCI_QUEUE_PFN, 4, pfn);
}

static void run_ops(struct fin *in)
{
        while (in->n) {
                switch (fin_u8(in) % 16) {
                case 0:
                        region(in, &f.common, 0x40, true);
                        break;
                case 1:
                        region(in, &f.device_cfg, 0x20, true);
                        break;
                case 2:
                        region(in, &f.isr, 8, true);
                        break;
                case 3:
                        region(in, &f.notify, 0x40, true);
                        break;
                case 4:
                        if (f.bar_io[VIRTIO_PCI_BAR_LEGACY]) {
                                uint32_t off = fin_u8(in) % 0x40, len = fin_size(in, 0);

                                if (fin_u8(in) & 1)
                                        vph_legacy_write(&f, off, len, fin_u32(in));
                                else
                                        (void)vph_legacy_read(&f, off, len);
                        }
                        break;
                case 5:
                        if (f.pci_cfg.pos) /* the PCI_CFG window: aim, then data */
                                vph_ecam_write(&h, f.slot, f.pci_cfg.pos + fin_u8(in) % 20,
                                               fin_size(in, 0), fin_u32(in));
                        break;
                case 6:
                        if (f.msix_cap && (fin_u8(in) & 1))
                                vph_msix_enable(&f, fin_u8(in) % (VPH_FAKE_QUEUES + 2));
                        else if (f.msix_cap)
                                vph_msix_disable(&f);
                        break;
                case 7:
                        if (f.common.pos)
                                (void)vph_modern_negotiate(&f, fin_u64(in), NULL);
                        break;
                case 8:
                        op_queue_setup(in);
                        break;
                case 9:
                        if (f.common.pos)
                                (void)vph_modern_enable_queue(&f, fin_u8(in) % 4);
                        break;
                case 10:
                        if (f.common.pos)
                                (void)vph_modern_add_status(&f, fin_u8(in));
                        break;
                case 11:
                        if (f.common.pos)
                                (void)vph_modern_reset(&f);
                        break;
                case 12:
                        (void)vph_poll(&h, 0);
                        break;
                case 13:
                        op_legacy_queue(in);
                        break;
                case 14:
                        if (f.notify.pos)
                                vph_modern_notify(&f, fin_u16(in) % 5, fin_u16(in) % 5);
                        break;
                case 15:
                        fd.activate_result = fin_u8(in) & 1 ? -EINVAL : 0;
                        break;
                }
                check_transport();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const enum virtio_transport modes[] = {VIRTIO_TRANSITIONAL, VIRTIO_MODERN,
                                                      VIRTIO_LEGACY};
        struct fin in = fin_make(data, size);
        enum virtio_transport mode = modes[fin_u8(&in) % 3];

        log_set_level(LOG_ERROR);
        if (vph_init(&h, RAM_SIZE))
                abort();
        vph_fake_dev_init(&fd, VPH_FAKE_ID);
        was_ok = false;
        if (virtio_pci_init(&vp, &fd.dev, mode, &h.env) || virtio_pci_plug(&vp, &h.bus) ||
            vph_probe(&h, vp.pci.slot, &f))
                abort();
        run_ops(&in);
        vph_fini(&h);
        virtio_pci_destroy(&vp);
        return 0;
}
