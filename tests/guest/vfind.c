/* Helpers the net and console clients share: virtio functions by type, ring-3 calls. */
#include "virtio.h"

bool ring3_ready(void);

struct pci_fn *pci_find_virtio(struct pci_fn *fns, u32 nfns, u16 id, u32 n)
{
        /* Transitional ids: 0x1000 + (net 0, blk 1, ..., console 3) per 4.1.2.1. */
        u16 transitional = id == VIRTIO_ID_NET       ? VIRTIO_PCI_TRANSITIONAL_NET
                           : id == VIRTIO_ID_CONSOLE ? VIRTIO_PCI_TRANSITIONAL_CONSOLE
                           : id == VIRTIO_ID_BLOCK   ? VIRTIO_PCI_TRANSITIONAL_BLK
                                                     : 0;

        for (u32 i = 0; i < nfns; i++) {
                if (fns[i].vendor != PCI_VENDOR_ID_REDHAT_QUMRANET)
                        continue;
                if (fns[i].device != transitional &&
                    fns[i].device != VIRTIO_PCI_MODERN_DEVICE_BASE + id)
                        continue;
                if (n-- == 0)
                        return &fns[i];
        }
        return NULL;
}

u64 ring3_run(u64 (*fn)(u64), u64 arg)
{
        return ring3_ready() ? user_call(fn, arg) : fn(arg);
}
