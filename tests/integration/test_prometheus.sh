#!/bin/bash
# test_prometheus.sh - a real Prometheus (Debian prometheus 2.42) scraping
# "mailprobe serve" with the multi-target exporter relabelling
# (__address__ -> __param_target -> instance, module by params and by
# __param_module), for the Postfix and Dovecot of servers.sh and a silent
# listener. Prometheus's HTTP API must show every target with the right
# mailprobe_probe_success, the leaf's notAfter, and up == 1: the silent
# target's module waits longer than the 1 s scrape timeout, so its sample only
# exists when the exporter honours X-Prometheus-Scrape-Timeout-Seconds.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
CLIENTS=$MP_SRC/tests/integration/serve_clients.py
PROMETHEUS=/usr/bin/prometheus
WAIT_S=${MP_PROMETHEUS_WAIT_S:-60}  # for every target to show its samples
READY_TENTHS=200                    # Prometheus and the exporter start within 20 s

if [ ! -x "$PROMETHEUS" ]; then
	mp_note "$PROMETHEUS is missing: running .ci/install-deps.sh"
	bash "$MP_SRC/.ci/install-deps.sh" >"$MP_WORK/install-deps.log" 2>&1 ||
		mp_skip "prometheus is missing and .ci/install-deps.sh failed (see $MP_WORK/install-deps.log)"
	[ -x "$PROMETHEUS" ] || mp_skip "prometheus is missing (Debian package prometheus)"
fi

SERVE_PID=
PROM_PID=
SILENT_PID=
# Stops what this script started, by PID.
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local pid
	for pid in $PROM_PID $SERVE_PID $SILENT_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $PROM_PID $SERVE_PID $SILENT_PID; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

