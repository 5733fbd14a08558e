#!/usr/bin/env bash
# Installs the Debian 12 packages mailprobe needs, in three sets, without
# starting any system daemons (the tests start their own private instances):
#   .ci/install-deps.sh build   the compiler, CMake and the libraries: enough to build
#   .ci/install-deps.sh demo    build + what tests/demo.sh runs (Postfix, Dovecot, OpenSSL)
#   .ci/install-deps.sh [all]   everything tests/run-all.sh uses (the default)
# apt's output goes to a log file (MP_DEPS_LOG, default /tmp/mailprobe-install-deps.log);
# the terminal gets one line per step, and the log's tail if a step fails.
set -euo pipefail
set_name=${1:-all}

# libevent-dev: libunbound's pkg-config file requires libevent, and
# libunbound-dev does not pull it in; cmocka and zlib: the tests
BUILD=(build-essential cmake pkg-config libwolfssl-dev libcjson-dev libmicrohttpd-dev
       libunbound-dev libevent-dev libidn2-dev libcmocka-dev zlib1g-dev libxml2-dev ca-certificates)
DEMO=(openssl python3 postfix dovecot-core dovecot-imapd dovecot-pop3d)
ALL=(python3-jsonschema dante-server microsocks tinyproxy stunnel4 parallel clang libclang-rt-14-dev
     procps iproute2 valgrind time bsdutils curl nagios4-core prometheus libxml2-utils chromium
     knot ldnsutils mandoc lintian debhelper dpkg-dev dpkg-repack fakeroot debootstrap file
     bash-completion tmux clang-format libidn12)
case $set_name in
build) PKGS=("${BUILD[@]}") ;;
demo) PKGS=("${BUILD[@]}" "${DEMO[@]}") ;;
all) PKGS=("${BUILD[@]}" "${DEMO[@]}" "${ALL[@]}") ;;
*)
	echo "usage: $0 [build|demo|all]" >&2
	exit 3
	;;
esac

# Exim for tests/integration/test_vrfy.sh ('all' set): it conflicts with
# postfix as a package, so its daemon is unpacked into /opt/mailprobe-exim
# (never installed, no package script runs); it wants libidn12 (in ALL) and
# the system user Debian-exim. Runs at the end, once the packages are in.
install_exim() {
	local sudo="" tmp
	[ "$set_name" = all ] || return 0
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	[ -x /opt/mailprobe-exim/usr/sbin/exim4 ] && id Debian-exim >/dev/null 2>&1 && return 0
	echo "install-deps: unpacking exim4-daemon-light into /opt/mailprobe-exim"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download exim4-daemon-light >/dev/null 2>&1)
	$sudo mkdir -p /opt/mailprobe-exim
	$sudo dpkg-deb -x "$tmp"/exim4-daemon-light_*.deb /opt/mailprobe-exim
	rm -rf "$tmp"
	id Debian-exim >/dev/null 2>&1 ||
		$sudo useradd --system --no-create-home --shell /usr/sbin/nologin Debian-exim
}

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { install_exim; exit 0; }

log=${MP_DEPS_LOG:-/tmp/mailprobe-install-deps.log}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
start=$SECONDS
# step MESSAGE COMMAND...: one line on the terminal, the command's output in the log.
step() {
	local msg=$1
	shift
	local t0=$SECONDS
	printf 'install-deps: %s\n' "$msg"
	echo "== $msg: $*" >>"$log"
	if "$@" >>"$log" 2>&1; then
		echo "== $msg: $((SECONDS - t0)) s" >>"$log"
	else
		echo "install-deps: failed: $msg; the end of $log:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
}
: >"$log"
echo "install-deps: ${#missing[@]} packages of the '$set_name' set to install (apt's output: $log)"
# Keep package scripts from starting system instances on the well-known ports.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod +x /usr/sbin/policy-rc.d
	created_policy=1
fi
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
step "updating the package lists" $SUDO apt-get update
step "downloading ${#missing[@]} packages" $SUDO apt-get install -y --no-install-recommends --download-only "${missing[@]}"
# --force-unsafe-io: dpkg skips its fsync per file, most of the time spent
# installing on a fresh machine (the packages are on disk already; a crash in
# between means running this again)
step "installing them" $SUDO apt-get install -y --no-install-recommends \
	-o Dpkg::Options::=--force-unsafe-io "${missing[@]}"
[ $created_policy -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
install_exim
echo "install-deps: done in $((SECONDS - start)) s"
exit 0
