#!/bin/bash
# The Linux tier: the test image (images/) booted by wisp to its init marker, commands run
# inside, and a clean reboot. Slow on kvm_pvm (guest kernel code is emulated), so CI runs
# it once, beside the fast tiers. Never skipped silently: a skip says why.
# Closes with "N passed, N failed[, N skipped]".
#
#   boot 1: 2 vCPUs, modern virtio-blk: SMP, kvm-clock, ext4 on the disk with data whose
#           checksum the host recomputes from the image, and a read-only disk that refuses
#           writes and is unchanged on the host afterwards. (Linux keeps a disk that offers
#           VIRTIO_BLK_F_RO read-only even against BLKROSET, so wisp's own enforcement is
#           shown by the test guest, which ignores the flag: tests/integration/t_blk_guest.sh.)
#   boot 2: 1 vCPU, legacy-only virtio-blk: the same disk checks
#   boot 3: 2 vCPUs, transitional virtio-blk with virtio_pci.force_legacy=1 (legacy on MQ)
#   boot 4: --console virtio: the shell on hvc0 reads its commands from wisp's stdin; a
#           named port carries a message each way to a host socket; virtio-net on a tap in
#           a network namespace the test makes: ping, then NET_MIB MiB each way over TCP
#           (busybox nc) with checksums compared on both sides. (NET_MIB defaults to 4:
#           the guest kernel's TCP path is emulated on kvm_pvm at ~60-100 KB/s; set
#           WISP_NET_MIB=64 for the full run.)
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

TIMEOUT=${WISP_LINUX_TIMEOUT:-900}
BOOTS=${WISP_LINUX_BOOTS:-modern legacy transitional net} # a subset, for debugging
want() { [[ " $BOOTS " == *" $1 "* ]]; }

if [ ! -w /dev/kvm ]; then
	echo "linux: SKIPPED: /dev/kvm is missing or not writable"
	echo "0 passed, 0 failed, 3 skipped"
	exit 0
fi
if ! dir=$(images/build.sh) || ! tools=$(images/tools.sh); then
	echo "linux: FAIL: the Linux test image did not build (images/build.sh, images/tools.sh)"
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0 failed=0
verdict() { # DESCRIPTION SECONDS RESULT
	if [ "$3" = 0 ]; then
		passed=$((passed + 1))
		echo "  ok   linux: $1 (${2}s)"
	else
		failed=$((failed + 1))
		echo "  FAIL linux: $1 (${2}s)"
	fi
}

SEED=7 MIB=4
expected=$(tests/integration/prng.sh "$SEED" "$MIB" | sha256sum | cut -d' ' -f1)

# The guest side of the disk test: mkfs.ext4 (from the tools disk, vdb), write MIB MiB of
# PRNG data, checksum it, remount (no page cache) and checksum again.
disk_steps='mkdir -p /tools /mnt && mount -t ext2 -o ro /dev/vdb /tools && L=/tools/lib &&
$L/ld-linux-x86-64.so.2 --library-path $L /tools/bin/mke2fs -q -t ext4 -F /dev/vda &&
mount -t ext4 /dev/vda /mnt && /tools/bin/prng '$SEED' '$MIB' >/mnt/data && sync &&
echo written=$(sha256sum </mnt/data) && umount /mnt && mount -t ext4 -o ro /dev/vda /mnt &&
echo readback=$(sha256sum </mnt/data) && umount /mnt'
# The read-only disk: the guest sees it read-only and a write fails.
ro_steps='if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; then
echo ro=writable; else echo ro=refused; fi; echo ro-flag=$(cat /sys/block/vdb/ro)'
smp_steps='echo cpus=$(grep -c ^processor /proc/cpuinfo);
echo clocksources=$(cat /sys/devices/system/clocksource/clocksource0/available_clocksource)'

# disk_boot NAME CPUS TRANSPORT EXTRA_CMDLINE STEPS: boots with a fresh 64 MiB disk and the
# tools disk; checks the disk results here and leaves the run's output for more checks.
disk_boot() {
	local name=$1 cpus=$2 transport=$3 extra=$4 steps=$5 img=$OUTDIR/linux-$1.img
	local tools_sum start
	rm -f "$img"
	truncate -s 64M "$img"
	tools_sum=$(sha256sum <"$tools" | cut -d' ' -f1)
	start=$(date +%s)
	run "linux-$name" "$TIMEOUT" $WISP run --stats -k "$dir/vmlinux" -i "$dir/initramfs.cpio" \
		-c "$cpus" -m 256M -d "$img,transport=$transport,serial=wisp-$name" -d "$tools,ro" \
		-p "quiet mitigations=off $extra wisp.run=\"$(echo $steps)\""
	secs=$(($(date +%s) - start))
	expect_status 0 && expect_out "wisp-init: ready" && expect_out "wisp-init: status 0" &&
		expect_out "written=$expected" && expect_out "readback=$expected" &&
		[ "$(debugfs -R 'cat /data' "$img" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$expected" ] &&
		[ "$(sha256sum <"$tools" | cut -d' ' -f1)" = "$tools_sum" ] ||
		fail "disk contents (host side) or guest results differ"
}

