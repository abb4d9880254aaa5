# Host faults (BAD-INPUTS "Bad host input" and "Durability"): a disk returning EIO, a full
# disk (ENOSPC), a failing fsync, a tap deleted while running, SIGTERM with I/O in flight,
# SIGKILL after a FLUSH, SIGPIPE, fatal signals. Driven by the test guest's blkfault scenario
# (tests/guest/README.md), which prints the status of every request it makes.
#
# The failing disk is tests/integration/faultfs.py, a FUSE file that fails chosen sectors,
# every request from a signal on, or one fsync: this host's kernel has no device-mapper
# (dm-error would be the usual tool), and FUSE also fails fsync on demand. Every test undoes
# what it set up (mounts, namespaces, processes) from an EXIT trap: run.sh runs each test in
# a subshell of its own.
G=build/guest/test-guest.elf
SEED=24301 # the guest's default fault.seed, 0x5eed

# FUSE needs root and /dev/fuse; tmpfs mounts and namespaces need root: probe once.
FAULT_SKIP=
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
	echo "t_host_faults: SKIPPED the disk fault tests: needs root and /dev/fuse (modprobe fuse)"
	FAULT_SKIP=1
fi

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (60 s at most).
wait_line() {
	for _ in $(seq 1200); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# ffs_up NAME FAULTFS-ARGS...: $FFS_MNT/disk, a 64 MiB FUSE disk backed by $FFS_IMG, failing
# as the arguments say; the server's failures are logged in $FFS_LOG.
ffs_up() {
	local name=$1
	shift
	FFS_MNT=$(mktemp -d /tmp/wisp-faultfs.XXXXXX)
	FFS_IMG=$OUTDIR/$name.img FFS_LOG=$OUTDIR/$name.ffs
	# Emptied here, not by the background job's redirection: wait_line must not find the
	# previous run's line before the job got to it.
	rm -f "$FFS_IMG" && truncate -s 64M "$FFS_IMG" && : >"$FFS_LOG" && : >"$FFS_LOG.out"
	python3 tests/integration/faultfs.py "$FFS_MNT" "$FFS_IMG" --log "$FFS_LOG" "$@" \
		>"$FFS_LOG.out" 2>&1 &
	FFS_PID=$!
	wait_line "$FFS_LOG.out" "faultfs: ready" || { cat "$FFS_LOG.out"; return 1; }
}

ffs_down() {
	[ -n "${FFS_MNT:-}" ] || return 0
	umount -l "$FFS_MNT" 2>/dev/null
	kill "$FFS_PID" 2>/dev/null
	wait "$FFS_PID" 2>/dev/null
	rmdir "$FFS_MNT" 2>/dev/null
	FFS_MNT=
}

# The guest's pattern checked on the host: check_pattern IMG SEED FIRST-SECTOR SECTORS.
check_pattern() {
	python3 - "$@" <<-'EOF'
	import sys, array
	path, seed, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
	M = (1 << 64) - 1
	def word(i):
	    z = (((i + 1) * 0x9e3779b97f4a7c15) & M) ^ seed
	    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
	    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
	    return z ^ (z >> 31)
	with open(path, 'rb') as f:
	    f.seek(first * 512)
	    a = array.array('Q', f.read(n * 512))
	base = first * 64
	bad = [i for i in range(len(a)) if a[i] != word(base + i)]
	if bad or len(a) != n * 64:
	    print("    image: %d of %d words differ from the pattern, first at byte %d" %
	          (len(bad), n * 64, (first * 512 + bad[0] * 8) if bad else -1))
	    sys.exit(1)
	EOF
}

# --- EIO -------------------------------------------------------------------------------------

# Sectors 2048..2055 fail: requests touching them get IOERR, the others go on, and so does wisp.
test_fault_eio_sectors_give_ioerr() {
	[ -n "$FAULT_SKIP" ] && return 0
	trap ffs_down EXIT
	ffs_up eio --bad 2048+8 || { fail "faultfs did not start"; return 1; }
	run eio 60 $WISP run --stats -k $G -d "$FFS_MNT/disk" \
		-p "wisp.test=blkfault fault.ops=w0+8,r2048+8,w2044+8,r2040+8,w2056+8,r0+8,f,r2056+8,x0+7"
	expect_status 7 &&
		expect_out "fault: write 0+8: OK" &&
		expect_out "fault: read 2048+8: IOERR" &&
		expect_out "fault: write 2044+8: IOERR" &&
		expect_out "fault: read 2040+8: OK zeros" &&
		expect_out "fault: write 2056+8: OK" &&
		expect_out "fault: read 0+8: OK pattern" &&
		expect_out "fault: flush: OK" &&
		expect_out "fault: read 2056+8: OK pattern" &&
		expect_err "stats: disk 0 .*: 8 requests, 2 with an error status" || return 1
	grep -q "read 2048+8: EIO" "$FFS_LOG" && grep -q "write 2044+8: EIO" "$FFS_LOG" ||
		fail "the server did not fail what the guest asked: $(cat "$FFS_LOG")" || return 1
	check_pattern "$FFS_IMG" $SEED 0 8 && check_pattern "$FFS_IMG" $SEED 2056 8 ||
		fail "the good writes are not on the image"
}

# The disk dies while the guest uses it: reads, writes and flushes turn IOERR, wisp goes on.
test_fault_disk_fails_while_running() {
	[ -n "$FAULT_SKIP" ] && return 0
	trap 'ffs_down; [ -n "${WPID:-}" ] && kill -9 $WPID 2>/dev/null' EXIT
	ffs_up dies || { fail "faultfs did not start"; return 1; }
	: >"$OUTDIR/dies.out"
	$WISP run --stats -k $G -d "$FFS_MNT/disk" \
		-p "wisp.test=blkfault fault.ops=w0+8,e0+8,w8+8,f,x0+7" \
		</dev/null >"$OUTDIR/dies.out" 2>"$OUTDIR/dies.err" &
	WPID=$!
	last=dies
	wait_line "$OUTDIR/dies.out" "fault: reading 0+8 until it fails" ||
		{ fail "the guest never started reading"; return 1; }
	kill -USR1 "$FFS_PID"
	wait $WPID
	status=$? WPID=
	expect_status 7 &&
		expect_out "fault: write 0+8: OK" &&
		expect_out "fault: read 0+8 turned IOERR" &&
		expect_out "fault: write 8+8: IOERR" &&
		expect_out "fault: flush: IOERR" &&
		expect_err "disk '.*': flush failed" || return 1
	check_pattern "$FFS_IMG" $SEED 0 8 || fail "the write before the failure is not on the image"
}

# Durability: one fsync fails (as Linux reports a lost writeback once); that FLUSH and every
# later one are IOERR, though the host's later fsyncs succeed.
test_fault_failed_fsync_is_never_a_later_success() {
	[ -n "$FAULT_SKIP" ] && return 0
	trap ffs_down EXIT
	ffs_up fsync --fsync-fail-once || { fail "faultfs did not start"; return 1; }
	run fsync 60 $WISP run -k $G -d "$FFS_MNT/disk" \
		-p "wisp.test=blkfault fault.ops=w0+8,f,f,w8+8,f,r8+8,x0+7"
	expect_status 7 &&
		[ "$(grep -c "fault: flush: IOERR" "$OUTDIR/fsync.out")" = 3 ] ||
		fail "expected 3 flushes answered IOERR" || return 1
	expect_out "fault: write 8+8: OK" && expect_out "fault: read 8+8: OK pattern" &&
		expect_err "flush failed" || return 1
	[ "$(grep -c "fsync: EIO" "$FFS_LOG")" = 1 ] || fail "the host failed fsync more than once"
}

# --- ENOSPC ----------------------------------------------------------------------------------

# A 64 MiB sparse image on a 1.5 MiB tmpfs: the first 1 MiB fits, writes past the space are
# IOERR, the data written before reads back, wisp goes on.
test_fault_enospc_gives_ioerr() {
	[ -n "$FAULT_SKIP" ] && return 0
	local mnt
	mnt=$(mktemp -d /tmp/wisp-tiny.XXXXXX)
	trap "umount -l $mnt 2>/dev/null; rmdir $mnt" EXIT
	mount -t tmpfs -o size=1536k wisp-tiny "$mnt" || { fail "cannot mount a tmpfs"; return 1; }
	truncate -s 64M "$mnt/disk.img"
	run enospc 60 $WISP run --stats -k $G -d "$mnt/disk.img" \
		-p "wisp.test=blkfault fault.ops=w0+2048,w2048+2048,w4096+8,r0+2048,f,x0+7"
	expect_status 7 &&
		expect_out "fault: write 0+2048: OK" &&
		expect_out "fault: write 2048+2048: IOERR" &&
		expect_out "fault: write 4096+8: IOERR" &&
		expect_out "fault: read 0+2048: OK pattern" &&
		expect_out "fault: flush: OK" &&
		expect_err "stats: disk 0 .*: 5 requests, 2 with an error status" || return 1
	check_pattern "$mnt/disk.img" $SEED 0 2048 || fail "the first MiB is not on the image"
}

# --- the tap ---------------------------------------------------------------------------------

# The tap is deleted while the guest sends: its frames are dropped and counted, wisp stops
# watching the dead tap (it polls EPOLLERR forever, which would spin the event loop) and
# exits with the guest's status.
test_fault_tap_deleted_while_running() {
	[ -n "$FAULT_SKIP" ] && return 0
	local ns=wispflt$$r$RANDOM tap=wf$RANDOM fifo=$OUTDIR/tapdel.in fd epfd= tunfd=
	trap "exec 7>&-; [ -n \"\${WPID:-}\" ] && kill -9 \$WPID 2>/dev/null; ip netns del $ns 2>/dev/null" EXIT
	ip netns add $ns && ip -n $ns tuntap add dev $tap mode tap && ip -n $ns link set $tap up ||
		{ fail "cannot make a namespace and a tap"; return 1; }
	rm -f "$fifo" && mkfifo "$fifo" && : >"$OUTDIR/tapdel.out"
	ip netns exec $ns $WISP run --stats -k $G -n tap=$tap \
		-p "wisp.test=blkfault fault.ops=n,t0+20,i,t0+30,m,i,x0+9" \
		<"$fifo" >"$OUTDIR/tapdel.out" 2>"$OUTDIR/tapdel.err" &
	WPID=$!
	exec 7>"$fifo"
	last=tapdel
	wait_line "$OUTDIR/tapdel.out" "fault: waiting for input" || { fail "the guest never got ready"; return 1; }
	ip -n $ns link del $tap
	printf g >&7
	wait_line "$OUTDIR/tapdel.out" "fault: marker 1" || { fail "the guest stopped after the tap went"; return 1; }
	# The dead tap must be out of every epoll set of wisp's (else its EPOLLERR spins).
	for fd in /proc/$WPID/fd/*; do
		[ "$(readlink "$fd")" = /dev/net/tun ] && tunfd=${fd##*/}
		[ "$(readlink "$fd")" = "anon_inode:[eventpoll]" ] && epfd="$epfd ${fd##*/}"
	done
	[ -n "$tunfd" ] && [ -n "$epfd" ] || { fail "no tap or epoll fd in /proc/$WPID/fd"; return 1; }
	for fd in $epfd; do
		! grep -q "^tfd: *$tunfd " /proc/$WPID/fdinfo/$fd ||
			{ fail "the deleted tap (fd $tunfd) is still in epoll fd $fd"; return 1; }
	done
	printf g >&7
	wait $WPID
	status=$? WPID=
	expect_status 9 &&
		expect_out "fault: net sent 20 frames, all back" &&
		expect_out "fault: net sent 30 frames, all back" &&
		expect_err "tap '$tap': .*: its packets are dropped from now on" &&
		expect_err "stats: net 0 ($tap): tx 20 frames, 30 dropped"
}

