/* Test helper: a guest driving virtio-pci functions on a real pci_bus over a fake KVM
 * (vpci_harness.c), their virtio registers and a fake device (vpci_virtio.c). */
#ifndef WISP_TESTS_VPCI_HARNESS_H
#define WISP_TESTS_VPCI_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "fake_kvm.h"
#include "kvm/guest_mem.h"
#include "kvm/irq.h"
#include "pci/bus.h"
#include "virtio/device.h"
#include "virtio/pci.h"
#include "vmm/event.h"

/*
 * fake_kvm answers only the VM and vCPU set-up ioctls; the transport also
 * needs KVM_IRQFD, KVM_IOEVENTFD and KVM_SET_GSI_ROUTING. vph_kvm wraps it:
 * those three are recorded here, everything else goes to the fake_kvm.
 */
#define VPH_MAX_IRQFD 64
#define VPH_MAX_IOEV 64

struct vph_irqfd {
        int fd;
        uint32_t gsi;
        int resample_fd; /* -1: edge-triggered */
        bool on;
};

struct vph_ioev {
        int fd;
        uint64_t addr;
        uint32_t len;
        bool pio, match;
        uint64_t datamatch;
        bool on;
};

struct vph_kvm {
        struct fake_kvm fk;
        struct kvm_sys sys; /* hand this one to wisp */
        int vm_fd;
        bool ioeventfd_refused; /* KVM_IOEVENTFD fails: every notify reaches the BAR */
        struct vph_irqfd irqfd[VPH_MAX_IRQFD];
        unsigned int nirqfd;
        struct vph_ioev ioev[VPH_MAX_IOEV];
        unsigned int nioev;
        unsigned int routing_commits;
        unsigned int wrong_fd; /* irqfd/ioeventfd/routing requests not sent to vm_fd */
};

/* The VM side the functions live in: buses, RAM, event loop, routing. */
struct vph {
        struct vph_kvm kvm;
        struct irq_routing routing;
        struct event_loop loop;
        struct guest_mem mem;
        struct io_bus pio, mmio;
        struct pci_bus bus;
        struct virtio_env env;
};

/* Fake RAM [0, ram_size), fake KVM, routing, a real epoll loop and a PCI bus. 0 or -errno. */
int vph_init(struct vph *h, uint64_t ram_size);
/* Destroys the bus (unmapping every BAR), the loop, routing and RAM. */
void vph_fini(struct vph *h);

/* One epoll_wait of at most timeout_ms on the loop; dispatches what came. Events or -errno. */
int vph_poll(struct vph *h, int timeout_ms);

/* The active irqfd bound to gsi, or NULL. */
const struct vph_irqfd *vph_irqfd_for_gsi(const struct vph *h, uint32_t gsi);
/* The active ioeventfd at addr (pio or MMIO), or NULL. */
const struct vph_ioev *vph_ioev_at(const struct vph *h, uint64_t addr, bool pio);
/* Reads and resets an eventfd's counter (0 when nothing was signalled). */
uint64_t vph_efd_take(int fd);

/* Config cycles: mechanism #1 (0xcf8/0xcfc, offsets < 256) and ECAM. */
uint32_t vph_cfg_read(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len);
void vph_cfg_write(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len, uint32_t v);
uint32_t vph_ecam_read(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len);
void vph_ecam_write(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len, uint32_t v);

/* A function as a driver found it: BARs, virtio capabilities, MSI-X. */
struct vph_cap {
        uint32_t pos; /* 0: absent */
        uint8_t bar;
        uint32_t offset, length;
};

struct vph_fn {
        struct vph *h;
        unsigned int slot;
        uint16_t vendor, device, subsys_vendor, subsys;
        uint8_t revision;
        uint64_t bar[PCI_NUM_BARS];      /* address as read back */
        uint64_t bar_size[PCI_NUM_BARS]; /* as sized by writing all-ones */
        bool bar_io[PCI_NUM_BARS];
        bool bar_64[PCI_NUM_BARS];
        unsigned int nvndr; /* vendor capabilities seen */
        struct vph_cap common, isr, device_cfg, notify, pci_cfg;
        uint32_t notify_mult;
        uint32_t msix_cap; /* 0: none */
        uint16_t msix_nvec;
        uint8_t msix_bar, pba_bar;
        uint32_t msix_off, pba_off;
};

/*
 * What Linux's PCI core and virtio_pci_{modern,legacy}_probe do before any
 * register access: read the IDs, size every BAR with decoding off, enable
 * I/O, memory and bus mastering, walk the capability list. 0, or -ENODEV
 * for an empty slot.
 */
