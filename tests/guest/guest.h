/* The test guest's internal API: every module's entry points and the exit statuses. */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include "defs.h"
#include "types.h"

/* Exit statuses (the byte written to the debug-exit port); see README.md. */
enum guest_status {
        ST_PASS = 0,
        ST_MEMMAP = 10,
        ST_CMDLINE = 11,
        ST_CPU_COUNT = 12,
        ST_AP_TIMEOUT = 13,
        ST_LAPIC_TIMER = 14,
        ST_PIT = 15,
        ST_IPI = 16,
        ST_KVMCLOCK = 17,
        ST_CPUID = 18,
        ST_UNCLAIMED = 19,
        ST_ECHO = 20,
        ST_REBOOT = 21,
        ST_USAGE = 22,
        ST_EXCEPTION = 30,
        ST_PCI = 40,        /* enumeration, mechanisms disagree, BARs, capabilities */
        ST_MSIX = 41,       /* MSI-X table, or a completion without its interrupt */
        ST_VIRTIO = 42,     /* virtio-pci set-up refused, or the ring misbehaved */
        ST_VQ_TIMEOUT = 43, /* a request never came back */
        ST_BLK_DATA = 44,   /* data read back differs */
        ST_BLK_STATUS = 45, /* a request got the wrong status */
        ST_BLK_CONFIG = 46, /* config or GET_ID differs from expect.* */
        ST_HOSTILE = 47,    /* hostile-*: the device did not do what BAD-INPUTS asks */
        ST_BENCH = 48,      /* blkbench */
        ST_NET = 49,        /* net: a frame lost, corrupted, or with a bad header or checksum */
        ST_NET_CONFIG = 50, /* net: config, features or a control command differ from expected */
        ST_NETBENCH = 51,   /* netbench */
        ST_CONSOLE = 52,    /* console: a control message or port data differ from expected */
};

/* lib.c: freestanding string and formatting helpers. */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
bool parse_u64(const char *s, u64 *out);
void kvprintf(const char *fmt, va_list ap);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* uart.c: COM1, polled output and optional receive interrupt. */
void uart_init(void);
void uart_putc(char c);
bool uart_rx_ready(void);
u8 uart_getc(void);
void uart_enable_rx_irq(void);

