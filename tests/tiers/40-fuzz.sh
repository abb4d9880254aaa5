#!/bin/bash
# Tier: every libFuzzer target (tests/fuzz/fuzz_*.c, ASan + UBSan) for ${FUZZ_SECONDS:-60} s
# each, after replaying its regression inputs; one line per target, then "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
if ! make --no-print-directory fuzz-build >build/fuzz-build.log 2>&1; then
	tail -n 30 build/fuzz-build.log
	echo "FAIL fuzz: the targets do not build (build/fuzz-build.log)"
	echo "0 passed, 1 failed"
	exit 1
fi
exec tests/fuzz/run.sh
