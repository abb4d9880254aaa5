# shellcheck shell=bash
# Helpers shared by the sanitizer tiers (tests/tiers/20-asan.sh, 30-valgrind.sh): run the
# integration tests with WISP set to a wrapper that leaves one report file per finding in
# $WISP_SAN_LOGS, and fail a test whose directory holds a non-empty file.
# Counts go to the caller's passed/failed/skipped variables.

# san_reports DIR: prints every non-empty report file under DIR; 0 when there was one.
san_reports() {
	local f found=1
	for f in $(find "$1" -type f -size +0 | sort); do
		found=0
		echo "    --- sanitizer report $f"
		sed 's/^/    /' "$f" | head -n 80
	done
	return $found
}

# san_found DIR: 0 when DIR holds a non-empty report file.
san_found() {
	find "$1" -type f -size +0 | grep -q .
}

# san_no_seccomp BIN: prints 1 when BIN has --no-seccomp (after the lead's seccomp work), 0
# before it.
san_no_seccomp() {
	if { "$1" --help; "$1" run --help; } 2>&1 | grep -q -- --no-seccomp; then
		echo 1
	else
		echo 0
	fi
}

# san_skip_seccomp: with --no-seccomp in force, the tests of the filters themselves cannot
# hold; adds them to the caller's skip array. (The filters list the musl binary's system
# calls: glibc makes others, e.g. epoll_wait where musl makes epoll_pwait, so a glibc build
# under its filters dies of SIGSYS at once. build/wisp runs them in the integration tier.)
san_skip_seccomp() {
	local t why="needs the seccomp filters, which the glibc sanitizer builds run without"
	[ "${WISP_NO_SECCOMP:-0}" = 1 ] || return 0
	for t in test_seccomp_forbidden_call_from_main test_seccomp_forbidden_call_from_io_thread \
		test_seccomp_forbidden_call_from_vcpu test_seccomp_every_thread_is_filtered \
		test_seccomp_kill_mode_from_main test_seccomp_kill_mode_from_io_thread \
		test_seccomp_kill_mode_from_vcpu test_seccomp_kill_mode_every_thread_is_filtered; do
		skip[$t]=$why
	done
}

# san_itests LOGROOT [TEST...]: every test_* of every tests/integration/t_*.sh but the Linux
# tier (or only the TESTs named), one report directory LOGROOT/TEST each. The caller's
# associative array skip[TEST]=REASON names the tests left out, each with its reason.
# SAN_RETRY=1: a test whose own checks fail while the sanitizer found nothing runs once more
# (some test-guest checks have deadlines, e.g. an interrupt within 1 s of the used entry,
# that a VMM slowed down 20x under valgrind on a loaded machine can miss); the line says so.
san_itests() {
	local root=$1 f t s out ok note
	shift
	local want=" $* "
	. tests/integration/lib.sh
	for f in $(ls tests/integration/t_*.sh | grep -v t_linux); do
		unset -f $(declare -F | awk '$3 ~ /^test_/ {print $3}') 2>/dev/null
		. "$f"
		for t in $(declare -F | awk '$3 ~ /^test_/ {print $3}'); do
			[ "$want" = "  " ] || [[ "$want" == *" $t "* ]] || continue
			if [ -n "${skip[$t]:-}" ]; then
				echo "  skip $t: ${skip[$t]}"
				skipped=$((skipped + 1))
				continue
			fi
			# Some tests run wisp as nobody: the report directory must be writable by all.
			WISP_SAN_LOGS=$(realpath -m "$root/$t")
			export WISP_SAN_LOGS
			mkdir -p "$WISP_SAN_LOGS"
			chmod 1777 "$WISP_SAN_LOGS"
			s=$(date +%s.%N) note=
			ok=0
			out=$($t 2>&1) && ok=1
			if [ $ok = 0 ] && [ "${SAN_RETRY:-0}" = 1 ] && ! san_found "$WISP_SAN_LOGS"; then
				# The test's own check failed, the sanitizer found nothing: once more.
				note=$({ echo "$out" | grep -o 'wisp-test-guest: FAIL.*'
					echo "$out" | grep -o 'FAIL: .*'; } | head -n 1)
				note=" (passed on retry; first run: $note)"
				out=$($t 2>&1) && ok=1
			fi
			if [ $ok = 1 ] && ! san_found "$WISP_SAN_LOGS"; then
				passed=$((passed + 1))
				printf '  ok   %-40s %6.2fs%s\n' "$t" "$(echo "$(date +%s.%N) - $s" | bc)" "$note"
			else
				failed=$((failed + 1))
				printf '  FAIL %-40s\n%s\n' "$t" "$out"
				san_reports "$WISP_SAN_LOGS"
			fi
		done
	done
}

# san_close: the tier's closing line and status.
san_close() {
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" -eq 0 ]
}
