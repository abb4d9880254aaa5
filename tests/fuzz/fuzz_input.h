/* Fuzz helper: reads fixed-size values off the front of a libFuzzer input (zeros once it ends). */
#ifndef WISP_TESTS_FUZZ_INPUT_H
#define WISP_TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fin {
        const uint8_t *p;
        size_t n;
};

static inline struct fin fin_make(const uint8_t *data, size_t size)
{
        return (struct fin){.p = data, .n = size};
}

/* Copies up to len bytes into dst, zero-filling what the input no longer has. */
static inline void fin_bytes(struct fin *in, void *dst, size_t len)
{
        size_t k = len < in->n ? len : in->n;

        memcpy(dst, in->p, k);
        memset((uint8_t *)dst + k, 0, len - k);
        in->p += k;
        in->n -= k;
}

static inline uint8_t fin_u8(struct fin *in)
{
        uint8_t v;

        fin_bytes(in, &v, 1);
        return v;
}

static inline uint16_t fin_u16(struct fin *in)
{
        uint16_t v;

        fin_bytes(in, &v, 2);
        return v;
}

static inline uint32_t fin_u32(struct fin *in)
{
        uint32_t v;

        fin_bytes(in, &v, 4);
        return v;
}

static inline uint64_t fin_u64(struct fin *in)
{
        uint64_t v;

        fin_bytes(in, &v, 8);
        return v;
}

/* One of 1, 2, 4 (or 8 when eight is set), chosen by one byte. */
static inline uint32_t fin_size(struct fin *in, int eight)
{
        static const uint32_t sz[] = {1, 2, 4, 8};

        return sz[fin_u8(in) % (eight ? 4 : 3)];
}

/* Stops the harness loudly: a broken invariant is a finding, like a sanitizer report. */
#define FUZZ_CHECK(cond)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
                                #cond);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

#endif
