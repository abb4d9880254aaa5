/* IDT setup, exception reports and the table of interrupt handlers. */
#include "guest.h"
#include "x86.h"

bool user_trap(struct trap_frame *f); /* ring3.c: the way back from ring 3 */

struct idt_gate {
        u16 offset_lo;
        u16 selector;
        u8 ist;
        u8 type; /* 0x8e: present, DPL 0, 64-bit interrupt gate */
        u16 offset_mid;
        u32 offset_hi;
        u32 reserved;
};

extern const u8 isr_stubs[]; /* isr.S: 256 stubs, 16 bytes apart */

static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_handler_t handlers[256];

void idt_init(void)
{
        for (int v = 0; v < 256; v++) {
                u64 a = (u64)(isr_stubs + v * 16);

                idt[v] = (struct idt_gate){
                    .offset_lo = (u16)a,
                    .selector = WISP_GDT_CODE64,
                    .type = 0x8e,
                    .offset_mid = (u16)(a >> 16),
                    .offset_hi = (u32)(a >> 32),
                };
        }
        idt_load();
}

void idt_load(void)
{
        struct desc_ptr p = {sizeof(idt) - 1, (u64)idt};

        lidt(&p);
}

void irq_set_handler(u8 vector, irq_handler_t fn)
{
        handlers[vector] = fn;
}

void trap_handler(struct trap_frame *f)
{
        if (f->vector >= 32 && handlers[f->vector]) {
                handlers[f->vector](f);
                return;
        }
        if ((f->cs & 3) && user_trap(f))
                return;
        if (f->vector == VEC_SPURIOUS)
                return; /* no EOI for spurious interrupts */
        kprintf("wisp-test-guest: %s vector=%lu error=0x%lx rip=0x%lx cr2=0x%lx cpu=%u "
                "rsp=0x%lx rflags=0x%lx\n",
                f->vector < 32 ? "exception" : "unexpected interrupt", f->vector, f->error, f->rip,
                read_cr2(), this_cpu(), f->rsp, f->rflags);
        guest_fail(ST_EXCEPTION, "unexpected exception or interrupt %lu", f->vector);
}
