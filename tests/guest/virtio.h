/* The test guest's device-side API: PCI, MSI-X, paging, virtio-pci, split virtqueues, blk. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"
#include "virtio_defs.h"

/* --- palloc.c: physical memory after the image, from the memory map ---------------------- */

/* Identity-mapped, never freed; fails (ST_USAGE) when RAM runs out. Not zeroed. */
void *palloc(u64 size, u64 align);
void *pzalloc(u64 size, u64 align);
/* Highest RAM address + 1 in the memory map. */
u64 ram_top(void);
/* [start, end) handed out so far (for user-mode mappings). */
void palloc_range(u64 *start, u64 *end);

/* --- mmu.c: the 2 MiB identity map ----------------------------------------------------- */

/* Maps [addr, addr + size) uncached; only addresses >= 4 GiB need it (below is mapped). */
void mmu_map_mmio(u64 addr, u64 size);
/* Sets the U bit on every 2 MiB page of [addr, addr + size) and on the tables above. */
void mmu_set_user(u64 addr, u64 size);

/* --- ring3.c / user.S: running a function in ring 3 ------------------------------------ */

/* GDT with user segments, a TSS (RSP0), CR4.SMEP/SMAP off, the image and palloc U. */
void ring3_init(void);
/*
 * Runs fn(arg) in ring 3 with IOPL 3 and interrupts off, on a user stack,
 * and returns its result. fn comes back through a ud2 (see user.S).
 */
u64 user_call(u64 (*fn)(u64), u64 arg);
bool user_trap(struct trap_frame *f);

/* --- tsc.c ----------------------------------------------------------------------------- */

/* TSC frequency: kvmclock, else CPUID 0x15/0x16, else calibrated against the PIT. */
u64 tsc_khz(void);

/* --- pci.c: bus 0 through mechanism #1 and ECAM ----------------------------------------- */

#define PCI_MAX_FNS 64

struct pci_bar {
        u64 addr, size;
        bool io, is64;
};

struct pci_fn {
        u8 dev, fn;
        u16 vendor, device;
        u32 class_rev; /* class << 8 | revision */
        u8 header;
        struct pci_bar bar[PCI_STD_NUM_BARS];
};

/* pci.ecam=ADDR|none (default WISP_PCI_ECAM_ADDR); pci.access=ecam|cf8. */
void pci_setup(const char *cmdline);
bool pci_have_ecam(void);
u64 pci_ecam_base(void);
/* Raw accesses at any offset and size (1, 2, 4); cf8 takes offsets 0..0xff. */
u32 pci_cf8_read(u8 dev, u8 fn, u32 off, u32 size);
void pci_cf8_write(u8 dev, u8 fn, u32 off, u32 size, u32 v);
u32 pci_ecam_read(u8 dev, u8 fn, u32 off, u32 size);
void pci_ecam_write(u8 dev, u8 fn, u32 off, u32 size, u32 v);
/* Through the chosen mechanism (ECAM when present unless pci.access=cf8). */
u32 pci_read(const struct pci_fn *f, u32 off, u32 size);
void pci_write(const struct pci_fn *f, u32 off, u32 size, u32 v);
/* Enumerates bus 0 through both mechanisms, which must agree (else ST_PCI). */
u32 pci_scan(struct pci_fn *out, u32 max);
/* Sizes the BARs (decode off, all-ones, read back, restore). False: a bad BAR. */
bool pci_size_bars(struct pci_fn *f);
/* Offset of capability id after `from` (0: from the start), 0 if none; bounded walk. */
u8 pci_find_cap(const struct pci_fn *f, u8 id, u8 from);
/* Memory and I/O decode and bus mastering on. */
void pci_enable(const struct pci_fn *f);
/* The n-th virtio-blk function (vendor 0x1af4, device 0x1001 or 0x1042), or NULL. */
struct pci_fn *pci_find_blk(struct pci_fn *fns, u32 nfns, u32 n);

/* --- msix.c ---------------------------------------------------------------------------- */

