#!/bin/bash
# Tier: valgrind (memcheck). A representative set of the test-guest integration tests with
# wisp under valgrind (tests/sanitize/vg-wisp, build/vg/wisp: glibc -O1 -g): each must give
# its normal exit status and output, and valgrind must report no invalid access, no use of
# uninitialised memory and no definite or indirect leak at exit (its log, build/vg/logs/TEST/,
# must stay empty). The guest runs under KVM, so the slowdown is in wisp's own work: device
# emulation, the event loop, start-up and tear-down. VG_ALL=1 runs every integration test.
# Closes with "N passed, N failed[, N skipped]".
set -u
cd "$(dirname "$0")/../.." || exit 1
logs=build/vg/logs
rm -rf "$logs"
mkdir -p "$logs"
start_all=$(date +%s)

if ! command -v valgrind >/dev/null; then
	echo "valgrind: SKIPPED: valgrind is not installed (tests/deps.sh installs it)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
if ! make -s -j"$(nproc)" --no-print-directory vg-build guest >"$logs/build.log" 2>&1; then
	echo "valgrind: build failed:"; tail -n 30 "$logs/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0 failed=0 skipped=0
. tests/sanitize/lib.sh

# One or two of each kind of run: every exit path wisp has, every device, the host-input
# error paths that get furthest before failing.
cases=(
	# boot and exit: PVH and bzImage, SMP, a guest-chosen status, the i8042 reset, --stats
	test_boot_2cpu_pvh test_boot_2cpu_bzimage test_guest_chosen_exit_status
	test_i8042_reset_exits_0 test_unclaimed_io_reads_all_ones test_uart_input_echo
	# a guest crash (124), signals (143, 130)
	test_triple_fault_is_a_crash test_sigterm_stops_cleanly test_sigint_stops_cleanly
	# virtio-blk: both transports, two disks, the image written by the guest, hostile
	# drivers (a reset with requests in flight, one head in flight twice)
	test_blk_modern test_blk_legacy test_blk_two_disks_one_read_only
	test_blk_pattern_reaches_the_image test_hostile_reset_inflight_modern
	test_hostile_dup_head_legacy
	# virtio-net on a tap in a namespace (t_net_guest.sh's set-up): plain, MQ, a hostile
	# driver, RX under load
	test_net_modern test_net_mq2 test_hostile_net_tx_bad_gso_modern test_netbench_rx
	# virtio-console: port 0 on stdio, a named port on a socket with its peer, hostile control
	# messages, the terminal size and a resize (SIGWINCH)
	test_console_virtio_with_named_port test_hostile_console_ctrl
	test_console_terminal_size_and_resize
	# host input errors (125): missing or bad kernel and initrd, bad or locked disk, bad
	# options
	test_missing_kernel test_not_a_kernel test_truncated_elf_kernel test_initrd_larger_than_ram
	test_missing_disk test_disk_locked_by_another_vm test_bad_net_options
	test_port_path_not_a_socket_is_refused test_unknown_option
	# host faults: a disk returning EIO, the tap deleted under a running VM, SIGTERM with
	# disk I/O in flight (teardown with requests outstanding)
	test_fault_eio_sectors_give_ioerr test_fault_tap_deleted_while_running
	test_fault_sigterm_with_io_in_flight
	# the terminal: raw while running, restored after the escape key and after a crash
	test_tty_escape_key_stops_vm test_tty_restored_after_guest_crash
)

if [ ! -w /dev/kvm ]; then
	echo "valgrind: SKIPPED: /dev/kvm is missing or not writable (these tests boot guests)"
	skipped=$((skipped + 1))
else
	export WISP=tests/sanitize/vg-wisp
	export OUTDIR=build/vg/itest
	WISP_NO_SECCOMP=$(san_no_seccomp build/vg/wisp)
	export WISP_NO_SECCOMP
	declare -A skip=()
	san_skip_seccomp
	# (Only run with VG_ALL=1.) Valgrind's own heap and shadow memory count in wisp's RSS.
	for t in test_hostile_flood_memory_bounded_modern test_hostile_flood_memory_bounded_legacy \
		test_hostile_net_flood_memory_bounded_modern test_hostile_net_flood_memory_bounded_legacy; do
		skip[$t]="asserts wisp's RSS bounds, which valgrind's own memory breaks"
	done
	# Deadlines in the test guest (see tests/sanitize/lib.sh) can pass under valgrind.
	export SAN_RETRY=1
	if [ "${VG_ALL:-0}" = 1 ]; then
		san_itests "$logs"
	else
		san_itests "$logs" "${cases[@]}"
		# A name in the list that no t_*.sh defines is a stale list, not a pass.
		for t in "${cases[@]}"; do
			[ -d "$logs/$t" ] || { echo "  FAIL $t: no such test"; failed=$((failed + 1)); }
		done
	fi
fi

echo "   valgrind tier: $(($(date +%s) - start_all))s"
san_close
