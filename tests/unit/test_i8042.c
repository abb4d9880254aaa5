/* Unit tests for devices/i8042.c: the controller commands Linux's i8042 driver and reboot=k use. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/i8042.h"

#define STATUS_OBF 0x01
#define STATUS_IBF 0x02
#define STATUS_SYS 0x04

static struct i8042 k;
static unsigned int resets;
static void *reset_ctx;
static uint8_t status_in_reset;

static void on_reset(void *ctx)
{
        uint8_t s;

        resets++;
        reset_ctx = ctx;
        /* Re-entering the device from the callback must not deadlock. */
        i8042_cmd_io(&k, 0, &s, 1, false);
        status_in_reset = s;
}

static void setup(void)
{
        resets = 0;
        reset_ctx = NULL;
        i8042_init(&k, on_reset, &resets);
}

static void teardown(void)
{
        i8042_destroy(&k);
}

TestSuite(i8042, .init = setup, .fini = teardown, .timeout = 10);

static uint8_t status(void)
{
        uint8_t v = 0xee;

        i8042_cmd_io(&k, 0, &v, 1, false);
        return v;
}

static void command(uint8_t c)
{
        i8042_cmd_io(&k, 0, &c, 1, true);
}

static uint8_t data_in(void)
{
        uint8_t v = 0xee;

        i8042_data_io(&k, 0, &v, 1, false);
        return v;
}

static void data_out(uint8_t v)
{
        i8042_data_io(&k, 0, &v, 1, true);
}

Test(i8042, idle_status)
{
        uint8_t s = status();

        cr_assert_eq(s & STATUS_OBF, 0, "nothing to read");
        cr_assert_eq(s & STATUS_IBF, 0, "never busy: i8042_wait_write must not time out");
        cr_assert(s & STATUS_SYS, "self test passed");
        cr_assert_neq(s, 0xff, "0xff would mean no controller to Linux");
}

Test(i8042, pulse_reset_line)
{
        command(0xfe);
        cr_assert_eq(resets, 1);
        cr_assert_eq(reset_ctx, &resets);
        cr_assert(status_in_reset & STATUS_SYS, "callback could use the device");
}

Test(i8042, other_commands_do_not_reset)
{
        const uint8_t cmds[] = {0x20, 0xaa, 0xab, 0xad, 0xae, 0xa7, 0xa8, 0xd1, 0xf0, 0xff, 0x60};

        for (size_t i = 0; i < sizeof(cmds); i++)
                command(cmds[i]);
        cr_assert_eq(resets, 0);
        data_out(0x00); /* completes the 0x60 */
        cr_assert_eq(resets, 0);
}

Test(i8042, self_test)
{
        command(0xaa);
        cr_assert(status() & STATUS_OBF, "reply waiting");
        cr_assert_eq(data_in(), 0x55);
        cr_assert_eq(status() & STATUS_OBF, 0, "read empties the buffer");
}

Test(i8042, keyboard_port_test_passes)
{
        command(0xab);
        cr_assert(status() & STATUS_OBF);
        cr_assert_eq(data_in(), 0x00);
}

Test(i8042, command_byte_read_and_write)
{
        command(0x20);
        cr_assert(status() & STATUS_OBF);
        cr_assert_eq(data_in(), 0x30, "both ports disabled, no interrupts");
        command(0x60);
        data_out(0x47);
        command(0x20);
        cr_assert_eq(data_in(), 0x47);
}

Test(i8042, data_without_a_pending_command_is_dropped)
{
        data_out(0x12); /* a byte for the absent keyboard */
        command(0x20);
        cr_assert_eq(data_in(), 0x30);
        command(0x60);
        data_out(0x01);
        data_out(0x02); /* only the first byte belongs to 0x60 */
        command(0x20);
        cr_assert_eq(data_in(), 0x01);
}

Test(i8042, wide_reads_fill_the_rest_with_zero)
{
        uint8_t d[4] = {0xee, 0xee, 0xee, 0xee};

        command(0xaa);
        i8042_data_io(&k, 0, d, 4, false);
        cr_assert_eq(d[0], 0x55);
        cr_assert_eq(d[1] | d[2] | d[3], 0);
        memset(d, 0xee, sizeof(d));
        i8042_cmd_io(&k, 0, d, 2, false);
        cr_assert_eq(d[1], 0);
}
