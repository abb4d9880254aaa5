/* wisp.test=blk: virtio-blk data path, every request type and error rule, on each disk and queue.
 */
#include "virtio.h"
#include "x86.h"

#define SECTOR 512UL
#define BUF_BYTES (1UL << 20)
#define PATTERN_CHUNK (256UL << 10)
#define BATCH 16
#define MIN_SECTORS 4096 /* 2 MiB: room for the fixed test locations */

/* Fixed locations (sectors) of the read-write suite; the middle and end are computed. */
#define S_MULTI 64
#define S_INDIRECT 512
#define S_DISCARD 1024
#define S_WZ 1536
#define S_QUEUES 2048
#define S_BATCH 3072

static u8 *wbuf, *rbuf;
static u64 seed;

/* Per-disk keys: KEY<k> wins over KEY. */
static bool disk_value(const struct boot_info *bi, const char *key, u32 k, char *buf, size_t len)
{
        char name[40];
        size_t n = strlen(key);

        if (n + 3 > sizeof(name))
                return false;
        memcpy(name, key, n);
        name[n] = (char)('0' + k);
        name[n + 1] = 0;
        return cmdline_value(bi->cmdline, name, buf, len) ||
               cmdline_value(bi->cmdline, key, buf, len);
}

static bool disk_u64(const struct boot_info *bi, const char *key, u32 k, u64 *v)
{
        char buf[24];

        if (!disk_value(bi, key, k, buf, sizeof(buf)))
                return false;
        if (!parse_u64(buf, v))
                guest_fail(ST_USAGE, "%s: not a number: %s", key, buf);
        return true;
}

static void expect_status(u32 got, u32 want, const char *what)
{
        if (got != want)
                guest_fail(got == BLK_TIMEOUT ? ST_VQ_TIMEOUT : ST_BLK_STATUS,
                           "blk: %s: status %s (%u), expected %s", what, blk_status_name(got), got,
                           blk_status_name(want));
}

static void verify(const u8 *buf, u64 len, u64 sector, const char *what)
{
        u64 bad = pattern_check(buf, len, seed, sector * SECTOR);

        if (bad != ~0UL)
                guest_fail(ST_BLK_DATA, "blk: %s: data differs at byte %lu of sector %lu + %lu",
                           what, bad, sector, bad / SECTOR);
}

static u16 qn; /* round robin over the queues */

static u16 next_q(struct blk *b)
{
        return qn++ % b->nvq;
}

static void write_pattern(struct blk *b, u64 sector, u32 len, const char *what)
{
        pattern_fill(wbuf, len, seed, sector * SECTOR);
        expect_status(blk_rw(b, next_q(b), true, sector, wbuf, len), VIRTIO_BLK_S_OK, what);
}

static void read_verify(struct blk *b, u64 sector, u32 len, const char *what)
{
        memset(rbuf, 0x5a, len);
        expect_status(blk_rw(b, next_q(b), false, sector, rbuf, len), VIRTIO_BLK_S_OK, what);
        verify(rbuf, len, sector, what);
}

/* seg_max segments of 512 bytes each way, checked through a differently split read. */
static void multi_segment(struct blk *b)
{
        struct vq *q0 = &b->vq[0];
        u32 n = b->seg_max;
        static struct vbuf v[1024];

        if (n > q0->size - 2u)
                n = q0->size - 2u;
        if (n > BUF_BYTES / SECTOR)
                n = BUF_BYTES / SECTOR;
        pattern_fill(wbuf, n * SECTOR, seed, S_MULTI * SECTOR);
        for (u32 i = 0; i < n; i++)
                v[i] = (struct vbuf){(u64)wbuf + i * SECTOR, SECTOR, false};
        expect_status(blk_do(b, 0, VIRTIO_BLK_T_OUT, S_MULTI, v, n, false), VIRTIO_BLK_S_OK,
                      "multi-segment write");
        read_verify(b, S_MULTI, n * SECTOR, "multi-segment write, one-segment read");
        memset(rbuf, 0x5a, n * SECTOR);
        for (u32 i = 0; i < n; i++)
                v[i] = (struct vbuf){(u64)rbuf + i * SECTOR, SECTOR, true};
        expect_status(blk_do(b, 0, VIRTIO_BLK_T_IN, S_MULTI, v, n, false), VIRTIO_BLK_S_OK,
                      "multi-segment read");
        verify(rbuf, n * SECTOR, S_MULTI, "multi-segment read");
        kprintf("blk: %u-segment write and read (seg_max %u)\n", n, b->seg_max);
}

