#!/bin/bash
# The Linux tier: the test image (images/) booted by wisp to its init marker, a command
# run inside, and a clean reboot. Slow on kvm_pvm (guest kernel code is emulated), so
# CI runs it once, beside the fast tiers. Never skipped silently: a skip says why.
# Closes with "N passed, N failed[, N skipped]".
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

TIMEOUT=${WISP_LINUX_TIMEOUT:-900}

if [ ! -w /dev/kvm ]; then
	echo "linux: SKIPPED: /dev/kvm is missing or not writable"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
if ! dir=$(images/build.sh); then
	echo "linux: FAIL: the Linux test image did not build (images/build.sh)"
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0 failed=0
check() { # NAME: the last run's verdict
	if [ "$1" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# One boot with 2 vCPUs checks SMP bring-up, kvmclock and the command's status, then
# reboots (exit 0). The step's checks are written so that any miss fails the status.
# kvm-clock must be registered; Linux then rightly prefers an invariant TSC if the
# host has one, so the current clocksource may be tsc.
steps='n=$(grep -c ^processor /proc/cpuinfo); echo cpus=$n; test $n = 2 &&
cs=$(cat /sys/devices/system/clocksource/clocksource0/available_clocksource); echo clocksources=$cs;
echo " $cs " | grep -q " kvm-clock " && echo linux-test-ok'
start=$(date +%s)
run linux-smp "$TIMEOUT" $WISP run -k "$dir/vmlinux" -i "$dir/initramfs.cpio" -c 2 -m 256M \
	-p "mitigations=off wisp.run=\"$(echo $steps)\""
secs=$(($(date +%s) - start))
if expect_status 0 && expect_out "wisp-init: ready" && expect_out "cpus=2" &&
	expect_out "clocksources=.*kvm-clock" && expect_out "wisp-init: status 0"; then
	echo "  ok   linux: 2 vCPUs to init, kvm-clock, clean reboot (${secs}s)"
	check ok
else
	echo "  FAIL linux: 2 vCPUs to init, kvm-clock, clean reboot (${secs}s)"
	check fail
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
