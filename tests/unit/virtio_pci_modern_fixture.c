/* Test fixture for test_virtio_pci_modern_*: see virtio_pci_modern_fixture.h. */
#include <criterion/criterion.h>

#include "virtio_pci_modern_fixture.h"

struct vph h;
struct vph_fake_dev fd;
struct virtio_pci vp;
struct vph_fn f;
int slot;

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

void setup_modern(void)
{
        setup_mode(VIRTIO_MODERN);
}

void setup_transitional(void)
{
        setup_mode(VIRTIO_TRANSITIONAL);
}

void teardown(void)
{
        cr_expect(fd.locked_in_ops, "every device op ran with dev->lock held");
        cr_expect_eq(h.kvm.wrong_fd, 0, "irqfd/ioeventfd/routing ioctls went to the VM fd");
        vph_fini(&h);
        virtio_pci_destroy(&vp);
}

uint64_t ring_addr(unsigned int q, unsigned int which)
{
        return RING_BASE + q * RING_STRIDE + which * 0x1000;
}

int setup_queue(uint16_t q, uint16_t size, uint16_t vector)
{
        return vph_modern_setup_queue(&f, q, size, ring_addr(q, 0), ring_addr(q, 1),
                                      ring_addr(q, 2), vector, NULL);
}

uint16_t status(void)
{
        return (uint16_t)vph_common_read(&f, VIRTIO_PCI_COMMON_STATUS, 1);
}

void select_q(uint16_t q)
{
        vph_common_write(&f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
}

uint64_t qreg(uint16_t q, uint32_t off, uint32_t len)
{
        select_q(q);
        return vph_common_read(&f, off, len);
}

/* Programs queue q's registers as given, with none of the driver's own checks. */
void program_queue(uint16_t q, uint16_t size, uint64_t d, uint64_t a, uint64_t u)
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
uint8_t bring_up(bool msix)
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
void drain_loop(void)
{
        for (int i = 0; i < 16 && vph_poll(&h, 0) > 0; i++)
                ;
}