struct msix {
        const struct pci_fn *f;
        u8 cap;
        u16 nvec;  /* table size */
        u64 table; /* MMIO address of the table */
        u64 pba;
        u64 table_bar_end, pba_bar_end; /* ends of the BARs holding them */
        u8 idt_base;                    /* IDT vector of entry 0 */
        u16 nused;
};

/* Counts per IDT vector, bumped by the MSI-X handler (which EOIs). */
extern volatile u32 irq_count[256];
/* Finds the capability and maps the table; false if there is none. */
bool msix_probe(struct msix *m, const struct pci_fn *f);
/* Entries 0..n-1 -> IDT vectors idt_base + i on this CPU, unmasked; MSI-X enabled. */
void msix_enable(struct msix *m, u8 idt_base, u16 n);
void msix_disable(struct msix *m);
void msix_mask(struct msix *m, u16 entry);
void msix_unmask(struct msix *m, u16 entry);
u64 msix_entry_addr(const struct msix *m, u16 entry);
bool msix_pending(const struct msix *m, u16 entry);

/* --- virtio.c, virtio_modern.c, virtio_legacy.c ---------------------------------------- */

#define VIRTIO_MAX_QUEUES 16

struct vdev;
struct vq;

struct virtio_ops {
        const char *name;
        bool (*probe)(struct vdev *d); /* finds the registers; false: not this interface */
        u8 (*get_status)(struct vdev *d);
        void (*set_status)(struct vdev *d, u8 s);
        u64 (*get_features)(struct vdev *d);
        void (*set_features)(struct vdev *d, u64 f);
        u64 (*get_driver_features)(struct vdev *d);
        u32 (*config_read)(struct vdev *d, u32 off, u32 size);
        u16 (*num_queues)(struct vdev *d);
        u16 (*queue_size)(struct vdev *d, u16 q);            /* 0: no such queue */
        bool (*queue_setup)(struct vdev *d, struct vq *q);   /* rings, vector */
        void (*queue_enable)(struct vdev *d, struct vq *q);  /* modern: queue_enable = 1 */
        u16 (*set_config_vector)(struct vdev *d, u16 entry); /* returns the readback */
        u8 (*isr)(struct vdev *d);
};

extern const struct virtio_ops virtio_modern_ops, virtio_legacy_ops;

struct vdev {
        struct pci_fn *pci;
        const struct virtio_ops *ops;
        bool legacy;
        /* modern: MMIO addresses of the regions found through the capabilities */
        u64 common, isr_addr, devcfg, notify;
        u32 notify_mult, devcfg_len, notify_len;
        u8 pcicfg_cap; /* VIRTIO_PCI_CAP_PCI_CFG, 0 if none */
        /* legacy: the I/O BAR */
        u16 io;
        struct msix msix;
        bool have_msix;
        u64 offered, features; /* device features, negotiated features */
        u16 nvqs;
};

/* virtio.transport=modern|legacy, virtio.event_idx=0|1, virtio.indirect=0|1, virtio.wait=irq|poll,
 * virtio.msix=0|1, virtio.qsize=N */
struct virtio_opts {
        bool legacy;
        bool event_idx, indirect;
        bool poll;
        bool no_msix; /* virtio.msix=0: MSI-X left off (legacy config at 20, ISR checked) */
        u16 qsize;    /* 0: the device's maximum */
};
void virtio_opts_parse(const char *cmdline, struct virtio_opts *o);

/* Modern common-config accessors (used by the hostile scenarios too). */
u32 vm_read(struct vdev *d, u32 off, u32 size);
void vm_write(struct vdev *d, u32 off, u32 size, u32 v);

/*
 * Modern: the VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.9) reads and writes what the
 * MMIO regions do (feature word, status, capacity, queue_select). False with a
 * message if not; true (and a note) when the device has no such capability.
 */
bool vm_cfg_window_check(struct vdev *d);

