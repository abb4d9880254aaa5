#!/bin/bash
# Runs every test tier and closes with one "N passed, N failed" line for all of them.
#   unit         Criterion tests of the pure parts (no KVM)
#   integration  the test guest and bad host input under wisp (seconds)
#   linux        the Linux test image to its init marker and a clean reboot (minutes
#                on kvm_pvm); started first so it runs beside the fast tiers
#   tests/tiers/*.sh  further tiers (fuzzing, sanitizers, faults, load), in name order;
#                each prints its own "N passed, N failed" closing line
set -u
cd "$(dirname "$0")/.."
out=build/test-logs
mkdir -p "$out"
total_pass=0 total_fail=0 total_skip=0

count() { # LOG: adds the tier's closing "N passed, N failed[, N skipped]" line
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "  (no result line in $1: counted as 1 failure)"
		total_fail=$((total_fail + 1))
		return
	fi
	set -- $(echo "$line" | tr -dc '0-9 ')
	total_pass=$((total_pass + $1))
	total_fail=$((total_fail + $2))
	total_skip=$((total_skip + ${3:-0}))
}

# The Linux tier, in the background.
tests/integration/linux.sh >"$out/linux.log" 2>&1 &
linux_pid=$!

echo "== unit tests (Criterion)"
unit_pass=0 unit_fail=0
shopt -s nullglob
# The binaries of the test sources there are now: a test file renamed or split leaves its old
# binary behind.
for src in tests/unit/test_*.c; do
	t=build/unit/$(basename "$src" .c)
	if "$t" --jobs 2 >"$out/$(basename "$t").log" 2>&1; then :; fi
	syn=$(grep -a 'Synthesis' "$out/$(basename "$t").log" | tail -n 1)
	p=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p')
	if [ -z "$p" ]; then
		echo "  FAIL $t (no Criterion synthesis)"; tail -n 20 "$out/$(basename "$t").log"
		unit_fail=$((unit_fail + 1)); continue
	fi
	set -- $f
	unit_pass=$((unit_pass + p)); unit_fail=$((unit_fail + $1 + $2))
	if [ $(($1 + $2)) -gt 0 ]; then
		echo "  FAIL $t"; grep -a -E '\[(FAIL|----)\]' "$out/$(basename "$t").log" | head -n 30
	else
		echo "  ok   $t: $p"
	fi
done
echo "$unit_pass passed, $unit_fail failed" | tee "$out/unit.log"
count "$out/unit.log"

echo "== integration tests (test guest, host input)"
tests/integration/run.sh 2>&1 | tee "$out/integration.log"
count "$out/integration.log"

for tier in tests/tiers/*.sh; do
	name=$(basename "$tier" .sh)
	echo "== tier $name"
	"$tier" 2>&1 | tee "$out/$name.log"
	count "$out/$name.log"
done

echo "== Linux tests (waiting for the background run)"
wait $linux_pid
cat "$out/linux.log"
count "$out/linux.log"

echo
echo "== all tiers"
if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
