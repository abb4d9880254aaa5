/* MP table discovery: the floating pointer "_MP_" and the processor entries of "PCMP". */
#include "guest.h"

struct mp_floating {
        char signature[4]; /* "_MP_" */
        u32 config_addr;
        u8 length; /* in 16-byte units: 1 */
        u8 revision;
        u8 checksum;
        u8 features[5];
} __attribute__((packed));

struct mp_config {
        char signature[4]; /* "PCMP" */
        u16 length;
        u8 revision;
        u8 checksum;
        char oem[8];
        char product[12];
        u32 oem_table;
        u16 oem_table_size;
        u16 entries;
        u32 lapic_addr;
        u16 ext_length;
        u8 ext_checksum;
        u8 reserved;
} __attribute__((packed));

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IOINT = 3, MP_LOCALINT = 4 };

#define CPU_ENABLED 0x01
#define CPU_BSP 0x02
#define MP_CONFIG_MAX 0x10000

static u8 checksum(const volatile u8 *p, u32 len)
{
        u8 sum = 0;

        for (u32 i = 0; i < len; i++)
                sum += p[i];
        return sum;
}

static const struct mp_floating *find_floating(u64 start, u64 end)
{
        for (u64 a = start; a + sizeof(struct mp_floating) <= end; a += 16) {
                const struct mp_floating *f = (const void *)a;

                if (!memcmp(f->signature, "_MP_", 4) && f->length == 1 &&
                    checksum((const u8 *)f, 16) == 0)
                        return f;
        }
        return NULL;
}

static bool parse_config(struct mp_info *mp, const u8 *t)
{
        struct mp_config c;
        u32 off = sizeof(c);

        memcpy(&c, t, sizeof(c));
        if (memcmp(c.signature, "PCMP", 4) || c.length < sizeof(c) || checksum(t, c.length)) {
                kprintf("mptable: bad configuration table header\n");
                return false;
        }
        /* Walk by length as Linux does: qboot leaves the entry count at 0. */
        for (u32 i = 0; off < c.length; i++) {
                u32 size = t[off] == MP_PROCESSOR ? 20 : 8;

                if (t[off] > MP_LOCALINT || off + size > c.length) {
                        kprintf("mptable: bad entry %u (type %u) at offset %u\n", i, t[off], off);
                        return false;
                }
                const u8 *e = t + off;

                if (e[0] == MP_PROCESSOR && !(e[3] & CPU_ENABLED)) {
                        mp->nr_disabled++;
                } else if (e[0] == MP_PROCESSOR) {
                        if (mp->nr_cpus == GUEST_MAX_CPUS) {
                                kprintf("mptable: more than %u CPUs\n", GUEST_MAX_CPUS);
                                return false;
                        }
                        mp->apic_id[mp->nr_cpus++] = e[1];
                        if (e[3] & CPU_BSP) {
                                mp->bsp_apic_id = e[1];
                                mp->bsp_flagged = true;
                        }
                } else if (e[0] == MP_IOAPIC && !mp->ioapic_addr) {
                        mp->ioapic_addr = *(const u32 *)(e + 4);
                } else if (e[0] == MP_IOINT && e[1] == 0 /* INT */ && e[5] == 0 /* IRQ 0 */ &&
                           mp->isa_irq0_pin < 0) {
                        mp->isa_irq0_pin = e[7];
                }
                off += size;
        }
        return true;
}

bool mptable_scan(struct mp_info *mp)
{
        const struct mp_floating *f;

        memset(mp, 0, sizeof(*mp));
        mp->isa_irq0_pin = -1;
        f = find_floating(WISP_EBDA_ADDR, WISP_LOWMEM_END);
        if (!f)
                f = find_floating(0xf0000, WISP_HIGHMEM_START);
        if (!f)
                return true;
        mp->found = true;
        kprintf("mptable: floating pointer at %p, configuration at 0x%x\n", f, f->config_addr);
        if (!f->config_addr || f->config_addr > 0xffffffffUL - MP_CONFIG_MAX) {
                kprintf("mptable: no configuration table (default configurations unsupported)\n");
                return false;
        }
        return parse_config(mp, (const u8 *)(u64)f->config_addr);
}