# --- signals ---------------------------------------------------------------------------------

# SIGTERM while the guest keeps 16 writes in flight, wisp on a terminal: status 143, the
# terminal restored, no request failed, every write the guest saw completed is on the image,
# and the writes in flight at the signal were finished whole: no 64 KiB write is torn (each
# holds one pass's pattern in every sector, or nothing yet).
test_fault_sigterm_with_io_in_flight() {
	local d=$OUTDIR/sigterm.img
	rm -f "$d" && truncate -s 64M "$d"
	last=sigterm
	python3 tests/integration/sigpty.py TERM "through sector 16384" "$OUTDIR/sigterm.out" \
		$WISP run --stats -k $G -d "$d" -p "wisp.test=blkfault fault.ops=b0+131072" \
		>"$OUTDIR/sigterm.err" 2>&1
	grep -q "sigpty: exit 143" "$OUTDIR/sigterm.err" || fail "$(cat "$OUTDIR/sigterm.err")" || return 1
	grep -q "sigpty: terminal restored" "$OUTDIR/sigterm.err" || fail "$(cat "$OUTDIR/sigterm.err")" || return 1
	grep -q "sigpty: raw while running" "$OUTDIR/sigterm.err" || fail "the terminal was not raw" || return 1
	grep -aq "stats: disk 0 .*: [0-9]* requests, 0 with an error status" "$OUTDIR/sigterm.out" ||
		fail "requests failed, or no --stats at the stop" || return 1
	python3 - "$d" $SEED "$OUTDIR/sigterm.out" <<-'EOF' || fail "the image does not hold what the guest saw written"
	import re, struct, sys
	path, seed, out = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], 'rb').read().decode('latin-1')
	M = (1 << 64) - 1
	def word(s, i):
	    z = (((i + 1) * 0x9e3779b97f4a7c15) & M) ^ s
	    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
	    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
	    return z ^ (z >> 31)
	p, x = map(int, re.findall(r'fault: busy pass (\d+) through sector (\d+)', out)[-1])
	img = open(path, 'rb').read()
	# Each 64 KiB write (128 sectors) must be whole: every sector's first and last words from
	# one pass. Below the last reported sector: pass p, or p + 1 once it started over; above
	# it: p - 1 (nothing yet when p is 0), p, or p + 1.
	bad = 0
	for c in range(len(img) // (64 << 10)):
	    ws = [(c * 128 + k) * 64 + j for k in range(128) for j in (0, 63)]
	    got = [struct.unpack_from('<Q', img, w * 8)[0] for w in ws]
	    ok = [p, p + 1] if c * 128 < x else [p - 1, p, p + 1]
	    if not any(q >= 0 and got == [word(seed + q, w) for w in ws] for q in ok) and \
	       not (c * 128 >= x and p == 0 and not any(got)):
	        bad += 1
	        if bad < 4:
	            print("    sectors %d..%d: not one whole write of passes %s" % (c * 128, c * 128 + 127, ok))
	print("    last report: pass %d through sector %d; %d bad 64 KiB writes" % (p, x, bad))
	# In the first pass: --stats counts the requests completed when the vCPUs stopped; the
	# writes then in flight (16 at most) were finished at close, whole (above), so the
	# chunks written are those plus at most 16.
	done = int(re.search(r'stats: disk 0 .*: (\d+) requests', out).group(1))
	written = sum(1 for c in range(len(img) // (64 << 10)) if any(img[c << 16:(c + 1) << 16]))
	print("    %d requests completed at the stop, %d chunks written" % (done, written))
	if p == 0 and not 0 <= written - done <= 16:
	    bad += 1
	sys.exit(1 if bad else 0)
	EOF
}

# SIGTERM flushes the disks: the guest writes and never flushes; the only fsync the disk
# sees is wisp's at the stop, and the write is on the image.
test_fault_sigterm_flushes_the_disk() {
	[ -n "$FAULT_SKIP" ] && return 0
	trap 'ffs_down; [ -n "${WPID:-}" ] && kill -9 $WPID 2>/dev/null' EXIT
	ffs_up termflush || { fail "faultfs did not start"; return 1; }
	: >"$OUTDIR/termflush.out"
	$WISP run -k $G -d "$FFS_MNT/disk" -p "wisp.test=blkfault fault.ops=w0+8,m,h" \
		</dev/null >"$OUTDIR/termflush.out" 2>"$OUTDIR/termflush.err" &
	WPID=$!
	last=termflush
	wait_line "$OUTDIR/termflush.out" "fault: marker 1" || { fail "the guest never wrote"; return 1; }
	grep -q "fsync" "$FFS_LOG" && { fail "an fsync before the stop: $(cat "$FFS_LOG")"; return 1; }
	kill -TERM $WPID
	wait $WPID
	status=$? WPID=
	expect_status 143 && expect_out "fault: write 0+8: OK" || return 1
	[ "$(cat "$FFS_LOG")" = "faultfs: fsync: OK" ] || fail "not flushed at the stop: $(cat "$FFS_LOG")" || return 1
	check_pattern "$FFS_IMG" $SEED 0 8 || fail "the write is not on the image"
}

# SIGKILL right after the guest's FLUSH completed: the data is in the image file (checked
# from the host), with the page cache (default) and with cache=none (O_DIRECT).
sigkill_case() { # NAME DISK-OPTS
	local d=$OUTDIR/$1.img
	rm -f "$d" && truncate -s 16M "$d" && : >"$OUTDIR/$1.out"
	trap '[ -n "${WPID:-}" ] && kill -9 $WPID 2>/dev/null' EXIT
	$WISP run -k $G -d "$d$2" -p "wisp.test=blkfault fault.ops=w0+2048,w2048+2048,w8192+8,f,m,h" \
		</dev/null >"$OUTDIR/$1.out" 2>"$OUTDIR/$1.err" &
	WPID=$!
	last=$1
	wait_line "$OUTDIR/$1.out" "fault: marker 1" || { fail "the guest never flushed"; return 1; }
	kill -KILL $WPID
	wait $WPID
	status=$? WPID=
	expect_status 137 && expect_out "fault: flush: OK" || return 1
	check_pattern "$d" $SEED 0 4096 && check_pattern "$d" $SEED 8192 8 ||
		fail "flushed data is missing from the image"
}

test_fault_sigkill_after_flush() { sigkill_case sigkill ""; }
test_fault_sigkill_after_flush_cache_none() { sigkill_case sigkilld ",cache=none"; }

# SIGPIPE: stdout (and then stderr too) a pipe whose reader is gone before wisp starts, the
# guest printing 300 lines: wisp exits with the guest's status, never 141 (SIGPIPE).
sigpipe_case() { # NAME STDERR-TOO
	run "$1" 60 python3 -c '
import os, subprocess, sys
wisp, guest, both = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
r, w = os.pipe()
os.close(r)
p = subprocess.run([wisp, "run", "-k", guest, "-p", "wisp.test=blkfault fault.ops=p0+300,x0+7"],
                   stdin=subprocess.DEVNULL, stdout=w, stderr=w if both else None)
print("exit %d" % (128 - p.returncode if p.returncode < 0 else p.returncode))
' "$WISP" "$G" "$2"
	expect_out "^exit 7$"
}

test_fault_sigpipe_on_stdout_ignored() { sigpipe_case sigpipe 0; }
test_fault_sigpipe_on_stdout_and_stderr_ignored() { sigpipe_case sigpipe2 1; }

# The same through a real pipeline: `wisp | head -n 1`.
test_fault_sigpipe_head_closes_early() {
	local st
	last=sighead
	$WISP run -k $G -p "wisp.test=blkfault fault.ops=p0+300,x0+7" </dev/null 2>"$OUTDIR/sighead.err" |
		head -n 1 >"$OUTDIR/sighead.out"
	st=${PIPESTATUS[0]}
	[ "$st" = 7 ] || fail "exit status $st, expected 7 (141 is death by SIGPIPE)"
}

# A fatal signal sent to wisp on a terminal: logged by name, the terminal restored, and wisp
# dies by it (a shell sees 128 + N).
fatal_case() { # SIGNAL NUMBER
	last=fatal$1
	python3 tests/integration/sigpty.py $1 "hang: ready" "$OUTDIR/$last.out" \
		$WISP run -k $G -p wisp.test=hang >"$OUTDIR/$last.err" 2>&1
	grep -q "sigpty: exit $((128 + $2))" "$OUTDIR/$last.err" &&
		grep -q "sigpty: terminal restored" "$OUTDIR/$last.err" ||
		fail "$(cat "$OUTDIR/$last.err")" || return 1
	expect_out "wisp: fatal signal $2 (SIG$1)"
}

test_fault_sigsegv_logged() { fatal_case SEGV 11; }
test_fault_sigbus_logged() { fatal_case BUS 7; }