static void indirect(struct blk *b)
{
        struct vbuf v[8];

        if (!b->vq[0].indirect) {
                kprintf("blk: indirect descriptors not negotiated\n");
                return;
        }
        pattern_fill(wbuf, 8 * 1024, seed, S_INDIRECT * SECTOR);
        for (u32 i = 0; i < 8; i++)
                v[i] = (struct vbuf){(u64)wbuf + i * 1024, 1024, false};
        expect_status(blk_do(b, 0, VIRTIO_BLK_T_OUT, S_INDIRECT, v, 8, true), VIRTIO_BLK_S_OK,
                      "indirect write");
        memset(rbuf, 0x5a, 8 * 1024);
        for (u32 i = 0; i < 4; i++)
                v[i] = (struct vbuf){(u64)rbuf + i * 2048, 2048, true};
        expect_status(blk_do(b, 0, VIRTIO_BLK_T_IN, S_INDIRECT, v, 4, true), VIRTIO_BLK_S_OK,
                      "indirect read");
        verify(rbuf, 8 * 1024, S_INDIRECT, "indirect write and read");
        read_verify(b, S_INDIRECT, 8 * 1024, "indirect write, direct read");
        kprintf("blk: indirect 8-segment write, 4-segment read\n");
}

static void get_id(struct blk *b, const struct boot_info *bi, u32 k)
{
        char want[VIRTIO_BLK_ID_BYTES + 1] = {0}, got[VIRTIO_BLK_ID_BYTES + 1] = {0};
        struct vbuf v = {(u64)rbuf, VIRTIO_BLK_ID_BYTES, true};

        memset(rbuf, 0, VIRTIO_BLK_ID_BYTES);
        expect_status(blk_do(b, next_q(b), VIRTIO_BLK_T_GET_ID, 0, &v, 1, false), VIRTIO_BLK_S_OK,
                      "GET_ID");
        memcpy(got, rbuf, VIRTIO_BLK_ID_BYTES);
        kprintf("blk: GET_ID \"%s\"\n", got);
        if (disk_value(bi, "expect.serial", k, want, sizeof(want)) &&
            memcmp(want, rbuf, VIRTIO_BLK_ID_BYTES))
                guest_fail(ST_BLK_CONFIG, "blk: serial \"%s\", expected \"%s\"", got, want);
}

static u32 range_op(struct blk *b, u32 type, u64 sector, u32 n, u32 flags)
{
        static struct virtio_blk_discard_write_zeroes seg;
        struct vbuf v = {(u64)&seg, sizeof(seg), false};

        seg = (struct virtio_blk_discard_write_zeroes){sector, n, flags};
        return blk_do(b, next_q(b), type, 0, &v, 1, false);
}

static void discard_and_zeroes(struct blk *b)
{
        u32 n = 16;

        if (b->discard) {
                u64 s = S_DISCARD;

                if (b->discard_align > 1)
                        s = (s + b->discard_align - 1) / b->discard_align * b->discard_align;
                if (b->max_discard && n > b->max_discard)
                        n = b->max_discard;
                write_pattern(b, s, n * SECTOR, "write before discard");
                expect_status(range_op(b, VIRTIO_BLK_T_DISCARD, s, n, 0), VIRTIO_BLK_S_OK,
                              "discard");
                kprintf("blk: discard of %u sectors at %lu\n", n, s);
        }
        if (b->wzeroes) {
                n = 16;
                if (b->max_wz && n > b->max_wz)
                        n = b->max_wz;
                for (u32 unmap = 0; unmap <= (b->wz_unmap ? 1u : 0u); unmap++) {
                        write_pattern(b, S_WZ, n * SECTOR, "write before write-zeroes");
                        expect_status(range_op(b, VIRTIO_BLK_T_WRITE_ZEROES, S_WZ, n,
                                               unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0),
                                      VIRTIO_BLK_S_OK, "write-zeroes");
                        memset(rbuf, 0x5a, n * SECTOR);
                        expect_status(blk_rw(b, next_q(b), false, S_WZ, rbuf, n * SECTOR),
                                      VIRTIO_BLK_S_OK, "read after write-zeroes");
                        if (!is_zero(rbuf, n * SECTOR))
                                guest_fail(ST_BLK_DATA, "blk: write-zeroes%s: data not zero",
                                           unmap ? " (unmap)" : "");
                }
                kprintf("blk: write-zeroes of %u sectors read back zero%s\n", n,
                        b->wz_unmap ? " (also with UNMAP)" : "");
        }
}