if want modern; then
	disk_boot modern 2 modern "" "$smp_steps; $disk_steps; $ro_steps"
	r=$?
	[ $r = 0 ] && expect_out "cpus=2" && expect_out "clocksources=.*kvm-clock" &&
		expect_out "ro=refused" && expect_out "ro-flag=1"
	verdict "2 vCPUs, kvm-clock, modern virtio-blk: ext4 + checksums, read-only disk" "$secs" $?
fi
if want legacy; then
	disk_boot legacy 1 legacy "" "$disk_steps"
	verdict "legacy-only virtio-blk: ext4 + checksums" "$secs" $?
fi
if want transitional; then
	disk_boot transitional 2 transitional "virtio_pci.force_legacy=1" "$disk_steps"
	verdict "transitional virtio-blk, force_legacy=1, 2 queues: ext4 + checksums" "$secs" $?
fi

net_boot() {
	local ns=wisp-lx-$$ tap=wlx$$ sock=$OUTDIR/linux-port.sock mib=${WISP_NET_MIB:-4}
	local sent got start
	sent=$(tests/integration/prng.sh 11 "$mib" | sha256sum | cut -d' ' -f1)
	got=$(tests/integration/prng.sh 12 "$mib" | sha256sum | cut -d' ' -f1)
	ip netns add $ns && ip netns exec $ns ip link set lo up &&
		ip netns exec $ns ip tuntap add $tap mode tap &&
		ip netns exec $ns ip addr add 10.77.0.1/24 dev $tap &&
		ip netns exec $ns ip link set $tap up || { fail "cannot make the test namespace"; return 1; }
	ip netns exec $ns python3 tests/integration/netpeer.py recv 5000 >"$OUTDIR/linux-recv.out" 2>&1 &
	local recv=$!
	ip netns exec $ns python3 tests/integration/netpeer.py send 5001 12 "$mib" >"$OUTDIR/linux-send.out" 2>&1 &
	local send=$!
	rm -f "$sock"
	tests/integration/portpeer.py "$sock" "hello-from-host" >"$OUTDIR/linux-port.out" 2>&1 &
	local port=$!
	# The shell's commands, typed on wisp's stdin: they reach it through hvc0.
	cat >"$OUTDIR/linux-console.in" <<-SCRIPT
	echo console=\$(cat /sys/class/tty/console/active)
	mkdir -p /tools; mount -t ext2 -o ro /dev/vda /tools
	for p in /sys/class/virtio-ports/*; do [ "\$(cat \$p/name)" = org.wisp.test ] && dev=/dev/\${p##*/}; done
	exec 3<>\$dev; echo hello-from-guest >&3; read -t 60 line <&3; echo port-said=\$line; exec 3>&-
	ip addr add 10.77.0.2/24 dev eth0; ip link set eth0 up; ping -c 2 -W 10 10.77.0.1 >/dev/null && echo ping=ok
	/tools/bin/prng 11 $mib | nc 10.77.0.1 5000; echo tx-done
	# nc reads its stdin: never let it be the shell's terminal, or it eats the script.
	echo rx=\$(nc 10.77.0.1 5001 </dev/null | sha256sum)
	exit
	SCRIPT
	start=$(date +%s)
	STDIN=$OUTDIR/linux-console.in run linux-net "$TIMEOUT" ip netns exec $ns $WISP run --stats \
		-k "$dir/vmlinux" -i "$dir/initramfs.cpio" -m 256M --console virtio \
		--port "org.wisp.test=unix:$sock" -n tap=$tap -d "$tools,ro" -p "quiet mitigations=off"
	secs=$(($(date +%s) - start))
	kill $recv $send $port 2>/dev/null
	wait $recv $send $port 2>/dev/null
	ip netns del $ns
	expect_status 0 && expect_out "console=hvc0" && expect_out "port-said=hello-from-host" &&
		grep -q "from-guest: hello-from-guest" "$OUTDIR/linux-port.out" &&
		expect_out "ping=ok" && expect_out "rx=$got" &&
		grep -q "recv $((mib << 20)) $sent" "$OUTDIR/linux-recv.out" ||
		fail "console, port or network results differ (see $OUTDIR/linux-{recv,send,port}.out)"
}

if want net; then
	net_boot
	verdict "disk, virtio-console shell on hvc0, named port, virtio-net (ping, TCP both ways), under the seccomp filters" "$secs" $?
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
