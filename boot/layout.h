/* Every guest physical address and fixed port wisp uses, in one place. */
#ifndef WISP_BOOT_LAYOUT_H
#define WISP_BOOT_LAYOUT_H

/*
 * Plain macros only: this header is also included by the freestanding test
 * guest (tests/guest) and by assembly, so it must not pull in any type.
 *
 * Low memory (below 1 MiB), as the x86 boot protocol and the MP spec expect:
 *
 *   0x00000000  real-mode IVT and BDA (left zero, reported as RAM)
 *   0x00000500  boot GDT (4 entries)
 *   0x00000520  boot IDT (empty: interrupts stay off until the kernel's own)
 *   0x00006000  PVH hvm_start_info, followed by its memory map
 *   0x00007000  zero page (struct boot_params)
 *   0x00008ff0  initial stack pointer of the boot vCPU
 *   0x00009000  PML4, 0xa000 PDPT, 0xb000..0xe000 four PDs (identity map of
 *               the low 4 GiB with 2 MiB pages; 1 GiB pages fault on kvm_pvm)
 *   0x00020000  kernel command line (up to WISP_CMDLINE_MAX bytes)
 *   0x0009fc00  EBDA: the MP floating pointer and configuration table
 *   0x000a0000  legacy VGA hole and BIOS area, reserved up to 1 MiB
 *   0x00100000  bzImage protected-mode kernel / test guest load address
 *
 * High memory: RAM runs from 0 up to the PCI hole at 3 GiB; whatever does not
 * fit below the hole continues at 4 GiB.
 */

#define WISP_GDT_ADDR 0x500UL
#define WISP_IDT_ADDR 0x520UL
#define WISP_PVH_INFO_ADDR 0x6000UL
#define WISP_PVH_MEMMAP_ADDR 0x6040UL
#define WISP_PVH_MEMMAP_MAX 32
#define WISP_PVH_MODLIST_ADDR 0x6400UL /* one module: the initrd */
#define WISP_ZERO_PAGE_ADDR 0x7000UL
#define WISP_BOOT_STACK 0x8ff0UL
#define WISP_PML4_ADDR 0x9000UL
#define WISP_PDPT_ADDR 0xa000UL
#define WISP_PD_ADDR 0xb000UL /* four pages: 0xb000..0xefff */
#define WISP_PAGE_TABLES_END 0xf000UL
#define WISP_CMDLINE_ADDR 0x20000UL
#define WISP_CMDLINE_MAX 4096UL /* including the NUL */
#define WISP_EBDA_ADDR 0x9fc00UL
#define WISP_MPTABLE_ADDR WISP_EBDA_ADDR /* may run on into the reserved 0xa0000.. */
#define WISP_MPTABLE_MAX (WISP_HIGHMEM_START - WISP_MPTABLE_ADDR)
#define WISP_LOWMEM_END 0xa0000UL     /* 640 KiB: end of usable low RAM */
#define WISP_HIGHMEM_START 0x100000UL /* 1 MiB */
#define WISP_KERNEL_ADDR 0x100000UL   /* bzImage protected-mode code */

/* The PCI hole: MMIO below 4 GiB. Guest RAM never overlaps it. */
#define WISP_PCI_HOLE_START 0xc0000000UL /* 3 GiB */
#define WISP_PCI_HOLE_END 0x100000000UL  /* 4 GiB */
#define WISP_RAM_HIGH_START WISP_PCI_HOLE_END

/*
 * PCI inside the hole: a 32-bit memory window for BARs (wisp assigns them as
 * firmware would; the guest may move them), then the ECAM window for bus 0
 * (MMCONFIG: 4 KiB of config space per function, 32 devices x 8 functions).
 */
#define WISP_PCI_MMIO32_START 0xc0000000UL
#define WISP_PCI_MMIO32_END 0xe0000000UL /* 512 MiB */
#define WISP_PCI_ECAM_ADDR 0xe0000000UL
#define WISP_PCI_ECAM_SIZE 0x100000UL /* bus 0 only */
/* Port I/O window for I/O BARs (legacy virtio), above the ISA range. */
#define WISP_PCI_IO_START 0xc000UL
#define WISP_PCI_IO_END 0x10000UL
/* Configuration mechanism #1. */
#define WISP_PORT_PCI_CONFIG_ADDR 0xcf8
#define WISP_PORT_PCI_CONFIG_DATA 0xcfc
/* INTx of slot s (INTA) arrives on IOAPIC pin 16 + s % 8, level, active low. */
#define WISP_PCI_INTX_FIRST_PIN 16
#define WISP_PCI_INTX_PINS 8

/* Fixed MMIO inside the hole (the firmware-less x86 convention). */
#define WISP_IOAPIC_ADDR 0xfec00000UL
#define WISP_LAPIC_ADDR 0xfee00000UL
#define WISP_KVM_IDENTITY_MAP_ADDR 0xfeffc000UL /* one page, KVM-internal */
#define WISP_KVM_TSS_ADDR 0xfeffd000UL          /* three pages, KVM-internal */

/*
 * Segment selectors of the boot GDT (index * 8). The 64-bit Linux boot
 * protocol names __BOOT_CS = 0x10 and __BOOT_DS = 0x18; PVH only needs some
 * flat 32-bit code segment, which takes the remaining slot.
 */
#define WISP_GDT_CODE32 0x08 /* entry 1: 32-bit flat code (PVH entry) */
#define WISP_GDT_CODE64 0x10 /* entry 2: 64-bit code (__BOOT_CS) */
#define WISP_GDT_DATA 0x18   /* entry 3: flat data (__BOOT_DS) */

/* Fixed I/O ports. */
#define WISP_PORT_COM1 0x3f8
#define WISP_IRQ_COM1 4
#define WISP_PORT_I8042_DATA 0x60
#define WISP_PORT_I8042_CMD 0x64
/*
 * Debug exit: a byte written here ends wisp with that byte as its exit
 * status. Same port as QEMU's isa-debug-exit so one test guest runs on both
 * (QEMU reports (value << 1) | 1 instead).
 */
#define WISP_PORT_DEBUG_EXIT 0x501

/* wisp's own exit statuses (see README "Exit status"). */
#define WISP_EXIT_OK 0            /* guest rebooted or powered off */
#define WISP_EXIT_GUEST_CRASH 124 /* triple fault, KVM internal error */
#define WISP_EXIT_ERROR 125       /* wisp's own error: options, files, KVM */
#define WISP_EXIT_SIGNAL_BASE 128 /* stopped by signal N: 128 + N */
/* A thread made a system call its seccomp filter forbids: what SIGSYS would give. */
#define WISP_EXIT_SYSCALL_DENIED (WISP_EXIT_SIGNAL_BASE + 31)

#endif