static void error_rules(struct blk *b)
{
        struct vbuf v = {(u64)rbuf, 100, true};

        expect_status(blk_rw(b, next_q(b), false, b->capacity, rbuf, SECTOR), VIRTIO_BLK_S_IOERR,
                      "read at the capacity");
        expect_status(blk_rw(b, next_q(b), false, b->capacity - 1, rbuf, 2 * SECTOR),
                      VIRTIO_BLK_S_IOERR, "read across the capacity");
        expect_status(blk_do(b, next_q(b), VIRTIO_BLK_T_IN, 0, &v, 1, false), VIRTIO_BLK_S_IOERR,
                      "read of 100 bytes");
        memset(wbuf, 0xa5, 2 * SECTOR);
        expect_status(blk_rw(b, next_q(b), true, 0, wbuf, SECTOR + 1), VIRTIO_BLK_S_IOERR,
                      "write of 513 bytes");
        read_verify(b, 0, 4096, "sector 0 after the refused 513-byte write");
        expect_status(blk_do(b, next_q(b), 0xff, 0, NULL, 0, false), VIRTIO_BLK_S_UNSUPP,
                      "request type 0xff");
        kprintf("blk: past-capacity, odd-length and unknown-type requests refused\n");
}

static void wait_delivery(struct msix *m, struct vq *q, u32 mark, const char *how);

/* A masked entry (then the masked function) holds its message in the PBA; unmasking
 * delivers it. */
static void msix_masking(struct blk *b)
{
        struct vq *q = &b->vq[0];
        struct msix *m = &b->v.msix;
        struct vbuf v = {(u64)rbuf, 4096, true};
        u32 mark = irq_count[q->idt_vector], st;
        u64 end;
        u16 ctrl;
        int head;

        if (!b->v.have_msix || b->opts.poll || q->vector == VIRTIO_MSI_NO_VECTOR)
                return;
        msix_mask(m, q->vector);
        head = blk_submit(b, 0, VIRTIO_BLK_T_IN, 0, &v, 1, false);
        vq_kick(q, false);
        st = blk_wait(b, 0, head, 10000);
        expect_status(st, VIRTIO_BLK_S_OK, "read with the vector masked");
        end = deadline_ms(20);
        while (!deadline_passed(end))
                ;
        if (irq_count[q->idt_vector] != mark)
                guest_fail(ST_MSIX, "msix: a masked vector (entry %u) delivered", q->vector);
        if (!msix_pending(m, q->vector))
                guest_fail(ST_MSIX, "msix: masked entry %u: no pending bit in the PBA", q->vector);
        msix_unmask(m, q->vector);
        wait_delivery(m, q, mark, "unmasking the entry");
        kprintf("blk: MSI-X entry %u masked: held in the PBA, delivered on unmask\n", q->vector);
        /* The same with the whole function masked (MASKALL). */
        mark = irq_count[q->idt_vector];
        ctrl = (u16)pci_read(b->v.pci, m->cap + PCI_MSIX_FLAGS, 2);
        pci_write(b->v.pci, m->cap + PCI_MSIX_FLAGS, 2, ctrl | PCI_MSIX_FLAGS_MASKALL);
        head = blk_submit(b, 0, VIRTIO_BLK_T_IN, 0, &v, 1, false);
        vq_kick(q, false);
        expect_status(blk_wait(b, 0, head, 10000), VIRTIO_BLK_S_OK,
                      "read with the function masked");
        end = deadline_ms(20);
        while (!deadline_passed(end))
                ;
        if (irq_count[q->idt_vector] != mark || !msix_pending(m, q->vector))
                guest_fail(ST_MSIX, "msix: function masked: %s",
                           irq_count[q->idt_vector] != mark ? "a message was delivered"
                                                            : "no pending bit in the PBA");
        pci_write(b->v.pci, m->cap + PCI_MSIX_FLAGS, 2, ctrl);
        wait_delivery(m, q, mark, "clearing the function mask");
        kprintf("blk: MSI-X function masked: held in the PBA, delivered on unmask\n");
}

