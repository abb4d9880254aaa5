#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal of a given size and resizes it once the guest asks.

usage: ptyrun.py COLS ROWS NEWCOLS NEWROWS CMD [ARG...]

The terminal starts at COLSxROWS; when the output shows "waiting for a resize" it becomes
NEWCOLSxNEWROWS (TIOCSWINSZ on the master: the kernel sends SIGWINCH to the command). The
output is copied to stdout; exit status that of the command (124 after 60 s).
"""
import fcntl, os, pty, select, signal, struct, sys, termios, time

cols, rows, ncols, nrows = (int(a) for a in sys.argv[1:5])
cmd = sys.argv[5:]
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp(cmd[0], cmd)
os.close(slave)
out, resized, end = b"", False, time.time() + 60
while time.time() < end:
    r, _, _ = select.select([master], [], [], 0.1)
    if r:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        out += b
        sys.stdout.buffer.write(b)
        sys.stdout.flush()
    if not resized and b"waiting for a resize" in out:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", nrows, ncols, 0, 0))
        resized = True
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.exit(124)
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st) if hasattr(os, "waitstatus_to_exitcode") else st >> 8)
