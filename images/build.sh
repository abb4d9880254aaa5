#!/bin/bash
# Builds wisp's Linux test image set (kernel + initramfs) from Debian packages.
#
# Usage: images/build.sh               build if needed; progress on stderr,
#                                      the image directory on stdout
#        images/build.sh --print-dir   print the image directory if it is
#                                      already built (instant), else exit 1
#
# The image directory holds vmlinux (ELF with a PVH note, no debug info),
# bzImage, initramfs.cpio (uncompressed newc) and config. It lives in
#   ${WISP_CACHE:-$HOME/.cache/wisp}/images/<hash>/
# where <hash> covers every input: this script, kernel.config, patches/*,
# init, and the versions of linux-source-6.1, busybox-static, gcc and
# binutils. Other cache entries:
#   images/src/<srchash>/linux    extracted, patched source (package + patches)
#   images/build/<srchash>/       kernel object tree (make O=), reused so a
#                                 config change only recompiles what changed
#   images/logs/<hash>.log        full log of the last build of <hash>
# Results are assembled in a temporary directory and renamed into place, so
# an interrupted build never leaves a partial image directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WISP_CACHE:-$HOME/.cache/wisp}/images
kernel_tarball=/usr/src/linux-source-6.1.tar.xz
busybox=/usr/bin/busybox

die() {
	echo "images/build.sh: error: $*" >&2
	exit 1
}
note() { echo "images: $*" >&2; }

print_only=0
case "${1:-}" in
"") ;;
--print-dir) print_only=1 ;;
-h | --help)
	sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"
	exit 0
	;;
*) die "unknown argument '$1' (usage: images/build.sh [--print-dir])" ;;
esac
[ $# -le 1 ] || die "too many arguments"

pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null ||
		die "package $1 is not installed (run images/deps.sh)"
}

