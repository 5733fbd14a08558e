#!/usr/bin/env bash
# Installs everything mailprobe needs to build and test on Debian 12, without
# starting any system daemons (the test suite starts its own private instances).
set -euo pipefail
PKGS=(build-essential cmake pkg-config libwolfssl-dev libcjson-dev libcmocka-dev libmicrohttpd-dev
      openssl ca-certificates python3 python3-jsonschema postfix dovecot-core dovecot-imapd dovecot-pop3d
      dante-server microsocks tinyproxy stunnel4 parallel clang libclang-rt-14-dev procps iproute2
      valgrind time bsdutils curl nagios4-core prometheus libxml2-utils chromium
      libunbound-dev libevent-dev knot ldnsutils)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Exim for tests/integration/test_vrfy.sh: it conflicts with postfix as a
# package, so its daemon is unpacked into /opt/mailprobe-exim (never
# installed, never started by a package script); it wants libidn12 and the
# system user Debian-exim.
install_exim() {
  [ -x /opt/mailprobe-exim/usr/sbin/exim4 ] && id Debian-exim >/dev/null 2>&1 && return 0
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download exim4-daemon-light >/dev/null)
  $SUDO mkdir -p /opt/mailprobe-exim
  $SUDO dpkg-deb -x "$tmp"/exim4-daemon-light_*.deb /opt/mailprobe-exim
  rm -rf "$tmp"
  id Debian-exim >/dev/null 2>&1 ||
    $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin Debian-exim
}
PKGS+=(libidn12)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { install_exim; exit 0; }
echo "installing: ${missing[*]}"
# Keep package scripts from starting system instances on the well-known ports.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ $created_policy -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
install_exim
exit 0
