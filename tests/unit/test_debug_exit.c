/* Unit tests for devices/debug_exit.c: the byte written to port 0x501 becomes the exit status. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/debug_exit.h"

static int calls, status;
static void *seen_ctx;

static void on_exit_request(void *ctx, int st)
{
        calls++;
        status = st;
        seen_ctx = ctx;
}

Test(debug_exit, write_requests_exit_with_the_byte)
{
        struct debug_exit d = {.exit = on_exit_request, .ctx = &calls};
        uint8_t v = 42;

        debug_exit_io(&d, 0, &v, 1, true);
        cr_assert_eq(calls, 1);
        cr_assert_eq(status, 42);
        cr_assert_eq(seen_ctx, &calls);
        v = 0xff;
        debug_exit_io(&d, 0, &v, 1, true);
        cr_assert_eq(status, 255, "a byte, not a sign-extended char");
}

Test(debug_exit, wide_write_uses_the_low_byte)
{
        struct debug_exit d = {.exit = on_exit_request, .ctx = NULL};
        uint8_t v[4] = {3, 1, 0, 0};

        debug_exit_io(&d, 0, v, 4, true);
        cr_assert_eq(status, 3);
}

Test(debug_exit, reads_are_zero_and_do_not_exit)
{
        struct debug_exit d = {.exit = on_exit_request, .ctx = NULL};
        uint8_t v[4];

        calls = 0;
        memset(v, 0xee, sizeof(v));
        debug_exit_io(&d, 0, v, 4, false);
        cr_assert_eq(v[0] | v[1] | v[2] | v[3], 0);
        cr_assert_eq(calls, 0);
}
