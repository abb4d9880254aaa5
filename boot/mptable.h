/* The Intel MultiProcessor Specification 1.4 table that tells Linux about the CPUs. */
#ifndef WISP_BOOT_MPTABLE_H
#define WISP_BOOT_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MPTABLE_MAX_CPUS 254

/* Bytes the table takes for ncpus CPUs. */
size_t mptable_size(unsigned int ncpus);

/*
 * Writes the floating pointer and the configuration table for ncpus CPUs
 * (APIC ids 0..ncpus-1, the BSP first), one IOAPIC (id ncpus), PCI bus 0
 * and ISA bus 1, ISA IRQs 0..15 wired to IOAPIC pins 0..15 (KVM's default
 * routing: the PIT is on pin 0), and INTA of PCI slots 1..31 wired to pins
 * 16 + slot % 8, level-triggered and active low, into buf, which is placed at guest physical
 * address gpa. Pure. Returns the bytes written, -EINVAL for a bad ncpus, -ENOSPC when buf is too
 * small.
 */
int mptable_write(void *buf, size_t len, uint64_t gpa, unsigned int ncpus);

/* The IOAPIC's MP id for ncpus CPUs (after the LAPIC ids). */
static inline unsigned int mptable_ioapic_id(unsigned int ncpus)
{
        return ncpus;
}

#endif
