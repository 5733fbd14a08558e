#!/bin/bash
# test_proxies.sh - mailprobe through real proxies (proxies.sh: dante,
# microsocks, tinyproxy) and through tests/fake/fakeproxy.py, against the real
# Postfix and Dovecot of servers.sh.
#
# 1. Every endpoint in every mode through every working proxy type reports
#    the same as directly (capabilities and auth before/after TLS, greeting,
#    TLS verification, findings), and the proxy password never shows.
# 2. Failures of real proxies: wrong password, no credentials, proxy port
#    closed, target port closed behind the proxy, port not allowed; the next
#    address of a name asked for when the proxy cannot reach the first.
# 3. Misbehaving proxies (fakeproxy.py): each scenario's status, message and
#    time bound.
# Names and IPv6: "localhost" (::1 first on a standard Debian, then 127.0.0.1)
# through every proxy type; with IPv6 loopback, targets at [::1], proxies
# reached at [::1], and SOCKS4 given an IPv6-only target.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
PXSH=$MP_SRC/tests/integration/proxies.sh
FAKE=$MP_SRC/tests/fake/fakeproxy.py
PXDIR=$MP_WORK/proxies
READY_WAIT_TENTHS=100
CT=1500            # --connect-timeout, which bounds each proxy handshake
FAKE_PID=""
FS_PID=""           # fakeserver.py on the second address of localhost

cleanup() {
	local rc=$? i pid
	bash "$PXSH" stop "$PXDIR" || rc=1
	for pid in "$FAKE_PID" "$FS_PID"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	exit $rc
}
trap cleanup EXIT

# A port nothing listens on, on 127.0.0.1 nor ::1: bound and released, then checked.
CLOSED=$("$MP_PY" "$MP_SRC/tests/fake/loopback.py" free-ports 1)
(exec 3<>"/dev/tcp/$H/$CLOSED") 2>/dev/null && mp_fail "port $CLOSED unexpectedly accepts"
export CLOSED

bash "$PXSH" start "$PXDIR" "$MP_SMTP_PORT" "$MP_SUBMISSION_PORT" "$MP_SMTPS_PORT" \
	"$MP_IMAP_PORT" "$MP_IMAPS_PORT" "$MP_POP3_PORT" "$MP_POP3S_PORT" "$CLOSED" ||
	mp_fail "proxies.sh start failed"
# exported, so the Python helpers see them as env["MP_PX_..."]
set -a
# shellcheck disable=SC1091
. "$PXDIR/proxies.env"
set +a
PXPASS=$(cat "$MP_PX_PASS_FILE")
[ -n "$PXPASS" ] || mp_fail "empty proxy password in $MP_PX_PASS_FILE"
export PXPASS MP_PX_USER

URLS=(
	"smtp://$H:$MP_SMTP_PORT"
	"smtp+starttls://$H:$MP_SMTP_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"smtps://$H:$MP_SMTPS_PORT"
	"imap://$H:$MP_IMAP_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
	"imaps://$H:$MP_IMAPS_PORT"
	"pop3://$H:$MP_POP3_PORT"
	"pop3+starttls://$H:$MP_POP3_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
)

# Fails when the proxy password appears in the last run's output or stderr.
no_password_in() {
	if grep -qF -- "$PXPASS" "$1" "$1.err"; then
		mp_fail "the proxy password appears in $1 or $1.err"
	fi
}

