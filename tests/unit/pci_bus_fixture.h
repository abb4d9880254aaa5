/* Test fixture for test_pci_bus_*: a PCI bus over port and MMIO buses, two test devices with
 * one handler per BAR, and config accesses as a vCPU exit would make them. */
#ifndef WISP_TESTS_PCI_BUS_FIXTURE_H
#define WISP_TESTS_PCI_BUS_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "kvm/guest_mem.h"
#include "pci/bus.h"

#define RAM_SIZE 0x4000000ULL /* 64 MiB */
#define ENABLE 0x80000000u
#define DEV_VENDOR 0x1af4
#define DEV_DEVICE 0x1041
#define DEV_CLASS 0x020000

struct hit {
        unsigned int calls;
        uint64_t offset;
        uint32_t len;
        bool is_write;
};

struct moved {
        int n;
        uint64_t addr;
        bool mapped;
};

struct tdev {
        struct pci_device pci;
        struct hit hit[PCI_NUM_BARS];
        struct moved moved[64];
        unsigned int nmoved;
        uint32_t written_off, written_len;
        unsigned int nwritten;
};

/* The buses, RAM's layout, the PCI bus, and two devices (not plugged: see plug). */
extern struct io_bus pio, mmio;
extern struct guest_mem mem;
extern struct pci_bus bus;
extern struct tdev dev1, dev2;

/* One handler per BAR n so the test sees which BAR an access reached: it counts it in
 * hit[n], and a read gives bytes of 0x40 + n. */
void bar0_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool wr);
void bar1_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool wr);
void bar2_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool wr);
/* BAR 0: 32 ports, BAR 1: 4 KiB 32-bit memory, BAR 2/3: 16 KiB 64-bit memory. */
void tdev_init(struct tdev *t, const char *name);
/* TestSuite(pci_bus, .init = setup, .fini = teardown): RAM_SIZE of RAM; teardown checks
 * that destroying the bus releases every region. */
void setup(void);
void teardown(void);

/* An access through an I/O bus (reads start from 0xa5 bytes). */
uint64_t bus_read(struct io_bus *b, uint64_t addr, uint32_t len);
void bus_write(struct io_bus *b, uint64_t addr, uint32_t len, uint64_t v);
/* The 0xcf8 dword for a config register (enabled). */
uint32_t cf8(unsigned int dev, unsigned int fn, uint32_t reg);
/* Mechanism #1: latch the dword, then access 0xcfc + (reg & 3). */
uint32_t m1_read(unsigned int dev, uint32_t reg, uint32_t len);
void m1_write(unsigned int dev, uint32_t reg, uint32_t len, uint32_t v);
/* ECAM: the address of a config register, and accesses at function 0. */
uint64_t ecam_addr(unsigned int dev, unsigned int fn, uint32_t reg);
uint64_t ecam_read(unsigned int dev, uint32_t reg, uint32_t len);
void ecam_write(unsigned int dev, uint32_t reg, uint32_t len, uint64_t v);
/* pci_bus_add of t. */
int plug(struct tdev *t);

#endif
