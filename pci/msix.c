/* MSI-X: capability registers, vector table and PBA, masking, and delivery through irqfds. */
#include "pci/msix.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"

uint32_t msix_table_size(unsigned int nvec)
{
        return nvec * MSIX_ENTRY_SIZE;
}

uint32_t msix_pba_size(unsigned int nvec)
{
        return (nvec + 63) / 64 * 8; /* whole qwords, as the spec lays the PBA out */
}

static uint32_t load32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* Table and PBA accept aligned dword and qword accesses inside size only (PCI 3.0, 6.8.2). */
static bool region_access_ok(uint64_t off, uint32_t len, uint32_t size)
{
        return (len == 4 || len == 8) && off % len == 0 && off < size && len <= size - off;
}

static bool pending(const struct msix *m, unsigned int v)
{
        return (m->pba[v / 64] >> (v % 64)) & 1;
}

static void set_pending(struct msix *m, unsigned int v, bool on)
{
        if (on)
                m->pba[v / 64] |= 1ULL << (v % 64);
        else
                m->pba[v / 64] &= ~(1ULL << (v % 64));
}

static bool masked(const struct msix *m, unsigned int v)
{
        return m->fn_masked || (m->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Caller holds m->lock. */
static void deliver(struct msix *m, unsigned int v)
{
        if (m->routing) {
                uint64_t one = 1;
                /* Fails only when the counter would overflow, i.e. the
                 * interrupt is pending in KVM already: nothing is lost. */
                ssize_t n = write(m->efd[v], &one, sizeof(one));

                (void)n;
        }
        m->fired[v]++;
}

/* Fires vector v if unmasking released a pending message. Caller holds m->lock. */
static void release(struct msix *m, unsigned int v)
{
        if (m->enabled && !masked(m, v) && pending(m, v)) {
                set_pending(m, v, false);
                deliver(m, v);
        }
}

static uint32_t table_read(const struct msix *m, uint32_t off)
{
        const struct msix_entry *e = &m->table[off / MSIX_ENTRY_SIZE];

        switch (off % MSIX_ENTRY_SIZE) {
        case PCI_MSIX_ENTRY_LOWER_ADDR:
                return e->addr_lo;
        case PCI_MSIX_ENTRY_UPPER_ADDR:
                return e->addr_hi;
        case PCI_MSIX_ENTRY_DATA:
                return e->data;
        default:
                return e->ctrl;
        }
}

static void table_write(struct msix *m, uint32_t off, uint32_t val)
{
        unsigned int v = off / MSIX_ENTRY_SIZE;
        struct msix_entry *e = &m->table[v], old = *e;

        switch (off % MSIX_ENTRY_SIZE) {
        case PCI_MSIX_ENTRY_LOWER_ADDR:
                e->addr_lo = val;
                break;
        case PCI_MSIX_ENTRY_UPPER_ADDR:
                e->addr_hi = val;
                break;
        case PCI_MSIX_ENTRY_DATA:
                e->data = val;
                break;
        default:
                e->ctrl = val & PCI_MSIX_ENTRY_CTRL_MASKBIT; /* the rest is reserved */
                release(m, v);
                return;
        }
        if (!m->routing ||
            (e->addr_lo == old.addr_lo && e->addr_hi == old.addr_hi && e->data == old.data))
                return;
        int r = irq_msi_route_set(m->routing, m->gsi[v], (uint64_t)e->addr_hi << 32 | e->addr_lo,
                                  e->data);

        if (r)
                wisp_warn("msix: cannot route vector %u (gsi %u): %s", v, m->gsi[v], strerror(-r));
}

void msix_table_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        struct msix *m = opaque;

        if (!region_access_ok(off, len, msix_table_size(m->nvec))) {
                if (!is_write)
                        memset(data, 0xff, len > 8 ? 8 : len);
                return;
        }
        pthread_mutex_lock(&m->lock);
        for (uint32_t i = 0; i < len; i += 4) {
                if (is_write)
                        table_write(m, (uint32_t)off + i, load32(data + i));
                else
                        store32(data + i, table_read(m, (uint32_t)off + i));
        }
        pthread_mutex_unlock(&m->lock);
}

void msix_pba_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        struct msix *m = opaque;

        if (is_write)
                return; /* read-only: pending bits clear only by delivery */
        if (!region_access_ok(off, len, msix_pba_size(m->nvec))) {
                memset(data, 0xff, len > 8 ? 8 : len);
                return;
        }
        pthread_mutex_lock(&m->lock);
        for (uint32_t i = 0; i < len; i++) {
                uint64_t b = off + i;

                data[i] = (uint8_t)(m->pba[b / 8] >> (8 * (b % 8)));
        }
        pthread_mutex_unlock(&m->lock);
}

