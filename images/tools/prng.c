/* prng SEED MIB: writes MIB MiB of xorshift64* bytes for SEED to stdout (the guest's test data). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Generated in user space on purpose: on kvm_pvm the guest kernel's
 * /dev/urandom runs in the emulator, thousands of times slower. */
int main(int argc, char **argv)
{
        static uint64_t buf[1 << 13]; /* 64 KiB */
        uint64_t x, n;

        if (argc != 3)
                return 2;
        x = strtoull(argv[1], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
        n = strtoull(argv[2], NULL, 0) * 16; /* 64 KiB blocks */
        while (n--) {
                for (size_t i = 0; i < sizeof(buf) / sizeof(buf[0]); i++) {
                        x ^= x >> 12;
                        x ^= x << 25;
                        x ^= x >> 27;
                        buf[i] = x * 0x2545f4914f6cdd1dull;
                }
                for (size_t off = 0; off < sizeof(buf);) {
                        ssize_t w = write(1, (char *)buf + off, sizeof(buf) - off);

                        if (w <= 0)
                                return 1;
                        off += (size_t)w;
                }
        }
        return 0;
}
