/* wisp.test=boot: memory map, command line, CPUID, CPUs, timers, PIT, IPIs, kvmclock. */
#include "guest.h"
#include "x86.h"

#define WAIT_MS 2000
#define PIT_TICKS_WANTED 3
#define MiB (1UL << 20)

extern const u8 _image_start[], _end[];

/*
 * Without expect.mem the map is not wisp's (QEMU's firmware lists it unsorted,
 * with an empty entry): check a sorted copy without empty entries instead.
 */
static u32 lenient_copy(const struct boot_info *bi, struct mem_region *out)
{
        u32 n = 0;

        for (u32 i = 0; i < bi->nr_mem; i++) {
                u32 j = n;

                if (!bi->mem[i].size)
                        continue;
                for (; j && out[j - 1].addr > bi->mem[i].addr; j--)
                        out[j] = out[j - 1];
                out[j] = bi->mem[i];
                n++;
        }
        return n;
}

static void check_memmap(const struct boot_info *bi)
{
        static struct mem_region sorted[BOOT_MEM_MAX];
        const struct mem_region *map = bi->mem;
        u64 ram = 0, prev_end = 0, mem_mib;
        bool strict = cmdline_u64(bi->cmdline, "expect.mem", &mem_mib);
        bool low = false, image = false;
        u32 n = bi->nr_mem;

        for (u32 i = 0; i < n; i++)
                kprintf("memmap: [0x%09lx, 0x%09lx) type %u\n", map[i].addr,
                        map[i].addr + map[i].size, map[i].type);
        if (bi->mem_truncated)
                guest_fail(ST_MEMMAP, "memory map: more than %u entries", BOOT_MEM_MAX);
        if (!strict) {
                n = lenient_copy(bi, sorted);
                map = sorted;
                kprintf("memmap: no expect.mem: checking a sorted copy without empty entries\n");
        }
        if (!n)
                guest_fail(ST_MEMMAP, "memory map: empty");
        for (u32 i = 0; i < n; i++) {
                const struct mem_region *r = &map[i];
                u64 end = r->addr + r->size;

                if (!r->size || end < r->addr)
                        guest_fail(ST_MEMMAP, "memory map: entry %u has a bad size", i);
                if (i && r->addr < prev_end)
                        guest_fail(ST_MEMMAP, "memory map: entry %u unsorted or overlapping", i);
                prev_end = end;
                if (r->type != E820_RAM)
                        continue;
                ram += r->size;
                if (r->addr < WISP_PCI_HOLE_END && end > WISP_PCI_HOLE_START)
                        guest_fail(ST_MEMMAP, "memory map: RAM inside the PCI hole (entry %u)", i);
                if (r->addr < WISP_HIGHMEM_START && end > WISP_EBDA_ADDR)
                        guest_fail(ST_MEMMAP, "memory map: RAM over the EBDA/BIOS area (entry %u)",
                                   i);
                if (r->addr == 0)
                        low = true;
                if (r->addr <= WISP_HIGHMEM_START && end >= (u64)_end)
                        image = true;
        }
        if (!low || !image)
                guest_fail(ST_MEMMAP, "memory map: no RAM at %s",
                           !low ? "0" : "1 MiB covering the guest image");
        kprintf("memmap: %u entries, RAM %lu KiB\n", n, ram >> 10);
        if (strict) {
                u64 want = mem_mib * MiB - (WISP_HIGHMEM_START - WISP_EBDA_ADDR);

                if (ram != want)
                        guest_fail(ST_MEMMAP, "memory map: RAM 0x%lx bytes, expected 0x%lx", ram,
                                   want);
        }
}

static void check_cmdline(const struct boot_info *bi)
{
        char token[64];

        if (bi->cmdline_bad)
                guest_fail(ST_CMDLINE, "cmdline: unreachable or not NUL-terminated");
        for (const char *p = bi->cmdline; *p; p++)
                if (*p < 0x20 || *p > 0x7e)
                        guest_fail(ST_CMDLINE, "cmdline: non-printable byte 0x%x at %lu", (u8)*p,
                                   (u64)(p - bi->cmdline));
        if (!cmdline_value(bi->cmdline, "expect.token", token, sizeof(token)))
                guest_fail(ST_CMDLINE, "cmdline: no expect.token=");
        if (!token[0])
                guest_fail(ST_CMDLINE, "cmdline: empty expect.token=");
        kprintf("cmdline: %lu bytes, token %s\n", strlen(bi->cmdline), token);
}

