#!/bin/bash
# test_mismatch.sh - the wrong security mode on a real port, and a closed port:
#   STARTTLS client on an implicit-TLS port: the server waits for a ClientHello,
#     so no greeting comes -> greeting_timeout + port_expects_implicit_tls,
#     in about 2 x --greeting-timeout (the wait, then a confirming handshake);
#   implicit-TLS client on a plaintext port: the server's greeting arrives where
#     a TLS record was expected -> tls_failed + port_speaks_plaintext, at once;
#   a closed port -> refused; exit 2 when nothing answered, 0 when one did.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
GT=500                          # --greeting-timeout for these runs
SLACK_MS=400                    # scheduling slack on top of a computed bound

# expect_mismatch URL PROTO PORT MODE STATUS FINDING MAX_TOTAL_MS: one endpoint,
# checks status, finding, error message and how long it took.
expect_mismatch() {
	local url=$1 proto=$2 port=$3 mode=$4 status=$5 finding=$6 max_ms=$7 j
	j=$MP_WORK/$proto-$port-$mode.json
	mp_json "$j" --cafile "$MP_CA" --source 127.0.0.2 --greeting-timeout "$GT" \
		--timeout 3000 --tls-timeout 3000 "$url"
	mp_validate "$j"
	local x="R(\"$proto\", $port, \"$mode\")"
	pyeq "$j" "${x}['status']" "\"$status\"" "$url: status"
	pyassert "$j" "'$finding' in codes($x)" "$url: finding $finding"
	pyassert "$j" "isinstance(${x}['error'], str) and len(${x}['error']) > 0" "$url: error message set"
	pyassert "$j" "${x}['timings_ms']['total'] <= $max_ms" \
		"$url: took longer than $max_ms ms (timings_ms.total)"
	[ "$MP_MS" -le $((max_ms + 1000)) ] ||
		mp_fail "$url: the run took $MP_MS ms, bound $((max_ms + 1000)) ms"
	pyeq "$j" "${x}['address']" '"127.0.0.1"' "$url: connected address"
	pyeq "$j" "r['options']['timeouts_ms']['greeting']" "$GT" "$url: options echo --greeting-timeout"
	mp_note "$url: $status + $finding in $MP_MS ms"
	LAST_JSON=$j
}

# --- STARTTLS dialects on implicit-TLS ports: silence, then a TLS handshake
# succeeds where the greeting should have been.
for t in "smtp+starttls smtp $MP_SMTPS_PORT" "pop3+starttls pop3 $MP_POP3S_PORT" \
	"imap+starttls imap $MP_IMAPS_PORT"; do
	read -r scheme proto port <<<"$t"
	set -- "$scheme" "$proto" "$port"
	expect_mismatch "$1://$H:$3" "$2" "$3" starttls greeting_timeout \
		port_expects_implicit_tls $((2 * GT + SLACK_MS))
	x="R(\"$2\", $3, \"starttls\")"
	pyassert "$LAST_JSON" "${x}['timings_ms']['greeting'] is not None and ${x}['timings_ms']['greeting'] >= $GT - 10" \
		"$1 on port $3: waited the whole greeting timeout ($GT ms)"
	pyeq "$LAST_JSON" "${x}['greeting']" 'None' "$1 on port $3: no greeting"
	pyeq "$LAST_JSON" "codes($x) - {'port_expects_implicit_tls'}" 'set()' \
		"$1 on port $3: no other findings"
	# Nothing greeted us: exit 2.
	mp_expect_rc 2
done

# --- implicit TLS on plaintext ports: the greeting is not a TLS record.
for t in "smtps smtp $MP_SMTP_PORT" "imaps imap $MP_IMAP_PORT" "pop3s pop3 $MP_POP3_PORT"; do
	read -r scheme proto port <<<"$t"
	set -- "$scheme" "$proto" "$port"
	expect_mismatch "$1://$H:$3" "$2" "$3" tls tls_failed port_speaks_plaintext $((GT + SLACK_MS))
	x="R(\"$2\", $3, \"tls\")"
	pyeq "$LAST_JSON" "codes($x) - {'port_speaks_plaintext'}" 'set()' \
		"$1 on port $3: no other findings"
	pyassert "$LAST_JSON" "${x}['timings_ms']['connect'] is not None" "$1 on port $3: connected"
	pyeq "$LAST_JSON" "${x}['tls']" 'None' "$1 on port $3: no TLS session (the handshake failed)"
	[ "$MP_RC" -eq 0 ] || [ "$MP_RC" -eq 2 ] || mp_fail "$1 on port $3: exit code $MP_RC"
done

# --- a closed port: refused, fast, exit 2; with a working endpoint beside it, exit 0.
closed=$("$MP_PY" "$MP_SRC/tests/fake/loopback.py" free-ports 1)  # free on 127.0.0.1 and ::1
J=$MP_WORK/closed.json
mp_json "$J" --connect-timeout 3000 "smtp+starttls://$H:$closed"
mp_expect_rc 2
mp_validate "$J"
pyeq "$J" "R('smtp', $closed)['status']" '"refused"' "closed port: status"
pyassert "$J" "isinstance(R('smtp', $closed)['error'], str) and R('smtp', $closed)['error']" \
	"closed port: error message"
pyeq "$J" "(R('smtp', $closed)['greeting'], R('smtp', $closed)['tls'])" '(None, None)' \
	"closed port: no greeting, no TLS"
pyeq "$J" 'r["summary"]["answered"], r["summary"]["by_status"]' '0, {"refused": 1}' \
	"closed port: summary"
pyeq "$J" 'r["summary"]["recommended"]' '{"smtp": None, "imap": None, "pop3": None}' \
	"closed port: nothing recommended"
[ "$MP_MS" -lt 2000 ] || mp_fail "closed port: refusal took $MP_MS ms"

J=$MP_WORK/closed-and-open.json
mp_json "$J" --cafile "$MP_CA" --greeting-timeout "$GT" "smtp+starttls://$H:$closed" \
	"smtp+starttls://$H:$MP_SMTPS_PORT" "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'sorted((x["port"], x["mode"], x["status"]) for x in results)' \
	"sorted([($closed, 'starttls', 'refused'), (int(env['MP_SMTPS_PORT']), 'starttls', 'greeting_timeout'),
	         (int(env['MP_SMTPS_PORT']), 'tls', 'ok')])" "mixed run: statuses"
pyeq "$J" 'r["summary"]["answered"], r["summary"]["total"]' '1, 3' "mixed run: one answered"

# --- several dead endpoints, none answering: exit 2.
J=$MP_WORK/none.json
mp_json "$J" --greeting-timeout "$GT" "smtp+starttls://$H:$closed" \
	"pop3+starttls://$H:$MP_POP3S_PORT"
mp_expect_rc 2
pyeq "$J" 'r["summary"]["answered"]' '0' "nothing answered"

echo "PASS: $MP_TEST"