static void wait_delivery(struct msix *m, struct vq *q, u32 mark, const char *how)
{
        u64 end = deadline_ms(1000);

        while (irq_count[q->idt_vector] == mark) {
                if (deadline_passed(end))
                        guest_fail(ST_MSIX,
                                   "msix: %s (entry %u) did not deliver the pending message", how,
                                   q->vector);
                sti_hlt();
        }
        if (msix_pending(m, q->vector))
                guest_fail(ST_MSIX, "msix: entry %u still pending after delivery", q->vector);
}

/* Every queue: a write and a read of its own sectors. */
static void each_queue(struct blk *b)
{
        for (u16 q = 0; q < b->nvq; q++) {
                u64 s = S_QUEUES + 8UL * q;

                pattern_fill(wbuf, 4096, seed, s * SECTOR);
                expect_status(blk_rw(b, q, true, s, wbuf, 4096), VIRTIO_BLK_S_OK, "queue write");
                memset(rbuf, 0x5a, 4096);
                expect_status(blk_rw(b, q, false, s, rbuf, 4096), VIRTIO_BLK_S_OK, "queue read");
                verify(rbuf, 4096, s, "per-queue write and read");
        }
        kprintf("blk: %u queue%s used (device has %u)\n", b->nvq, b->nvq > 1 ? "s" : "",
                b->num_queues);
}

/* BATCH requests in flight at once, one kick, completions in any order. */
static void batch(struct blk *b)
{
        struct vq *q = &b->vq[b->nvq - 1];
        u16 qi = (u16)(b->nvq - 1);
        int heads[BATCH];
        u32 done = 0;
        u64 end = deadline_ms(10000);

        pattern_fill(wbuf, BATCH * 4096UL, seed, S_BATCH * SECTOR);
        for (u32 i = 0; i < BATCH; i++) {
                struct vbuf v = {(u64)wbuf + i * 4096UL, 4096, false};

                heads[i] = blk_submit(b, qi, VIRTIO_BLK_T_OUT, S_BATCH + 8UL * i, &v, 1, i & 1);
                if (heads[i] < 0)
                        guest_fail(ST_VIRTIO, "blk: batch: queue full at %u", i);
        }
        vq_kick(q, false);
        while (done < BATCH) {
                u32 id, len;

                if (!vq_get_used(q, &id, &len)) {
                        if (deadline_passed(end))
                                guest_fail(ST_VQ_TIMEOUT, "blk: batch: %u of %u back", done, BATCH);
                        continue;
                }
                if (id >= q->size || len != 1 || *blk_status_byte(b, qi, (u16)id) != 0)
                        guest_fail(ST_BLK_STATUS, "blk: batch: head %u len %u status %u", id, len,
                                   id < q->size ? *blk_status_byte(b, qi, (u16)id) : 0);
                done++;
        }
        read_verify(b, S_BATCH, BATCH * 4096, "batch of writes");
        kprintf("blk: %u writes in flight at once on queue %u\n", BATCH, qi);
}

/* With RAM above 4 GiB: a buffer there (the device must translate the second region too). */
static void high_ram(struct blk *b)
{
        u64 top = ram_top(), a;

        if (top <= WISP_PCI_HOLE_END + (2UL << 20))
                return;
        a = (top - (1UL << 20)) & ~0xfffUL;
        mmu_map_mmio(a, 8192);
        mmu_set_user(a, 8192); /* the pattern is checked in ring 3 */
        pattern_fill(wbuf, 4096, seed, S_MULTI * SECTOR);
        memcpy((void *)a, wbuf, 4096);
        expect_status(blk_rw(b, next_q(b), true, S_MULTI, (void *)a, 4096), VIRTIO_BLK_S_OK,
                      "write from RAM above 4 GiB");
        memset((void *)a, 0x5a, 4096);
        expect_status(blk_rw(b, next_q(b), false, S_MULTI, (void *)a, 4096), VIRTIO_BLK_S_OK,
                      "read into RAM above 4 GiB");
        verify((const u8 *)a, 4096, S_MULTI, "buffer in RAM above 4 GiB");
        kprintf("blk: a buffer at 0x%lx (above 4 GiB) written and read\n", a);
}

