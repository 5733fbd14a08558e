#!/bin/bash
# tlsservers.sh - TLS edge-case servers on loopback for test_tls.sh: one
# stunnel process with a service per case, each in front of a real plaintext
# SMTP server (Postfix's port 25 of servers.sh), so that mailprobe sees a
# whole SMTP conversation over the TLS the case is about.
#
#   tlsservers.sh start DIR BACKEND_PORT CA_PEM CA_KEY
#       make the certificates (signed by CA_PEM/CA_KEY, except the
#       self-signed one), write DIR/stunnel.conf, start stunnel, wait until
#       every port accepts, write DIR/tls.env
#   tlsservers.sh stop DIR      stop the stunnel start started (by PID); idempotent
#
# Cases (variable in tls.env = port, certificate in DIR/<case>.pem):
#   MP_TLS_LEGACY_PORT     TLS 1.0-1.1 only, securityLevel 0 (what OpenSSL 3 only
#                          does at level 0), leaf "good" (mail.test)
#   MP_TLS_TLS12_PORT      TLS 1.2 only, leaf "good"
#   MP_TLS_TLS13_PORT      TLS 1.3 only, leaf "good"
#   MP_TLS_EXPIRED_PORT    leaf valid in January 2020 only (openssl ca -startdate/-enddate)
#   MP_TLS_WRONGNAME_PORT  leaf for other.test only
#   MP_TLS_INCOMPLETE_PORT leaf signed by an intermediate the server does not send
#   MP_TLS_FULLCHAIN_PORT  the same leaf with its intermediate
#   MP_TLS_SELFSIGNED_PORT self-signed leaf for mail.test
#   MP_TLS_WEAKKEY_PORT    RSA 1024 leaf for mail.test (securityLevel 0)
#   MP_TLS_TLS10_PORT      TLS 1.0 only, securityLevel 0: wolfSSL cannot connect,
#                          only the hand-built hello of --enumerate-tls gets an answer
#   MP_TLS_BIGCERT_PORT    RSA 4096 leaf with 60 DNS names besides mail.test: over
#                          2 KiB, more than wolfSSL's own copy of a peer chain holds
# Ports are free ephemeral ones at start time, never fixed. Each service
# listens on 127.0.0.1 and, when the machine has IPv6 loopback, on ::1 (the
# same port: two accept lines); nothing beyond loopback.
set -euo pipefail

START_WAIT_S=15         # bound on waiting for the ports to accept
STOP_WAIT_S=10          # bound on waiting for stunnel to exit

die() {
	echo "tlsservers.sh: $*" >&2
	exit 1
}

CASES="LEGACY TLS12 TLS13 EXPIRED WRONGNAME INCOMPLETE FULLCHAIN SELFSIGNED WEAKKEY TLS10 BIGCERT"

LOOPBACK_PY=$(cd "$(dirname "$0")/../fake" && pwd)/loopback.py
ADDRS=127.0.0.1
/usr/bin/python3 "$LOOPBACK_PY" ipv6 && ADDRS="127.0.0.1 ::1"

# True when something accepts TCP connections on port $1 at every address of ADDRS.
port_open() {
	local a
	for a in $ADDRS; do
		(exec 3<>"/dev/tcp/$a/$1") 2>/dev/null || return 1
	done
}

# Prints N TCP ports free on 127.0.0.1 and ::1 (bound and released at once).
free_ports() {
	/usr/bin/python3 "$LOOPBACK_PY" free-ports "$1"
}

# Signs $1.csr into $1.pem with the CA $2/$3 and the extensions in $1.ext.
sign_leaf() {
	openssl x509 -req -sha256 -in "$D/$1.csr" -CA "$2" -CAkey "$3" \
		-set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$D/$1.ext" \
		-out "$D/$1.pem" 2>>"$D/openssl.log" || die "cannot sign $1 (see $D/openssl.log)"
}

# A key and CSR for $1 with subject $2 and key spec $3 (openssl req -newkey).
new_csr() {
	openssl req -new -newkey "$3" -nodes -sha256 -keyout "$D/$1.key" -out "$D/$1.csr" \
		-subj "$2" 2>>"$D/openssl.log" || die "cannot make the key of $1"
}