int vph_probe(struct vph *h, unsigned int slot, struct vph_fn *f);

/* BAR accesses through the guest's buses. Reads fill with 0xa5 first. */
uint64_t vph_bar_read(struct vph_fn *f, int bar, uint64_t off, uint32_t len);
void vph_bar_write(struct vph_fn *f, int bar, uint64_t off, uint32_t len, uint64_t v);

/*
 * MSI-X as pci_alloc_irq_vectors does it: enable with the function masked,
 * program and unmask nvec entries (address 0xfee00000, data 0x4000 + v),
 * then clear the function mask.
 */
void vph_msix_enable(struct vph_fn *f, unsigned int nvec);
void vph_msix_disable(struct vph_fn *f);

/* --- the modern interface, register by register as Linux 6.1 writes it (vpci_virtio.c) --- */
uint64_t vph_common_read(struct vph_fn *f, uint32_t off, uint32_t len);
void vph_common_write(struct vph_fn *f, uint32_t off, uint32_t len, uint64_t v);
uint8_t vph_isr_read(struct vph_fn *f);
uint64_t vph_devcfg_read(struct vph_fn *f, uint32_t off, uint32_t len);
void vph_devcfg_write(struct vph_fn *f, uint32_t off, uint32_t len, uint64_t v);
/* vp_notify: a 16-bit write of the queue index at notify_off * multiplier. */
void vph_modern_notify(struct vph_fn *f, uint16_t q, uint16_t notify_off);

/* virtio_add_status: read, or in, write. Returns the status read back after. */
uint8_t vph_modern_add_status(struct vph_fn *f, uint8_t bits);
/* vp_reset: write 0, then poll until it reads 0 (bounded). 0 or -ETIMEDOUT. */
int vph_modern_reset(struct vph_fn *f);
/* vp_modern_get_features: select 0, read, select 1, read. */
uint64_t vph_modern_device_features(struct vph_fn *f);
/* vp_modern_set_features: select 0, write low, select 1, write high. */
void vph_modern_set_features(struct vph_fn *f, uint64_t features);

/*
 * register_virtio_device + virtio_dev_probe up to FEATURES_OK: reset, ACK,
 * DRIVER, read features, write offered & want, FEATURES_OK and its check.
 * *offered gets the device's bits. 0, or -ENODEV when FEATURES_OK was not kept.
 */
int vph_modern_negotiate(struct vph_fn *f, uint64_t want, uint64_t *offered);

/*
 * setup_vq + vp_active_vq for queue q: select, read the size (0 or enabled:
 * -ENOENT), write size and the three ring addresses in 32-bit halves, the
 * MSI-X vector with its read-back (NO_VECTOR: -EBUSY) unless vector is
 * NO_VECTOR, and read queue_notify_off into *notify_off (may be NULL).
 */
int vph_modern_setup_queue(struct vph_fn *f, uint16_t q, uint16_t size, uint64_t desc,
                           uint64_t avail, uint64_t used, uint16_t vector, uint16_t *notify_off);
/* vp_modern_set_queue_enable(q, true), then the read-back of queue_enable. */
uint16_t vph_modern_enable_queue(struct vph_fn *f, uint16_t q);
/* vp_config_vector: write msix_config, return its read-back. */
uint16_t vph_modern_config_vector(struct vph_fn *f, uint16_t vector);

/* --- the legacy interface (I/O BAR 0) --- */
uint64_t vph_legacy_read(struct vph_fn *f, uint32_t off, uint32_t len);
void vph_legacy_write(struct vph_fn *f, uint32_t off, uint32_t len, uint64_t v);

/* --- a tiny device model that records what the core asked of it --- */
#define VPH_FAKE_QUEUES 3
#define VPH_FAKE_QMAX 64
#define VPH_FAKE_CONFIG 8
#define VPH_FAKE_ID 9 /* 9P: transitional id 0x1009, modern 0x1049 */
#define VPH_FAKE_FEATURES ((1ull << 0) | (1ull << 5))

struct vph_fake_dev {
        struct virtio_device dev;
        uint64_t features;
        uint8_t config[VPH_FAKE_CONFIG];
        int activate_result;
        unsigned int activates, resets, config_writes;
        unsigned int notifies[VPH_FAKE_QUEUES];
        uint64_t features_at_activate;
        bool ready_at_activate[VPH_FAKE_QUEUES];
        bool locked_in_ops; /* every op ran with dev.lock held */
};

/* id, VPH_FAKE_QUEUES queues of at most VPH_FAKE_QMAX, config bytes 0x10, 0x11, ... */
void vph_fake_dev_init(struct vph_fake_dev *d, uint32_t id);

#endif
