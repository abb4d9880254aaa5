#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, sends it a signal once its output shows a marker,
and checks that the terminal comes back as it was.

usage: sigpty.py SIGNAL MARKER OUTFILE CMD [ARG...]

SIGNAL is a name (TERM, KILL, SEGV, BUS, ...). The command's stdin, stdout and stderr are
the pty's slave; everything it writes goes to OUTFILE. The pty's settings are taken before
the command starts and after it exited, as `stty -g` prints them and as tcgetattr returns
them. Prints:
  sigpty: raw while running         (echo, canonical mode and signals off when the marker came)
  sigpty: terminal restored         or  sigpty: terminal NOT restored: BEFORE / AFTER
  sigpty: exit N                    (as a shell reports it: 128 + N when killed by signal N)
Exits 0 after these lines; 1 if the marker never came (60 s; the command is killed then).
"""
import os, pty, select, signal, subprocess, sys, termios, time

sig = getattr(signal, "SIG" + sys.argv[1])
marker, outfile, cmd = sys.argv[2].encode(), sys.argv[3], sys.argv[4:]
master, slave = pty.openpty()
slave_name = os.ttyname(slave)


def stty():
    with open(slave_name, "rb", buffering=0) as t:
        return subprocess.run(["stty", "-g"], stdin=t, capture_output=True).stdout.strip()


before, before_attr = stty(), termios.tcgetattr(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp(cmd[0], cmd)
out = b""


def pump(secs):
    """Reads what the command wrote for up to secs; False at end of output."""
    global out
    r, _, _ = select.select([master], [], [], secs)
    if not r:
        return True
    try:
        b = os.read(master, 65536)
    except OSError:
        return False
    out += b
    return bool(b)


def marked():
    """The marker's whole line has come: the guest's "\r\n" after it, still being written
    when the signal is sent, would otherwise land in the middle of wisp's message."""
    at = out.find(marker)
    return at >= 0 and out.find(b"\n", at) >= 0


end = time.time() + 60
while not marked() and time.time() < end:
    if not pump(0.1):
        break
if not marked():
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    open(outfile, "wb").write(out)
    print("sigpty: marker %r never seen" % marker)
    sys.exit(1)
during = termios.tcgetattr(slave)
if not during[3] & (termios.ECHO | termios.ICANON | termios.ISIG):
    print("sigpty: raw while running")
os.kill(pid, sig)
done = None
end = time.time() + 60
while time.time() < end:
    if not pump(0.1) or done:
        break
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        done = st  # one more read for what is left, then stop
if done is None:
    p, done = os.waitpid(pid, 0)
while select.select([master], [], [], 0)[0]:
    try:
        b = os.read(master, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
open(outfile, "wb").write(out)
after, after_attr = stty(), termios.tcgetattr(slave)
if after == before and after_attr == before_attr:
    print("sigpty: terminal restored")
else:
    print("sigpty: terminal NOT restored: %s / %s" % (before.decode(), after.decode()))
code = os.waitstatus_to_exitcode(done)
print("sigpty: exit %d" % (128 - code if code < 0 else code))
