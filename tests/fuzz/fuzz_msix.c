/* Fuzz target: MSI-X table, PBA and message-control accesses, masking and notification. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "pci/msix.h"

/*
 * Input: nvec (two bytes: 0 and values past the maximum are refused), then operations:
 * table and PBA reads and writes of any length 0..8 at any offset, config-space writes over
 * the capability (the guest's only way to the control register), and notifications of any
 * vector. The checks are the MSI-X rules: a vector fires only when enabled and unmasked,
 * otherwise it becomes pending; nothing outside nvec is ever pending or fired.
 */

static struct pci_cfg cfg;
static struct msix m;

static unsigned long total_fired(void)
{
        unsigned long n = 0;

        for (unsigned int v = 0; v < MSIX_MAX_VECTORS; v++)
                n += m.fired[v];
        return n;
}

static void check_state(void)
{
        for (unsigned int v = m.nvec; v < MSIX_MAX_VECTORS; v++) {
                FUZZ_CHECK(!(m.pba[v / 64] >> (v % 64) & 1));
                FUZZ_CHECK(m.fired[v] == 0);
        }
}

static void op_region(struct fin *in, bool pba)
{
        uint8_t d[8];
        uint64_t off = fin_u16(in);
        uint32_t len = fin_u8(in) % 9;
        bool wr = fin_u8(in) & 1;
        unsigned long fired = total_fired();

        fin_bytes(in, d, sizeof(d));
        if (pba)
                msix_pba_io(&m, off, d, len, wr);
        else
                msix_table_io(&m, off, d, len, wr);
        /* Only a table write (an unmask) can release a pending vector. */
        if (pba || !wr)
                FUZZ_CHECK(total_fired() == fired);
}

static void op_cfg_write(struct fin *in)
{
        uint32_t off = m.cap + fin_u8(in) % 16, len = fin_size(in, 0);
        uint32_t v = fin_u32(in);
        uint8_t before[12];

        memcpy(before, cfg.data + m.cap, sizeof(before));
        pci_cfg_write(&cfg, off, len, v);
        msix_cap_written(&m);
        /* Only enable and function mask are writable in the capability. */
        FUZZ_CHECK(memcmp(before, cfg.data + m.cap, 3) == 0);
        FUZZ_CHECK((before[3] & 0x3f) == (cfg.data[m.cap + 3] & 0x3f));
        FUZZ_CHECK(memcmp(before + 4, cfg.data + m.cap + 4, 8) == 0);
}

static void op_notify(struct fin *in)
{
        unsigned int vec = fin_u16(in) % (MSIX_MAX_VECTORS + 2);
        unsigned long before = vec < MSIX_MAX_VECTORS ? m.fired[vec] : 0;
        int r = msix_notify(&m, vec);

        if (vec >= m.nvec) {
                FUZZ_CHECK(r == -EINVAL);
                return;
        }
        if (!m.enabled) {
                FUZZ_CHECK(r == -ENOENT && m.fired[vec] == before);
                return;
        }
        FUZZ_CHECK(r == 0);
        if (m.fn_masked || (m.table[vec].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT))
                FUZZ_CHECK(m.fired[vec] == before && (m.pba[vec / 64] >> (vec % 64) & 1));
        else
                FUZZ_CHECK(m.fired[vec] == before + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pci_id id = {.vendor = 0x1af4, .device = 0x1041, .class_code = 0xff0000};
        struct fin in = fin_make(data, size);
        unsigned int nvec = fin_u16(&in) % (MSIX_MAX_VECTORS + 8);
        int r;

        pci_cfg_init(&cfg, &id);
        r = msix_init(&m, &cfg, nvec, 1, 0, 1, 0x800, NULL, NULL, -1);
        if (nvec == 0 || nvec > MSIX_MAX_VECTORS) {
                FUZZ_CHECK(r == -EINVAL);
                return 0;
        }
        FUZZ_CHECK(r == 0);
        while (in.n) {
                switch (fin_u8(&in) % 4) {
                case 0:
                        op_region(&in, false);
                        break;
                case 1:
                        op_region(&in, true);
                        break;
                case 2:
                        op_cfg_write(&in);
                        break;
                case 3:
                        op_notify(&in);
                        break;
                }
                check_state();
        }
        msix_destroy(&m);
        return 0;
}
