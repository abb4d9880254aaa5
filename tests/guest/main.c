/* guest_main: normalise boot info, set up the BSP, run the scenario named by wisp.test=. */
#include "guest.h"

static const struct {
        const char *name;
        void (*run)(const struct boot_info *bi);
} scenarios[] = {
    {"boot", test_boot},
    {"echo", test_echo},
    {"exit", test_exit},
    {"reboot", test_reboot},
    {"triplefault", test_triplefault},
    {"unclaimed", test_unclaimed},
    {"hang", test_hang},
    {"fault", test_fault},
    {"blk", test_blk},
    {"blkbench", test_blkbench},
    {"blkfault", test_blkfault},
    {"net", test_net},
    {"netbench", test_netbench},
    {"console", test_console},
    {"load", test_load},
};

void guest_main(u32 kind, u64 ptr)
{
        struct boot_info *bi = &boot_info;
        char name[32] = "boot";

        /* First: nothing below 1 MiB may be touched before this copy. */
        bootinfo_parse(bi, kind, ptr);
        uart_init();
        idt_init();
        kprintf("wisp-test-guest: entered via %s, cmdline \"%s\"\n", bi->kind_name, bi->cmdline);
        cmdline_value(bi->cmdline, "wisp.test", name, sizeof(name));
        if (!strncmp(name, "hostile-net-", 12))
                test_hostile_net(bi);
        if (!strncmp(name, "hostile-console-", 16))
                test_hostile_console(bi);
        if (!strncmp(name, "hostile-", 8))
                test_hostile(bi);
        for (u32 i = 0; i < ARRAY_SIZE(scenarios); i++)
                if (!strncmp(name, scenarios[i].name, sizeof(name)))
                        scenarios[i].run(bi);
        guest_fail(ST_USAGE, "unknown wisp.test=%s", name);
}
