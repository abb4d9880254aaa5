/* Unit tests for boot/mptable.c, read back with an independent MP spec 1.4 parser. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/mptable.h"

/* MP spec 1.4 sizes (chapter 4): floating pointer, table header, entries. */
#define MPF_LEN 16
#define MPC_HDR_LEN 44
#define CPU_LEN 20
#define OTHER_LEN 8
#define GPA 0x9fc00u

static uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
        uint8_t s = 0;

        while (n--)
                s = (uint8_t)(s + *p++);
        return s;
}

struct intsrc {
        uint8_t type;
        uint16_t flags;
        uint8_t bus, bus_irq, dst, pin;
};

struct parsed {
        unsigned int cpus, buses, ioapics, intsrcs, lintsrcs;
        uint8_t cpu_id[256], cpu_flags[256];
        uint8_t ioapic_id, ioapic_flags;
        uint32_t ioapic_addr;
        uint8_t bus_id[8];
        char bus_type[8][7];
        struct intsrc irq[64], lint[4];
};

static struct intsrc intsrc_at(const uint8_t *e)
{
        return (struct intsrc){.type = e[1],
                               .flags = le16(e + 2),
                               .bus = e[4],
                               .bus_irq = e[5],
                               .dst = e[6],
                               .pin = e[7]};
}

/* Parses buf as a floating pointer at GPA followed by its table; asserts the framing. */
static void parse(const uint8_t *buf, int len, unsigned int ncpus, struct parsed *p)
{
        const uint8_t *mpc, *e, *end;
        uint16_t count;
        uint8_t last_type = 0;

        memset(p, 0, sizeof(*p));
        cr_assert_eq(memcmp(buf, "_MP_", 4), 0, "floating pointer signature");
        cr_assert_eq(buf[8], 1, "floating pointer length in paragraphs");
        cr_assert_eq(buf[9], 4, "spec revision 1.4");
        cr_assert_eq(sum(buf, MPF_LEN), 0, "floating pointer checksum");
        cr_assert_eq(buf[11], 0, "feature byte 1: a table is present, not a default config");
        cr_assert_eq(le32(buf + 4), GPA + MPF_LEN, "physptr = gpa + 16");

        mpc = buf + (le32(buf + 4) - GPA);
        cr_assert_eq(memcmp(mpc, "PCMP", 4), 0, "table signature");
        cr_assert_eq(mpc[6], 4, "table spec revision");
        cr_assert_eq(le16(mpc + 4), len - MPF_LEN, "base table length");
        cr_assert_eq(sum(mpc, le16(mpc + 4)), 0, "table checksum");
        cr_assert_eq(le32(mpc + 36), 0xfee00000u, "LAPIC address");
        cr_assert_eq(le16(mpc + 40), 0, "no extended table");
        count = le16(mpc + 34);

        e = mpc + MPC_HDR_LEN;
        end = mpc + le16(mpc + 4);
        for (unsigned int i = 0; i < count; i++) {
                cr_assert_lt(e, end, "entry %u beyond the base table", i);
                cr_assert_geq(e[0], last_type, "entry %u: entries sorted by type (spec 4.1)", i);
                last_type = e[0];
                switch (e[0]) {
                case 0:
                        cr_assert_leq(e + CPU_LEN, end);
                        cr_assert_lt(p->cpus, 256);
                        p->cpu_id[p->cpus] = e[1];
                        p->cpu_flags[p->cpus] = e[3];
                        p->cpus++;
                        e += CPU_LEN;
                        break;
                case 1:
                        cr_assert_lt(p->buses, 8);
                        p->bus_id[p->buses] = e[1];
                        memcpy(p->bus_type[p->buses], e + 2, 6);
                        p->buses++;
                        e += OTHER_LEN;
                        break;
                case 2:
                        p->ioapic_id = e[1];
                        p->ioapic_flags = e[3];
                        p->ioapic_addr = le32(e + 4);
                        p->ioapics++;
                        e += OTHER_LEN;
                        break;
                case 3:
                        cr_assert_lt(p->intsrcs, 64);
                        p->irq[p->intsrcs++] = intsrc_at(e);
                        e += OTHER_LEN;
                        break;
                case 4:
                        cr_assert_lt(p->lintsrcs, 4);
                        p->lint[p->lintsrcs++] = intsrc_at(e);
                        e += OTHER_LEN;
                        break;
                default:
                        cr_assert_fail("unknown entry type %u", e[0]);
                }
        }
        cr_assert_eq(e, end, "entry count and table length agree");
        cr_assert_eq(p->cpus, ncpus);
}

