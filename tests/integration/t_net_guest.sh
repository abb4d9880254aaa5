# virtio-net under wisp, driven by the test guest against a tap peer: frames both ways,
# offloads, mergeable buffers, MQ, the control queue, hostile drivers, netbench.
#
# Each test makes a network namespace and a tap in it (names unique per run), runs the peer
# (tests/integration/tappeer.py: an AF_PACKET socket on that tap only) and wisp inside the
# namespace, and deletes both afterwards. Nothing outside the namespace is touched.
G=build/guest/test-guest.elf
NET_MAC=52:54:00:12:34:56

# Namespaces and taps need CAP_NET_ADMIN and /dev/net/tun: probe once, say why if not.
_net_probe=wispprobe$$
if ! ip netns add $_net_probe 2>/dev/null; then
	echo "t_net_guest: SKIPPED: 'ip netns add' failed (needs root / CAP_SYS_ADMIN and CAP_NET_ADMIN)"
	NET_SKIP=1
elif ! ip -n $_net_probe tuntap add dev wprobe0 mode tap 2>/dev/null; then
	echo "t_net_guest: SKIPPED: no tap inside a namespace (/dev/net/tun missing? modprobe tun)"
	NET_SKIP=1
fi
ip netns del $_net_probe 2>/dev/null
unset _net_probe

# net_up NAME [multi_queue]: namespace $NS with tap $TAP (MTU 9000, no IPv6 chatter), the
# peer running on it with its output in $OUTDIR/NAME.peer.
net_up() {
	NS=wispnet$$r$RANDOM
	TAP=wt$RANDOM
	PEER_LOG=$OUTDIR/$1.peer
	ip netns add "$NS" || return 1
	ip -n "$NS" tuntap add dev "$TAP" mode tap ${2:+multi_queue} || return 1
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$NS" link set "$TAP" mtu 9000 up || return 1
	rm -f "$PEER_LOG" # a stale "ready" would not wait for this peer
	ip netns exec "$NS" python3 tests/integration/tappeer.py "$TAP" 300 >"$PEER_LOG" 2>&1 &
	PEER=$!
	for _ in $(seq 100); do
		grep -q "tappeer: ready" "$PEER_LOG" && return 0
		sleep 0.05
	done
	echo "    the peer did not start:"; sed 's/^/    /' "$PEER_LOG"
	return 1
}

net_down() {
	[ -n "${PEER:-}" ] && { kill "$PEER" 2>/dev/null; wait "$PEER" 2>/dev/null; }
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
	PEER= NS=
}

# net_run NAME TIMEOUT NETOPTS GUESTARGS: wisp in the namespace with --stats.
net_run() {
	local name=$1 tmo=$2 opts=$3
	shift 3
	run "$name" "$tmo" ip netns exec "$NS" $WISP run --stats -k $G -m 256M \
		-n "tap=$TAP,mac=$NET_MAC$opts" -p "$*"
	# The peer exits after the guest's QUIT; give it a moment, then read its summary.
	for _ in $(seq 20); do kill -0 "$PEER" 2>/dev/null || break; sleep 0.05; done
}

expect_peer_clean() { # no corrupted frame, nothing the device should have dropped
	grep -q "tappeer: summary .*badcrc=0 poison=0" "$PEER_LOG" ||
		fail "the peer saw bad frames: $(grep summary "$PEER_LOG")"
}

# The stats line's dropped counts must be what the guest says it made the device drop.
expect_drops() {
	local want got
	want=$(sed -n 's/.*hostile-net: expect stats tx_dropped=\([0-9]*\) rx_dropped=\([0-9]*\).*/\1 \2/p' \
		"$OUTDIR/$last.out")
	got=$(sed -n 's/.*stats: net 0 ([^)]*): tx [0-9]* frames, \([0-9]*\) dropped; rx [0-9]* frames, \([0-9]*\) dropped.*/\1 \2/p' \
		"$OUTDIR/$last.err")
	[ -n "$want" ] && [ "$want" = "$got" ] ||
		fail "dropped (tx rx): the guest expects '$want', --stats says '$got'"
}

net_case() { # NAME WISP-NET-OPTS GUEST-KEYS...
	local name=$1 opts=$2 mq=
	shift 2
	[ -n "${NET_SKIP:-}" ] && return 0
	case $opts in *queues=*) mq=1 ;; esac
	net_up "$name" $mq || { net_down; fail "namespace / tap / peer set-up failed"; return 1; }
	net_run "$name" 120 "$opts" "wisp.test=net expect.mac=$NET_MAC $*"
	net_down
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_clean &&
		expect_err "stats: net 0 .*tx [0-9]* frames, 0 dropped; rx [0-9]* frames, 0 dropped"
}

