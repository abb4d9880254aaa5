/* Per-thread seccomp allowlists: which system calls each class of wisp thread may make. */
#ifndef WISP_VMM_SANDBOX_H
#define WISP_VMM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum sandbox_class { SANDBOX_MAIN, SANDBOX_IO, SANDBOX_VCPU, SANDBOX_CLASSES };

/* What varies the lists at run time. */
struct sandbox_config {
        bool enabled; /* false with --no-seccomp */
        bool kill;    /* --seccomp=kill: forbidden calls kill the process, unreported */
        bool stats;   /* --stats: main reads /proc/self files at the end */
};

/* What a call's arguments must be for it to be allowed. */
enum sandbox_args {
        SANDBOX_ARGS_ANY,
        SANDBOX_ARGS_IOCTL,        /* only the class's listed requests */
        SANDBOX_ARGS_NO_EXEC,      /* mmap: prot without PROT_EXEC */
        SANDBOX_ARGS_MADV_FREE,    /* madvise: MADV_FREE or MADV_DONTNEED */
        SANDBOX_ARGS_FATAL_SIGNAL, /* tkill: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT */
        SANDBOX_ARGS_KICK_SIGNAL,  /* tkill: SIGUSR1 */
};

struct sandbox_call {
        int nr;
        const char *name;
        enum sandbox_args check;
        const char *why;
};

struct sandbox_ioctl {
        unsigned long req;
        const char *name;
        const char *why;
};

struct sandbox_list {
        const struct sandbox_call *calls;
        size_t ncalls;
        const struct sandbox_ioctl *ioctls;
        size_t nioctls;
};

const char *sandbox_class_name(enum sandbox_class c);

/*
 * The lists that make up class c's filter (at most 4, into out). Pure.
 * Returns how many; 0 for an unknown class.
 */
size_t sandbox_lists(enum sandbox_class c, const struct sandbox_config *cfg,
                     const struct sandbox_list **out);

/* Installs the SIGSYS report handler; before any thread starts. 0 or -errno. */
int sandbox_init(const struct sandbox_config *cfg);

/*
 * Loads the calling thread's filter for class c: the listed calls are
 * allowed, any other traps to the report, which exits with status 159
 * (with cfg->kill, the kernel kills the process at the call instead: SIGSYS,
 * the same status, no report). Nothing is loaded with the sandbox off. 0 or -errno.
 */
int sandbox_enter(enum sandbox_class c, const struct sandbox_config *cfg);

/*
 * The tests' way to show a violation is caught: when the environment has
 * WISP_SECCOMP_PROBE=main|io|vcpu, the thread of that class makes one
 * forbidden call (socket) right after its filter loads. Trusted input: only
 * whoever starts wisp sets its environment; the guest cannot.
 */
void sandbox_probe(enum sandbox_class c);

/* The SIGSYS report line for class c and call nr, into buf (async-signal-safe). Its length. */
size_t sandbox_report(char *buf, size_t cap, enum sandbox_class c, int nr);

/* --print-seccomp: every class's list with the reason for each entry. */
void sandbox_print(FILE *f, const struct sandbox_config *cfg);

#endif
