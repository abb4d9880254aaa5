# Helpers for integration tests: run wisp with a timeout, check status and output.
# Each test is a shell function; results are counted by the caller (run.sh).

WISP=${WISP:-build/wisp}
OUTDIR=${OUTDIR:-build/itest}
mkdir -p "$OUTDIR"

# run NAME TIMEOUT CMD...: runs CMD with stdin from $STDIN (default /dev/null),
# leaves $OUTDIR/NAME.out, NAME.err, and the status in $status.
run() {
	_name=$1 _tmo=$2
	shift 2
	timeout -k 5 "$_tmo" "$@" <"${STDIN:-/dev/null}" >"$OUTDIR/$_name.out" 2>"$OUTDIR/$_name.err"
	status=$?
	last=$_name
}

fail() {
	echo "    FAIL: $*"
	echo "    --- stdout (tail)"; tail -n 15 "$OUTDIR/$last.out" | sed 's/^/    /'
	echo "    --- stderr (tail)"; tail -n 15 "$OUTDIR/$last.err" | sed 's/^/    /'
	return 1
}

expect_status() {
	[ "$status" = "$1" ] || fail "exit status $status, expected $1"
}

expect_out() {
	grep -q -- "$1" "$OUTDIR/$last.out" || fail "stdout lacks '$1'"
}

expect_err() {
	grep -q -- "$1" "$OUTDIR/$last.err" || fail "stderr lacks '$1'"
}

# A wisp error must say what is wrong and must not have started the guest.
expect_host_error() {
	expect_status 125 && expect_err "$1" || return 1
	! grep -q . "$OUTDIR/$last.out" || fail "guest output seen"
}
