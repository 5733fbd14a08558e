#!/bin/bash
# proxies.sh - start and stop private proxies on loopback for test_proxies.sh.
#
#   proxies.sh start DIR [PORT...]   start the proxies below, wait until each
#                                    accepts, write DIR/proxies.env; PORTs are
#                                    the ones tinyproxy allows CONNECT to
#   proxies.sh stop DIR              stop exactly the processes start started
#                                    (by PID, with their children), wait for
#                                    them to exit; idempotent
#
# The proxies (each on a free port chosen at start):
#   dante      danted: SOCKS4 and SOCKS5, no authentication, targets in
#              127.0.0.0/8 but 127.0.0.3 (blocked by rule) and ::1; dante 1.4
#              does not do SOCKS4a host names; its username method needs system
#              accounts, so user/password SOCKS5 is microsocks')
#   ms         microsocks: SOCKS5, no authentication
#   ms_auth    microsocks -u/-P: SOCKS5 with username/password (RFC 1929)
#   tiny       tinyproxy: HTTP CONNECT, no authentication
#   tiny_auth  tinyproxy with BasicAuth
# dante and tinyproxy listen on 127.0.0.1 and ::1 (the same port), microsocks
# on 127.0.0.1 only (it takes one listen address); each of them reaches
# targets on either (::1 when the machine has IPv6 loopback: loopback.py ipv6).
# DIR/proxies.env (shell-sourceable) holds MP_PX_<NAME>_PORT and
# MP_PX_<NAME>_PID for each, MP_PX_USER and MP_PX_PASS_FILE (a fresh random
# password, in a file only).
# Must run as root (danted and tinyproxy drop to nobody).
set -euo pipefail

START_WAIT_S=15         # bound on waiting for the ports to accept
STOP_WAIT_S=10          # bound on waiting for processes to exit after SIGTERM
KILL_WAIT_S=5           # bound on waiting after SIGKILL
NAMES="dante ms ms_auth tiny tiny_auth"

