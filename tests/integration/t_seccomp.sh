# The per-thread seccomp filters in a running wisp: loaded in every thread, violations reported.
G=build/guest/test-guest.elf

# WISP_SECCOMP_PROBE=CLASS makes that thread call socket(2) right after its filter loads.
seccomp_probe() { # CLASS WORDS-OF-THE-MESSAGE
	WISP_SECCOMP_PROBE=$1 run "probe-$1" 30 $WISP run -k $G -c 2
	expect_status 159 &&
		expect_err "seccomp: the $2 thread made a system call its filter forbids: socket (41)"
}

test_seccomp_forbidden_call_from_main() { seccomp_probe main main; }
test_seccomp_forbidden_call_from_io_thread() { seccomp_probe io I/O; }
test_seccomp_forbidden_call_from_vcpu() { seccomp_probe vcpu vCPU; }

# --seccomp=kill: the kernel kills wisp at the forbidden call (SIGSYS; a subprocess sees a
# negative status, which the trap's exit(159) never gives) and no report is written.
# No core file: RLIMIT_CORE 0 for wisp.
seccomp_kill_probe() { # CLASS
	WISP_SECCOMP_PROBE=$1 run "kill-$1" 30 python3 -c '
import resource, subprocess, sys
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
print("status", subprocess.run(sys.argv[1:]).returncode)' $WISP run --seccomp=kill -k $G -c 2
	expect_out "^status -31$" || return 1
	! grep -q "seccomp:" "$OUTDIR/$last.err" || fail "a report was written in kill mode"
}

test_seccomp_kill_mode_from_main() { seccomp_kill_probe main; }
test_seccomp_kill_mode_from_io_thread() { seccomp_kill_probe io; }
test_seccomp_kill_mode_from_vcpu() { seccomp_kill_probe vcpu; }

test_seccomp_off_loads_nothing() {
	WISP_SECCOMP_PROBE=vcpu run probe-off 30 $WISP run --no-seccomp -k $G -c 2 \
		-p "wisp.test=exit status=7"
	expect_status 7
}

# while_echo_guest FLAGS...: runs the echo guest with stdin held open, leaves wisp's pid in
# $pid and each thread's "name Seccomp-mode" in $OUTDIR/threads; then lets the guest finish.
while_echo_guest() {
	local fifo=$OUTDIR/seccomp.fifo
	rm -f "$fifo" && mkfifo "$fifo"
	$WISP run -k $G -c 2 "$@" -p "wisp.test=echo" <"$fifo" >"$OUTDIR/seccomp-echo.out" \
		2>"$OUTDIR/seccomp-echo.err" &
	pid=$!
	exec 7>"$fifo"
	for _ in $(seq 100); do
		grep -q "echo: ready" "$OUTDIR/seccomp-echo.out" 2>/dev/null && break
		sleep 0.1
	done
	: >"$OUTDIR/threads"
	for t in /proc/$pid/task/*; do
		echo "$(cat "$t/comm") $(awk '/^Seccomp:/ {print $2}' "$t/status")" >>"$OUTDIR/threads"
	done
	printf 'q' >&7
	exec 7>&-
	wait $pid
	status=$?
	last=seccomp-echo
}

test_seccomp_every_thread_is_filtered() {
	while_echo_guest
	expect_status 0 || return 1
	# Seccomp mode 2 is "filter"; the names say which class each thread is (KVM adds a
	# kernel worker of its own to the process: not ours, not counted).
	grep -q "^wisp-main 2$" "$OUTDIR/threads" && grep -q "^wisp-io 2$" "$OUTDIR/threads" &&
		[ "$(grep -c '^wisp-vcpu[0-9]* 2$' "$OUTDIR/threads")" = 2 ] &&
		[ "$(grep -c '^wisp-' "$OUTDIR/threads")" = 4 ] ||
		fail "threads and their seccomp modes: $(tr '\n' ';' <"$OUTDIR/threads")"
}

off_case() { # OPTION
	while_echo_guest $1
	expect_status 0 || return 1
	[ "$(grep -c '^wisp-.* 0$' "$OUTDIR/threads")" = 4 ] ||
		fail "threads and their seccomp modes: $(tr '\n' ';' <"$OUTDIR/threads")"
}

test_seccomp_off_leaves_threads_unfiltered() { off_case --no-seccomp; }
test_seccomp_mode_off_leaves_threads_unfiltered() { off_case --seccomp=off; }

# A guest that makes no forbidden call runs the same under kill mode: every thread filtered.
test_seccomp_kill_mode_every_thread_is_filtered() {
	while_echo_guest --seccomp=kill
	expect_status 0 || return 1
	[ "$(grep -c '^wisp-.* 2$' "$OUTDIR/threads")" = 4 ] ||
		fail "threads and their seccomp modes: $(tr '\n' ';' <"$OUTDIR/threads")"
}

test_print_seccomp() {
	run print-seccomp 10 $WISP --print-seccomp
	expect_status 0 || return 1
	for class in main I/O vCPU; do
		n=$(sed -n "s|^$class thread: \([0-9]*\) system calls|\1|p" "$OUTDIR/$last.out")
		[ -n "$n" ] && [ "$n" -lt 27 ] || fail "$class: '$n' calls"
	done
	expect_out "KVM_RUN" && expect_out "prot without PROT_EXEC"
}
