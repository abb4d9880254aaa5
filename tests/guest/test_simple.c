/* Short scenarios: exit, reboot, triplefault, unclaimed, hang, fault. */
#include "guest.h"
#include "x86.h"

#define UNCLAIMED_PORT 0x2f0
#define UNCLAIMED_MMIO 0xd0000000UL /* inside the PCI hole, no device */
#define FAULT_ADDR 0x40000000000UL  /* 4 TiB: not in our page tables */

void test_exit(const struct boot_info *bi)
{
        u64 status;

        if (!cmdline_u64(bi->cmdline, "status", &status) || status > 255)
                guest_fail(ST_USAGE, "exit: needs status=0..255");
        kprintf("exit: status %lu\n", status);
        guest_exit((u8)status);
}

void test_reboot(const struct boot_info *bi)
{
        u64 end = deadline_ms(2000);

        (void)bi;
        kprintf("reboot: pulsing reset through the i8042\n");
        outb(WISP_PORT_I8042_CMD, 0xfe);
        while (!deadline_passed(end))
                ;
        guest_fail(ST_REBOOT, "reboot: still running 2 s after the reset pulse");
}

void test_triplefault(const struct boot_info *bi)
{
        static const struct desc_ptr no_idt;

        (void)bi;
        kprintf("triplefault: empty IDT, then ud2\n");
        cli();
        lidt(&no_idt);
        for (;;)
                __asm__ volatile("ud2");
}

void test_unclaimed(const struct boot_info *bi)
{
        volatile u8 *m8 = (volatile u8 *)UNCLAIMED_MMIO;
        volatile u16 *m16 = (volatile u16 *)UNCLAIMED_MMIO;
        volatile u32 *m32 = (volatile u32 *)UNCLAIMED_MMIO;
        volatile u64 *m64 = (volatile u64 *)UNCLAIMED_MMIO;
        u8 pb = inb(UNCLAIMED_PORT), mb = *m8;
        u16 pw = inw(UNCLAIMED_PORT), mw = *m16;
        u32 pl = inl(UNCLAIMED_PORT), ml = *m32;
        u64 mq = *m64;

        (void)bi;
        kprintf("unclaimed: port 0x%x: %02x %04x %08x; mmio 0x%lx: %02x %04x %08x %016lx\n",
                UNCLAIMED_PORT, pb, pw, pl, UNCLAIMED_MMIO, mb, mw, ml, mq);
        outb(UNCLAIMED_PORT, 0x5a);
        outw(UNCLAIMED_PORT, 0x5a5a);
        outl(UNCLAIMED_PORT, 0x5a5a5a5a);
        *m8 = 0x5a;
        *m16 = 0x5a5a;
        *m32 = 0x5a5a5a5a;
        *m64 = 0x5a5a5a5a5a5a5a5aUL;
        if (pb != 0xff || pw != 0xffff || pl != 0xffffffff)
                guest_fail(ST_UNCLAIMED, "unclaimed: port reads are not all-ones");
        if (mb != 0xff || mw != 0xffff || ml != 0xffffffff || mq != ~0UL)
                guest_fail(ST_UNCLAIMED, "unclaimed: MMIO reads are not all-ones");
        if (*m32 != 0xffffffff)
                guest_fail(ST_UNCLAIMED, "unclaimed: MMIO write stuck (0x%x)", *m32);
        guest_pass();
}

void test_hang(const struct boot_info *bi)
{
        (void)bi;
        kprintf("hang: ready\n");
        for (;;)
                sti_hlt();
}

/* Self-test of the exception report: a page fault above the mapped 4 GiB ends with status 30. */
void test_fault(const struct boot_info *bi)
{
        (void)bi;
        kprintf("fault: reading unmapped 0x%lx\n", FAULT_ADDR);
        (void)*(volatile u64 *)FAULT_ADDR;
        guest_fail(ST_USAGE, "fault: the read did not fault");
}
