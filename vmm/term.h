/* The host terminal: raw mode while the guest owns it, restored on every exit path. */
#ifndef WISP_VMM_TERM_H
#define WISP_VMM_TERM_H

#include <stdbool.h>

/*
 * Puts fd (stdin) into raw mode if it is a terminal, and arranges for the
 * saved settings to come back at exit() and on fatal signals. Returns true
 * when the terminal is now raw.
 */
bool term_raw_enter(int fd);

/* Restores the saved settings; async-signal-safe and idempotent. */
void term_restore(void);

/*
 * Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT that
 * restore the terminal, say which signal ("wisp: fatal signal 11 (SIGSEGV)"),
 * and die by it (a shell sees 128 + N).
 */
void term_install_fatal_handlers(void);

#endif
