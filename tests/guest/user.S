/* user_call: into ring 3 by iretq, back through a ud2 that user_trap turns into a return. */
#include "defs.h"

#define RFLAGS_IOPL3 0x3000
#define RFLAGS_FIXED 0x0002

	.text
	.code64
/* u64 user_call(u64 (*fn)(u64), u64 arg): callee-saved registers kept across the trip. */
	.globl user_call
user_call:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushfq
	movq %rsp, user_kernel_rsp(%rip)
	movq user_stack_top(%rip), %rax
	andq $-16, %rax
	subq $8, %rax			/* fn sees a return address, as after a call */
	leaq user_exit(%rip), %rdx
	movq %rdx, (%rax)
	pushq $(GUEST_USER_DS | 3)
	pushq %rax
	pushq $(RFLAGS_IOPL3 | RFLAGS_FIXED)	/* IF off: no interrupts in ring 3 */
	pushq $(GUEST_USER_CS | 3)
	pushq %rdi
	movq %rsi, %rdi
	xorl %eax, %eax
	movl %eax, %ds
	movl %eax, %es
	iretq

/* Ring 3: fn returned here with its result in RAX. */
user_exit:
	movq %rax, %rdi
	.globl user_exit_ud2
user_exit_ud2:
	ud2

/* From user_trap, on the TSS stack: back to user_call's caller with RDI as the result. */
	.globl user_resume
user_resume:
	movq user_kernel_rsp(%rip), %rsp
	movl $WISP_GDT_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movq %rdi, %rax
	popfq
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	.data
	.balign 8
user_kernel_rsp:
	.quad 0

	.section .note.GNU-stack, "", @progbits
