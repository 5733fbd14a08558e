# fakelib.sh - running tests/fake/fakeserver.py from an integration test script.
# shellcheck shell=bash
#
#   . "$MP_SRC/tests/fake/fakelib.sh"
#   fake_init hostile             # checks MAILPROBE, makes $FAKE_WORK, cleans up at exit
#   fake_start [--only a,b,...]   # self-made CA + fake server; sets FAKE_READY, FAKE_CA
#   url=$(fake_url smtp+starttls smtp-trickle-fast)
#   some_command & fake_track $!  # background processes stopped (by PID) at exit
#
# Environment: MAILPROBE (the binary), MP_SRC (source dir, default: from this
# file), MP_ITEST_DIR (optional: artifacts are kept in $MP_ITEST_DIR/<name>).
# Everything listens on 127.0.0.1 and ::1 (the same port; tests/fake/loopback.py)
# and talks to loopback only; fake_url names 127.0.0.1.

FAKE_PY=/usr/bin/python3
FAKE_READY_WAIT_TENTHS=100      # wait at most 10 s for the fake server
FAKE_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAKE_SERVER=$FAKE_SRC_DIR/fakeserver.py
FAKE_CHECK=$FAKE_SRC_DIR/hostile_check.py
FAKE_PID=
FAKE_WORK=
FAKE_KEEP=0
FAKE_TRACKED=()

fake_die() {
	echo "FAIL: $*" >&2
	exit 1
}

fake_skip() {
	echo "SKIP: $*"
	exit 77
}

# Stops what this script started (by PID), then removes a temporary work dir.
# shellcheck disable=SC2317  # called by the EXIT trap
fake_cleanup() {
	local pid
	for pid in "${FAKE_TRACKED[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "$FAKE_PID" ]; then
		kill -TERM "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
	fi
	if [ "$FAKE_KEEP" = 0 ] && [ -n "$FAKE_WORK" ]; then
		rm -rf "$FAKE_WORK"
	fi
}

# Remembers a background PID to stop at exit if it is still running.
fake_track() {
	FAKE_TRACKED+=("$1")
}

# Checks the environment and makes the work directory $FAKE_WORK.
fake_init() {
	local name=$1
	[ -n "${MAILPROBE:-}" ] || fake_die "MAILPROBE is not set (run through ctest)"
	[ -x "$MAILPROBE" ] || fake_die "MAILPROBE=$MAILPROBE is not an executable"
	[ -n "${MP_SRC:-}" ] || MP_SRC=$(cd "$FAKE_SRC_DIR/../.." && pwd)
	[ -x "$FAKE_PY" ] || fake_die "$FAKE_PY is missing"
	[ -r "$FAKE_SERVER" ] || fake_die "$FAKE_SERVER is missing"
	[ -r "$FAKE_CHECK" ] || fake_die "$FAKE_CHECK is missing"
	command -v openssl >/dev/null || fake_die "openssl is not installed"
	trap fake_cleanup EXIT
	if [ -n "${MP_ITEST_DIR:-}" ]; then
		FAKE_WORK=$MP_ITEST_DIR/$name
		FAKE_KEEP=1
		rm -rf "$FAKE_WORK"
		mkdir -p "$FAKE_WORK" || fake_die "cannot create $FAKE_WORK"
	else
		FAKE_WORK=$(mktemp -d) || fake_die "mktemp failed"
	fi
}

# A self-made CA and a leaf for 127.0.0.1 / localhost in $1, so TLS can verify.
fake_make_certs() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout "$d/ca.key" \
		-out "$d/ca.pem" -subj "/CN=mailprobe hostile test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$d/openssl.log" || return 1
	printf '%s\n' "subjectAltName=DNS:localhost,DNS:mail.test,IP:127.0.0.1,IP:::1" \
		"basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$d/leaf.ext"
	openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$d/server.key" \
		-out "$d/server.csr" -subj "/CN=localhost" 2>>"$d/openssl.log" || return 1
	openssl x509 -req -sha256 -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$d/leaf.ext" \
		-out "$d/server.pem" 2>>"$d/openssl.log" || return 1
}

# Starts the fake server (extra arguments, e.g. --only, are passed on) and
# waits (bounded) until it has written its ready file.
# shellcheck disable=SC2120  # extra arguments are optional
fake_start() {
	local i
	fake_make_certs "$FAKE_WORK/ca" ||
		fake_die "openssl could not make the test certificates (see $FAKE_WORK/ca/openssl.log)"
	# shellcheck disable=SC2034  # used by the scripts that source this file
	FAKE_CA=$FAKE_WORK/ca/ca.pem
	FAKE_READY=$FAKE_WORK/ready.json
	"$FAKE_PY" "$FAKE_SERVER" --cert "$FAKE_WORK/ca/server.pem" --key "$FAKE_WORK/ca/server.key" \
		--ready-file "$FAKE_READY" --log "$FAKE_WORK/server.log" "$@" \
		>"$FAKE_WORK/fakeserver.out" 2>&1 &
	FAKE_PID=$!
	for ((i = 0; i < FAKE_READY_WAIT_TENTHS; i++)); do
		[ -s "$FAKE_READY" ] && return 0
		kill -0 "$FAKE_PID" 2>/dev/null ||
			fake_die "fakeserver.py exited early: $(cat "$FAKE_WORK/fakeserver.out")"
		sleep 0.1
	done
	fake_die "fakeserver.py not ready after $((FAKE_READY_WAIT_TENTHS / 10)) s"
}

# Fails unless the fake server is still running.
fake_alive() {
	kill -0 "$FAKE_PID" 2>/dev/null ||
		fake_die "fakeserver.py died: $(cat "$FAKE_WORK/fakeserver.out")"
}

# The port of scenario $1.
fake_port() {
	"$FAKE_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$FAKE_READY" "$1" || fake_die "no scenario $1 in $FAKE_READY"
}

# The endpoint URL for scheme $1 and scenario $2.
fake_url() {
	echo "$1://127.0.0.1:$(fake_port "$2")"
}

# Milliseconds on the monotonic-enough wall clock, for elapsed times.
fake_now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
