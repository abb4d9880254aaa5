/* wisp.test=blkfault: a scripted virtio-blk (and net) client that reports every status, for host
 * faults. */
#include "net.h"
#include "x86.h"

#define SECTOR 512UL
#define BUF_BYTES (1UL << 20)
#define BUSY_CHUNK (64UL << 10) /* bytes per busy write */
#define BUSY_QD 16              /* busy writes in flight */
#define BUSY_MAX_CHUNKS 8192    /* 512 MiB of region at most */
#define BUSY_REPORT 2048        /* sectors (1 MiB) between progress lines */
#define UNTIL_MS 60000          /* bound of the wait for a disk to start failing */

static u8 *wbuf, *rbuf;
static u64 seed;
static u32 markers;

/* "S+N" after the op letter: first sector and sector count. */
static const char *parse_range(const char *p, u64 *s, u64 *n)
{
        char num[24];
        u32 i;

        for (int k = 0; k < 2; k++) {
                for (i = 0; p[i] >= '0' && p[i] <= '9' && i + 1 < sizeof(num); i++)
                        num[i] = p[i];
                num[i] = 0;
                if (!i || !parse_u64(num, k ? n : s))
                        guest_fail(ST_USAGE, "blkfault: bad range at '%s'", p);
                p += i;
                if (!k && *p++ != '+')
                        guest_fail(ST_USAGE, "blkfault: range needs S+N");
        }
        return p;
}

static void check_range(struct blk *b, u64 s, u64 n)
{
        if (!n || n * SECTOR > BUF_BYTES || s + n > b->capacity)
                guest_fail(ST_USAGE, "blkfault: range %lu+%lu: 1..2048 sectors within %lu", s, n,
                           b->capacity);
}

static u32 rw(struct blk *b, bool write, u64 s, u64 n)
{
        u32 st;

        if (write)
                pattern_fill(wbuf, n * SECTOR, seed, s * SECTOR);
        else
                memset(rbuf, 0x5a, n * SECTOR);
        st = blk_rw(b, 0, write, s, write ? wbuf : rbuf, (u32)(n * SECTOR));
        if (st == BLK_TIMEOUT)
                guest_fail(ST_VQ_TIMEOUT, "blkfault: %s %lu+%lu: no answer",
                           write ? "write" : "read", s, n);
        return st;
}

/* What a successful read returned: the pattern, zeros, or something else. */
static const char *content(u64 s, u64 n)
{
        if (pattern_check(rbuf, n * SECTOR, seed, s * SECTOR) == ~0UL)
                return " pattern";
        return is_zero(rbuf, n * SECTOR) ? " zeros" : " other";
}

/*
 * Reads S+N until the status is not OK (the host breaks the disk meanwhile), after a
 * marker line the host waits for. Bounded: the host may be slow, never absent.
 */
static void until_error(struct blk *b, u64 s, u64 n)
{
        u64 end = deadline_ms(UNTIL_MS), tries = 0;
        u32 st;

        kprintf("fault: reading %lu+%lu until it fails\n", s, n);
        do {
                if (deadline_passed(end))
                        guest_fail(ST_BLK_STATUS,
                                   "blkfault: %lu+%lu still reads OK after %lu tries", s, n, tries);
                st = rw(b, false, s, n);
                tries++;
                if (st == VIRTIO_BLK_S_OK)
                        delay_us(10000);
        } while (st == VIRTIO_BLK_S_OK);
        kprintf("fault: read %lu+%lu turned %s\n", s, n, blk_status_name(st));
}

/*
 * Keeps BUSY_QD writes of BUSY_CHUNK in flight over S+N forever, pass p writing the pattern
 * of seed + p. A pass ends only when all its writes are back. Prints
 * "fault: busy pass P through sector X" whenever every write of pass P below X is back OK
 * and X crossed a BUSY_REPORT boundary: the host checks the image against these lines.
 */
