# The test guest under wisp: boot paths, SMP, interrupts, exit paths.
G=build/guest/test-guest.elf
GB=build/guest/test-guest.bzImage

boot_args() { # CPUS MEM
	echo "wisp.test=boot expect.cpus=$1 expect.mem=$2 expect.token=tok$1x$2"
}

test_boot_1cpu_pvh() {
	run boot1 60 $WISP run -k $G -c 1 -m 64M -p "$(boot_args 1 64)"
	expect_status 0 && expect_out "wisp-test-guest: PASS"
}

test_boot_2cpu_pvh() {
	run boot2 60 $WISP run -k $G -c 2 -m 128M -p "$(boot_args 2 128)"
	expect_status 0 && expect_out "wisp-test-guest: PASS"
}

test_boot_2cpu_64bit_entry() {
	run boot2e64 60 $WISP run -k $G --entry=64 -c 2 -m 128M -p "$(boot_args 2 128)"
	expect_status 0 && expect_out "wisp-test-guest: PASS"
}

test_boot_2cpu_bzimage() {
	run boot2bz 60 $WISP run -k $GB -c 2 -m 128M -p "$(boot_args 2 128)"
	expect_status 0 && expect_out "wisp-test-guest: PASS"
}

test_boot_4cpu_ram_above_4g() {
	# 3.5 GiB: RAM continues above the PCI hole at 4 GiB. NORESERVE keeps it cheap.
	run boot4hi 90 $WISP run -k $G -c 4 -m 3584M -p "$(boot_args 4 3584)"
	expect_status 0 && expect_out "wisp-test-guest: PASS"
}

test_guest_chosen_exit_status() {
	run exit42 30 $WISP run -k $G -p "wisp.test=exit status=42"
	expect_status 42
}

test_i8042_reset_exits_0() {
	run reboot 30 $WISP run -k $G -p "wisp.test=reboot"
	expect_status 0
}

test_triple_fault_is_a_crash() {
	run triple 30 $WISP run -k $G -p "wisp.test=triplefault"
	expect_status 124 && expect_err "triple fault" && expect_err "rip"
}

test_unclaimed_io_reads_all_ones() {
	run unclaimed 30 $WISP run -k $G --stats -p "wisp.test=unclaimed"
	expect_status 0 && expect_err "unclaimed accesses: [1-9]"
}

test_uart_input_echo() {
	printf 'hello wispq' >"$OUTDIR/echo.in"
	STDIN="$OUTDIR/echo.in" run echo 30 $WISP run -k $G -p "wisp.test=echo"
	expect_status 0 && expect_out "HELLO WISP"
}

# Waits for a line in a running test's stdout; 0 when seen.
wait_for() { # FILE PATTERN SECONDS
	for _ in $(seq $(($3 * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

signal_case() { # SIGNAL EXPECTED
	local out=$OUTDIR/sig$1.out
	# A stale "ready" from an earlier run would send the signal before wisp even started.
	rm -f "$out"
	$WISP run -k $G -p "wisp.test=hang" </dev/null >"$out" 2>"$OUTDIR/sig$1.err" &
	local pid=$!
	last=sig$1
	wait_for "$out" "hang: ready" 30 || { kill -9 $pid; fail "guest never got ready"; return 1; }
	kill -$1 $pid
	status=0
	wait $pid || status=$?
	expect_status $2
}

test_sigterm_stops_cleanly() {
	signal_case TERM 143
}

test_sigint_stops_cleanly() {
	signal_case INT 130
}

test_uart_input_from_pipe() {
	local out=$OUTDIR/echopipe.out
	last=echopipe
	printf 'piped bytesq' | timeout 30 $WISP run -k $G -p "wisp.test=echo" >"$out" 2>"$OUTDIR/echopipe.err"
	status=$?
	expect_status 0 && expect_out "PIPED BYTES"
}
