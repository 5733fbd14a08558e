#!/bin/bash
# test_serve.sh - "mailprobe serve" against the real Postfix and Dovecot of
# servers.sh: /probe with one and several targets (Prometheus text checked by
# promtool, JSON by the schema), the scrape-timeout header, the allow list,
# bad requests, hostile clients (1 MiB query, 500 concurrent requests, stalled
# clients), reload by POST and SIGHUP, /metrics, secrets kept out of every
# answer and of the log, and SIGTERM during a running probe. Under the ASan
# build the server's stderr must stay free of sanitizer reports.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
CLIENTS=$MP_SRC/tests/integration/serve_clients.py
PROMTOOL=$(command -v promtool || true)
[ -n "$PROMTOOL" ] || mp_fail "promtool is missing (Debian package prometheus): the suite needs it (tests/run-all.sh installs it with .ci/install-deps.sh)"
command -v curl >/dev/null || mp_fail "curl is missing: the suite needs it (tests/run-all.sh installs it with .ci/install-deps.sh)"
HEALTHY_WAIT_TENTHS=100  # the exporter answers /-/healthy within 10 s
STALL_CLIENTS=20         # connections that send half a request and stall
STALL_WAIT_S=25          # they must be closed by then (the server's timeout is 10 s)
FLOOD=500                # concurrent /probe requests with --max-probes 4
EXIT_WAIT_TENTHS=150     # the exporter exits within 15 s of SIGTERM

PASSWORD=$(head -n 1 "$MP_PASS_FILE")
[ -n "$PASSWORD" ] || mp_fail "$MP_PASS_FILE has no password"
CFG=$MP_WORK/serve.json
LOG=$MP_WORK/serve.err
SERVE_PID=
SILENT_PID=
STALL_PID=
TERM_CURL_PID=

# Stops what this script started, by PID.
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local pid
	for pid in $TERM_CURL_PID $STALL_PID $SERVE_PID $SILENT_PID; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

# A loopback listener that accepts and never greets (for slow probes).
"$MP_PY" "$CLIENTS" silent "$MP_WORK/silent.port" 240 &
SILENT_PID=$!
for _ in $(seq 50); do
	[ -s "$MP_WORK/silent.port" ] && break
	sleep 0.1
done
[ -s "$MP_WORK/silent.port" ] || mp_fail "the silent listener did not start"
SILENT_PORT=$(cat "$MP_WORK/silent.port")

# write_config FILE [EXTRA_MODULE]: the configuration, with one more module
# when named (to see that a reload took effect).
write_config() {
	"$MP_PY" - "$1" "${2:-}" <<'EOF'
import json, os, sys
e = os.environ
ca = e["MP_CA"]
mods = {
    "tls": {"cafile": ca},
    "policy": {"cafile": ca, "require-tls": True, "min-tls": "1.2", "require-verified": True},
    "login": {"cafile": ca, "user": e["MP_USER"], "password-file": e["MP_PASS_FILE"],
              "transcript": True, "protocols": ["imap", "pop3"]},
    "slow": {"greeting-timeout": 2000},
}
if sys.argv[2]:
    mods[sys.argv[2]] = {"cafile": ca, "greeting-timeout": 1000}
cfg = {"allow": ["127.0.0.1"], "modules": mods,
       "targets": [{"target": "smtps://127.0.0.1:%s" % e["MP_SMTPS_PORT"], "module": "tls"}]}
json.dump(cfg, open(sys.argv[1] + ".tmp", "w"), indent=1)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
EOF
}

