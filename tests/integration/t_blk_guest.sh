# virtio-blk under wisp, driven by the test guest: data path, transports, hostile drivers, images.
G=build/guest/test-guest.elf

# img NAME MiB: a fresh sparse image in $OUTDIR; prints its path.
img() {
	local p=$OUTDIR/$1.img
	rm -f "$p" && truncate -s "$2M" "$p" && echo "$p"
}

blk_case() { # NAME TRANSPORT DRIVER EXTRA-KEYS...
	local name=$1 tr=$2 drv=$3
	shift 3
	local d
	d=$(img "$name" 64)
	run "$name" 60 $WISP run -k $G -c 2 -d "$d,transport=$tr,serial=wisp-$tr" \
		-p "wisp.test=blk virtio.transport=$drv expect.capacity=131072 expect.queues=2 expect.serial=wisp-$tr $*"
	expect_status 0 && expect_out "wisp-test-guest: PASS"
}

test_blk_modern() { blk_case blkmod modern modern; }
test_blk_legacy() { blk_case blkleg legacy legacy; }
test_blk_transitional_modern_driver() { blk_case blktrm transitional modern; }
test_blk_transitional_legacy_driver() { blk_case blktrl transitional legacy; }
test_blk_no_event_idx_no_indirect() { blk_case blkplain modern modern virtio.event_idx=0 virtio.indirect=0; }
test_blk_polled() { blk_case blkpoll modern modern virtio.wait=poll; }
test_blk_without_msix_modern() { blk_case blknomsixm modern modern virtio.msix=0; }
test_blk_without_msix_legacy() { blk_case blknomsixl legacy legacy virtio.msix=0; }

test_blk_two_disks_one_read_only() {
	local a b
	a=$(img blk2a 64) b=$(img blk2b 64)
	run blk2 60 $WISP run -k $G -c 2 -d "$a,serial=A" -d "$b,ro,serial=B,transport=legacy" \
		-p "wisp.test=blk disks=2 virtio.transport1=legacy expect.serial0=A expect.serial1=B expect.ro1=1"
	expect_status 0 && expect_out "read-only: write refused"
}

# The guest writes the pattern; the host checks the image after wisp exited (flushed).
test_blk_pattern_reaches_the_image() {
	local d
	d=$(img blkpat 64)
	run blkpat 60 $WISP run -k $G -d "$d" -p "wisp.test=blk pattern.seed=42 pattern.mib=4"
	expect_status 0 && expect_out "pattern: wrote 4 MiB" &&
		python3 - "$d" 42 4 <<-'EOF' || fail "the image does not hold the pattern"
		import sys, array
		path, seed, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
		M = (1 << 64) - 1
		def word(i):
		    z = (((i + 1) * 0x9e3779b97f4a7c15) & M) ^ seed
		    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
		    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
		    return z ^ (z >> 31)
		a = array.array('Q', open(path, 'rb').read(mib << 20))
		bad = [i for i in range(len(a)) if a[i] != word(i)]
		sys.exit(1 if bad or len(a) != (mib << 17) else 0)
		EOF
}

# The host writes the pattern; the guest reads it through a read-only disk.
test_blk_host_pattern_read_by_guest() {
	local d
	d=$(img blkhost 16)
	python3 - "$d" 7 2 <<-'EOF'
	import sys, array
	path, seed, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	M = (1 << 64) - 1
	def word(i):
	    z = (((i + 1) * 0x9e3779b97f4a7c15) & M) ^ seed
	    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
	    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
	    return z ^ (z >> 31)
	with open(path, 'r+b') as f:
	    f.write(array.array('Q', (word(i) for i in range(mib << 17))).tobytes())
	EOF
	run blkhost 60 $WISP run -k $G -d "$d,ro" \
		-p "wisp.test=blk pattern.seed=7 pattern.mib=2 pattern.verify=1 expect.ro=1"
	expect_status 0 && expect_out "pattern: verified 2 MiB"
}

hostile_case() { # SCENARIO TRANSPORT DRIVER
	local a b
	a=$(img "h$1$3" 64) b=$(img "h$1$3b" 64)
	run "h$1$3" 120 $WISP run -k $G -c 2 -d "$a,transport=$2" -d "$b" \
		-p "wisp.test=hostile-$1 virtio.transport=$3 disks=2"
	expect_status 0 && expect_out "wisp-test-guest: PASS"
}

# One test per scenario and interface, so a failure names its rule (hostile-all runs them
# back to back). Modern driver on a modern device, legacy driver on a transitional one.
for _s in queue-regs queue-select msix notify chain chain-forms desc-addr sector status \
	avail-jump geometry config bars reset-inflight dup-head discard reset-io; do
	eval "test_hostile_${_s//-/_}_modern() { hostile_case $_s modern modern; }"
	eval "test_hostile_${_s//-/_}_legacy() { hostile_case $_s transitional legacy; }"
done
unset _s
# Every scenario back to back on one device: what one leaves behind must not break the next
# (this found remap() re-enabling MSI-X with no vectors after hostile-bars).
test_hostile_all_in_sequence() { hostile_case all modern modern; }
test_hostile_pci_fuzz() { hostile_case pci-fuzz transitional modern; }
test_hostile_pci_fuzz_legacy_driver() { hostile_case pci-fuzz legacy legacy; }

test_blkbench_prints_one_result_line() {
	local d
	d=$(img bench 64)
	run bench 60 $WISP run -k $G -d "$d" -p "wisp.test=blkbench mode=randread bs=4096 qd=32 secs=1"
	expect_status 0 &&
		[ "$(grep -c '^blkbench: mode=randread bs=4096 qd=32 ios=[0-9]* secs=[0-9.]* iops=[0-9]* mibps=[0-9.]*' "$OUTDIR/bench.out")" = 1 ] ||
		fail "no single blkbench result line"
}
