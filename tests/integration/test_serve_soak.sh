#!/bin/bash
# test_serve_soak.sh - a real Prometheus (Debian prometheus 2.42) scraping
# "mailprobe serve" with DEFAULT settings: 126 targets (7 endpoints of the
# real Postfix and Dovecot x 3 modules x 6 jobs) every 5 s for 2 minutes.
# Through Prometheus's HTTP API: zero failed scrapes (up is 1 in every
# scrape of every target), mailprobe_probe_success present and 1 in every
# scrape, and the exporter refused nothing. Issue 19 saw 6.3 % of such
# scrapes fail with the old 8-probe limit and no queue.
# Normal build only: sanitizers make it a test of their own speed
# (MP_SKIP_SOAK=1, set by tests/run-all.sh for those builds, skips it too).
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
CLIENTS=$MP_SRC/tests/integration/serve_clients.py
PROMETHEUS=/usr/bin/prometheus
SOAK_S=${MP_SOAK_S:-120}  # how long Prometheus scrapes
JOBS=6
MODULES=(a b c)
READY_TENTHS=200

if [ -n "${MP_SKIP_SOAK:-}" ] || ldd "$MAILPROBE" 2>/dev/null | grep -qE 'lib(asan|tsan)'; then
	mp_note "skipped: the soak runs in the normal build only"
	exit 77
fi
[ -x "$PROMETHEUS" ] || mp_fail "prometheus is missing (Debian package prometheus): the suite needs it (tests/run-all.sh installs it with .ci/install-deps.sh)"

SERVE_PID=
PROM_PID=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local pid
	for pid in $PROM_PID $SERVE_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $PROM_PID $SERVE_PID; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

