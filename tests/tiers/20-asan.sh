#!/bin/bash
# Tier: ASan + UBSan. Every Criterion unit test and every test-guest integration test again,
# against a glibc build of the same sources with -fsanitize=address,undefined (tests/sanitize/
# tier.mk). wisp runs through tests/sanitize/asan-wisp: a report (memory error, undefined
# behaviour, leak at exit) makes it exit 99 and leaves a file under build/asan/logs/TEST/.
# A test fails when its own checks fail or when any report file appears; the report is
# printed. Closes with "N passed, N failed[, N skipped]".
set -u
cd "$(dirname "$0")/../.."
logs=build/asan/logs
rm -rf "$logs"
mkdir -p "$logs"
start_all=$(date +%s)

if ! make -s --no-print-directory asan-build guest >"$logs/build.log" 2>&1; then
	echo "asan: build failed:"; tail -n 30 "$logs/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0 failed=0 skipped=0

# reports DIR: prints every sanitizer report under DIR; 0 when there was one.
reports() {
	local f found=1
	for f in "$1"/*; do
		[ -f "$f" ] || continue
		found=0
		echo "    --- sanitizer report $f"
		sed 's/^/    /' "$f" | head -n 60
	done
	return $found
}

echo "-- unit tests (Criterion, ASan + UBSan)"
for t in build/asan/unit/test_*; do
	n=$(basename "$t")
	d=$logs/unit/$n
	mkdir -p "$d"
	# Criterion runs the tests in worker processes; each writes its own report file.
	ASAN_OPTIONS="exitcode=99:log_path=$d/rep:detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1" \
		UBSAN_OPTIONS="exitcode=99:log_path=$d/rep:halt_on_error=1:print_stacktrace=1" \
		"$t" --jobs 2 >"$d.log" 2>&1
	syn=$(grep -a 'Synthesis' "$d.log" | tail -n 1)
	p=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p')
	if [ -z "$p" ]; then
		echo "  FAIL $n (no Criterion synthesis)"; tail -n 20 "$d.log"; reports "$d"
		failed=$((failed + 1))
		continue
	fi
	set -- $f
	bad=$(($1 + $2))
	# A leak shows up only in a report file (the worker exits after its test passed).
	nrep=$(find "$d" -type f | wc -l)
	[ "$nrep" -gt "$bad" ] && bad=$nrep && p=$((p > nrep ? p - nrep : 0))
	passed=$((passed + p)) failed=$((failed + bad))
	if [ "$bad" -gt 0 ]; then
		echo "  FAIL $n"; grep -a -E '\[(FAIL|----)\]' "$d.log" | head -n 30; reports "$d"
	else
		echo "  ok   $n: $p"
	fi
done
echo "   unit: $(($(date +%s) - start_all))s"

echo "-- integration tests (test guest under build/asan/wisp)"
if [ ! -w /dev/kvm ]; then
	echo "asan: integration part SKIPPED: /dev/kvm is missing or not writable"
	skipped=$((skipped + 1))
else
	start_int=$(date +%s)
	export WISP=tests/sanitize/asan-wisp
	export OUTDIR=build/asan/itest
	export WISP_NO_SECCOMP=0
	{ build/asan/wisp --help; build/asan/wisp run --help; } 2>&1 | grep -q -- --no-seccomp &&
		WISP_NO_SECCOMP=1
	# Tests that cannot hold under the sanitizers, each with its reason.
	declare -A skip=()
	. tests/integration/lib.sh
	for f in $(ls tests/integration/t_*.sh | grep -v t_linux); do
		unset -f $(declare -F | awk '$3 ~ /^test_/ {print $3}') 2>/dev/null
		. "$f"
		for t in $(declare -F | awk '$3 ~ /^test_/ {print $3}'); do
			if [ -n "${skip[$t]:-}" ]; then
				echo "  skip $t: ${skip[$t]}"
				skipped=$((skipped + 1))
				continue
			fi
			# Some tests run wisp as nobody: the report directory must be writable by all.
			export WISP_SAN_LOGS=$PWD/$logs/$t
			mkdir -p "$WISP_SAN_LOGS"
			chmod 1777 "$WISP_SAN_LOGS"
			s=$(date +%s.%N)
			if out=$($t 2>&1) && ! find "$WISP_SAN_LOGS" -type f | grep -q .; then
				passed=$((passed + 1))
				printf '  ok   %-40s %6.2fs\n' "$t" "$(echo "$(date +%s.%N) - $s" | bc)"
			else
				failed=$((failed + 1))
				printf '  FAIL %-40s\n%s\n' "$t" "$out"
				reports "$WISP_SAN_LOGS"
			fi
		done
	done
	echo "   integration: $(($(date +%s) - start_int))s"
fi

echo "   asan tier: $(($(date +%s) - start_all))s"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
