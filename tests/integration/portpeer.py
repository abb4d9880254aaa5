#!/usr/bin/env python3
"""Host end of a virtio-console named port: connects to wisp's Unix socket, sends one line,
prints every line the guest sends (flushed), until the socket closes or 600 s pass.

usage: portpeer.py PATH LINE
"""
import socket, sys, time

path, line = sys.argv[1], sys.argv[2]
deadline = time.time() + 600
while True:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("portpeer: no socket at " + path)
        time.sleep(0.2)
s.sendall((line + "\n").encode())
s.settimeout(600)
buf = b""
while True:
    try:
        b = s.recv(4096)
    except socket.timeout:
        break
    if not b:
        break
    buf += b
    while b"\n" in buf:
        l, buf = buf.split(b"\n", 1)
        print("from-guest:", l.decode(errors="replace"), flush=True)
