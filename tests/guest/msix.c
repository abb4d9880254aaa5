/* MSI-X: the capability, the vector table in its BAR, per-entry masking, IDT handlers. */
#include "virtio.h"
#include "x86.h"

#define MSI_ADDR_BASE 0xfee00000u
#define MSI_ADDR_DEST_SHIFT 12

volatile u32 irq_count[256];

static void msix_irq(struct trap_frame *f)
{
        irq_count[f->vector]++;
        lapic_eoi();
}

u64 msix_entry_addr(const struct msix *m, u16 entry)
{
        return m->table + (u64)entry * PCI_MSIX_ENTRY_SIZE;
}

bool msix_probe(struct msix *m, const struct pci_fn *f)
{
        u32 table, pba;
        const struct pci_bar *tb, *pb;

        memset(m, 0, sizeof(*m));
        m->f = f;
        m->cap = pci_find_cap(f, PCI_CAP_ID_MSIX, 0);
        if (!m->cap)
                return false;
        m->nvec = (pci_read(f, m->cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
        table = pci_read(f, m->cap + PCI_MSIX_TABLE, 4);
        pba = pci_read(f, m->cap + PCI_MSIX_PBA, 4);
        tb = &f->bar[table & PCI_MSIX_TABLE_BIR];
        pb = &f->bar[pba & PCI_MSIX_TABLE_BIR];
        if ((table & PCI_MSIX_TABLE_BIR) >= PCI_STD_NUM_BARS || tb->io || !tb->addr ||
            (table & PCI_MSIX_TABLE_OFFSET) + (u64)m->nvec * PCI_MSIX_ENTRY_SIZE > tb->size)
                guest_fail(ST_MSIX, "msix: 00:%02x.%u: table 0x%x outside its BAR", f->dev, f->fn,
                           table);
        m->table = tb->addr + (table & PCI_MSIX_TABLE_OFFSET);
        m->pba = pb->addr + (pba & PCI_MSIX_TABLE_OFFSET);
        m->table_bar_end = tb->addr + tb->size;
        m->pba_bar_end = pb->addr + pb->size;
        mmu_map_mmio(tb->addr, tb->size);
        mmu_map_mmio(pb->addr, pb->size);
        kprintf("msix: 00:%02x.%u: cap 0x%02x, %u vectors, table at 0x%lx, PBA at 0x%lx\n", f->dev,
                f->fn, m->cap, m->nvec, m->table, m->pba);
        return true;
}

void msix_mask(struct msix *m, u16 entry)
{
        u64 a = msix_entry_addr(m, entry) + PCI_MSIX_ENTRY_VECTOR_CTRL;

        mmio_write32(a, mmio_read32(a) | PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

void msix_unmask(struct msix *m, u16 entry)
{
        u64 a = msix_entry_addr(m, entry) + PCI_MSIX_ENTRY_VECTOR_CTRL;

        mmio_write32(a, mmio_read32(a) & ~PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* As Linux's msix_capability_init: enable with the function masked, program, unmask. */
void msix_enable(struct msix *m, u8 idt_base, u16 n)
{
        u16 ctrl = (u16)pci_read(m->f, m->cap + PCI_MSIX_FLAGS, 2);
        u32 dest = (u32)lapic_id() << MSI_ADDR_DEST_SHIFT;

        if (n > m->nvec)
                n = m->nvec;
        m->idt_base = idt_base;
        m->nused = n;
        pci_write(m->f, m->cap + PCI_MSIX_FLAGS, 2,
                  ctrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        for (u16 i = 0; i < m->nvec; i++) {
                u64 e = msix_entry_addr(m, i);

                mmio_write32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
                if (i >= n)
                        continue;
                irq_set_handler((u8)(idt_base + i), msix_irq);
                mmio_write32(e + PCI_MSIX_ENTRY_LOWER_ADDR, MSI_ADDR_BASE | dest);
                mmio_write32(e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
                mmio_write32(e + PCI_MSIX_ENTRY_DATA, (u32)idt_base + i); /* fixed, edge */
                if (mmio_read32(e + PCI_MSIX_ENTRY_DATA) != (u32)idt_base + i)
                        guest_fail(ST_MSIX, "msix: entry %u data reads 0x%x, wrote 0x%x", i,
                                   mmio_read32(e + PCI_MSIX_ENTRY_DATA), idt_base + i);
                mmio_write32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        }
        pci_write(m->f, m->cap + PCI_MSIX_FLAGS, 2,
                  (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
        ctrl = (u16)pci_read(m->f, m->cap + PCI_MSIX_FLAGS, 2);
        if ((ctrl & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)) != PCI_MSIX_FLAGS_ENABLE)
                guest_fail(ST_MSIX, "msix: control reads 0x%04x after enabling", ctrl);
}

void msix_disable(struct msix *m)
{
        u16 ctrl = (u16)pci_read(m->f, m->cap + PCI_MSIX_FLAGS, 2);

        pci_write(m->f, m->cap + PCI_MSIX_FLAGS, 2,
                  ctrl & ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
}

bool msix_pending(const struct msix *m, u16 entry)
{
        return (mmio_read32(m->pba + entry / 32 * 4) >> (entry % 32)) & 1;
}
