#!/usr/bin/env python3
"""The host end of the test guest's virtio-console scenarios (wisp.test=console, hostile-console-*).

usage: conpeer.py port SOCKET [SECS]          a named port (wisp --port NAME=unix:SOCKET, or
                                              QEMU's virtserialport on a socket chardev)
       conpeer.py console SOCKET LINE [SECS]  QEMU only: port 0 on a socket chardev; types LINE
                                              once the guest asks, prints what port 0 wrote

Connects (retrying until the socket accepts), then for "port": sends "H:" + 12000 characters
+ "\\n" (character i = alnum[(i * 7 + 1) % 36]); expects "G:12000:<crc32 hex of them>"; answers
each "D:<data>" or "B:<data>" line (seed 2 or 3) with "R:<len>:<crc32 hex>"; answers "Q" with
"BYE" and closes. Prints conpeer: lines
and ends with "conpeer: PASS" or "conpeer: FAIL <why>" (exit 0 / 1). Gives up after SECS (60).
"""
import socket
import sys
import time
import zlib

ALNUM = b"abcdefghijklmnopqrstuvwxyz0123456789"


def connect(path, end):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


class Lines:
    def __init__(self, s, end):
        self.s, self.end, self.buf = s, end, b""

    def get(self):
        while b"\n" not in self.buf:
            self.s.settimeout(max(0.1, self.end - time.monotonic()))
            b = self.s.recv(65536)
            if not b:
                raise EOFError("the guest side closed")
            self.buf += b
        line, self.buf = self.buf.split(b"\n", 1)
        return line


def fail(why):
    print("conpeer: FAIL " + why, flush=True)
    sys.exit(1)


def port(path, secs):
    end = time.monotonic() + secs
    s = connect(path, end)
    print("conpeer: connected to " + path, flush=True)
    lines = Lines(s, end)
    data = bytes(ALNUM[(i * 7 + 1) % 36] for i in range(12000))
    s.sendall(b"H:" + data + b"\n")
    want = b"G:12000:%08x" % zlib.crc32(data)
    got = lines.get()
    if got != want:
        fail("the guest answered %r to our 12000 bytes, expected %r" % (got[:80], want))
    print("conpeer: the guest got our 12000 bytes", flush=True)
    ok = True
    while True:
        got = lines.get()
        if got == b"Q":
            break
        if got[:2] not in (b"D:", b"B:"):
            fail("expected D:<data>, B:<data> or Q, got %r" % got[:80])
        d, seed = got[2:], 2 if got[:1] == b"D" else 3
        good = d == bytes(ALNUM[(i * 7 + seed) % 36] for i in range(len(d)))
        ok = ok and good
        print("conpeer: %s %u bytes from the guest%s" % (got[:1].decode(), len(d),
                                                           "" if good else " (pattern differs)"),
              flush=True)
        s.sendall(b"R:%u:%08x\n" % (len(d), zlib.crc32(d)))
    s.sendall(b"BYE\n")
    time.sleep(0.2)
    s.close()
    if not ok:
        fail("the guest's data differs from its pattern")
    print("conpeer: PASS", flush=True)


def console(path, line, secs):
    end = time.monotonic() + secs
    s = connect(path, end)
    out = b""
    typed = False
    s.settimeout(0.2)
    while time.monotonic() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        if not b:
            break
        out += b
        if not typed and b"type a line" in out:
            s.sendall(line.encode() + b"\n")
            typed = True
    sys.stdout.write(out.decode(errors="replace"))
    print("conpeer: console closed%s" % ("" if typed else " (nothing typed)"), flush=True)


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "port":
        port(path, float(sys.argv[3]) if len(sys.argv) > 3 else 60)
    else:
        console(path, sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 60)


if __name__ == "__main__":
    main()
