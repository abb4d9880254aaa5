#!/bin/sh
# Installs what building and testing wisp needs on a fresh Debian 12, only if missing.
set -eu

pkgs="make gcc libc6-dev musl-tools linux-libc-dev libcriterion-dev liburing-dev libseccomp-dev util-linux python3 e2fsprogs bc iproute2 valgrind"
# Fuzzing (tests/fuzz): clang with libFuzzer and the sanitizer runtimes.
pkgs="$pkgs clang-14 libclang-rt-14-dev"

missing=
for p in $pkgs; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "tests/deps.sh: installing:$missing" >&2
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get -qq update >/dev/null
	# shellcheck disable=SC2086
	$sudo apt-get -qq install -y --no-install-recommends $missing >/dev/null
fi
# The Linux test image has its own list.
exec "$(dirname "$0")/../images/deps.sh"