/* Reset and wait until the status reads 0 (bounded). False: it never did. */
bool virtio_reset(struct vdev *d);
/*
 * Reset, ACKNOWLEDGE, DRIVER, feature negotiation (want & offered, plus
 * VERSION_1 for modern), FEATURES_OK and its readback. Returns false (with
 * a message) if the device refused.
 */
bool virtio_negotiate(struct vdev *d, u64 want);
/* Finds the interface opts asks for, maps BARs, enables decode/master, MSI-X. */
bool virtio_attach(struct vdev *d, struct pci_fn *f, const struct virtio_opts *o, u8 idt_base);
/* Sets up queue q (rings allocated by vq_alloc) with MSI-X entry vec. */
bool virtio_queue(struct vdev *d, struct vq *q);
void virtio_driver_ok(struct vdev *d);

/* --- virtq.c: split virtqueues, driver side ----------------------------------------- */

#define VQ_IND_MAX 160 /* descriptors per indirect table: seg_max 128 + header + status */

struct vbuf {
        u64 addr;
        u32 len;
        bool write; /* device writes it */
};

struct vq {
        struct vdev *dev;
        u16 index, size;
        struct vring_desc *desc;
        struct vring_avail *avail;
        struct vring_used *used;
        u64 ring_base; /* desc, the legacy layout follows (4 KiB aligned) */
        u64 notify;    /* MMIO address (modern) or port (legacy) */
        u16 vector;    /* MSI-X entry, or VIRTIO_MSI_NO_VECTOR */
        u8 idt_vector; /* the IDT vector of that entry */
        bool event_idx, indirect;
        u16 free_head, num_free;
        u16 avail_idx, last_used, kicked_idx;
        u16 *chain_len; /* per head: descriptors it holds */
        u16 *snext;     /* private copy of each desc's next: the free list and the chains, so
                           edits of the shared table (hostile-*) never corrupt them, as in Linux */
        struct vring_desc *ind; /* 32 tables of VQ_IND_MAX entries */
        u32 ind_free;           /* free tables, a bit each */
        u8 *ind_slot;           /* per head: its table + 1, or 0 */
        u32 kicks, notifies_skipped;
};

/* used_event (after the avail ring) and avail_event (after the used ring), 2.6.7 / 2.6.10. */
static inline volatile u16 *vq_used_event(struct vq *q)
{
        return (volatile u16 *)((u8 *)q->avail + 4 + 2UL * q->size);
}

static inline volatile u16 *vq_avail_event(struct vq *q)
{
        return (volatile u16 *)((u8 *)q->used + 4 + 8UL * q->size);
}

/* Ring memory in the legacy layout for size entries (also used by modern). */
void vq_alloc(struct vq *q, struct vdev *d, u16 index, u16 size);
/* Empties the ring state (after a reset) without reallocating. */
void vq_reset(struct vq *q);
/* Adds a chain (readable buffers first); indirect when asked and negotiated. Head or -1. */
int vq_add(struct vq *q, const struct vbuf *b, u32 n, bool indirect);
/* vq_add without publishing: the hostile scenarios edit the chain first. */
int vq_prepare(struct vq *q, const struct vbuf *b, u32 n, bool indirect);
/* Places a head in the avail ring (vq_add does) and publishes the index. */
void vq_publish(struct vq *q, u16 head);
/* Notifies the device unless it suppressed notifications (or force). */
void vq_kick(struct vq *q, bool force);
/* Stores avail->idx for entries already in the ring (avail_idx advanced by the caller) and
 * says whether the device asked to be notified; the caller notifies (vq_notify_raw). */
bool vq_publish_avail(struct vq *q);
/* The raw notify write of value v (hostile scenarios). */
void vq_notify_raw(struct vq *q, u16 v);
bool vq_has_used(const struct vq *q);
/* Pops one used element and frees its descriptors. */
bool vq_get_used(struct vq *q, u32 *id, u32 *len);
/* Interrupts on (used_event / no NO_INTERRUPT flag) or off. */
void vq_interrupts(struct vq *q, bool on);

/* --- blk.c: virtio-blk client ------------------------------------------------------- */

