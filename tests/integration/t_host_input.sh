# Bad host input (BAD-INPUTS.md): each gives a message naming the problem and status 125.
G=build/guest/test-guest.elf

test_missing_kernel() {
	run nokernel 10 $WISP run -k /nonexistent/vmlinux
	expect_host_error "kernel '/nonexistent/vmlinux': No such file"
}

test_empty_kernel() {
	: >"$OUTDIR/empty"
	run emptyk 10 $WISP run -k "$OUTDIR/empty"
	expect_host_error "file is empty"
}

test_truncated_elf_kernel() {
	head -c 200 $G >"$OUTDIR/trunc.elf"
	run trunck 10 $WISP run -k "$OUTDIR/trunc.elf"
	expect_host_error "kernel '$OUTDIR/trunc.elf': truncated"
}

test_not_a_kernel() {
	head -c 4096 /dev/urandom >"$OUTDIR/random.bin"
	run randk 10 $WISP run -k "$OUTDIR/random.bin"
	expect_host_error "not a bzImage or an ELF kernel"
}

test_directory_as_kernel() {
	run dirk 10 $WISP run -k /tmp
	expect_host_error "not a regular file"
}

test_missing_initrd() {
	run noinitrd 10 $WISP run -k $G -i /nonexistent/initrd
	expect_host_error "initrd '/nonexistent/initrd': No such file"
}

test_initrd_larger_than_ram() {
	truncate -s 20M "$OUTDIR/big.initrd"
	run biginitrd 10 $WISP run -k $G -m 16M -i "$OUTDIR/big.initrd"
	expect_host_error "initrd"
}

test_bad_memory_sizes() {
	for m in 0 3Q 1.5G 7M 1025K "" 99999999999T; do
		run "mem$m" 10 $WISP run -k $G -m "$m" || true
		expect_host_error "option -m: '$m'" || return 1
	done
}

test_memory_above_host() {
	run memhost 10 $WISP run -k $G -m 1T
	expect_host_error "more than the host"
}

test_bad_cpu_counts() {
	for c in 0 255 abc 2x; do
		run "cpus$c" 10 $WISP run -k $G --cpus=$c
		expect_host_error "option --cpus: '$c'" || return 1
	done
}

test_unknown_option() {
	run unknown 10 $WISP run -k $G --frobnicate
	expect_host_error "unknown option '--frobnicate'"
}

test_missing_option_value() {
	run noval 10 $WISP run -k
	expect_host_error "option '-k' needs a value"
}

test_command_line_too_long() {
	run longcmd 10 $WISP run -k $G -p "$(head -c 5000 /dev/zero | tr '\0' a)"
	expect_host_error "command line longer than"
}

test_no_dev_kvm() {
	# A private mount namespace with an empty /dev: no /dev/kvm at all.
	command -v unshare >/dev/null || return 0
	run nokvm 10 unshare -m sh -c "mount -t tmpfs none /dev && exec $WISP run -k $G"
	expect_host_error "/dev/kvm does not exist"
}

test_dev_kvm_no_permission() {
	command -v setpriv >/dev/null || return 0
	[ "$(stat -c %a /dev/kvm)" = 600 ] || return 0
	run kvmperm 10 setpriv --reuid=65534 --regid=65534 --clear-groups $WISP run -k $(realpath $G)
	expect_host_error "no permission to open /dev/kvm"
}

test_help_and_version() {
	run help 10 $WISP --help
	expect_status 0 && expect_out "Ctrl-A x" && expect_out "Exit status" || return 1
	run version 10 $WISP --version
	expect_status 0 && expect_out "^wisp [0-9]"
}

test_missing_disk() {
	run nodisk 10 $WISP run -k $G -d /nonexistent/disk.img
	expect_host_error "disk '/nonexistent/disk.img': cannot open: No such file"
}

test_bad_disk_options() {
	truncate -s 1M "$OUTDIR/opt.img"
	for spec in "" ",ro" "$OUTDIR/opt.img,transport=pci" "$OUTDIR/opt.img,cache=maybe" \
		"$OUTDIR/opt.img,serial=123456789012345678901" "$OUTDIR/opt.img,bogus=1"; do
		run diskopt 10 $WISP run -k $G -d "$spec"
		expect_host_error "option --disk: '$spec'" || return 1
	done
}