# http NAME PATH [CURL ARGS...]: the answer's body in $MP_WORK/NAME.body, its
# headers in NAME.hdr; sets CODE (000: no answer) and SECS (time taken).
http() {
	local name=$1 path=$2 out
	shift 2
	out=$(curl -g -s -m 30 -o "$MP_WORK/$name.body" -D "$MP_WORK/$name.hdr" \
		-w '%{http_code} %{time_total}' "$@" "http://$H:$PORT$path") || true
	CODE=${out%% *}
	SECS=${out##* }
	[ -n "$CODE" ] || CODE=000
	touch "$MP_WORK/$name.body" "$MP_WORK/$name.hdr"
}

# expect_code WANT MSG: the last answer's status must be WANT.
expect_code() {
	[ "$CODE" = "$1" ] && return 0
	echo "--- body of the answer:" >&2
	head -c 2000 "$MP_WORK/$NAME_LAST.body" >&2 || true
	echo "--- server log:" >&2
	tail -n 20 "$LOG" >&2 || true
	mp_fail "$2: expected HTTP $1, got $CODE"
}

# get NAME PATH WANT MSG [CURL ARGS...]: http, then expect_code.
get() {
	local name=$1 path=$2 want=$3 msg=$4
	shift 4
	NAME_LAST=$name
	http "$name" "$path" "$@"
	expect_code "$want" "$msg"
}

# body_has NAME TEXT MSG: the body of answer NAME holds TEXT.
body_has() {
	grep -qF -- "$2" "$MP_WORK/$1.body" || {
		head -c 1000 "$MP_WORK/$1.body" >&2
		mp_fail "$3: the answer lacks '$2'"
	}
}

# promlint NAME: the body passes promtool check metrics silently.
promlint() {
	local lint
	lint=$("$PROMTOOL" check metrics <"$MP_WORK/$1.body" 2>&1) ||
		mp_fail "promtool check metrics ($1): $lint"
	[ -z "$lint" ] || mp_fail "promtool check metrics ($1) reported: $lint"
}

# Parses exposition text into (name, labels, value) samples; S(name, **labels).
PROM_PY='
import os, re, sys
LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?")
samples = []
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    m = LINE.match(line)
    assert m, "unparsed line: %r" % line
    samples.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
def S(name, **want):
    return [s for s in samples if s[0] == name and all(s[1].get(k) == v for k, v in want.items())]
def V(name, **want):
    return sorted(s[2] for s in S(name, **want))
env = os.environ
ok = eval(sys.argv[2])
if ok is not True:
    sys.exit("FAIL: %s (got %r)" % (sys.argv[3], ok))
'
# promcheck NAME EXPR MSG: EXPR (Python, over S() and V()) is True for answer NAME.
promcheck() {
	"$MP_PY" -c "$PROM_PY" "$MP_WORK/$1.body" "$2" "$3" || mp_fail "$3"
}

# metric VALUE_EXPR: prints a value from a fresh /metrics (for polling).
metric() {
	http metrics_poll /metrics
	"$MP_PY" -c "$PROM_PY" "$MP_WORK/metrics_poll.body" "print($1) is None" "metric" 2>/dev/null
}

# The leaf's notAfter as Unix time, from openssl's text.
NOT_AFTER=$(openssl x509 -enddate -noout -in "$MP_SERVER_CERT" | "$MP_PY" -c 'import ssl, sys
print(int(ssl.cert_time_to_seconds(sys.stdin.read().strip().split("=", 1)[1])))')
export NOT_AFTER

# ---------------------------------------------------------------------------
# Start the exporter on a free loopback port.
write_config "$CFG"
PORT=$("$MP_PY" "$CLIENTS" freeport)
"$MAILPROBE" serve --listen "$H:$PORT" --config "$CFG" --max-probes 4 --enable-lifecycle 2>"$LOG" &
SERVE_PID=$!
for _ in $(seq "$HEALTHY_WAIT_TENTHS"); do
	kill -0 "$SERVE_PID" 2>/dev/null || {
		cat "$LOG" >&2
		mp_fail "mailprobe serve exited at start"
	}
	http healthy /-/healthy
	[ "$CODE" = 200 ] && break
	sleep 0.1
done
[ "$CODE" = 200 ] || mp_fail "mailprobe serve did not answer /-/healthy within $((HEALTHY_WAIT_TENTHS / 10)) s"
body_has healthy OK "/-/healthy"
mp_note "exporter on $H:$PORT (PID $SERVE_PID), silent listener on $SILENT_PORT"

# Stalled clients, in the background: each sends half a request and waits.
"$MP_PY" "$CLIENTS" stall "$H" "$PORT" "$STALL_CLIENTS" "$STALL_WAIT_S" "$MP_WORK/stall.json" &
STALL_PID=$!
sleep 0.5

# ---------------------------------------------------------------------------
# 1. /probe: one target, Prometheus text (while the stalled clients wait).
SMTPS="smtps://$H:$MP_SMTPS_PORT"
get one "/probe?target=$SMTPS&module=tls" 200 "one target"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$MP_WORK/one.hdr" ||
	mp_fail "/probe: Content-Type is not the text exposition format: $(grep -i content-type "$MP_WORK/one.hdr")"
promlint one
promcheck one 'V("mailprobe_probe_success", port=env["MP_SMTPS_PORT"], mode="tls") == [1.0] and len(S("mailprobe_probe_success")) == 1' \
	"one target: probe_success 1"
promcheck one 'V("mailprobe_cert_not_after_timestamp_seconds") == [float(env["NOT_AFTER"])]' \
	"one target: cert_not_after_timestamp_seconds is the leaf's notAfter"
promcheck one 'V("mailprobe_cert_verified") == [1.0]' "one target: verified with the module's cafile"

# Several targets (a "+" in a target is %2B, as Prometheus encodes it).
get several "/probe?target=$SMTPS&target=imaps://$H:$MP_IMAPS_PORT&target=pop3s://$H:$MP_POP3S_PORT&target=smtp%2Bstarttls://$H:$MP_SUBMISSION_PORT&module=tls" \
	200 "several targets"
promlint several
promcheck several 'sorted((s[1]["protocol"], s[1]["mode"], s[2]) for s in S("mailprobe_probe_success")) == [("imap", "tls", 1.0), ("pop3", "tls", 1.0), ("smtp", "starttls", 1.0), ("smtp", "tls", 1.0)]' \
	"several targets: four endpoints, all successful"
promcheck several 'V("mailprobe_endpoints") == [4.0]' "several targets: mailprobe_endpoints 4"

# A module with a policy rule: OK on implicit TLS, CRITICAL without TLS.
get pol_ok "/probe?target=$SMTPS&module=policy" 200 "policy module (smtps)"
promlint pol_ok
promcheck pol_ok 'V("mailprobe_policy_state") == [0.0]' "policy module: OK on smtps"
get pol_bad "/probe?target=smtp://$H:$MP_SMTP_PORT&module=policy" 200 "policy module (plain smtp)"
promlint pol_bad
promcheck pol_bad 'V("mailprobe_policy_state") == [2.0] and V("mailprobe_policy_verdict_state", rule="require-tls") == [2.0]' \
	"policy module: require-tls CRITICAL on plain smtp"

# ---------------------------------------------------------------------------
# 2. format=json: the schema, a login with the password file, the deadline.
LOGIN="/probe?target=imaps://$H:$MP_IMAPS_PORT&target=pop3s://$H:$MP_POP3S_PORT&module=login&format=json"
get json "$LOGIN" 200 "format=json"
grep -qi '^Content-Type: application/json' "$MP_WORK/json.hdr" || mp_fail "format=json: Content-Type"
mp_validate "$MP_WORK/json.body"
pyeq "$MP_WORK/json.body" 'sorted((x["protocol"], x["status"]) for x in results)' \
	'[("imap", "ok"), ("pop3", "ok")]' "format=json: both endpoints"
pyassert "$MP_WORK/json.body" 'all(a["status"] == "ok" for x in results for a in x["auth_results"]) and all(x["auth_results"] for x in results)' \
	"format=json: the module's user logs in with its password file"
pyeq "$MP_WORK/json.body" 'r["options"]["auth"]["password_given"]' 'True' "password given"
pyeq "$MP_WORK/json.body" 'r["options"]["timeouts_ms"]["overall"]' '9500' \
	"without the scrape header the deadline is --scrape-timeout (10 s) less 0.5 s"
get json3 "$LOGIN" 200 "format=json, scrape timeout 3 s" -H 'X-Prometheus-Scrape-Timeout-Seconds: 3'
mp_validate "$MP_WORK/json3.body"
pyeq "$MP_WORK/json3.body" 'r["options"]["timeouts_ms"]["overall"]' '2500' \
	"X-Prometheus-Scrape-Timeout-Seconds: 3 -> deadline 2.5 s"
get json75 "$LOGIN" 200 "scrape timeout 7.5 s" -H 'X-Prometheus-Scrape-Timeout-Seconds: 7.5'
pyeq "$MP_WORK/json75.body" 'r["options"]["timeouts_ms"]["overall"]' '7000' \
	"X-Prometheus-Scrape-Timeout-Seconds: 7.5 -> deadline 7 s"
get jsonbad "$LOGIN" 200 "unreadable scrape timeout" -H 'X-Prometheus-Scrape-Timeout-Seconds: soon'
pyeq "$MP_WORK/jsonbad.body" 'r["options"]["timeouts_ms"]["overall"]' '9500' \
	"an unreadable scrape timeout header is ignored"
# the deadline holds: a silent server with a 2 s greeting timeout, a 1.5 s scrape
get short "/probe?target=smtp://$H:$SILENT_PORT&module=slow" 200 "slow probe, 1.5 s scrape" \
	-H 'X-Prometheus-Scrape-Timeout-Seconds: 1.5'
promlint short
promcheck short 'V("mailprobe_probe_success") == [0.0]' "the silent server: probe_success 0"
"$MP_PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.5 else 1)' "$SECS" ||
	mp_fail "a 1.5 s scrape of a silent server took ${SECS}s: the scrape would time out with nothing"

# ---------------------------------------------------------------------------
# 3. The allow list: 403 with a clear message.
for t in "127.0.0.9" "smtps://127.0.0.9:$MP_SMTPS_PORT" "mx.invalid" "smtps://%5B::1%5D:$MP_SMTPS_PORT"; do
	get forbidden "/probe?target=$t&module=tls" 403 "target $t outside allow"
	body_has forbidden 'not allowed' "403 for $t"
	body_has forbidden '"allow"' "403 for $t"
done
get forbidden2 "/probe?target=$SMTPS&target=127.0.0.9&module=tls" 403 "one allowed and one forbidden target"
body_has forbidden2 'target 2 is not allowed' "the forbidden target is named by its place"

# ---------------------------------------------------------------------------
# 4. Bad requests: 400, 404, 405.
get bad_module "/probe?target=$SMTPS&module=nope" 400 "unknown module"
body_has bad_module 'unknown module' "unknown module"
get bad_param "/probe?target=$SMTPS&module=tls&foo=bar" 400 "unknown parameter"
body_has bad_param 'unknown or repeated parameter' "unknown parameter"
get bad_repeat "/probe?target=$SMTPS&module=tls&module=login" 400 "repeated module"
get bad_missing "/probe?module=tls" 400 "missing target"
body_has bad_missing 'missing target' "missing target"
get bad_empty "/probe?target=&module=tls" 400 "empty target"
get bad_pct "/probe?target=%zz&module=tls" 400 "invalid percent-encoding"
body_has bad_pct 'percent-encoding' "invalid percent-encoding"
get bad_pct2 "/probe?target=127.0.0.1%4" 400 "truncated percent-encoding"
get bad_format "/probe?target=$SMTPS&module=tls&format=xml" 400 "unknown format"
# a malformed target is a bad request, said before the allow list is asked
get bad_target "/probe?target=gopher://127.0.0.1&module=tls" 400 "malformed target"
body_has bad_target 'unknown scheme' "malformed target: what is wrong"
many=$("$MP_PY" -c 'print("&".join(["target=127.0.0.1"] * 65))')
get bad_many "/probe?$many&module=tls" 400 "65 targets"
body_has bad_many 'at most 64 targets' "65 targets"
get notfound /nope 404 "unknown path"
get notfound2 /probe/x 404 "a path below /probe"
get m_delete "/probe?target=$SMTPS" 405 "DELETE /probe" -X DELETE
get m_post "/probe?target=$SMTPS" 405 "POST /probe" -X POST -d x=1
get m_put /metrics 405 "PUT /metrics" -X PUT -d x
get m_reload /-/reload 405 "GET /-/reload"

# A 1 MiB query string: a 4xx, and the server lives on.
huge=$("$MP_PY" "$CLIENTS" huge "$H" "$PORT" 1048576)
case $huge in
4??) ;;
*) mp_fail "a 1 MiB query string was answered '$huge', expected a 4xx" ;;
esac
get after_huge /-/healthy 200 "/-/healthy after the 1 MiB query string"
mp_note "1 MiB query string: HTTP $huge"

