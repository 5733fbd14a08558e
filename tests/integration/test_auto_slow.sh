#!/bin/bash
# test_auto_slow.sh - auto mode never recommends plaintext because a TLS
# candidate was slow (issue 23). Dovecot's real imaps port behind
# slowrelay.py, which holds its first bytes (the ServerHello) back:
#   1. slower than --tls-timeout, faster than three times it: the candidate
#      is asked again with the longer timeout and wins;
#   2. slower than both: plaintext works and is recommended, but the
#      result says a TLS candidate timed out (finding auto_tls_timed_out, the
#      recommendation's reason), and under a policy it is a WARNING.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
RELAY_PIDS=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	set +e
	for pid in "${RELAY_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

# relay PORT DELAY_MS: a slow relay to Dovecot's imaps port.
relay() {
	local i
	"$MP_PY" "$MP_SRC/tests/fake/slowrelay.py" "$1" "$MP_IMAPS_PORT" "$2" "$MP_WORK/ready.$1" \
		>"$MP_WORK/relay.$1.log" 2>&1 &
	RELAY_PIDS+=($!)
	for ((i = 0; i < 50; i++)); do
		[ -s "$MP_WORK/ready.$1" ] && return 0
		sleep 0.1
	done
	mp_fail "slowrelay on $1 did not start"
}
read -r SLOW SLOWER < <("$MP_PY" "$MP_SRC/tests/fake/loopback.py" free-ports 2)
relay "$SLOW" 900
relay "$SLOWER" 4000
export SLOW SLOWER

# 1. 900 ms against --tls-timeout 500: timed out, asked again with 1500 ms, wins.
J=$MP_WORK/slow.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --tls-timeout 500 --greeting-timeout 500 \
	--transcript --auto imap --modes tls,plain --ports "$SLOW,$MP_IMAP_PORT" "$H"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'rec("imap")' \
	'{"host": "127.0.0.1", "port": int(env["SLOW"]), "mode": "tls", "proxy": None}' \
	"slow TLS: asked again with a longer timeout, and recommended"
pyeq "$J" 'R("imap", env["SLOW"], "tls")["attempts"]' '2' "slow TLS: two attempts"
pyassert "$J" '"auto mode: attempt 1 ended tls_timeout" in json.dumps(R("imap", env["SLOW"], "tls")["transcript"])' \
	"slow TLS: the transcript says why it was asked again"

# 2. 4000 ms: both attempts time out; plaintext wins, but says so.
J=$MP_WORK/slower.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --tls-timeout 500 --greeting-timeout 500 \
	--auto imap --modes tls,plain --ports "$SLOWER,$MP_IMAP_PORT" "$H"
mp_expect_rc 0
mp_validate "$J"
P='R("imap", env["MP_IMAP_PORT"], "plain")'
pyeq "$J" 'rec("imap")["mode"]' '"plain"' "slower TLS: plaintext recommended"
pyeq "$J" 'R("imap", env["SLOWER"], "tls")["status"]' '"tls_timeout"' "slower TLS: timed out"
pyeq "$J" 'R("imap", env["SLOWER"], "tls")["attempts"]' '2' "slower TLS: asked twice"
pyassert "$J" "\"auto_tls_timed_out\" in codes($P)" "slower TLS: the plaintext result has the finding"
pyassert "$J" '"TLS timed out" in r["summary"]["recommended"]["imap"]["reason"]' \
	"slower TLS: the recommendation's reason says so"
mp_json "$MP_WORK/policy.json" --cafile "$MP_CA" --source 127.0.0.2 --tls-timeout 500 \
	--greeting-timeout 500 --expect ok --auto imap --modes tls,plain \
	--ports "$SLOWER,$MP_IMAP_PORT" "$H"
mp_expect_rc 1
J=$MP_WORK/policy.json
pyeq "$J" 'r["summary"]["state"]' '"WARNING"' "slower TLS under a policy: WARNING"
echo "PASS: test_auto_slow"