/* The MP bus id of the bus of this type; asserts there is exactly one. */
static uint8_t bus_of_type(const struct parsed *p, const char *type)
{
        int found = -1;

        for (unsigned int i = 0; i < p->buses; i++)
                if (!strcmp(p->bus_type[i], type)) {
                        cr_assert_eq(found, -1, "two %s buses", type);
                        found = p->bus_id[i];
                }
        cr_assert_neq(found, -1, "no %s bus", type);
        return (uint8_t)found;
}

static uint8_t *write_table(unsigned int ncpus, int *len)
{
        size_t cap = mptable_size(ncpus) + 64;
        uint8_t *buf = malloc(cap);

        cr_assert_not_null(buf);
        memset(buf, 0xee, cap);
        *len = mptable_write(buf, cap, GPA, ncpus);
        cr_assert_eq(*len, (int)mptable_size(ncpus), "returns the bytes written");
        for (size_t i = (size_t)*len; i < cap; i++)
                cr_assert_eq(buf[i], 0xee, "byte %zu written past the table", i);
        return buf;
}

Test(mptable, size_follows_the_spec_layout)
{
        /* 16 + 44 header, 20 per CPU; two buses, the IOAPIC, 16 ISA IRQs, 31 PCI slots'
         * INTA and 2 LINTs at 8 bytes each. */
        cr_assert_eq(mptable_size(1), 60 + 20 + 8 * (2 + 1 + 16 + 31 + 2));
        cr_assert_eq(mptable_size(2), mptable_size(1) + 20);
        cr_assert_eq(mptable_size(254), mptable_size(1) + 253 * 20);
        cr_assert_leq(mptable_size(MPTABLE_MAX_CPUS), WISP_MPTABLE_MAX);
}

Test(mptable, one_cpu)
{
        struct parsed p;
        int len;
        uint8_t *buf = write_table(1, &len);

        parse(buf, len, 1, &p);
        cr_assert_eq(p.cpu_id[0], 0);
        cr_assert_eq(p.cpu_flags[0], 3, "enabled BSP");
        cr_assert_eq(p.ioapic_id, 1, "IOAPIC id follows the LAPIC ids");
        cr_assert_eq(p.ioapic_id, mptable_ioapic_id(1));
        free(buf);
}

