/* Fuzz target: PCI config space (mechanism #1 ports and ECAM) and BAR accesses through the buses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "fuzz_input.h"
#include "vmm/log.h"
#include "vpci_harness.h"

/*
 * A bus with the host bridge and two transitional virtio functions (a real transport over
 * the harness's fake device), driven by operations: raw accesses of any size to the
 * 0xcf8..0xcff ports, to the ECAM window, to anywhere in the PCI MMIO and I/O windows, and
 * config writes aimed at a slot. After each: a mapped BAR lies inside its space, clear of
 * RAM, of the other functions' BARs and of the bridge's own regions; absent slots read
 * all-ones; the host bridge's IDs stay put.
 */
#define RAM_SIZE (256ull << 10)
#define NDEV 2

static struct vph h;
static struct vph_fake_dev fd[NDEV];
static struct virtio_pci vp[NDEV];

static void check_bus(void)
{
        struct pci_device *all[2 * NDEV];
        unsigned int n = 0;

        FUZZ_CHECK(vph_ecam_read(&h, 0, 0, 4) == (0x29c0u << 16 | 0x8086u));
        FUZZ_CHECK(vph_ecam_read(&h, 31, 0, 4) == 0xffffffffu);
        for (unsigned int s = 0; s < PCI_MAX_SLOTS; s++)
                if (h.bus.slot[s])
                        all[n++] = h.bus.slot[s];
        for (unsigned int i = 0; i < n; i++)
                for (int b = 0; b < PCI_NUM_BARS; b++) {
                        uint64_t a = all[i]->mapped_addr[b], sz = all[i]->bar[b].size;

                        if (!all[i]->mapped[b])
                                continue;
                        FUZZ_CHECK(a != 0 && a + sz > a);
                        if (all[i]->bar[b].type == PCI_BAR_IO) {
                                FUZZ_CHECK(a + sz <= 0x10000);
                                continue;
                        }
                        FUZZ_CHECK(!(a < RAM_SIZE));
                        FUZZ_CHECK(a + sz <= WISP_PCI_ECAM_ADDR ||
                                   a >= WISP_PCI_ECAM_ADDR + WISP_PCI_ECAM_SIZE);
                        for (unsigned int j = 0; j < n; j++)
                                for (int c = 0; c < PCI_NUM_BARS; c++) {
                                        uint64_t a2 = all[j]->mapped_addr[c];

                                        if ((i == j && b == c) || !all[j]->mapped[c] ||
                                            (all[j]->bar[c].type == PCI_BAR_IO))
                                                continue;
                                        FUZZ_CHECK(a + sz <= a2 || a2 + all[j]->bar[c].size <= a);
                                }
                }
}

static void raw(struct io_bus *bus, uint64_t addr, struct fin *in)
{
        uint8_t d[8];
        uint32_t len = fin_size(in, 1);
        bool wr = fin_u8(in) & 1;

        fin_bytes(in, d, sizeof(d));
        io_bus_access(bus, addr, d, len, wr);
}

static void run_ops(struct fin *in)
{
        while (in->n) {
                switch (fin_u8(in) % 8) {
                case 0: /* the address latch and data ports, any width */
                        raw(&h.pio, WISP_PORT_PCI_CONFIG_ADDR + fin_u8(in) % 8, in);
                        break;
                case 1:
                        raw(&h.mmio, WISP_PCI_ECAM_ADDR + fin_u32(in) % WISP_PCI_ECAM_SIZE, in);
                        break;
                case 2: {
                        unsigned int slot = fin_u8(in) % PCI_MAX_SLOTS;
                        uint32_t reg = fin_u8(in), len = fin_size(in, 0);

                        vph_cfg_write(&h, slot, reg & ~(len - 1), len, fin_u32(in));
                        break;
                }
                case 3: {
                        unsigned int slot = fin_u8(in) % PCI_MAX_SLOTS;
                        uint32_t reg = fin_u16(in) % PCI_CFG_SIZE, len = fin_size(in, 0);

                        vph_ecam_write(&h, slot, reg, len, fin_u32(in));
                        break;
                }
                case 4:
                        raw(&h.mmio, WISP_PCI_MMIO32_START + fin_u32(in) % 0x20000000u, in);
                        break;
                case 5:
                        raw(&h.pio, WISP_PCI_IO_START + fin_u16(in) % 0x4000u, in);
                        break;
                case 6: { /* a BAR where the guest put it (reads what it programmed) */
                        unsigned int d = fin_u8(in) % NDEV;
                        int b = fin_u8(in) % PCI_NUM_BARS;
                        uint64_t off = fin_u16(in);

                        if (vp[d].pci.mapped[b])
                                raw(vp[d].pci.bar[b].type == PCI_BAR_IO ? &h.pio : &h.mmio,
                                    vp[d].pci.mapped_addr[b] + off % vp[d].pci.bar[b].size, in);
                        break;
                }
                case 7:
                        raw(&h.mmio, fin_u64(in), in); /* anywhere at all */
                        break;
                }
                check_bus();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fin in = fin_make(data, size);
        unsigned int n = 0;

        log_set_level(LOG_ERROR);
        if (vph_init(&h, RAM_SIZE))
                abort();
        for (; n < NDEV; n++) {
                vph_fake_dev_init(&fd[n], VPH_FAKE_ID);
                if (virtio_pci_init(&vp[n], &fd[n].dev, n ? VIRTIO_MODERN : VIRTIO_TRANSITIONAL,
                                    &h.env) ||
                    virtio_pci_plug(&vp[n], &h.bus))
                        abort();
        }
        run_ops(&in);
        FUZZ_CHECK(h.kvm.wrong_fd == 0);
        vph_fini(&h);
        while (n--)
                virtio_pci_destroy(&vp[n]);
        return 0;
}
