/* Test helper: the guest's side of virtio-pci (config cycles, BARs, Linux's register order). */
#include "vpci_harness.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_pci.h>

#include "boot/layout.h"
#include "fake_mem.h"

#define CF8_ENABLE 0x80000000u
#define MSI_ADDR 0xfee00000u
#define MSI_DATA 0x4000u

/* --- the fake KVM's missing ioctls ----------------------------------------- */

static int vph_ioctl(const struct kvm_sys *sys, int fd, unsigned long req, void *arg)
{
        struct vph_kvm *k = sys->ctx;

        if (req != KVM_IRQFD && req != KVM_IOEVENTFD && req != KVM_SET_GSI_ROUTING)
                return k->fk.sys.ioctl(&k->fk.sys, fd, req, arg);
        if (fd != k->vm_fd) {
                k->wrong_fd++;
                return -EBADF;
        }
        if (req == KVM_SET_GSI_ROUTING) {
                k->routing_commits++;
                return 0;
        }
        if (req == KVM_IRQFD) {
                const struct kvm_irqfd *f = arg;

                if (f->flags & KVM_IRQFD_FLAG_DEASSIGN) {
                        for (unsigned int i = 0; i < k->nirqfd; i++)
                                if (k->irqfd[i].on && k->irqfd[i].fd == (int)f->fd &&
                                    k->irqfd[i].gsi == f->gsi) {
                                        k->irqfd[i].on = false;
                                        return 0;
                                }
                        return -ENOENT;
                }
                if (k->nirqfd == VPH_MAX_IRQFD)
                        return -ENOSPC;
                k->irqfd[k->nirqfd++] = (struct vph_irqfd){
                    .fd = (int)f->fd,
                    .gsi = f->gsi,
                    .resample_fd = (f->flags & KVM_IRQFD_FLAG_RESAMPLE) ? (int)f->resamplefd : -1,
                    .on = true};
                return 0;
        }
        const struct kvm_ioeventfd *io = arg;
        bool pio = io->flags & KVM_IOEVENTFD_FLAG_PIO;

        if (io->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
                for (unsigned int i = 0; i < k->nioev; i++)
                        if (k->ioev[i].on && k->ioev[i].fd == io->fd &&
                            k->ioev[i].addr == io->addr && k->ioev[i].pio == pio) {
                                k->ioev[i].on = false;
                                return 0;
                        }
                return -ENOENT;
        }
        if (k->ioeventfd_refused)
                return -ENOTTY;
        if (k->nioev == VPH_MAX_IOEV)
                return -ENOSPC;
        k->ioev[k->nioev++] = (struct vph_ioev){.fd = io->fd,
                                                .addr = io->addr,
                                                .len = io->len,
                                                .pio = pio,
                                                .match = io->flags & KVM_IOEVENTFD_FLAG_DATAMATCH,
                                                .datamatch = io->datamatch,
                                                .on = true};
        return 0;
}

const struct vph_irqfd *vph_irqfd_for_gsi(const struct vph *h, uint32_t gsi)
{
        for (unsigned int i = 0; i < h->kvm.nirqfd; i++)
                if (h->kvm.irqfd[i].on && h->kvm.irqfd[i].gsi == gsi)
                        return &h->kvm.irqfd[i];
        return NULL;
}

const struct vph_ioev *vph_ioev_at(const struct vph *h, uint64_t addr, bool pio)
{
        for (unsigned int i = 0; i < h->kvm.nioev; i++)
                if (h->kvm.ioev[i].on && h->kvm.ioev[i].addr == addr && h->kvm.ioev[i].pio == pio)
                        return &h->kvm.ioev[i];
        return NULL;
}

uint64_t vph_efd_take(int fd)
{
        uint64_t n = 0;

        if (fd < 0 || read(fd, &n, sizeof(n)) != sizeof(n))
                return 0;
        return n;
}

/* --- the VM ------------------------------------------------------------------ */

