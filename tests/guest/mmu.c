/* The identity map: 2 MiB pages above 4 GiB for BARs placed there, and user (U) bits for ring 3. */
#include "virtio.h"
#include "x86.h"

#define PTE_P 0x001UL
#define PTE_W 0x002UL
#define PTE_U 0x004UL
#define PTE_PWT 0x008UL
#define PTE_PCD 0x010UL
#define PTE_PS 0x080UL
#define PTE_ADDR 0x000ffffffffff000UL
#define PAGE_2M (1UL << 21)
#define PML4_SPAN (1UL << 39) /* what pml4[0] maps: 512 GiB */

static u64 *cr3_table(void)
{
        u64 v;

        __asm__ volatile("mov %%cr3, %0" : "=r"(v));
        return (u64 *)(v & PTE_ADDR);
}

static void flush_tlb(void)
{
        u64 v;

        __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(v) : : "memory");
}

/* The PD entry mapping addr, creating the PD (not present entries) when asked. */
static u64 *pd_entry(u64 addr, bool create)
{
        u64 *pml4 = cr3_table(), *pdpt, *pd;
        u64 *pdpte;

        if (addr >= PML4_SPAN)
                guest_fail(ST_USAGE, "mmu: 0x%lx is beyond the 512 GiB this guest maps", addr);
        if (!(pml4[0] & PTE_P))
                guest_fail(ST_USAGE, "mmu: no PML4 entry 0");
        pdpt = (u64 *)(pml4[0] & PTE_ADDR);
        pdpte = &pdpt[addr >> 30];
        if (!(*pdpte & PTE_P)) {
                if (!create)
                        return NULL;
                pd = pzalloc(4096, 4096);
                *pdpte = (u64)pd | PTE_P | PTE_W | (pml4[0] & PTE_U);
        }
        pd = (u64 *)(*pdpte & PTE_ADDR);
        return &pd[(addr >> 21) & 511];
}

void mmu_map_mmio(u64 addr, u64 size)
{
        bool changed = false;

        if (!size)
                return;
        for (u64 a = addr & ~(PAGE_2M - 1); a < addr + size; a += PAGE_2M) {
                u64 *e;

                if (a < WISP_PCI_HOLE_END)
                        continue; /* entry.S maps the low 4 GiB (the hole uncached) */
                e = pd_entry(a, true);
                if (!(*e & PTE_P)) {
                        *e = a | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
                        changed = true;
                }
        }
        if (changed)
                flush_tlb();
}

void mmu_set_user(u64 addr, u64 size)
{
        u64 *pml4 = cr3_table(), *pdpt = (u64 *)(pml4[0] & PTE_ADDR);

        if (!size)
                return;
        pml4[0] |= PTE_U;
        for (u64 a = addr & ~(PAGE_2M - 1); a < addr + size; a += PAGE_2M) {
                u64 *e = pd_entry(a, false);

                if (!e || !(*e & PTE_P))
                        guest_fail(ST_USAGE, "mmu: 0x%lx is not mapped", a);
                pdpt[a >> 30] |= PTE_U;
                *e |= PTE_U;
        }
        flush_tlb();
}
