/* Unit tests for pci/msix.c: capability, vector table and PBA rules, masking, pending and delivery.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fake_kvm.h"
#include "pci/msix.h"

#define NVEC 4
#define TABLE_BAR 1
#define PBA_OFF 0x800
#define MASKBIT PCI_MSIX_ENTRY_CTRL_MASKBIT

static struct pci_cfg cfg;
static struct msix m;

static void setup(void)
{
        struct pci_id id = {.vendor = 0x1af4, .device = 0x1041, .class_code = 0xff0000};

        pci_cfg_init(&cfg, &id);
        cr_assert_eq(msix_init(&m, &cfg, NVEC, TABLE_BAR, 0, TABLE_BAR, PBA_OFF, NULL, NULL, -1),
                     0);
}

static void teardown(void)
{
        msix_destroy(&m);
}

TestSuite(msix, .init = setup, .fini = teardown);

static uint64_t table_read(uint64_t off, uint32_t len)
{
        uint8_t d[8];
        uint64_t v = 0;

        memset(d, 0x5a, sizeof(d));
        msix_table_io(&m, off, d, len, false);
        for (uint32_t i = 0; i < len; i++)
                v |= (uint64_t)d[i] << (8 * i);
        return v;
}

static void table_write(uint64_t off, uint32_t len, uint64_t v)
{
        uint8_t d[8];

        for (uint32_t i = 0; i < len; i++)
                d[i] = (uint8_t)(v >> (8 * i));
        msix_table_io(&m, off, d, len, true);
}

static uint64_t pba_read(uint64_t off, uint32_t len)
{
        uint8_t d[8];
        uint64_t v = 0;

        memset(d, 0x5a, sizeof(d));
        msix_pba_io(&m, off, d, len, false);
        for (uint32_t i = 0; i < len; i++)
                v |= (uint64_t)d[i] << (8 * i);
        return v;
}

/* Message control as the guest writes it: through the config space's masks. */
static void control_write(uint16_t v)
{
        pci_cfg_write(&cfg, m.cap + PCI_MSIX_FLAGS, 2, v);
        msix_cap_written(&m);
}

static void unmask(unsigned int v)
{
        table_write(v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
}

static unsigned long total_fired(void)
{
        unsigned long n = 0;

        for (unsigned int v = 0; v < MSIX_MAX_VECTORS; v++)
                n += m.fired[v];
        return n;
}

Test(msix, capability_fields)
{
        uint32_t p = pci_cfg_read(&cfg, PCI_CAPABILITY_LIST, 1);

        cr_assert_eq(p, m.cap);
        cr_assert(pci_cfg_read(&cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_CAP_LIST_ID, 1), PCI_CAP_ID_MSIX);
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_CAP_LIST_NEXT, 1), 0);
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_MSIX_FLAGS, 2), NVEC - 1);
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_MSIX_TABLE, 4), 0 | TABLE_BAR);
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_MSIX_PBA, 4), PBA_OFF | TABLE_BAR);

        /* Only enable and function mask are the guest's. */
        for (uint32_t off = 0; off < PCI_CAP_MSIX_SIZEOF; off++)
                pci_cfg_write(&cfg, p + off, 1, 0xff);
        cr_assert_eq(pci_cfg_read(&cfg, p, 4),
                     (uint32_t)(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NVEC - 1)) << 16 |
                         PCI_CAP_ID_MSIX);
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_MSIX_TABLE, 4), 0 | TABLE_BAR);
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_MSIX_PBA, 4), PBA_OFF | TABLE_BAR);
        cr_assert_not(msix_enabled(&m), "not until told the control register changed");
        msix_cap_written(&m);
        cr_assert(msix_enabled(&m));
        cr_assert(m.fn_masked);
        control_write(0);
        cr_assert_not(msix_enabled(&m));
        cr_assert_eq(pci_cfg_read(&cfg, p + PCI_MSIX_FLAGS, 2), NVEC - 1);
}

