/* bzImage real-mode setup stub: BIOS e820 into a zero page, then the Linux 32-bit boot protocol. */

/*
 * wisp never runs this (it uses the 64-bit entry). Loaders that start the
 * real-mode part (QEMU's -kernel with a bzImage) get: a zero page with the
 * setup header, the command line pointer and the BIOS e820 map, then a jump
 * to code32_start in flat 32-bit protected mode with ESI = zero page, as in
 * Documentation/x86/boot.rst. Linked at 0, so labels are file offsets and,
 * with DS = the setup segment, also data offsets.
 */
#define ZP 0x1000         /* zero page, inside the setup segment */
#define STACK_TOP 0x3000
#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE 0x2d0
#define E820_MAX 128
#define SMAP 0x534d4150
#define HDR_CODE32_START 0x214
#define BOOT_CS 0x10
#define BOOT_DS 0x18

	.code16
	.text
	.globl _start
_start:
	.org 0x1f1
	/* struct setup_header: filled in by mkbzimage */
	.org 0x200
	.byte 0xeb			/* jump: its offset byte ends the header */
	.byte setup_start - 1f
1:	.ascii "HdrS"
	.org 0x280
setup_start:
	cli
	cld
	movw %cs, %ax
	subw $0x20, %ax			/* the loader jumps to setup_seg + 0x20 : 0 */
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $STACK_TOP, %sp

	movw $ZP, %di			/* zero page: zeroes, then the header */
	movw $0x800, %cx
	xorw %ax, %ax
	rep stosw
	movw $0x1f1, %si
	movw $ZP + 0x1f1, %di
	movw $setup_start - 0x1f1, %cx
	rep movsb

	xorl %ebx, %ebx			/* BIOS e820, int 0x15 ax=0xe820 */
	movw $ZP + ZP_E820_TABLE, %di
2:	movl $0xe820, %eax
	movl $20, %ecx
	movl $SMAP, %edx
	int $0x15
	jc 3f
	cmpl $SMAP, %eax
	jne 3f
	addw $20, %di
	incb ZP + ZP_E820_ENTRIES
	cmpb $E820_MAX, ZP + ZP_E820_ENTRIES
	jae 3f
	testl %ebx, %ebx
	jnz 2b

3:	xorl %eax, %eax			/* linear base of the setup segment */
	movw %ds, %ax
	shll $4, %eax
	addl %eax, gdt_desc + 2
	addl %eax, pm_jump
	leal ZP(%eax), %esi
	movl HDR_CODE32_START, %ecx
	lgdtl gdt_desc
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl *pm_jump

	.code32
pm32:
	movl $BOOT_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	xorl %ebx, %ebx			/* boot.rst: EBP, EDI and EBX must be zero */
	xorl %ebp, %ebp
	xorl %edi, %edi
	jmp *%ecx

	.balign 8
gdt:
	.quad 0, 0
	.quad 0x00cf9a000000ffff	/* BOOT_CS */
	.quad 0x00cf92000000ffff	/* BOOT_DS */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt			/* + linear base, at run time */
pm_jump:
	.long pm32			/* + linear base, at run time */
	.word BOOT_CS

	.section .note.GNU-stack, "", @progbits
