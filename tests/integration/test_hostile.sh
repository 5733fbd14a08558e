#!/bin/bash
# test_hostile.sh - mailprobe against misbehaving servers (tests/fake/fakeserver.py).
#
# Starts the fake server (one port per scenario, own self-made CA), runs ONE
# mailprobe over every scenario as an explicit endpoint URL, then checks with
# tests/fake/hostile_check.py (the table of expectations) each scenario's
# status, findings and time bound, the whole run's time, the exit code, the
# absence of sanitizer reports, and the report against reports/schema.json.
#
# Environment: MAILPROBE (the binary), MP_SRC (source dir), MP_ITEST_DIR
# (optional: artifacts are kept in $MP_ITEST_DIR/hostile for inspection).
set -u

PY=/usr/bin/python3
READY_WAIT_TENTHS=100           # wait at most 10 s for the fake server
FAKE_PID=
WORK=
KEEP=0

die() {
	echo "FAIL: $*" >&2
	exit 1
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	if [ -n "$FAKE_PID" ]; then
		kill -TERM "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
	fi
	if [ "$KEEP" = 0 ] && [ -n "$WORK" ]; then
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

[ -n "${MAILPROBE:-}" ] || die "MAILPROBE is not set"
[ -x "$MAILPROBE" ] || die "MAILPROBE=$MAILPROBE is not an executable"
[ -n "${MP_SRC:-}" ] || MP_SRC=$(cd "$(dirname "$0")/../.." && pwd)
FAKE=$MP_SRC/tests/fake/fakeserver.py
CHECK=$MP_SRC/tests/fake/hostile_check.py
VALIDATE=$MP_SRC/tests/integration/validate_report.py
for f in "$FAKE" "$CHECK"; do
	[ -r "$f" ] || die "$f is missing"
done
command -v openssl >/dev/null || die "openssl is not installed"

if [ -n "${MP_ITEST_DIR:-}" ]; then
	WORK=$MP_ITEST_DIR/hostile
	KEEP=1
	rm -rf "$WORK"
	mkdir -p "$WORK" || die "cannot create $WORK"
else
	WORK=$(mktemp -d) || die "mktemp failed"
fi

# A self-made CA and a leaf for 127.0.0.1 / localhost, so TLS can verify.
make_certs() {
	local d=$WORK/ca
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
make_certs || die "openssl could not make the test certificates (see $WORK/ca/openssl.log)"

READY=$WORK/ready.json
"$PY" "$FAKE" --cert "$WORK/ca/server.pem" --key "$WORK/ca/server.key" \
	--ready-file "$READY" --log "$WORK/server.log" --host 127.0.0.1 \
	>"$WORK/fakeserver.out" 2>&1 &
FAKE_PID=$!

for ((i = 0; i < READY_WAIT_TENTHS; i++)); do
	[ -s "$READY" ] && break
	kill -0 "$FAKE_PID" 2>/dev/null ||
		die "fakeserver.py exited early: $(cat "$WORK/fakeserver.out")"
	sleep 0.1
done
[ -s "$READY" ] || die "fakeserver.py not ready after $((READY_WAIT_TENTHS / 10)) s"

mapfile -t URLS < <("$PY" "$CHECK" urls "$READY")
[ "${#URLS[@]}" -gt 0 ] || die "no endpoint URLs from hostile_check.py"

start_ns=$(date +%s%N)
"$MAILPROBE" --format json --transcript \
	--connect-timeout 1000 --greeting-timeout 500 --timeout 1000 --tls-timeout 1000 \
	--cafile "$WORK/ca/ca.pem" "${URLS[@]}" >"$WORK/report.json" 2>"$WORK/stderr.txt"
rc=$?
end_ns=$(date +%s%N)
wall_ms=$(((end_ns - start_ns) / 1000000))
echo "mailprobe exited $rc after $wall_ms ms over ${#URLS[@]} endpoints"

kill -0 "$FAKE_PID" 2>/dev/null || die "fakeserver.py died during the run: $(cat "$WORK/fakeserver.out")"

status=0
"$PY" "$CHECK" check "$READY" "$WORK/report.json" "$rc" "$wall_ms" "$WORK/stderr.txt" \
	"$WORK/server.log" || status=1

if [ -r "$VALIDATE" ]; then
	if "$PY" "$VALIDATE" "$WORK/report.json"; then
		echo "ok   report validates against reports/schema.json"
	else
		echo "FAIL report does not validate against reports/schema.json"
		status=1
	fi
else
	echo "note: $VALIDATE does not exist yet; schema check skipped"
fi

[ "$KEEP" = 1 ] && echo "artifacts: $WORK"
exit $status