# ---------------------------------------------------------------------------
# 5. 500 concurrent requests with --max-probes 4 (slow probes hold the slots).
"$MP_PY" "$CLIENTS" flood "$H" "$PORT" "/probe?target=smtp://$H:$SILENT_PORT&module=slow" \
	"$FLOOD" "$MP_WORK/flood.json" >"$MP_WORK/flood.out" ||
	mp_fail "the flood client failed: $(cat "$MP_WORK/flood.out")"
"$MP_PY" - "$MP_WORK/flood.json" "$FLOOD" <<'EOF' || mp_fail "500 concurrent requests: $(cat "$MP_WORK/flood.json")"
import json, sys
f = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
codes = {int(k): v for k, v in f["codes"].items()}
bad = {k: v for k, v in codes.items() if k not in (200, 503)}
assert not bad, "codes other than 200 and 503: %r" % bad
assert f["nerrors"] == 0, "requests without an answer: %r" % f["errors"]
assert sum(codes.values()) == n, "answers %d of %d" % (sum(codes.values()), n)
assert codes.get(503, 0) >= n * 0.8, "most should get 503: %r" % codes
assert 1 <= codes.get(200, 0) <= n, "some should be probed: %r" % codes
assert f["retry_after_missing"] == 0, "503 without Retry-After: %d" % f["retry_after_missing"]
EOF
mp_note "flood: $(cat "$MP_WORK/flood.out")"
get after_flood /-/healthy 200 "/-/healthy after the flood"
get after_flood_probe "/probe?target=$SMTPS&module=tls" 200 "a probe after the flood"