# wait_http URL WHAT PID: until URL answers 200 (bounded), while PID lives.
wait_http() {
	for _ in $(seq "$READY_TENTHS"); do
		kill -0 "$3" 2>/dev/null || mp_fail "$2 exited at start (see $MP_WORK)"
		[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
		sleep 0.1
	done
	mp_fail "$2 did not answer $1 within $((READY_TENTHS / 10)) s"
}

"$MP_PY" "$CLIENTS" silent "$MP_WORK/silent.port" 240 &
SILENT_PID=$!
for _ in $(seq 50); do
	[ -s "$MP_WORK/silent.port" ] && break
	sleep 0.1
done
[ -s "$MP_WORK/silent.port" ] || mp_fail "the silent listener did not start"
SILENT_PORT=$(cat "$MP_WORK/silent.port")
export SILENT_PORT

# The exporter: a TLS module and a patient one for the silent listener.
CFG=$MP_WORK/serve.json
"$MP_PY" - "$CFG" <<'EOF'
import json, os, sys
ca = os.environ["MP_CA"]
json.dump({"allow": ["127.0.0.0/8"],
           "modules": {"tls": {"cafile": ca}, "patient": {"greeting-timeout": 5000}}},
          open(sys.argv[1], "w"), indent=1)
EOF
SERVE_PORT=$("$MP_PY" "$CLIENTS" freeport)
"$MAILPROBE" serve --listen "$H:$SERVE_PORT" --config "$CFG" 2>"$MP_WORK/serve.err" &
SERVE_PID=$!
wait_http "http://$H:$SERVE_PORT/-/healthy" "mailprobe serve" "$SERVE_PID"

# Prometheus: the documented relabelling, module by params in one job and
# by a target label (-> __param_module) in the other.
TLS_TARGETS=(
	"smtps://$H:$MP_SMTPS_PORT"
	"imaps://$H:$MP_IMAPS_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
)
SILENT="smtp://$H:$SILENT_PORT"
PROM_PORT=$("$MP_PY" "$CLIENTS" freeport)
PCFG=$MP_WORK/prometheus.yml
{
	cat <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: mail_tls
    metrics_path: /probe
    params:
      module: [tls]
    static_configs:
      - targets:
EOF
	for t in "${TLS_TARGETS[@]}"; do
		echo "          - '$t'"
	done
	cat <<EOF
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: '$H:$SERVE_PORT'
  - job_name: mail_silent
    metrics_path: /probe
    static_configs:
      - targets: ['$SILENT']
        labels:
          module: patient
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [module]
        target_label: __param_module
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: '$H:$SERVE_PORT'
  - job_name: exporter
    static_configs:
      - targets: ['$H:$SERVE_PORT']
EOF
} >"$PCFG"
/usr/bin/promtool check config "$PCFG" >"$MP_WORK/promtool-config.log" 2>&1 ||
	mp_fail "promtool check config: $(cat "$MP_WORK/promtool-config.log")"

"$PROMETHEUS" --config.file="$PCFG" --storage.tsdb.path="$MP_WORK/data" \
	--web.listen-address="$H:$PROM_PORT" >"$MP_WORK/prometheus.log" 2>&1 &
PROM_PID=$!
wait_http "http://$H:$PROM_PORT/-/ready" "prometheus" "$PROM_PID"
mp_note "prometheus on $H:$PROM_PORT (PID $PROM_PID), exporter on $H:$SERVE_PORT (PID $SERVE_PID)"

# The leaf's notAfter as Unix time, from openssl's text.
NOT_AFTER=$(openssl x509 -enddate -noout -in "$MP_SERVER_CERT" | "$MP_PY" -c 'import ssl, sys
print(int(ssl.cert_time_to_seconds(sys.stdin.read().strip().split("=", 1)[1])))')
export NOT_AFTER PROM_PORT SERVE_PORT

# Polls the query API until every target shows what it should (bounded).
t0=$(mp_now_ms)
"$MP_PY" - "$WAIT_S" "$SILENT" "${TLS_TARGETS[@]}" <<'EOF' || mp_fail "Prometheus did not see the expected samples (see $MP_WORK/prometheus.log)"
import json, os, sys, time, urllib.parse, urllib.request
env = os.environ
wait_s, silent, tls = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
api = "http://127.0.0.1:%s/api/v1/query?query=" % env["PROM_PORT"]
not_after = float(env["NOT_AFTER"])

def query(q):
    with urllib.request.urlopen(api + urllib.parse.quote(q), timeout=5) as r:
        d = json.load(r)
    assert d["status"] == "success", d
    return d["data"]["result"]

def by_instance(q):
    out = {}
    for s in query(q):
        out.setdefault(s["metric"].get("instance"), []).append(
            (s["metric"], float(s["value"][1])))
    return out

def problems():
    p = []
    succ = by_instance("mailprobe_probe_success")
    na = by_instance("mailprobe_cert_not_after_timestamp_seconds")
    up = by_instance('up{job=~"mail_.*"}')
    for t in tls:
        v = [x[1] for x in succ.get(t, [])]
        if v != [1.0]:
            p.append("%s: probe_success %r, expected [1.0]" % (t, v))
        v = [x[1] for x in na.get(t, [])]
        if v != [not_after]:
            p.append("%s: cert_not_after %r, expected [%d]" % (t, v, not_after))
        m = succ.get(t, [({}, None)])[0][0]
        if m and (m.get("job") != "mail_tls" or m.get("host") != "127.0.0.1"):
            p.append("%s: labels %r" % (t, m))
    v = [x[1] for x in succ.get(silent, [])]
    if v != [0.0]:
        p.append("%s: probe_success %r, expected [0.0]" % (silent, v))
    for t in tls + [silent]:
        v = [x[1] for x in up.get(t, [])]
        if v != [1.0]:
            p.append("%s: up %r, expected [1.0] (did the scrape time out?)" % (t, v))
    status = by_instance('mailprobe_probe_status_info{job="mail_silent"}')
    if [x[0].get("status") for x in status.get(silent, [])] != ["greeting_timeout"]:
        p.append("%s: status %r" % (silent, [x[0].get("status") for x in status.get(silent, [])]))
    return p

end = time.monotonic() + wait_s
p = ["not asked yet"]
while time.monotonic() < end:
    try:
        p = problems()
    except Exception as e:  # noqa: BLE001 - Prometheus still starting
        p = ["query failed: %s" % e]
    if not p:
        break
    time.sleep(1)
if p:
    sys.exit("FAIL after %d s:\n  %s" % (wait_s, "\n  ".join(p)))
# the silent target's scrape ended within the scrape timeout
d = by_instance('scrape_duration_seconds{job="mail_silent"}')[silent][0][1]
if not d < 1.0:
    sys.exit("FAIL: the silent target's scrape took %.3f s" % d)
# the exporter's own metrics, scraped too
if not query('mailprobe_exporter_probes_in_flight{job="exporter"}'):
    sys.exit("FAIL: the exporter's /metrics was not scraped")
print("silent scrape %.3f s" % d)
EOF
mp_note "every target as expected after $(($(mp_now_ms) - t0)) ms"

if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$MP_WORK/serve.err"; then
	head -c 4000 "$MP_WORK/serve.err" >&2
	mp_fail "sanitizer report on the exporter's stderr"
fi
mp_note "prometheus: ${#TLS_TARGETS[@]} TLS targets and a silent one scraped through mailprobe serve"
