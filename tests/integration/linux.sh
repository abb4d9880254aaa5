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
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

TIMEOUT=${WISP_LINUX_TIMEOUT:-900}

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

disk_boot modern 2 modern "" "$smp_steps; $disk_steps; $ro_steps"
r=$?
[ $r = 0 ] && expect_out "cpus=2" && expect_out "clocksources=.*kvm-clock" &&
	expect_out "ro=refused" && expect_out "ro-flag=1"
verdict "2 vCPUs, kvm-clock, modern virtio-blk: ext4 + checksums, read-only disk" "$secs" $?

disk_boot legacy 1 legacy "" "$disk_steps"
verdict "legacy-only virtio-blk: ext4 + checksums" "$secs" $?

disk_boot transitional 2 transitional "virtio_pci.force_legacy=1" "$disk_steps"
verdict "transitional virtio-blk, force_legacy=1, 2 queues: ext4 + checksums" "$secs" $?

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