wait_http() {
	for _ in $(seq "$READY_TENTHS"); do
		kill -0 "$3" 2>/dev/null || mp_fail "$2 exited at start (see $MP_WORK)"
		[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
		sleep 0.1
	done
	mp_fail "$2 did not answer $1 within $((READY_TENTHS / 10)) s"
}

CFG=$MP_WORK/serve.json
"$MP_PY" - "$CFG" <<'PY'
import json, os, sys
ca = os.environ["MP_CA"]
json.dump({"allow": ["127.0.0.0/8"],
           "modules": {m: {"cafile": ca} for m in ("a", "b", "c")}},
          open(sys.argv[1], "w"), indent=1)
PY
SERVE_PORT=$("$MP_PY" "$CLIENTS" freeport)
# default settings: no --max-probes, no --scrape-timeout
"$MAILPROBE" serve --listen "$H:$SERVE_PORT" --config "$CFG" 2>"$MP_WORK/serve.err" &
SERVE_PID=$!
wait_http "http://$H:$SERVE_PORT/-/healthy" "mailprobe serve" "$SERVE_PID"

ENDPOINTS=(
	"smtp://$H:$MP_SMTP_PORT"
	"smtps://$H:$MP_SMTPS_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"imaps://$H:$MP_IMAPS_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
	"pop3+starttls://$H:$MP_POP3_PORT"
)
NTARGETS=$((JOBS * ${#MODULES[@]} * ${#ENDPOINTS[@]}))
PROM_PORT=$("$MP_PY" "$CLIENTS" freeport)
PCFG=$MP_WORK/prometheus.yml
{
	printf 'global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\nscrape_configs:\n'
	for j in $(seq "$JOBS"); do
		printf '  - job_name: mail_%d\n    metrics_path: /probe\n    static_configs:\n' "$j"
		for m in "${MODULES[@]}"; do
			printf '      - labels: {module: %s}\n        targets:\n' "$m"
			for t in "${ENDPOINTS[@]}"; do
				printf "          - '%s'\n" "$t"
			done
		done
		cat <<EOF
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [module], target_label: __param_module}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: '$H:$SERVE_PORT'}
EOF
	done
	printf "  - job_name: exporter\n    static_configs:\n      - targets: ['%s:%s']\n" "$H" "$SERVE_PORT"
} >"$PCFG"
/usr/bin/promtool check config "$PCFG" >"$MP_WORK/promtool-config.log" 2>&1 ||
	mp_fail "promtool check config: $(cat "$MP_WORK/promtool-config.log")"
"$PROMETHEUS" --config.file="$PCFG" --storage.tsdb.path="$MP_WORK/data" \
	--web.listen-address="$H:$PROM_PORT" >"$MP_WORK/prometheus.log" 2>&1 &
PROM_PID=$!
wait_http "http://$H:$PROM_PORT/-/ready" "prometheus" "$PROM_PID"
mp_note "prometheus on $H:$PROM_PORT scraping $NTARGETS targets every 5 s for $SOAK_S s"
sleep "$SOAK_S"
kill -0 "$SERVE_PID" 2>/dev/null || mp_fail "the exporter died during the soak: $(tail -n 20 "$MP_WORK/serve.err")"
export PROM_PORT NTARGETS SOAK_S

"$MP_PY" - <<'PY' || mp_fail "the soak failed (see $MP_WORK/prometheus.log, $MP_WORK/serve.err)"
import json, os, sys, time, urllib.parse, urllib.request
env = os.environ
at = "%.3f" % time.time()  # every query at one instant: one window for all
api = "http://127.0.0.1:%s/api/v1/query?query=" % env["PROM_PORT"]
n, window = int(env["NTARGETS"]), "%ds" % (int(env["SOAK_S"]) + 10)

def query(q):
    with urllib.request.urlopen(api + urllib.parse.quote(q) + "&time=" + at, timeout=10) as r:
        d = json.load(r)
    assert d["status"] == "success", d
    return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in d["data"]["result"]}

scrapes = query('count_over_time(up{job=~"mail_.*"}[%s])' % window)
ups = query('sum_over_time(up{job=~"mail_.*"}[%s])' % window)
succ_n = query('count_over_time(mailprobe_probe_success{job=~"mail_.*"}[%s])' % window)
succ_min = query('min_over_time(mailprobe_probe_success{job=~"mail_.*"}[%s])' % window)
errors = []
if len(scrapes) != n:
    errors.append("%d targets scraped, expected %d" % (len(scrapes), n))
total = sum(scrapes.values())
failed = total - sum(ups.values())
if failed:
    bad = sorted(dict(k)["instance"] + " " + dict(k)["job"] for k, v in scrapes.items() if ups.get(k) != v)
    errors.append("%d of %d scrapes failed (up 0), targets: %s" % (failed, total, bad[:10]))
if min(scrapes.values() or [0]) < int(env["SOAK_S"]) / 5 - 2:
    errors.append("a target was scraped only %d times" % min(scrapes.values() or [0]))
samples = sum(succ_n.values())
if samples != total:
    errors.append("mailprobe_probe_success in %d of %d scrapes" % (samples, total))
if any(v != 1.0 for v in succ_min.values()):
    errors.append("probe_success 0 for %s" % [dict(k)["instance"] for k, v in succ_min.items() if v != 1.0][:10])
refused = query('mailprobe_exporter_refused_total{job="exporter"}')
if any(refused.values()):
    errors.append("the exporter refused: %r" % refused)
for e in errors:
    print("FAIL", e)
print("soak: %d targets, %d scrapes, %d failed" % (len(scrapes), total, failed))
sys.exit(1 if errors else 0)
PY
waits=$(curl -s -m 5 "http://$H:$SERVE_PORT/metrics" | grep -E '^mailprobe_exporter_(queue_wait_seconds_(sum|count)|probe_duration_seconds_(sum|count)) ' | tr '\n' ' ')
mp_note "exporter: $waits"
if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$MP_WORK/serve.err"; then
	mp_fail "sanitizer report on the exporter's stderr"
fi