# same_as_direct FILE PROXYJSON LOCAL: every result of FILE is ok and equals
# the direct result of the same endpoint; the result's proxy is PROXYJSON;
# LOCAL=1 when mailprobe resolves the target itself (address is then set).
same_as_direct() {
	"$MP_PY" - "$MP_WORK/direct.json" "$1" "$2" "$3" <<'EOF' || exit 1
import json, sys

direct = {(x["protocol"], x["port"], x["mode"]): x for x in json.load(open(sys.argv[1]))["results"]}
run = json.load(open(sys.argv[2]))
want_proxy = json.loads(sys.argv[3])
local = sys.argv[4] == "1"

def facts(x):
    tls = x["tls"] or {}
    cert = tls.get("certificate") or {}
    return {
        "status": x["status"], "error": x["error"], "greeting": x["greeting"],
        "starttls_offered": x["starttls_offered"],
        "capabilities": x["capabilities"], "auth_mechanisms": x["auth_mechanisms"],
        "findings": sorted(f["code"] for f in x["findings"]),
        "tls": x["tls"] is not None, "verified": tls.get("verified"),
        "hostname_matched": tls.get("hostname_matched"), "subject": cert.get("subject"),
    }

bad = []
if len(run["results"]) != len(direct):
    bad.append("%d results, direct had %d" % (len(run["results"]), len(direct)))
for x in run["results"]:
    key = (x["protocol"], x["port"], x["mode"])
    d = direct.get(key)
    if d is None:
        bad.append("%s: no direct result" % (key,))
        continue
    if x["status"] != "ok":
        bad.append("%s: status %s: %s" % (key, x["status"], x["error"]))
        continue
    if x["proxy"] != want_proxy:
        bad.append("%s: proxy %s, expected %s" % (key, x["proxy"], want_proxy))
    a, b = facts(x), facts(d)
    for k in a:
        if a[k] != b[k]:
            bad.append("%s: %s through the proxy: %s\n      directly: %s" % (key, k, a[k], b[k]))
    t = x["timings_ms"]
    for k in ("proxy_connect", "proxy_handshake", "greeting", "total"):
        if not isinstance(t.get(k), int) or t[k] < 0:
            bad.append("%s: timings_ms.%s = %r" % (key, k, t.get(k)))
    if local and x["address"] != "127.0.0.1":
        bad.append("%s: address %r, expected 127.0.0.1 (resolved locally)" % (key, x["address"]))
if bad:
    sys.stderr.write("FAIL: %s through %s differs from direct:\n  %s\n"
                     % (sys.argv[2], want_proxy, "\n  ".join(bad)))
    sys.exit(1)
EOF
}

# proxy_json TYPE PORT USER -> the expected "proxy" object of a result.
proxy_json() {
	local user=null
	[ -n "$3" ] && user="\"$3\""
	echo "{\"type\": \"$1\", \"host\": \"$H\", \"port\": $2, \"user\": $user}"
}

# ---------------------------------------------------------------------------
# 1. Working proxies: the same facts as directly.
mp_note "direct baseline"
mp_json "$MP_WORK/direct.json" --cafile "$MP_CA" "${URLS[@]}"
mp_expect_rc 0
pyeq "$MP_WORK/direct.json" \
	'[(x["port"], x["mode"], x["status"]) for x in results if x["status"] != "ok"]' \
	'[]' "every endpoint answers directly"

U=$MP_PX_USER
WORKING=(
	"socks4 $MP_PX_DANTE_PORT - 1"
	"socks4a $MP_PX_DANTE_PORT - 0"
	"socks5 $MP_PX_DANTE_PORT - 1"
	"socks5h $MP_PX_DANTE_PORT - 0"
	"socks5 $MP_PX_MS_PORT - 1"
	"socks5h $MP_PX_MS_PORT - 0"
	"socks5 $MP_PX_MS_AUTH_PORT $U 1"
	"socks5h $MP_PX_MS_AUTH_PORT $U 0"
	"http $MP_PX_TINY_PORT - 0"
	"http $MP_PX_TINY_AUTH_PORT $U 0"
)
n=0
for w in "${WORKING[@]}"; do
	read -r type port user local <<<"$w"
	[ "$user" = - ] && user=""
	cred=""
	[ -n "$user" ] && cred="$user:$PXPASS@"
	n=$((n + 1))
	out=$MP_WORK/ok-$n-$type-$port.json
	mp_note "through $type://${user:+$user:***@}$H:$port"
	mp_json "$out" --cafile "$MP_CA" --proxy "$type://$cred$H:$port" "${URLS[@]}"
	mp_expect_rc 0
	no_password_in "$out"
	same_as_direct "$out" "$(proxy_json "$type" "$port" "$user")" "$local"
done
mp_validate "$MP_WORK/ok-7-socks5-$MP_PX_MS_AUTH_PORT.json"

# The password may come from MAILPROBE_PROXY_PASSWORD instead of the URL.
out=$MP_WORK/ok-env-password.json
MAILPROBE_PROXY_PASSWORD=$PXPASS mp_json "$out" --cafile "$MP_CA" \
	--proxy "http://$U@$H:$MP_PX_TINY_AUTH_PORT" "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
