/* Test-guest constants shared by C and assembly (plain macros only). */
#ifndef GUEST_DEFS_H
#define GUEST_DEFS_H

#include "../../boot/layout.h"

#define GUEST_MAX_CPUS 32
#define GUEST_STACK_SIZE 16384

/*
 * The AP trampoline: real-mode code copied here before INIT-SIPI-SIPI (SIPI
 * vector = address >> 12). It lies between wisp's page tables and its command
 * line, both of which the guest has copied out or replaced by then.
 */
#define GUEST_TRAMPOLINE_ADDR 0x10000
#define GUEST_TRAMPOLINE_MAX 0x1000

/* Selectors ring3.c adds after wisp's three (entry.S keeps those at 0x08..0x18). */
#define GUEST_USER_DS 0x20
#define GUEST_USER_CS 0x28
#define GUEST_TSS 0x30 /* 16 bytes: two GDT slots */

/* How the guest was entered (passed from entry.S to guest_main). */
#define BOOT_KIND_LINUX64 1 /* 64-bit Linux boot protocol, RSI = boot_params */
#define BOOT_KIND_PVH 2     /* PVH, EBX = hvm_start_info */

#define PVH_START_MAGIC 0x336ec578

/* Interrupt vectors. */
#define VEC_LAPIC_TIMER 0x40
#define VEC_PIT_PIN0 0x41 /* IOAPIC pin 0: PIT under KVM's default routing */
#define VEC_PIT_PIN2 0x42 /* IOAPIC pin 2: PIT under the PC/ACPI ISA override */
#define VEC_UART 0x43
#define VEC_IPI 0x44       /* BSP -> AP */
#define VEC_IPI_REPLY 0x45 /* AP -> BSP */
#define VEC_MSIX_BASE 0x50 /* MSI-X: disk d uses 0x50 + 0x20 * d .. + 0x1f */
#define VEC_MSIX_PER_DEV 0x20
#define VEC_MSIX_END 0xd0
#define VEC_SPURIOUS 0xff

#endif
