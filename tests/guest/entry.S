/* Entry points (PVH 32-bit at 0x100000, Linux 64-bit at 0x100200, APs), GDT and page tables. */
#include "defs.h"

#define CR0_PE 0x00000001
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/*
 * PVH: Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (18). 4-byte aligned so that
 * readers that align the name to the segment's p_align (QEMU) find the desc.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4		/* namesz */
	.long 8		/* descsz */
	.long 18	/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad entry32

/*
 * 32-bit entry, first byte of the image. Two callers:
 *  - PVH: protected mode, paging off, EBX = struct hvm_start_info.
 *  - the bzImage setup stub (Linux 32-bit protocol): ESI = boot_params, EBX = 0.
 * Both get long mode here; a Linux caller then goes through entry64 exactly
 * as a 64-bit loader (wisp) would enter it.
 */
	.section .text.entry32, "ax"
	.code32
	.globl entry32
entry32:
	cli
	cld
	movl $BOOT_KIND_LINUX64, %edi
	testl %ebx, %ebx
	jz 1f
	cmpl $PVH_START_MAGIC, (%ebx)
	jne 1f
	movl %ebx, %esi
	movl $BOOT_KIND_PVH, %edi
1:	lgdt gdt_desc
	movl $WISP_GDT_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $WISP_GDT_CODE64, $entry32_long

/*
 * 64-bit Linux boot protocol entry: load address + 0x200. Long mode, the
 * loader's page tables and GDT, RSI = struct boot_params.
 */
	.section .text.entry64, "ax"
	.code64
	.globl entry64
entry64:
	cli
	cld
	movl $BOOT_KIND_LINUX64, %edi
	jmp common64

	.text
entry32_long:
	movl %esi, %esi			/* upper halves are undefined after the switch */
	cmpl $BOOT_KIND_PVH, %edi
	je common64
	jmp entry64

/* EDI = boot kind, RSI = loader structure. Own GDT, page tables, .bss, stack. */
common64:
	lgdt gdt_desc(%rip)
	movl $WISP_GDT_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	pushq $WISP_GDT_CODE64
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:	movl $pml4, %eax
	movq %rax, %cr3
	movl %edi, %r12d
	movq %rsi, %r13
	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	leaq guest_stacks + GUEST_STACK_SIZE(%rip), %rsp
	movl %r12d, %edi
	movq %r13, %rsi
	call guest_main
	ud2

/*
 * APs arrive here from the trampoline (trampoline.S) in long mode on our page
 * tables; the BSP has set ap_boot_index and ap_boot_stack before the SIPI.
 */
	.globl ap_entry64
ap_entry64:
	movl $WISP_GDT_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq ap_boot_stack(%rip), %rsp
	movl ap_boot_index(%rip), %edi
	call ap_main
	ud2

	.data
	.globl ap_boot_stack, ap_boot_index
	.balign 8
ap_boot_stack:
	.quad 0
ap_boot_index:
	.long 0

/* The same selectors as wisp's boot GDT, whatever order layout.h gives them. */
#define DESC_CODE64 0x00af9a000000ffff
#define DESC_CODE32 0x00cf9a000000ffff
#define DESC_DATA 0x00cf92000000ffff

	.balign 16
	.globl gdt, gdt_desc
gdt:
	.irp sel, 0x00, 0x08, 0x10, 0x18
	.if \sel == WISP_GDT_CODE64
	.quad DESC_CODE64
	.elseif \sel == WISP_GDT_CODE32
	.quad DESC_CODE32
	.elseif \sel == WISP_GDT_DATA
	.quad DESC_DATA
	.else
	.quad 0
	.endif
	.endr
gdt_end:
	.balign 8
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

/*
 * Identity map of the low 4 GiB with 2 MiB pages (1 GiB pages fault on
 * kvm_pvm). The top GiB (PCI hole: IOAPIC, LAPIC) is mapped uncached.
 */
#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080

	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + (PTE_P | PTE_W)
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + (PTE_P | PTE_W)
	.quad pd + 0x1000 + (PTE_P | PTE_W)
	.quad pd + 0x2000 + (PTE_P | PTE_W)
	.quad pd + 0x3000 + (PTE_P | PTE_W)
	.fill 508, 8, 0
pd:
	.set i, 0
	.rept 2048
	.if i < 1536
	.quad (i << 21) | (PTE_P | PTE_W | PTE_PS)
	.else
	.quad (i << 21) | (PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT)
	.endif
	.set i, i + 1
	.endr

/* Per-CPU stacks, not zeroed (outside .bss). Index 0 is the BSP's. */
	.section .stack, "aw", @nobits
	.balign 4096
	.globl guest_stacks
guest_stacks:
	.skip GUEST_STACK_SIZE * GUEST_MAX_CPUS

	.section .note.GNU-stack, "", @progbits