static void rw_suite(struct blk *b)
{
        u64 loc[3] = {0, (b->capacity / 2) & ~7UL, b->capacity - 8};

        if (b->capacity < MIN_SECTORS)
                guest_fail(ST_USAGE, "blk: the disk needs at least %u sectors", MIN_SECTORS);
        for (u32 i = 0; i < 3; i++)
                write_pattern(b, loc[i], 4096, "write");
        multi_segment(b);
        indirect(b);
        for (u32 i = 0; i < 3; i++)
                read_verify(b, loc[i], 4096, "start/middle/end write and read");
        kprintf("blk: sectors %lu, %lu, %lu written and read back\n", loc[0], loc[1], loc[2]);
        if (b->flush) {
                expect_status(blk_do(b, next_q(b), VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
                              VIRTIO_BLK_S_OK, "flush");
                kprintf("blk: flush\n");
        }
        discard_and_zeroes(b);
        error_rules(b);
        each_queue(b);
        batch(b);
        msix_masking(b);
        high_ram(b);
}

static void ro_suite(struct blk *b)
{
        memset(rbuf, 0, 4096);
        expect_status(blk_rw(b, next_q(b), false, 0, rbuf, 4096), VIRTIO_BLK_S_OK, "read");
        memcpy(wbuf + BUF_BYTES / 2, rbuf, 4096);
        for (u32 i = 0; i < 4096; i++)
                wbuf[i] = (u8)~rbuf[i];
        expect_status(blk_rw(b, next_q(b), true, 0, wbuf, 4096), VIRTIO_BLK_S_IOERR,
                      "write to a read-only disk");
        memset(rbuf, 0x5a, 4096);
        expect_status(blk_rw(b, next_q(b), false, 0, rbuf, 4096), VIRTIO_BLK_S_OK, "read");
        if (memcmp(rbuf, wbuf + BUF_BYTES / 2, 4096))
                guest_fail(ST_BLK_DATA, "blk: a refused write changed a read-only disk");
        if (b->discard) {
                /* Discarded data is undefined anyway: OK is allowed if nothing changed. */
                u32 st = range_op(b, VIRTIO_BLK_T_DISCARD, 0, 8, 0);

                if (st != VIRTIO_BLK_S_IOERR && st != VIRTIO_BLK_S_OK)
                        expect_status(st, VIRTIO_BLK_S_IOERR, "discard on a read-only disk");
                kprintf("blk: read-only: discard got %s\n", blk_status_name(st));
        }
        if (b->wzeroes)
                expect_status(range_op(b, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), VIRTIO_BLK_S_IOERR,
                              "write-zeroes on a read-only disk");
        memset(rbuf, 0x5a, 4096);
        expect_status(blk_rw(b, next_q(b), false, 0, rbuf, 4096), VIRTIO_BLK_S_OK, "read");
        if (memcmp(rbuf, wbuf + BUF_BYTES / 2, 4096))
                guest_fail(ST_BLK_DATA, "blk: discard or write-zeroes changed a read-only disk");
        kprintf("blk: read-only: write refused with IOERR, data unchanged\n");
}

static void check_config(struct blk *b, const struct boot_info *bi, u32 k)
{
        u64 v;

        if (disk_u64(bi, "expect.capacity", k, &v) && v != b->capacity)
                guest_fail(ST_BLK_CONFIG, "blk: capacity %lu sectors, expected %lu", b->capacity,
                           v);
        if (disk_u64(bi, "expect.queues", k, &v) && v != b->num_queues)
                guest_fail(ST_BLK_CONFIG, "blk: %u queues, expected %lu", b->num_queues, v);
        if (disk_u64(bi, "expect.seg_max", k, &v) && v != b->seg_max)
                guest_fail(ST_BLK_CONFIG, "blk: seg_max %u, expected %lu", b->seg_max, v);
        if (disk_u64(bi, "expect.size_max", k, &v) && v != b->size_max)
                guest_fail(ST_BLK_CONFIG, "blk: size_max %u, expected %lu", b->size_max, v);
        if (disk_u64(bi, "expect.blk_size", k, &v) && v != b->blk_size)
                guest_fail(ST_BLK_CONFIG, "blk: blk_size %u, expected %lu", b->blk_size, v);
        v = 0;
        disk_u64(bi, "expect.ro", k, &v);
        if (!!v != b->ro)
                guest_fail(ST_BLK_CONFIG, "blk: VIRTIO_BLK_F_RO %s, expect.ro=%lu",
                           b->ro ? "offered" : "not offered", v);
}

/* pattern.seed=N pattern.mib=M [pattern.verify=1]: the host compares the image. */
static void pattern_mode(struct blk *b, u64 pseed, u64 mib, bool check)
{
        u64 bytes = mib << 20, chunk = PATTERN_CHUNK;

        if (b->size_max && b->size_max < chunk)
                chunk = b->size_max & ~(SECTOR - 1);
        if (!chunk || bytes > b->capacity * SECTOR)
                guest_fail(ST_USAGE, "pattern: %lu MiB does not fit the disk", mib);
        for (u64 off = 0; off < bytes; off += chunk) {
                u32 len = (u32)(bytes - off < chunk ? bytes - off : chunk);

                if (check) {
                        expect_status(blk_rw(b, next_q(b), false, off / SECTOR, rbuf, len),
                                      VIRTIO_BLK_S_OK, "pattern read");
                        if (pattern_check(rbuf, len, pseed, off) != ~0UL)
                                guest_fail(ST_BLK_DATA, "pattern: mismatch in bytes %lu..%lu", off,
                                           off + len);
                } else {
                        pattern_fill(wbuf, len, pseed, off);
                        expect_status(blk_rw(b, next_q(b), true, off / SECTOR, wbuf, len),
                                      VIRTIO_BLK_S_OK, "pattern write");
                }
        }
        if (!check && b->flush)
                expect_status(blk_do(b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false), VIRTIO_BLK_S_OK,
                              "flush");
        kprintf("pattern: %s %lu MiB, seed %lu, 00:%02x.%u\n", check ? "verified" : "wrote", mib,
                pseed, b->v.pci->dev, b->v.pci->fn);
}

void test_blk(const struct boot_info *bi)
{
        static struct blk disks[4];
        struct virtio_opts o;
        u64 ndisks = 1, pseed, mib = 0, check = 0;

        virtio_opts_parse(bi->cmdline, &o);
        if (cmdline_u64(bi->cmdline, "disks", &ndisks) && (ndisks < 1 || ndisks > 4))
                guest_fail(ST_USAGE, "disks=%lu: 1..4", ndisks);
        seed = 0x5eed;
        cmdline_u64(bi->cmdline, "blk.seed", &seed);
        blk_setup_env(bi);
        wbuf = palloc(BUF_BYTES, 4096);
        rbuf = palloc(BUF_BYTES, 4096);
        if (cmdline_u64(bi->cmdline, "pattern.seed", &pseed)) {
                if (!cmdline_u64(bi->cmdline, "pattern.mib", &mib) || !mib)
                        guest_fail(ST_USAGE, "pattern.seed needs pattern.mib=M (M > 0)");
                cmdline_u64(bi->cmdline, "pattern.verify", &check);
        }
        for (u32 k = 0; k < ndisks; k++) {
                struct blk *b = &disks[k];
                struct virtio_opts ok = o;
                char tr[16], key[24] = "virtio.transport0";

                key[16] = (char)('0' + k); /* virtio.transport<k>: this disk's interface */
                if (cmdline_value(bi->cmdline, key, tr, sizeof(tr)))
                        ok.legacy = !strncmp(tr, "legacy", sizeof(tr));
                blk_open(b, k, &ok);
                check_config(b, bi, k);
                if (!b->v.legacy && !vm_cfg_window_check(&b->v))
                        guest_fail(ST_VIRTIO, "virtio: the PCI_CFG window disagrees with MMIO");
                if (mib) {
                        pattern_mode(b, pseed, mib, check);
                        continue;
                }
                get_id(b, bi, k);
                if (b->ro)
                        ro_suite(b);
                else
                        rw_suite(b);
                kprintf("blk: disk %u (00:%02x.%u, %s, event_idx %u, indirect %u, %s): done, %u "
                        "interrupts and %u ISR reads checked\n",
                        k, b->v.pci->dev, b->v.pci->fn, b->v.ops->name, b->vq[0].event_idx,
                        b->vq[0].indirect,
                        !b->v.have_msix ? "no MSI-X"
                        : o.poll        ? "polled"
                                        : "MSI-X",
                        b->irqs_seen, b->isr_seen);
        }
        if (pci_find_blk(pci_fns, pci_nfns, (u32)ndisks))
                kprintf("blk: note: more virtio-blk functions than disks=%lu\n", ndisks);
        guest_pass();
}