#define BLK_MAX_QUEUES VIRTIO_MAX_QUEUES
#define BLK_NO_STATUS 0x100 /* returned with used length 0: rejected, no status */
#define BLK_TIMEOUT 0x200   /* no used entry in time */

struct blk {
        struct vdev v;
        struct virtio_opts opts;
        u64 capacity;
        u32 size_max, seg_max, blk_size;
        u16 num_queues; /* as the device reports */
        bool ro, flush, discard, wzeroes, mq;
        u32 max_discard, max_discard_seg, discard_align, max_wz, max_wz_seg;
        u8 wz_unmap;
        struct vq vq[BLK_MAX_QUEUES];
        u16 nvq;
        u8 *req_mem;   /* per queue, per head: header (16), status (1), discard segment (16) */
        u32 last_len;  /* used length of the last completed request */
        u32 irqs_seen; /* requests whose MSI-X message was seen */
        u32 isr_seen;  /* without MSI-X: requests whose ISR bit was seen (and cleared) */
        /* Hostile scenarios: called during set-up, before the queues and before DRIVER_OK. */
        void (*hook_pre_queues)(struct blk *b);
        void (*hook_pre_driver_ok)(struct blk *b);
        u8 idt_base;
};

/* Attaches, negotiates, reads the config, sets up min(num_queues, 16) queues, DRIVER_OK. */
bool blk_init(struct blk *b, struct pci_fn *f, const struct virtio_opts *o, u8 idt_base);
/* Re-initialises after a reset (hostile scenarios): negotiation, queues, DRIVER_OK. */
bool blk_reinit(struct blk *b);
/* The request's header and status bytes for (queue, head). */
struct virtio_blk_outhdr *blk_hdr(struct blk *b, u16 q, u16 head);
u8 *blk_status_byte(struct blk *b, u16 q, u16 head);
/*
 * Builds the chain: header, data (the caller's; read or written by the
 * device per vbuf.write), status. Publishes it, does not kick. Head or -1.
 */
int blk_submit(struct blk *b, u16 q, u32 type, u64 sector, const struct vbuf *data, u32 n,
               bool indirect);
/* As blk_submit, not published (vq_publish it). */
int blk_prepare(struct blk *b, u16 q, u32 type, u64 sector, const struct vbuf *data, u32 n,
                bool indirect);
/* For hand-made chains: the bound blk_wait checks the used length against. */
void blk_set_writable(struct blk *b, u16 q, u16 head, u32 bytes);
/* Waits (bounded) for head to come back: status, BLK_NO_STATUS or BLK_TIMEOUT. */
u32 blk_wait(struct blk *b, u16 q, int head, u32 timeout_ms);
/* submit + kick + wait; indirect as asked. */
u32 blk_do(struct blk *b, u16 q, u32 type, u64 sector, const struct vbuf *data, u32 n,
           bool indirect);
/* Single-buffer reads and writes. */
u32 blk_rw(struct blk *b, u16 q, bool write, u64 sector, void *buf, u32 len);
const char *blk_status_name(u32 st);

/* --- pattern.c: the deterministic disk pattern (README) --------------------------------- */

u64 pattern_word(u64 seed, u64 index);
/* Fills / checks buf as the pattern at disk byte offset off (multiples of 8), in ring 3 when
 * ring3_init ran. check returns the byte offset of the first mismatch or ~0. */
void pattern_fill(void *buf, u64 len, u64 seed, u64 off);
u64 pattern_check(const void *buf, u64 len, u64 seed, u64 off);
bool is_zero(const void *buf, u64 len);
/* xorshift64* for the fuzzers. */
u64 rand64(u64 *state);

/* --- blkdev.c: scenario helpers -------------------------------------------------------- */

/* Scans PCI, finds the n-th blk function and initialises it (ST_* on failure). */
void blk_setup_env(const struct boot_info *bi);
void blk_open(struct blk *b, u32 n, const struct virtio_opts *o);
extern struct pci_fn pci_fns[PCI_MAX_FNS];
extern u32 pci_nfns;

