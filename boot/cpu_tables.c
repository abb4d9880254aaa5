/* Pure builders for the boot GDT, page tables and register state. */
#include "boot/cpu_tables.h"

#include <string.h>

#include "boot/layout.h"

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

/* Descriptor = flags (G, D/B, L) in bits 52..55, access byte in 40..47, limit 0xfffff. */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
        return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
               ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
               (uint64_t)(limit & 0x0000ffffu);
}

void gdt_build(uint64_t gdt[GDT_ENTRIES])
{
        gdt[0] = 0;
        gdt[WISP_GDT_CODE32 / 8] = gdt_entry(0xc09b, 0, 0xfffff); /* G, D, P, code r/x */
        gdt[WISP_GDT_CODE64 / 8] = gdt_entry(0xa09b, 0, 0xfffff); /* G, L, P, code r/x */
        gdt[WISP_GDT_DATA / 8] = gdt_entry(0xc093, 0, 0xfffff);   /* G, B, P, data r/w */
}

struct kvm_segment gdt_to_segment(uint64_t d, uint16_t sel)
{
        uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
        uint8_t g = (d >> 55) & 1;

        return (struct kvm_segment){
            .base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
            .limit = g ? (limit << 12) | 0xfff : limit,
            .selector = sel,
            .type = (d >> 40) & 0xf,
            .present = (d >> 47) & 1,
            .dpl = (d >> 45) & 3,
            .db = (d >> 54) & 1,
            .s = (d >> 44) & 1,
            .l = (d >> 53) & 1,
            .g = g,
            .avl = (d >> 52) & 1,
            .unusable = !((d >> 47) & 1),
        };
}

void page_tables_build(void *buf, uint64_t base)
{
        uint64_t *pml4 = buf;
        uint64_t *pdpt = pml4 + 512;
        uint64_t *pd = pdpt + 512;

        memset(buf, 0, PAGE_TABLES_SIZE);
        pml4[0] = (base + 4096) | PTE_P | PTE_RW;
        for (uint64_t i = 0; i < 4; i++)
                pdpt[i] = (base + 2 * 4096 + i * 4096) | PTE_P | PTE_RW;
        for (uint64_t i = 0; i < 4 * 512; i++)
                pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
}

void boot_sregs(struct kvm_sregs *s, enum boot_mode mode, uint64_t gdt_gpa, uint64_t pml4_gpa)
{
        uint64_t gdt[GDT_ENTRIES];
        uint16_t cs_sel = mode == BOOT_LONG64 ? WISP_GDT_CODE64 : WISP_GDT_CODE32;

        gdt_build(gdt);
        s->cs = gdt_to_segment(gdt[cs_sel / 8], cs_sel);
        s->ds = gdt_to_segment(gdt[WISP_GDT_DATA / 8], WISP_GDT_DATA);
        s->es = s->fs = s->gs = s->ss = s->ds;
        s->gdt.base = gdt_gpa;
        s->gdt.limit = sizeof(gdt) - 1;
        /* An empty IDT: any exception before the kernel loads its own is a
         * triple fault, which wisp reports as a crash with the registers. */
        s->idt.base = WISP_IDT_ADDR;
        s->idt.limit = 0;
        /* A busy 64-bit TSS descriptor that is never used: VMX entry checks
         * want TR to be usable. */
        s->tr = (struct kvm_segment){.limit = 0xffff, .type = 11, .present = 1};
        s->ldt = (struct kvm_segment){.type = 2, .present = 1, .unusable = 1};

        s->cr0 = CR0_PE | CR0_ET;
        s->cr2 = 0;
        s->cr3 = 0;
        s->cr4 = 0;
        s->efer = 0;
        if (mode == BOOT_LONG64) {
                s->cr0 |= CR0_PG;
                s->cr3 = pml4_gpa;
                s->cr4 = CR4_PAE;
                s->efer = EFER_LME | EFER_LMA;
        }
}

void boot_regs(struct kvm_regs *r, enum boot_mode mode, uint64_t entry, uint64_t info_gpa,
               uint64_t stack)
{
        memset(r, 0, sizeof(*r));
        r->rflags = 2; /* bit 1 is reserved, always one; interrupts off */
        r->rip = entry;
        r->rsp = stack;
        r->rbp = stack;
        if (mode == BOOT_LONG64)
                r->rsi = info_gpa; /* struct boot_params */
        else
                r->rbx = info_gpa; /* struct hvm_start_info */
}
