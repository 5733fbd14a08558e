#!/bin/bash
# test_formats.sh - the CI-gate formats against the real Postfix and Dovecot
# of servers.sh, read by their real consumers: Prometheus text checked by
# `promtool check metrics`, JUnit XML validated by xmllint against
# tests/data/junit.xsd and counted by Python's xml.etree (and compared with
# the verdicts of the JSON report of the same run), and the Monitoring
# Plugins status line, perfdata and long output.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
PROMTOOL=$(command -v promtool || true)
XMLLINT=$(command -v xmllint || true)
[ -n "$PROMTOOL" ] || mp_fail "promtool is missing (Debian package prometheus): the suite needs it (tests/run-all.sh installs it with .ci/install-deps.sh)"
[ -n "$XMLLINT" ] || mp_fail "xmllint is missing (Debian package libxml2-utils): the suite needs it (tests/run-all.sh installs it with .ci/install-deps.sh)"
XSD=$MP_SRC/tests/data/junit.xsd

URLS=(
	"smtp+starttls://$H:$MP_SMTP_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"smtps://$H:$MP_SMTPS_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
	"imaps://$H:$MP_IMAPS_PORT"
	"pop3+starttls://$H:$MP_POP3_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
)

# A loopback port nothing listens on (bound, then released).
CLOSED_PORT=$("$MP_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CLOSED="smtp://$H:$CLOSED_PORT"
export CLOSED_PORT

# The leaf's notAfter as Unix time, read with Python's own decoder.
NOT_AFTER=$("$MP_PY" -c 'import ssl, sys
print(int(ssl.cert_time_to_seconds(ssl._ssl._test_decode_cert(sys.argv[1])["notAfter"])))' \
	"$MP_SERVER_CERT")
export NOT_AFTER

# ---------------------------------------------------------------------------
# 1. Prometheus: the seven endpoints, no policy.
P=$MP_WORK/all.prom
mp_run "$P" --format prometheus --cafile "$MP_CA" "${URLS[@]}"
mp_expect_rc 0
lint=$("$PROMTOOL" check metrics <"$P" 2>&1) || mp_fail "promtool check metrics failed: $lint"
[ -z "$lint" ] || mp_fail "promtool check metrics reported: $lint"

# Parses the exposition text into (name, labels dict, value) samples.
PROM_PY='
import os, re, sys
LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?")
samples, helps, types = [], set(), set()
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        helps.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        types.add(line.split()[2]); continue
    m = LINE.match(line)
    assert m, "unparsed line: %r" % line
    labels = dict(LABEL.findall(m.group(2) or ""))
    samples.append((m.group(1), labels, float(m.group(3))))
def S(name, **want):
    return [s for s in samples if s[0] == name and all(s[1].get(k) == v for k, v in want.items())]
env = os.environ
ok = eval(sys.argv[2])
if ok is not True:
    sys.exit("FAIL: %s (got %r)" % (sys.argv[3], ok))
'
# promcheck FILE EXPR MSG: fails with MSG unless EXPR (Python, over S()) is True.
promcheck() {
	"$MP_PY" -c "$PROM_PY" "$1" "$2" "$3" || mp_fail "$3"
}

promcheck "$P" 'helps == types and set(s[0] for s in samples) <= helps' \
	"HELP and TYPE for every family with samples"
promcheck "$P" 'all(n.startswith("mailprobe_") for n, _, _ in samples)' "names prefixed mailprobe_"
promcheck "$P" '[(s[1]["port"], s[2]) for s in S("mailprobe_probe_success") if s[2] != 1] == [] and len(S("mailprobe_probe_success")) == 7' \
	"probe_success 1 for the seven endpoints"
promcheck "$P" 'set(tuple(sorted(s[1])) for s in S("mailprobe_probe_success")) == {("address", "host", "mode", "port", "protocol", "proxy")}' \
	"the endpoint label set"
promcheck "$P" 'sorted((s[1]["protocol"], s[1]["mode"]) for s in S("mailprobe_probe_success", host="127.0.0.1", address="127.0.0.1", proxy="")) == sorted([("smtp", "starttls")] * 2 + [("smtp", "tls"), ("imap", "starttls"), ("imap", "tls"), ("pop3", "starttls"), ("pop3", "tls")])' \
	"protocol and mode labels"
promcheck "$P" 'all(len(S("mailprobe_probe_duration_seconds", port=s[1]["port"], phase=ph)) == 1 for s in S("mailprobe_probe_success") for ph in ("connect", "greeting", "tls", "total"))' \
	"a duration per phase and endpoint"
promcheck "$P" 'all(0 <= s[2] < 60 for s in S("mailprobe_probe_duration_seconds"))' "durations in seconds"
promcheck "$P" 'len(S("mailprobe_tls_version_info")) == 7 and all(s[1]["version"].startswith("TLSv1.") for s in S("mailprobe_tls_version_info"))' \
	"tls_version_info per endpoint"
promcheck "$P" 'len(S("mailprobe_tls_cipher_info")) == 7' "tls_cipher_info per endpoint"
promcheck "$P" '[s[2] for s in S("mailprobe_cert_not_after_timestamp_seconds")] == [float(env["NOT_AFTER"])] * 7' \
	"cert_not_after_timestamp_seconds is the leaf's notAfter"
promcheck "$P" '[s[2] for s in S("mailprobe_cert_verified")] == [1.0] * 7' "cert_verified with --cafile"
promcheck "$P" 'sorted((s[1]["protocol"], s[2]) for s in S("mailprobe_starttls_offered")) == [("imap", 1.0), ("pop3", 1.0), ("smtp", 1.0), ("smtp", 1.0)]' \
	"starttls_offered on the STARTTLS ports"
promcheck "$P" 'len(S("mailprobe_auth_mechanism_offered", stage="after_tls", mechanism="PLAIN")) >= 3' \
	"auth mechanisms after TLS"
promcheck "$P" '[s[2] for s in S("mailprobe_policy_state")] == [0.0] and [s[2] for s in S("mailprobe_endpoints")] == [7.0] and len(S("mailprobe_run_duration_seconds")) == 1' \
	"policy_state, endpoints and run duration"

# ---------------------------------------------------------------------------
# 2. A policy with a failing endpoint: JUnit (and JSON of the same run).
X=$MP_WORK/policy.xml
PJ=$MP_WORK/policy.json
PP=$MP_WORK/policy.prom
mp_run "$X" --format junit -o "json:$PJ" -o "prometheus:$PP" --cafile "$MP_CA" \
	--require-tls --min-tls 1.2 --require-verified --warn-ms 60000 "${URLS[@]}" "$CLOSED"
mp_expect_rc 2
xl=$("$XMLLINT" --noout --schema "$XSD" "$X" 2>&1) || mp_fail "xmllint --schema: $xl"
lint=$("$PROMTOOL" check metrics <"$PP" 2>&1) || mp_fail "promtool check metrics (policy): $lint"
[ -z "$lint" ] || mp_fail "promtool check metrics reported (policy): $lint"
promcheck "$PP" '[s[2] for s in S("mailprobe_policy_state")] == [2.0]' "policy_state CRITICAL"
promcheck "$PP" '[s[2] for s in S("mailprobe_policy_verdict_state", port=env["CLOSED_PORT"], rule="expect")] == [2.0]' \
	"the closed port's expect verdict"

"$MP_PY" - "$X" "$PJ" "$CLOSED" <<'EOF' || mp_fail "JUnit counts (xml.etree) do not match the run"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
rep = json.load(open(sys.argv[2]))
closed = sys.argv[3]
verdicts = rep["verdicts"]
suites = root.findall("testsuite")
cases = root.findall("testsuite/testcase")
def check(cond, msg):
    if not cond:
        sys.exit("FAIL: %s" % msg)
check(root.tag == "testsuites" and root.get("name") == "mailprobe", "root")
check([s.get("name") for s in suites] == ["127.0.0.1"], "one suite per host: %r" % [s.get("name") for s in suites])
n_fail = sum(v["state"] in ("WARNING", "CRITICAL") for v in verdicts)
n_err = sum(v["state"] == "UNKNOWN" for v in verdicts) + sum(r["status"] not in ("ok", "skipped") for r in rep["results"])
check(int(root.get("tests")) == len(cases) == len(rep["results"]) + len(verdicts),
      "tests %s, %d testcases, %d results + %d verdicts" % (root.get("tests"), len(cases), len(rep["results"]), len(verdicts)))
check(int(root.get("failures")) == len(root.findall(".//failure")) == n_fail, "failures")
check(int(root.get("errors")) == len(root.findall(".//error")) == n_err == 1, "errors")
check(sum(int(s.get("tests")) for s in suites) == len(cases), "suite counts add up")
by_name = {c.get("name"): c for c in cases}
ep = by_name[closed]
check(ep.find("error") is not None and ep.find("error").get("type") == "refused", "the closed port's error")
check(by_name[closed + " expect"].find("failure").get("type") == "CRITICAL", "its expect failure")
check(all(float(c.get("time")) < 60 for c in cases if c.get("time")), "times in seconds")
for c in cases:
    if " " not in c.get("name"):
        out = c.find("system-out").text
        check(out and "\n" not in out and out.split()[0] in ("smtp", "imap", "pop3"), "system-out row: %r" % out)
EOF

# ---------------------------------------------------------------------------
# 3. Nagios: the same failing run, then an all-OK one.
N=$MP_WORK/policy.nagios
NJ=$MP_WORK/policy-n.json
mp_run "$N" --format nagios -o "json:$NJ" --cafile "$MP_CA" \
	--require-tls --min-tls 1.2 --require-verified --warn-ms 60000 "${URLS[@]}" "$CLOSED"
mp_expect_rc 2
"$MP_PY" - "$N" "$NJ" "$CLOSED" <<'EOF' || mp_fail "nagios output (policy) is not as expected"
import json, re, sys
text = open(sys.argv[1], "rb").read()
rep = json.load(open(sys.argv[2]))
closed = sys.argv[3]
def check(cond, msg):
    if not cond:
        sys.exit("FAIL: %s\n%s" % (msg, text.decode("ascii", "replace")))
check(all(b == 10 or 0x20 <= b < 0x7f for b in text), "printable ASCII")
lines = text.decode().split("\n")
check(lines[-1] == "", "ends with a newline")
lines = lines[:-1]
m = re.match(r"^MAILPROBE (OK|WARNING|CRITICAL|UNKNOWN) - ([^|]*) \| (.*)$", lines[0])
check(m, "status line shape")
check(m.group(1) == "CRITICAL", "state CRITICAL")
check(m.group(2).startswith("8 endpoints: 7 ok, 1 failed - %s [expect] " % closed), "summary: %r" % m.group(2))
perf = m.group(3).split(" ")
PERF = re.compile(r"^'([^'=]+)'=(-?[0-9]+)(ms)?;([0-9]*:?);([0-9]*:?);([0-9]*);([0-9]*)$")
labels = []
for p in perf:
    pm = PERF.match(p)
    check(pm, "perfdata %r" % p)
    labels.append(pm.group(1))
check(len(labels) == len(set(labels)), "labels unique")
times = [l for l in labels if l.endswith("_time")]
days = [l for l in labels if l.endswith("_cert_days")]
check(len(times) == 8 and len(days) == 7, "8 times, 7 certificate days: %r" % labels)
check("smtp_127.0.0.1_%s_time" % closed.rsplit(":", 1)[1] in labels, "the closed port's label")
check(all(re.search(r"ms;60000;;0;$", p) for p in perf if "_time'" in p), "time thresholds")
check(all(re.search(r";14:;3:;;$", p) for p in perf if "_cert_days'" in p), "certificate thresholds")
bad = [v for v in rep["verdicts"] if v["state"] != "OK"]
check(len(lines) == 1 + len(bad), "one long-output line per non-OK verdict")
for line, v in zip(lines[1:], bad):
    check(line.startswith("%s: " % v["state"]) and "[%s]" % v["rule"] in line, "long output %r" % line)
EOF

N=$MP_WORK/ok.nagios
mp_run "$N" --format nagios --cafile "$MP_CA" --require-tls --require-verified "${URLS[@]}"
mp_expect_rc 0
"$MP_PY" - "$N" <<'EOF' || mp_fail "nagios output (all OK) is not as expected"
import re, sys
lines = open(sys.argv[1]).read().split("\n")
if len(lines) != 2 or lines[1] != "" or not re.match(r"^MAILPROBE OK - 7 endpoints: 7 ok, 0 failed \| '[^|]*$", lines[0]):
    sys.exit("FAIL: %r" % lines)
EOF

mp_note "formats: prometheus (promtool), junit (xmllint, xml.etree), nagios all fine"
