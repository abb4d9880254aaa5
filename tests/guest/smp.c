/* Per-CPU state and AP bring-up with INIT-SIPI-SIPI through the real-mode trampoline. */
#include "guest.h"
#include "x86.h"

/* entry.S and trampoline.S */
extern const u8 trampoline_start[], trampoline_end[];
extern u8 guest_stacks[];
extern volatile u64 ap_boot_stack;
extern volatile u32 ap_boot_index;

#define AP_ALIVE_TIMEOUT_MS 5000
#define TIMER_COUNT 62500 /* 1 ms at KVM's 1 GHz APIC bus, divide by 16 */

struct cpu cpus[GUEST_MAX_CPUS];
u32 nr_cpus;
static u8 apic_to_index[256];

void smp_set_cpus(const u8 *apic_ids, u32 n)
{
        memset(apic_to_index, 0xff, sizeof(apic_to_index));
        nr_cpus = n;
        for (u32 i = 0; i < n; i++) {
                cpus[i].apic_id = apic_ids[i];
                apic_to_index[apic_ids[i]] = (u8)i;
        }
}

u32 this_cpu(void)
{
        u8 i = apic_to_index[lapic_id()];

        return i == 0xff ? 0 : i;
}

/* Every CPU counts TIMER_TICKS_WANTED periodic ticks, then stops its timer. */
static void timer_irq(struct trap_frame *f)
{
        struct cpu *c = &cpus[this_cpu()];

        (void)f;
        if (++c->timer_ticks >= TIMER_TICKS_WANTED)
                lapic_timer_stop();
        lapic_eoi();
}

void cpu_local_init(void)
{
        irq_set_handler(VEC_LAPIC_TIMER, timer_irq);
        lapic_enable();
        cpus[this_cpu()].cpuid_apic_id = cpuid(1, 0).ebx >> 24;
        lapic_timer_periodic(VEC_LAPIC_TIMER, TIMER_COUNT);
}

void ap_main(u32 index)
{
        idt_load();
        cpu_local_init();
        cpus[index].alive = 1;
        for (;;)
                sti_hlt();
}

bool smp_start_ap(u32 index)
{
        struct cpu *c = &cpus[index];
        u32 sipi = ICR_STARTUP | (GUEST_TRAMPOLINE_ADDR >> 12);
        u64 end;

        memcpy((void *)GUEST_TRAMPOLINE_ADDR, trampoline_start, trampoline_end - trampoline_start);
        ap_boot_index = index;
        ap_boot_stack = (u64)(guest_stacks + (index + 1) * GUEST_STACK_SIZE);
        barrier();

        cli();
        lapic_send_ipi(c->apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
        delay_us(10000);
        lapic_send_ipi(c->apic_id, sipi);
        delay_us(200);
        if (!c->alive)
                lapic_send_ipi(c->apic_id, sipi);
        sti();

        end = deadline_ms(AP_ALIVE_TIMEOUT_MS);
        while (!c->alive)
                if (deadline_passed(end))
                        return false;
        return true;
}
