#!/bin/bash
# Builds the read-only "tools" disk the Linux disk tests mount in the guest: Debian's
# mke2fs with its libraries and loader, and a static PRNG for test data, in an ext2 image
# made without root (mke2fs -d). Cached like the kernel images, keyed by its inputs.
#
# Usage: images/tools.sh      prints the path of tools.img on stdout
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WISP_CACHE:-$HOME/.cache/wisp}/tools
die() { echo "images/tools.sh: error: $*" >&2; exit 1; }

command -v mke2fs >/dev/null || die "mke2fs not found (e2fsprogs)"
command -v musl-gcc >/dev/null || die "musl-gcc not found (musl-tools)"
mke2fs_bin=$(command -v mke2fs)
libs=$(ldd "$mke2fs_bin" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u)
key=$( (cat "$0" "$here/tools/prng.c"; dpkg-query -W -f='${Version}' e2fsprogs libc6 musl-tools) |
	sha256sum | cut -c1-16)
out=$cache/$key
if [ -f "$out/tools.img" ]; then
	echo "$out/tools.img"
	exit 0
fi
tmp=$(mktemp -d "$cache.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$cache"; mktemp -d "$cache/.tmp.XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/bin" "$tmp/root/lib"
cp "$mke2fs_bin" "$tmp/root/bin/mke2fs"
for l in $libs; do cp -L "$l" "$tmp/root/lib/"; done
musl-gcc -static -O2 -s -o "$tmp/root/bin/prng" "$here/tools/prng.c"
mke2fs -q -t ext2 -d "$tmp/root" -L wisptools "$tmp/tools.img" 16M >&2
mkdir -p "$cache"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
rm -rf "$out/root"
echo "$out/tools.img"