make_certs() {
	local ca=$1 cakey=$2 db
	: >"$D/openssl.log"
	# good: the leaf most cases serve, for mail.test
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectAltName=DNS:mail.test\n' \
		>"$D/good.ext"
	new_csr good "/O=mailprobe tls tests/CN=mail.test" rsa:2048
	sign_leaf good "$ca" "$cakey"
	# wrongname: a valid chain for another name
	printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:other.test\n' >"$D/wrongname.ext"
	new_csr wrongname "/CN=other.test" rsa:2048
	sign_leaf wrongname "$ca" "$cakey"
	# weakkey: RSA 1024
	cp "$D/good.ext" "$D/weakkey.ext"
	new_csr weakkey "/CN=mail.test" rsa:1024
	sign_leaf weakkey "$ca" "$cakey"
	# intermediate CA, and a leaf it signs
	printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$D/inter.ext"
	new_csr inter "/CN=mailprobe tls tests intermediate" rsa:2048
	sign_leaf inter "$ca" "$cakey"
	cp "$D/good.ext" "$D/ileaf.ext"
	new_csr ileaf "/CN=mail.test" ec:<(openssl ecparam -name prime256v1)
	sign_leaf ileaf "$D/inter.pem" "$D/inter.key"
	cp "$D/ileaf.pem" "$D/incomplete.pem"
	cp "$D/ileaf.key" "$D/incomplete.key"
	cat "$D/ileaf.pem" "$D/inter.pem" >"$D/fullchain.pem"
	cp "$D/ileaf.key" "$D/fullchain.key"
	# bigcert: a leaf of more than 2 KiB (RSA 4096, 61 names)
	{
		printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:mail.test'
		for i in $(seq 1 60); do printf ',DNS:host%02d.big.test' "$i"; done
		printf '\n'
	} >"$D/bigcert.ext"
	new_csr bigcert "/CN=mail.test" rsa:4096
	sign_leaf bigcert "$ca" "$cakey"
	# selfsigned: its own issuer
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -keyout "$D/selfsigned.key" \
		-out "$D/selfsigned.pem" -subj "/CN=mail.test" -addext "subjectAltName=DNS:mail.test" \
		2>>"$D/openssl.log" || die "cannot make the self-signed leaf"
	# expired: only `openssl ca` sets dates in the past
	db=$D/ca-db
	mkdir -p "$db"
	: >"$db/index"
	echo 1000 >"$db/serial"
	cat >"$D/ca.cnf" <<EOF
[ca]
default_ca = t
[t]
database = $db/index
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = pol
unique_subject = no
[pol]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
subjectAltName = DNS:mail.test
EOF
	new_csr expired "/CN=mail.test" rsa:2048
	openssl ca -batch -config "$D/ca.cnf" -cert "$ca" -keyfile "$cakey" -in "$D/expired.csr" \
		-out "$D/expired.pem" -startdate 20200101000000Z -enddate 20200201000000Z \
		-extensions ext -notext 2>>"$D/openssl.log" || die "cannot make the expired leaf"
	for c in legacy tls12 tls13 tls10; do
		cp "$D/good.pem" "$D/$c.pem"
		cp "$D/good.key" "$D/$c.key"
	done
	chmod 600 "$D"/*.key
}

# One stunnel service: name, port, certificate base name, extra lines.
service() {
	local a
	echo "[$1]"
	for a in $ADDRS; do
		echo "accept = $a:$2"
	done
	cat <<EOF
connect = 127.0.0.1:$BACKEND
cert = $D/$3.pem
key = $D/$3.key
$4
EOF
}

do_start() {
	local ca=$1 cakey=$2 ports i=0 p left
	command -v stunnel >/dev/null || die "stunnel is not installed (apt-get install stunnel4)"
	[ -r "$ca" ] && [ -r "$cakey" ] || die "cannot read the CA $ca / $cakey"
	do_stop
	mkdir -p "$D"
	make_certs "$ca" "$cakey"
	read -r -a ports <<<"$(free_ports 11)"
	{
		echo "; written by tlsservers.sh"
		echo "foreground = yes"
		echo "pid ="
		echo "output = $D/stunnel.log"
		echo "debug = 4"
		service legacy "${ports[0]}" legacy "sslVersionMin = TLSv1
sslVersionMax = TLSv1.1
securityLevel = 0
ciphers = DEFAULT:@SECLEVEL=0"
		service tls12 "${ports[1]}" tls12 "sslVersionMin = TLSv1.2
sslVersionMax = TLSv1.2"
		service tls13 "${ports[2]}" tls13 "sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3"
		service expired "${ports[3]}" expired ""
		service wrongname "${ports[4]}" wrongname ""
		service incomplete "${ports[5]}" incomplete ""
		service fullchain "${ports[6]}" fullchain ""
		service selfsigned "${ports[7]}" selfsigned ""
		service weakkey "${ports[8]}" weakkey "securityLevel = 0
ciphers = DEFAULT:@SECLEVEL=0"
		service tls10 "${ports[9]}" tls10 "sslVersionMin = TLSv1
sslVersionMax = TLSv1
securityLevel = 0
ciphers = DEFAULT:@SECLEVEL=0"
		service bigcert "${ports[10]}" bigcert ""
	} >"$D/stunnel.conf"
	setsid stunnel "$D/stunnel.conf" </dev/null >>"$D/stunnel.log" 2>&1 &
	echo $! >"$D/stunnel.pid"
	for ((i = 0; i < START_WAIT_S * 10; i++)); do
		left=0
		for p in "${ports[@]}"; do
			port_open "$p" || left=1
		done
		[ "$left" -eq 0 ] && break
		kill -0 "$(cat "$D/stunnel.pid")" 2>/dev/null || {
			tail -n 20 "$D/stunnel.log" >&2
			die "stunnel exited at start"
		}
		sleep 0.1
	done
	[ "$left" -eq 0 ] || die "stunnel ports did not open within ${START_WAIT_S}s"
	i=0
	{
		echo "# written by tlsservers.sh start"
		echo "MP_TLS_DIR=$D"
		for c in $CASES; do
			echo "MP_TLS_${c}_PORT=${ports[$i]}"
			i=$((i + 1))
		done
	} >"$D/tls.env"
}

do_stop() {
	local pid i
	[ -f "$D/stunnel.pid" ] || return 0
	pid=$(cat "$D/stunnel.pid")
	# the executable check guards against a recycled PID
	if [ -n "$pid" ] && readlink "/proc/$pid/exe" 2>/dev/null | grep -q stunnel; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < STOP_WAIT_S * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$D/stunnel.pid" "$D/tls.env"
}

[ $# -ge 2 ] || die "usage: tlsservers.sh start DIR BACKEND_PORT CA_PEM CA_KEY | stop DIR"
case "$2" in
/*) D=$2 ;;
*) D=$(pwd)/$2 ;;
esac
D=${D%/}
case "$1" in
start)
	[ $# -eq 5 ] || die "usage: tlsservers.sh start DIR BACKEND_PORT CA_PEM CA_KEY"
	BACKEND=$3
	do_start "$4" "$5"
	;;
stop) do_stop ;;
*) die "unknown command $1" ;;
esac
