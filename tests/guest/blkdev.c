/* Scenario set-up shared by blk, hostile-* and blkbench: interrupts, PCI scan, ring 3, disks. */
#include "virtio.h"
#include "x86.h"

#define WATCHDOG_COUNT 625000 /* LAPIC timer: 10 ms at 1 GHz / 16, wakes every bounded hlt */

struct pci_fn pci_fns[PCI_MAX_FNS];
u32 pci_nfns;

static void watchdog_irq(struct trap_frame *f)
{
        (void)f;
        lapic_eoi();
}

void blk_setup_env(const struct boot_info *bi)
{
        irq_set_handler(VEC_LAPIC_TIMER, watchdog_irq);
        lapic_enable();
        lapic_timer_periodic(VEC_LAPIC_TIMER, WATCHDOG_COUNT);
        sti();
        ring3_init();
        pci_setup(bi->cmdline);
        pci_nfns = pci_scan(pci_fns, PCI_MAX_FNS);
}

void blk_open(struct blk *b, u32 n, const struct virtio_opts *o)
{
        struct pci_fn *f = pci_find_blk(pci_fns, pci_nfns, n);

        if (!f)
                guest_fail(ST_PCI, "pci: no virtio-blk function #%u", n);
        if (n >= (VEC_MSIX_END - VEC_MSIX_BASE) / VEC_MSIX_PER_DEV)
                guest_fail(ST_USAGE, "blk: at most %u disks",
                           (VEC_MSIX_END - VEC_MSIX_BASE) / VEC_MSIX_PER_DEV);
        if (!blk_init(b, f, o, (u8)(VEC_MSIX_BASE + n * VEC_MSIX_PER_DEV)))
                guest_fail(ST_VIRTIO, "blk: 00:%02x.%u: initialisation failed", f->dev, f->fn);
}
