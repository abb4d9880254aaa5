#!/usr/bin/env python3
"""Runs wisp on a pseudo-terminal and checks the terminal handling.

usage: tty_check.py MODE WISP GUEST
  MODE escape   Ctrl-A x stops the VM (status 130); raw mode while running
       echo     typed bytes reach the guest unfiltered (guest echoes upper case)
       crash    a triple fault (status 124)
       segv     wisp killed by SIGSEGV (dies by the signal)
In every mode the pty's settings after wisp exits must equal those before.
Exit status 0 when every check holds; the reason is printed otherwise.
"""
import os, pty, select, signal, sys, termios, time

mode, wisp, guest = sys.argv[1:4]
tests = {"escape": "hang", "echo": "echo", "crash": "triplefault", "segv": "hang"}
master, slave = pty.openpty()
before = termios.tcgetattr(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execv(wisp, [wisp, "run", "-k", guest, "-p", "wisp.test=" + tests[mode]])

os.close(slave)
out = b""

def read_until(pattern, secs=20):
    global out
    end = time.time() + secs
    while pattern not in out and time.time() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    return pattern in out

def fail(msg):
    print("FAIL:", msg)
    print("output:", out[-400:])
    sys.exit(1)

# The whole line, its "\r\n" included: bytes the guest is still writing when the test acts
# would land in the middle of what wisp prints then.
ready = {"hang": b"hang: ready\r\n", "echo": b"echo: ready\r\n", "triplefault": b""}[tests[mode]]
if ready and not read_until(ready):
    fail("guest never got ready")
# While wisp runs, the terminal must be raw: no echo, no canonical mode, no signals.
# (The crash case dies at once; there is no "while" to look at.)
during = termios.tcgetattr(master)
if ready and during[3] & (termios.ECHO | termios.ICANON | termios.ISIG):
    fail("terminal not raw while the guest runs")

if mode == "escape":
    os.write(master, b"\x01x")
elif mode == "echo":
    os.write(master, b"tty in\x03q")  # ^C must reach the guest, not kill wisp
elif mode == "segv":
    os.kill(pid, signal.SIGSEGV)
_, status = os.waitpid(pid, 0)
read_until(b"\x00", 0.3)
after = termios.tcgetattr(master)
if after != before:
    fail("terminal settings not restored: %r != %r" % (after, before))
code = os.waitstatus_to_exitcode(status)
expect = {"escape": 130, "echo": 0, "crash": 124, "segv": -signal.SIGSEGV}[mode]
if code != expect:
    fail("exit status %d, expected %d" % (code, expect))
if mode == "echo" and b"TTY IN" not in out:
    fail("typed bytes did not reach the guest")
if mode == "segv" and b"fatal signal" not in out:
    fail("no message for the fatal signal")
print("ok")