static void check_cpuid_bsp(void)
{
        struct cpuid_regs r = cpuid(1, 0), k = cpuid(0x40000000, 0);
        char sig[12];

        memcpy(sig + 0, &k.ebx, 4);
        memcpy(sig + 4, &k.ecx, 4);
        memcpy(sig + 8, &k.edx, 4);
        if (!(r.ecx & (1u << 31)))
                guest_fail(ST_CPUID, "cpuid: hypervisor bit clear");
        if (memcmp(sig, "KVMKVMKVM\0\0\0", 12))
                guest_fail(ST_CPUID, "cpuid: 0x40000000 signature is not KVMKVMKVM");
        if (r.ebx >> 24 != lapic_id())
                guest_fail(ST_CPUID, "cpuid: APIC id %u, LAPIC says %u", r.ebx >> 24, lapic_id());
        kprintf("cpuid: hypervisor KVMKVMKVM, max leaf 0x%x, BSP APIC id %u\n", k.eax, r.ebx >> 24);
}

/* The CPU list: MP table, else expect.cpus with APIC ids 0..N-1. BSP first. */
static void find_cpus(const struct boot_info *bi, struct mp_info *mp)
{
        u8 ids[GUEST_MAX_CPUS];
        u64 want = 0;
        bool have_want = cmdline_u64(bi->cmdline, "expect.cpus", &want);
        u8 bsp = lapic_id();
        u32 n = 0;

        if (!mptable_scan(mp))
                guest_fail(ST_CPU_COUNT, "mptable: malformed");
        if (have_want && (want == 0 || want > GUEST_MAX_CPUS))
                guest_fail(ST_CPU_COUNT, "expect.cpus=%lu out of range 1..%u", want,
                           GUEST_MAX_CPUS);
        if (mp->found && mp->bsp_flagged && mp->bsp_apic_id != bsp)
                guest_fail(ST_CPU_COUNT, "mptable: BSP is APIC id %u, we are %u", mp->bsp_apic_id,
                           bsp);
        ids[n++] = bsp;
        if (mp->found) {
                bool listed = false;

                for (u32 i = 0; i < mp->nr_cpus; i++) {
                        if (mp->apic_id[i] == bsp)
                                listed = true;
                        else
                                ids[n++] = mp->apic_id[i];
                }
                if (!listed)
                        guest_fail(ST_CPU_COUNT, "mptable: BSP APIC id %u not listed", bsp);
                if (mp->ioapic_addr)
                        ioapic_set_base(mp->ioapic_addr);
        } else {
                for (u32 id = 0; have_want && id < want; id++)
                        if (id != bsp)
                                ids[n++] = (u8)id;
        }
        kprintf("cpus: %u from %s, APIC ids", n, mp->found ? "the MP table" : "expect.cpus");
        for (u32 i = 0; i < n; i++)
                kprintf(" %u", ids[i]);
        if (mp->nr_disabled)
                kprintf(" (and %u disabled entries)", mp->nr_disabled);
        kprintf("\n");
        if (have_want && n != want)
                guest_fail(ST_CPU_COUNT, "cpus: found %u, expected %lu", n, want);
        smp_set_cpus(ids, n);
}

static void wait_timer_ticks(u32 first, u32 last)
{
        u64 end = deadline_ms(WAIT_MS);

        for (u32 i = first; i < last; i++) {
                while (cpus[i].timer_ticks < TIMER_TICKS_WANTED)
                        if (deadline_passed(end))
                                guest_fail(ST_LAPIC_TIMER,
                                           "lapic timer: cpu %u (APIC id %u) got %u ticks", i,
                                           cpus[i].apic_id, cpus[i].timer_ticks);
        }
}

static volatile u32 pit_ticks[2]; /* pin 0, pin 2 */

static void pit_irq(struct trap_frame *f)
{
        u32 k = f->vector == VEC_PIT_PIN2;

        if (++pit_ticks[k] >= PIT_TICKS_WANTED)
                ioapic_mask(k ? 2 : 0);
        lapic_eoi();
}