static void busy(struct blk *b, u64 s, u64 n)
{
        static bool done[BUSY_MAX_CHUNKS];
        const u64 per = BUSY_CHUNK / SECTOR, chunks = n / per;
        u16 slot_of_head[1024];
        u64 slot_chunk[BUSY_QD];
        u32 free_slots = BUSY_QD;
        u16 free_list[BUSY_QD];
        struct vq *q = &b->vq[0];

        if (n % per || !chunks || chunks > BUSY_MAX_CHUNKS || s + n > b->capacity)
                guest_fail(ST_USAGE, "blkfault: busy %lu+%lu: N a multiple of %lu, at most %u", s,
                           n, per, BUSY_MAX_CHUNKS);
        for (u16 i = 0; i < BUSY_QD; i++)
                free_list[i] = i;
        kprintf("fault: busy writing %lu+%lu, %u in flight\n", s, n, BUSY_QD);
        for (u64 pass = 0;; pass++) {
                u64 next = 0, frontier = 0, reported = 0;

                memset(done, 0, sizeof(done));
                while (frontier < chunks) {
                        bool kick = false;
                        u32 id, len;

                        while (free_slots && next < chunks) {
                                u16 slot = free_list[--free_slots];
                                u8 *buf = wbuf + slot * BUSY_CHUNK;
                                struct vbuf v = {(u64)buf, BUSY_CHUNK, false};
                                int head;

                                pattern_fill(buf, BUSY_CHUNK, seed + pass,
                                             (s + next * per) * SECTOR);
                                head = blk_submit(b, 0, VIRTIO_BLK_T_OUT, s + next * per, &v, 1,
                                                  false);
                                if (head < 0)
                                        guest_fail(ST_VIRTIO, "blkfault: busy: queue full");
                                slot_of_head[head] = slot;
                                slot_chunk[slot] = next++;
                                kick = true;
                        }
                        if (kick)
                                vq_kick(q, false);
                        if (!vq_get_used(q, &id, &len)) {
                                cli();
                                if (!vq_has_used(q))
                                        sti_hlt(); /* an interrupt or the watchdog tick */
                                sti();
                                continue;
                        }
                        if (id >= q->size || len != 1 ||
                            *blk_status_byte(b, 0, (u16)id) != VIRTIO_BLK_S_OK)
                                guest_fail(ST_BLK_STATUS,
                                           "blkfault: busy: head %u len %u status %u", id, len,
                                           id < q->size ? *blk_status_byte(b, 0, (u16)id) : 0);
                        done[slot_chunk[slot_of_head[id]]] = true;
                        free_list[free_slots++] = slot_of_head[id];
                        while (frontier < chunks && done[frontier])
                                frontier++;
                        if ((frontier * per) / BUSY_REPORT != reported) {
                                reported = (frontier * per) / BUSY_REPORT;
                                kprintf("fault: busy pass %lu through sector %lu\n", pass,
                                        s + frontier * per);
                        }
                }
        }
}

static void flush(struct blk *b)
{
        u32 st = blk_do(b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);

        if (st == BLK_TIMEOUT)
                guest_fail(ST_VQ_TIMEOUT, "blkfault: flush: no answer");
        kprintf("fault: flush: %s\n", blk_status_name(st));
}

static void print_lines(u64 n)
{
        for (u64 i = 0; i < n; i++)
                kprintf("fault: line %lu of %lu: the guest keeps printing whether or not anyone "
                        "reads\n",
                        i + 1, n);
}

/* Sends k broadcast frames (ethertype 0x88b5, no peer needed) and waits until all are back. */
static void net_send(struct net *net, u64 k)
{
        for (u64 i = 0; i < k; i++) {
                u8 *slot;
                u64 end = deadline_ms(10000);

                while (!(slot = net_tx_slot(net, 0)))
                        if (deadline_passed(end))
                                guest_fail(ST_NET, "blkfault: net: TX queue stuck after %lu", i);
                memset(slot, 0, net->hdr_len);
                memset(slot + net->hdr_len, 0xff, 6);
                memset(slot + net->hdr_len + 6, 0x52, 6);
                slot[net->hdr_len + 12] = 0x88;
                slot[net->hdr_len + 13] = 0xb5;
                memset(slot + net->hdr_len + 14, (int)i, 1500);
                net_tx_send(net, 0, 1514, 1, false);
        }
        if (!net_tx_drain(net, 0, 10000))
                guest_fail(ST_NET, "blkfault: net: frames not back 10 s after sending");
        kprintf("fault: net sent %lu frames, all back\n", k);
}

