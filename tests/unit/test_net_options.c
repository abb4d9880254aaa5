/* Unit tests for net_options_parse (devices/net_tap.c): every key, bad values, the derived MAC. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio_net.h"

static struct net_options o;
static char err[256];

static int parse(const char *spec)
{
        memset(err, 0, sizeof(err));
        return net_options_parse(spec, &o, err, sizeof(err));
}

/* Refused, with a message that names the option, the spec and what is wrong. */
static void refused(const char *spec, const char *says)
{
        cr_assert_eq(parse(spec), -EINVAL, "'%s' accepted", spec);
        cr_assert(strstr(err, "--net"), "names the option: %s", err);
        cr_assert(strstr(err, spec), "names the spec '%s': %s", spec, err);
        cr_assert(strstr(err, says), "'%s': wanted '%s' in: %s", spec, says, err);
}

static bool mac_is(const uint8_t *m, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e,
                   uint8_t f)
{
        const uint8_t want[6] = {a, b, c, d, e, f};

        return memcmp(m, want, 6) == 0;
}

/* --- tap= ---------------------------------------------------------------------------------- */

Test(net_opts, tap_alone_takes_the_defaults)
{
        cr_assert_eq(parse("tap=tap0"), 0, "%s", err);
        cr_assert_str_eq(o.ifname, "tap0");
        cr_assert_not(o.mac_set);
        cr_assert_eq(o.transport, VIRTIO_TRANSITIONAL);
        cr_assert_eq(o.queues, 1);
}

Test(net_opts, every_key_together_in_any_order)
{
        cr_assert_eq(parse("queues=4,mac=02:11:22:33:44:55,transport=modern,tap=wisp0"), 0, "%s",
                     err);
        cr_assert_str_eq(o.ifname, "wisp0");
        cr_assert(o.mac_set);
        cr_assert(mac_is(o.mac, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55));
        cr_assert_eq(o.transport, VIRTIO_MODERN);
        cr_assert_eq(o.queues, 4);
}

Test(net_opts, missing_tap_is_refused)
{
        refused("", "no tap=IFNAME");
        refused("mac=02:00:00:00:00:01", "no tap=IFNAME");
        refused("queues=2,transport=legacy", "no tap=IFNAME");
}

Test(net_opts, interface_name_of_15_bytes_fits_16_does_not)
{
        cr_assert_eq(parse("tap=abcdefghijklmno"), 0, "%s", err);
        cr_assert_str_eq(o.ifname, "abcdefghijklmno");
        refused("tap=abcdefghijklmnop", "interface name too long");
        refused("tap=abcdefghijklmnopqrstuvwxyz0123456789", "interface name too long");
}

Test(net_opts, settings_must_be_key_value)
{
        refused("tap", "KEY=VALUE");
        refused("tap=", "KEY=VALUE");
        refused("tap=t0,mac", "KEY=VALUE");
        refused("tap=t0,mac=", "KEY=VALUE");
        refused(",tap=t0", "KEY=VALUE");
        refused("tap=t0,,queues=2", "KEY=VALUE");
}

Test(net_opts, unknown_keys_are_refused)
{
        refused("tap=t0,foo=1", "unknown setting");
        refused("tap=t0,TAP=t1", "unknown setting");
        refused("tap=t0,taps=t1", "unknown setting");
        refused("tap=t0,ma=02:00:00:00:00:01", "unknown setting");
        refused("tap=t0,queue=2", "unknown setting");
        refused("ifname=t0", "unknown setting");
}

/* A repeated tap= must not leave a mix of both names behind: either refuse it or let the last
 * one win. */
Test(net_opts, a_second_tap_overwrites_only_part_of_the_first_name)
{
        int r = parse("tap=longname,tap=ab");

        if (r == 0)
                cr_assert_str_eq(o.ifname, "ab", "the last tap= wins, not a mix of both: '%s'",
                                 o.ifname);
        else
                cr_assert_eq(r, -EINVAL);
}

/* --- mac= ---------------------------------------------------------------------------------- */

Test(net_opts, a_valid_mac_is_taken_as_is)
{
        cr_assert_eq(parse("tap=t0,mac=52:54:00:12:34:56"), 0, "%s", err);
        cr_assert(o.mac_set);
        cr_assert(mac_is(o.mac, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56));
        cr_assert_eq(parse("mac=AA:bb:Cc:0d:E0:ff,tap=t0"), 0, "either case: %s", err);
        cr_assert(mac_is(o.mac, 0xaa, 0xbb, 0xcc, 0x0d, 0xe0, 0xff));
        cr_assert_eq(parse("tap=t0,mac=00:00:00:00:00:00"), 0, "%s", err);
        cr_assert(mac_is(o.mac, 0, 0, 0, 0, 0, 0));
}

Test(net_opts, multicast_and_broadcast_macs_are_refused)
{
        refused("tap=t0,mac=01:00:5e:00:00:01", "unicast");
        refused("tap=t0,mac=33:33:00:00:00:01", "unicast");
        refused("tap=t0,mac=ff:ff:ff:ff:ff:ff", "unicast");
        refused("tap=t0,mac=03:00:00:00:00:00", "unicast");
}

Test(net_opts, malformed_macs_are_refused)
{
        static const char *bad[] = {
            "tap=t0,mac=02:00:00:00:00",     "tap=t0,mac=02:00:00:00:00:0",
            "tap=t0,mac=02:00:00:00:00:001", "tap=t0,mac=02:00:00:00:00:01:02",
            "tap=t0,mac=02-00-00-00-00-01",  "tap=t0,mac=02:00:00:00:00:0g",
            "tap=t0,mac=020000000001",       "tap=t0,mac=2:00:00:00:00:001",
            "tap=t0,mac=02:00:00:00:00:01x", "tap=t0,mac=g2:00:00:00:00:01",
            "tap=t0,mac=02::00:00:00:00:01", "tap=t0,mac=0200:00:00:00:00:1",
        };

        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                refused(bad[i], "mac must be");
}

