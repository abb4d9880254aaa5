/* The one glibc symbol Debian's libseccomp.a needs beyond what musl has. */
#ifndef __GLIBC__
#include <stdarg.h>
#include <stdio.h>

/*
 * libseccomp.a was compiled with _FORTIFY_SOURCE against glibc, which turns
 * its fprintf calls (only in seccomp_export_pfc) into __fprintf_chk. The
 * flag argument only asks for extra %n checks; plain vfprintf is the same.
 */
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
        va_list ap;
        int n;

        (void)flag;
        va_start(ap, fmt);
        n = vfprintf(f, fmt, ap);
        va_end(ap);
        return n;
}
#endif