static void check_machine(unsigned int ncpus)
{
        struct parsed p;
        int len;
        uint8_t *buf = write_table(ncpus, &len);
        uint8_t pci, isa;
        uint32_t isa_seen = 0, pci_seen = 0;

        parse(buf, len, ncpus, &p);
        for (unsigned int i = 0; i < ncpus; i++) {
                cr_assert_eq(p.cpu_id[i], i, "APIC id of CPU %u", i);
                cr_assert_eq(p.cpu_flags[i] & 1, 1, "CPU %u enabled", i);
                cr_assert_eq(!!(p.cpu_flags[i] & 2), i == 0, "BSP flag only on CPU 0 (cpu %u)", i);
        }
        cr_assert_eq(p.buses, 2);
        pci = bus_of_type(&p, "PCI   ");
        isa = bus_of_type(&p, "ISA   ");
        cr_assert_eq(pci, 0, "the PCI bus's MP id is its bus number");
        cr_assert_neq(isa, pci);
        cr_assert_eq(p.ioapics, 1);
        cr_assert_eq(p.ioapic_id, ncpus);
        cr_assert_eq(p.ioapic_flags & 1, 1, "IOAPIC usable");
        cr_assert_eq(p.ioapic_addr, 0xfec00000u);

        cr_assert_eq(p.intsrcs, 16 + 31);
        for (unsigned int i = 0; i < p.intsrcs; i++) {
                const struct intsrc *s = &p.irq[i];

                cr_assert_eq(s->type, 0, "INT");
                cr_assert_eq(s->dst, ncpus, "to the IOAPIC");
                if (s->bus == isa) {
                        cr_assert_lt(s->bus_irq, 16);
                        cr_assert_eq(s->pin, s->bus_irq, "ISA IRQ %u on pin %u", s->bus_irq,
                                     s->pin);
                        cr_assert_eq(s->flags, 0, "ISA: conforming polarity and trigger");
                        isa_seen |= 1u << s->bus_irq;
                } else {
                        unsigned int slot = s->bus_irq >> 2;

                        cr_assert_eq(s->bus, pci, "entry %u from an unknown bus %u", i, s->bus);
                        cr_assert_eq(s->bus_irq & 3, 0, "INTA");
                        cr_assert(slot >= 1 && slot <= 31, "slot %u", slot);
                        cr_assert_eq(s->pin, 16 + slot % 8, "slot %u on pin %u", slot, s->pin);
                        cr_assert_eq(s->flags, 0x0f, "PCI: level-triggered, active low");
                        pci_seen |= 1u << slot;
                }
        }
        cr_assert_eq(isa_seen, 0xffff, "every ISA IRQ 0..15 once");
        cr_assert_eq(pci_seen, 0xfffffffeu, "every PCI slot 1..31 once");
        cr_assert_eq(p.lintsrcs, 2);
        cr_assert_eq(p.lint[0].type, 3, "LINT0 is ExtINT");
        cr_assert_eq(p.lint[0].pin, 0);
        cr_assert_eq(p.lint[0].dst, 0xff, "on every LAPIC");
        cr_assert_eq(p.lint[1].type, 1, "LINT1 is NMI");
        cr_assert_eq(p.lint[1].pin, 1);
        cr_assert_eq(p.lint[1].dst, 0xff);
        free(buf);
}

Test(mptable, two_cpus)
{
        check_machine(2);
}

Test(mptable, four_cpus)
{
        check_machine(4);
}

Test(mptable, the_maximum_254_cpus)
{
        check_machine(254);
}

Test(mptable, zero_and_255_cpus_are_einval)
{
        uint8_t buf[8192];

        memset(buf, 0xee, sizeof(buf));
        cr_assert_eq(mptable_write(buf, sizeof(buf), GPA, 0), -EINVAL);
        cr_assert_eq(mptable_write(buf, sizeof(buf), GPA, 255), -EINVAL);
        cr_assert_eq(mptable_write(buf, sizeof(buf), GPA, 100000), -EINVAL);
        for (size_t i = 0; i < sizeof(buf); i++)
                cr_assert_eq(buf[i], 0xee, "nothing written on -EINVAL");
}

Test(mptable, short_buffer_is_enospc_and_untouched)
{
        size_t need = mptable_size(2);
        uint8_t *buf = malloc(need);

        memset(buf, 0xee, need);
        cr_assert_eq(mptable_write(buf, need - 1, GPA, 2), -ENOSPC);
        cr_assert_eq(mptable_write(buf, 0, GPA, 2), -ENOSPC);
        for (size_t i = 0; i < need; i++)
                cr_assert_eq(buf[i], 0xee, "nothing written on -ENOSPC");
        cr_assert_eq(mptable_write(buf, need, GPA, 2), (int)need, "exactly enough room");
        free(buf);
}

Test(mptable, physptr_follows_the_placement)
{
        uint8_t buf[1024];

        cr_assert_gt(mptable_write(buf, sizeof(buf), 0xf0000, 1), 0);
        cr_assert_eq(le32(buf + 4), 0xf0010u);
        cr_assert_eq(sum(buf, MPF_LEN), 0, "checksum covers physptr");
}