int vph_init(struct vph *h, uint64_t ram_size)
{
        int r;

        memset(h, 0, sizeof(*h));
        fake_kvm_init(&h->kvm.fk);
        h->kvm.vm_fd = eventfd(0, EFD_CLOEXEC);
        if (h->kvm.vm_fd < 0)
                return -errno;
        h->kvm.fk.vm_fd = h->kvm.vm_fd;
        h->kvm.sys = h->kvm.fk.sys;
        h->kvm.sys.ioctl = vph_ioctl;
        h->kvm.sys.ctx = &h->kvm;
        irq_routing_init(&h->routing, &h->kvm.sys, h->kvm.vm_fd);
        r = event_loop_init(&h->loop);
        if (r < 0)
                return r;
        r = fake_mem_init(&h->mem, ram_size, 0);
        if (r < 0)
                return r;
        io_bus_init(&h->pio, "port");
        io_bus_init(&h->mmio, "mmio");
        r = pci_bus_init(&h->bus, &h->pio, &h->mmio, &h->mem);
        if (r < 0)
                return r;
        h->env = (struct virtio_env){.sys = &h->kvm.sys,
                                     .vm_fd = h->kvm.vm_fd,
                                     .routing = &h->routing,
                                     .loop = &h->loop,
                                     .mem = &h->mem};
        return 0;
}

void vph_fini(struct vph *h)
{
        pci_bus_destroy(&h->bus);
        io_bus_destroy(&h->pio);
        io_bus_destroy(&h->mmio);
        event_loop_close(&h->loop);
        irq_routing_destroy(&h->routing);
        fake_mem_free(&h->mem);
        if (h->kvm.vm_fd >= 0)
                close(h->kvm.vm_fd);
        h->kvm.vm_fd = -1;
}

int vph_poll(struct vph *h, int timeout_ms)
{
        struct epoll_event ev[16];
        int n;

        do
                n = epoll_wait(h->loop.epfd, ev, 16, timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                struct event_source *s = ev[i].data.ptr;

                s->fn(s->opaque, ev[i].events);
        }
        return n;
}

/* --- config cycles ----------------------------------------------------------- */

static uint64_t get_le(const uint8_t *d, uint32_t len)
{
        uint64_t v = 0;

        for (uint32_t i = 0; i < len && i < 8; i++)
                v |= (uint64_t)d[i] << (8 * i);
        return v;
}

static void put_le(uint8_t *d, uint32_t len, uint64_t v)
{
        for (uint32_t i = 0; i < len && i < 8; i++)
                d[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t bus_read(struct io_bus *b, uint64_t addr, uint32_t len)
{
        uint8_t d[8];

        memset(d, 0xa5, sizeof(d));
        io_bus_access(b, addr, d, len, false);
        return get_le(d, len);
}

static void bus_write(struct io_bus *b, uint64_t addr, uint32_t len, uint64_t v)
{
        uint8_t d[8];

        put_le(d, len, v);
        io_bus_access(b, addr, d, len, true);
}

uint32_t vph_cfg_read(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len)
{
        bus_write(&h->pio, WISP_PORT_PCI_CONFIG_ADDR, 4, CF8_ENABLE | slot << 11 | (reg & 0xfc));
        return (uint32_t)bus_read(&h->pio, WISP_PORT_PCI_CONFIG_DATA + (reg & 3), len);
}

void vph_cfg_write(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len, uint32_t v)
{
        bus_write(&h->pio, WISP_PORT_PCI_CONFIG_ADDR, 4, CF8_ENABLE | slot << 11 | (reg & 0xfc));
        bus_write(&h->pio, WISP_PORT_PCI_CONFIG_DATA + (reg & 3), len, v);
}

uint32_t vph_ecam_read(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len)
{
        return (uint32_t)bus_read(&h->mmio, WISP_PCI_ECAM_ADDR + ((uint64_t)slot << 15 | reg), len);
}

void vph_ecam_write(struct vph *h, unsigned int slot, uint32_t reg, uint32_t len, uint32_t v)
{
        bus_write(&h->mmio, WISP_PCI_ECAM_ADDR + ((uint64_t)slot << 15 | reg), len, v);
}

/* --- probing ------------------------------------------------------------------ */

/* __pci_read_base: save, write all-ones, read the mask back, restore. */
static uint32_t size_dword(struct vph *h, unsigned int slot, uint32_t reg, uint32_t *orig)
{
        uint32_t sz;

        *orig = vph_cfg_read(h, slot, reg, 4);
        vph_cfg_write(h, slot, reg, 4, 0xffffffffu);
        sz = vph_cfg_read(h, slot, reg, 4);
        vph_cfg_write(h, slot, reg, 4, *orig);
        return sz;
}

static void probe_bars(struct vph *h, struct vph_fn *f)
{
        for (int n = 0; n < PCI_NUM_BARS; n++) {
                uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * (uint32_t)n, lo, sz;

                sz = size_dword(h, f->slot, reg, &lo);
                if (sz == 0)
                        continue;
                if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
                        f->bar_io[n] = true;
                        f->bar[n] = lo & PCI_BASE_ADDRESS_IO_MASK;
                        f->bar_size[n] = (uint32_t)(~(sz & PCI_BASE_ADDRESS_IO_MASK) + 1) & 0xffff;
                        continue;
                }
                f->bar[n] = lo & PCI_BASE_ADDRESS_MEM_MASK;
                f->bar_size[n] = (uint32_t)(~(sz & PCI_BASE_ADDRESS_MEM_MASK) + 1);
                if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 &&
                    n + 1 < PCI_NUM_BARS) {
                        uint32_t hi, szhi = size_dword(h, f->slot, reg + 4, &hi);
                        uint64_t mask = (uint64_t)szhi << 32 | (sz & PCI_BASE_ADDRESS_MEM_MASK);

                        f->bar_64[n] = true;
                        f->bar[n] |= (uint64_t)hi << 32;
                        f->bar_size[n] = ~mask + 1;
                        n++;
                }
        }
}