test_disk_directory() {
	run diskdir 10 $WISP run -k $G -d /tmp
	expect_host_error "disk '/tmp': cannot open: Is a directory"
}

test_disk_size_not_sector_multiple_warns() {
	truncate -s 1000 "$OUTDIR/odd.img"
	run oddsize 20 $WISP run -k $G -d "$OUTDIR/odd.img" -p "wisp.test=exit status=0"
	expect_status 0 && expect_err "not a multiple of 512; the last 488 bytes are hidden"
}

test_disk_read_write_on_read_only_file() {
	command -v setpriv >/dev/null || return 0
	truncate -s 1M "$OUTDIR/rofile.img"
	chmod 0444 "$OUTDIR/rofile.img"
	run rofile 10 setpriv --reuid=65534 --regid=65534 --clear-groups \
		$WISP run -k "$(realpath $G)" -d "$OUTDIR/rofile.img"
	# Without /dev/kvm access the disk check must still come first.
	expect_host_error "cannot open read-write (add ,ro"
}

test_disk_locked_by_another_vm() {
	truncate -s 1M "$OUTDIR/shared.img"
	rm -f "$OUTDIR/holder.out" # a stale "ready" would not wait for this holder
	$WISP run -k $G -d "$OUTDIR/shared.img" -p "wisp.test=hang" </dev/null >"$OUTDIR/holder.out" 2>&1 &
	local holder=$!
	for _ in $(seq 100); do grep -q "hang: ready" "$OUTDIR/holder.out" && break; sleep 0.1; done
	run locked 10 $WISP run -k $G -d "$OUTDIR/shared.img"
	local st=$status
	kill -TERM $holder; wait $holder
	status=$st
	expect_host_error "in use by another VM"
}

test_disk_shared_read_only() {
	truncate -s 1M "$OUTDIR/shared-ro.img"
	rm -f "$OUTDIR/holder2.out" # a stale "ready" would not wait for this holder
	$WISP run -k $G -d "$OUTDIR/shared-ro.img,ro" -p "wisp.test=hang" </dev/null >"$OUTDIR/holder2.out" 2>&1 &
	local holder=$!
	for _ in $(seq 100); do grep -q "hang: ready" "$OUTDIR/holder2.out" && break; sleep 0.1; done
	run sharedro 10 $WISP run -k $G -d "$OUTDIR/shared-ro.img,ro" -p "wisp.test=exit status=0"
	kill -TERM $holder; wait $holder
	expect_status 0
}

test_tap_without_permission_names_cap_net_admin() {
	command -v setpriv >/dev/null || return 0
	run tapperm 10 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		$WISP run -k "$(realpath $G)" -n tap=wispnoperm0
	expect_host_error "tap 'wispnoperm0': permission denied: .*CAP_NET_ADMIN"
}

test_bad_net_options() {
	for spec in "" "tap=" "mac=02:00:00:00:00:01" "tap=t0,mac=01:00:00:00:00:01" \
		"tap=t0,queues=9" "tap=t0,queues=0" "tap=t0,transport=pci" "tap=t0,speed=10" \
		"tap=a_name_longer_than_15"; do
		run netopt 10 $WISP run -k $G -n "$spec"
		expect_host_error "option --net: '$spec'" || return 1
	done
}

test_bad_console_and_port_options() {
	run conopt 10 $WISP run -k $G --console tty
	expect_host_error "option --console: 'tty' is not serial or virtio" || return 1
	for spec in "noequals" "=unix:/tmp/x" "name=tcp:1234" "name=unix:"; do
		run portopt 10 $WISP run -k $G --port "$spec"
		expect_host_error "option --port: '$spec'" || return 1
	done
}

test_port_path_not_a_socket_is_refused() {
	echo keep >"$OUTDIR/not-a-socket"
	run portfile 10 $WISP run -k $G --port "agent=unix:$OUTDIR/not-a-socket"
	expect_host_error "port 'agent': cannot listen on '$OUTDIR/not-a-socket'" &&
		grep -q keep "$OUTDIR/not-a-socket" || fail "the file was touched"
}
