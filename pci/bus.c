/* Bus 0 behind a host bridge: config mechanism #1 and ECAM, BAR assignment and decoding. */
#include "pci/bus.h"

#include <errno.h>
#include <string.h>

#include "boot/layout.h"

/*
 * The Q35 MCH (Intel 82G33 DRAM controller), as QEMU's q35 machine shows it:
 * a host bridge every guest has seen, with no BARs and no driver to bind.
 */
#define HOST_BRIDGE_VENDOR 0x8086
#define HOST_BRIDGE_DEVICE 0x29c0
#define HOST_BRIDGE_CLASS 0x060000 /* bridge, host bridge */

#define CONFIG_ENABLE 0x80000000u
/* What the 0xcf8 latch keeps: enable, bus, device, function, dword register. */
#define CONFIG_ADDRESS_MASK 0x80fffffcu

#define PORT_SPACE_END 0x10000ULL
#define MEM32_SPACE_END 0x100000000ULL

static uint32_t load_le(const uint8_t *p, uint32_t len)
{
        uint32_t v = 0;

        for (uint32_t i = 0; i < len && i < 4; i++)
                v |= (uint32_t)p[i] << (8 * i);
        return v;
}

static void store_le(uint8_t *p, uint32_t len, uint32_t v)
{
        for (uint32_t i = 0; i < len && i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static bool ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
        return a < b + blen && b < a + alen;
}

/*
 * True when any byte of [addr, addr + size) is RAM. guest_range_is_ram
 * answers "all of it", which a BAR straddling the end of a region would
 * pass as "not RAM"; so compare with each region instead. The caller has
 * checked that addr + size does not wrap.
 */
static bool overlaps_ram(const struct guest_mem *mem, uint64_t addr, uint64_t size)
{
        if (!mem)
                return false;
        for (unsigned int i = 0; i < mem->nr; i++)
                if (ranges_meet(addr, size, mem->region[i].gpa, mem->region[i].size))
                        return true;
        return false;
}

/*
 * Whether a BAR of this type and size may decode at addr, short of the
 * overlap with other regions that io_bus_add checks. A BAR at the very top
 * of its space is what writing all-ones leaves there (sizing), so the top
 * slot is refused along with anything that would wrap.
 */
static bool bar_addr_ok(const struct guest_mem *mem, enum pci_bar_type type, uint64_t addr,
                        uint64_t size)
{
        if (addr == 0 || size == 0)
                return false;
        switch (type) {
        case PCI_BAR_IO:
                return addr < PORT_SPACE_END && size <= PORT_SPACE_END - addr;
        case PCI_BAR_MEM32:
                if (addr >= MEM32_SPACE_END || size >= MEM32_SPACE_END - addr)
                        return false;
                break;
        case PCI_BAR_MEM64:
                if (size > UINT64_MAX - addr)
                        return false;
                break;
        default:
                return false;
        }
        return !overlaps_ram(mem, addr, size);
}

/* Brings one device's BARs in line with its config space. Caller holds b->lock. */
static void update_device(struct pci_bus *b, struct pci_device *d)
{
        uint16_t cmd = (uint16_t)pci_cfg_get(&d->cfg, PCI_COMMAND, 2);

        for (int n = 0; n < PCI_NUM_BARS; n++) {
                enum pci_bar_type type = d->cfg.bar_type[n];
                uint64_t size = d->cfg.bar_size[n], addr = pci_cfg_bar_addr(&d->cfg, n);
                uint64_t old = d->mapped_addr[n];
                bool io = type == PCI_BAR_IO, was = d->mapped[n], want;
                struct io_bus *bus = io ? b->pio : b->mmio;

                if (type == PCI_BAR_NONE || !d->bar[n].fn)
                        continue;
                want = (cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) &&
                       bar_addr_ok(b->mem, type, addr, size);
                if (was && want && old == addr)
                        continue;
                if (was) {
                        io_bus_remove(bus, old);
                        d->mapped[n] = false;
                }
                /* -EEXIST: another BAR or a fixed device is there; stay unmapped. */
                if (want &&
                    io_bus_add(bus, addr, size, d->bar[n].fn, d->bar[n].opaque, d->name) == 0) {
                        d->mapped[n] = true;
                        d->mapped_addr[n] = addr;
                }
                if (!d->ops || !d->ops->bar_moved)
                        continue;
                if (d->mapped[n])
                        d->ops->bar_moved(d->opaque, n, addr, true);
                else if (was)
                        d->ops->bar_moved(d->opaque, n, old, false);
        }
}

void pci_bus_update_bars(struct pci_bus *b, struct pci_device *d)
{
        update_device(b, d);
        /*
         * d may have vacated a place another BAR lost an overlap for: give
         * every other device's unmapped BARs another try. A no-op for BARs
         * already where they should be.
         */
        for (unsigned int s = 0; s < PCI_MAX_SLOTS; s++)
                if (b->slot[s] && b->slot[s] != d)
                        update_device(b, b->slot[s]);
}

static bool touches(uint32_t off, uint32_t len, uint32_t reg, uint32_t reg_len)
{
        return off < reg + reg_len && reg < off + len;
}

/*
 * One config access to bus/dev/fn at reg. Only function 0 of bus 0
 * exists; everything else, and any access that is not 1, 2 or 4 bytes
 * inside the space, reads all-ones and drops writes. Caller holds b->lock,
 * so cfg_read and cfg_written run under it too.
 */
static void cfg_access(struct pci_bus *b, uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg,
                       uint8_t *data, uint32_t len, bool is_write)
{
        struct pci_device *d = NULL;

        if (bus == 0 && fn == 0 && dev < PCI_MAX_SLOTS)
                d = b->slot[dev];
        if (!d || (len != 1 && len != 2 && len != 4) || reg >= PCI_CFG_SIZE ||
            len > PCI_CFG_SIZE - reg) {
                if (!is_write)
                        memset(data, 0xff, len);
                return;
        }
        if (!is_write) {
                if (d->ops && d->ops->cfg_read)
                        d->ops->cfg_read(d->opaque, reg, len);
                store_le(data, len, pci_cfg_read(&d->cfg, reg, len));
                return;
        }
        pci_cfg_write(&d->cfg, reg, len, load_le(data, len));
        if (touches(reg, len, PCI_COMMAND, 2) ||
            touches(reg, len, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
                pci_bus_update_bars(b, d);
        if (d->ops && d->ops->cfg_written)
                d->ops->cfg_written(d->opaque, reg, len);
}

void pci_config_address_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        struct pci_bus *b = opaque;

        /* Only a dword access at 0xcf8 reaches the latch, as on real
         * chipsets, so byte ports like 0xcf9 never alias it. */
        if (off != 0 || len != 4) {
                if (!is_write)
                        memset(data, 0xff, len > 8 ? 8 : len);
                return;
        }
        pthread_mutex_lock(&b->lock);
        if (is_write)
                b->config_address = load_le(data, 4) & CONFIG_ADDRESS_MASK;
        else
                store_le(data, 4, b->config_address);
        pthread_mutex_unlock(&b->lock);
}

void pci_config_data_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        struct pci_bus *b = opaque;
        uint32_t a;

        if (off >= 4 || len > 4 - off) {
                if (!is_write)
                        memset(data, 0xff, len > 8 ? 8 : len);
                return;
        }
        pthread_mutex_lock(&b->lock);
        a = b->config_address;
        if (a & CONFIG_ENABLE)
                cfg_access(b, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7,
                           (a & 0xfc) + (uint32_t)off, data, len, is_write);
        else if (!is_write)
                memset(data, 0xff, len);
        pthread_mutex_unlock(&b->lock);
}

void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        struct pci_bus *b = opaque;

        /* A 64-bit access is two dword accesses, each to its own function. */
        if (len == 8) {
                pci_ecam_io(opaque, off, data, 4, is_write);
                pci_ecam_io(opaque, off + 4, data + 4, 4, is_write);
                return;
        }
        if (off >= WISP_PCI_ECAM_SIZE || len > 8) {
                if (!is_write)
                        memset(data, 0xff, len > 8 ? 8 : len);
                return;
        }
        pthread_mutex_lock(&b->lock);
        cfg_access(b, (uint32_t)(off >> 20), (uint32_t)(off >> 15) & 0x1f,
                   (uint32_t)(off >> 12) & 7, (uint32_t)off & 0xfff, data, len, is_write);
        pthread_mutex_unlock(&b->lock);
}

