# The host terminal: raw while the guest runs, restored on every exit path.
G=build/guest/test-guest.elf

tty_case() {
	run "tty-$1" 60 python3 tests/integration/tty_check.py "$1" "$WISP" "$G"
	expect_status 0 && expect_out "^ok"
}

test_tty_escape_key_stops_vm() {
	tty_case escape
}

test_tty_input_passes_raw_bytes() {
	tty_case echo
}

test_tty_restored_after_guest_crash() {
	tty_case crash
}

test_tty_restored_after_fatal_signal() {
	tty_case segv
}
