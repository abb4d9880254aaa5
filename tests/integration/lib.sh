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

# kB of anonymous memory (RssAnon) of a process.
rss_anon() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# run_sampled NAME TIMEOUT PATTERN CMD...: as run, with CMD's stdin a FIFO. Each time CMD's
# stdout gains a line matching PATTERN (grep), the RssAnon of CMD's process goes into SAMPLES
# and one byte into its stdin: a test guest that waits for those bytes on COM1 (flood.ack=1)
# is sampled while its flood goes on.
run_sampled() {
	local name=$1 tmo=$2 pat=$3 fifo=$OUTDIR/$1.in out=$OUTDIR/$1.out pid seen=0 n rss
	shift 3
	SAMPLES=()
	last=$name
	# A stale output file would be counted before CMD truncates it.
	rm -f "$fifo" "$out" && mkfifo "$fifo" || { status=125; echo "    mkfifo $fifo failed"; return 1; }
	exec 3<>"$fifo"
	timeout -k 5 "$tmo" "$@" <"$fifo" >"$out" 2>"$OUTDIR/$name.err" &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		n=$(grep -c -- "$pat" "$out" 2>/dev/null || true)
		n=${n:-0}
		if [ "$n" -gt "$seen" ]; then
			# The timeout wrapper's child is CMD (ip netns exec execs its command).
			rss=$(rss_anon "$(pgrep -P $pid | head -n 1)")
			[ -n "$rss" ] && SAMPLES+=("$rss")
			# One byte per line (lines may come faster than this loop).
			while [ "$seen" -lt "$n" ]; do printf 'a' >&3; seen=$((seen + 1)); done
		fi
		sleep 0.05
	done
	status=0
	wait $pid || status=$?
	exec 3>&-
}

# BAD-INPUTS "submission flood: memory use stays bounded", after run_sampled with a guest
# whose RAM is all touched before its first sample: RssAnon may grow by FLOOD_GROWTH_KB at
# most from the first sample to any later one, and wisp's own memory (--stats: RSS net of
# guest RAM) stays under FLOOD_OWN_KB (a disk's request slots are capped at 1024 x ~4.2 KiB).
FLOOD_GROWTH_KB=1024
FLOOD_OWN_KB=16384
expect_memory_bounded() { # MIN-SAMPLES
	local rss max first own
	echo "    RssAnon at each phase (kB): ${SAMPLES[*]}"
	[ "${#SAMPLES[@]}" -ge "$1" ] || { fail "only ${#SAMPLES[@]} samples of wisp's memory"; return 1; }
	first=${SAMPLES[0]} max=$first
	for rss in "${SAMPLES[@]}"; do [ "$rss" -gt "$max" ] && max=$rss; done
	[ $((max - first)) -le $FLOOD_GROWTH_KB ] ||
		{ fail "RssAnon grew by $((max - first)) kB during the flood (bound $FLOOD_GROWTH_KB)"; return 1; }
	own=$(sed -n "s/.*wisp's own \([0-9]*\) KiB.*/\1/p" "$OUTDIR/$last.err")
	[ -n "$own" ] && [ "$own" -le $FLOOD_OWN_KB ] ||
		fail "wisp's own memory ${own:-?} KiB after the flood (bound $FLOOD_OWN_KB)"
}
