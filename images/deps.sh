#!/bin/sh
# Installs the Debian packages that images/build.sh needs, only if missing:
# a re-run with everything present makes no apt call and returns at once.
set -eu

# linux-source-6.1 and busybox-static are the inputs; the rest is the kernel
# build toolchain (libelf-dev for objtool, lz4 for the bzImage payload).
pkgs="linux-source-6.1 busybox-static bc bison flex libelf-dev libssl-dev cpio
      make gcc libc6-dev binutils patch xz-utils lz4"

missing=
for p in $pkgs; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

echo "images/deps.sh: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=sudo
	else
		echo "images/deps.sh: error: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
else
	sudo=
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get -qq update >/dev/null ||
	! $sudo apt-get -qq -y --no-install-recommends install $missing >/dev/null; then
	echo "images/deps.sh: error: apt-get install failed for:$missing" >&2
	exit 1
fi
