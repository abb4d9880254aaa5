#!/bin/bash
# The load tier: many wisp VMs at once, and a soak. Closes with "N passed, N failed".
#
#   LOAD_VMS test guests (default 20) started at once, each with its own disk image and its
#     own tap (one network namespace, a tap peer on each): all boot, all exit 0, each wrote
#     and read back its own pattern (checked on the host too), echoed frames off its own peer
#     and ran blk + net traffic; while they run, each wisp holds its own image's lock and
#     its own tap, and the open-fd counts are equal across VMs and small.
#   LOAD_LINUX Linux guests (default 3) at once, a disk each: all reach init, write their
#     name to their own disk (read back from the image on the host), and exit 0.
#   the same disk read-write twice, and the same (single-queue) tap twice: the second VM is
#     refused with a clear error, the first keeps running.
#   bench/soak for LOAD_SOAK_MIN minutes (default 2): no fd growth, RssAnon growth within
#     the soak's bound after its warm-up (a leak check; nothing is timed).
# LOAD_ONLY=REGEX runs only the tests whose names match.
set -u
cd "$(dirname "$0")/../.."
OUTDIR=build/load
rm -rf "$OUTDIR"
. tests/integration/lib.sh
G=build/guest/test-guest.elf
N=${LOAD_VMS:-20}
NLX=${LOAD_LINUX:-3}
SOAK_MIN=${LOAD_SOAK_MIN:-2}

if [ ! -w /dev/kvm ]; then
	echo "load: SKIPPED: /dev/kvm is missing or not writable (these tests boot guests)"
	echo "0 passed, 0 failed, 5 skipped"
	exit 0
fi
make -s all guest >/dev/null || { echo "load: FAIL: the build failed"; echo "0 passed, 1 failed"; exit 1; }
NET_SKIP=
if ! ip netns add wispprobe$$ 2>/dev/null || ! ip -n wispprobe$$ tuntap add dev wprobe0 mode tap 2>/dev/null; then
	NET_SKIP="no network namespace or tap (needs root, /dev/net/tun)"
fi
ip netns del wispprobe$$ 2>/dev/null

# Host-side check of the pattern `load` writes over the first 64 KiB: seed 0x10ad0000 + id.
check_images() { # ID:IMAGE...
	python3 - "$@" <<-'EOF'
	import sys, array
	M = (1 << 64) - 1
	def word(seed, i):
	    z = (((i + 1) * 0x9e3779b97f4a7c15) & M) ^ seed
	    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
	    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
	    return z ^ (z >> 31)
	bad = 0
	for arg in sys.argv[1:]:
	    vid, path = arg.split(":", 1)
	    seed = 0x10ad0000 + int(vid)
	    a = array.array('Q', open(path, 'rb').read(64 << 10))
	    if any(a[i] != word(seed, i) for i in range(len(a))):
	        print("    image of VM %s (%s) does not hold its pattern" % (vid, path))
	        bad += 1
	sys.exit(1 if bad else 0)
	EOF
}

