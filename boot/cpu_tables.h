/* x86 boot-time CPU state: the GDT, identity page tables and initial registers. */
#ifndef WISP_BOOT_CPU_TABLES_H
#define WISP_BOOT_CPU_TABLES_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/* How the boot vCPU enters the kernel. */
enum boot_mode {
        BOOT_LONG64, /* 64-bit Linux boot protocol: paging on, RSI = zero page */
        BOOT_PVH32,  /* PVH: 32-bit protected mode, paging off, EBX = start_info */
};

#define GDT_ENTRIES 4

/* The boot GDT (null, 32-bit code, 64-bit code, data; see layout.h). Pure. */
void gdt_build(uint64_t gdt[GDT_ENTRIES]);

/* The kvm_segment a GDT descriptor describes, for selector sel. Pure. */
struct kvm_segment gdt_to_segment(uint64_t desc, uint16_t sel);

/* Bytes of the identity page tables: PML4, PDPT and four PDs. */
#define PAGE_TABLES_SIZE (6 * 4096)

/*
 * Writes PML4, PDPT and PDs mapping the low 4 GiB 1:1 with 2 MiB pages into
 * buf (PAGE_TABLES_SIZE bytes) that sits at guest physical address base.
 * Pure. 2 MiB pages because 1 GiB pages fault on kvm_pvm.
 */
void page_tables_build(void *buf, uint64_t base);

/*
 * The special registers (segments from the GDT at gdt_gpa, CR0/CR3/CR4/EFER)
 * for mode, starting from the vCPU's current sregs so that KVM-owned fields
 * (APIC base, interrupt bitmap) are kept. Pure.
 */
void boot_sregs(struct kvm_sregs *sregs, enum boot_mode mode, uint64_t gdt_gpa, uint64_t pml4_gpa);

/* The general registers for mode: entry, stack, boot-info pointer. Pure. */
void boot_regs(struct kvm_regs *regs, enum boot_mode mode, uint64_t entry, uint64_t info_gpa,
               uint64_t stack);

#endif