no_password_in "$out"
pyeq "$out" 'R("smtp", env["MP_SMTPS_PORT"])["status"]' '"ok"' \
	"password from MAILPROBE_PROXY_PASSWORD"

# ... or from a file, which wins over the environment.
out=$MP_WORK/ok-file-password.json
MAILPROBE_PROXY_PASSWORD=wrong-$PXPASS mp_json "$out" --cafile "$MP_CA" \
	--proxy-password-file "$MP_PX_PASS_FILE" \
	--proxy "socks5://$U@$H:$MP_PX_MS_AUTH_PORT" "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
no_password_in "$out"
pyeq "$out" 'R("smtp", env["MP_SMTPS_PORT"])["status"]' '"ok"' \
	"password from --proxy-password-file"

# The proxy resolves the name (socks5h, http): "localhost" goes to the proxy,
# which may pick ::1 or 127.0.0.1 (the servers listen on both).
out=$MP_WORK/ok-remote-name.json
mp_json "$out" --cafile "$MP_CA" --proxy "socks5h://$H:$MP_PX_MS_PORT" \
	--proxy "socks5h://$H:$MP_PX_DANTE_PORT" --proxy "http://$H:$MP_PX_TINY_PORT" \
	"smtp+starttls://localhost:$MP_SMTP_PORT"
mp_expect_rc 0
pyeq "$out" 'sorted((x["proxy"]["type"], x["proxy"]["port"], x["status"], x["tls"]["verified"],
		     x["tls"]["hostname_matched"], x["address"]) for x in results)' \
	'sorted([("http", int(env["MP_PX_TINY_PORT"]), "ok", True, True, None),
		 ("socks5h", int(env["MP_PX_DANTE_PORT"]), "ok", True, True, None),
		 ("socks5h", int(env["MP_PX_MS_PORT"]), "ok", True, True, None)])' \
	"localhost resolved by socks5h and http proxies, certificate verified for it"

# mailprobe resolves the name (socks4, socks5) and asks for an address: SOCKS4
# carries IPv4 only, so it gets 127.0.0.1 even where localhost is ::1 first.
LOCALHOST_ADDRS=$("$MP_PY" -c 'import socket
print(" ".join(sorted({a[4][0] for a in socket.getaddrinfo("localhost", 25, type=socket.SOCK_STREAM)})))')
export LOCALHOST_ADDRS
out=$MP_WORK/ok-local-name.json
mp_json "$out" --cafile "$MP_CA" --proxy "socks4://$H:$MP_PX_DANTE_PORT" \
	--proxy "socks5://$H:$MP_PX_DANTE_PORT" "smtp+starttls://localhost:$MP_SMTP_PORT"
mp_expect_rc 0
pyeq "$out" 'sorted((x["proxy"]["type"], x["status"], x["tls"]["verified"],
		     x["address"] == "127.0.0.1" if x["proxy"]["type"] == "socks4"
		     else x["address"] in env["LOCALHOST_ADDRS"].split()) for x in results)' \
	'[("socks4", "ok", True, True), ("socks5", "ok", True, True)]' \
	"localhost resolved by mailprobe: socks4 to 127.0.0.1, socks5 to its first address"

