#!/usr/bin/env python3
"""The tap peer of the test guest's virtio-net scenarios (net, hostile-net-*, netbench).

Run inside the test's network namespace. One AF_PACKET socket bound to the tap IFNAME, with
PACKET_VNET_HDR so every frame comes and goes with its virtio-net header (checksum and GSO
offload information): it sees and sends that interface's frames only. The guest drives it
with UDP "wire" messages (tests/guest/virtio.h, enum wire_op): 10.99.0.2:40000+ -> 10.99.0.1:7777,
a 36-byte header <magic op flags seq len crc arg0..3> and len payload bytes, byte i being
(i * 29 + (i >> 8) + seq) & 0xff, crc = zlib.crc32(payload).

usage: tappeer.py IFNAME [SECS]       (gives up after SECS, default 300)

Prints "tappeer: ready" once bound, a line per notable event, and at exit one line
"tappeer: summary good=N badcrc=N poison=N other=N tcp=N tcpbad=N bench=N flood=N rw=N rwbad=N".
Exit status 0 after a QUIT, 1 on timeout.

hostile-net-tx-rewrite (RW frames): each names the versions of itself the guest may have let
the device send (arg1: two frame lengths; arg2: two checksum-offload states, each bit 15
NEEDS_CSUM, bits 0-7 csum_start, bits 8-14 csum_offset; any field may come from either, as
the device's one copy of a header rewritten under it may mix fields, never bytes of one);
a frame that is no version (payload of no buffer, another length, GSO, another offload
state) or one seen twice counts in rwbad. RW_REPORT answers a variant's counts.
hostile-net-flood: FLOOD_ON starts a thread that sends frames of arg0 bytes over arg1 UDP
flows to the guest until FLOOD_OFF (answered with FLOOD_OFF_ACK, arg0 frames sent); the
main thread goes on reading meanwhile, slower than a guest's TX flood comes.
"""
import socket
import struct
import sys
import threading
import time
import zlib

SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33  # Linux; the socket module does not name it
ETH_P_ALL = 0x0003
MAGIC = 0x54454E57
GUEST_IP = bytes([10, 99, 0, 2])
PEER_IP = bytes([10, 99, 0, 1])
PEER_PORT = 7777
WIRE = struct.Struct("<IHHIII4I")
VNET = struct.Struct("<BBHHHH")  # flags gso_type hdr_len gso_size csum_start csum_offset
NEEDS_CSUM, GSO_TCPV4 = 1, 1
(HELLO, HELLO_ACK, ECHO, ECHO_REPLY, SEND, DATA, TCP, TCP_RESULT, REPORT, REPORT_REPLY, POISON,
 QUIT, BYE) = range(1, 14)
BENCH_END, BENCH_COUNT, FLOOD, FLOOD_END = 21, 22, 23, 25
RW, RW_REPORT, RW_REPORT_REPLY, FLOOD_ON, FLOOD_OFF, FLOOD_OFF_ACK = 26, 27, 28, 29, 30, 31
PEER_MAC = bytes([0x02, 0x77, 0x69, 0x73, 0x70, 0x01])
BASE = bytes(((i * 29 + (i >> 8)) & 0xFF) for i in range(1 << 17))
NO_VNET = bytes(VNET.size)
BENCH_ETHERTYPE = b"\x88\xb5"
BENCH_MAGIC = b"WBEN"


def pattern(seed, n, first=0):
    table = bytes(((x + seed) & 0xFF) for x in range(256))
    return BASE[first:first + n].translate(table)


def csum_sum(b):
    if len(b) % 2:
        b += b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo(src, dst, proto, length):
    return csum_sum(src + dst) + proto + length


