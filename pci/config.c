/* PCI configuration space: bytes plus per-byte write and write-1-to-clear masks. */
#include "pci/config.h"

#include <errno.h>
#include <string.h>

/* Command bits the guest owns: decoding, bus mastering, SERR# and INTx disable. */
#define COMMAND_WMASK                                                                              \
        (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR |             \
         PCI_COMMAND_INTX_DISABLE)

/* Status error bits stay set until the guest writes 1 to them (PCI 3.0, 6.2.3). */
#define STATUS_W1C                                                                                 \
        (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |           \
         PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

#define IO_BAR_MAX 0x10000ULL       /* the whole 16-bit port space */
#define MEM32_BAR_MAX 0x80000000ULL /* the largest power of two a 32-bit BAR can hold */
#define MEM64_BAR_MAX 0x8000000000000000ULL

static uint32_t all_ones(uint32_t len)
{
        return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

/* True when [off, off + len) lies inside the space; written so nothing overflows. */
static bool in_space(uint32_t off, uint32_t len)
{
        return len <= PCI_CFG_SIZE && off <= PCI_CFG_SIZE - len;
}

static void put_le(uint8_t *p, uint32_t off, uint32_t len, uint32_t val)
{
        if (len > 4 || !in_space(off, len))
                return;
        for (uint32_t i = 0; i < len; i++)
                p[off + i] = (uint8_t)(val >> (8 * i));
}

void pci_cfg_put(struct pci_cfg *c, uint32_t off, uint32_t len, uint32_t val)
{
        put_le(c->data, off, len, val);
}

uint32_t pci_cfg_get(const struct pci_cfg *c, uint32_t off, uint32_t len)
{
        uint32_t v = 0;

        if (len > 4 || !in_space(off, len))
                return all_ones(len);
        for (uint32_t i = 0; i < len; i++)
                v |= (uint32_t)c->data[off + i] << (8 * i);
        return v;
}

void pci_cfg_set_wmask(struct pci_cfg *c, uint32_t off, uint32_t len, uint32_t mask)
{
        put_le(c->wmask, off, len, mask);
}

void pci_cfg_init(struct pci_cfg *c, const struct pci_id *id)
{
        memset(c, 0, sizeof(*c));
        pci_cfg_put(c, PCI_VENDOR_ID, 2, id->vendor);
        pci_cfg_put(c, PCI_DEVICE_ID, 2, id->device);
        pci_cfg_put(c, PCI_CLASS_REVISION, 4, (id->class_code & 0xffffff) << 8 | id->revision);
        pci_cfg_put(c, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
        pci_cfg_put(c, PCI_SUBSYSTEM_VENDOR_ID, 2, id->subsys_vendor);
        pci_cfg_put(c, PCI_SUBSYSTEM_ID, 2, id->subsys);
        pci_cfg_put(c, PCI_INTERRUPT_PIN, 1, id->irq_pin);

        pci_cfg_set_wmask(c, PCI_COMMAND, 2, COMMAND_WMASK);
        put_le(c->w1c, PCI_STATUS, 2, STATUS_W1C);
        /* Firmware and drivers store these; the device ignores them. */
        pci_cfg_set_wmask(c, PCI_CACHE_LINE_SIZE, 1, 0xff);
        pci_cfg_set_wmask(c, PCI_LATENCY_TIMER, 1, 0xff);
        pci_cfg_set_wmask(c, PCI_INTERRUPT_LINE, 1, 0xff);
        c->cap_next = PCI_STD_HEADER_SIZEOF;
}

int pci_cfg_add_cap(struct pci_cfg *c, uint8_t id, uint8_t len)
{
        uint32_t off = c->cap_next, next;

        if (len < 2)
                return -EINVAL;
        /* cap_next is 0 once the standard space is full (256 does not fit a byte). */
        if (off < PCI_STD_HEADER_SIZEOF || off + len > PCI_CFG_SPACE_SIZE)
                return -ENOSPC;
        c->data[off + PCI_CAP_LIST_ID] = id;
        c->data[off + PCI_CAP_LIST_NEXT] = 0;
        if (c->cap_last)
                c->data[c->cap_last + PCI_CAP_LIST_NEXT] = (uint8_t)off;
        else
                c->data[PCI_CAPABILITY_LIST] = (uint8_t)off;
        c->data[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
        c->cap_last = (uint8_t)off;
        next = (off + len + 3) & ~3u;
        c->cap_next = next >= PCI_CFG_SPACE_SIZE ? 0 : (uint8_t)next;
        return (int)off;
}

static uint32_t bar_off(int n)
{
        return PCI_BASE_ADDRESS_0 + 4 * (uint32_t)n;
}

static void bar_clear(struct pci_cfg *c, int n)
{
        int last = c->bar_type[n] == PCI_BAR_MEM64 ? n + 1 : n;

        for (int i = n; i <= last; i++) {
                pci_cfg_put(c, bar_off(i), 4, 0);
                pci_cfg_set_wmask(c, bar_off(i), 4, 0);
                c->bar_type[i] = PCI_BAR_NONE;
                c->bar_size[i] = 0;
        }
}

static bool bar_size_ok(enum pci_bar_type type, uint64_t size)
{
        if (size & (size - 1))
                return false;
        switch (type) {
        case PCI_BAR_IO:
                return size >= 4 && size <= IO_BAR_MAX;
        case PCI_BAR_MEM32:
                return size >= 16 && size <= MEM32_BAR_MAX;
        case PCI_BAR_MEM64:
                return size >= 16 && size <= MEM64_BAR_MAX;
        default:
                return false;
        }
}

int pci_cfg_set_bar(struct pci_cfg *c, int n, enum pci_bar_type type, uint64_t size, uint64_t addr)
{
        uint32_t flags, lo_mask;

        if (n < 0 || n >= PCI_NUM_BARS)
                return -EINVAL;
        /* The upper half of a 64-bit BAR is not a BAR of its own. */
        if (n > 0 && c->bar_type[n - 1] == PCI_BAR_MEM64)
                return -EINVAL;
        if (type == PCI_BAR_NONE) {
                bar_clear(c, n);
                return 0;
        }
        if (!bar_size_ok(type, size) || (addr & (size - 1)))
                return -EINVAL;
        if (type == PCI_BAR_MEM64) {
                if (n + 1 >= PCI_NUM_BARS || c->bar_type[n + 1] != PCI_BAR_NONE)
                        return -EINVAL;
        } else if (addr > UINT32_MAX) {
                return -EINVAL;
        }

        bar_clear(c, n);
        if (type == PCI_BAR_IO) {
                flags = PCI_BASE_ADDRESS_SPACE_IO;
                lo_mask = (uint32_t)PCI_BASE_ADDRESS_IO_MASK;
        } else {
                flags = type == PCI_BAR_MEM64 ? PCI_BASE_ADDRESS_MEM_TYPE_64
                                              : PCI_BASE_ADDRESS_MEM_TYPE_32;
                lo_mask = (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
        }
        /* Writable address bits are exactly ~(size - 1): sizing needs no special case. */
        pci_cfg_put(c, bar_off(n), 4, ((uint32_t)addr & lo_mask) | flags);
        pci_cfg_set_wmask(c, bar_off(n), 4, (uint32_t) ~(size - 1) & lo_mask);
        if (type == PCI_BAR_MEM64) {
                pci_cfg_put(c, bar_off(n + 1), 4, (uint32_t)(addr >> 32));
                pci_cfg_set_wmask(c, bar_off(n + 1), 4, (uint32_t)(~(size - 1) >> 32));
        }
        c->bar_type[n] = type;
        c->bar_size[n] = size;
        return 0;
}

uint64_t pci_cfg_bar_addr(const struct pci_cfg *c, int n)
{
        uint32_t lo;

        if (n < 0 || n >= PCI_NUM_BARS)
                return 0;
        lo = pci_cfg_get(c, bar_off(n), 4);
        switch (c->bar_type[n]) {
        case PCI_BAR_IO:
                return lo & (uint32_t)PCI_BASE_ADDRESS_IO_MASK;
        case PCI_BAR_MEM32:
                return lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
        case PCI_BAR_MEM64:
                return (lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK) |
                       (uint64_t)pci_cfg_get(c, bar_off(n + 1), 4) << 32;
        default:
                return 0;
        }
}

static bool guest_access_ok(uint32_t off, uint32_t len)
{
        return (len == 1 || len == 2 || len == 4) && in_space(off, len);
}

uint32_t pci_cfg_read(const struct pci_cfg *c, uint32_t off, uint32_t len)
{
        if (!guest_access_ok(off, len))
                return all_ones(len);
        return pci_cfg_get(c, off, len);
}

void pci_cfg_write(struct pci_cfg *c, uint32_t off, uint32_t len, uint32_t val)
{
        if (!guest_access_ok(off, len))
                return;
        for (uint32_t i = 0; i < len; i++) {
                uint8_t v = (uint8_t)(val >> (8 * i)), m = c->wmask[off + i];
                uint8_t d = (uint8_t)((c->data[off + i] & ~m) | (v & m));

                c->data[off + i] = (uint8_t)(d & ~(v & c->w1c[off + i]));
        }
}
