#!/bin/bash
# test_serve_hardening.sh - issue 19, each problem as a regression test against
# the real Postfix of servers.sh:
#  1. a target is only ever a target: "-vQx.example.test", "-Q...", "-i..."
#     with a pattern in "allow" are refused as targets (400 naming the query
#     parameter), never parsed as options, never echo a module's proxy URL,
#     password or file, never read a targets file; repeated, so that a stale
#     getopt state would crash the next parse;
#  2. the allow list is pinned: a name allowed by a CIDR is resolved once (a
#     rebinding DNS server on loopback) and exactly that address is probed;
#     the next request, now resolving outside "allow", is refused;
#  3. libmicrohttpd's own 414 is counted in /metrics;
#  4. a reload storm (100 POST /-/reload and SIGHUP in 10 s) while scrapes
#     and the background status pass (interval 1) run: no crash, no
#     sanitizer report; a reload cuts a 30 s status pass and shows the new
#     configuration's target at once;
#  5. 1 000 slow clients trickling header lines: scrapes still answered
#     within 1 s;
#  6. SIGTERM with 20 probes in flight on a silent port: exit 0 within the
#     grace (2 s) plus 1 s, the 20 answers say interrupted, 20 requests sent
#     at that moment are answered (503), none reset;
#  7. without --enable-lifecycle POST /-/reload is refused; a second SIGTERM
#     exits at once.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
CLIENTS=$MP_SRC/tests/integration/serve_clients.py
GRACE_S=2
SLOW_CLIENTS=1000
INFLIGHT=20
LOG=$MP_WORK/serve.err
SERVE_PID=
SILENT_PID=
DNS_PID=
TRICKLE_PID=
CURL_PIDS=()
SECRET=proxy-Pw-$$-s3cret

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local pid
	for pid in "${CURL_PIDS[@]}" $TRICKLE_PID $SERVE_PID $SILENT_PID $DNS_PID; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

"$MP_PY" "$CLIENTS" silent "$MP_WORK/silent.port" 280 &
SILENT_PID=$!
"$MP_PY" "$MP_SRC/tests/integration/rebind_dns.py" "$MP_WORK/dns.port" "$MP_WORK/dns.log" \
	127.0.0.1 127.0.0.9 280 &
DNS_PID=$!
for _ in $(seq 50); do
	[ -s "$MP_WORK/silent.port" ] && [ -s "$MP_WORK/dns.port" ] && break
	sleep 0.1
done
SILENT_PORT=$(cat "$MP_WORK/silent.port")
DNS_PORT=$(cat "$MP_WORK/dns.port")
[ -n "$SILENT_PORT" ] && [ -n "$DNS_PORT" ] || mp_fail "the silent listener or the DNS server did not start"
export SILENT_PORT DNS_PORT SECRET

CFG=$MP_WORK/serve.json
# write_config FILE VARIANT: the two configurations the reload storm swaps
write_config() {
	"$MP_PY" - "$1" "$2" <<'PY'
import json, os, sys
e = os.environ
mods = {
    "m": {"proxy": "socks5://mpuser:%s@127.0.0.1:9" % e["SECRET"], "cafile": e["MP_CA"]},
    "tls": {"cafile": e["MP_CA"], "greeting-timeout": 2000},
    "slow": {"greeting-timeout": 30000, "deadline": 60000},
    "rebind": {"resolver": "127.0.0.1@%s" % e["DNS_PORT"], "timeout": 2000},
}
targets = [{"target": "smtp://127.0.0.1:%s" % e["MP_SMTP_PORT"], "module": "tls"},
           {"target": "smtps://127.0.0.1:%s" % e["MP_SMTPS_PORT"], "module": "tls"}]
interval = 1
if sys.argv[2] == "b":
    targets = targets[:1] + [{"target": "smtp://127.0.0.1:%s" % e["SILENT_PORT"], "module": "tls"}] * 3
if sys.argv[2] == "slowpass":   # a background pass that takes 30 s
    targets, interval = [{"target": "smtp://127.0.0.1:%s" % e["SILENT_PORT"], "module": "slow"}], 60
if sys.argv[2] == "newpass":
    targets, interval = [{"target": "smtps://127.0.0.1:%s" % e["MP_SMTPS_PORT"], "module": "tls"}], 60
json.dump({"allow": ["*.example.test", "127.0.0.1/32"], "modules": mods,
           "targets": targets, "interval": interval}, open(sys.argv[1] + ".tmp", "w"))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
PY
}

