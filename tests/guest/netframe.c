/* Frames for the tap peer: Ethernet/IPv4/UDP/TCP, checksums, CRC32, the wire protocol. */
#include "net.h"
#include "x86.h"

#define ETH_P_IP 0x0800
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define HELLO_TRIES 100 /* x 300 ms */
#define REPLY_MS 5000

static const u8 broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void put16(u8 *p, u16 v)
{
        p[0] = (u8)(v >> 8);
        p[1] = (u8)v;
}

static void put32(u8 *p, u32 v)
{
        put16(p, (u16)(v >> 16));
        put16(p + 2, (u16)v);
}

static u16 get16(const u8 *p)
{
        return (u16)(p[0] << 8 | p[1]);
}

static u32 get32(const u8 *p)
{
        return (u32)get16(p) << 16 | get16(p + 2);
}

/* --- bulk work in ring 3: fills, CRC32, checksums over the pieces of a frame --------------- */

static u32 crc_table[256];

struct job {
        const struct net_frame *f; /* pieces, or one flat buffer below */
        u8 *buf;
        u32 off, len, seed, first;
        u32 crc;
        u64 sum;
        bool ok;
};

static struct job job; /* in .bss: user pages */

static void crc_init(void)
{
        for (u32 i = 0; i < 256; i++) {
                u32 c = i;

                for (int k = 0; k < 8; k++)
                        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
                crc_table[i] = c;
        }
}

/* Calls fn(byte pointer, count, position) over [off, off + len) of the job's data. */
static void walk(struct job *j, void (*fn)(struct job *j, const u8 *p, u32 n, u32 pos))
{
        u32 off = j->off, left = j->len, pos = 0;

        if (!j->f) {
                fn(j, j->buf + off, left, 0);
                return;
        }
        for (u16 k = 0; k < j->f->nbufs && left; k++) {
                u32 c;

                if (off >= j->f->plen[k]) {
                        off -= j->f->plen[k];
                        continue;
                }
                c = j->f->plen[k] - off < left ? j->f->plen[k] - off : left;
                fn(j, j->f->piece[k] + off, c, pos);
                pos += c;
                left -= c;
                off = 0;
        }
        if (left)
                j->ok = false;
}

static void crc_part(struct job *j, const u8 *p, u32 n, u32 pos)
{
        u32 c = ~j->crc;

        (void)pos;
        if (!crc_table[1])
                crc_init();
        for (u32 i = 0; i < n; i++)
                c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
        j->crc = ~c;
}

static void sum_part(struct job *j, const u8 *p, u32 n, u32 pos)
{
        u64 s = j->sum;

        for (u32 i = 0; i < n; i++)
                s += (pos + i) & 1 ? p[i] : (u32)p[i] << 8;
        j->sum = s;
}

static void check_part(struct job *j, const u8 *p, u32 n, u32 pos)
{
        for (u32 i = 0; i < n; i++)
                if (p[i] != payload_byte(j->seed, j->first + pos + i)) {
                        j->ok = false;
                        return;
                }
}

static u64 do_crc(u64 arg)
{
        struct job *j = (struct job *)arg;

        j->ok = true;
        walk(j, crc_part);
        return 0;
}

static u64 do_sum(u64 arg)
{
        struct job *j = (struct job *)arg;

        j->ok = true;
        walk(j, sum_part);
        return 0;
}

static u64 do_check(u64 arg)
{
        struct job *j = (struct job *)arg;

        j->ok = true;
        walk(j, check_part);
        return 0;
}

/* Fills, then CRCs what it filled. */
static u64 do_fill(u64 arg)
{
        struct job *j = (struct job *)arg;

        for (u32 i = 0; i < j->len; i++)
                j->buf[i] = payload_byte(j->seed, j->first + i);
        j->off = 0;
        j->crc = 0;
        walk(j, crc_part);
        return 0;
}

void payload_fill(u8 *buf, u32 len, u32 seed, u32 first)
{
        job = (struct job){.buf = buf, .len = len, .seed = seed, .first = first};
        ring3_run(do_fill, (u64)&job);
}

/* CRC of a payload just filled (payload_fill computes it). */
static u32 fill_crc(u8 *buf, u32 len, u32 seed)
{
        payload_fill(buf, len, seed, 0);
        return job.crc;
}

u32 crc32_buf(u32 crc, const void *buf, u32 len)
{
        job = (struct job){.buf = (u8 *)buf, .len = len, .crc = crc};
        ring3_run(do_crc, (u64)&job);
        return job.crc;
}

u32 frame_crc(const struct net_frame *f, u32 off, u32 len)
{
        job = (struct job){.f = f, .off = off, .len = len};
        ring3_run(do_crc, (u64)&job);
        return job.ok ? job.crc : ~job.crc;
}