# ---------------------------------------------------------------------------
# 6. The stalled clients: the server answered all the above meanwhile; each
# stalled connection is closed after the server's timeout.
for _ in $(seq $((STALL_WAIT_S * 10 + 50))); do
	kill -0 "$STALL_PID" 2>/dev/null || break
	sleep 0.1
done
wait "$STALL_PID" || mp_fail "the stalled clients' script failed"
STALL_PID=
"$MP_PY" - "$MP_WORK/stall.json" "$STALL_CLIENTS" <<'EOF' || mp_fail "stalled clients: $(cat "$MP_WORK/stall.json")"
import json, sys
c = json.load(open(sys.argv[1]))["closed_after_s"]
assert len(c) == int(sys.argv[2]), "results for %d clients" % len(c)
assert all(x is not None for x in c), "some stalled connections were never closed"
assert all(5 <= x <= 20 for x in c), "closed after %r s" % c
EOF
mp_note "stalled clients closed after $("$MP_PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["closed_after_s"]; print(min(c), "-", max(c))' "$MP_WORK/stall.json") s"

# ---------------------------------------------------------------------------
# 7. Reload: broken configurations are refused and the old one kept.
get m0 /metrics 200 "/metrics"
promlint m0
promcheck m0 'V("mailprobe_exporter_config_reloads_total", result="success") == [1.0] and V("mailprobe_exporter_config_reloads_total", result="failure") == [0.0]' \
	"the first load counted"
