/* Test fixture for test_virtio_pci_legacy_*: see virtio_pci_legacy_fixture.h. */
#include <criterion/criterion.h>
#include <errno.h>

#include "virtio_pci_legacy_fixture.h"

struct vph h;
struct vph_fake_dev fd;
struct virtio_pci vp;
struct vph_fn f;
int slot;

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

void setup_legacy(void)
{
        setup_mode(VIRTIO_LEGACY, VPH_FAKE_ID);
}

void setup_transitional(void)
{
        setup_mode(VIRTIO_TRANSITIONAL, VPH_FAKE_ID);
}

void teardown(void)
{
        cr_expect(fd.locked_in_ops, "every device op ran with dev->lock held");
        cr_expect_eq(h.kvm.wrong_fd, 0);
        vph_fini(&h);
        virtio_pci_destroy(&vp);
}

uint64_t lread(uint32_t off, uint32_t len)
{
        return vph_legacy_read(&f, off, len);
}

void lwrite(uint32_t off, uint32_t len, uint64_t v)
{
        vph_legacy_write(&f, off, len, v);
}

uint8_t status(void)
{
        return (uint8_t)lread(VIRTIO_PCI_STATUS, 1);
}

/* virtio_add_status over the legacy header. */
uint8_t add_status(uint8_t bits)
{
        lwrite(VIRTIO_PCI_STATUS, 1, status() | bits);
        return status();
}

/* vp_reset: write 0, read back to flush. */
void reset(void)
{
        lwrite(VIRTIO_PCI_STATUS, 1, 0);
        cr_assert_eq(status(), 0);
}

uint32_t pfn_of(unsigned int q)
{
        return PFN_BASE + q * PFN_STRIDE;
}

/* vp_legacy_get_queue_size: select, read QUEUE_NUM. */
uint16_t queue_num(uint16_t q)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        return (uint16_t)lread(VIRTIO_PCI_QUEUE_NUM, 2);
}

/* vp_legacy_get_queue_enable: select, read QUEUE_PFN, non-zero means active. */
uint32_t queue_pfn(uint16_t q)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        return (uint32_t)lread(VIRTIO_PCI_QUEUE_PFN, 4);
}

void set_pfn(uint16_t q, uint32_t pfn)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        lwrite(VIRTIO_PCI_QUEUE_PFN, 4, pfn);
}

/* vp_legacy_queue_vector: select, write, read back. */
uint16_t queue_vector(uint16_t q, uint16_t v)
{
        lwrite(VIRTIO_PCI_QUEUE_SEL, 2, q);
        lwrite(VIRTIO_MSI_QUEUE_VECTOR, 2, v);
        return (uint16_t)lread(VIRTIO_MSI_QUEUE_VECTOR, 2);
}

uint16_t config_vector(uint16_t v)
{
        lwrite(VIRTIO_MSI_CONFIG_VECTOR, 2, v);
        return (uint16_t)lread(VIRTIO_MSI_CONFIG_VECTOR, 2);
}

/* setup_vq in virtio_pci_legacy.c: size, not yet active, PFN, then the vector. */
int setup_vq(uint16_t q, uint16_t vector)
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
uint8_t bring_up(bool msix, uint32_t guest_features)
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

void drain_loop(void)
{
        for (int i = 0; i < 16 && vph_poll(&h, 0) > 0; i++)
                ;
}
