/* Command-line lookup: space-separated `key=value` tokens. */
#include "guest.h"

/* Copies the value of the last `key=` token into buf (truncated to len - 1). */
bool cmdline_value(const char *cmdline, const char *key, char *buf, size_t len)
{
        size_t klen = strlen(key);
        bool found = false;

        for (const char *p = cmdline; *p;) {
                while (*p == ' ')
                        p++;
                if (!strncmp(p, key, klen) && p[klen] == '=') {
                        size_t n = 0;

                        for (p += klen + 1; *p && *p != ' '; p++)
                                if (n + 1 < len)
                                        buf[n++] = *p;
                        buf[n] = 0;
                        found = true;
                        continue;
                }
                while (*p && *p != ' ')
                        p++;
        }
        return found;
}

bool cmdline_u64(const char *cmdline, const char *key, u64 *out)
{
        char buf[24];

        return cmdline_value(cmdline, key, buf, sizeof(buf)) && parse_u64(buf, out);
}

bool cmdline_bool(const char *cmdline, const char *key, bool dflt)
{
        u64 v;

        if (!cmdline_u64(cmdline, key, &v))
                return dflt;
        if (v > 1)
                guest_fail(ST_USAGE, "%s=%lu: 0 or 1", key, v);
        return v;
}