static struct blk disk;
static bool disk_open;

static struct blk *need_disk(const struct boot_info *bi, const struct virtio_opts *o)
{
        if (!disk_open) {
                blk_open(&disk, 0, o);
                disk_open = true;
        }
        (void)bi;
        return &disk;
}

void test_blkfault(const struct boot_info *bi)
{
        static char ops[1024];
        static struct net net;
        struct virtio_opts o;
        struct net_opts no;
        u64 s, n;

        virtio_opts_parse(bi->cmdline, &o);
        seed = 0x5eed;
        cmdline_u64(bi->cmdline, "fault.seed", &seed);
        if (!cmdline_value(bi->cmdline, "fault.ops", ops, sizeof(ops)))
                guest_fail(ST_USAGE, "blkfault: needs fault.ops=OP,OP,...");
        wbuf = palloc(BUF_BYTES, 4096);
        rbuf = palloc(BUF_BYTES, 4096);
        blk_setup_env(bi); /* the disk itself is opened by the first op that needs it */
        for (const char *p = ops; *p;) {
                char op = *p++;
                u32 st;

                switch (op) {
                case 'w':
                case 'r':
                        p = parse_range(p, &s, &n);
                        check_range(need_disk(bi, &o), s, n);
                        st = rw(&disk, op == 'w', s, n);
                        kprintf("fault: %s %lu+%lu: %s%s\n", op == 'w' ? "write" : "read", s, n,
                                blk_status_name(st),
                                op == 'r' && st == VIRTIO_BLK_S_OK ? content(s, n) : "");
                        break;
                case 'e':
                        p = parse_range(p, &s, &n);
                        check_range(need_disk(bi, &o), s, n);
                        until_error(&disk, s, n);
                        break;
                case 'b':
                        p = parse_range(p, &s, &n);
                        busy(need_disk(bi, &o), s, n);
                        break;
                case 'f':
                        flush(need_disk(bi, &o));
                        break;
                case 'n':
                        net_opts_parse(bi->cmdline, &no);
                        net_open(&net, &no, VEC_MSIX_BASE + VEC_MSIX_PER_DEV);
                        kprintf("fault: net up\n");
                        break;
                case 't':
                        p = parse_range(p, &s, &n); /* t0+K: K frames */
                        net_send(&net, n);
                        break;
                case 'i': /* waits (60 s at most) for a byte on COM1: the host's go-ahead */
                {
                        u64 end = deadline_ms(UNTIL_MS);

                        kprintf("fault: waiting for input\n");
                        while (!uart_rx_ready())
                                if (deadline_passed(end))
                                        guest_fail(ST_USAGE, "blkfault: no input within %u ms",
                                                   UNTIL_MS);
                        kprintf("fault: input 0x%x\n", uart_getc());
                        break;
                }
                case 'm':
                        kprintf("fault: marker %u\n", ++markers);
                        break;
                case 'p':
                        p = parse_range(p, &s, &n); /* p0+N: N lines */
                        print_lines(n);
                        break;
                case 'h':
                        for (;;)
                                sti_hlt();
                case 'x':
                        p = parse_range(p, &s, &n); /* x0+N: exit with status N */
                        kprintf("fault: exit %lu\n", n);
                        guest_exit((u8)n);
                default:
                        guest_fail(ST_USAGE, "blkfault: unknown op '%c'", op);
                }
                if (*p == ',')
                        p++;
        }
        guest_pass();
}
