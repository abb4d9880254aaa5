/* Freestanding helpers: memory and string functions, number parsing, kprintf. */
#include "guest.h"

/* rep movs/stos: integer string instructions work on kvm_pvm, SSE does not. */
void *memset(void *s, int c, size_t n)
{
        void *d = s;

        __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
        return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
        void *d = dst;

        __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
        return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
        const u8 *x = a, *y = b;

        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return x[i] - y[i];
        return 0;
}

size_t strlen(const char *s)
{
        size_t n = 0;

        while (s[n])
                n++;
        return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (a[i] != b[i])
                        return (u8)a[i] - (u8)b[i];
                if (!a[i])
                        break;
        }
        return 0;
}

/* Decimal, or hex with 0x. The whole string must be a number. */
bool parse_u64(const char *s, u64 *out)
{
        u64 v = 0, base = 10;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
        }
        if (!*s)
                return false;
        for (; *s; s++) {
                u64 d;

                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (base == 16 && *s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (base == 16 && *s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        return false;
                if (v > (~0UL - d) / base)
                        return false;
                v = v * base + d;
        }
        *out = v;
        return true;
}

static void put_num(u64 v, unsigned base, int width, char pad, bool neg)
{
        char buf[24];
        int n = 0;

        do {
                buf[n++] = "0123456789abcdef"[v % base];
                v /= base;
        } while (v);
        if (neg)
                buf[n++] = '-';
        while (width-- > n)
                uart_putc(pad);
        while (n)
                uart_putc(buf[--n]);
}

/* %s %c %d %u %x %p, with optional '0', width and l/ll/z. */
void kvprintf(const char *fmt, va_list ap)
{
        for (; *fmt; fmt++) {
                int width = 0, lng = 0;
                char pad = ' ';

                if (*fmt != '%') {
                        uart_putc(*fmt);
                        continue;
                }
                fmt++;
                if (*fmt == '0')
                        pad = *fmt++;
                while (*fmt >= '0' && *fmt <= '9')
                        width = width * 10 + (*fmt++ - '0');
                while (*fmt == 'l' || *fmt == 'z') {
                        lng = 1;
                        fmt++;
                }
                switch (*fmt) {
                case 's': {
                        const char *s = va_arg(ap, const char *);

                        for (s = s ? s : "(null)"; *s; s++)
                                uart_putc(*s);
                        break;
                }
                case 'c':
                        uart_putc((char)va_arg(ap, int));
                        break;
                case 'd': {
                        s64 v = lng ? va_arg(ap, s64) : va_arg(ap, int);

                        put_num(v < 0 ? -(u64)v : (u64)v, 10, width, pad, v < 0);
                        break;
                }
                case 'u':
                        put_num(lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, width, pad,
                                false);
                        break;
                case 'x':
                        put_num(lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, width, pad,
                                false);
                        break;
                case 'p':
                        uart_putc('0');
                        uart_putc('x');
                        put_num((u64)va_arg(ap, void *), 16, width, pad, false);
                        break;
                case '%':
                        uart_putc('%');
                        break;
                default:
                        uart_putc('?');
                        if (!*fmt)
                                return;
                }
        }
}

void kprintf(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        kvprintf(fmt, ap);
        va_end(ap);
}
