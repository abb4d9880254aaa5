# virtio-console under wisp, driven by the test guest: the multiport control protocol, port 0
# on wisp's stdin/stdout (--console virtio), a named port on a Unix socket with a host peer
# (tests/integration/conpeer.py), the terminal size and a resize, hostile control messages.
G=build/guest/test-guest.elf
CON_LINE="typed line 42"

# con_case NAME GUEST-KEYS WISP-ARGS...: stdin carries one typed line; a named port
# org.wisp.test, when WISP-ARGS has --port, is served by conpeer.py (its output in NAME.peer).
con_case() {
	local name=$1 keys=$2 sock peer=
	shift 2
	sock=$OUTDIR/$name.sock
	rm -f "$sock"
	printf '%s\n' "$CON_LINE" >"$OUTDIR/$name.in"
	case "$*" in *--port*)
		python3 tests/integration/conpeer.py port "$sock" 60 >"$OUTDIR/$name.peer" 2>&1 &
		peer=$! ;;
	esac
	STDIN=$OUTDIR/$name.in run "$name" 90 $WISP run -k $G \
		"${@//SOCK/$sock}" -p "$keys"
	if [ -n "$peer" ]; then
		for _ in $(seq 40); do kill -0 "$peer" 2>/dev/null || break; sleep 0.05; done
		kill "$peer" 2>/dev/null
		wait "$peer" 2>/dev/null
	fi
	rm -f "$sock"
}

expect_peer_pass() {
	grep -q "conpeer: PASS" "$OUTDIR/$last.peer" ||
		fail "the port's host end: $(tail -n 1 "$OUTDIR/$last.peer")"
}

ALL_KEYS="port.name=org.wisp.test console.input=1 expect.cols=80 expect.rows=24"

test_console_virtio_with_named_port() {
	con_case con1 "wisp.test=console $ALL_KEYS" --console virtio --port org.wisp.test=unix:SOCK
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_pass &&
		expect_out "^console: hello from the guest on port 0" &&
		expect_out "^console: you typed '$CON_LINE'" && expect_out "^console: emerg_wr"
}

test_console_legacy_driver() {
	con_case con2 "wisp.test=console virtio.transport=legacy $ALL_KEYS" \
		--console virtio --port org.wisp.test=unix:SOCK
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_pass &&
		expect_out "^console: you typed '$CON_LINE'"
}

test_console_without_msix() {
	con_case con3 "wisp.test=console virtio.msix=0 $ALL_KEYS" \
		--console virtio --port org.wisp.test=unix:SOCK
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_pass
}

# Without --console virtio port 0 exists but goes nowhere: its output is not on stdout.
test_console_port0_unconnected() {
	con_case con4 "wisp.test=console port.name=org.wisp.test" --port org.wisp.test=unix:SOCK
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_pass || return 1
	! grep -q "^console: hello from the guest on port 0" "$OUTDIR/$last.out" ||
		fail "port 0 output reached stdout without --console virtio"
}

test_console_without_multiport() {
	con_case con5 "wisp.test=console console.multiport=0 console.input=1" --console virtio
	expect_status 0 && expect_out "wisp-test-guest: PASS" &&
		expect_out "^console: hello from the guest on port 0" &&
		expect_out "^console: you typed '$CON_LINE'"
}

test_hostile_console_ctrl() {
	con_case conh "wisp.test=hostile-console-ctrl $ALL_KEYS" \
		--console virtio --port org.wisp.test=unix:SOCK
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_pass &&
		expect_out "^console: you typed '$CON_LINE'"
}

# On a 100x30 terminal that becomes 120x40 while the guest waits: config and RESIZE agree.
test_console_terminal_size_and_resize() {
	run conpty 90 python3 tests/integration/ptyrun.py 100 30 120 40 $WISP run -k $G \
		--console virtio -p "wisp.test=console expect.cols=100 expect.rows=30 \
expect.resize_cols=120 expect.resize_rows=40"
	expect_status 0 && expect_out "wisp-test-guest: PASS" &&
		expect_out "RESIZE to 120x40; the config now says 120x40"
}

# A guest write of 100000 bytes as one chain (16 KiB descriptors) reaches the socket whole.
test_console_named_port_100k_write() {
	con_case con6 "wisp.test=console port.name=org.wisp.test console.bigwrite=100000" \
		--port org.wisp.test=unix:SOCK
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_pass
}
