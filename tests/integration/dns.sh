#!/bin/bash
# dns.sh - start and stop a private Knot DNS server on 127.0.0.1 for the tests.
#
#   dns.sh start DIR   serve the zones in DIR/zones (written by the caller):
#                        NAME.zone          signed by Knot (KSK/ZSK made by Knot)
#                        NAME.zone.signed   pre-signed (ldns-signzone), served as is
#                        NAME.zone.plain    unsigned
#                      on 127.0.0.1 at a free high port; when the zone "test."
#                      is signed, write its DS records to DIR/anchor (the trust
#                      anchor for libunbound); write DIR/dns.env (MP_DNS_PORT,
#                      MP_DNS_ANCHOR, MP_DNS_PID)
#   dns.sh stop DIR    stop the knotd that start started (by PID); idempotent
#
# Only loopback; names under .test only. Needs knotd, knotc and keymgr (Debian knot).
set -euo pipefail

START_WAIT_S=20         # bound on waiting for Knot to answer and sign
STOP_WAIT_S=10          # bound on waiting for knotd to exit

die() {
	echo "dns.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: dns.sh start|stop DIR"
cmd=$1
DIR=$(cd "$2" 2>/dev/null && pwd) || die "no directory $2"
DNSQ=$(cd "$(dirname "$0")/../fake" && pwd)/dnsq.py
PY=/usr/bin/python3

# A free TCP and UDP port on 127.0.0.1 (asked of the kernel, then released).
free_port() {
	"$PY" - <<'PYEOF'
import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close(); u.close(); continue
    t.close(); u.close(); print(port); break
PYEOF
}

stop() {
	local pid i
	[ -f "$DIR/knot.pid" ] || return 0
	pid=$(cat "$DIR/knot.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < STOP_WAIT_S * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$DIR/knot.pid"
}

start() {
	local port zones=() f name i pid
	command -v knotd >/dev/null || die "knotd is missing (Debian package knot)"
	[ -d "$DIR/zones" ] || die "$DIR/zones is missing"
	stop
	mkdir -p "$DIR/run" "$DIR/db"
	port=$(free_port)
	[ -n "$port" ] || die "no free port"
	{
		echo "server:"
		echo "    rundir: \"$DIR/run\""
		echo "    listen: 127.0.0.1@$port"
		echo "    udp-workers: 1"
		echo "    tcp-workers: 1"
		echo "    background-workers: 1"
		echo "log:"
		echo "  - target: \"$DIR/knot.log\""
		echo "    any: info"
		echo "database:"
		echo "    storage: \"$DIR/db\""
		echo "policy:"
		echo "  - id: test"
		echo "    algorithm: ecdsap256sha256"
		echo "    ksk-lifetime: 0"
		echo "    zsk-lifetime: 0"
		echo "template:"
		echo "  - id: default"
		echo "    storage: \"$DIR/zones\""
		echo "    zonefile-sync: -1"
		echo "    zonefile-load: whole"
		echo "    journal-content: none"
		echo "zone:"
		for f in "$DIR"/zones/*; do
			name=$(basename "$f")
			case "$name" in
			*.zone) echo "  - domain: ${name%.zone}."
				echo "    file: \"$name\""
				echo "    dnssec-signing: on"
				echo "    dnssec-policy: test" ;;
			*.zone.signed) echo "  - domain: ${name%.zone.signed}."
				echo "    file: \"$name\"" ;;
			*.zone.plain) echo "  - domain: ${name%.zone.plain}."
				echo "    file: \"$name\"" ;;
			esac
		done
	} >"$DIR/knot.conf"
	knotc -c "$DIR/knot.conf" conf-check >/dev/null || die "bad knot.conf"
	knotd -c "$DIR/knot.conf" >>"$DIR/knotd.out" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/knot.pid"
	# Wait until the signed zone answers with its DNSKEY.
	for ((i = 0; i < START_WAIT_S * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$DIR/knot.log" >&2; die "knotd exited"; }
		if ans=$("$PY" "$DNSQ" 127.0.0.1 "$port" test. DNSKEY 2>/dev/null) &&
			[ "${ans%% *}" = 0 ] && [ "${ans##* }" -gt 0 ]; then
			break
		fi
		sleep 0.1
	done
	[ "$i" -lt $((START_WAIT_S * 10)) ] || { stop; die "Knot did not sign test. in ${START_WAIT_S}s"; }
	keymgr -c "$DIR/knot.conf" test. ds >"$DIR/anchor.tmp" || { stop; die "keymgr ds failed"; }
	# keymgr prints "test. DS ..." (one per digest type)
	grep -q ' DS ' "$DIR/anchor.tmp" || { stop; die "no DS for test."; }
	mv "$DIR/anchor.tmp" "$DIR/anchor"
	{
		echo "MP_DNS_PORT=$port"
		echo "MP_DNS_ANCHOR=$DIR/anchor"
		echo "MP_DNS_PID=$pid"
	} >"$DIR/dns.env"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) die "usage: dns.sh start|stop DIR" ;;
esac