# start_serve [ARGS...]: the exporter on a free port, from $MP_WORK (where a
# targets file an injected -i would read lies).
start_serve() {
	PORT=$("$MP_PY" "$CLIENTS" freeport)
	(cd "$MP_WORK" && exec "$MAILPROBE" serve --listen "$H:$PORT" --config "$CFG" "$@" 2>>"$LOG") &
	SERVE_PID=$!
	for _ in $(seq 100); do
		kill -0 "$SERVE_PID" 2>/dev/null || mp_fail "mailprobe serve exited at start: $(tail -n 5 "$LOG")"
		[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$H:$PORT/-/healthy")" = 200 ] && return 0
		sleep 0.1
	done
	mp_fail "mailprobe serve did not answer /-/healthy within 10 s"
}

# http NAME PATH [CURL ARGS]: CODE, body in $MP_WORK/NAME.body
http() {
	local name=$1 path=$2
	shift 2
	CODE=$(curl -g -s -m 40 -o "$MP_WORK/$name.body" -w '%{http_code}' "$@" "http://$H:$PORT$path") || true
	[ -n "$CODE" ] || CODE=000
	touch "$MP_WORK/$name.body"
}

alive() {
	kill -0 "$SERVE_PID" 2>/dev/null || mp_fail "$1: the exporter died: $(tail -n 20 "$LOG")"
	http alive /-/healthy
	[ "$CODE" = 200 ] || mp_fail "$1: /-/healthy answered $CODE"
}

write_config "$CFG" a
start_serve --shutdown-grace "$GRACE_S" --enable-lifecycle

# ---------------------------------------------------------------------------
# 1. A target is only ever a target.
printf '127.0.0.9\nsecret-line-%s\n' "$$" >"$MP_WORK/list.example.test"
for round in 1 2 3; do
	for t in -vQx.example.test -Q.example.test -ilist.example.test --help.example.test \
		-- -fjson.example.test; do
		http inj "/probe?target=$t&module=m"
		[ "$CODE" = 400 ] || mp_fail "target '$t' (round $round): HTTP $CODE, expected 400: $(head -c 300 "$MP_WORK/inj.body")"
		grep -q 'target 1' "$MP_WORK/inj.body" || mp_fail "target '$t': the answer does not name the target parameter: $(cat "$MP_WORK/inj.body")"
		for leak in "$SECRET" socks5 mpuser "secret-line-$$" 127.0.0.9 'unknown option'; do
			grep -qF -- "$leak" "$MP_WORK/inj.body" && mp_fail "target '$t': the answer shows '$leak': $(cat "$MP_WORK/inj.body")"
		done
	done
	alive "after injected targets, round $round"
done
# a URL whose host starts with '-' is never an option either (after --)
http injurl "/probe?target=smtp://-vQx.example.test:25&module=m&format=json"
case $CODE in 200 | 400 | 403) ;; *) mp_fail "smtp://-vQx.example.test: HTTP $CODE" ;; esac
grep -qF -- "$SECRET" "$MP_WORK/injurl.body" && mp_fail "smtp://-vQx...: the answer shows the proxy password"
alive "after a URL target with a '-' host"
mp_note "injected targets refused as targets, nothing echoed"