bool frame_payload_ok(const struct net_frame *f, u32 off, u32 len, u32 seed, u32 first)
{
        job = (struct job){.f = f, .off = off, .len = len, .seed = seed, .first = first};
        ring3_run(do_check, (u64)&job);
        return job.ok;
}

u64 frame_sum(const struct net_frame *f, u32 off, u32 len)
{
        job = (struct job){.f = f, .off = off, .len = len};
        ring3_run(do_sum, (u64)&job);
        return job.sum;
}

u64 csum_add_buf(u64 sum, const void *buf, u32 len)
{
        const u8 *p = buf;

        if (len > 256) {
                job = (struct job){.buf = (u8 *)buf, .len = len};
                ring3_run(do_sum, (u64)&job);
                return sum + job.sum;
        }
        for (u32 i = 0; i < len; i++)
                sum += i & 1 ? p[i] : (u32)p[i] << 8;
        return sum;
}

u16 csum_fold(u64 sum)
{
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (u16)sum;
}

/* --- building frames ------------------------------------------------------------------------ */

static u32 eth_ip(struct peer_link *l, u8 *buf, u8 proto, u32 ip_payload)
{
        bool known = l->peer_mac[0] | l->peer_mac[1] | l->peer_mac[2] | l->peer_mac[3] |
                     l->peer_mac[4] | l->peer_mac[5];
        u8 *ip = buf + ETH_HLEN;

        memcpy(buf, known ? l->peer_mac : broadcast, 6);
        memcpy(buf + 6, l->n->mac, 6);
        put16(buf + 12, ETH_P_IP);
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, (u16)(IP_HLEN + ip_payload));
        put16(ip + 4, l->ip_id++);
        put16(ip + 6, 0x4000); /* DF */
        ip[8] = 64;
        ip[9] = proto;
        put16(ip + 10, 0);
        put32(ip + 12, NET_GUEST_IP);
        put32(ip + 16, NET_PEER_IP);
        put16(ip + 10, (u16)~csum_fold(csum_add_buf(0, ip, IP_HLEN)));
        return ETH_HLEN + IP_HLEN;
}

u32 frame_wire(struct peer_link *l, u8 *buf, u16 sport, struct wire *w, u32 payload_len,
               bool nofill)
{
        u8 *udp = buf + ETH_HLEN + IP_HLEN;

        eth_ip(l, buf, IPPROTO_UDP, UDP_HLEN + sizeof(*w) + payload_len);
        put16(udp, sport);
        put16(udp + 2, NET_PEER_PORT);
        put16(udp + 4, (u16)(UDP_HLEN + sizeof(*w) + payload_len));
        put16(udp + 6, 0); /* no checksum (IPv4) */
        w->magic = WIRE_MAGIC;
        w->len = payload_len;
        if (!nofill)
                w->crc = fill_crc(buf + WIRE_PAYLOAD, payload_len, w->seq);
        memcpy(buf + WIRE_OFF, w, sizeof(*w));
        return WIRE_PAYLOAD + payload_len;
}

u32 frame_tcp(struct peer_link *l, u8 *buf, u32 seq, u32 payload_len, u32 seed, bool partial)
{
        u8 *tcp = buf + ETH_HLEN + IP_HLEN;
        u32 tcp_len = TCP_HLEN + payload_len;
        u64 pseudo;

        eth_ip(l, buf, IPPROTO_TCP, tcp_len);
        memset(tcp, 0, TCP_HLEN);
        put16(tcp, NET_GUEST_PORT + 100);
        put16(tcp + 2, NET_PEER_PORT);
        put32(tcp + 4, seq);
        tcp[12] = 5 << 4;
        tcp[13] = 0x18; /* ACK, PSH */
        put16(tcp + 14, 0xffff);
        payload_fill(tcp + TCP_HLEN, payload_len, seed, 0);
        pseudo = (NET_GUEST_IP >> 16) + (NET_GUEST_IP & 0xffff) + (NET_PEER_IP >> 16) +
                 (NET_PEER_IP & 0xffff) + IPPROTO_TCP + tcp_len;
        if (partial) {
                /* NEEDS_CSUM: the pseudo-header sum, the device adds the rest (5.1.6.2). */
                put16(tcp + 16, csum_fold(pseudo));
        } else {
                put16(tcp + 16, (u16)~csum_fold(csum_add_buf(pseudo, tcp, tcp_len)));
        }
        return TCP_PAYLOAD + payload_len;
}

