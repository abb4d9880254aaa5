#!/usr/bin/env python3
"""The host end of the Linux network test, run inside the test's network namespace.

usage: netpeer.py recv PORT            accept one connection, print "recv N SHA256" at EOF
       netpeer.py send PORT SEED MIB   accept one connection, send the PRNG bytes, close
Both give up after 600 s.
"""
import hashlib, socket, subprocess, sys

def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1)
    s.settimeout(600)
    conn, _ = s.accept()
    conn.settimeout(600)
    return conn

mode, port = sys.argv[1], int(sys.argv[2])
conn = listen(port)
if mode == "recv":
    h, n = hashlib.sha256(), 0
    while True:
        b = conn.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    print("recv", n, h.hexdigest(), flush=True)
else:
    seed, mib = sys.argv[3], sys.argv[4]
    data = subprocess.run(["tests/integration/prng.sh", seed, mib], check=True,
                          capture_output=True).stdout
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    print("sent", len(data), hashlib.sha256(data).hexdigest(), flush=True)
conn.close()