# IPv6 loopback: targets at [::1] through each proxy type, and the proxies
# themselves reached at [::1] (dante and tinyproxy listen there too).
if [ "${MP_IPV6:-0}" = 1 ] && [ "${MP_PX_IPV6:-0}" = 1 ]; then
	out=$MP_WORK/ok-ipv6-target.json
	mp_json "$out" --cafile "$MP_CA" --proxy "socks5://$H:$MP_PX_DANTE_PORT" \
		--proxy "socks5h://$H:$MP_PX_DANTE_PORT" --proxy "socks5://$H:$MP_PX_MS_PORT" \
		--proxy "http://$H:$MP_PX_TINY_PORT" \
		"smtps://[::1]:$MP_SMTPS_PORT" "imap+starttls://[::1]:$MP_IMAP_PORT"
	mp_expect_rc 0
	mp_validate "$out"
	pyeq "$out" '[(x["proxy"]["type"], x["port"], x["status"], x["error"]) for x in results
		    if x["status"] != "ok" or not x["tls"]["verified"] or not x["tls"]["hostname_matched"]]' \
		'[]' "[::1] through dante (socks5, socks5h), microsocks and tinyproxy: ok, verified"
	pyeq "$out" 'sorted(set((x["proxy"]["type"], x["address"]) for x in results))' \
		'[("http", None), ("socks5", "::1"), ("socks5h", None)]' \
		"[::1]: asked for as an IPv6 address (socks5) or passed on as given"
	pyeq "$out" 'len(results)' '8' "[::1]: 2 endpoints x 4 proxies"

	out=$MP_WORK/ok-ipv6-proxy.json
	mp_json "$out" --cafile "$MP_CA" --proxy "socks5://[::1]:$MP_PX_DANTE_PORT" \
		--proxy "http://[::1]:$MP_PX_TINY_PORT" \
		--proxy "http://$U:$PXPASS@[::1]:$MP_PX_TINY_AUTH_PORT" \
		"smtps://$H:$MP_SMTPS_PORT" "pop3s://[::1]:$MP_POP3S_PORT"
	mp_expect_rc 0
	no_password_in "$out"
	pyeq "$out" 'sorted((x["proxy"]["type"], x["proxy"]["host"], x["proxy"]["port"], x["host"],
		     x["status"], x["tls"]["verified"]) for x in results)' \
		'sorted((t, "::1", int(env[p]), h, "ok", True)
		        for t, p in (("socks5", "MP_PX_DANTE_PORT"), ("http", "MP_PX_TINY_PORT"),
		                     ("http", "MP_PX_TINY_AUTH_PORT"))
		        for h in ("127.0.0.1", "::1"))' \
		"dante and tinyproxy (with and without auth) reached at [::1], to 127.0.0.1 and [::1]"
	out=$MP_WORK/ok-ipv6-socks4-proxy.json
	mp_json "$out" --cafile "$MP_CA" --proxy "socks4://[::1]:$MP_PX_DANTE_PORT" \
		"smtps://$H:$MP_SMTPS_PORT"
	mp_expect_rc 0
	pyeq "$out" '[(x["status"], x["address"]) for x in results]' '[("ok", "127.0.0.1")]' \
		"SOCKS4 proxy reached at [::1], to an IPv4 target"
	mp_note "IPv6: [::1] targets and proxies at [::1]"
else
	mp_note "no IPv6 loopback on this machine: IPv6 proxy paths not tested"
fi

# Two paths in one run, with --direct.
out=$MP_WORK/ok-paths.json
mp_json "$out" --cafile "$MP_CA" --direct --proxy "socks5://$H:$MP_PX_MS_PORT" \
	--proxy "http://$H:$MP_PX_TINY_PORT" "imaps://$H:$MP_IMAPS_PORT"
mp_expect_rc 0
pyeq "$out" 'sorted(((x["proxy"] or {}).get("type", "direct"), x["status"]) for x in results)' \
	'[("direct", "ok"), ("http", "ok"), ("socks5", "ok")]' "direct, socks5 and http paths"

# ---------------------------------------------------------------------------
# 2. Real proxies failing. Each run has only failing endpoints: exit code 2.

# expect_fail NAME PROXYURL TARGETURL STATUS MESSAGE-PART
expect_fail() {
	local out=$MP_WORK/fail-$1.json
	export WANT_STATUS=$4 WANT_MSG=$5
	mp_json "$out" --cafile "$MP_CA" --connect-timeout 3000 --proxy "$2" "$3"
	mp_expect_rc 2
	no_password_in "$out"
	pyeq "$out" '[(x["status"], env["WANT_MSG"] in (x["error"] or "")) for x in results]' \
		'[(env["WANT_STATUS"], True)]' "$1: status $4 with a message naming \"$5\""
	pyeq "$out" 'results[0]["greeting"], results[0]["timings_ms"]["greeting"]' 'None, None' \
		"$1: no mail server reached"
	[ "$MP_MS" -lt 5000 ] || mp_fail "$1: took $MP_MS ms, expected a prompt answer"
}
T25=smtp://$H:$MP_SMTP_PORT
expect_fail socks5-wrong-password "socks5://$U:wrong-$PXPASS@$H:$MP_PX_MS_AUTH_PORT" "$T25" \
	proxy_auth_failed "rejected the user name or password of user \"$U\""