bool frame_get_wire(const struct net_frame *f, struct wire *w, u16 *dport)
{
        u8 h[WIRE_PAYLOAD];
        const u8 *ip = h + ETH_HLEN, *udp = ip + IP_HLEN;

        if (net_frame_read(f, 0, h, sizeof(h)) != sizeof(h))
                return false;
        if (get16(h + 12) != ETH_P_IP || ip[0] != 0x45 || ip[9] != IPPROTO_UDP ||
            get32(ip + 16) != NET_GUEST_IP || get16(udp + 2) < NET_GUEST_PORT)
                return false;
        memcpy(w, h + WIRE_OFF, sizeof(*w));
        if (w->magic != WIRE_MAGIC)
                return false;
        if (dport)
                *dport = get16(udp + 2);
        /* The IP length says where the frame ends (a short frame may be padded). */
        if (get16(ip + 2) != IP_HLEN + UDP_HLEN + sizeof(*w) + w->len ||
            f->len < WIRE_PAYLOAD + w->len)
                guest_fail(ST_NET,
                           "net: a wire frame (op %u seq %u) of %u bytes: IP length %u, wire "
                           "length %u",
                           w->op, w->seq, f->len, get16(ip + 2), w->len);
        return true;
}

/* --- talking to the peer ------------------------------------------------------------------- */

void peer_send(struct peer_link *l, u16 p, u16 sport, u16 op, u32 seq, const u32 arg[4],
               u32 payload_len, u32 nd)
{
        struct net *n = l->n;
        struct wire w = {.op = op, .seq = seq};
        u8 *slot = net_tx_slot(n, p);
        u32 len;

        if (!slot) {
                if (!net_tx_drain(n, p, REPLY_MS))
                        guest_fail(ST_NET, "net: tx queue %u: chains not back in %u ms",
                                   n->tx[p].q.index, REPLY_MS);
                slot = net_tx_slot(n, p);
        }
        if (arg)
                memcpy(w.arg, arg, sizeof(w.arg));
        memset(slot, 0, n->hdr_len);
        len = frame_wire(l, slot + n->hdr_len, sport, &w, payload_len, false);
        net_tx_send(n, p, len, nd, false);
}

bool peer_wait(struct peer_link *l, u16 op, u32 seq, struct net_frame *f, struct wire *w, u32 ms)
{
        u64 end = deadline_ms(ms);
        static u32 others;

        while (!deadline_passed(end)) {
                if (!net_rx_wait(l->n, l->n->npairs, f, 10))
                        continue;
                if (frame_get_wire(f, w, NULL) && w->op == op && (seq == ~0u || w->seq == seq))
                        return true;
                if (others++ < 8)
                        kprintf("net: (waiting for op %u seq %d) a frame of %u bytes on pair %u "
                                "that is not it: %s op %u seq %u\n",
                                op, (int)seq, f->len, f->pair,
                                frame_get_wire(f, w, NULL) ? "wire" : "other", w->op, w->seq);
                net_rx_release(l->n, f);
        }
        return false;
}

void peer_hello(struct peer_link *l)
{
        static struct net_frame f;
        struct wire w;

        for (u32 i = 0; i < HELLO_TRIES; i++) {
                peer_send(l, 0, NET_GUEST_PORT, OP_HELLO, i, NULL, 0, 1);
                if (!peer_wait(l, OP_HELLO_ACK, i, &f, &w, 300))
                        continue;
                net_frame_read(&f, 6, l->peer_mac, 6);
                net_rx_release(l->n, &f);
                kprintf("net: peer answered HELLO %u from %02x:%02x:%02x:%02x:%02x:%02x\n", i,
                        l->peer_mac[0], l->peer_mac[1], l->peer_mac[2], l->peer_mac[3],
                        l->peer_mac[4], l->peer_mac[5]);
                return;
        }
        guest_fail(ST_NET, "net: no answer from the tap peer to %u HELLOs", HELLO_TRIES);
}

void peer_report(struct peer_link *l, u32 arg[4])
{
        static struct net_frame f;
        struct wire w;
        static u32 seq = 0x70000000;

        peer_send(l, 0, NET_GUEST_PORT, OP_REPORT, ++seq, NULL, 0, 1);
        if (!peer_wait(l, OP_REPORT_REPLY, seq, &f, &w, REPLY_MS))
                guest_fail(ST_NET, "net: no REPORT_REPLY from the peer");
        memcpy(arg, w.arg, sizeof(w.arg));
        net_rx_release(l->n, &f);
        kprintf("net: peer report: %u good frames, %u bad CRC, %u poison, %u other\n", arg[0],
                arg[1], arg[2], arg[3]);
}

void peer_quit(struct peer_link *l)
{
        static struct net_frame f;
        struct wire w;

        peer_send(l, 0, NET_GUEST_PORT, OP_QUIT, 0, NULL, 0, 1);
        if (!peer_wait(l, OP_BYE, ~0u, &f, &w, REPLY_MS))
                guest_fail(ST_NET, "net: no BYE from the peer");
        net_rx_release(l->n, &f);
}
