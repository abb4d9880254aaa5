# Hostile test-guest scenarios that need more from the host than an exit status: wisp's
# memory sampled during a submission flood, a read-only disk, the image after a rewrite race.
G=build/guest/test-guest.elf

himg() { # NAME MiB: a fresh sparse image in $OUTDIR; prints its path.
	local p=$OUTDIR/$1.img
	rm -f "$p" && truncate -s "$2M" "$p" && echo "$p"
}

# BAD-INPUTS "submission flood: memory use stays bounded". 8 vCPUs, so 8 queues of 256
# requests: 2048 in flight, more than wisp's 1024 request slots per disk. At each
# "phase" line the guest prints, wisp's RssAnon is sampled and a byte goes back on COM1;
# the guest cannot finish the next phase without it, so every sample is taken while
# every queue is full (run_sampled, expect_memory_bounded: lib.sh).
flood_case() { # NAME TRANSPORT DRIVER
	local a b
	a=$(himg "$1" 64) b=$(himg "$1b" 64)
	run_sampled "$1" 300 '^hostile: flood: phase' $WISP run -k $G -c 8 -d "$a,transport=$2" \
		-d "$b" --stats -p "wisp.test=hostile-flood virtio.transport=$3 disks=2 flood.ack=1"
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_memory_bounded 4
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
