/* MP table writer: floating pointer, header, CPUs, bus, IOAPIC, interrupt routes. */
#include "boot/mptable.h"

#include <errno.h>
#include <string.h>

#include "boot/layout.h"

/*
 * Not in the uapi headers: the layouts of the MP spec 1.4, chapter 4.
 * Linux parses them in arch/x86/kernel/mpparse.c.
 */
struct mpf_intel {
        char signature[4];     /* "_MP_" */
        uint32_t physptr;      /* configuration table address */
        uint8_t length;        /* in 16-byte units: 1 */
        uint8_t specification; /* 4 = version 1.4 */
        uint8_t checksum;
        uint8_t feature1; /* 0: a configuration table is present */
        uint8_t feature2;
        uint8_t feature3, feature4, feature5;
} __attribute__((packed));

struct mpc_table {
        char signature[4]; /* "PCMP" */
        uint16_t length;   /* base table length */
        char spec;         /* 4 */
        char checksum;
        char oem[8];
        char productid[12];
        uint32_t oemptr;
        uint16_t oemsize;
        uint16_t oemcount; /* number of entries */
        uint32_t lapic;    /* LAPIC address */
        uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
        uint8_t type; /* 0 */
        uint8_t apicid;
        uint8_t apicver;
        uint8_t cpuflag; /* bit 0 enabled, bit 1 bootstrap processor */
        uint32_t cpufeature;
        uint32_t featureflag;
        uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
        uint8_t type; /* 1 */
        uint8_t busid;
        uint8_t bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
        uint8_t type; /* 2 */
        uint8_t apicid;
        uint8_t apicver;
        uint8_t flags; /* bit 0 usable */
        uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
        uint8_t type;     /* 3 I/O interrupt, 4 local interrupt */
        uint8_t irqtype;  /* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
        uint16_t irqflag; /* 0: conforming polarity and trigger */
        uint8_t srcbus;
        uint8_t srcbusirq;
        uint8_t dstapic; /* 0xff: every LAPIC, for local interrupts */
        uint8_t dstirq;  /* IOAPIC pin or LINTn */
} __attribute__((packed));

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_IRQ_INT, MP_IRQ_NMI, MP_IRQ_SMI, MP_IRQ_EXTINT };

/* The PCI bus's MP id must be its bus number; ISA comes after it. */
#define MP_PCI_BUS 0
#define MP_ISA_BUS 1
#define MP_ISA_IRQS 16
#define MP_PCI_SLOTS 31       /* slots 1..31; slot 0 is the host bridge */
#define MP_IRQ_LEVEL_LOW 0x0f /* polarity active low (3), trigger level (3 << 2) */
#define APIC_VERSION 0x14     /* KVM's LAPIC reports 0x14 */
#define IOAPIC_VERSION 0x11   /* KVM's IOAPIC: 24 pins */
#define CPU_ENABLED 1
#define CPU_BSP 2

static uint8_t checksum(const void *p, size_t len)
{
        const uint8_t *b = p;
        uint8_t sum = 0;

        while (len--)
                sum += *b++;
        return (uint8_t)(0 - sum);
}

size_t mptable_size(unsigned int ncpus)
{
        return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
               ncpus * sizeof(struct mpc_cpu) + 2 * sizeof(struct mpc_bus) +
               sizeof(struct mpc_ioapic) +
               (MP_ISA_IRQS + MP_PCI_SLOTS + 2) * sizeof(struct mpc_intsrc);
}