Test(msix, sizes)
{
        cr_assert_eq(msix_table_size(4), 64);
        cr_assert_eq(msix_table_size(256), 4096);
        cr_assert_eq(msix_pba_size(1), 8);
        cr_assert_eq(msix_pba_size(64), 8);
        cr_assert_eq(msix_pba_size(65), 16);
        cr_assert_eq(msix_pba_size(256), 32);
}

Test(msix, vectors_start_masked)
{
        for (unsigned int v = 0; v < NVEC; v++) {
                cr_assert_eq(table_read(v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), MASKBIT);
                cr_assert_eq(table_read(v * 16, 8), 0);
                cr_assert_eq(table_read(v * 16 + PCI_MSIX_ENTRY_DATA, 4), 0);
        }
}

Test(msix, table_read_write)
{
        table_write(0x10, 4, 0xfee01000);
        table_write(0x14, 4, 0x1);
        table_write(0x18, 4, 0x4021);
        cr_assert_eq(table_read(0x10, 4), 0xfee01000);
        cr_assert_eq(table_read(0x14, 4), 0x1);
        cr_assert_eq(table_read(0x10, 8), 0x1fee01000ULL);
        cr_assert_eq(table_read(0x18, 4), 0x4021);
        cr_assert_eq(m.table[1].data, 0x4021);

        table_write(0x30, 8, 0x00000000fee02000ULL);
        cr_assert_eq(m.table[3].addr_lo, 0xfee02000);
        cr_assert_eq(m.table[3].addr_hi, 0);
        table_write(0x38, 8, 0xffffffff00000031ULL); /* data, then control */
        cr_assert_eq(table_read(0x38, 4), 0x31);
        cr_assert_eq(table_read(0x3c, 4), MASKBIT, "reserved control bits read 0");
        table_write(0x3c, 4, 0xfffffffe);
        cr_assert_eq(table_read(0x3c, 4), 0, "unmasked; reserved still 0");
}

Test(msix, bad_table_accesses_ignored)
{
        table_write(0x00, 4, 0xfee00000);
        table_write(0x08, 4, 0x41);

        /* Writes that must not land anywhere. */
        table_write(0x00, 2, 0xffff);
        table_write(0x00, 1, 0xff);
        table_write(0x02, 4, 0xffffffff);
        table_write(0x04, 8, 0xffffffffffffffffULL);
        table_write(0x0c, 8, 0);
        table_write(0x08, 3, 0);
        table_write(NVEC * 16, 4, 0xdead);
        table_write(NVEC * 16 - 4, 8, 0);
        table_write(0xfffffffffffffffcULL, 4, 0);
        cr_assert_eq(m.table[0].addr_lo, 0xfee00000);
        cr_assert_eq(m.table[0].addr_hi, 0);
        cr_assert_eq(m.table[0].data, 0x41);
        cr_assert_eq(m.table[0].ctrl, MASKBIT);
        cr_assert_eq(m.table[NVEC - 1].ctrl, MASKBIT);
        cr_assert_eq(m.table[NVEC].addr_lo, 0, "nothing past the table");

        /* And reads of the same all read all-ones. */
        cr_assert_eq(table_read(0x00, 2), 0xffff);
        cr_assert_eq(table_read(0x00, 1), 0xff);
        cr_assert_eq(table_read(0x02, 4), 0xffffffff);
        cr_assert_eq(table_read(0x04, 8), 0xffffffffffffffffULL);
        cr_assert_eq(table_read(NVEC * 16, 4), 0xffffffff);
        cr_assert_eq(table_read(NVEC * 16 - 4, 8), 0xffffffffffffffffULL);
        cr_assert_eq(table_read(0xfffffffffffffff8ULL, 8), 0xffffffffffffffffULL);
}

Test(msix, notify_while_disabled_does_nothing)
{
        unmask(0);
        cr_assert_eq(msix_notify(&m, 0), -ENOENT, "the transport uses INTx");
        cr_assert_eq(m.fired[0], 0);
        cr_assert_eq(pba_read(0, 8), 0, "not pending either");
}

