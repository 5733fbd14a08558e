#!/bin/bash
# servers.sh - start and stop private Postfix and Dovecot instances on 127.0.0.1
# and ::1 for the integration tests (ctest fixture "mailservers").
#
#   servers.sh start DIR   make DIR/ca (test CA + leaf), configs under DIR, start
#                          both servers, wait until every port accepts, write
#                          DIR/servers.env
#   servers.sh stop DIR    stop exactly the processes start started (by PID),
#                          wait for them to exit; idempotent
#   servers.sh status DIR  exit 0 when both masters are running
#
# Ports are 20000 + the standard port (20025, 20587, 20465, 20143, 20993,
# 20110, 20995). When one of them is taken (another build tree running its
# suite), start moves to the next free base: 21000, 22000, ... 29000.
# MP_ITEST_PORT_BASE=N forces base N (and fails when N's ports are taken).
# Test scripts take the ports from DIR/servers.env, never hard-coded.
# Both servers listen on 127.0.0.1 and on ::1, as real ones are dual-stack and
# "localhost" resolves to ::1 first on a standard Debian; on a machine without
# IPv6 loopback (a container with IPv6 off) on 127.0.0.1 alone, and
# servers.env says MP_IPV6=0 so the IPv6 assertions are skipped.
# Must run as root (Postfix and Dovecot masters drop privileges themselves).
set -euo pipefail

START_WAIT_S=20         # bound on waiting for ports to accept
STOP_WAIT_S=15          # bound on waiting for processes to exit after SIGTERM
KILL_WAIT_S=5           # bound on waiting after SIGKILL
LEAF_DAYS=365           # leaf validity: far from any "expiring" threshold
CA_DAYS=3650

