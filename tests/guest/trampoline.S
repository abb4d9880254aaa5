/* AP trampoline: real mode at GUEST_TRAMPOLINE_ADDR -> protected -> long mode -> ap_entry64. */
#include "defs.h"

#define T(x) (GUEST_TRAMPOLINE_ADDR + (x) - trampoline_start)

/*
 * Copied to GUEST_TRAMPOLINE_ADDR by smp.c; a SIPI with vector
 * GUEST_TRAMPOLINE_ADDR >> 12 starts the AP at CS = that >> 4, IP = 0.
 */
	.section .rodata.trampoline, "a"
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tr_gdt_desc - trampoline_start
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $WISP_GDT_CODE32, $T(tr_32)

	.code32
tr_32:
	movl $WISP_GDT_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax		/* PG */
	movl %eax, %cr0
	ljmp $WISP_GDT_CODE64, $ap_entry64

	.balign 8
tr_gdt_desc:
	.word 31			/* the 4-entry gdt in entry.S */
	.long gdt
trampoline_end:

	.section .note.GNU-stack, "", @progbits