# One sample of a running VM: "fds TAPS LOCKED" (LOCKED: 1 if it holds IMAGE's lock).
sample() { # PID IMAGE
	local fds taps ino
	fds=$(ls "/proc/$1/fd" | wc -l)
	taps=$(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^iff:/ {print $2}' | sort | tr '\n' ,)
	ino=$(stat -c %i "$2")
	grep -Eq "FLOCK +ADVISORY +WRITE +$1 +[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks && l=1 || l=0
	echo "$fds ${taps:-none} $l"
}

test_test_guests_at_once() {
	[ -n "$NET_SKIP" ] && { echo "    skipped: $NET_SKIP"; return 0; }
	local ns=wispload$$ i tpid=() peer=() tap img ok=0 rc fds0= bad=0 imgs=()
	ip netns add $ns && ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || { echo "    cannot make $ns"; return 1; }
	for i in $(seq "$N"); do
		tap=wl$$x$i
		ip -n $ns tuntap add dev $tap mode tap && ip -n $ns link set $tap up ||
			{ kill "${peer[@]}" 2>/dev/null; wait; ip netns del $ns; return 1; }
		ip netns exec $ns python3 tests/integration/tappeer.py $tap 300 >"$OUTDIR/vm$i.peer" 2>&1 &
		peer[i]=$!
		truncate -s 32M "$OUTDIR/vm$i.img"
		imgs+=("$i:$OUTDIR/vm$i.img")
	done
	for i in $(seq "$N"); do
		for _ in $(seq 200); do grep -qs "tappeer: ready" "$OUTDIR/vm$i.peer" && break; sleep 0.05; done
	done
	# All at once: nothing waits for anything before the last one is started.
	for i in $(seq "$N"); do
		# bash, ip netns exec and wisp are one process (each execs the next): its pid.
		timeout -k 5 300 bash -c 'echo $$ >"$0"; exec "$@"' "$OUTDIR/vm$i.pid" \
			ip netns exec $ns $WISP run --stats -k $G -m 64M -d "$OUTDIR/vm$i.img" \
			-n "tap=wl$$x$i" -p "wisp.test=load load.id=$i secs=20 load.period=1000 duty=10 load.flood=0 report=5" \
			</dev/null >"$OUTDIR/vm$i.out" 2>"$OUTDIR/vm$i.err" &
		tpid[i]=$!
	done
	# Sample each VM once while its traffic runs (devices set up, every fd open). The sampler
	# must not starve behind the VMs it watches: it runs at a higher priority.
	renice -n -10 $BASHPID >/dev/null
	local left=$N
	while [ $left -gt 0 ]; do
		left=0
		for i in $(seq "$N"); do
			[ -s "$OUTDIR/vm$i.sample" ] && continue
			kill -0 "${tpid[i]}" 2>/dev/null || continue
			left=$((left + 1))
			grep -qs "^load: traffic" "$OUTDIR/vm$i.out" || continue
			pid=$(cat "$OUTDIR/vm$i.pid")
			[ -n "$pid" ] && sample "$pid" "$OUTDIR/vm$i.img" >"$OUTDIR/vm$i.sample"
			# Taken after the traffic (the closing check, or wisp tearing down)? Not a sample.
			grep -q "^load: id=$i disk verified" "$OUTDIR/vm$i.out" && : >"$OUTDIR/vm$i.sample"
		done
		sleep 0.2
	done
	renice -n 0 $BASHPID >/dev/null
	for i in $(seq "$N"); do
		wait "${tpid[i]}"
		rc=$?
		last=vm$i
		local s= err=
		[ -s "$OUTDIR/vm$i.sample" ] && s=$(cat "$OUTDIR/vm$i.sample")
		[ -e "$OUTDIR/vm$i.sample" ] && [ -z "$s" ] && s="missed"
		set -- $s
		if [ "$rc" != 0 ]; then err="exit status $rc"
		elif ! grep -q "wisp-test-guest: PASS" "$OUTDIR/vm$i.out"; then err="no PASS"
		elif ! grep -q "^load: id=$i disk verified" "$OUTDIR/vm$i.out"; then err="no per-VM check after the traffic"
		elif ! grep -Eq "^load: done id=$i blk=[1-9][0-9]* tx=[1-9]" "$OUTDIR/vm$i.out"; then err="no traffic"
		elif ! grep -q "stats: net 0 (wl$$x$i): tx [0-9]* frames, 0 dropped; rx [1-9][0-9]* frames, 0 dropped" "$OUTDIR/vm$i.err"; then err="net stats"
		elif ! grep -q "stats: disk 0 ($OUTDIR/vm$i.img): [1-9][0-9]* requests, 0 with an error" "$OUTDIR/vm$i.err"; then err="disk stats"
		elif [ -z "$s" ]; then err="never sampled while running"
		elif [ "$s" = missed ]; then err="seen only after its traffic (the sampler was too slow)"
		elif [ "$2" != "wl$$x$i," ]; then err="its tun fds are attached to '$2', not to its own tap only"
		elif [ "$3" != 1 ]; then err="it does not hold the lock of its own image"
		elif [ "$1" -gt 64 ]; then err="$1 open fds"
		elif [ -n "$fds0" ] && [ "$1" != "$fds0" ]; then err="$1 open fds, the VMs before it $fds0"
		fi
		[ -z "$fds0" ] && [ -z "$err" ] && fds0=$1
		if [ -n "$err" ]; then
			bad=$((bad + 1))
			echo "    FAIL: VM $i: $err"
			tail -n 2 "$OUTDIR/vm$i.out" "$OUTDIR/vm$i.err" | sed 's/^/      /'
		else
			ok=$((ok + 1))
		fi
	done
	sleep 0.3
	for i in $(seq "$N"); do
		kill "${peer[i]}" 2>/dev/null
		grep -q "tappeer: summary good=[1-9][0-9]* badcrc=0" "$OUTDIR/vm$i.peer" ||
			{ echo "    VM $i's peer: $(grep summary "$OUTDIR/vm$i.peer")"; bad=$((bad + 1)); }
	done
	wait 2>/dev/null
	ip netns del $ns
	check_images "${imgs[@]}" || bad=$((bad + 1))
	echo "    $ok of $N VMs right, each with ${fds0:-?} open fds while running"
	[ $bad = 0 ] && [ $ok = "$N" ]
}

test_linux_guests_at_once() {
	local dir i tpid=() ok=0 rc
	dir=$(images/build.sh) || { echo "    the Linux image did not build"; return 1; }
	for i in $(seq "$NLX"); do
		rm -f "$OUTDIR/lx$i.img" && truncate -s 16M "$OUTDIR/lx$i.img"
		timeout -k 5 900 $WISP run -k "$dir/vmlinux" -i "$dir/initramfs.cpio" -m 128M \
			-d "$OUTDIR/lx$i.img,serial=lx$i" -p "quiet mitigations=off wisp.run=\"echo linux-vm-$i | dd of=/dev/vda conv=fsync 2>/dev/null && echo wrote-$i serial=\$(cat /sys/block/vda/serial)\"" \
			</dev/null >"$OUTDIR/lx$i.out" 2>"$OUTDIR/lx$i.err" &
		tpid[i]=$!
	done
	for i in $(seq "$NLX"); do
		wait "${tpid[i]}"
		status=$?
		last=lx$i
		expect_status 0 && expect_out "wisp-init: ready" && expect_out "wisp-init: status 0" &&
			expect_out "wrote-$i serial=lx$i" &&
			[ "$(head -c 11 "$OUTDIR/lx$i.img")" = "linux-vm-$i" ] ||
			{ fail "Linux VM $i (its image starts with '$(head -c 11 "$OUTDIR/lx$i.img" | tr -dc '[:print:]')')"; continue; }
		ok=$((ok + 1))
	done
	echo "    $ok of $NLX Linux VMs reached init, wrote their own disk and exited 0"
	[ $ok = "$NLX" ]
}

# start_hang NAME ARGS...: a test guest that idles (wisp.test=hang) in the background, up.
start_hang() {
	local name=$1
	shift
	"$@" -k $G -p wisp.test=hang </dev/null >"$OUTDIR/$name.out" 2>"$OUTDIR/$name.err" &
	HANG=$!
	for _ in $(seq 200); do grep -qs "hang: ready" "$OUTDIR/$name.out" && return 0; sleep 0.05; done
	echo "    $name did not start: $(cat "$OUTDIR/$name.err")"
	return 1
}

stop_hang() { # the first VM is still running and stops on SIGTERM (143)
	kill -0 "$HANG" 2>/dev/null || { echo "    the first VM is gone"; return 1; }
	kill "$HANG"
	wait "$HANG"
	[ $? = 143 ] || { echo "    the first VM did not stop with 143"; return 1; }
}

test_same_disk_twice_is_refused() {
	local d=$OUTDIR/shared.img
	truncate -s 16M "$d"
	start_hang diskA $WISP run -d "$d" || return 1
	run diskB 30 $WISP run -k $G -d "$d" -p wisp.test=boot
	expect_host_error "in use by another VM (locked)" || { stop_hang; return 1; }
	run diskBro 30 $WISP run -k $G -d "$d,ro" -p wisp.test=boot
	expect_host_error "in use by another VM (locked)" || { stop_hang; return 1; }
	stop_hang || return 1
	# Read-only, it is shared: two VMs on it at once.
	start_hang diskRO1 $WISP run -d "$d,ro" || return 1
	run diskRO2 30 $WISP run -k $G -d "$d,ro" -p "wisp.test=boot expect.token=shared"
	expect_status 0 && expect_out "wisp-test-guest: PASS" || { stop_hang; return 1; }
	stop_hang
}

test_same_tap_twice_is_refused() {
	[ -n "$NET_SKIP" ] && { echo "    skipped: $NET_SKIP"; return 0; }
	local ns=wispltap$$ tap=wtwice$$ r=0
	ip netns add $ns && ip -n $ns tuntap add dev $tap mode tap || return 1
	start_hang tapA ip netns exec $ns $WISP run -n "tap=$tap" || { ip netns del $ns; return 1; }
	run tapB 30 ip netns exec $ns $WISP run -k $G -n "tap=$tap" -p wisp.test=boot
	expect_host_error "tap '$tap': in use by another process (another VM?)" || r=1
	stop_hang || r=1
	# Free again once the first VM is gone: the refusal was the tap being busy.
	run tapC 30 ip netns exec $ns $WISP run -k $G -n "tap=$tap" -p "wisp.test=boot expect.token=again"
	expect_status 0 && expect_out "wisp-test-guest: PASS" || r=1
	ip netns del $ns
	return $r
}

test_soak_is_flat() {
	[ -n "$NET_SKIP" ] && { echo "    skipped: $NET_SKIP"; return 0; }
	local csv=$OUTDIR/soak.csv warm=30 r=0
	SOAK_CSV=$csv SOAK_WARMUP=$warm bench/soak "$SOAK_MIN" >"$OUTDIR/soak.log" 2>&1
	r=$?
	sed 's/^/    /' "$OUTDIR/soak.log" | grep -v '^    bench/soak: [0-9]' | tail -n 9
	[ $r = 0 ] && grep -q "^flat " "$OUTDIR/soak.log" || { echo "    bench/soak: status $r"; return 1; }
	# The samples themselves, read here too: enough of them, fds never changing after warm-up.
	awk -F, -v warm=$warm 'NR > 1 && $1 >= warm { n++; f[$4]++ }
		END { exit !(n >= 10 && length(f) == 1) }' "$csv" ||
		{ echo "    $csv: fewer than 10 samples after ${warm}s, or the fd count changed"; return 1; }
}

passed=0 failed=0
tier_start=$(date +%s)
for t in $(declare -F | awk '$3 ~ /^test_/ {print $3}' | grep -E -- "${LOAD_ONLY:-.}"); do
	start=$(date +%s.%N)
	if out=$($t 2>&1); then
		passed=$((passed + 1))
		printf '  ok   %-40s %6.1fs\n' "$t" "$(echo "$(date +%s.%N) - $start" | bc)"
	else
		failed=$((failed + 1))
		printf '  FAIL %-40s %6.1fs\n' "$t" "$(echo "$(date +%s.%N) - $start" | bc)"
	fi
	[ -n "$out" ] && echo "$out"
done
echo "load tier: $(($(date +%s) - tier_start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