int pci_bus_init(struct pci_bus *b, struct io_bus *pio, struct io_bus *mmio,
                 const struct guest_mem *mem)
{
        static const struct pci_id host_id = {
            .vendor = HOST_BRIDGE_VENDOR,
            .device = HOST_BRIDGE_DEVICE,
            .class_code = HOST_BRIDGE_CLASS,
        };
        int r;

        memset(b, 0, sizeof(*b));
        b->pio = pio;
        b->mmio = mmio;
        b->mem = mem;
        b->io_next = WISP_PCI_IO_START;
        b->mem_next = WISP_PCI_MMIO32_START;
        pci_cfg_init(&b->host_bridge.cfg, &host_id);
        b->host_bridge.name = "pci-host-bridge";
        b->slot[0] = &b->host_bridge;
        pthread_mutex_init(&b->lock, NULL);

        r = io_bus_add(pio, WISP_PORT_PCI_CONFIG_ADDR, 4, pci_config_address_io, b,
                       "pci-config-address");
        if (r)
                goto fail;
        r = io_bus_add(pio, WISP_PORT_PCI_CONFIG_DATA, 4, pci_config_data_io, b, "pci-config-data");
        if (r)
                goto fail_addr;
        r = io_bus_add(mmio, WISP_PCI_ECAM_ADDR, WISP_PCI_ECAM_SIZE, pci_ecam_io, b, "pci-ecam");
        if (r)
                goto fail_data;
        return 0;

fail_data:
        io_bus_remove(pio, WISP_PORT_PCI_CONFIG_DATA);
fail_addr:
        io_bus_remove(pio, WISP_PORT_PCI_CONFIG_ADDR);
fail:
        pthread_mutex_destroy(&b->lock);
        return r;
}

