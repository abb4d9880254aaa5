#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (small, hand-made inputs).

Run from anywhere: python3 tests/fuzz/make_seeds.py [target...]. Each seed is a valid or
nearly valid input for its harness (see the comment at the top of each fuzz_<target>.c for
the layout), so the fuzzer starts from the interesting paths rather than from noise.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = {}


def seed(target):
    def reg(fn):
        SEEDS.setdefault(target, []).append(fn)
        return fn
    return reg


def u8(v): return struct.pack('<B', v & 0xff)
def u16(v): return struct.pack('<H', v & 0xffff)
def u32(v): return struct.pack('<I', v & 0xffffffff)
def u64(v): return struct.pack('<Q', v & 0xffffffffffffffff)


def desc(addr, length, flags=0, nxt=0):
    return u64(addr) + u32(length) + u16(flags) + u16(nxt)


NEXT, WRITE, INDIRECT = 1, 2, 4


# --- virtq: header, ops, RAM (fuzz_virtq.c) --------------------------------------------------
def virtq_input(size_log, flags, descs, heads, ops, max_segs=16, max_len=65536,
                extra=b''):
    """Rings at 0x100 (desc), 0x200 (avail), 0x280 (used); buffers from 0x400."""
    size = 1 << size_log
    ram = bytearray(0x400)
    for i, d in enumerate(descs):
        ram[0x100 + 16 * i:0x110 + 16 * i] = d
    struct.pack_into('<HH', ram, 0x200, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into('<H', ram, 0x204 + 2 * i, h)
    ram += extra
    hdr = u8(size_log) + u8(flags) + u16(0x100) + u16(0x200) + u16(0x280)
    hdr += u16(max_segs) + u32(max_len) + u16(len(ops))
    return hdr + ops + bytes(ram)


POP = b'\x00' + u8(0) + u32(0) + u32(64) + u16(16) + u16(0) + u16(32)
PUSH = b'\x02' + u8(0) + u32(64)


@seed('virtq')
def virtq_one_chain():
    d = [desc(0x400, 16, NEXT, 1), desc(0x500, 64, WRITE)]
    return virtq_input(4, 0, d, [0], POP + PUSH + b'\x05')


@seed('virtq')
def virtq_three_chains_event_idx():
    d = [desc(0x400, 16, NEXT, 1), desc(0x500, 512, NEXT | WRITE, 2), desc(0x700, 1, WRITE),
         desc(0x410, 16), desc(0x420, 8, NEXT, 5), desc(0x600, 32, WRITE)]
    ops = b'\x08' + POP + POP + b'\x09' + POP + POP + POP
    ops += b'\x03' + u8(3) + u32(1) + u32(2) + u32(3) + b'\x05\x06\x07'
    return virtq_input(3, 1 | 2, d, [0, 3, 4], ops)


@seed('virtq')
def virtq_indirect():
    table = desc(0x400, 16, NEXT, 1) + desc(0x500, 256, WRITE)
    d = [desc(0x800, 32, INDIRECT)]
    return virtq_input(2, 2, d, [0], POP + PUSH, extra=bytes(0x400) + table)


@seed('virtq')
def virtq_loop_and_bad_head():
    d = [desc(0x400, 16, NEXT, 1), desc(0x410, 16, NEXT, 0), desc(0x420, 16)]
    ops = POP + b'\x0a' + u16(0x202) + u8(2) + u16(9) + POP
    return virtq_input(2, 0, d, [0, 7, 2], ops)


@seed('virtq')
def virtq_same_head_twice():
    d = [desc(0x400, 16, 0)]
    return virtq_input(1, 0, d, [0, 0], POP + POP + PUSH + POP)


# --- msix: nvec, then ops (fuzz_msix.c) ----------------------------------------------------
def msix_table(off, length, write, val=0):
    return b'\x00' + u16(off) + u8(length) + u8(write) + u64(val)


def msix_pba(off, length):
    return b'\x01' + u16(off) + u8(length) + u8(0) + u64(0)


def msix_ctrl(reg, size_sel, val):
    return b'\x02' + u8(reg) + u8(size_sel) + u32(val)


def msix_notify(v):
    return b'\x03' + u16(v)


@seed('msix')
def msix_linux_enable_and_fire():
    ops = msix_ctrl(2, 1, 0xc000)  # enable + function mask (2-byte write at flags)
    for v in range(4):
        ops += msix_table(16 * v, 4, 1, 0xfee00000) + msix_table(16 * v + 8, 4, 1, 0x4000 + v)
        ops += msix_table(16 * v + 12, 4, 1, 0)
    ops += msix_ctrl(2, 1, 0x8000) + msix_notify(0) + msix_notify(3) + msix_notify(4)
    return u16(4) + ops


@seed('msix')
def msix_masked_pending_then_unmask():
    ops = msix_ctrl(2, 1, 0x8000) + msix_notify(1) + msix_pba(0, 8) + msix_pba(0, 4)
    ops += msix_table(16 + 12, 4, 1, 0) + msix_pba(0, 8) + msix_table(16, 8, 0)
    return u16(2) + ops


@seed('msix')
def msix_all_vectors_odd_accesses():
    ops = msix_ctrl(3, 0, 0x80) + msix_table(0xfff, 8, 1, ~0) + msix_table(4096 - 8, 8, 0)
    ops += msix_table(2, 2, 1, 1) + msix_pba(32, 8) + msix_pba(24, 8) + msix_notify(255)
    ops += msix_ctrl(3, 0, 0x40) + msix_notify(300)
    return u16(256) + ops


@seed('msix')
def msix_refused_sizes():
    return u16(0) + msix_notify(0)


# --- options: argv split at NULs (fuzz_options.c) ---------------------------------------------
def argv(*args):
    return b'\x00'.join(a.encode() for a in args)


OPTION_LINES = [
    ('run', '-k', 'vmlinux', '-i', 'initrd.cpio', '-m', '256M', '-c', '2'),
    ('run', '--kernel=bzImage', '--memory=1G', '--cpus=4', '-p', 'quiet', '--cmdline', 'a=b',
     '--entry', 'pvh', '-v', '-v', '--stats'),
    ('run', '-k', 'k', '-d', 'disk.img,ro,serial=abc,transport=modern,cache=none',
     '-d', 'b.img,transport=legacy'),
    ('run', '-k', 'k', '-n', 'tap=tap0,mac=52:54:00:12:34:56,queues=4,transport=transitional',
     '--console', 'virtio', '--port', 'org.test=unix:/tmp/s'),
    ('run', '-k', 'k', '-m', '16GiB', '--entry=64', '-c'),
    ('--help',),
    ('--version',),
    ('run', '-k', 'k', '-m', '0x10', '-x', '--bogus=1', '-'),
    ('run', '-k', 'k', '--seccomp=kill', '--no-seccomp', '--seccomp', 'off', '--print-seccomp'),
]


def _opt_seed(i):
    return lambda: argv(*OPTION_LINES[i])


for _i in range(len(OPTION_LINES)):
    _f = _opt_seed(_i)
    _f.__name__ = f'options_line{_i}'
    seed('options')(_f)


# --- loader: header, command line, kernel file (fuzz_loader.c) -------------------------------
def bzimage(setup_sects=1, version=0x020f, loadflags=1, xloadflags=1, init_size=0x20000,
            pref=0x1000000, payload=256, cmdline_size=2047, initrd_max=0x7fffffff):
    pm = (setup_sects or 4) + 1
    f = bytearray(pm * 512 + payload)
    struct.pack_into('<B', f, 0x1f1, setup_sects)
    struct.pack_into('<I', f, 0x1f4, payload // 16)
    struct.pack_into('<H', f, 0x1fe, 0xaa55)
    f[0x200] = 0xeb
    f[0x201] = 0x66
    f[0x202:0x206] = b'HdrS'
    struct.pack_into('<H', f, 0x206, version)
    struct.pack_into('<B', f, 0x211, loadflags)
    struct.pack_into('<I', f, 0x22c, initrd_max)
    struct.pack_into('<B', f, 0x234, 1)
    struct.pack_into('<H', f, 0x236, xloadflags)
    struct.pack_into('<I', f, 0x238, cmdline_size)
    struct.pack_into('<Q', f, 0x258, pref)
    struct.pack_into('<I', f, 0x260, init_size)
    for i in range(payload):
        f[pm * 512 + i] = (i * 7 + 1) & 0xff
    return bytes(f)


def elf(loads, entry=0x1000200, pvh=0x1000100, pvh_size=4):
    """loads: (paddr, filesz, memsz); segment data follows the headers and note."""
    nph = len(loads) + (1 if pvh is not None else 0)
    note = b''
    if pvh is not None:
        note = u32(4) + u32(pvh_size) + u32(18) + b'Xen\0' + (u32(pvh) if pvh_size == 4 else u64(pvh))
    data_off = 64 + 56 * nph + len(note)
    data_off = (data_off + 15) & ~15
    ph = b''
    seg = b''
    if pvh is not None:
        ph += u32(4) + u32(4) + u64(64 + 56 * nph) + u64(0) + u64(0) + u64(len(note)) + u64(len(note)) + u64(4)
    off = data_off
    for paddr, filesz, memsz in loads:
        ph += u32(1) + u32(5) + u64(off) + u64(paddr) + u64(paddr) + u64(filesz) + u64(memsz) + u64(16)
        seg += bytes((off + i) & 0xff for i in range(filesz))
        off += filesz
    eh = b'\x7fELF' + bytes([2, 1, 1]) + bytes(9) + u16(2) + u16(62) + u32(1) + u64(entry)
    eh += u64(64) + u64(0) + u32(0) + u16(64) + u16(56) + u16(nph) + u16(64) + u16(0) + u16(0)
    f = eh + ph + note
    return f + bytes(data_off - len(f)) + seg


def loader_input(kernel, entry=0, ncpus=1, flags=3, initrd_kib=0, cmdline=b'console=ttyS0'):
    return u8(entry) + u8(ncpus) + u8(flags) + u16(initrd_kib) + u16(len(cmdline)) + cmdline + kernel


@seed('loader')
def loader_bzimage():
    return loader_input(bzimage(), initrd_kib=64)


@seed('loader')
def loader_bzimage_from_fds_relocatable_low():
    return loader_input(bzimage(setup_sects=0, pref=0x200000, init_size=0x400000), flags=2 | 4,
                        initrd_kib=1024, cmdline=b'quiet')


@seed('loader')
def loader_bzimage_old_protocol():
    return loader_input(bzimage(version=0x0209, xloadflags=0))


@seed('loader')
def loader_elf_pvh():
    return loader_input(elf([(0x1000000, 0x200, 0x1000), (0x1200000, 0x100, 0x100)]), ncpus=4)


@seed('loader')
def loader_elf_64bit_entry_8_byte_note():
    return loader_input(elf([(0x100000, 0x300, 0x2000)], pvh=0x100010, pvh_size=8), entry=2,
                        flags=3 | 4, initrd_kib=3)


@seed('loader')
def loader_elf_no_pvh_asked_for_pvh():
    return loader_input(elf([(0x1000000, 0x80, 0x80)], pvh=None), entry=1)


# --- the fuzz_driver.h operations (blk and net device modes) ---------------------------------
def drv_chain(q, bufs):
    """bufs: (heap offset, length, writable); the writable ones must come last."""
    nw = sum(1 for b in bufs if b[2])
    out = u8(4) + u8(q) + u8(len(bufs) - 1) + u8(nw)
    for off, length, _ in bufs:
        out += u16(off) + u16(length - 1)
    return out


def drv_kick(q):
    return u8(2) + u8(q)


def drv_poll():
    return u8(7) + u8(0)


def drv_reap(q):
    return u8(6) + u8(q)


def drv_write(q, off, data):
    out = b''
    for i in range(0, len(data), 64):  # at most 64 bytes a write
        piece = data[i:i + 64]
        out += u8(3) + u8(q) + u16(off + i) + u8(len(piece)) + piece
    return out


def drv_reset(up_again):
    return u8(8) + u8(0) + u8(1 if up_again else 0) + (u64(~0) if up_again else b'')


# --- blk: mode byte; plan mode or device mode (fuzz_blk.c) -----------------------------------
def blk_plan(cap, ro, segs_out, segs_in, maxd=0x400, maxwz=0x400):
    """segs: (len code byte, extra u16 or None, bytes)"""
    out = u8(0) + u8(0) + u16(cap) + u8(ro) + u32(maxd) + u32(maxwz)
    out += u8(len(segs_out)) + u8(len(segs_in))
    for code, extra, data in segs_out + segs_in:
        out += u8(code) + (u16(extra) if extra is not None else b'') + data
    return out


def blk_hdr(t, sector):
    return struct.pack('<IIQ', t, 0, sector)


@seed('blk')
def blk_plan_read():
    return blk_plan(128, 0, [(15, None, blk_hdr(0, 3))], [(0x81, 0, b''), (0, None, b'')])


@seed('blk')
def blk_plan_write_two_segments():
    return blk_plan(128, 0, [(15, None, blk_hdr(1, 8)), (0x80, 256, b''), (0x80, 256, b'')],
                    [(0, None, b'')])


@seed('blk')
def blk_plan_discard_and_get_id():
    seg = struct.pack('<QII', 4, 8, 0)
    return blk_plan(64, 0, [(31, None, blk_hdr(11, 0) + seg)], [(0, None, b'')])


@seed('blk')
def blk_plan_get_id():
    return blk_plan(64, 1, [(15, None, blk_hdr(8, 0))], [(20, None, b'')])


def blk_dev(cfg, ops):
    return u8(1) + u8(cfg) + ops


def blk_header_op(off, type_index, sector, dsector=0, dnum=0, dflags=0):
    return u8(10) + u16(off) + u8(type_index) + u8(0) + u8(sector) + u8(dsector) + u8(dnum) + u8(dflags)


@seed('blk')
def blk_device_read_write_flush():
    ops = blk_header_op(0, 1, 2) + drv_write(0, 0x1000, bytes(range(64)))
    ops += drv_chain(0, [(0, 16, False), (0x1000, 512, False), (0x3000, 1, True)])
    ops += blk_header_op(0x100, 0, 2)
    ops += drv_chain(0, [(0x100, 16, False), (0x2000, 1024, True), (0x3001, 1, True)])
    ops += blk_header_op(0x200, 2, 0) + drv_chain(0, [(0x200, 16, False), (0x3002, 1, True)])
    ops += drv_kick(0) + drv_poll() + drv_poll() + drv_reap(0)
    return blk_dev(0x80, ops)


@seed('blk')
def blk_device_reset_mid_io_two_queues():
    ops = blk_header_op(0, 0, 5)
    ops += drv_chain(1, [(0, 16, False), (0x2000, 4096, True), (0x3000, 1, True)])
    ops += drv_kick(1) + drv_reset(True) + drv_chain(0, [(0, 16, False), (0x3000, 1, True)])
    ops += drv_kick(0) + drv_poll()
    return blk_dev(0x80 | 8 | 4, ops)


@seed('blk')
def blk_device_read_only_discard_get_id():
    ops = blk_header_op(0, 4, 0, 1, 2) + drv_chain(0, [(0, 32, False), (0x3000, 1, True)])
    ops += blk_header_op(0x40, 3, 0) + drv_chain(0, [(0x40, 16, False), (0x2000, 21, True)])
    ops += drv_kick(0) + drv_poll() + drv_reap(0)
    return blk_dev(0x80 | 1 | 4, ops)


# --- net: mode byte; header mode or device mode (fuzz_net.c) ---------------------------------
def net_hdr(flags=0, gso=0, hdr_len=0, gso_size=0, csum_start=0, csum_off=0):
    return struct.pack('<BBHHHH', flags, gso, hdr_len, gso_size, csum_start, csum_off)


CSUM, HOST_TSO4, HOST_TSO6, HOST_ECN = 1 << 0, 1 << 11, 1 << 12, 1 << 13


@seed('net')
def net_hdr_plain():
    return u8(0) + u64(0) + u8(0) + u16(60) + net_hdr()


@seed('net')
def net_hdr_tso4():
    return u8(0) + u64(CSUM | HOST_TSO4 | (1 << 1) | (1 << 7)) + u8(0) + u16(9000) + \
        net_hdr(1, 1, 54, 1448, 34, 16)


@seed('net')
def net_hdr_tso6_ecn_refused():
    return u8(0) + u64(CSUM | HOST_TSO6) + u8(1) + u32(70000) + net_hdr(1, 0x84, 74, 1440, 54, 16)


def net_dev(cfg, ops):
    return u8(1) + u8(cfg) + ops


def tap_send(pair, data):
    return u8(10) + u8(pair) + u8(1) + u16(len(data)) + data[:64]


def tap_drain():
    return u8(11)


@seed('net')
def net_device_tx_and_rx():
    ops = drv_write(1, 0, net_hdr() + bytes(2) + bytes(range(60)))
    ops += drv_chain(1, [(0, 72, False)]) + drv_kick(1) + drv_poll() + tap_drain() + drv_reap(1)
    ops += drv_chain(0, [(0x1000, 2048, True)]) + drv_chain(0, [(0x2000, 2048, True)])
    ops += drv_kick(0) + tap_send(0, bytes(12) + bytes(range(64))) + drv_poll() + drv_reap(0)
    return net_dev(0x80, ops)


@seed('net')
def net_device_tx_offload_and_split_header():
    hdr = net_hdr(1, 1, 54, 1448, 34, 16) + bytes(2)
    ops = drv_write(1, 0, hdr) + drv_chain(1, [(0, 6, False), (6, 6, False), (0x100, 3000, False)])
    ops += drv_kick(1) + drv_poll() + tap_drain()
    return net_dev(0x80, ops)


@seed('net')
def net_device_two_pairs_control_queue():
    ctrl = bytes([4, 0]) + u16(2)  # VIRTIO_NET_CTRL_MQ, VQ_PAIRS_SET, 2 pairs
    ops = drv_write(4, 0, ctrl) + drv_chain(4, [(0, 4, False), (0x10, 1, True)]) + drv_kick(4)
    ops += drv_poll() + drv_chain(2, [(0x1000, 1526, True)]) + drv_kick(2)
    ops += tap_send(1, bytes(12) + b'\xff' * 60) + drv_poll() + drv_reset(True)
    return net_dev(0x80 | 1, ops)


# --- pci: ops on the bus (fuzz_pci.c) ---------------------------------------------------------
def pci_port(port_off, size_sel, write, val):
    return u8(0) + u8(port_off) + u8(size_sel) + u8(write) + u64(val)


def pci_cf8(slot, reg):
    return pci_port(0, 2, 1, 0x80000000 | slot << 11 | (reg & 0xfc))


def pci_cfg(slot, reg, size_sel, val):
    return u8(2) + u8(slot) + u8(reg) + u8(size_sel) + u32(val)


def pci_ecam(slot, reg, size_sel, val):
    return u8(3) + u8(slot) + u16(reg) + u8(size_sel) + u32(val)


def pci_bar(dev, bar, off, size_sel, write, val=0):
    return u8(6) + u8(dev) + u8(bar) + u16(off) + u8(size_sel) + u8(write) + u64(val)


@seed('pci')
def pci_probe_like_linux():
    ops = b''
    for slot in range(4):
        ops += pci_cf8(slot, 0) + pci_port(4, 2, 0, 0)
    for bar in range(6):  # size every BAR of slot 1 with decoding off, restore
        reg = 0x10 + 4 * bar
        ops += pci_cfg(1, 4, 1, 0) + pci_cfg(1, reg, 2, 0xffffffff) + pci_cf8(1, reg)
        ops += pci_port(4, 2, 0, 0)
    ops += pci_cfg(1, 4, 1, 7) + pci_bar(0, 4, 0, 1, 0) + pci_bar(0, 0, 0x12, 0, 1, 1)
    ops += pci_bar(0, 1, 0, 2, 1, 0xfee00000) + pci_bar(0, 1, 0x1000, 3, 0)
    return ops


@seed('pci')
def pci_move_bars_onto_each_other():
    ops = pci_cfg(1, 4, 1, 7) + pci_cfg(2, 4, 1, 7)
    ops += pci_cfg(2, 0x20, 2, 0xc0000000) + pci_cfg(2, 0x24, 2, 0)
    ops += pci_cfg(1, 0x14, 2, 0xc0000000) + pci_cfg(1, 0x20, 2, 0x00001000)
    ops += pci_cfg(1, 0x10, 2, 0xcf8) + pci_ecam(2, 0x24, 2, 0xffffffff)
    ops += pci_bar(1, 4, 0, 2, 0) + pci_ecam(1, 0x100, 2, 0xffffffff) + pci_ecam(1, 0xffc, 2, 1)
    return ops


@seed('pci')
def pci_odd_port_widths():
    ops = pci_port(1, 0, 1, 0x12) + pci_port(3, 1, 1, 0x8000) + pci_port(0, 3, 1, ~0)
    ops += pci_port(5, 2, 0, 0) + pci_port(7, 1, 1, 5) + pci_cf8(31, 0xfc) + pci_port(6, 1, 0, 0)
    ops += u8(7) + u64(0xe0000000) + u8(3) + u8(0) + u64(0)
    return ops


# --- vpci: mode byte, then ops (fuzz_vpci.c) ---------------------------------------------------
def vp_common(off, size_sel, write, val=0):
    return u8(0) + u16(off) + u8(size_sel) + u8(write) + u64(val)


def vp_legacy(off, size_sel, write, val=0):
    return u8(4) + u8(off) + u8(size_sel) + u8(write) + (u32(val) if write & 1 else b'')


def vp_queue(q, size_log, vector):
    # aligned in-RAM addresses: desc 0x10000, avail 0x11000, used 0x12000 (encoded as v >> 1)
    return u8(8) + u8(q) + u8(size_log) + u32(0x10000 << 1) + u32(0x11000 << 1) + \
        u32(0x12000 << 1) + u16(vector)


@seed('vpci')
def vpci_modern_bring_up():
    ops = u8(7) + u64(~0) + u8(6) + u8(1) + u8(4) + vp_queue(0, 6, 1) + u8(9) + u8(0)
    ops += u8(10) + u8(4) + u8(14) + u16(0) + u16(0) + u8(12) + vp_common(0x14, 0, 0)
    ops += vp_common(0x16, 1, 1, 7) + vp_common(0x18, 1, 0) + u8(2) + u16(0) + u8(0) + u8(0) + u64(0)
    ops += u8(11)
    return u8(0) + ops


@seed('vpci')
def vpci_modern_only_registers():
    ops = vp_common(0x00, 2, 1, 1) + vp_common(0x04, 2, 0) + vp_common(0x16, 1, 1, 0xffff)
    ops += vp_common(0x18, 1, 0) + vp_common(0x20, 3, 1, 0x1234) + vp_common(0x10, 1, 1, 9)
    ops += u8(1) + u16(3) + u8(2) + u8(1) + u64(0xdeadbeef) + u8(1) + u16(6) + u8(1) + u8(0) + u64(0)
    ops += u8(5) + u8(3) + u8(0) + u32(4) + u8(5) + u8(16) + u8(2) + u32(0x55)
    return u8(1) + ops


@seed('vpci')
def vpci_legacy_bring_up():
    ops = vp_legacy(18, 0, 1, 1) + vp_legacy(18, 0, 1, 3) + vp_legacy(0, 2, 0)
    ops += vp_legacy(4, 2, 1, 1) + u8(13) + u8(0) + u8(0) + u16(0x10) + vp_legacy(18, 0, 1, 7)
    ops += vp_legacy(16, 1, 1, 0) + u8(12) + vp_legacy(19, 0, 0) + vp_legacy(20, 2, 0)
    ops += vp_legacy(18, 0, 1, 0)
    return u8(2) + ops


def main():
    targets = sys.argv[1:] or sorted(SEEDS)
    for t in targets:
        out = os.path.join(HERE, 'corpus', t)
        os.makedirs(out, exist_ok=True)
        for fn in SEEDS[t]:
            data = fn()
            assert len(data) < 4096, (t, fn.__name__, len(data))
            with open(os.path.join(out, fn.__name__), 'wb') as f:
                f.write(data)
        print(f'{t}: {len(SEEDS[t])} seeds')


if __name__ == '__main__':
    main()