/* The PIT's IRQ 0 reaches IOAPIC pin 0 (KVM default routing) or 2 (ISA override). */
static void check_pit(const struct mp_info *mp)
{
        u64 end = deadline_ms(WAIT_MS);

        irq_set_handler(VEC_PIT_PIN0, pit_irq);
        irq_set_handler(VEC_PIT_PIN2, pit_irq);
        ioapic_route(0, VEC_PIT_PIN0, cpus[0].apic_id);
        ioapic_route(2, VEC_PIT_PIN2, cpus[0].apic_id);
        pit_start_periodic(1000);
        while (pit_ticks[0] < PIT_TICKS_WANTED && pit_ticks[1] < PIT_TICKS_WANTED)
                if (deadline_passed(end))
                        break;
        pit_stop();
        ioapic_mask(0);
        ioapic_mask(2);
        kprintf("pit: ticks on ioapic pin 0: %u, pin 2: %u (MP table says IRQ 0 -> pin %d)\n",
                pit_ticks[0], pit_ticks[1], mp->isa_irq0_pin);
        if (pit_ticks[0] < PIT_TICKS_WANTED && pit_ticks[1] < PIT_TICKS_WANTED)
                guest_fail(ST_PIT, "pit: fewer than %u IRQ 0 ticks through the IOAPIC",
                           PIT_TICKS_WANTED);
        /* A guest that trusts the MP table (Linux) would wait on the wrong pin. */
        if ((mp->isa_irq0_pin == 0 || mp->isa_irq0_pin == 2) &&
            pit_ticks[mp->isa_irq0_pin == 2] < PIT_TICKS_WANTED)
                guest_fail(ST_PIT, "pit: MP table routes IRQ 0 to pin %d, ticks came elsewhere",
                           mp->isa_irq0_pin);
}

static volatile u32 ipi_replies;

static void ipi_reply_irq(struct trap_frame *f)
{
        (void)f;
        ipi_replies++;
        lapic_eoi();
}

/* On an AP: count, then IPI the BSP back. */
static void ipi_irq(struct trap_frame *f)
{
        (void)f;
        cpus[this_cpu()].ipi_rx++;
        lapic_eoi();
        lapic_send_ipi(cpus[0].apic_id, ICR_FIXED | VEC_IPI_REPLY);
}

static void start_aps(void)
{
        for (u32 i = 1; i < nr_cpus; i++) {
                if (!smp_start_ap(i))
                        guest_fail(ST_AP_TIMEOUT, "smp: AP %u (APIC id %u) did not come up", i,
                                   cpus[i].apic_id);
                if (cpus[i].cpuid_apic_id != cpus[i].apic_id)
                        guest_fail(ST_CPUID, "cpuid: AP %u reports APIC id %u, expected %u", i,
                                   cpus[i].cpuid_apic_id, cpus[i].apic_id);
        }
        kprintf("smp: %u APs up\n", nr_cpus - 1);
}

static void check_ipis(void)
{
        for (u32 i = 1; i < nr_cpus; i++) {
                u64 end = deadline_ms(WAIT_MS);

                cli();
                lapic_send_ipi(cpus[i].apic_id, ICR_FIXED | VEC_IPI);
                sti();
                while (cpus[i].ipi_rx < 1 || ipi_replies < i)
                        if (deadline_passed(end))
                                guest_fail(ST_IPI,
                                           "ipi: AP %u (APIC id %u) received %u, replies %u", i,
                                           cpus[i].apic_id, cpus[i].ipi_rx, ipi_replies);
        }
        kprintf("ipi: %u sent, %u replies\n", nr_cpus - 1, ipi_replies);
}

void test_boot(const struct boot_info *bi)
{
        struct mp_info mp;
        enum guest_status st;

        check_memmap(bi);
        check_cmdline(bi);
        check_cpuid_bsp();
        find_cpus(bi, &mp);

        irq_set_handler(VEC_IPI, ipi_irq);
        irq_set_handler(VEC_IPI_REPLY, ipi_reply_irq);
        cpu_local_init();
        sti();
        wait_timer_ticks(0, 1);
        kprintf("lapic timer: BSP %u ticks\n", cpus[0].timer_ticks);

        check_pit(&mp);
        start_aps();
        wait_timer_ticks(1, nr_cpus);
        kprintf("lapic timer: %u ticks or more on all %u CPUs\n", TIMER_TICKS_WANTED, nr_cpus);
        check_ipis();

        st = kvmclock_check();
        if (st != ST_PASS)
                guest_fail(st, "kvmclock");
        guest_pass();
}
