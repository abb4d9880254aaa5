/* virtio over PCI: the modern (1.x) and legacy (0.9.5) register layouts over one shared state. */
#ifndef WISP_VIRTIO_PCI_H
#define WISP_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/irq.h"
#include "pci/bus.h"
#include "pci/msix.h"
#include "virtio/device.h"
#include "vmm/event.h"

enum virtio_transport {
        VIRTIO_TRANSITIONAL, /* both interfaces; the driver chooses (default) */
        VIRTIO_MODERN,       /* virtio 1.x only: device id 0x1040 + id */
        VIRTIO_LEGACY,       /* pre-1.0 only: I/O BAR 0, no VERSION_1 */
};

/* What the transport needs from the VM. */
struct virtio_env {
        const struct kvm_sys *sys;
        int vm_fd;
        struct irq_routing *routing;
        struct event_loop *loop; /* the I/O thread's: kicks and INTx resamples */
        const struct guest_mem *mem;
};

/* Per-queue registers as the driver programs them (before validation). */
struct virtio_pci_queue {
        uint16_t size;
        uint64_t desc, avail, used;
        uint16_t vector;
        bool enabled;
        int kick_fd;
        struct event_source kick_src;
        struct virtio_pci *vp;
        unsigned int index;
        /* The notify address bound to kick_fd through each interface: [0]
         * legacy (port, datamatch index), [1] modern (MMIO); moved with the BARs. */
        struct ioeventfd_spec ioev[2];
        bool ioev_on[2];
};

/*
 * BAR layout. Legacy/transitional: BAR 0 is I/O (the legacy header, MSI-X
 * vectors, then device config). Modern/transitional: BAR 4 (64-bit memory)
 * holds common config, ISR, device config and notify regions. BAR 1 holds
 * the MSI-X table and PBA.
 */
#define VIRTIO_PCI_BAR_LEGACY 0
#define VIRTIO_PCI_BAR_MSIX 1
#define VIRTIO_PCI_BAR_MODERN 4
#define VIRTIO_PCI_MODERN_COMMON 0x0000
#define VIRTIO_PCI_MODERN_ISR 0x1000
#define VIRTIO_PCI_MODERN_DEVICE 0x2000
#define VIRTIO_PCI_MODERN_NOTIFY 0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_MODERN_BAR_SIZE 0x4000
#define VIRTIO_PCI_MSIX_BAR_SIZE 0x2000 /* table at 0, PBA at 0x1000 */

struct virtio_pci {
        struct pci_device pci;
        struct msix msix;
        struct virtio_device *dev;
        enum virtio_transport mode;
        struct virtio_env env;
        pthread_mutex_t lock; /* registers (vCPUs) against kicks and completions (I/O thread) */

        uint8_t status;
        uint8_t isr;
        uint8_t config_generation;
        uint32_t device_feature_select, driver_feature_select;
        uint64_t driver_features;
        uint16_t queue_select;
        uint16_t config_vector;
        bool legacy_used;     /* the driver spoke the legacy interface */
        uint32_t pci_cfg_cap; /* offset of the VIRTIO_PCI_CAP_PCI_CFG window, 0 if none */
        struct virtio_pci_queue *queue;

        int intx_fd, intx_resample_fd;
        struct event_source resample_src;
        bool intx_asserted;
};

/*
 * Builds the PCI function for dev in the given mode: IDs, BARs, virtio
 * capabilities, MSI-X with one vector per queue plus one for config, INTx,
 * and one kick eventfd per queue served on env->loop. The caller plugs
 * vp->pci into the bus. Returns 0 or -errno.
 */
int virtio_pci_init(struct virtio_pci *vp, struct virtio_device *dev, enum virtio_transport mode,
                    const struct virtio_env *env);
void virtio_pci_destroy(struct virtio_pci *vp);

/*
 * Plugs the function into bus (which assigns its slot and INTx pin) and
 * binds INTx to a level-triggered irqfd with resampling. 0 or -errno.
 */
int virtio_pci_plug(struct virtio_pci *vp, struct pci_bus *bus);

/* Parses "modern", "legacy" or "transitional"; -EINVAL otherwise. */
int virtio_transport_parse(const char *s, enum virtio_transport *mode);

#endif