# ---------------------------------------------------------------------------
# 2. Pinned allow list: resolved once, exactly that address probed.
: >"$MP_WORK/dns.log"
http pin1 "/probe?target=smtp://rebind.example.org:$MP_SMTP_PORT&module=rebind&format=json"
[ "$CODE" = 200 ] || mp_fail "rebinding name, first request: HTTP $CODE: $(head -c 300 "$MP_WORK/pin1.body")"
"$MP_PY" - "$MP_WORK/pin1.body" <<'PY' || mp_fail "rebinding name: not exactly the checked address probed"
import json, sys
r = json.load(open(sys.argv[1]))
addrs = sorted(x.get("address") for x in r["results"])
assert addrs == ["127.0.0.1"], "probed %r" % addrs
assert all(x["status"] == "ok" for x in r["results"]), [x["status"] for x in r["results"]]
PY
na=$(grep -c '^A rebind.example.org' "$MP_WORK/dns.log")
[ "$na" = 1 ] || mp_fail "rebinding name: $na A lookups, expected exactly 1: $(cat "$MP_WORK/dns.log")"
http pin2 "/probe?target=smtp://rebind.example.org:$MP_SMTP_PORT&module=rebind"
[ "$CODE" = 403 ] || mp_fail "rebinding name, now 127.0.0.9: HTTP $CODE, expected 403"
grep -q '127.0.0.9' "$MP_WORK/pin2.body" || mp_fail "the 403 does not say which address is outside: $(cat "$MP_WORK/pin2.body")"
mp_note "pinned: one lookup, 127.0.0.1 probed; the rebound name refused"

# ---------------------------------------------------------------------------
# 3. libmicrohttpd's own 414 is counted.
huge=$("$MP_PY" "$CLIENTS" huge "$H" "$PORT" 1048576)
[ "$huge" = 414 ] || mp_fail "a 1 MiB query string: '$huge', expected 414"
http m414 /metrics
grep -q '^mailprobe_exporter_requests_total{path="other",code="414"} 1$' "$MP_WORK/m414.body" ||
	mp_fail "the 414 is not counted: $(grep requests_total "$MP_WORK/m414.body")"

# ---------------------------------------------------------------------------
# 4. Reload storm with scrapes and background passes.
"$MP_PY" "$CLIENTS" flood "$H" "$PORT" "/probe?target=smtps://$H:$MP_SMTPS_PORT&module=tls" 200 \
	"$MP_WORK/storm_flood.json" >/dev/null &
FLOOD_PID=$!
CURL_PIDS+=("$FLOOD_PID")
STORM_PIDS=()
t0=$(mp_now_ms)
for i in $(seq 50); do
	write_config "$CFG" $([ $((i % 2)) = 0 ] && echo a || echo b)
	curl -s -m 10 -o /dev/null -X POST "http://$H:$PORT/-/reload" &
	STORM_PIDS+=($!)
	kill -HUP "$SERVE_PID" || mp_fail "the exporter died during the reload storm: $(tail -n 20 "$LOG")"
	curl -s -m 10 -o /dev/null "http://$H:$PORT/" &
	STORM_PIDS+=($!)
	sleep 0.08
done
wait "$FLOOD_PID" || true
for pid in "${STORM_PIDS[@]}"; do wait "$pid" || true; done
CURL_PIDS=()
mp_note "100 reloads in $(($(mp_now_ms) - t0)) ms"
alive "after the reload storm"
"$MP_PY" - "$MP_WORK/storm_flood.json" <<'PY' || mp_fail "scrapes during the reload storm: $(cat "$MP_WORK/storm_flood.json")"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["nerrors"] == 0 and f["codes"] == {"200": 200}, f
PY
http mstorm /metrics
grep -qE '^mailprobe_exporter_config_reloads_total\{result="success"\} (9[0-9]|1[0-9][0-9])$' "$MP_WORK/mstorm.body" ||
	mp_fail "reloads counted: $(grep reloads_total "$MP_WORK/mstorm.body")"
