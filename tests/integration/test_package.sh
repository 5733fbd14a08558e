#!/bin/bash
# test_package.sh - the Debian package: built from the tree with
# dpkg-buildpackage -b -us -uc (debian/), free of lintian errors, its runtime
# Depends from ${shlibs:Depends}; then installed with `apt-get install ./*.deb`
# in a fresh Debian 12 chroot (debootstrap minbase), where the installed
# mailprobe prints its version and probes the suite's Postfix on loopback.
#
# The base system is the one ../shared/fresh-check.sh caches
# (${TMPDIR:-/tmp}/mailprobe-fresh/base.tar), made with debootstrap when it is
# missing (and then cached the same way). The chroot needs no network: apt
# resolves the package's Depends from a local repository of this machine's
# own packages (its apt cache, else dpkg-repack of the installed package).
# Exit 77 (skipped) only when there is no base and debootstrap cannot make one,
# or when this is not root (chroot needs it); the reason is printed.
. "$(dirname "$0")/lib.sh"
mp_setup

BUILD_TIMEOUT_S=900       # dpkg-buildpackage of a Release build
DEBOOTSTRAP_TIMEOUT_S=900 # only when no cached base exists
APT_TIMEOUT_S=300

[ "$(id -u)" -eq 0 ] || mp_skip "not root: chroot and apt-get need root"
# The package is a Release build of its own: the sanitizer builds of the suite
# would only build and test the same package again.
if ldd "$MAILPROBE" 2>/dev/null | grep -qE 'lib(asan|tsan)'; then
	mp_skip "a sanitizer build: the package is built and tested in the normal build"
fi
for tool in dpkg-buildpackage dh lintian dpkg-scanpackages dpkg-repack; do
	command -v "$tool" >/dev/null ||
		mp_fail "$tool is missing (tests/run-all.sh installs it with .ci/install-deps.sh)"
done

# --- 1. build the package from a copy of the tree ------------------------------------
src=$MP_WORK/src/mailprobe
mkdir -p "$src"
(cd "$MP_SRC" && git ls-files -co --exclude-standard 2>/dev/null || find . -path ./build\* -prune -o -type f -print) |
	grep -v '^\(build[^/]*\|obj-[^/]*\|debian/\.debhelper\|debian/mailprobe\)/' >"$MP_WORK/files.txt"
tar -C "$MP_SRC" -cf - -T "$MP_WORK/files.txt" | tar -C "$src" -xf -
mp_note "dpkg-buildpackage -b -us -uc (log: $MP_WORK/build.log)"
(cd "$src" && timeout "$BUILD_TIMEOUT_S" dpkg-buildpackage -b -us -uc) >"$MP_WORK/build.log" 2>&1 ||
	mp_fail "dpkg-buildpackage failed: $(tail -n 20 "$MP_WORK/build.log")"
deb=$(ls "$MP_WORK"/src/mailprobe_*_"$(dpkg --print-architecture)".deb)
[ -f "$deb" ] || mp_fail "no .deb in $MP_WORK/src"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libwolfssl libcjson libmicrohttpd libunbound libc6; do
	grep -q "$lib" <<<"$depends" || mp_fail "Depends lacks $lib: $depends"
done
dpkg-deb -c "$deb" | awk '{print $6}' >"$MP_WORK/contents.txt"
for f in ./usr/bin/mailprobe ./usr/share/man/man1/mailprobe.1.gz ./usr/share/bash-completion/completions/mailprobe \
	./lib/systemd/system/mailprobe-serve.service ./usr/share/doc/mailprobe/copyright \
	./usr/share/doc/mailprobe/examples/serve.json; do
	grep -qxF "$f" "$MP_WORK/contents.txt" || mp_fail "the package lacks $f"
done
lintian "$deb" >"$MP_WORK/lintian.txt" 2>&1 || true
if grep '^E: ' "$MP_WORK/lintian.txt"; then
	mp_fail "lintian errors (above)"
fi
mp_note "built $(basename "$deb"): Depends $depends; lintian: $(grep -c '^[EW]: ' "$MP_WORK/lintian.txt") errors or warnings"

# --- 2. a fresh Debian 12 base ---------------------------------------------------------
cache=${TMPDIR:-/tmp}/mailprobe-fresh
base=$cache/base.tar
if [ ! -s "$base" ]; then
	command -v debootstrap >/dev/null || mp_skip "no cached base ($base) and no debootstrap to make one"
	# this machine's own mirror: deb822 sources, else a one-line sources.list
	mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
		/etc/apt/sources.list 2>/dev/null || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	mp_note "no cached base: debootstrap --variant=minbase bookworm (log: $MP_WORK/debootstrap.log)"
	mkdir -p "$cache"
	if ! timeout "$DEBOOTSTRAP_TIMEOUT_S" debootstrap --variant=minbase bookworm "$MP_WORK/base" "$mirror" \
		>"$MP_WORK/debootstrap.log" 2>&1; then
		for m in proc sys dev/pts dev; do mountpoint -q "$MP_WORK/base/$m" && umount -l "$MP_WORK/base/$m"; done
		mp_skip "debootstrap cannot run here (no network to $mirror, or no permission to mount in a nested chroot): $(tail -n 3 "$MP_WORK/debootstrap.log" | tr '\n' ' ')"
	fi
	tar -C "$MP_WORK/base" -cf "$base.$$" . && mv "$base.$$" "$base"
	rm -rf "$MP_WORK/base"