/* exit.c: ending the guest. Never return. */
void guest_exit(u8 status) __attribute__((noreturn));
void guest_pass(void) __attribute__((noreturn));
void guest_fail(enum guest_status st, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

/* time.c: bounded waits on the TSC (assumes at most GUEST_TSC_KHZ, see README). */
u64 deadline_ms(u64 ms);
bool deadline_passed(u64 deadline);
void delay_us(u64 us);

/* bootinfo.c: the normalised view of PVH start info or Linux boot_params. */
#define BOOT_MEM_MAX 128
#define E820_RAM 1

struct mem_region {
        u64 addr;
        u64 size;
        u32 type;
};

struct boot_info {
        u32 kind;
        const char *kind_name;
        u32 nr_mem;
        bool mem_truncated;
        struct mem_region mem[BOOT_MEM_MAX];
        bool cmdline_bad; /* unreachable, or no NUL within WISP_CMDLINE_MAX */
        char cmdline[WISP_CMDLINE_MAX];
};

extern struct boot_info boot_info;
/* Copies everything out of the loader's structures; call before touching low memory. */
void bootinfo_parse(struct boot_info *bi, u32 kind, u64 ptr);

/* cmdline.c: `key=value` tokens. */
bool cmdline_value(const char *cmdline, const char *key, char *buf, size_t len);
bool cmdline_u64(const char *cmdline, const char *key, u64 *out);
/* key=0 or key=1; dflt when absent; any other value ends the test with ST_USAGE. */
bool cmdline_bool(const char *cmdline, const char *key, bool dflt);

/* idt.c: IDT, exception reports, interrupt handler table. */
struct trap_frame {
        u64 r15, r14, r13, r12, r11, r10, r9, r8;
        u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
        u64 vector, error;
        u64 rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler_t)(struct trap_frame *f);
void idt_init(void);
void idt_load(void);
void irq_set_handler(u8 vector, irq_handler_t fn);
void trap_handler(struct trap_frame *f);

/* lapic.c: the local xAPIC (MMIO at WISP_LAPIC_ADDR). */
void lapic_enable(void);
u8 lapic_id(void);
void lapic_eoi(void);
bool lapic_send_ipi(u8 apic_id, u32 icr_low);
void lapic_timer_periodic(u8 vector, u32 count);
void lapic_timer_stop(void);

#define ICR_FIXED 0x00000
#define ICR_INIT 0x00500
#define ICR_STARTUP 0x00600
#define ICR_LEVEL_ASSERT 0x04000

/* ioapic.c: the IOAPIC (MMIO at WISP_IOAPIC_ADDR unless the MP table says otherwise). */
void ioapic_set_base(u64 base);
u32 ioapic_pins(void);
void ioapic_route(u32 pin, u8 vector, u8 dest_apic_id);
void ioapic_mask(u32 pin);

/* pit.c: the 8254 PIT, channel 0. */
void pit_start_periodic(u32 hz);
void pit_stop(void);

/* mptable.c: CPU discovery from the MP floating pointer and configuration table. */
struct mp_info {
        bool found;
        u32 nr_cpus;
        u32 nr_disabled; /* processor entries without the enabled flag (not started) */
        u8 apic_id[GUEST_MAX_CPUS];
        u8 bsp_apic_id;
        bool bsp_flagged;
        u64 ioapic_addr;  /* 0 if none listed */
        s32 isa_irq0_pin; /* IOAPIC pin of ISA IRQ 0, -1 if not listed */
};

/* Returns false with a message printed if a table is found but malformed. */
bool mptable_scan(struct mp_info *mp);

/* smp.c: per-CPU state and AP bring-up. */
struct cpu {
        u8 apic_id;
        volatile u32 alive;
        volatile u32 timer_ticks;
        volatile u32 ipi_rx;
        volatile u32 cpuid_apic_id; /* what CPUID leaf 1 said on this CPU */
};

extern struct cpu cpus[GUEST_MAX_CPUS];
extern u32 nr_cpus;
/* Index in cpus[] of the calling CPU (by LAPIC ID); 0 if unknown. */
u32 this_cpu(void);
void smp_set_cpus(const u8 *apic_ids, u32 n);
/* Starts AP `index`; false if it did not report alive in time. */
bool smp_start_ap(u32 index);
void ap_main(u32 index) __attribute__((noreturn));
/* Called on every CPU once it is up: IDT, LAPIC, periodic timer. */
void cpu_local_init(void);
#define TIMER_TICKS_WANTED 3

/* kvmclock.c */
enum guest_status kvmclock_check(void);

/* main.c: called by entry.S with the boot kind and the loader structure. */
void guest_main(u32 kind, u64 ptr) __attribute__((noreturn));

/* Scenarios (test_*.c), chosen by wisp.test=NAME. */
void test_boot(const struct boot_info *bi) __attribute__((noreturn));
void test_echo(const struct boot_info *bi) __attribute__((noreturn));
void test_exit(const struct boot_info *bi) __attribute__((noreturn));
void test_reboot(const struct boot_info *bi) __attribute__((noreturn));
void test_triplefault(const struct boot_info *bi) __attribute__((noreturn));
void test_unclaimed(const struct boot_info *bi) __attribute__((noreturn));
void test_hang(const struct boot_info *bi) __attribute__((noreturn));
void test_fault(const struct boot_info *bi) __attribute__((noreturn));
void test_blk(const struct boot_info *bi) __attribute__((noreturn));
void test_blkbench(const struct boot_info *bi) __attribute__((noreturn));
void test_blkfault(const struct boot_info *bi) __attribute__((noreturn));
void test_hostile(const struct boot_info *bi) __attribute__((noreturn));
void test_net(const struct boot_info *bi) __attribute__((noreturn));
void test_hostile_net(const struct boot_info *bi) __attribute__((noreturn));
void test_netbench(const struct boot_info *bi) __attribute__((noreturn));
void test_console(const struct boot_info *bi) __attribute__((noreturn));
void test_hostile_console(const struct boot_info *bi) __attribute__((noreturn));
void test_load(const struct boot_info *bi) __attribute__((noreturn));

#endif
