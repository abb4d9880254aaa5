/* Unit tests for boot/cpu_tables.c: boot GDT, identity page tables and initial registers. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "boot/cpu_tables.h"
#include "boot/layout.h"

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

struct seg_want {
        uint16_t sel;
        uint8_t type, s, l, db, g;
};

static void check_flat(struct kvm_segment s, struct seg_want w)
{
        cr_assert_eq(s.selector, w.sel);
        cr_assert_eq(s.base, 0, "sel %#x base", w.sel);
        cr_assert_eq(s.limit, 0xffffffffu, "sel %#x limit %#x", w.sel, s.limit);
        cr_assert_eq(s.type, w.type, "sel %#x type %u", w.sel, s.type);
        cr_assert_eq(s.present, 1, "sel %#x present", w.sel);
        cr_assert_eq(s.dpl, 0, "sel %#x dpl", w.sel);
        cr_assert_eq(s.s, w.s, "sel %#x s", w.sel);
        cr_assert_eq(s.l, w.l, "sel %#x l", w.sel);
        cr_assert_eq(s.db, w.db, "sel %#x db", w.sel);
        cr_assert_eq(s.g, w.g, "sel %#x g", w.sel);
        cr_assert_eq(s.unusable, 0, "sel %#x usable", w.sel);
}

Test(gdt, descriptors_are_the_canonical_flat_ones)
{
        uint64_t g[GDT_ENTRIES];

        memset(g, 0xff, sizeof(g));
        gdt_build(g);
        cr_assert_eq(g[0], 0, "null descriptor");
        /* The values Linux's own boot GDT uses for the same segments. */
        cr_assert_eq(g[WISP_GDT_CODE32 / 8], 0x00cf9b000000ffffull, "%#llx",
                     (unsigned long long)g[1]);
        cr_assert_eq(g[WISP_GDT_CODE64 / 8], 0x00af9b000000ffffull, "%#llx",
                     (unsigned long long)g[2]);
        cr_assert_eq(g[WISP_GDT_DATA / 8], 0x00cf93000000ffffull, "%#llx",
                     (unsigned long long)g[3]);
}

Test(gdt, selectors_decode_to_the_expected_segments)
{
        uint64_t g[GDT_ENTRIES];

        gdt_build(g);
        check_flat(gdt_to_segment(g[WISP_GDT_CODE32 / 8], WISP_GDT_CODE32),
                   (struct seg_want){WISP_GDT_CODE32, 0xb, 1, 0, 1, 1});
        check_flat(gdt_to_segment(g[WISP_GDT_CODE64 / 8], WISP_GDT_CODE64),
                   (struct seg_want){WISP_GDT_CODE64, 0xb, 1, 1, 0, 1});
        check_flat(gdt_to_segment(g[WISP_GDT_DATA / 8], WISP_GDT_DATA),
                   (struct seg_want){WISP_GDT_DATA, 0x3, 1, 0, 1, 1});
        cr_assert_eq(gdt_to_segment(g[0], 0).unusable, 1, "the null descriptor is unusable");
        cr_assert_eq(gdt_to_segment(g[0], 0).present, 0);
}