die() {
	echo "proxies.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: proxies.sh start DIR [PORT...] | stop DIR" >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
case "$2" in
/*) DIR=$2 ;;
*) DIR=$(pwd)/$2 ;;
esac
DIR=${DIR%/}
shift 2
PIDS_FILE=$DIR/proxies.pids     # "name pid" lines: the processes we started
LOOPBACK_PY=$(cd "$(dirname "$0")/../fake" && pwd)/loopback.py
IPV6=0
/usr/bin/python3 "$LOOPBACK_PY" ipv6 && IPV6=1

# True when something accepts TCP connections on $2 (default 127.0.0.1) port $1.
port_open() {
	(exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# True when proxy $1 accepts on port $2 at each address it listens on.
proxy_open() {
	port_open "$2" || return 1
	case "$1" in
	ms | ms_auth) return 0 ;;
	esac
	[ "$IPV6" = 0 ] || port_open "$2" ::1
}

# True when PID $1 is alive and not a zombie.
pid_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# Live (non-zombie) processes of session $1: each proxy runs in its own
# session (setsid), so this is the proxy and every child it forked.
session_pids() {
	ps -e -o pid=,sid=,stat= | awk -v s="$1" '$2 == s && substr($3, 1, 1) != "Z" { print $1 }'
}

# Prints $1 TCP ports free on 127.0.0.1 and ::1 (bound and released at once).
free_ports() {
	/usr/bin/python3 "$LOOPBACK_PY" free-ports "$1"
}

recorded_pid() {
	[ -f "$PIDS_FILE" ] || return 0
	awk -v n="$1" '$1 == n { print $2 }' "$PIDS_FILE"
}

# Starts "$@" as proxy $name in its own session, output to DIR/$name.log.
# Without job control, a background job is not a group leader, so setsid
# execs in place: $! is the proxy itself and its session id.
launch() {
	local name=$1
	shift
	setsid "$@" </dev/null >"$DIR/$name.log" 2>&1 &
	echo "$name $!" >>"$PIDS_FILE"
}

write_dante_conf() {
	local v6addr="" v6client=""
	if [ "$IPV6" = 1 ]; then
		# settings come before the rules in dante's file
		v6addr="internal: ::1 port = $1
external: ::1"
		v6client="client pass {
	from: ::1/128 to: 0/0
}"
	fi
	cat >"$DIR/danted.conf" <<EOF
# Private dante for mailprobe's integration tests (proxies.sh).
logoutput: $DIR/danted.out
internal: 127.0.0.1 port = $1
external: 127.0.0.1
$v6addr
user.privileged: root
user.unprivileged: nobody
clientmethod: none
socksmethod: none
client pass {
	from: 127.0.0.0/8 to: 0/0
}
$v6client
# 127.0.0.3 is refused by ruleset (SOCKS5 reply 0x02) for test_proxies.sh.
socks block {
	from: 0/0 to: 127.0.0.3/32
	log: connect error
}
# Loopback targets of either family, from a client of either.
socks pass {
	from: 0/0 to: 127.0.0.0/8
	command: connect
	protocol: tcp
	log: connect error
}
socks pass {
	from: 0/0 to: ::1/128
	command: connect
	protocol: tcp
	log: connect error
}
EOF
}

# tinyproxy config $1 on port $2, BasicAuth password $3 (none when empty).
write_tiny_conf() {
	{
		echo "# Private tinyproxy for mailprobe's integration tests (proxies.sh)."
		echo "User nobody"
		echo "Group nogroup"
		echo "Port $2"
		echo "Listen 127.0.0.1"
		[ "$IPV6" = 0 ] || echo "Listen ::1"
		echo "Timeout 30"
		echo "MaxClients 32"
		# No Allow lines: it listens on loopback only, and tinyproxy 1.11.1
		# checks the first IPv6 client after an IPv4 one against a garbled
		# address and answers 403 (upstream issue #495).
		echo "LogLevel Info"
		for p in "${CONNECT_PORTS[@]}"; do
			echo "ConnectPort $p"
		done
		[ -z "$3" ] || echo "BasicAuth $PX_USER $3"
	} >"$1"
	chmod 600 "$1"
}

do_start() {
	local ports pass i name pid missing
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	for t in danted microsocks tinyproxy setsid; do
		command -v "$t" >/dev/null || die "$t is not installed"
	done
	[ ! -s "$PIDS_FILE" ] || do_stop
	mkdir -p "$DIR"
	: >"$PIDS_FILE"
	CONNECT_PORTS=("$@")
	PX_USER=alice
	pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	(umask 077 && printf '%s\n' "$pass" >"$DIR/proxy.pass")

	read -r -a ports <<<"$(free_ports 5)"
	declare -A PORT=([dante]=${ports[0]} [ms]=${ports[1]} [ms_auth]=${ports[2]}
			 [tiny]=${ports[3]} [tiny_auth]=${ports[4]})
	write_dante_conf "${PORT[dante]}"
	write_tiny_conf "$DIR/tinyproxy.conf" "${PORT[tiny]}" ""
	write_tiny_conf "$DIR/tinyproxy-auth.conf" "${PORT[tiny_auth]}" "$pass"

	launch dante danted -f "$DIR/danted.conf" -N 1
	launch ms microsocks -i 127.0.0.1 -p "${PORT[ms]}"
	launch ms_auth microsocks -i 127.0.0.1 -p "${PORT[ms_auth]}" -u "$PX_USER" -P "$pass"
	launch tiny tinyproxy -d -c "$DIR/tinyproxy.conf"
	launch tiny_auth tinyproxy -d -c "$DIR/tinyproxy-auth.conf"

	for ((i = 0; i < START_WAIT_S * 10; i++)); do
		missing=""
		for name in $NAMES; do
			pid=$(recorded_pid "$name")
			pid_alive "$pid" || {
				tail -n 5 "$DIR/$name.log" "$DIR/danted.out" 2>/dev/null >&2 || true
				do_stop
				die "$name (pid $pid) exited during start"
			}
			proxy_open "$name" "${PORT[$name]}" || missing="$missing $name"
		done
		[ -z "$missing" ] && break
		sleep 0.1
	done
	if [ -n "$missing" ]; then
		do_stop
		die "not accepting after ${START_WAIT_S}s:$missing"
	fi

	{
		echo "# Written by proxies.sh start; source it in test scripts."
		for name in $NAMES; do
			echo "MP_PX_${name^^}_PORT=${PORT[$name]}"
			echo "MP_PX_${name^^}_PID=$(recorded_pid "$name")"
		done
		echo "MP_PX_IPV6=$IPV6"
		echo "MP_PX_USER=$PX_USER"
		echo "MP_PX_PASS_FILE=$DIR/proxy.pass"
	} >"$DIR/proxies.env.tmp"
	mv "$DIR/proxies.env.tmp" "$DIR/proxies.env"
}

# Stops proxy $1 (pid $2) and the children of its session.
stop_one() {
	local name=$1 pid=$2 i left
	left=$(session_pids "$pid")
	[ -n "$left" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < STOP_WAIT_S * 10; i++)); do
		left=$(session_pids "$pid")
		[ -z "$left" ] && return 0
		# the leader is gone but children linger: ask them too
		# shellcheck disable=SC2086
		pid_alive "$pid" || kill -TERM $left 2>/dev/null || true
		sleep 0.1
	done
	echo "proxies.sh: $name (session $pid) did not stop in ${STOP_WAIT_S}s, killing: $left" >&2
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
	local name pid
	[ -f "$PIDS_FILE" ] || return 0
	while read -r name pid; do
		[ -n "$pid" ] && stop_one "$name" "$pid"
	done <"$PIDS_FILE"
	rm -f "$PIDS_FILE" "$DIR/proxies.env"
}

case "$cmd" in
start) do_start "$@" ;;
stop) do_stop ;;
*) usage ;;
esac