# A reload starts the new configuration's status pass at once, even while
# the old pass waits 30 s on a silent server.
write_config "$CFG" slowpass
kill -HUP "$SERVE_PID"
sleep 1.5
http page0 /
grep -qF "smtp://$H:$SILENT_PORT</h2><p>not probed yet" "$MP_WORK/page0.body" ||
	mp_fail "the 30 s status pass is not running: $(grep -o '<h2>[^<]*</h2><p>[^<]*' "$MP_WORK/page0.body" | head -3)"
write_config "$CFG" newpass
kill -HUP "$SERVE_PID"
t0=$(mp_now_ms)
shown=
for _ in $(seq 50); do
	http page /
	if [ "$CODE" = 200 ] && grep -qF "smtps://$H:$MP_SMTPS_PORT (module tls)" "$MP_WORK/page.body"; then
		shown=1
		break
	fi
	sleep 0.1
done
[ -n "$shown" ] || mp_fail "the new configuration's target was not probed within 5 s of the reload (the old pass still ran?)"
mp_note "status pass of the new configuration shown $(($(mp_now_ms) - t0)) ms after the reload"
write_config "$CFG" a
kill -HUP "$SERVE_PID"

# ---------------------------------------------------------------------------
# 5. 1 000 slow clients (from 127.0.0.2) do not keep scrapes from answers.
"$MP_PY" "$CLIENTS" trickle "$H" "$PORT" "$SLOW_CLIENTS" 14 "$MP_WORK/trickle.ready" >"$MP_WORK/trickle.out" &
TRICKLE_PID=$!
for _ in $(seq 300); do
	[ -s "$MP_WORK/trickle.ready" ] && break
	kill -0 "$TRICKLE_PID" 2>/dev/null || mp_fail "the slow clients could not connect"
	sleep 0.1
done
[ -s "$MP_WORK/trickle.ready" ] || mp_fail "$SLOW_CLIENTS slow clients did not connect within 30 s"
"$MP_PY" "$CLIENTS" timed "$H" "$PORT" "/probe?target=smtps://$H:$MP_SMTPS_PORT&module=tls" \
	"$MP_WORK/timed.json" 8
"$MP_PY" - "$MP_WORK/timed.json" <<'PY' || mp_fail "scrapes beside $SLOW_CLIENTS slow clients: $(cat "$MP_WORK/timed.json")"
import json, sys
f = json.load(open(sys.argv[1]))
assert list(f["codes"]) == ["200"], f
assert f["worst_s"] < 1.0, f
PY
mp_note "beside $SLOW_CLIENTS slow clients: $(cat "$MP_WORK/timed.json")"
wait "$TRICKLE_PID" || true
TRICKLE_PID=
alive "after the slow clients"

# ---------------------------------------------------------------------------
# 6. SIGTERM with 20 probes in flight on a silent port.
for i in $(seq "$INFLIGHT"); do
	curl -s -m 40 -o "$MP_WORK/term$i.body" -w '%{http_code}' \
		-H 'X-Prometheus-Scrape-Timeout-Seconds: 30' \
		"http://$H:$PORT/probe?target=smtp://$H:$SILENT_PORT&module=slow&format=json" \
		>"$MP_WORK/term$i.code" &
	CURL_PIDS+=($!)
done
busy=
for _ in $(seq 100); do
	http mbusy /metrics
	busy=$(sed -n 's/^mailprobe_exporter_probes_in_flight //p' "$MP_WORK/mbusy.body")
	[ "$busy" = "$INFLIGHT" ] && break
	sleep 0.1
done
[ "$busy" = "$INFLIGHT" ] || mp_fail "$INFLIGHT probes did not start (in flight: $busy)"
"$MP_PY" "$CLIENTS" flood "$H" "$PORT" "/probe?target=smtps://$H:$MP_SMTPS_PORT&module=tls" 20 \
	"$MP_WORK/at_term.json" >/dev/null &
AT_PID=$!
t0=$(mp_now_ms)
kill -TERM "$SERVE_PID"
for _ in $(seq 100); do
	kill -0 "$SERVE_PID" 2>/dev/null || break
	sleep 0.05
