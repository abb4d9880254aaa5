#!/usr/bin/env python3
"""A one-file FUSE filesystem whose file fails on demand: a disk image that returns EIO.

usage: faultfs.py MOUNTPOINT BACKING [--bad S+N]... [--fsync-fail-once] [--log FILE]

Mounts MOUNTPOINT (root only: it speaks the FUSE protocol on /dev/fuse itself, no libfuse
or fusermount) with one file, MOUNTPOINT/disk, whose data is BACKING (a host file, checked
by the tests afterwards). Every open is FOPEN_DIRECT_IO, so each read and write of the
file reaches this server (no page cache in between), where:

  --bad S+N          reads and writes touching sectors S..S+N-1 fail with EIO
  --fsync-fail-once  the first fsync fails with EIO, later ones succeed (as Linux reports
                     a writeback error once per file: the case where a VMM that simply
                     retries would tell the guest its lost data is safe)
  SIGUSR1            from then on every read, write and fsync fails with EIO (a disk that
                     died while running)

Prints "faultfs: ready" once mounted; --log gets one line per failed request and per fsync. Exits when
unmounted (umount MOUNTPOINT) or on SIGTERM (after unmounting).

The tests use it where device-mapper's error target would be the usual tool: this host's
kernel has no device-mapper, and this also fails fsync on demand, which dm-error cannot.
"""
import ctypes, errno, os, signal, struct, sys

LOOKUP, FORGET, GETATTR, SETATTR, OPEN, READ, WRITE, STATFS, RELEASE = 1, 2, 3, 4, 14, 15, 16, 17, 18
FSYNC, GETXATTR, LISTXATTR, FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR = 20, 22, 23, 25, 26, 27, 28, 29
ACCESS, INTERRUPT, DESTROY, BATCH_FORGET = 34, 36, 38, 42
FOPEN_DIRECT_IO = 1
FUSE_BIG_WRITES, FUSE_MAX_PAGES = 1 << 5, 1 << 22
MAX_WRITE = 128 << 10
ROOT, DISK = 1, 2
SECTOR = 512

args = sys.argv[1:]
mnt, backing = args[0], args[1]
bad, fsync_fail_once, log = [], False, None
i = 2
while i < len(args):
    if args[i] == "--bad":
        s, n = args[i + 1].split("+")
        bad.append((int(s), int(s) + int(n)))
        i += 2
    elif args[i] == "--fsync-fail-once":
        fsync_fail_once = True
        i += 1
    elif args[i] == "--log":
        log = open(args[i + 1], "a", buffering=1)
        i += 2
    else:
        sys.exit("faultfs: unknown argument " + args[i])

dead = False


def die(sig, frame):
    global dead
    dead = True


def stop(sig, frame):
    os.system("umount -l " + mnt)
    sys.exit(0)


signal.signal(signal.SIGUSR1, die)
signal.signal(signal.SIGTERM, stop)
data = os.open(backing, os.O_RDWR)


def note(msg):
    if log:
        log.write("faultfs: " + msg + "\n")


def attr(node):
    if node == ROOT:
        mode, size, nlink = 0o40755, 0, 2
    else:
        mode, size, nlink = 0o100644, os.fstat(data).st_size, 1
    # ino size blocks atime mtime ctime (ns x3) mode nlink uid gid rdev blksize flags
    return struct.pack("<QQQQQQIIIIIIIIII", node, size, (size + 511) // 512, 0, 0, 0,
                       0, 0, 0, mode, nlink, 0, 0, 0, 4096, 0)


def touches_bad(off, size):
    first, end = off // SECTOR, (off + size + SECTOR - 1) // SECTOR
    return any(first < b_end and b_start < end for b_start, b_end in bad)


def handle(op, node, body):
    """Returns (errno, reply bytes), or None for requests that take no reply."""
    global fsync_fail_once
    if op == INIT:
        major, minor = struct.unpack_from("<II", body)
        return 0, struct.pack("<IIIIHHIIHHI7I", 7, 31, 0, FUSE_BIG_WRITES | FUSE_MAX_PAGES,
                              16, 12, MAX_WRITE, 1, MAX_WRITE // 4096, 0, 0, *[0] * 7)
    if op in (FORGET, BATCH_FORGET, INTERRUPT):
        return None
    if op == LOOKUP:
        name = body.split(b"\0")[0]
        if node != ROOT or name != b"disk":
            return -errno.ENOENT, b""
        return 0, struct.pack("<QQQQII", DISK, 0, 0, 0, 0, 0) + attr(DISK)
    if op in (GETATTR, SETATTR):
        if op == SETATTR:
            valid, _, _, size = struct.unpack_from("<IIQQ", body)
            if valid & (1 << 3):  # FATTR_SIZE
                os.ftruncate(data, size)
        return 0, struct.pack("<QII", 0, 0, 0) + attr(node)
    if op in (OPEN, OPENDIR):
        return 0, struct.pack("<QIi", 0, FOPEN_DIRECT_IO if op == OPEN else 0, 0)
    if op == READDIR:
        return 0, b""
    if op in (RELEASE, RELEASEDIR, FLUSH, ACCESS, DESTROY):
        return 0, b""
    if op == STATFS:
        return 0, struct.pack("<QQQQQIIII6I", 1 << 20, 1 << 19, 1 << 19, 16, 8, 4096, 255,
                              4096, 0, *[0] * 6)
    if op == READ:
        _, off, size = struct.unpack_from("<QQI", body)
        if dead or touches_bad(off, size):
            note("read %d+%d: EIO" % (off // SECTOR, size // SECTOR))
            return -errno.EIO, b""
        return 0, os.pread(data, size, off)
    if op == WRITE:
        _, off, size = struct.unpack_from("<QQI", body)
        if dead or touches_bad(off, size):
            note("write %d+%d: EIO" % (off // SECTOR, size // SECTOR))
            return -errno.EIO, b""
        n = os.pwrite(data, body[40:40 + size], off)
        return 0, struct.pack("<II", n, 0)
    if op == FSYNC:
        if dead or fsync_fail_once:
            fsync_fail_once = False
            note("fsync: EIO")
            return -errno.EIO, b""
        os.fdatasync(data)
        note("fsync: OK")
        return 0, b""
    return -errno.ENOSYS, b""


fuse = os.open("/dev/fuse", os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
opts = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other" % fuse
if libc.mount(b"faultfs", mnt.encode(), b"fuse", 0, opts.encode()) != 0:
    sys.exit("faultfs: mount %s: %s" % (mnt, os.strerror(ctypes.get_errno())))
print("faultfs: ready", flush=True)
while True:
    try:
        req = os.read(fuse, MAX_WRITE + 4096)
    except OSError as e:
        if e.errno == errno.ENODEV:  # unmounted
            break
        if e.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
            continue
        raise
    length, op, unique, node = struct.unpack_from("<IIQQ", req)
    res = handle(op, node, req[40:length])
    if res is None:
        continue
    err, reply = res
    if err:
        reply = b""
    try:
        os.write(fuse, struct.pack("<IiQ", 16 + len(reply), err, unique) + reply)
    except OSError as e:
        if e.errno != errno.ENOENT:  # the request was interrupted meanwhile
            raise
