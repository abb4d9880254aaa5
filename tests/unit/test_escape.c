/* Unit tests for vmm/console.c's escape_filter: the Ctrl-A escape key state machine. */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/console.h"

#define CA "\x01"

static struct escape_state st;
static uint8_t out[256];
static bool quit;

/* Filters the C string s; returns the output length. The sentinel catches overruns. */
static size_t filter_n(const char *s, size_t n)
{
        size_t r;

        memset(out, 0xee, sizeof(out));
        r = escape_filter(&st, (const uint8_t *)s, n, out, &quit);
        cr_assert_leq(r, 2 * n, "more than 2n bytes");
        for (size_t i = r; i < sizeof(out); i++)
                cr_assert_eq(out[i], 0xee, "byte %zu written past the returned length", i);
        return r;
}

static size_t filter(const char *s)
{
        return filter_n(s, strlen(s));
}

static void expect(const char *in, const char *want, size_t want_len)
{
        size_t n = filter(in);

        cr_assert_eq(n, want_len, "output length %zu, want %zu", n, want_len);
        cr_assert_eq(memcmp(out, want, want_len), 0, "output bytes");
}

static void setup(void)
{
        memset(&st, 0, sizeof(st));
        quit = false;
}

TestSuite(escape, .init = setup);

Test(escape, plain_bytes_pass_through)
{
        expect("hello\r\n", "hello\r\n", 7);
        cr_assert_not(quit);
        cr_assert_not(st.armed);
        cr_assert_eq(filter_n("a\0b", 3), 3, "NUL bytes too");
        cr_assert_eq(out[1], 0);
}

Test(escape, ctrl_a_x_quits_and_drops_the_rest)
{
        expect("ab" CA "xcd", "ab", 2);
        cr_assert(quit);
        cr_assert_not(st.armed, "state reset after quitting");
}

Test(escape, capital_x_quits_too)
{
        expect(CA "X", "", 0);
        cr_assert(quit);
}

Test(escape, ctrl_a_ctrl_a_sends_one_ctrl_a)
{
        expect("a" CA CA "b", "a" CA "b", 3);
        cr_assert_not(quit);
        cr_assert_not(st.armed);
}

Test(escape, ctrl_a_then_another_key_sends_both)
{
        expect(CA "b", CA "b", 2);
        cr_assert_not(quit);
        expect(CA "\r", CA "\r", 2);
}

Test(escape, ctrl_a_ctrl_a_x_is_not_a_quit)
{
        expect(CA CA "x", CA "x", 2);
        cr_assert_not(quit);
}

Test(escape, three_ctrl_a_then_x_quits)
{
        expect(CA CA CA "x", CA, 1);
        cr_assert(quit);
}

Test(escape, state_is_carried_across_calls)
{
        expect("ab" CA, "ab", 2);
        cr_assert(st.armed, "waiting for the command key");
        cr_assert_not(quit);
        expect("x more", "", 0);
        cr_assert(quit, "Ctrl-A in one read, x in the next");

        setup();
        expect(CA, "", 0);
        expect("c", CA "c", 2);
        cr_assert_not(st.armed);

        setup();
        expect(CA, "", 0);
        expect(CA, CA, 1);
        cr_assert_not(st.armed);
        cr_assert_not(quit);
}

Test(escape, empty_input_keeps_the_state)
{
        st.armed = true;
        cr_assert_eq(filter_n("", 0), 0);
        cr_assert(st.armed);
        cr_assert_not(quit);
}

Test(escape, worst_case_output_fits_2n)
{
        /* Armed from a previous read, every byte could expand: the buffer is sized 2n. */
        st.armed = true;
        cr_assert_eq(filter_n("y", 1), 2);
        cr_assert_eq(out[0], 0x01);
        cr_assert_eq(out[1], 'y');
}