/* Encodes a descriptor field by field, from the SDM's figure 3-8. */
static uint64_t desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
        return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
               (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
               (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

Test(gdt, decodes_base_byte_granular_limit_dpl_and_avl)
{
        /* Access 0xf3: present, DPL 3, data r/w accessed; flags 0x1: AVL only. */
        struct kvm_segment s = gdt_to_segment(desc(0x12345678, 0xabcde, 0xf3, 0x1), 0x2b);

        cr_assert_eq(s.base, 0x12345678);
        cr_assert_eq(s.limit, 0xabcde, "G=0: limit in bytes");
        cr_assert_eq(s.selector, 0x2b);
        cr_assert_eq(s.type, 3);
        cr_assert_eq(s.dpl, 3);
        cr_assert_eq(s.present, 1);
        cr_assert_eq(s.s, 1);
        cr_assert_eq(s.avl, 1);
        cr_assert_eq(s.g, 0);
        cr_assert_eq(s.db, 0);
        cr_assert_eq(s.l, 0);
        cr_assert_eq(s.unusable, 0);

        /* Not present: unusable; system segment (S=0) type 0xb is a busy TSS. */
        s = gdt_to_segment(desc(0xfee00000, 0x67, 0x0b, 0x8), 0x40);
        cr_assert_eq(s.base, 0xfee00000);
        cr_assert_eq(s.limit, 0x67fff, "G=1: limit in 4 KiB pages");
        cr_assert_eq(s.present, 0);
        cr_assert_eq(s.unusable, 1);
        cr_assert_eq(s.s, 0);
        cr_assert_eq(s.type, 0xb);
}

/* Page tables placed where wisp puts them, in a buffer standing in for guest RAM. */
#define BASE WISP_PML4_ADDR
#define ADDR_MASK 0x000ffffffffff000ull

static uint64_t entry_at(const uint8_t *pt, uint64_t table, unsigned int idx)
{
        uint64_t e;

        cr_assert_geq(table, BASE, "table %#llx below the buffer", (unsigned long long)table);
        cr_assert_leq(table + 4096, BASE + PAGE_TABLES_SIZE, "table %#llx outside the buffer",
                      (unsigned long long)table);
        memcpy(&e, pt + (table - BASE) + idx * 8, 8);
        return e;
}

/* Walks the 4-level tables as the CPU does; false when va is not mapped. */
static bool walk(const uint8_t *pt, uint64_t va, uint64_t *pa)
{
        uint64_t e = entry_at(pt, BASE, (va >> 39) & 511);

        if (!(e & 1))
                return false;
        cr_assert(e & 2, "PML4E writable");
        cr_assert_eq(e & (1ull << 7), 0, "PS is reserved in a PML4E");
        e = entry_at(pt, e & ADDR_MASK, (va >> 30) & 511);
        if (!(e & 1))
                return false;
        cr_assert(e & 2, "PDPTE writable");
        cr_assert_eq(e & (1ull << 7), 0, "no 1 GiB pages (they fault on kvm_pvm)");
        e = entry_at(pt, e & ADDR_MASK, (va >> 21) & 511);
        if (!(e & 1))
                return false;
        cr_assert(e & 2, "PDE writable");
        cr_assert(e & (1ull << 7), "2 MiB page");
        cr_assert_eq(e & 0x1fe000ull, 0, "reserved bits of a 2 MiB PDE are zero");
        cr_assert_eq(e >> 52, 0, "no NX or high bits");
        *pa = (e & 0x000fffffffe00000ull) | (va & 0x1fffff);
        return true;
}

Test(page_tables, identity_map_of_the_low_4_gib)
{
        uint8_t *pt = malloc(PAGE_TABLES_SIZE);
        const uint64_t vas[] = {0,          0x1234,     0x200000,   0x200000 + 0x1fffff, 0x1000000,
                                0x3fffffff, 0x40000000, 0xbfffffff, 0xc0000000,          0xfec00000,
                                0xfee00000, 0xfee00fff, 0xffe00000, 0xffffffff};
        uint64_t pa;

        memset(pt, 0xcc, PAGE_TABLES_SIZE);
        page_tables_build(pt, BASE);
        for (size_t i = 0; i < sizeof(vas) / sizeof(vas[0]); i++) {
                cr_assert(walk(pt, vas[i], &pa), "%#llx unmapped", (unsigned long long)vas[i]);
                cr_assert_eq(pa, vas[i], "%#llx maps to %#llx", (unsigned long long)vas[i],
                             (unsigned long long)pa);
        }
        for (uint64_t va = 0; va < (1ull << 32); va += 0x200000 + 0x1000) {
                cr_assert(walk(pt, va, &pa));
                cr_assert_eq(pa, va);
        }
        free(pt);
}

Test(page_tables, nothing_above_4_gib_is_mapped)
{
        uint8_t *pt = malloc(PAGE_TABLES_SIZE);
        uint64_t pa;

        page_tables_build(pt, BASE);
        cr_assert_not(walk(pt, 1ull << 32, &pa));
        cr_assert_not(walk(pt, 5ull << 30, &pa));
        cr_assert_not(walk(pt, 1ull << 39, &pa), "PML4 entry 1");
        cr_assert_not(walk(pt, 0xffffffff81000000ull, &pa), "no high kernel mapping");
        free(pt);
}

Test(page_tables, tables_point_inside_their_own_placement)
{
        uint8_t *pt = malloc(PAGE_TABLES_SIZE);
        uint64_t e;

        page_tables_build(pt, 0x40000);
        memcpy(&e, pt, 8);
        cr_assert_eq(e & ADDR_MASK, 0x41000, "PML4[0] -> PDPT at base + 4 KiB");
        for (unsigned int i = 0; i < 4; i++) {
                memcpy(&e, pt + 4096 + i * 8, 8);
                cr_assert_eq(e & ADDR_MASK, 0x42000 + i * 0x1000, "PDPT[%u]", i);
        }
        free(pt);
}

static struct kvm_sregs initial_sregs(void)
{
        struct kvm_sregs s;

        memset(&s, 0x5a, sizeof(s));
        s.apic_base = 0xfee00900;
        for (unsigned int i = 0; i < sizeof(s.interrupt_bitmap) / 8; i++)
                s.interrupt_bitmap[i] = 0x1111111111111111ull * (i + 1);
        return s;
}

static void check_common_sregs(const struct kvm_sregs *s)
{
        cr_assert_eq(s->apic_base, 0xfee00900, "KVM-owned APIC base kept");
        for (unsigned int i = 0; i < sizeof(s->interrupt_bitmap) / 8; i++)
                cr_assert_eq(s->interrupt_bitmap[i], 0x1111111111111111ull * (i + 1));
        cr_assert_eq(s->gdt.base, WISP_GDT_ADDR);
        cr_assert_eq(s->gdt.limit, GDT_ENTRIES * 8 - 1);
        cr_assert_eq(s->ds.selector, WISP_GDT_DATA);
        check_flat(s->ds, (struct seg_want){WISP_GDT_DATA, 3, 1, 0, 1, 1});
        cr_assert_eq(memcmp(&s->es, &s->ds, sizeof(s->ds)), 0);
        cr_assert_eq(memcmp(&s->ss, &s->ds, sizeof(s->ds)), 0);
        cr_assert_eq(memcmp(&s->fs, &s->ds, sizeof(s->ds)), 0);
        cr_assert_eq(memcmp(&s->gs, &s->ds, sizeof(s->ds)), 0);
        cr_assert_eq(s->tr.present, 1, "TR usable for VM entry");
        cr_assert_eq(s->tr.type, 11, "busy TSS");
        cr_assert_eq(s->tr.unusable, 0);
        cr_assert(s->cr0 & CR0_PE, "protected mode");
        cr_assert_eq(s->cr2, 0);
}

Test(boot_sregs, long_mode)
{
        struct kvm_sregs s = initial_sregs();

        boot_sregs(&s, BOOT_LONG64, WISP_GDT_ADDR, WISP_PML4_ADDR);
        check_common_sregs(&s);
        cr_assert(s.cr0 & CR0_PG, "paging on");
        cr_assert(s.cr4 & CR4_PAE);
        cr_assert_eq(s.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
        cr_assert_eq(s.cr3, WISP_PML4_ADDR);
        cr_assert_eq(s.cs.selector, 0x10, "__BOOT_CS");
        check_flat(s.cs, (struct seg_want){0x10, 0xb, 1, 1, 0, 1});
        cr_assert_eq(s.ds.selector, 0x18, "__BOOT_DS");
}

Test(boot_sregs, pvh_is_32_bit_without_paging_even_over_stale_state)
{
        struct kvm_sregs s = initial_sregs();

        /* Start from a long-mode state: PVH must clear what it does not want. */
        boot_sregs(&s, BOOT_LONG64, WISP_GDT_ADDR, WISP_PML4_ADDR);
        boot_sregs(&s, BOOT_PVH32, WISP_GDT_ADDR, WISP_PML4_ADDR);
        check_common_sregs(&s);
        cr_assert_eq(s.cr0 & CR0_PG, 0, "paging off");
        cr_assert_eq(s.cr4, 0);
        cr_assert_eq(s.efer, 0);
        cr_assert_eq(s.cr3, 0);
        cr_assert_eq(s.cs.selector, 0x08);
        check_flat(s.cs, (struct seg_want){0x08, 0xb, 1, 0, 1, 1});
}

Test(boot_regs, long_mode_passes_the_zero_page_in_rsi)
{
        struct kvm_regs r;

        memset(&r, 0x77, sizeof(r));
        boot_regs(&r, BOOT_LONG64, 0x1000200, WISP_ZERO_PAGE_ADDR, WISP_BOOT_STACK);
        cr_assert_eq(r.rip, 0x1000200);
        cr_assert_eq(r.rsi, WISP_ZERO_PAGE_ADDR);
        cr_assert_eq(r.rsp, WISP_BOOT_STACK);
        cr_assert_eq(r.rflags, 2, "bit 1 set, interrupts off");
        cr_assert_eq(r.rbx, 0);
        cr_assert_eq(r.rax, 0);
        cr_assert_eq(r.rdi, 0);
        cr_assert_eq(r.r15, 0);
}

Test(boot_regs, pvh_passes_start_info_in_rbx)
{
        struct kvm_regs r;

        memset(&r, 0x77, sizeof(r));
        boot_regs(&r, BOOT_PVH32, 0x1000100, WISP_PVH_INFO_ADDR, WISP_BOOT_STACK);
        cr_assert_eq(r.rip, 0x1000100);
        cr_assert_eq(r.rbx, WISP_PVH_INFO_ADDR);
        cr_assert_eq(r.rsi, 0);
        cr_assert_eq(r.rflags & 2, 2);
        cr_assert_eq(r.rflags & (1u << 9), 0, "IF clear");
        cr_assert_eq(r.rax, 0);
        cr_assert_eq(r.rsp, WISP_BOOT_STACK);
}
