#!/bin/bash
# Runs integration test files (t_*.sh): every function named test_* is one test.
# usage: run.sh [FILE...]   (default: every t_*.sh but the Linux tier)
# Prints one line per test and closes with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

files=("$@")
[ ${#files[@]} -gt 0 ] || files=($(ls tests/integration/t_*.sh | grep -v t_linux))

if [ ! -w /dev/kvm ]; then
	echo "integration: SKIPPED: /dev/kvm is missing or not writable (these tests boot guests)"
	echo "0 passed, 0 failed, ${#files[@]} skipped"
	exit 0
fi

passed=0 failed=0
for f in "${files[@]}"; do
	unset -f $(declare -F | awk '$3 ~ /^test_/ {print $3}') 2>/dev/null
	. "$f"
	for t in $(declare -F | awk '$3 ~ /^test_/ {print $3}'); do
		start=$(date +%s.%N)
		if out=$($t 2>&1); then
			passed=$((passed + 1))
			printf '  ok   %-40s %6.2fs\n' "$t" "$(echo "$(date +%s.%N) - $start" | bc)"
		else
			failed=$((failed + 1))
			printf '  FAIL %-40s\n%s\n' "$t" "$out"
		fi
	done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
