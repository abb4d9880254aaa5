# Hostile test-guest scenarios that need more from the host than an exit status: wisp's
# memory sampled during a submission flood, a read-only disk, the image after a rewrite race.
G=build/guest/test-guest.elf

himg() { # NAME MiB: a fresh sparse image in $OUTDIR; prints its path.
	local p=$OUTDIR/$1.img
	rm -f "$p" && truncate -s "$2M" "$p" && echo "$p"
}

# kB of anonymous memory (RssAnon) of a process.
rss_anon() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# BAD-INPUTS "submission flood: memory use stays bounded". 8 vCPUs, so 8 queues of 256
# requests: 2048 in flight, more than wisp's 1024 request slots per disk. At each
# "phase" line the guest prints, wisp's RssAnon is sampled and a byte goes back on COM1;
# the guest cannot finish the next phase without it, so every sample is taken while
# every queue is full. Guest RAM is touched before the first sample and not after, so
# RssAnon may grow by FLOOD_GROWTH_KB at most from the first sample to any later one, and
# wisp's own memory (--stats: RSS net of guest RAM) stays under FLOOD_OWN_KB: the request
# slots are capped at 1024 x ~4.2 KiB per disk.
FLOOD_GROWTH_KB=1024
FLOOD_OWN_KB=16384
flood_case() { # NAME TRANSPORT DRIVER
	local a b fifo=$OUTDIR/$1.in out=$OUTDIR/$1.out pid seen=0 n rss own max first
	local -a samples=()
	a=$(himg "$1" 64) b=$(himg "$1b" 64)
	last=$1
	# A stale output file would be counted before wisp truncates it.
	rm -f "$fifo" "$out" && mkfifo "$fifo" || { fail "mkfifo"; return 1; }
	exec 3<>"$fifo"
	timeout -k 5 300 $WISP run -k $G -c 8 -d "$a,transport=$2" -d "$b" --stats \
		-p "wisp.test=hostile-flood virtio.transport=$3 disks=2 flood.ack=1" \
		<"$fifo" >"$out" 2>"$OUTDIR/$1.err" &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		n=$(grep -c '^hostile: flood: phase' "$out" 2>/dev/null || true)
		n=${n:-0}
		if [ "$n" -gt "$seen" ]; then
			# The timeout wrapper's child is wisp.
			rss=$(rss_anon "$(pgrep -P $pid | head -n 1)")
			[ -n "$rss" ] && samples+=("$rss")
			# One byte per line (lines may come faster than this loop).
			while [ "$seen" -lt "$n" ]; do printf 'a' >&3; seen=$((seen + 1)); done
		fi
		sleep 0.05
	done
	status=0
	wait $pid || status=$?
	exec 3>&-
	expect_status 0 && expect_out "wisp-test-guest: PASS" || return 1
	echo "    RssAnon at each phase (kB): ${samples[*]}"
	[ "${#samples[@]}" -ge 4 ] || { fail "only ${#samples[@]} samples of wisp's memory"; return 1; }
	first=${samples[0]} max=$first
	for rss in "${samples[@]}"; do [ "$rss" -gt "$max" ] && max=$rss; done
	[ $((max - first)) -le $FLOOD_GROWTH_KB ] ||
		{ fail "RssAnon grew by $((max - first)) kB during the flood (bound $FLOOD_GROWTH_KB)"; return 1; }
	own=$(sed -n "s/.*wisp's own \([0-9]*\) KiB.*/\1/p" "$OUTDIR/$1.err")
	[ -n "$own" ] && [ "$own" -le $FLOOD_OWN_KB ] ||
		fail "wisp's own memory ${own:-?} KiB after the flood (bound $FLOOD_OWN_KB)"
}

test_hostile_flood_memory_bounded_modern() { flood_case hfloodm modern modern; }
test_hostile_flood_memory_bounded_legacy() { flood_case hfloodl transitional legacy; }

# Descriptors and request headers rewritten after the kick (hostile-rewrite): the guest checks
# each result is one version of the request; here, that no version that was refused
# (a write past the capacity) reached the image: its size is unchanged.
rewrite_case() { # NAME TRANSPORT DRIVER
	local a b
	a=$(himg "$1" 64) b=$(himg "$1b" 64)
	run "$1" 180 $WISP run -k $G -c 2 -d "$a,transport=$2" -d "$b" \
		-p "wisp.test=hostile-rewrite virtio.transport=$3 disks=2"
	expect_status 0 && expect_out "wisp-test-guest: PASS" || return 1
	[ "$(stat -c %s "$a")" = $((64 << 20)) ] || fail "the image is now $(stat -c %s "$a") bytes"
}

test_hostile_rewrite_after_kick_modern() { rewrite_case hrwm modern modern; }
test_hostile_rewrite_after_kick_legacy() { rewrite_case hrwl transitional legacy; }

# A read-only disk whose driver declined VIRTIO_BLK_F_RO: writes, WRITE_ZEROES and DISCARD
# refused (hostile-ro-declined); the image is unchanged (a host-side check too).
ro_declined_case() { # NAME TRANSPORT DRIVER
	local a b sum
	a=$(himg "$1" 16) b=$(himg "$1b" 16)
	printf 'wisp read-only' | dd of="$a" conv=notrunc status=none
	sum=$(md5sum <"$a")
	run "$1" 120 $WISP run -k $G -c 2 -d "$a,ro,transport=$2" -d "$b" \
		-p "wisp.test=hostile-ro-declined virtio.transport=$3 disks=2"
	expect_status 0 && expect_out "ro-declined: F_RO offered and declined" &&
		expect_out "wisp-test-guest: PASS" || return 1
	[ "$(md5sum <"$a")" = "$sum" ] || fail "the read-only image changed"
}

test_hostile_ro_declined_modern() { ro_declined_case hrom modern modern; }
test_hostile_ro_declined_legacy() { ro_declined_case hrol transitional legacy; }

# BAD-INPUTS "unknown port or MMIO access: reads all-ones, writes ignored, counted
# (rate-limited log)". The unclaimed scenario makes 6 port accesses (3 reads, 3 writes)
# and 9 MMIO ones (4 reads, 4 writes, 1 read back): --stats counts each, and the debug
# log stops after IO_BUS_LOG_LIMIT (5) lines per bus, saying so.
test_unclaimed_counted_and_log_rate_limited() {
	run unclaimedv 30 $WISP run -k $G --stats -v -v -p "wisp.test=unclaimed"
	expect_status 0 && expect_err "unclaimed accesses: 6 port, 9 MMIO" || return 1
	local np nm
	np=$(grep -c 'unclaimed port' "$OUTDIR/unclaimedv.err")
	nm=$(grep -c 'unclaimed mmio' "$OUTDIR/unclaimedv.err")
	[ "$np" = 5 ] && [ "$nm" = 5 ] && [ "$(grep -c 'not logging more' "$OUTDIR/unclaimedv.err")" = 2 ] ||
		fail "logged $np port and $nm MMIO lines, expected 5 each, each ending 'not logging more'"
}