done
rc=0
wait "$SERVE_PID" || rc=$?
ms=$(($(mp_now_ms) - t0))
SERVE_PID=
[ "$rc" = 0 ] || mp_fail "exit $rc after SIGTERM, expected 0: $(tail -n 10 "$LOG")"
# the grace plus 1 s; ThreadSanitizer slows the cut probes and the exit
# itself several times over, so it gets 2.5 s
slack_ms=1000
ldd "$MAILPROBE" 2>/dev/null | grep -q libtsan && slack_ms=2500
[ "$ms" -le $((GRACE_S * 1000 + slack_ms)) ] || mp_fail "exited ${ms} ms after SIGTERM, more than the grace ${GRACE_S} s + ${slack_ms} ms"
mp_note "SIGTERM with $INFLIGHT probes in flight: exit 0 after $ms ms"
for pid in "${CURL_PIDS[@]}"; do wait "$pid" || true; done
CURL_PIDS=()
wait "$AT_PID" || true
for i in $(seq "$INFLIGHT"); do
	[ "$(cat "$MP_WORK/term$i.code")" = 200 ] || mp_fail "probe $i in flight at SIGTERM: HTTP $(cat "$MP_WORK/term$i.code")"
	"$MP_PY" - "$MP_WORK/term$i.body" <<'PY' || mp_fail "probe $i at SIGTERM does not say interrupted"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["interrupted"] is True and all(x["status"] == "interrupted" for x in r["results"]), r["results"][0]["status"]
PY
done
"$MP_PY" - "$MP_WORK/at_term.json" <<'PY' || mp_fail "requests at SIGTERM: $(cat "$MP_WORK/at_term.json")"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["nerrors"] == 0, "reset or unanswered: %r" % f["errors"]
assert set(f["codes"]) <= {"200", "503"} and sum(f["codes"].values()) == 20, f
PY
mp_note "requests at SIGTERM: $(cat "$MP_WORK/at_term.json")"

# ---------------------------------------------------------------------------
# 7. Without --enable-lifecycle: no reload over HTTP; a second signal exits
# at once.
start_serve
http noreload /-/reload -X POST
[ "$CODE" = 403 ] || mp_fail "POST /-/reload without --enable-lifecycle: HTTP $CODE, expected 403"
grep -q 'enable-lifecycle' "$MP_WORK/noreload.body" || mp_fail "the 403 does not say how to allow reloads"
curl -s -m 40 -o /dev/null -H 'X-Prometheus-Scrape-Timeout-Seconds: 30' \
	"http://$H:$PORT/probe?target=smtp://$H:$SILENT_PORT&module=slow" &
CURL_PIDS+=($!)
sleep 0.5
kill -TERM "$SERVE_PID"
sleep 0.2
t0=$(mp_now_ms)
kill -TERM "$SERVE_PID"
for _ in $(seq 100); do
	kill -0 "$SERVE_PID" 2>/dev/null || break
	sleep 0.05
done
rc=0
wait "$SERVE_PID" || rc=$?
ms=$(($(mp_now_ms) - t0))
SERVE_PID=
# "at once": 1 s, 3 s under a sanitizer (its exit does more)
max_ms=1000
ldd "$MAILPROBE" 2>/dev/null | grep -qE 'lib(asan|tsan)' && max_ms=3000
[ "$ms" -le "$max_ms" ] || mp_fail "a second SIGTERM took $ms ms to end the exporter"
[ "$rc" = 143 ] || mp_fail "a second SIGTERM: exit $rc, expected 143"

if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$LOG"; then
	head -c 6000 "$LOG" >&2
	mp_fail "sanitizer report on the exporter's stderr"
fi
grep -qF -- "$SECRET" "$LOG" && mp_fail "the proxy password appears in the log"
mp_note "serve hardening: injection, pinning, 414, reload storm, slow clients, SIGTERM, lifecycle all fine"