/* --- vfind.c: virtio functions by device type ------------------------------------------ */

/* The n-th virtio function of device type id (transitional or modern PCI id), or NULL. */
struct pci_fn *pci_find_virtio(struct pci_fn *fns, u32 nfns, u16 id, u32 n);
/* Runs fn(arg) in ring 3 when ring3_init ran, else in ring 0. */
u64 ring3_run(u64 (*fn)(u64), u64 arg);

/* --- console.c: virtio-console client (virtio 1.1, 5.3) ------------------------------------ */

#define CON_MAX_PORTS 16 /* ports set up (of max_nr_ports) */
#define CON_NAME_MAX 64
#define CON_IN_MAX 16384  /* received bytes held per port */
#define CON_LOG_MAX 128   /* control messages remembered */
#define CON_CTRL_BUF 4096 /* control RX buffers, as Linux posts them */
#define CON_PORT_BUF 512  /* port RX buffers: a long line spans several */

/* console.multiport=0|1 console.size=0|1 console.emerg=0|1, plus the virtio.* keys */
struct con_opts {
        struct virtio_opts v;
        bool multiport, size, emerg;
};
void con_opts_parse(const char *cmdline, struct con_opts *o);

struct con_port {
        bool have_queues;
        bool added, ready_sent, console, host_open, named;
        char name[CON_NAME_MAX];
        struct vq rx, tx;
        u8 *rxmem, *txmem; /* txmem: txcap bytes; con_write copies there unless given it */
        u32 txcap;
        u16 *slot_of;
        u8 *in; /* CON_IN_MAX */
        u32 in_len, rx_bytes, rx_bufs;
};

struct con_msg {
        u32 id;
        u16 event, value;
        u32 extra_len; /* bytes after the 8-byte header (in extra, truncated) */
        u8 extra[CON_NAME_MAX];
};

struct con {
        struct vdev v;
        struct con_opts o;
        bool multiport, size, emerg;
        u16 cols, rows; /* config, with F_SIZE */
        u32 max_ports;  /* config, with F_MULTIPORT; else 1 */
        u32 nports;     /* ports with queues set up */
        struct vq crx, ctx;
        u8 *crx_mem, *ctx_mem;
        u16 *crx_slot;
        struct con_port port[CON_MAX_PORTS];
        struct con_msg log[CON_LOG_MAX];
        u32 nlog, lost_log;
        u32 ctrl_short; /* control messages shorter than their header */
        u8 idt_base;
};

/* Attach, negotiate, config, queues (ports, control), RX buffers, DRIVER_OK. ST_* on failure. */
void con_open(struct con *c, const struct con_opts *o, u8 idt_base);
/* Emergency write of one byte (F_EMERG_WRITE): the config field emerg_wr. */
void con_emerg_write(struct con *c, u8 ch);
/* A control message to the device: header + extra in chain of nd descriptors; waits for it. */
bool con_ctrl_send(struct con *c, u32 id, u16 event, u16 value, const void *extra, u32 len);
/* Any readable chain on the control transmit queue (hostile); waits; false on timeout. */
bool con_ctrl_raw(struct con *c, const struct vbuf *b, u32 nb);
/* Takes what came: control messages (logged, PORT_ADD answered per the caller), port data. */
void con_poll(struct con *c);
/* Polls (halting between) until fn(c, arg) or ms passed; returns fn's last value. */
bool con_wait(struct con *c, bool (*fn)(struct con *c, u64 arg), u64 arg, u32 ms);
/* Writes len bytes on port id in one chain (4 KiB descriptors, 16 KiB past 16 KiB); waits. */
bool con_write(struct con *c, u32 id, const void *buf, u32 len);
/* A line (up to '\n', which is dropped) from port id into buf; false on timeout. */
bool con_read_line(struct con *c, u32 id, char *buf, u32 max, u32 ms, u32 *len);
const char *con_event_name(u16 event);

#endif