class Peer:
    def __init__(self, ifname):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        try:  # past net.core.rmem_max (root): a burst of the guest's must not overflow it
            self.s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        self.s.bind((ifname, ETH_P_ALL))
        self.guest_mac = b"\xff" * 6
        self.ip_id = 0
        self.c = dict(good=0, badcrc=0, poison=0, other=0, tcp=0, tcpbad=0, bench=0, flood=0,
                      rw=0, rwbad=0)
        self.rw_seen = set()
        self.rw_var = {}  # variant -> [frames, later versions, bad]
        self.flooder = None
        self.flooding = False
        self.bench_bytes = 0
        self.bench_t0 = self.bench_t1 = 0.0

    def note(self, msg):
        print("tappeer: " + msg, flush=True)

    def ip_udp(self, dport, payload, sport=PEER_PORT):
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), self.ip_id, 0x4000, 64, 17, 0,
                         PEER_IP, GUEST_IP)
        ip = ip[:10] + struct.pack("!H", 0xFFFF ^ fold(csum_sum(ip))) + ip[12:]
        return self.guest_mac + PEER_MAC + b"\x08\x00" + ip + udp

    def wire(self, dport, op, seq, args=(0, 0, 0, 0), payload=b"", flags=0):
        w = WIRE.pack(MAGIC, op, flags, seq, len(payload), zlib.crc32(payload), *args)
        return self.ip_udp(dport, w + payload)

    def send(self, frame, vnet=NO_VNET):
        self.s.send(vnet + frame)

    # --- TCP frames: the guest's offload tests --------------------------------------------
    def tcp_frame(self, dport, seq, seed, n, gso_size, partial):
        data = pattern(seed, n)
        tcp_len = 20 + n
        tcp = struct.pack("!HHIIBBHHH", PEER_PORT, dport, seq, 0, 5 << 4, 0x18, 0xFFFF, 0, 0)
        ps = pseudo(PEER_IP, GUEST_IP, 6, tcp_len)
        if gso_size or partial:
            check = fold(ps)
        else:
            check = 0xFFFF ^ fold(ps + csum_sum(tcp + data))
        tcp = tcp[:16] + struct.pack("!H", check) + tcp[18:]
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, self.ip_id, 0x4000, 64, 6, 0,
                         PEER_IP, GUEST_IP)
        ip = ip[:10] + struct.pack("!H", 0xFFFF ^ fold(csum_sum(ip))) + ip[12:]
        frame = self.guest_mac + PEER_MAC + b"\x08\x00" + ip + tcp + data
        if gso_size:
            vnet = VNET.pack(NEEDS_CSUM, GSO_TCPV4, 54, gso_size, 34, 16)
        elif partial:
            vnet = VNET.pack(NEEDS_CSUM, 0, 0, 0, 34, 16)
        else:
            vnet = NO_VNET
        return vnet, frame

    def guest_tcp(self, vh, frame):
        """A TCP frame of the guest's: checksum offload or GSO. Answers TCP_RESULT."""
        flags, gso_type, hdr_len, gso_size, cstart, coff = vh
        ip = frame[14:34]
        tot = struct.unpack("!H", ip[2:4])[0]
        tcp = bytearray(frame[34:14 + tot])
        sport, seq = struct.unpack("!H", tcp[0:2])[0], struct.unpack("!I", tcp[4:8])[0]
        payload = bytes(tcp[20:])
        res = 0
        if fold(csum_sum(ip)) == 0xFFFF:
            res |= 2
        if payload == pattern(seq & 0xFF, len(payload)):
            res |= 4
        ps = pseudo(GUEST_IP, PEER_IP, 6, len(tcp))
        field = struct.unpack("!H", tcp[16:18])[0]
        segs = 1
        if flags & NEEDS_CSUM:
            res |= 8
            ok = cstart == 34 and coff == 16 and field == fold(ps)
            if gso_type & 0x7F:
                res |= 16
                ok = ok and (gso_type & 0x7F) == GSO_TCPV4 and gso_size > 0
                segs = (len(payload) + gso_size - 1) // max(gso_size, 1)
                # What the stack does per segment: the pseudo-header with the segment's
                # length plus the segment; each must verify.
                for k in range(segs):
                    part = payload[k * gso_size:(k + 1) * gso_size]
                    hdr = bytearray(tcp[:20])
                    struct.pack_into("!I", hdr, 4, (seq + k * gso_size) & 0xFFFFFFFF)
                    struct.pack_into("!H", hdr, 16, 0)
                    c = 0xFFFF ^ fold(pseudo(GUEST_IP, PEER_IP, 6, 20 + len(part)) +
                                      csum_sum(bytes(hdr) + part))
                    struct.pack_into("!H", hdr, 16, c)
                    if fold(pseudo(GUEST_IP, PEER_IP, 6, 20 + len(part)) +
                            csum_sum(bytes(hdr) + part)) != 0xFFFF:
                        ok = False
            else:
                # Complete it as the device side would: sum from csum_start to the end.
                c = 0xFFFF ^ fold(csum_sum(bytes(frame[cstart:14 + tot])))
                struct.pack_into("!H", tcp, 16, c)
                ok = ok and fold(ps + csum_sum(bytes(tcp))) == 0xFFFF
        else:
            ok = fold(ps + csum_sum(bytes(tcp))) == 0xFFFF
        if ok:
            res |= 1
        self.c["tcp"] += 1
        if res & 7 != 7:
            self.c["tcpbad"] += 1
        self.note("tcp seq %u: %u payload bytes, vnet flags %u gso %u/%u csum %u+%u -> "
                  "result 0x%x, %u segment(s)" % (seq, len(payload), flags, gso_type, gso_size,
                                                  cstart, coff, res, segs))
        self.send(self.wire(sport, TCP_RESULT, seq, (len(payload), segs, res, gso_size)))

    # --- the wire protocol -------------------------------------------------------------------
    def flood(self, dport, size, ms, limit):
        """size-byte frames (ethertype 0x88b5, magic, sequence) as fast as send() goes."""
        frame = bytearray(NO_VNET + self.guest_mac + PEER_MAC + BENCH_ETHERTYPE + BENCH_MAGIC +
                          bytes(size - 18))
        off = len(NO_VNET) + 18
        sent, t0 = 0, time.monotonic()
        end = t0 + ms / 1000.0
        send, pack = self.s.send, struct.pack_into
        while (not limit or sent < limit) and (sent & 63 or time.monotonic() < end):
            pack("<I", frame, off, sent)
            try:
                send(frame)
            except OSError:
                continue  # ENOBUFS / EAGAIN: the tap queue is full
            sent += 1
        usecs = int((time.monotonic() - t0) * 1e6)
        self.c["flood"] += sent
        self.note("flood: %u frames of %u bytes in %u us" % (sent, size, usecs))
        print("tappeer: flood frames=%u size=%u usecs=%u" % (sent, size, usecs), flush=True)
        time.sleep(0.05)
        for i in range(5):
            self.send(self.wire(dport, FLOOD_END, i, (sent, usecs, 0, 0)))

    def rw_frame(self, vh, frame, seq, flags, args, good):
        """A hostile-net-tx-rewrite frame: must be one version of what the guest submitted."""
        var, lens, states = args[0], args[1], args[2]
        vflags, gso_type, _, gso_size, cstart, coff = vh
        lo, hi = lens & 0xFFFF, lens >> 16
        s = [states & 0xFFFF, states >> 16]
        csum = [x for x in s if x & 0x8000]
        why = []
        if not good:
            why.append("its payload is no buffer's")
        if len(frame) not in (lo, hi):
            why.append("%u bytes, the versions have %u or %u" % (len(frame), lo, hi))
        if gso_type or gso_size:
            why.append("GSO type %u size %u" % (gso_type, gso_size))
        if vflags & NEEDS_CSUM:
            if (not csum or cstart not in [x & 0xFF for x in csum] or
                    coff not in [(x >> 8) & 0x7F for x in csum]):
                why.append("NEEDS_CSUM %u+%u, no version has it" % (cstart, coff))
        elif len(csum) == 2:
            why.append("no NEEDS_CSUM, every version has it")
        if seq >> 1 in self.rw_seen:
            why.append("a second time")
        self.rw_seen.add(seq >> 1)
        later = flags & 1 or (len(frame) == hi != lo) or (
            vflags & NEEDS_CSUM and len(csum) == 2 and (cstart, coff) != (s[0] & 0xFF,
                                                                          (s[0] >> 8) & 0x7F))
        v = self.rw_var.setdefault(var, [0, 0, 0])
        v[0] += 1
        v[1] += 1 if later else 0
        self.c["rw"] += 1
        if why:
            v[2] += 1
            self.c["rwbad"] += 1
            self.note("rewrite variant %u round %u: a frame that is no version: %s (vnet %s)"
                      % (var, seq >> 1, "; ".join(why), vh))

    def flood_on(self, size, flows):
        """Frames of size bytes over flows UDP flows to the guest, from a thread, until OFF."""
        pad = bytes(max(size - 42, 0))
        frames = [NO_VNET + self.ip_udp(9, pad, 50000 + i) for i in range(max(flows, 1))]
        self.flooding = True

        def run():
            sent = 0
            while self.flooding:
                for _ in range(32):
                    try:
                        self.s.send(frames[sent % len(frames)])
                    except OSError:
                        pass  # the tap queue is full: the guest holds its buffers
                    sent += 1
                time.sleep(0.0005)  # leaves the 2 host CPUs some room for wisp and the guest
            self.c["flood"] += sent

        self.flooder = threading.Thread(target=run, daemon=True)
        self.flooder.start()
        self.note("flood on: %u-byte frames over %u flows" % (size, flows))

    def flood_off(self):
        if self.flooder:
            self.flooding = False
            self.flooder.join()
            self.flooder = None
            self.note("flood off: %u frames sent" % self.c["flood"])

    def bench_frame(self, frame):
        if not self.c["bench"]:
            self.bench_t0 = time.monotonic()
        self.bench_t1 = time.monotonic()
        self.c["bench"] += 1
        self.bench_bytes += len(frame)

    def wire_msg(self, vh, frame, sport):
        w = WIRE.unpack_from(frame, 42)
        _, op, flags, seq, n, crc = w[:6]
        args = w[6:]
        payload = bytes(frame[42 + WIRE.size:42 + WIRE.size + n])
        good = len(payload) == n and zlib.crc32(payload) == crc and payload == pattern(seq, n)
        if op == POISON:
            self.c["poison"] += 1
            self.note("POISON frame seen: seq %u, %u bytes (the device should have dropped it)"
                      % (seq, len(frame)))
            return True
        self.c["good" if good else "badcrc"] += 1
        if not good:
            self.note("op %u seq %u: payload of %u bytes (%u announced) fails its CRC/pattern"
                      % (op, seq, len(payload), n))
        if op == HELLO:
            self.note("HELLO %u from %s" % (seq, frame[6:12].hex(":")))
            self.send(self.wire(sport, HELLO_ACK, seq))
        elif op == ECHO:
            self.send(self.wire(sport, ECHO_REPLY, seq, args, payload, 1 if good else 0))
        elif op == SEND:
            count, size, step, spread = args
            for i in range(count):
                sz = size + i * step
                self.send(self.wire(sport + (i if spread & 1 else 0), DATA, i, (count, 0, 0, 0),
                                    pattern(i, sz)))
        elif op == TCP:
            n, gso_size, seed, fl = args
            vnet, f = self.tcp_frame(sport, seq, seed, n, gso_size, fl & 1)
            self.send(f, vnet)
        elif op == REPORT:
            c = self.c
            self.send(self.wire(sport, REPORT_REPLY, seq,
                                (c["good"], c["badcrc"], c["poison"], c["other"])))
        elif op == BENCH_END:
            usecs = int((self.bench_t1 - self.bench_t0) * 1e6)
            self.note("bench: %u frames, %u bytes in %u us" % (self.c["bench"], self.bench_bytes,
                                                                usecs))
            print("tappeer: bench frames=%u bytes=%u usecs=%u" % (self.c["bench"],
                                                                  self.bench_bytes, usecs),
                  flush=True)
            self.send(self.wire(sport, BENCH_COUNT, seq,
                                (self.c["bench"], self.bench_bytes >> 10, usecs, 0)))
        elif op == FLOOD:
            self.flood(sport, args[0], args[1], args[2])
        elif op == RW:
            self.rw_frame(vh, frame, seq, flags, args, good)
        elif op == RW_REPORT:
            v = self.rw_var.get(args[0], [0, 0, 0])
            self.note("rewrite variant %u: %u frames, %u of a later version, %u no version"
                      % (args[0], v[0], v[1], v[2]))
            self.send(self.wire(sport, RW_REPORT_REPLY, seq, (v[0], v[1], v[2], 0)))
        elif op == FLOOD_ON:
            if not self.flooder:
                self.flood_on(args[0], args[1])
        elif op == FLOOD_OFF:
            self.flood_off()
            self.send(self.wire(sport, FLOOD_OFF_ACK, seq, (self.c["flood"], 0, 0, 0)))
        elif op == QUIT:
            self.flood_off()
            for i in range(3):
                self.send(self.wire(sport, BYE, i))
            return False
        return True

    def run(self, secs):
        end = time.monotonic() + secs
        self.s.settimeout(0.5)
        print("tappeer: ready", flush=True)
        while time.monotonic() < end:
            try:
                data, addr = self.s.recvfrom(1 << 17)
            except socket.timeout:
                continue
            if addr[2] == PACKET_OUTGOING:
                continue
            if data[22:24] == BENCH_ETHERTYPE and data[24:28] == BENCH_MAGIC:
                self.bench_frame(data[VNET.size:])
                continue
            vh, frame = VNET.unpack_from(data), data[VNET.size:]
            if (len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[26:30] == GUEST_IP
                    and frame[30:34] == PEER_IP):
                self.guest_mac = frame[6:12]
                proto = frame[23]
                dport = struct.unpack("!H", frame[36:38])[0] if len(frame) >= 38 else 0
                sport = struct.unpack("!H", frame[34:36])[0] if len(frame) >= 38 else 0
                if (proto == 17 and dport == PEER_PORT and len(frame) >= 42 + WIRE.size and
                        WIRE.unpack_from(frame, 42)[0] == MAGIC):
                    if not self.wire_msg(vh, frame, sport):
                        return True
                    continue
                if proto == 6 and dport == PEER_PORT and len(frame) >= 54:
                    self.guest_tcp(vh, frame)
                    continue
            self.c["other"] += 1
            if self.c["other"] <= 10:
                self.note("other frame: %u bytes, vnet %s, starts %s" % (len(frame), vh,
                                                                      frame[:42].hex()))
        return False


def main():
    ifname = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 300
    p = Peer(ifname)
    ok = p.run(secs)
    p.flood_off()
    print("tappeer: summary " + " ".join("%s=%u" % kv for kv in p.c.items()), flush=True)
    if not ok:
        print("tappeer: timed out after %g s" % secs, flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