static void probe_caps(struct vph *h, struct vph_fn *f)
{
        uint32_t pos = vph_cfg_read(h, f->slot, PCI_CAPABILITY_LIST, 1) & ~3u;

        /* pci_find_capability's ttl: 48 hops at most. */
        for (int ttl = 48; pos >= PCI_STD_HEADER_SIZEOF && ttl; ttl--) {
                uint8_t id = (uint8_t)vph_cfg_read(h, f->slot, pos, 1);

                if (id == PCI_CAP_ID_MSIX) {
                        uint32_t t = vph_cfg_read(h, f->slot, pos + PCI_MSIX_TABLE, 4);
                        uint32_t p = vph_cfg_read(h, f->slot, pos + PCI_MSIX_PBA, 4);

                        f->msix_cap = pos;
                        f->msix_nvec =
                            (uint16_t)((vph_cfg_read(h, f->slot, pos + PCI_MSIX_FLAGS, 2) &
                                        PCI_MSIX_FLAGS_QSIZE) +
                                       1);
                        f->msix_bar = t & PCI_MSIX_TABLE_BIR;
                        f->msix_off = t & PCI_MSIX_TABLE_OFFSET;
                        f->pba_bar = p & PCI_MSIX_PBA_BIR;
                        f->pba_off = p & PCI_MSIX_PBA_OFFSET;
                } else if (id == PCI_CAP_ID_VNDR) {
                        struct vph_cap c = {
                            .pos = pos,
                            .bar = (uint8_t)vph_cfg_read(h, f->slot, pos + VIRTIO_PCI_CAP_BAR, 1),
                            .offset = vph_cfg_read(h, f->slot, pos + VIRTIO_PCI_CAP_OFFSET, 4),
                            .length = vph_cfg_read(h, f->slot, pos + VIRTIO_PCI_CAP_LENGTH, 4)};
                        uint8_t type =
                            (uint8_t)vph_cfg_read(h, f->slot, pos + VIRTIO_PCI_CAP_CFG_TYPE, 1);

                        f->nvndr++;
                        /* The first of each type wins, as virtio_pci_find_capability does. */
                        if (type == VIRTIO_PCI_CAP_COMMON_CFG && !f->common.pos)
                                f->common = c;
                        else if (type == VIRTIO_PCI_CAP_ISR_CFG && !f->isr.pos)
                                f->isr = c;
                        else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !f->device_cfg.pos)
                                f->device_cfg = c;
                        else if (type == VIRTIO_PCI_CAP_PCI_CFG && !f->pci_cfg.pos)
                                f->pci_cfg = c;
                        else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !f->notify.pos) {
                                f->notify = c;
                                f->notify_mult =
                                    vph_cfg_read(h, f->slot, pos + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
                        }
                }
                pos = vph_cfg_read(h, f->slot, pos + PCI_CAP_LIST_NEXT, 1) & ~3u;
        }
}