expect_fail http-wrong-password "http://$U:wrong-$PXPASS@$H:$MP_PX_TINY_AUTH_PORT" "$T25" \
	proxy_auth_failed "rejected the credentials of user \"$U\""
expect_fail socks5-no-credentials "socks5://$H:$MP_PX_MS_AUTH_PORT" "$T25" \
	proxy_auth_required "proxy requires authentication"
expect_fail http-no-credentials "http://$H:$MP_PX_TINY_AUTH_PORT" "$T25" \
	proxy_auth_required "407 Proxy Authentication Required"
expect_fail socks5-proxy-closed "socks5://$H:$CLOSED" "$T25" \
	proxy_unreachable "$H:$CLOSED"
expect_fail http-proxy-closed "http://$H:$CLOSED" "$T25" \
	proxy_unreachable "$H:$CLOSED"
expect_fail socks4-proxy-closed "socks4://$H:$CLOSED" "$T25" \
	proxy_unreachable "$H:$CLOSED"
expect_fail dante-target-closed "socks5://$H:$MP_PX_DANTE_PORT" "smtp://$H:$CLOSED" \
	proxy_target_unreachable "SOCKS5 reply 0x05: connection refused (target $H:$CLOSED)"
expect_fail microsocks-target-closed "socks5h://$H:$MP_PX_MS_PORT" "smtp://$H:$CLOSED" \
	proxy_target_unreachable "SOCKS5 reply 0x05: connection refused"
expect_fail microsocks-auth-target-closed "socks5://$U:$PXPASS@$H:$MP_PX_MS_AUTH_PORT" \
	"smtp://$H:$CLOSED" proxy_target_unreachable "connection refused"
# SOCKS4 has one code for every failure (0x5b), tinyproxy answers 500: the
# proxy's own words are all mailprobe can report.
expect_fail socks4-target-closed "socks4://$H:$MP_PX_DANTE_PORT" "smtp://$H:$CLOSED" \
	proxy_refused "SOCKS4 reply 0x5b: request rejected or failed"
expect_fail tinyproxy-target-closed "http://$H:$MP_PX_TINY_PORT" "smtp://$H:$CLOSED" \
	proxy_refused "\"HTTP/1.1 500 Unable to connect\""
# tinyproxy allows CONNECT only to its ConnectPort list.
expect_fail tinyproxy-port-not-allowed "http://$H:$MP_PX_TINY_PORT" "smtp://$H:$MP_PX_DANTE_PORT" \
	proxy_refused "403"
# SOCKS4 carries an IPv4 address only: an IPv6-only target is refused before
# anything is sent, with what to use instead.
if [ "${MP_IPV6:-0}" = 1 ]; then
	expect_fail socks4-ipv6-target "socks4://$H:$MP_PX_DANTE_PORT" "smtps://[::1]:$MP_SMTPS_PORT" \
		proxy_target_unreachable \
		"SOCKS4 cannot connect to the IPv6 address ::1: use socks4a://, socks5:// or socks5h://"
fi
# dante's rules block 127.0.0.3 (proxies.sh): refused by ruleset (0x02).
expect_fail dante-ruleset "socks5://$H:$MP_PX_DANTE_PORT" "smtp://127.0.0.3:$MP_SMTP_PORT" \
	proxy_refused "SOCKS5 reply 0x02: connection not allowed by ruleset"