void pci_bus_destroy(struct pci_bus *b)
{
        for (unsigned int s = 0; s < PCI_MAX_SLOTS; s++) {
                struct pci_device *d = b->slot[s];

                for (int n = 0; d && n < PCI_NUM_BARS; n++)
                        if (d->mapped[n]) {
                                io_bus_remove(d->cfg.bar_type[n] == PCI_BAR_IO ? b->pio : b->mmio,
                                              d->mapped_addr[n]);
                                d->mapped[n] = false;
                        }
        }
        io_bus_remove(b->mmio, WISP_PCI_ECAM_ADDR);
        io_bus_remove(b->pio, WISP_PORT_PCI_CONFIG_DATA);
        io_bus_remove(b->pio, WISP_PORT_PCI_CONFIG_ADDR);
        pthread_mutex_destroy(&b->lock);
}

/* Takes a naturally aligned size-byte block from [*cursor, end), as firmware would. */
static int carve(uint64_t *cursor, uint64_t end, uint64_t size, uint64_t *addr)
{
        uint64_t a = (*cursor + size - 1) & ~(size - 1);

        if (a < *cursor || a >= end || size > end - a)
                return -ENOSPC;
        *addr = a;
        *cursor = a + size;
        return 0;
}

/* Picks addresses for d's BARs and declares them in its config space. */
static int assign_bars(struct pci_bus *b, struct pci_device *d)
{
        uint64_t io = b->io_next, mem = b->mem_next, addr[PCI_NUM_BARS] = {0};
        int r;

        for (int n = 0; n < PCI_NUM_BARS; n++) {
                const struct pci_bar_def *def = &d->bar[n];

                if (def->type == PCI_BAR_NONE)
                        continue;
                if (def->size == 0 || (def->size & (def->size - 1)))
                        return -EINVAL;
                if (def->type == PCI_BAR_MEM64 &&
                    (n + 1 >= PCI_NUM_BARS || d->bar[n + 1].type != PCI_BAR_NONE))
                        return -EINVAL;
                /* 64-bit BARs also start below 4 GiB: no 64-bit window is described. */
                if (def->type == PCI_BAR_IO)
                        r = carve(&io, WISP_PCI_IO_END, def->size, &addr[n]);
                else
                        r = carve(&mem, WISP_PCI_MMIO32_END, def->size, &addr[n]);
                if (r)
                        return r;
        }
        for (int n = 0; n < PCI_NUM_BARS; n++) {
                if (d->bar[n].type == PCI_BAR_NONE)
                        continue;
                r = pci_cfg_set_bar(&d->cfg, n, d->bar[n].type, d->bar[n].size, addr[n]);
                if (r)
                        return r;
                if (d->bar[n].type == PCI_BAR_MEM64)
                        n++;
        }
        b->io_next = io;
        b->mem_next = mem;
        return 0;
}

int pci_bus_add(struct pci_bus *b, struct pci_device *d)
{
        unsigned int slot;
        int r;

        pthread_mutex_lock(&b->lock);
        for (slot = 1; slot < PCI_MAX_SLOTS && b->slot[slot]; slot++)
                ;
        if (slot == PCI_MAX_SLOTS) {
                r = -ENOSPC;
                goto out;
        }
        r = assign_bars(b, d);
        if (r)
                goto out;
        d->slot = slot;
        memset(d->mapped, 0, sizeof(d->mapped));
        memset(d->mapped_addr, 0, sizeof(d->mapped_addr));
        if (d->cfg.data[PCI_INTERRUPT_PIN]) {
                d->intx_gsi = WISP_PCI_INTX_FIRST_PIN + slot % WISP_PCI_INTX_PINS;
                pci_cfg_put(&d->cfg, PCI_INTERRUPT_LINE, 1, d->intx_gsi);
        }
        b->slot[slot] = d;
        /* Decoding is off until the guest enables it, unless the device's cfg says otherwise. */
        update_device(b, d);
        r = (int)slot;
out:
        pthread_mutex_unlock(&b->lock);
        return r;
}