int vph_probe(struct vph *h, unsigned int slot, struct vph_fn *f)
{
        uint16_t cmd;

        memset(f, 0, sizeof(*f));
        f->h = h;
        f->slot = slot;
        f->vendor = (uint16_t)vph_cfg_read(h, slot, PCI_VENDOR_ID, 2);
        if (f->vendor == 0xffff)
                return -ENODEV;
        f->device = (uint16_t)vph_cfg_read(h, slot, PCI_DEVICE_ID, 2);
        f->revision = (uint8_t)vph_cfg_read(h, slot, PCI_REVISION_ID, 1);
        f->subsys_vendor = (uint16_t)vph_cfg_read(h, slot, PCI_SUBSYSTEM_VENDOR_ID, 2);
        f->subsys = (uint16_t)vph_cfg_read(h, slot, PCI_SUBSYSTEM_ID, 2);
        cmd = (uint16_t)vph_cfg_read(h, slot, PCI_COMMAND, 2);
        vph_cfg_write(h, slot, PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        probe_bars(h, f);
        /* pci_enable_device + pci_set_master. */
        vph_cfg_write(h, slot, PCI_COMMAND, 2,
                      cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        probe_caps(h, f);
        return 0;
}

uint64_t vph_bar_read(struct vph_fn *f, int bar, uint64_t off, uint32_t len)
{
        return bus_read(f->bar_io[bar] ? &f->h->pio : &f->h->mmio, f->bar[bar] + off, len);
}

void vph_bar_write(struct vph_fn *f, int bar, uint64_t off, uint32_t len, uint64_t v)
{
        bus_write(f->bar_io[bar] ? &f->h->pio : &f->h->mmio, f->bar[bar] + off, len, v);
}

/* --- MSI-X ---------------------------------------------------------------------- */

void vph_msix_enable(struct vph_fn *f, unsigned int nvec)
{
        uint32_t ctrl = vph_cfg_read(f->h, f->slot, f->msix_cap + PCI_MSIX_FLAGS, 2);

        vph_cfg_write(f->h, f->slot, f->msix_cap + PCI_MSIX_FLAGS, 2,
                      ctrl | PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE);
        for (unsigned int v = 0; v < nvec; v++) {
                uint64_t e = f->msix_off + (uint64_t)v * PCI_MSIX_ENTRY_SIZE;

                vph_bar_write(f, f->msix_bar, e + PCI_MSIX_ENTRY_LOWER_ADDR, 4, MSI_ADDR);
                vph_bar_write(f, f->msix_bar, e + PCI_MSIX_ENTRY_UPPER_ADDR, 4, 0);
                vph_bar_write(f, f->msix_bar, e + PCI_MSIX_ENTRY_DATA, 4, MSI_DATA + v);
                vph_bar_write(f, f->msix_bar, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
        }
        vph_cfg_write(f->h, f->slot, f->msix_cap + PCI_MSIX_FLAGS, 2,
                      (ctrl & ~PCI_MSIX_FLAGS_MASKALL) | PCI_MSIX_FLAGS_ENABLE);
}

void vph_msix_disable(struct vph_fn *f)
{
        uint32_t ctrl = vph_cfg_read(f->h, f->slot, f->msix_cap + PCI_MSIX_FLAGS, 2);

        vph_cfg_write(f->h, f->slot, f->msix_cap + PCI_MSIX_FLAGS, 2,
                      ctrl & ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
}