promcheck m0 'V("mailprobe_exporter_config_last_reload_successful") == [1.0]' "last load successful"

printf '{"allow": ["127.0.0.1"], "modules": {"tls": {"cafile": "x"},\n' >"$CFG"
http reload_bad /-/reload -X POST
[ "$CODE" != 200 ] && [ "${CODE:0:1}" != 2 ] || mp_fail "POST /-/reload of a broken file answered $CODE"
body_has reload_bad 'reload refused' "POST /-/reload of a broken file"
body_has reload_bad "$CFG" "the refusal names the file"
get old_kept "/probe?target=$SMTPS&module=tls" 200 "the old configuration is kept"
get m1 /metrics 200 "/metrics after a refused reload"
promlint m1
promcheck m1 'V("mailprobe_exporter_config_reloads_total", result="failure") == [1.0] and V("mailprobe_exporter_config_last_reload_successful") == [0.0]' \
	"a refused reload is counted"

# SIGHUP with a module that holds a password (refused without repeating it)
"$MP_PY" - "$CFG" <<'EOF'
import json, os, sys
json.dump({"allow": ["127.0.0.1"], "modules": {"leaky": {"user": os.environ["MP_USER"],
           "password": open(os.environ["MP_PASS_FILE"]).readline().strip()}}}, open(sys.argv[1], "w"))
EOF
kill -HUP "$SERVE_PID"
fails=
for _ in $(seq 50); do
	fails=$(metric 'V("mailprobe_exporter_config_reloads_total", result="failure")[0]')
	[ "$fails" = "2.0" ] && break
	sleep 0.1
done
[ "$fails" = "2.0" ] || mp_fail "SIGHUP with a broken file: failures $fails, expected 2"
grep -q 'reload refused.*"password" is not allowed' "$LOG" || mp_fail "the log does not say why the SIGHUP reload was refused"
get old_kept2 "/probe?target=$SMTPS&module=tls" 200 "the old configuration is kept after SIGHUP"

# good ones: POST, then SIGHUP, each adding a module
write_config "$CFG" viapost
get reload_ok /-/reload 200 "POST /-/reload of a good file" -X POST
get viapost "/probe?target=$SMTPS&module=viapost" 200 "the module of the reloaded file"
promcheck viapost 'V("mailprobe_probe_success") == [1.0]' "module viapost probes"
write_config "$CFG" viahup
kill -HUP "$SERVE_PID"
for _ in $(seq 50); do
	http viahup "/probe?target=$SMTPS&module=viahup"
	[ "$CODE" = 200 ] && break
	sleep 0.1
