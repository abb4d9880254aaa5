/* Formats a whole line and writes it with one write(2) so threads never interleave. */
#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* The one process-wide setting: written by main before any thread exists. */
static enum log_level max_level = LOG_WARN;
static volatile int raw_terminal;

void log_set_level(enum log_level level)
{
        max_level = level;
}

void log_set_raw_terminal(int raw)
{
        raw_terminal = raw;
}

void wisp_log(enum log_level level, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        int n;

        if (level > max_level)
                return;
        n = snprintf(line, sizeof(line), "wisp: ");
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (n > (int)sizeof(line) - 3)
                n = (int)sizeof(line) - 3;
        if (raw_terminal)
                line[n++] = '\r';
        line[n++] = '\n';
        (void)!write(STDERR_FILENO, line, (size_t)n);
}