Test(msix, masked_vector_pends_then_fires_on_unmask)
{
        control_write(PCI_MSIX_FLAGS_ENABLE);
        cr_assert_eq(msix_notify(&m, 2), 0);
        cr_assert_eq(m.fired[2], 0, "masked: not delivered");
        cr_assert_eq(pba_read(0, 8), 1 << 2);
        cr_assert_eq(pba_read(0, 4), 1 << 2);
        cr_assert_eq(msix_notify(&m, 2), 0);
        cr_assert_eq(pba_read(0, 8), 1 << 2, "one pending bit, however many notifies");

        unmask(1);
        cr_assert_eq(total_fired(), 0, "another vector's unmask releases nothing");
        unmask(2);
        cr_assert_eq(m.fired[2], 1);
        cr_assert_eq(pba_read(0, 8), 0);
        unmask(2);
        cr_assert_eq(m.fired[2], 1, "released once");

        cr_assert_eq(msix_notify(&m, 2), 0);
        cr_assert_eq(m.fired[2], 2, "unmasked: straight through");
        cr_assert_eq(msix_notify(&m, 1), 0);
        cr_assert_eq(m.fired[1], 1);
        cr_assert_eq(total_fired(), 3);
}

Test(msix, function_mask)
{
        unmask(0);
        unmask(3);
        control_write(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        cr_assert_eq(msix_notify(&m, 0), 0);
        cr_assert_eq(msix_notify(&m, 3), 0);
        cr_assert_eq(msix_notify(&m, 1), 0); /* masked in its own entry too */
        cr_assert_eq(total_fired(), 0);
        cr_assert_eq(pba_read(0, 8), 0xb);

        control_write(PCI_MSIX_FLAGS_ENABLE);
        cr_assert_eq(m.fired[0], 1);
        cr_assert_eq(m.fired[3], 1);
        cr_assert_eq(m.fired[1], 0, "still masked by its entry");
        cr_assert_eq(pba_read(0, 8), 0x2);
        unmask(1);
        cr_assert_eq(m.fired[1], 1);
        cr_assert_eq(pba_read(0, 8), 0);
}

Test(msix, pending_waits_for_enable)
{
        control_write(PCI_MSIX_FLAGS_ENABLE);
        cr_assert_eq(msix_notify(&m, 0), 0);
        control_write(0);
        unmask(0);
        cr_assert_eq(m.fired[0], 0, "disabled: nothing is sent");
        cr_assert_eq(pba_read(0, 8), 1);
        control_write(PCI_MSIX_FLAGS_ENABLE);
        cr_assert_eq(m.fired[0], 1);
        cr_assert_eq(pba_read(0, 8), 0);
}

Test(msix, vector_out_of_range_is_no_vector)
{
        control_write(PCI_MSIX_FLAGS_ENABLE);
        for (unsigned int v = 0; v < NVEC; v++)
                unmask(v);
        cr_assert_eq(msix_notify(&m, NVEC), -EINVAL);
        cr_assert_eq(msix_notify(&m, 0xffff), -EINVAL, "VIRTIO_MSI_NO_VECTOR");
        cr_assert_eq(msix_notify(&m, ~0u), -EINVAL);
        cr_assert_eq(total_fired(), 0);
        cr_assert_eq(pba_read(0, 8), 0);
}

Test(msix, pba_is_read_only_and_bounded)
{
        uint8_t d[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

        control_write(PCI_MSIX_FLAGS_ENABLE);
        msix_notify(&m, 1);
        msix_pba_io(&m, 0, d, 8, true);
        cr_assert_eq(pba_read(0, 8), 0x2, "write ignored");
        memset(d, 0, sizeof(d));
        msix_pba_io(&m, 0, d, 4, true);
        cr_assert_eq(pba_read(0, 8), 0x2, "cannot clear a pending bit either");
        cr_assert_eq(pba_read(8, 8), 0xffffffffffffffffULL, "past the PBA");
        cr_assert_eq(pba_read(4, 8), 0xffffffffffffffffULL, "misaligned");
        cr_assert_eq(pba_read(0, 2), 0xffff);
        cr_assert_eq(pba_read(4, 4), 0);
}

Test(msix, large_table_pba_words)
{
        struct pci_cfg c2;
        struct msix big;
        uint8_t d[8];

        pci_cfg_init(&c2, &(struct pci_id){.vendor = 1});
        cr_assert_eq(msix_init(&big, &c2, 100, 2, 0, 3, 0, NULL, NULL, -1), 0);
        pci_cfg_write(&c2, big.cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
        msix_cap_written(&big);
        cr_assert_eq(pci_cfg_read(&c2, big.cap + PCI_MSIX_FLAGS, 2), PCI_MSIX_FLAGS_ENABLE | 99);
        cr_assert_eq(msix_notify(&big, 70), 0);
        msix_pba_io(&big, 8, d, 4, false);
        cr_assert_eq(d[0], 1 << (70 - 64));
        msix_pba_io(&big, 16, d, 8, false);
        cr_assert_eq(d[0], 0xff, "PBA is 16 bytes for 100 vectors");
        cr_assert_eq(big.cap, 0x40);
        cr_assert_eq(pci_cfg_read(&c2, 0x40 + PCI_MSIX_TABLE, 4), 2);
        cr_assert_eq(pci_cfg_read(&c2, 0x40 + PCI_MSIX_PBA, 4), 3);
        /* The last entry is reachable, the one after is not. */
        d[0] = 0;
        d[1] = d[2] = d[3] = 0;
        msix_table_io(&big, 99 * 16 + 12, d, 4, true);
        cr_assert_eq(big.table[99].ctrl, 0);
        msix_destroy(&big);
}

Test(msix, init_refuses_bad_geometry)
{
        struct pci_cfg c2;
        struct msix x;

        pci_cfg_init(&c2, &(struct pci_id){.vendor = 1});
        cr_assert_eq(msix_init(&x, &c2, 0, 1, 0, 1, 0x800, NULL, NULL, -1), -EINVAL);
        cr_assert_eq(msix_init(&x, &c2, MSIX_MAX_VECTORS + 1, 1, 0, 1, 0x800, NULL, NULL, -1),
                     -EINVAL);
        cr_assert_eq(msix_init(&x, &c2, 4, 6, 0, 1, 0x800, NULL, NULL, -1), -EINVAL);
        cr_assert_eq(msix_init(&x, &c2, 4, 1, 0, -1, 0x800, NULL, NULL, -1), -EINVAL);
        cr_assert_eq(msix_init(&x, &c2, 4, 1, 4, 1, 0x800, NULL, NULL, -1), -EINVAL);
        cr_assert_eq(msix_init(&x, &c2, 4, 1, 0, 1, 0x801, NULL, NULL, -1), -EINVAL);
        cr_assert_eq(pci_cfg_read(&c2, PCI_CAPABILITY_LIST, 1), 0, "no capability left behind");
}

/* --- with routing: a kvm_sys that records the irqfd and routing ioctls --- */

struct mock_kvm {
        struct kvm_sys sys;
        unsigned int assigned, deassigned, commits;
        int assigned_fd[8];
        uint32_t assigned_gsi[8];
        struct kvm_irq_routing_entry last_msi;
        int fail_irqfd_after; /* fail the n-th assign (0: never) */
};

static int mock_ioctl(const struct kvm_sys *sys, int fd, unsigned long req, void *arg)
{
        struct mock_kvm *k = sys->ctx;

        cr_assert_eq(fd, 7, "the VM fd");
        if (req == KVM_IRQFD) {
                struct kvm_irqfd *f = arg;

                if (f->flags & KVM_IRQFD_FLAG_DEASSIGN) {
                        k->deassigned++;
                        return 0;
                }
                if (k->fail_irqfd_after && k->assigned + 1 == (unsigned int)k->fail_irqfd_after)
                        return -EINVAL;
                cr_assert_eq(f->flags, 0, "edge-triggered: no resample");
                k->assigned_fd[k->assigned] = (int)f->fd;
                k->assigned_gsi[k->assigned++] = f->gsi;
                return 0;
        }
        if (req == KVM_SET_GSI_ROUTING) {
                struct kvm_irq_routing *t = arg;

                k->commits++;
                for (uint32_t i = 0; i < t->nr; i++)
                        if (t->entries[i].type == KVM_IRQ_ROUTING_MSI &&
                            t->entries[i].u.msi.data != 0)
                                k->last_msi = t->entries[i];
                return 0;
        }
        return -ENOTTY;
}

static uint64_t efd_count(int fd)
{
        uint64_t n = 0;

        if (read(fd, &n, sizeof(n)) != sizeof(n))
                return 0; /* EAGAIN: nothing signalled */
        return n;
}

Test(msix, routing_gsi_eventfd_irqfd_per_vector)
{
        struct mock_kvm k = {.sys = {.ioctl = mock_ioctl}};
        struct irq_routing r;
        struct pci_cfg c2;
        struct msix x;
        int fds[3];

        k.sys.ctx = &k;
        irq_routing_init(&r, &k.sys, 7);
        pci_cfg_init(&c2, &(struct pci_id){.vendor = 1});
        cr_assert_eq(msix_init(&x, &c2, 3, 1, 0, 1, 0x800, &r, &k.sys, 7), 0);
        cr_assert_eq(k.assigned, 3);
        for (unsigned int v = 0; v < 3; v++) {
                cr_assert_eq(x.gsi[v], IRQ_FIRST_MSI_GSI + v);
                cr_assert_eq(k.assigned_gsi[v], x.gsi[v]);
                cr_assert_eq(k.assigned_fd[v], x.efd[v]);
                fds[v] = x.efd[v];
        }

        /* Programming an entry points its GSI at the message. */
        uint8_t d[8] = {0x00, 0x30, 0xe0, 0xfe, 0, 0, 0, 0};

        msix_table_io(&x, 0x10, d, 8, true);
        d[0] = 0x23;
        d[1] = d[2] = d[3] = 0;
        msix_table_io(&x, 0x18, d, 4, true);
        cr_assert_geq(k.commits, 1);
        cr_assert_eq(k.last_msi.gsi, x.gsi[1]);
        cr_assert_eq(k.last_msi.u.msi.address_lo, 0xfee03000);
        cr_assert_eq(k.last_msi.u.msi.data, 0x23);
        unsigned int commits = k.commits;

        msix_table_io(&x, 0x18, d, 4, true);
        cr_assert_eq(k.commits, commits, "unchanged entry: no ioctl");
        d[0] = 0x21;
        msix_table_io(&x, 0x1c, d, 4, true);
        cr_assert_eq(k.commits, commits, "vector control is not part of the route");

        /* Delivery writes the vector's eventfd. */
        pci_cfg_write(&c2, x.cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
        msix_cap_written(&x);
        d[0] = 0;
        msix_table_io(&x, 0x1c, d, 4, true);
        cr_assert_eq(msix_notify(&x, 1), 0);
        cr_assert_eq(efd_count(fds[1]), 1);
        cr_assert_eq(efd_count(fds[0]), 0);
        cr_assert_eq(msix_notify(&x, 0), 0, "masked: pending");
        cr_assert_eq(efd_count(fds[0]), 0);

        msix_destroy(&x);
        cr_assert_eq(k.deassigned, 3);
        for (unsigned int v = 0; v < 3; v++)
                cr_assert_not(fd_is_open(fds[v]), "eventfd %u closed", v);
        irq_routing_destroy(&r);
}

Test(msix, routing_failure_unwinds)
{
        struct mock_kvm k = {.sys = {.ioctl = mock_ioctl}, .fail_irqfd_after = 2};
        struct irq_routing r;
        struct pci_cfg c2;
        struct msix x;

        k.sys.ctx = &k;
        irq_routing_init(&r, &k.sys, 7);
        pci_cfg_init(&c2, &(struct pci_id){.vendor = 1});
        cr_assert_eq(msix_init(&x, &c2, 3, 1, 0, 1, 0x800, &r, &k.sys, 7), -EINVAL);
        cr_assert_eq(k.assigned, 1);
        cr_assert_eq(k.deassigned, 1, "the first vector's irqfd undone");
        cr_assert_not(fd_is_open(k.assigned_fd[0]));
        cr_assert_eq(pci_cfg_read(&c2, PCI_CAPABILITY_LIST, 1), 0, "no capability added");
        irq_routing_destroy(&r);
}
