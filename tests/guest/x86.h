/* Inline x86 helpers for the test guest: port I/O, MMIO, MSRs, CPUID, TSC. */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include "types.h"

static inline void outb(u16 port, u8 v)
{
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(u16 port, u16 v)
{
        __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(u16 port, u32 v)
{
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
        u8 v;

        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static inline u16 inw(u16 port)
{
        u16 v;

        __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static inline u32 inl(u16 port)
{
        u32 v;

        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static inline u32 mmio_read32(u64 addr)
{
        return *(volatile u32 *)addr;
}

static inline void mmio_write32(u64 addr, u32 v)
{
        *(volatile u32 *)addr = v;
}

static inline u64 rdmsr(u32 msr)
{
        u32 lo, hi;

        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
        return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
        __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

struct cpuid_regs {
        u32 eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(u32 leaf, u32 subleaf)
{
        struct cpuid_regs r;

        __asm__ volatile("cpuid"
                         : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                         : "a"(leaf), "c"(subleaf));
        return r;
}

static inline u64 rdtsc(void)
{
        u32 lo, hi;

        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((u64)hi << 32) | lo;
}

static inline u64 read_cr2(void)
{
        u64 v;

        __asm__ volatile("mov %%cr2, %0" : "=r"(v));
        return v;
}

static inline void cli(void)
{
        __asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
        __asm__ volatile("sti" : : : "memory");
}

/* sti takes effect after the next instruction, so no interrupt is lost before hlt. */
static inline void sti_hlt(void)
{
        __asm__ volatile("sti; hlt" : : : "memory");
}

static inline void barrier(void)
{
        __asm__ volatile("" : : : "memory");
}

struct desc_ptr {
        u16 limit;
        u64 base;
} __attribute__((packed));

static inline void lidt(const struct desc_ptr *p)
{
        __asm__ volatile("lidt %0" : : "m"(*p));
}

#endif
