/* The deterministic disk pattern and bulk checks, run in ring 3 (native speed) when possible. */
#include "virtio.h"

#define GOLDEN 0x9e3779b97f4a7c15UL

bool ring3_ready(void);

/* splitmix64's finaliser over (index + 1) * golden ^ seed: README documents it for the host. */
u64 pattern_word(u64 seed, u64 index)
{
        u64 z = ((index + 1) * GOLDEN) ^ seed;

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
}

u64 rand64(u64 *state)
{
        u64 x = *state;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        return x * 0x2545f4914f6cdd1dUL;
}

struct bulk {
        u64 *buf;
        u64 words, seed, first; /* first: word index of buf[0] on the disk */
};

static u64 fill(u64 arg)
{
        struct bulk *a = (struct bulk *)arg;

        for (u64 i = 0; i < a->words; i++)
                a->buf[i] = pattern_word(a->seed, a->first + i);
        return 0;
}

static u64 check(u64 arg)
{
        struct bulk *a = (struct bulk *)arg;

        for (u64 i = 0; i < a->words; i++)
                if (a->buf[i] != pattern_word(a->seed, a->first + i))
                        return i * 8;
        return ~0UL;
}

static u64 zero(u64 arg)
{
        struct bulk *a = (struct bulk *)arg;

        for (u64 i = 0; i < a->words; i++)
                if (a->buf[i])
                        return 0;
        return 1;
}

static u64 run(u64 (*fn)(u64), struct bulk *a)
{
        return ring3_ready() ? user_call(fn, (u64)a) : fn((u64)a);
}

void pattern_fill(void *buf, u64 len, u64 seed, u64 off)
{
        static struct bulk a;

        a = (struct bulk){buf, len / 8, seed, off / 8};
        run(fill, &a);
}

u64 pattern_check(const void *buf, u64 len, u64 seed, u64 off)
{
        static struct bulk a;

        a = (struct bulk){(u64 *)buf, len / 8, seed, off / 8};
        return run(check, &a);
}

bool is_zero(const void *buf, u64 len)
{
        static struct bulk a;

        a = (struct bulk){(u64 *)buf, len / 8, 0, 0};
        return run(zero, &a);
}