void msix_cap_written(struct msix *m)
{
        pthread_mutex_lock(&m->lock);
        uint32_t ctrl = pci_cfg_get(m->cfg, m->cap + PCI_MSIX_FLAGS, 2);

        m->enabled = ctrl & PCI_MSIX_FLAGS_ENABLE;
        m->fn_masked = ctrl & PCI_MSIX_FLAGS_MASKALL;
        for (unsigned int v = 0; v < m->nvec; v++)
                release(m, v);
        pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
        bool on;

        pthread_mutex_lock(&m->lock);
        on = m->enabled;
        pthread_mutex_unlock(&m->lock);
        return on;
}

int msix_notify(struct msix *m, unsigned int vec)
{
        int r = 0;

        if (vec >= m->nvec)
                return -EINVAL;
        pthread_mutex_lock(&m->lock);
        if (!m->enabled)
                r = -ENOENT; /* the function signals by INTx while MSI-X is off */
        else if (masked(m, vec))
                set_pending(m, vec, true);
        else
                deliver(m, vec);
        pthread_mutex_unlock(&m->lock);
        return r;
}

static void routing_teardown(struct msix *m)
{
        for (unsigned int v = 0; v < m->nvec; v++) {
                if (m->efd[v] < 0)
                        continue;
                irqfd_deassign(m->sys, m->vm_fd, m->efd[v], m->gsi[v]);
                close(m->efd[v]);
                m->efd[v] = -1;
        }
}

/*
 * One GSI, eventfd and irqfd per vector. irq.h has no way to give a GSI
 * back, so on failure the GSIs already taken stay reserved (unused).
 */
static int routing_setup(struct msix *m)
{
        for (unsigned int v = 0; v < m->nvec; v++) {
                int gsi = irq_msi_gsi_alloc(m->routing), efd, r;

                if (gsi < 0) {
                        routing_teardown(m);
                        return gsi;
                }
                m->gsi[v] = (uint32_t)gsi;
                efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (efd < 0) {
                        r = -errno;
                        routing_teardown(m);
                        return r;
                }
                r = irqfd_assign(m->sys, m->vm_fd, efd, m->gsi[v], -1);
                if (r) {
                        close(efd);
                        routing_teardown(m);
                        return r;
                }
                m->efd[v] = efd;
        }
        return 0;
}

int msix_init(struct msix *m, struct pci_cfg *cfg, unsigned int nvec, int table_bar,
              uint32_t table_off, int pba_bar, uint32_t pba_off, struct irq_routing *routing,
              const struct kvm_sys *sys, int vm_fd)
{
        int cap, r;

        if (nvec == 0 || nvec > MSIX_MAX_VECTORS || table_bar < 0 || table_bar >= PCI_NUM_BARS ||
            pba_bar < 0 || pba_bar >= PCI_NUM_BARS || (table_off & PCI_MSIX_TABLE_BIR) ||
            (pba_off & PCI_MSIX_PBA_BIR))
                return -EINVAL;
        memset(m, 0, sizeof(*m));
        m->cfg = cfg;
        m->nvec = nvec;
        m->routing = routing;
        m->sys = sys;
        m->vm_fd = vm_fd;
        for (unsigned int v = 0; v < MSIX_MAX_VECTORS; v++)
                m->efd[v] = -1;
        for (unsigned int v = 0; v < nvec; v++)
                m->table[v].ctrl =
                    PCI_MSIX_ENTRY_CTRL_MASKBIT; /* masked at reset (PCI 3.0, 6.8.2.9) */
        if (routing) {
                r = routing_setup(m);
                if (r)
                        return r;
        }
        cap = pci_cfg_add_cap(cfg, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
        if (cap < 0) {
                routing_teardown(m);
                return cap;
        }
        m->cap = (uint32_t)cap;
        pci_cfg_put(cfg, m->cap + PCI_MSIX_FLAGS, 2, nvec - 1);
        pci_cfg_set_wmask(cfg, m->cap + PCI_MSIX_FLAGS, 2,
                          PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        pci_cfg_put(cfg, m->cap + PCI_MSIX_TABLE, 4, table_off | (uint32_t)table_bar);
        pci_cfg_put(cfg, m->cap + PCI_MSIX_PBA, 4, pba_off | (uint32_t)pba_bar);
        pthread_mutex_init(&m->lock, NULL);
        return 0;
}

void msix_destroy(struct msix *m)
{
        routing_teardown(m);
        pthread_mutex_destroy(&m->lock);
}