done
[ "$CODE" = 200 ] || mp_fail "SIGHUP with a good file: module viahup still unknown ($CODE)"
get gone "/probe?target=$SMTPS&module=viapost" 400 "a module gone after reload"
get m2 /metrics 200 "/metrics after the reloads"
promlint m2
promcheck m2 'V("mailprobe_exporter_config_reloads_total", result="success") == [3.0] and V("mailprobe_exporter_config_reloads_total", result="failure") == [2.0] and V("mailprobe_exporter_config_last_reload_successful") == [1.0]' \
	"reloads: 3 successes, 2 failures, the last successful"
promcheck m2 'V("mailprobe_exporter_probes_in_flight") == [0.0]' "no probe slot leaked"
promcheck m2 'V("mailprobe_exporter_requests_total", path="/probe", code="503")[0] >= 400 and len(V("mailprobe_exporter_requests_total", path="/probe", code="403")) == 1 and len(V("mailprobe_exporter_requests_total", path="/probe", code="400")) == 1 and len(V("mailprobe_exporter_requests_total", path="other", code="404")) == 1' \
	"requests counted by path and code"
promcheck m2 'V("mailprobe_exporter_probe_duration_seconds_count")[0] >= 10' "probe durations counted"

get status / 200 "the status page"
grep -qi '^Content-Type: text/html' "$MP_WORK/status.hdr" || mp_fail "/: Content-Type is not HTML"

# ---------------------------------------------------------------------------
# 8. SIGTERM while a slow probe runs: its answer arrives whole, exit 0.
curl -g -s -m 30 -o "$MP_WORK/term.body" -D "$MP_WORK/term.hdr" -w '%{http_code} %{size_download}' \
	"http://$H:$PORT/probe?target=smtp://$H:$SILENT_PORT&module=slow" >"$MP_WORK/term.code" &
TERM_CURL_PID=$!
busy=
for _ in $(seq 50); do
	busy=$(metric 'V("mailprobe_exporter_probes_in_flight")[0]')
	[ "$busy" = "1.0" ] && break
	sleep 0.05
done
[ "$busy" = "1.0" ] || mp_fail "the slow probe did not start (in flight: $busy)"
t0=$(mp_now_ms)
kill -TERM "$SERVE_PID"
for _ in $(seq "$EXIT_WAIT_TENTHS"); do
	kill -0 "$SERVE_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$SERVE_PID" 2>/dev/null && mp_fail "mailprobe serve still runs $((EXIT_WAIT_TENTHS / 10)) s after SIGTERM"
rc=0
wait "$SERVE_PID" || rc=$?
SERVE_PID=
[ "$rc" -eq 0 ] || {
	tail -n 30 "$LOG" >&2
	mp_fail "mailprobe serve exited $rc after SIGTERM, expected 0"
}
mp_note "exited 0 $(($(mp_now_ms) - t0)) ms after SIGTERM"
wait "$TERM_CURL_PID" || true
TERM_CURL_PID=
read -r tcode tsize <"$MP_WORK/term.code" || true
[ "$tcode" = 200 ] || mp_fail "the probe running at SIGTERM was answered '$tcode', expected 200"
clen=$(tr -d '\r' <"$MP_WORK/term.hdr" | awk -F': ' 'tolower($1) == "content-length" {print $2}')
[ -n "$clen" ] && [ "$clen" = "$tsize" ] || mp_fail "the answer at SIGTERM is cut: $tsize of $clen bytes"
NAME_LAST=term
promlint term
promcheck term 'V("mailprobe_probe_success") == [0.0] and len(S("mailprobe_probe_status_info", status="greeting_timeout")) == 1' \
	"the probe at SIGTERM ran to its greeting timeout"
http after_term /-/healthy
[ "$CODE" = 000 ] || mp_fail "the exporter still answers after exiting ($CODE)"

# ---------------------------------------------------------------------------
# 9. The password appears in no answer and not in the log; no sanitizer report.
for f in "$MP_WORK"/*.body "$MP_WORK"/*.hdr "$LOG"; do
	if grep -qF -- "$PASSWORD" "$f"; then
		mp_fail "the password appears in $f"
	fi
done
if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' "$LOG"; then
	head -c 6000 "$LOG" >&2
	mp_fail "sanitizer report on the exporter's stderr"
fi

mp_note "serve: probes, JSON, scrape deadline, allow list, bad requests, 1 MiB query, $FLOOD concurrent, stalled clients, reloads, metrics, secrets, SIGTERM all fine"