# When mailprobe resolves the name (socks5, socks4), an address the proxy
# cannot reach is followed by the next one, over a new proxy connection. A
# fake SMTP server (smtp-no-starttls: it greets and answers EHLO) listens on
# the second address of "localhost" only, so the first is refused behind the
# proxy; the port closed on every address gives both failures in one error.
mapfile -t LH < <("$MP_PY" -c 'import socket
seen = []
for a in socket.getaddrinfo("localhost", 25, type=socket.SOCK_STREAM):
    if a[4][0] not in seen:
        seen.append(a[4][0])
print("\n".join(seen))')
if [ "${#LH[@]}" -lt 2 ]; then
	mp_note "next address through a proxy: skipped, localhost has one address here (${LH[*]})"
else
	FS_READY=$MP_WORK/second-only.json
	"$MP_PY" "$MP_SRC/tests/fake/fakeserver.py" --cert "$MP_SERVER_CERT" --key "$MP_SERVER_KEY" \
		--ready-file "$FS_READY" --host "${LH[1]}" --only smtp-no-starttls \
		</dev/null >"$MP_WORK/second-only.out" 2>&1 &
	FS_PID=$!
	for ((i = 0; i < READY_WAIT_TENTHS; i++)); do
		[ -s "$FS_READY" ] && break
		kill -0 "$FS_PID" 2>/dev/null ||
			mp_fail "fakeserver.py exited: $(cat "$MP_WORK/second-only.out")"
		sleep 0.1
	done
	[ -s "$FS_READY" ] || mp_fail "fakeserver.py not ready after $((READY_WAIT_TENTHS / 10)) s"
	SP=$("$MP_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["smtp-no-starttls"])' \
		"$FS_READY")
	(exec 3<>"/dev/tcp/${LH[0]}/$SP") 2>/dev/null &&
		mp_fail "port $SP unexpectedly accepts on ${LH[0]} too"
	export SECOND=${LH[1]} ADDRS="${LH[0]}, ${LH[1]}"
	for px in "socks5://$H:$MP_PX_DANTE_PORT" "socks5://$H:$MP_PX_MS_PORT"; do
		out=$MP_WORK/next-address.json
		mp_json "$out" --connect-timeout 3000 --proxy "$px" "smtp://localhost:$SP"
		pyeq "$out" '[(x["status"], x["address"], x["greeting"] is not None) for x in results]' \
			'[("ok", env["SECOND"], True)]' \
			"$px: ${LH[0]} refused behind the proxy, ${LH[1]} asked for next and reached"
	done
	out=$MP_WORK/next-address-closed.json
	mp_json "$out" --connect-timeout 3000 --proxy "socks5://$H:$MP_PX_DANTE_PORT" \
		"smtp://localhost:$CLOSED"
	mp_expect_rc 2
	pyeq "$out" '[(x["status"], "tried through the proxy: " + env["ADDRS"] in x["error"])
	              for x in results]' '[("proxy_target_unreachable", True)]' \
		"localhost:$CLOSED through dante: every address tried, each named in the error"
	kill -TERM "$FS_PID" 2>/dev/null
	wait "$FS_PID" 2>/dev/null
	mp_note "next address through a proxy: ${LH[0]} refused, ${LH[1]} reached"
fi

# ---------------------------------------------------------------------------
# 3. Misbehaving proxies.
READY=$MP_WORK/fakeproxy.json
"$MP_PY" "$FAKE" --ready-file "$READY" --log "$MP_WORK/fakeproxy.log" \
	</dev/null >"$MP_WORK/fakeproxy.out" 2>&1 &
FAKE_PID=$!
for ((i = 0; i < READY_WAIT_TENTHS; i++)); do
	[ -s "$READY" ] && break
	kill -0 "$FAKE_PID" 2>/dev/null || mp_fail "fakeproxy.py exited: $(cat "$MP_WORK/fakeproxy.out")"
	sleep 0.1
done
[ -s "$READY" ] || mp_fail "fakeproxy.py not ready after $((READY_WAIT_TENTHS / 10)) s"

fake_port() {
	"$MP_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$READY" "$1"
}

# fake SCENARIO TYPE STATUS MESSAGE-PART MIN_MS MAX_MS [TARGET]
fake() {
	local port out target=${7:-smtp://$H:$MP_SMTP_PORT}
	port=$(fake_port "$1")
	out=$MP_WORK/fake-$1.json
	export WANT_STATUS=$3 WANT_MSG=$4
	mp_json "$out" --cafile "$MP_CA" --connect-timeout "$CT" --proxy "$2://$H:$port" "$target"
	if [ "$3" = ok ]; then mp_expect_rc 0; else mp_expect_rc 2; fi
	pyeq "$out" '[(x["status"], env["WANT_MSG"] in (x["error"] or "")) for x in results]' \
		'[(env["WANT_STATUS"], True)]' "fakeproxy $1: status $3 with a message naming \"$4\""
	if [ "$MP_MS" -lt "$5" ] || [ "$MP_MS" -gt "$6" ]; then
		mp_fail "fakeproxy $1: took $MP_MS ms, expected $5..$6 ms"
	fi
	mp_note "fakeproxy $1: $3 in $MP_MS ms"
}

LATE=$((CT - 100))
SOON=$((CT + 2500))
fake socks5-truncated socks5 proxy_protocol_error \
	"closed the connection during the handshake (connect reply" 0 1000
fake socks5-wrong-version socks5 proxy_protocol_error \
	"method selection reply has version 4, expected 5" 0 1000
fake socks5-silent-after-greeting socks5 proxy_timeout \
	"did not answer before the deadline (method selection reply)" "$LATE" "$SOON"
fake socks5-silent-after-connect socks5 proxy_timeout \
	"did not answer before the deadline (connect reply)" "$LATE" "$SOON"
fake socks5-bad-atyp socks5 proxy_protocol_error "unknown address type 0x09" 0 1000
fake socks5-ttl-expired socks5 proxy_target_unreachable "SOCKS5 reply 0x06: TTL expired" 0 1000
fake socks4-truncated socks4 proxy_protocol_error \
	"SOCKS4 proxy closed the connection during the handshake" 0 1000
fake socks4-wrong-version socks4 proxy_protocol_error "reply has version 4, expected 0" 0 1000
fake http-no-blank-line http proxy_timeout "(reading the reply header)" "$LATE" "$SOON"
fake http-huge-header http proxy_protocol_error "reply header is longer than 16384 bytes" 0 3000
fake http-huge-line http proxy_protocol_error "header line longer than 8192 bytes" 0 3000
fake http-502 http proxy_target_unreachable "\"HTTP/1.1 502 Bad Gateway\"" 0 1000
fake http-503 http proxy_target_unreachable "\"HTTP/1.1 503 Service Unavailable\"" 0 1000
fake http-504 http proxy_target_unreachable "\"HTTP/1.1 504 Gateway Timeout\"" 0 1000

# Relays whose reply and the server's greeting arrive in one segment: the
# greeting must reach the SMTP dialect intact, STARTTLS must work after it.
for s in socks5-eager-relay http-eager-relay; do
	case $s in socks5*) t=socks5 ;; *) t=http ;; esac
	fake "$s" "$t" ok "" 0 5000 "smtp+starttls://$H:$MP_SMTP_PORT"
	out=$MP_WORK/fake-$s.json
	"$MP_PY" - "$MP_WORK/direct.json" "$out" "$MP_SMTP_PORT" <<'EOF' ||
