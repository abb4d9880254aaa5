#!/bin/bash
# Runs fuzz targets for FUZZ_SECONDS each: the regression inputs first, then the fuzzer on a
# copy of the seed corpus. One line per target, then "N passed, N failed"; exits 1 on a failure.
#   tests/fuzz/run.sh [target...]     (default: every tests/fuzz/fuzz_*.c; binaries must exist)
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
out=build/fuzz
if [ $# -eq 0 ]; then
	set -- $(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|')
fi
pass=0 fail=0
for t in "$@"; do
	bin=$out/fuzz_$t work=$out/work/$t crash=$out/crash/$t log=$out/fuzz_$t.log
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$t: $bin not built (make fuzz-build)"
		fail=$((fail + 1))
		continue
	fi
	rm -rf "$work"
	mkdir -p "$work" "$crash"
	cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
	# Every input that once crashed must run clean now (one execution each).
	regress=(tests/fuzz/regress/"$t"/*)
	if [ -e "${regress[0]}" ] && ! "$bin" -runs=1 "${regress[@]}" >"$log" 2>&1; then
		echo "FAIL fuzz_$t: a regression input crashes again (see $log)"
		fail=$((fail + 1))
		continue
	fi
	before=$(ls "$crash" | wc -l)
	"$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
		-artifact_prefix="$crash/" "$work" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	after=$(ls "$crash" | wc -l)
	if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
		echo "ok   fuzz_$t: ${runs:-0} runs"
		pass=$((pass + 1))
	else
		echo "FAIL fuzz_$t: exit $rc after ${runs:-?} runs; artefacts in $crash/ (log $log)"
		grep -m 3 -E 'ERROR|invariant failed|runtime error' "$log" | sed 's/^/     /'
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
