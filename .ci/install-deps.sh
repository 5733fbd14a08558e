#!/usr/bin/env bash
# Installs everything mailprobe needs to build and test on Debian 12, without
# starting any system daemons (the test suite starts its own private instances).
set -euo pipefail
PKGS=(build-essential cmake pkg-config libwolfssl-dev libcjson-dev libcmocka-dev libmicrohttpd-dev
      openssl ca-certificates python3 python3-jsonschema postfix dovecot-core dovecot-imapd dovecot-pop3d
      dante-server microsocks tinyproxy stunnel4 parallel clang libclang-rt-14-dev procps iproute2
      valgrind time bsdutils curl nagios4-core prometheus libxml2-utils chromium
      libunbound-dev libevent-dev knot ldnsutils libidn2-dev zlib1g-dev libxml2-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
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
exit 0