fi

root=$MP_WORK/root
cleanup() {
	if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
	# the chroot is ~250 MB: removed unless something is still mounted in it
	grep -q " $root/" /proc/mounts || rm -rf "$root"
}
trap cleanup EXIT
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$base"

# --- 3. a local repository holding the package's dependencies -------------------------------
repo=$root/var/local/mailprobe-repo
mkdir -p "$repo"
# shellcheck disable=SC2001
deps=$(sed 's/([^)]*)//g; s/[,|]/ /g' <<<"$depends")
# shellcheck disable=SC2086
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $deps 2>/dev/null | grep -v '^ ' | grep -v '<' | sort -u)
[ -n "$closure" ] || mp_fail "apt-cache depends found no dependency closure for: $deps"
for p in $closure; do
	v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) || mp_fail "$p (a dependency) is not installed here"
	a=$(dpkg-query -W -f='${Architecture}' "$p")
	cached=/var/cache/apt/archives/${p}_${v/:/%3a}_${a}.deb
	if [ -f "$cached" ]; then
		cp "$cached" "$repo/"
	else
		(cd "$repo" && dpkg-repack "$p") >>"$MP_WORK/repack.log" 2>&1 ||
			mp_fail "dpkg-repack $p failed: $(tail -n 5 "$MP_WORK/repack.log")"
	fi
done
(cd "$repo" && dpkg-scanpackages . >Packages 2>"$MP_WORK/scan.log") || mp_fail "dpkg-scanpackages: $(cat "$MP_WORK/scan.log")"
rm -f "$root"/etc/apt/sources.list.d/*
echo "deb [trusted=yes] file:/var/local/mailprobe-repo ./" >"$root/etc/apt/sources.list"
cp "$deb" "$root/tmp/"
cp "$MP_CA" "$root/tmp/ca.pem"
mount -t proc proc "$root/proc"

# --- 4. apt-get install ./mailprobe_*.deb, as a user would -------------------------------------
in_root() {
	timeout "$APT_TIMEOUT_S" chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive "$@"
}
in_root apt-get update >"$MP_WORK/apt.log" 2>&1 || mp_fail "apt-get update in the chroot: $(tail -n 10 "$MP_WORK/apt.log")"
in_root dpkg-query -W mailprobe >/dev/null 2>&1 && mp_fail "mailprobe is already in the fresh base"
in_root apt-get install -y --no-install-recommends "./tmp/$(basename "$deb")" >>"$MP_WORK/apt.log" 2>&1 ||
	in_root sh -c "cd / && apt-get install -y --no-install-recommends ./tmp/$(basename "$deb")" >>"$MP_WORK/apt.log" 2>&1 ||
	mp_fail "apt-get install ./$(basename "$deb") in the chroot: $(tail -n 15 "$MP_WORK/apt.log")"
mp_note "installed in the chroot: $(in_root dpkg-query -W -f='${Package} ${Version} (${Status})' mailprobe)"

out=$(in_root /usr/bin/mailprobe --version 2>&1) || mp_fail "mailprobe --version in the chroot: $out"
grep -q '^mailprobe [0-9]' <<<"$out" || mp_fail "mailprobe --version in the chroot: $out"
[ -s "$root/usr/share/man/man1/mailprobe.1.gz" ] || mp_fail "no man page in the chroot"

in_root /usr/bin/mailprobe --format json --cafile /tmp/ca.pem --greeting-timeout 3000 \
	"smtp+starttls://127.0.0.1:$MP_SUBMISSION_PORT" "imaps://127.0.0.1:$MP_IMAPS_PORT" \
	>"$MP_WORK/probe.json" 2>"$MP_WORK/probe.err" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || mp_fail "the installed mailprobe exited $rc: $(cat "$MP_WORK/probe.err")"
pyeq "$MP_WORK/probe.json" '[x["status"] for x in results]' '["ok", "ok"]' 'probes from the chroot'
pyeq "$MP_WORK/probe.json" 'R("imap", env["MP_IMAPS_PORT"])["tls"]["verified"]' 'True' 'verified from the chroot'
mp_note "the installed package probed smtp+starttls and imaps on loopback from a fresh chroot"