# --- Inputs and their hashes ----------------------------------------------
patches=("$here"/patches/*.patch)
[ -e "${patches[0]}" ] || die "no patches in $here/patches"
for f in "$here/build.sh" "$here/kernel.config" "$here/init"; do
	[ -r "$f" ] || die "missing input $f"
done
command -v gcc >/dev/null || die "gcc not found (run images/deps.sh)"
command -v ld >/dev/null || die "ld not found (run images/deps.sh)"
src_version=$(pkg_version linux-source-6.1)
bb_version=$(pkg_version busybox-static)
# sed, not head: head would exit early and, under pipefail, turn the
# writer's SIGPIPE into a failure.
gcc_version=$(gcc --version | sed -n 1p)
ld_version=$(ld --version | sed -n 1p)

# The patched source depends only on the package and the patches.
srchash=$(
	{
		echo "linux-source-6.1 $src_version"
		for p in "${patches[@]}"; do
			echo "patch $(basename "$p") $(sha256sum <"$p")"
		done
	} | sha256sum | cut -c1-16
)
hash=$(
	{
		echo "src $srchash"
		for f in build.sh kernel.config init; do
			echo "$f $(sha256sum <"$here/$f")"
		done
		echo "busybox-static $bb_version"
		echo "gcc $gcc_version"
		echo "ld $ld_version"
	} | sha256sum | cut -c1-16
)
out=$cache/$hash
outputs=(vmlinux bzImage initramfs.cpio config)

complete() {
	local f
	[ -f "$out/.complete" ] || return 1
	for f in "${outputs[@]}"; do [ -s "$out/$f" ] || return 1; done
}

if complete; then
	echo "$out"
	exit 0
fi
if [ "$print_only" = 1 ]; then
	echo "images/build.sh: images for the current inputs are not built yet ($out); run images/build.sh or make images" >&2
	exit 1
fi

# --- Checks, lock -------------------------------------------------------------
[ -r "$kernel_tarball" ] || die "$kernel_tarball missing (run images/deps.sh)"
[ -x "$busybox" ] || die "$busybox missing (run images/deps.sh)"
for tool in make bc bison flex cpio patch tar xz lz4 strip flock; do
	command -v "$tool" >/dev/null || die "$tool not found (run images/deps.sh)"
done
[ -e /usr/include/gelf.h ] || die "libelf headers missing (run images/deps.sh)"

mkdir -p "$cache/src" "$cache/build" "$cache/logs" || die "cannot create $cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
	note "waiting for another image build to finish..."
	flock 9
fi
# Someone else may have built it while we waited.
if complete; then
	echo "$out"
	exit 0
fi

log=$cache/logs/$hash.log
: >"$log"
tmp=
cleanup() {
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start=$SECONDS

fail() {
	echo "images/build.sh: error: $*" >&2
	echo "---- last 40 lines of $log ----" >&2
	tail -n 40 "$log" >&2
	echo "---- full log: $log ----" >&2
	exit 1
}

# --- Patched source tree (cached per package version + patches) --------------
src=$cache/src/$srchash/linux
if [ ! -f "$cache/src/$srchash/.complete" ]; then
	note "extracting linux-source-6.1 $src_version and applying ${#patches[@]} patches"
	rm -rf "$cache/src/$srchash" "$cache/src/.tmp.$srchash"
	stage=$cache/src/.tmp.$srchash
	tmp=$stage
	mkdir -p "$stage"
	tar -xf "$kernel_tarball" -C "$stage" >>"$log" 2>&1 || fail "cannot extract $kernel_tarball"
	mv "$stage/linux-source-6.1" "$stage/linux" || fail "unexpected tarball layout"
	for p in "${patches[@]}"; do
		echo "applying $(basename "$p")" >>"$log"
		patch -p1 -N --no-backup-if-mismatch -d "$stage/linux" <"$p" >>"$log" 2>&1 ||
			fail "patch $(basename "$p") does not apply to linux-source-6.1 $src_version"
	done
	touch "$stage/.complete"
	mv "$stage" "$cache/src/$srchash"
	tmp=
fi

# --- Kernel configuration -------------------------------------------------------
build=$cache/build/$srchash
tmp=$(mktemp -d "$cache/.tmp.$hash.XXXXXX")
# The object tree is reused across builds (make only recompiles what changed),
# but a build killed midway may leave truncated objects that look up to date:
# after an interrupted build, start from a clean tree.
if [ -e "$build.building" ]; then
	note "previous kernel build was interrupted; starting from a clean object tree"
	rm -rf "$build" "$build.building"
fi
mkdir -p "$build"
kmake() { make -C "$src" O="$build" "$@"; }

note "configuring: allnoconfig + images/kernel.config"
{
	: >"$tmp/empty"
	KCONFIG_CONFIG=$tmp/fragment "$src/scripts/kconfig/merge_config.sh" -m \
		"$tmp/empty" "$here/kernel.config" &&
		kmake KCONFIG_ALLCONFIG="$tmp/fragment" allnoconfig &&
		kmake olddefconfig
} >>"$log" 2>&1 || fail "kernel configuration failed"

# Every line of the fragment must have survived: a symbol silently dropped by
# an unmet dependency would otherwise change the kernel behind our back.
missing=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		sym=${line%%=*}
		grep -qxF -- "$line" "$build/.config" || {
			echo "images/build.sh: kernel.config: $line did not survive (now: $(grep -E "^(# )?$sym[= ]" "$build/.config" || echo "absent"))" >&2
			missing=1
		}
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if grep -q "^$sym=" "$build/.config"; then
			echo "images/build.sh: kernel.config: $sym should be off but is $(grep "^$sym=" "$build/.config")" >&2
			missing=1
		fi
		;;
	esac
done <"$here/kernel.config"
[ "$missing" = 0 ] || die "kernel.config is not satisfiable (missing dependency?); see above"
cp "$build/.config" "$tmp/config"

# --- Kernel -------------------------------------------------------------------------
jobs=$(nproc)
count_file=$cache/build/$srchash.objects
total=$(cat "$count_file" 2>/dev/null || echo "")
note "building the kernel with make -j$jobs (log: $log)"
# Show a progress line every 100 compiled files instead of make's output.
touch "$build.building"
if ! kmake -j"$jobs" vmlinux bzImage 2>&1 | tee -a "$log" |
	awk -v total="$total" -v countfile="$tmp/objects" '
		/^  (CC|AS) / {
			n++
			if (n % 100 == 0) {
				if (total != "")
					printf "kernel: %d/~%d objects\n", n, total
				else
					printf "kernel: %d objects\n", n
				fflush()
			}
		}
		END { print n + 0 > countfile }' >&2; then
	rm -f "$build.building" # a clean failure: the object tree is consistent
	fail "kernel build failed"
fi
rm -f "$build.building"
objects=$(cat "$tmp/objects")
if [ "$objects" -gt 500 ]; then echo "$objects" >"$count_file"; fi
note "kernel: $objects objects compiled ($((SECONDS - start)) s so far)"

strip --strip-debug -o "$tmp/vmlinux" "$build/vmlinux" >>"$log" 2>&1 || fail "strip vmlinux failed"
cp "$build/arch/x86/boot/bzImage" "$tmp/bzImage" || fail "no bzImage"

# --- initramfs ---------------------------------------------------------------------------
# gen_init_cpio takes owners, modes and device nodes from a list, so neither
# root nor mknod is needed. Contents: /init, /bin/busybox, /dev/console for
# init's stdio, /etc/fstab, the mount points, and links only for the applets
# that get exec'd by path: every cpio entry costs ~12 ms of emulated kernel
# work at unpack on kvm_pvm (all 269 links: ~3.3 s). Debian's busybox-static
# is built with FEATURE_SH_STANDALONE and FEATURE_PREFER_APPLETS, so sh (and
# xargs, timeout, setsid... under it) runs every applet without a link.
link_applets="bin/sh usr/bin/env"
note "building initramfs.cpio"
gcc -O2 -o "$tmp/gen_init_cpio" "$src/usr/gen_init_cpio.c" >>"$log" 2>&1 ||
	fail "cannot build gen_init_cpio"
env -i PATH=/nonexistent "$busybox" sh -c 'mount --help' >/dev/null 2>&1 ||
	die "$busybox is not built with FEATURE_SH_STANDALONE; the initramfs needs it"
nl=$'\n'
applets=$("$busybox" --list-full) || die "$busybox --list-full failed"
# init mounts these with one `mount -a`.
printf '%s\n' "proc /proc proc defaults 0 0" "sysfs /sys sysfs defaults 0 0" \
	"devtmpfs /dev devtmpfs defaults 0 0" >"$tmp/fstab"
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	for d in bin etc usr usr/bin proc sys root; do
		echo "dir /$d 0755 0 0"
	done
	echo "file /etc/fstab $tmp/fstab 0644 0 0"
	echo "dir /tmp 01777 0 0"
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "file /init $here/init 0755 0 0"
	for applet in $link_applets; do
		case "$nl$applets$nl" in
		*"$nl$applet$nl"*) echo "slink /$applet /bin/busybox 0777 0 0" ;;
		*) die "busybox has no applet $applet" ;;
		esac
	done
} >"$tmp/initramfs.list"
(cd "$tmp" && ./gen_init_cpio -t 0 initramfs.list >initramfs.cpio) 2>>"$log" ||
	fail "gen_init_cpio failed"
sed -i "s#$tmp/fstab#(generated)#" "$tmp/initramfs.list"
rm -f "$tmp/gen_init_cpio" "$tmp/empty" "$tmp/fragment" "$tmp/objects" "$tmp/fstab"

# --- Publish -------------------------------------------------------------------------------
{
	echo "linux-source-6.1 $src_version + $(cd "$here/patches" && echo *.patch)"
	echo "busybox-static $bb_version"
	echo "$gcc_version"
	echo "$ld_version"
} >"$tmp/versions"
touch "$tmp/.complete"
chmod 755 "$tmp"
rm -rf "$out"
mv "$tmp" "$out" || fail "cannot move the images into $out"
tmp=
note "done in $((SECONDS - start)) s: vmlinux $(stat -c %s "$out/vmlinux") B, bzImage $(stat -c %s "$out/bzImage") B, initramfs.cpio $(stat -c %s "$out/initramfs.cpio") B"
echo "$out"
