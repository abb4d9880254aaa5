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
