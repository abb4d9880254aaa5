/* termios raw mode, and its restoration from atexit and fatal-signal handlers. */
#include "vmm/term.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/log.h"

/*
 * Process-wide by necessity: a signal handler has no other way to reach the
 * saved settings. Written once before any thread starts.
 */
static struct termios saved;
static int saved_fd = -1;

void term_restore(void)
{
        if (saved_fd >= 0) {
                tcsetattr(saved_fd, TCSANOW, &saved);
                saved_fd = -1;
                log_set_raw_terminal(0);
        }
}

bool term_raw_enter(int fd)
{
        struct termios raw;

        if (!isatty(fd) || tcgetattr(fd, &saved) < 0)
                return false;
        raw = saved;
        /* cfmakeraw, spelled out: no echo, no line editing, no signals from
         * ^C (the guest gets it), no CR/NL translation either way. */
        raw.c_iflag &=
            ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        raw.c_oflag &= ~(tcflag_t)OPOST;
        raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
        raw.c_cflag |= CS8;
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(fd, TCSANOW, &raw) < 0)
                return false;
        saved_fd = fd;
        log_set_raw_terminal(1);
        atexit(term_restore);
        return true;
}

/* The handled signals' names; async-signal-safe (no strsignal). */
static const char *fatal_name(int sig)
{
        switch (sig) {
        case SIGSEGV:
                return " (SIGSEGV)\n";
        case SIGBUS:
                return " (SIGBUS)\n";
        case SIGILL:
                return " (SIGILL)\n";
        case SIGFPE:
                return " (SIGFPE)\n";
        case SIGABRT:
                return " (SIGABRT)\n";
        default:
                return "\n";
        }
}

static void fatal(int sig)
{
        static const char msg[] = "\r\nwisp: fatal signal ";
        const char *name = fatal_name(sig);
        char line[64];
        size_t n = sizeof(msg) - 1;

        /* One write(2), like every log line: other threads still run and may
         * write the guest's output; pieces would interleave with it. */
        memcpy(line, msg, n);
        if (sig >= 10)
                line[n++] = (char)('0' + sig / 10);
        line[n++] = (char)('0' + sig % 10);
        memcpy(line + n, name, strlen(name));
        n += strlen(name);
        term_restore();
        (void)!write(STDERR_FILENO, line, n);
        /* SA_RESETHAND already restored the default action (rt_sigaction is
         * not in the seccomp lists after start-up). */
        raise(sig);
}

void term_install_fatal_handlers(void)
{
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fatal;
        sa.sa_flags = SA_RESETHAND;
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                sigaction(sigs[i], &sa, NULL);
}