import json, sys
port = int(sys.argv[3])
pick = lambda p: [x for x in json.load(open(p))["results"]
                  if x["port"] == port and x["mode"] == "starttls"][0]
d, x = pick(sys.argv[1]), pick(sys.argv[2])
for k in ("greeting", "capabilities", "auth_mechanisms", "starttls_offered"):
    if d[k] != x[k]:
        sys.exit("%s: %r, directly %r" % (k, x[k], d[k]))
if not (x["tls"] and x["tls"]["verified"]):
    sys.exit("TLS after STARTTLS not verified: %r" % (x["tls"],))
EOF
		mp_fail "$s: differs from direct"
done

# SOCKS4a with a host name (dante cannot): the name reaches the proxy.
fake socks4a-relay socks4a ok "" 0 5000 "smtp+starttls://localhost:$MP_SMTP_PORT"
pyeq "$MP_WORK/fake-socks4a-relay.json" \
	'results[0]["tls"]["verified"], results[0]["greeting"] is not None' \
	'True, True' "socks4a relay: greeting and verified TLS for localhost"
"$MP_PY" - "$MP_WORK/fakeproxy.log" "$MP_SMTP_PORT" <<'EOF' ||
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"socks4a-relay"' in l]
reqs = [(r["request"].get("host"), r["request"].get("port")) for r in recs]
if reqs != [("localhost", int(sys.argv[2]))]:
    sys.exit("socks4a-relay requests: %r" % reqs)
EOF
	mp_fail "socks4a: the host name did not reach the proxy"

kill -0 "$FAKE_PID" 2>/dev/null || mp_fail "fakeproxy.py died: $(cat "$MP_WORK/fakeproxy.out")"
echo "ok: proxies"