die() {
	echo "servers.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: servers.sh start|stop|status DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
case "$2" in
/*) DIR=$2 ;;
*) DIR=$(pwd)/$2 ;;
esac
DIR=${DIR%/}

# Sets the port variables for port base $1 (port = base + standard port).
set_ports() {
	base=$1
	SMTP_PORT=$((base + 25))
	SUBMISSION_PORT=$((base + 587))
	SMTPS_PORT=$((base + 465))
	IMAP_PORT=$((base + 143))
	IMAPS_PORT=$((base + 993))
	POP3_PORT=$((base + 110))
	POP3S_PORT=$((base + 995))
	ALL_PORTS="$SMTP_PORT $SUBMISSION_PORT $SMTPS_PORT $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT"
}

PF_CONF=$DIR/postfix
PF_DATA=$DIR/postfix/data
DV_DIR=$DIR/dovecot
PIDS_FILE=$DIR/pids            # "name pid" lines: the masters we started
LOOPBACK_PY=$(cd "$(dirname "$0")/../fake" && pwd)/loopback.py

# The loopback addresses the servers listen on: ::1 too when the machine has it.
if /usr/bin/python3 "$LOOPBACK_PY" ipv6; then
	IPV6=1
	ADDRS="127.0.0.1 ::1"
else
	IPV6=0
	ADDRS="127.0.0.1"
fi

# True when something accepts TCP connections on $2 (default 127.0.0.1) port $1.
port_open() {
	# bash's /dev/tcp; a subshell so the descriptor is closed at once
	(exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# True when port $1 accepts on every address of ADDRS.
port_open_all() {
	local a
	for a in $ADDRS; do
		port_open "$1" "$a" || return 1
	done
}

# True when port $1 accepts on any address of ADDRS.
port_open_any() {
	local a
	for a in $ADDRS; do
		port_open "$1" "$a" && return 0
	done
	return 1
}

# True when PID $1 is alive and not a zombie.
pid_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# PIDs of every Postfix or Dovecot process in session $1 (masters call
# setsid(), so their session holds them and all their children); the
# executable check guards against a recycled PID.
session_pids() {
	local pid exe
	for pid in $(ps -e -o pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		case "$exe" in
		/usr/lib/postfix/* | /usr/sbin/post* | /usr/sbin/dovecot | /usr/lib/dovecot/*)
			echo "$pid" ;;
		esac
	done
}

# The directory for sockets and pid files: Postfix's queue and Dovecot's
# base_dir. It must be short, as unix socket paths are limited to 107 bytes
# (Postfix's public/postlog, Dovecot's login/imap-login and auth-postfix):
# DIR/run when DIR is short, else a directory of our own under /tmp, named in
# DIR/runtime.dir so stop removes it.
runtime_dir() {
	if [ -f "$DIR/runtime.dir" ]; then
		cat "$DIR/runtime.dir"
	elif [ ${#DIR} -le 60 ]; then
		echo "$DIR/run"
	else
		mktemp -d /tmp/mp-itest.XXXXXX
	fi
}

make_ca() {
	local ca=$DIR/ca
	rm -rf "$ca"
	mkdir -p "$ca"
	chmod 755 "$ca"
	# CA: RFC 5280 4.2.1.9 basicConstraints CA:TRUE, keyCertSign
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$CA_DAYS" \
		-keyout "$ca/ca.key" -out "$ca/ca.pem" -subj "/O=mailprobe tests/CN=mailprobe test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$ca/openssl.log" ||
		die "openssl could not make the CA (see $ca/openssl.log)"
	cat >"$ca/leaf.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:::1,DNS:mail.test,DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$ca/server.key" \
		-out "$ca/server.csr" -subj "/O=mailprobe tests/CN=mail.test" \
		2>>"$ca/openssl.log" || die "openssl could not make the leaf key"
	openssl x509 -req -sha256 -in "$ca/server.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days "$LEAF_DAYS" \
		-extfile "$ca/leaf.ext" -out "$ca/server.pem" 2>>"$ca/openssl.log" ||
		die "openssl could not sign the leaf"
	openssl verify -CAfile "$ca/ca.pem" "$ca/server.pem" >/dev/null ||
		die "the new leaf does not verify against the new CA"
	chmod 644 "$ca"/*.pem
	chmod 600 "$ca"/*.key
}

write_postfix_config() {
	local PF_INTERFACES=127.0.0.1 PF_PROTOCOLS=ipv4 PF_MYNETWORKS=127.0.0.0/8
	if [ "$IPV6" = 1 ]; then
		PF_INTERFACES="127.0.0.1, [::1]"
		PF_PROTOCOLS=all
		PF_MYNETWORKS="127.0.0.0/8, [::1]/128"
	fi
	PF_QUEUE=$RT/postfix
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF_DATA"
	chown root:root "$PF_CONF" "$PF_QUEUE"
	chmod 755 "$PF_CONF" "$PF_QUEUE"
	chown postfix "$PF_DATA"
	chmod 700 "$PF_DATA"
	cat >"$PF_CONF/main.cf" <<EOF
# Private Postfix instance for mailprobe's integration tests (servers.sh).
compatibility_level = 3.6
queue_directory = $PF_QUEUE
data_directory = $PF_DATA
maillog_file = $DIR/postfix.log
maillog_file_prefixes = $DIR
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.test
mydomain = test
myorigin = \$myhostname
mydestination =
relayhost =
inet_interfaces = $PF_INTERFACES
inet_protocols = $PF_PROTOCOLS
mynetworks = $PF_MYNETWORKS
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_banner = \$myhostname ESMTP mailprobe-itest
message_size_limit = 10240000
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_cert_file = $DIR/ca/server.pem
smtpd_tls_key_file = $DIR/ca/server.key
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_loglevel = 1
smtpd_sasl_type = dovecot
smtpd_sasl_path = $RT/dovecot/auth-postfix
smtpd_sasl_auth_enable = no
EOF
	# Every service unchrooted: the paths above are absolute.
	# smtps: RFC 8314 implicit TLS; submission: RFC 6409 with STARTTLS
	# required and AUTH only after TLS (smtpd_tls_auth_only).
	cat >"$PF_CONF/master.cf" <<EOF
$SMTP_PORT inet n - n - - smtpd
$SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
$SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
EOF
}

write_dovecot_config() {
	local run=$1 pass
	mkdir -p "$DV_DIR" "$DIR/mail"
	chmod 755 "$DV_DIR"
	# Mail is never read by the tests, but a login needs a valid user.
	chown nobody:nogroup "$DIR/mail"
	if [ ! -s "$DIR/alice.pass" ]; then
		pass=$(openssl rand -hex 12)
		(umask 077 && printf '%s\n' "$pass" >"$DIR/alice.pass")
	fi
	pass=$(head -n 1 "$DIR/alice.pass")
	# {PLAIN}: the clear password lets Dovecot serve PLAIN, LOGIN,
	# CRAM-MD5 and SCRAM-SHA-1/256 from one entry.
	(umask 077 && printf 'alice:{PLAIN}%s:65534:65534::%s/mail/alice::\n' "$pass" "$DIR" \
		>"$DV_DIR/users")
	chown root:dovecot "$DV_DIR/users"
	chmod 640 "$DV_DIR/users"
	local ssl_dh="" listen
	listen=${ADDRS// /, }
	[ -r /usr/share/dovecot/dh.pem ] && ssl_dh="ssl_dh = </usr/share/dovecot/dh.pem"
	cat >"$DV_DIR/dovecot.conf" <<EOF
# Private Dovecot instance for mailprobe's integration tests (servers.sh).
base_dir = $run
state_dir = $DV_DIR/state
instance_name = mp-itest-$base
log_path = $DIR/dovecot.log
info_log_path = $DIR/dovecot.log
protocols = imap pop3
listen = $listen
ssl = yes
ssl_cert = <$DIR/ca/server.pem
ssl_key = <$DIR/ca/server.key
$ssl_dh
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
first_valid_uid = 100
last_valid_uid = 0
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = $DV_DIR/users
}
userdb {
  driver = passwd-file
  args = $DV_DIR/users
}
service imap-login {
  # High-performance mode (a common production setting): long-lived login
  # processes instead of one new process per connection.
  service_count = 0
  process_min_avail = 2
  inet_listener imap {
    address = $listen
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $listen
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  # High-performance mode (a common production setting): long-lived login
  # processes instead of one new process per connection.
  service_count = 0
  process_min_avail = 2
  inet_listener pop3 {
    address = $listen
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = $listen
    port = $POP3S_PORT
    ssl = yes
  }
}
service auth {
  # Postfix SASL (smtpd_sasl_type = dovecot); absolute path, smtpd runs
  # unchrooted as user postfix.
  unix_listener $run/auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
}

# Prints the pid recorded for $1 in PIDS_FILE, or nothing.
recorded_pid() {
	[ -f "$PIDS_FILE" ] || return 0
	awk -v n="$1" '$1 == n { print $2 }' "$PIDS_FILE"
}

# Stops the master $2 (named $1) and every process of its session.
stop_master() {
	local name=$1 pid=$2 i left
	pid_alive "$pid" || {
		# the master is gone; children may linger in its session
		left=$(session_pids "$pid")
		[ -z "$left" ] && return 0
	}
	case "$name" in
	postfix) postfix -c "$PF_CONF" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true ;;
	dovecot) kill -TERM "$pid" 2>/dev/null || true ;;
	esac
	for ((i = 0; i < STOP_WAIT_S * 10; i++)); do
		left=$(session_pids "$pid")
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "servers.sh: $name (session $pid) did not stop in ${STOP_WAIT_S}s, killing: $left" >&2
	# shellcheck disable=SC2086
	kill -KILL $left 2>/dev/null || true
	for ((i = 0; i < KILL_WAIT_S * 10; i++)); do
		left=$(session_pids "$pid")
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	die "$name processes still alive after SIGKILL: $left"
}

do_stop() {
	local pid rt
	[ -f "$PIDS_FILE" ] || return 0
	for name in postfix dovecot; do
		pid=$(recorded_pid "$name")
		[ -n "$pid" ] && stop_master "$name" "$pid"
	done
	rm -f "$PIDS_FILE" "$DIR/servers.env"
	if [ -f "$DIR/runtime.dir" ]; then
		rt=$(cat "$DIR/runtime.dir")
		case "$rt" in
		/tmp/mp-itest.*) rm -rf "$rt" ;;
		esac
		rm -f "$DIR/runtime.dir"
	fi
	return 0
}

# Prints the last lines of the server logs, for a failed start.
show_logs() {
	local f
	for f in "$DIR/postfix.log" "$DIR/dovecot.log"; do
		[ -f "$f" ] || continue
		echo "--- last lines of $f" >&2
		tail -n 20 "$f" >&2
	done
}

# Runs "postfix -c PF_CONF $1"; on failure shows its messages. Postfix
# writes them to stderr only when that is a terminal (else to syslog, which
# these machines lack), so "check" is repeated under script(1) to show them.
postfix_cmd() {
	postfix -c "$PF_CONF" "$1" </dev/null >>"$DIR/postfix-cmd.log" 2>&1 && return 0
	cat "$DIR/postfix-cmd.log" >&2
	if command -v script >/dev/null; then
		# "check" changes nothing, so it is safe to repeat for its messages
		script -qec "postfix -c '$PF_CONF' check" /dev/null >&2 </dev/null || true
	fi
	return 1
}

# True when none of ALL_PORTS accepts connections.
ports_free() {
	local p
	for p in $ALL_PORTS; do
		port_open_any "$p" && return 1
	done
	return 0
}

# Chooses the port base (see the header) and sets the port variables.
pick_ports() {
	local b
	if [ -n "${MP_ITEST_PORT_BASE:-}" ]; then
		b=$MP_ITEST_PORT_BASE
		if ! [[ "$b" =~ ^[0-9]+$ ]] || [ "$b" -lt 1024 ] || [ "$b" -gt 64000 ]; then
			die "MP_ITEST_PORT_BASE must be a number in 1024..64000, got '$b'"
		fi
		set_ports "$b"
		ports_free || die "a port of $ALL_PORTS is already in use (MP_ITEST_PORT_BASE=$b)"
		return 0
	fi
	for ((b = 20000; b <= 29000; b += 1000)); do
		set_ports "$b"
		if ports_free; then
			[ "$b" -eq 20000 ] ||
				echo "servers.sh: ports of base 20000 in use, using base $b" >&2
			return 0
		fi
	done
	die "no free port base in 20000..29000 (too many test runs at once?)"
}

do_start() {
	local p run pf_pid dv_pid i missing
	[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix and Dovecot masters)"
	command -v postfix >/dev/null || die "postfix is not installed"
	command -v dovecot >/dev/null || die "dovecot is not installed"
	command -v openssl >/dev/null || die "openssl is not installed"
	mkdir -p "$DIR"
	chmod 755 "$DIR"
	do_stop
	pick_ports
	rm -f "$DIR/postfix.log" "$DIR/dovecot.log" "$DIR/postfix-cmd.log" "$DIR/dovecot-start.log"
	make_ca
	RT=$(runtime_dir)
	echo "$RT" >"$DIR/runtime.dir"
	run=$RT/dovecot
	mkdir -p "$RT" "$run"
	chmod 755 "$RT" "$run"
	write_postfix_config
	write_dovecot_config "$run"
	: >"$PIDS_FILE"

	# Daemons must not inherit our stdout/stderr: ctest waits for those
	# pipes to close, which would be when the servers stop.
	dovecot -c "$DV_DIR/dovecot.conf" </dev/null >"$DIR/dovecot-start.log" 2>&1 ||
		{ cat "$DIR/dovecot-start.log" >&2; show_logs; do_stop; die "dovecot did not start"; }
	for ((i = 0; i < 50; i++)); do
		[ -s "$run/master.pid" ] && break
		sleep 0.1
	done
	dv_pid=$(cat "$run/master.pid" 2>/dev/null) || { show_logs; die "no Dovecot master.pid"; }
	echo "dovecot $dv_pid" >>"$PIDS_FILE"

	postfix_cmd check || { do_stop; die "postfix check failed"; }
	postfix_cmd start || { show_logs; do_stop; die "postfix did not start"; }
	for ((i = 0; i < 50; i++)); do
		[ -s "$RT/postfix/pid/master.pid" ] && break
		sleep 0.1
	done
	pf_pid=$(tr -d ' ' <"$RT/postfix/pid/master.pid" 2>/dev/null) ||
		{ show_logs; do_stop; die "no Postfix master.pid"; }
	echo "postfix $pf_pid" >>"$PIDS_FILE"

	for ((i = 0; i < START_WAIT_S * 10; i++)); do
		missing=""
		for p in $ALL_PORTS; do
			port_open_all "$p" || missing="$missing $p"
		done
		[ -z "$missing" ] && break
		sleep 0.1
	done
	if [ -n "$missing" ]; then
		show_logs
		do_stop
		die "ports not accepting on $ADDRS after ${START_WAIT_S}s:$missing"
	fi
	# Nothing of ours may listen beyond loopback.
	if ss -Hltnp 2>/dev/null | grep -E "pid=($pf_pid|$dv_pid)," | awk '{ print $4 }' |
		grep -vE '^(127\.0\.0\.1|\[::1\]):'; then
		do_stop
		die "a server listens beyond 127.0.0.1 and ::1"
	fi

	cat >"$DIR/servers.env.tmp" <<EOF
# Written by servers.sh start; source it in test scripts.
MP_ITEST_DIR=$DIR
MP_CA=$DIR/ca/ca.pem
MP_CA_KEY=$DIR/ca/ca.key
MP_SERVER_CERT=$DIR/ca/server.pem
MP_SERVER_KEY=$DIR/ca/server.key
MP_HOST=127.0.0.1
MP_IPV6=$IPV6
MP_PORT_BASE=$base
MP_SMTP_PORT=$SMTP_PORT
MP_SUBMISSION_PORT=$SUBMISSION_PORT
MP_SMTPS_PORT=$SMTPS_PORT
MP_IMAP_PORT=$IMAP_PORT
MP_IMAPS_PORT=$IMAPS_PORT
MP_POP3_PORT=$POP3_PORT
MP_POP3S_PORT=$POP3S_PORT
MP_USER=alice
MP_PASS_FILE=$DIR/alice.pass
MP_POSTFIX_PID=$pf_pid
MP_DOVECOT_PID=$dv_pid
MP_POSTFIX_LOG=$DIR/postfix.log
MP_DOVECOT_LOG=$DIR/dovecot.log
EOF
	mv "$DIR/servers.env.tmp" "$DIR/servers.env"
	echo "servers.sh: Postfix (pid $pf_pid) and Dovecot (pid $dv_pid) up on" \
		"${ADDRS// / and }, ports $ALL_PORTS; env in $DIR/servers.env"
}

do_status() {
	local pf dv
	pf=$(recorded_pid postfix)
	dv=$(recorded_pid dovecot)
	[ -n "$pf" ] && pid_alive "$pf" && [ -n "$dv" ] && pid_alive "$dv"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
*) usage ;;
esac