int mptable_write(void *buf, size_t len, uint64_t gpa, unsigned int ncpus)
{
        uint8_t *p = buf;
        size_t need = mptable_size(ncpus);
        struct mpf_intel *mpf = (struct mpf_intel *)p;
        struct mpc_table *mpc = (struct mpc_table *)(p + sizeof(*mpf));
        uint8_t *e = (uint8_t *)(mpc + 1);
        uint16_t count = 0;
        const uint8_t ioapic = (uint8_t)mptable_ioapic_id(ncpus);

        if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
                return -EINVAL;
        if (len < need)
                return -ENOSPC;
        memset(buf, 0, need);

        for (unsigned int i = 0; i < ncpus; i++, count++) {
                struct mpc_cpu c = {
                    .type = MP_PROCESSOR,
                    .apicid = (uint8_t)i,
                    .apicver = APIC_VERSION,
                    .cpuflag = CPU_ENABLED | (i == 0 ? CPU_BSP : 0),
                    .cpufeature = 0x600,  /* family 6: Linux only prints it */
                    .featureflag = 0x201, /* FPU, APIC */
                };
                memcpy(e, &c, sizeof(c));
                e += sizeof(c);
        }

        struct mpc_bus bus[2] = {{.type = MP_BUS, .busid = MP_PCI_BUS},
                                 {.type = MP_BUS, .busid = MP_ISA_BUS}};
        memcpy(bus[0].bustype, "PCI   ", 6);
        memcpy(bus[1].bustype, "ISA   ", 6);
        memcpy(e, bus, sizeof(bus));
        e += sizeof(bus);
        count += 2;

        struct mpc_ioapic io = {.type = MP_IOAPIC,
                                .apicid = ioapic,
                                .apicver = IOAPIC_VERSION,
                                .flags = 1,
                                .apicaddr = (uint32_t)WISP_IOAPIC_ADDR};
        memcpy(e, &io, sizeof(io));
        e += sizeof(io);
        count++;

        for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++, count++) {
                struct mpc_intsrc s = {.type = MP_INTSRC,
                                       .irqtype = MP_IRQ_INT,
                                       .srcbus = MP_ISA_BUS,
                                       .srcbusirq = irq,
                                       .dstapic = ioapic,
                                       .dstirq = irq};
                memcpy(e, &s, sizeof(s));
                e += sizeof(s);
        }

        /* PCI INTA of slot s: IOAPIC pin 16 + s % 8, level-triggered, active low
         * (source irq = slot << 2 | pin, pin 0 = INTA). */
        for (uint8_t slot = 1; slot <= MP_PCI_SLOTS; slot++, count++) {
                struct mpc_intsrc s = {
                    .type = MP_INTSRC,
                    .irqtype = MP_IRQ_INT,
                    .irqflag = MP_IRQ_LEVEL_LOW,
                    .srcbus = MP_PCI_BUS,
                    .srcbusirq = (uint8_t)(slot << 2),
                    .dstapic = ioapic,
                    .dstirq = (uint8_t)(WISP_PCI_INTX_FIRST_PIN + slot % WISP_PCI_INTX_PINS)};
                memcpy(e, &s, sizeof(s));
                e += sizeof(s);
        }

        /* Virtual-wire wiring a BIOS would program: LINT0 ExtINT, LINT1 NMI. */
        struct mpc_intsrc lint[2] = {
            {.type = MP_LINTSRC,
             .irqtype = MP_IRQ_EXTINT,
             .srcbus = MP_ISA_BUS,
             .dstapic = 0xff,
             .dstirq = 0},
            {.type = MP_LINTSRC,
             .irqtype = MP_IRQ_NMI,
             .srcbus = MP_ISA_BUS,
             .dstapic = 0xff,
             .dstirq = 1},
        };
        memcpy(e, lint, sizeof(lint));
        e += sizeof(lint);
        count += 2;

        memcpy(mpc->signature, "PCMP", 4);
        mpc->length = (uint16_t)(e - (uint8_t *)mpc);
        mpc->spec = 4;
        memcpy(mpc->oem, "WISP    ", 8);
        memcpy(mpc->productid, "WISP VMM    ", 12);
        mpc->oemcount = count;
        mpc->lapic = (uint32_t)WISP_LAPIC_ADDR;
        mpc->checksum = (char)checksum(mpc, mpc->length);

        memcpy(mpf->signature, "_MP_", 4);
        mpf->physptr = (uint32_t)(gpa + sizeof(*mpf));
        mpf->length = 1;
        mpf->specification = 4;
        mpf->checksum = checksum(mpf, sizeof(*mpf));
        return (int)need;
}