/* sscanf's %2x skips blanks and takes a sign: each of these is 17 characters that are not
 * six two-digit hex bytes, yet is read as an address. */
Test(net_opts, macs_with_blanks_or_signs_are_accepted)
{
        static const char *bad[] = {
            "tap=t0,mac= 2:00:00:00:00:00",
            "tap=t0,mac=+2:00:00:00:00:00",
            "tap=t0,mac=-2:00:00:00:00:00",
            "tap=t0,mac=02:00:00:00:00: 2",
        };

        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_expect_eq(parse(bad[i]), -EINVAL, "'%s' accepted as %02x:%02x:%02x:...", bad[i],
                             o.mac[0], o.mac[1], o.mac[2]);
}

/* --- the derived MAC ------------------------------------------------------------------------- */

Test(net_opts, derived_mac_is_local_unicast_and_stable)
{
        uint8_t first[6];

        cr_assert_eq(parse("tap=tap0"), 0, "%s", err);
        cr_assert_not(o.mac_set);
        cr_assert_eq(o.mac[0], 0x52);
        cr_assert_eq(o.mac[1], 0x54);
        cr_assert_eq(o.mac[2], 0x00);
        cr_assert_eq(o.mac[0] & 1, 0, "unicast");
        cr_assert_eq(o.mac[0] & 2, 2, "locally administered");
        memcpy(first, o.mac, 6);
        cr_assert_eq(parse("tap=tap0"), 0);
        cr_assert_eq(memcmp(first, o.mac, 6), 0, "same name, same address");
        cr_assert_eq(parse("queues=3,tap=tap0,transport=legacy"), 0);
        cr_assert_eq(memcmp(first, o.mac, 6), 0, "other settings do not change it");
}

Test(net_opts, derived_macs_differ_between_names)
{
        static const char *names[] = {"tap0", "tap1", "tap2", "tap10", "0pat", "wisp-a", "wisp-b"};
        uint8_t mac[sizeof(names) / sizeof(names[0])][6];
        char spec[64];

        for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(spec, sizeof(spec), "tap=%s", names[i]);
                cr_assert_eq(parse(spec), 0, "%s", err);
                memcpy(mac[i], o.mac, 6);
                cr_assert_eq(mac[i][0], 0x52);
                for (unsigned int j = 0; j < i; j++)
                        cr_assert_neq(memcmp(mac[i], mac[j], 6), 0, "%s and %s share a MAC",
                                      names[i], names[j]);
        }
}

Test(net_opts, an_explicit_mac_is_not_replaced_by_the_derived_one)
{
        cr_assert_eq(parse("tap=tap0,mac=02:00:00:00:00:07"), 0);
        cr_assert(mac_is(o.mac, 2, 0, 0, 0, 0, 7));
}

/* --- transport= ---------------------------------------------------------------------------- */

Test(net_opts, transport_values)
{
        cr_assert_eq(parse("tap=t0,transport=modern"), 0, "%s", err);
        cr_assert_eq(o.transport, VIRTIO_MODERN);
        cr_assert_eq(parse("tap=t0,transport=legacy"), 0, "%s", err);
        cr_assert_eq(o.transport, VIRTIO_LEGACY);
        cr_assert_eq(parse("tap=t0,transport=transitional"), 0, "%s", err);
        cr_assert_eq(o.transport, VIRTIO_TRANSITIONAL);
        refused("tap=t0,transport=pci", "transport must be");
        refused("tap=t0,transport=Modern", "transport must be");
        refused("tap=t0,transport=modernx", "transport must be");
        cr_assert_eq(parse("tap=t0,transport=averyveryverylongtransport"), -EINVAL);
        cr_assert(strstr(err, "--net"), "%s", err);
}

/* --- queues= ------------------------------------------------------------------------------- */

Test(net_opts, queues_from_1_to_8)
{
        for (unsigned int q = 1; q <= NET_MAX_PAIRS; q++) {
                char spec[32];

                snprintf(spec, sizeof(spec), "tap=t0,queues=%u", q);
                cr_assert_eq(parse(spec), 0, "%s", err);
                cr_assert_eq(o.queues, q);
        }
        cr_assert_eq(NET_MAX_PAIRS, 8);
}

Test(net_opts, queues_out_of_range_or_junk_are_refused)
{
        refused("tap=t0,queues=0", "queues must be 1 to 8");
        refused("tap=t0,queues=9", "queues must be 1 to 8");
        refused("tap=t0,queues=16", "queues must be 1 to 8");
        refused("tap=t0,queues=x", "queues must be 1 to 8");
        refused("tap=t0,queues=2x", "queues must be 1 to 8");
        refused("tap=t0,queues=0x2", "queues must be 1 to 8");
        refused("tap=t0,queues=-1", "queues must be 1 to 8");
        refused("tap=t0,queues=2.0", "queues must be 1 to 8");
        cr_assert_eq(parse("tap=t0,queues=99999999999999999999"), -EINVAL);
}

/* strtoul's result is cast to unsigned int before the range check: 2^32 + 1 becomes 1. */
Test(net_opts, queues_beyond_32_bits_wrap_into_range)
{
        cr_expect_eq(parse("tap=t0,queues=4294967297"), -EINVAL, "accepted as queues=%u", o.queues);
        cr_expect_eq(parse("tap=t0,queues=4294967304"), -EINVAL, "accepted as queues=%u", o.queues);
}