test_net_modern() { net_case netmod ",transport=modern" virtio.transport=modern; }
test_net_legacy() { net_case netleg ",transport=legacy" virtio.transport=legacy; }
test_net_transitional_modern_driver() { net_case nettrm "" virtio.transport=modern; }
test_net_transitional_legacy_driver() { net_case nettrl "" virtio.transport=legacy; }
test_net_without_csum_offloads() { net_case netnocsum "" net.csum=0; }
test_net_without_tso() { net_case netnotso "" net.tso=0; }
test_net_big_buffers_without_mrg_rxbuf() { net_case netbig "" net.mrg=0; }
test_net_big_buffers_legacy() { net_case netbigl "" net.mrg=0 virtio.transport=legacy; }
test_net_small_buffers() { net_case netsmall "" net.mrg=0 net.tso=0; }
test_net_mergeable_512_byte_buffers() { net_case netmrg512 "" net.rxbuf=512; }
test_net_split_rx_chains_plain_ring() {
	net_case netplain "" virtio.event_idx=0 virtio.indirect=0 net.rxsplit=1
}
test_net_without_msix() { net_case netnomsix "" virtio.msix=0; }
test_net_polled_without_control_queue() { net_case netpoll "" virtio.wait=poll net.ctrl=0; }
test_net_mq2() { net_case netmq2 ",queues=2" mq=2 expect.max_pairs=2; }
test_net_mq4_legacy() { net_case netmq4 ",queues=4" mq=4 virtio.transport=legacy; }
test_net_mq8() { net_case netmq8 ",queues=8" mq=8; }

hostile_net_case() { # CASE TRANSPORT GUEST-KEYS...
	local c=$1 tr=$2 name="hn$1$2"
	shift 2
	[ -n "${NET_SKIP:-}" ] && return 0
	net_up "$name" || { net_down; fail "namespace / tap / peer set-up failed"; return 1; }
	net_run "$name" 120 ",transport=transitional" \
		"wisp.test=hostile-net-$c virtio.transport=$tr $*"
	net_down
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_clean && expect_drops
}

# tx-rewrite: BAD-INPUTS "descriptor or request header changed after the kick" on the TX
# path: the peer fails any frame that is no version of what the guest submitted, the drops
# (refused versions) must be what --stats counts.
for _c in tx-short-hdr tx-oversized tx-bad-gso tx-rewrite rx-small rx-none notify ctrl; do
	eval "test_hostile_net_${_c//-/_}_modern() { hostile_net_case $_c modern; }"
done
for _c in tx-short-hdr tx-bad-gso tx-rewrite notify; do
	eval "test_hostile_net_${_c//-/_}_legacy() { hostile_net_case $_c legacy; }"
done
unset _c
test_hostile_net_tx_rewrite_legacy_10_byte_header() { hostile_net_case tx-rewrite legacy net.mrg=0; }
test_hostile_net_tx_bad_gso_without_tso() { hostile_net_case tx-bad-gso modern net.tso=0; }
test_hostile_net_tx_bad_gso_without_csum() { hostile_net_case tx-bad-gso modern net.csum=0; }

# BAD-INPUTS "submission flood: memory use stays bounded" for virtio-net (hostile-net-flood):
# PAIRS queue pairs on a multi-queue tap, every TX queue full of frames to a peer that reads
# far slower than they come, every RX buffer posted while the peer floods the guest, and two
# phases in which the guest holds its RX buffers back (the tap back-pressured). wisp's
# RssAnon is sampled at each of the 6 phase lines, the guest staying in that phase until
# the host's byte on COM1 comes (run_sampled, expect_memory_bounded: lib.sh, the same
# bounds as the disk flood).
net_flood_case() { # NAME TRANSPORT PAIRS
	local name=$1
	[ -n "${NET_SKIP:-}" ] && return 0
	net_up "$name" multi_queue || { net_down; fail "namespace / tap / peer set-up failed"; return 1; }
	run_sampled "$name" 120 '^hostile-net: flood: phase' ip netns exec "$NS" $WISP run --stats \
		-k $G -m 256M -n "tap=$TAP,mac=$NET_MAC,transport=transitional,queues=$3" \
		-p "wisp.test=hostile-net-flood virtio.transport=$2 mq=$3 flood.ack=1"
	for _ in $(seq 20); do kill -0 "$PEER" 2>/dev/null || break; sleep 0.05; done
	net_down
	expect_status 0 && expect_out "wisp-test-guest: PASS" && expect_peer_clean &&
		expect_drops && expect_memory_bounded 6
}

test_hostile_net_flood_memory_bounded_modern() { net_flood_case hnfloodm modern 4; }
test_hostile_net_flood_memory_bounded_legacy() { net_flood_case hnfloodl legacy 2; }

netbench_case() { # NAME GUEST-KEYS...
	local name=$1
	shift
	[ -n "${NET_SKIP:-}" ] && return 0
	net_up "$name" || { net_down; fail "namespace / tap / peer set-up failed"; return 1; }
	net_run "$name" 60 "" "wisp.test=netbench $*"
	net_down
	expect_status 0 || return 1
	[ "$(grep -c '^netbench: mode=[a-z]* size=[0-9]* frames=[0-9]* secs=[0-9.]* pps=[0-9]* mbps=[0-9.]*' "$OUTDIR/$last.out")" = 1 ] ||
		fail "no single netbench result line"
}

test_netbench_tx() { netbench_case nbtx mode=tx secs=1; }
test_netbench_small_frames() { netbench_case nbsmall mode=small secs=1; }
test_netbench_rx() { netbench_case nbrx mode=rx secs=1; }
# 1514-byte frames in 512-byte buffers, polled from ring 3: every merged frame's buffers must
# be visible together (one used->idx update), as Linux's receive_mergeable needs.
test_netbench_rx_merged_frames_whole() {
	netbench_case nbrxmrg mode=rx secs=2 net.rxbuf=512 kick=always
}
