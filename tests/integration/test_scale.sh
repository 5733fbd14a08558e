#!/bin/bash
# test_scale.sh - many targets: -i FILE with 2 000 lines against the fixture's
# Postfix/Dovecot and tests/fake/scaleserver.py on several loopback addresses
# (127.0.0.1-127.0.0.8 and ::1); NDJSON line by line against the schema; four
# shards through GNU parallel merged equal to the unsharded run; --per-host 2
# seen by the server; a 421 server passed with --retry 3; SIGINT mid-stream;
# bad input files (a directory, binary garbage, a 1 MiB line, 50 MB of long
# lines with bounded memory).

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
mp_setup
W=$MP_WORK
SCALE_PY=$MP_SRC/tests/fake/scaleserver.py
HOSTS=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8
[ "${MP_IPV6:-0}" = 1 ] && HOSTS=$HOSTS,::1
MAX_HWM_KB=$((64 * 1024))
ldd "$MAILPROBE" 2>/dev/null | grep -q libasan && MAX_HWM_KB=$((1024 * 1024))
LIMITS=(--connect-timeout 2000 --greeting-timeout 1500 --timeout 2000 --tls-timeout 3000)

SPID=
cleanup() {
	[ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
}
trap cleanup EXIT
"$MP_PY" "$SCALE_PY" --host "$HOSTS" --ready-file "$W/ready.json" --stats "$W/stats.json" \
	--hold 0.15 --busy 2 --accepts "$W/accepts.log" &
SPID=$!
for ((i = 0; i < 100; i++)); do
	[ -s "$W/ready.json" ] && break
	sleep 0.1
done
[ -s "$W/ready.json" ] || mp_fail "scaleserver did not start"
COUNT=$("$MP_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$W/ready.json")
BUSY=$("$MP_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["busy"])' "$W/ready.json")

# ndjson_check FILE N: every line is JSON valid against $defs/ndjson_line, N
# result lines, then exactly one summary line (last) whose total is N.
ndjson_check() {
	"$MP_PY" - "$MP_SRC/reports/schema.json" "$1" "$2" <<'EOF' || mp_fail "ndjson check of $1"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/ndjson_line"})
lines = open(sys.argv[2]).read().split("\n")
assert lines[-1] == "", "the last line does not end with a newline"
objs = [json.loads(l) for l in lines[:-1]]
for i, o in enumerate(objs):
    errs = list(v.iter_errors(o))
    assert not errs, "line %d: %s" % (i + 1, errs[0].message)
assert objs[-1].get("type") == "summary", "the last line is not the summary"
assert all(o.get("type") != "summary" for o in objs[:-1]), "a summary before the end"
want = int(sys.argv[3])
assert len(objs) - 1 == want, "%d results, want %d" % (len(objs) - 1, want)
assert objs[-1]["total"] == want, "summary total %d, want %d" % (objs[-1]["total"], want)
EOF
}

# --- 1. 2 000 targets from a file: every line valid, counts right.
"$MP_PY" - "$W/targets.txt" "$HOSTS" "$COUNT" <<'EOF'
import os, sys
out, hosts, count = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
e = os.environ
real = [("smtp+starttls", e["MP_SMTP_PORT"]), ("smtp+starttls", e["MP_SUBMISSION_PORT"]),
        ("smtps", e["MP_SMTPS_PORT"]), ("imap+starttls", e["MP_IMAP_PORT"]),
        ("imaps", e["MP_IMAPS_PORT"]), ("pop3+starttls", e["MP_POP3_PORT"]),
        ("pop3s", e["MP_POP3S_PORT"]), ("smtp", count)]
lines = ["# 2 000 targets: the fixture's servers and scaleserver on every address,", ""]
n = 0
for h in hosts:
    hh = "[%s]" % h if ":" in h else h
    for scheme, port in real:
        lines.append("%s://%s:%s" % (scheme, hh, port))
        n += 1
import socket
def refused(h, port):
    # True only when the port is closed on h (checked now: a machine may run
    # its own MTA on 127.0.0.1:25, or anything else on a low port).
    fam = socket.AF_INET6 if ":" in h else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((h, port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
used = {int(p) for _, p in real}
port = 1
while n < 2000 and port < 20000:
    # ports where nothing listens on any of the hosts: refused at once
    if port not in used and all(refused(h, port) for h in hosts):
        for h in hosts:
            if n >= 2000:
                break
            hh = "[%s]" % h if ":" in h else h
            lines.append("smtp://%s:%d" % (hh, port))
            n += 1
    port += 1
assert n == 2000, "found too few closed ports (%d targets)" % n
open(out, "w").write("\n".join(lines) + "\n")
EOF
mp_run "$W/all.ndjson" -i "$W/targets.txt" --format ndjson --concurrency 200 --cafile "$MP_CA" \
	"${LIMITS[@]}"
[ "$MP_RC" = 0 ] || mp_fail "2 000 targets: exit $MP_RC: $(head -c 300 "$W/all.ndjson.err")"
ndjson_check "$W/all.ndjson" 2000
"$MP_PY" - "$W/all.ndjson" "$HOSTS" <<'EOF' || mp_fail "2 000 targets: statuses"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
res, summ = objs[:-1], objs[-1]
hosts = sys.argv[2].split(",")
bad = [r for r in res if r["status"] == "invalid_target"]
assert not bad, "invalid lines: %r" % bad[:2]
ok = [r for r in res if r["status"] == "ok"]
# the fixture listens on 127.0.0.1 and ::1 (7 endpoints each), scaleserver everywhere
want_ok = 7 * len([h for h in hosts if h in ("127.0.0.1", "::1")]) + len(hosts)
assert len(ok) == want_ok, "%d ok, want %d: %r" % (len(ok), want_ok,
    sorted(set((r["host"], r["port"], r["status"]) for r in res if r["port"] > 1024 and r["status"] != "ok"))[:5])
assert summ["by_status"]["ok"] == want_ok
assert sum(summ["by_status"].values()) == 2000
assert summ["recommended"]["smtp"] is not None
print("ok   2 000 targets: %d ok, %s" % (len(ok), summ["by_status"]))
EOF

# --- 2. four shards through GNU parallel, merged: equal to the unsharded run.
if command -v parallel >/dev/null; then
	timeout -k 5 120 parallel --will-cite -j4 "$MAILPROBE" -i "$W/targets.txt" --shard '{}/4' \
		--format ndjson -o "$W/shard{}.ndjson" --concurrency 50 --cafile "$MP_CA" \
		"${LIMITS[@]}" ::: 0 1 2 3 || [ $? -le 4 ] || mp_fail "parallel shards failed"
	mp_run "$W/merged.json" merge --format json "$W"/shard{0,1,2,3}.ndjson
	[ "$MP_RC" = 0 ] || mp_fail "merge: exit $MP_RC: $(cat "$W/merged.json.err")"
	mp_validate "$W/merged.json"
	"$MP_PY" - "$W/all.ndjson" "$W/merged.json" "$W" <<'EOF' || mp_fail "shards"
import json, sys
key = lambda r: (r["protocol"], r["host"], r["port"], r["mode"], json.dumps(r["proxy"]))
full = {key(r): r["status"] for r in map(json.loads, open(sys.argv[1])) if "type" not in r}
merged = json.load(open(sys.argv[2]))
m = {key(r): r["status"] for r in merged["results"]}
sizes = [sum(1 for l in open("%s/shard%d.ndjson" % (sys.argv[3], i))) - 1 for i in range(4)]
assert len(merged["results"]) == len(m) == 2000, "merged: %d results" % len(merged["results"])
assert m == full, "differs: %r" % [(k, full.get(k), m.get(k)) for k in set(full) | set(m) if full.get(k) != m.get(k)][:5]
assert merged["summary"]["total"] == 2000 and all(s > 300 for s in sizes), sizes
print("ok   4 shards (%s results) merged equal the unsharded run, endpoint by endpoint" % sizes)
EOF
	mp_run "$W/merged.txt" merge --format table --color never "$W"/shard{0,1,2,3}.ndjson
	grep -q '2000 endpoints probed' "$W/merged.txt" || mp_fail "merge --format table: no total line"
else
	mp_note "GNU parallel missing (.ci/install-deps.sh installs it): shards not run"
fi

# --- 3. --per-host 2: the server never sees more than 2 at once per address.
URLS=()
for ((i = 0; i < 12; i++)); do
	URLS+=("smtp://127.0.0.2:$COUNT" "smtp://127.0.0.3:$COUNT")
done
: >"$W/stats.json"
mp_run "$W/perhost.json" --format json --allow-duplicates --per-host 2 --concurrency 24 \
	"${LIMITS[@]}" "${URLS[@]}"
[ "$MP_RC" = 0 ] || mp_fail "--per-host 2: exit $MP_RC"
"$MP_PY" - "$W/stats.json" "$W/perhost.json" <<'EOF' || mp_fail "--per-host 2"
import json, sys
peak = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
assert all(x["status"] == "ok" for x in r["results"]), [x["error"] for x in r["results"]][:3]
assert peak.get("127.0.0.2") == 2 and peak.get("127.0.0.3") == 2, peak
print("ok   --per-host 2: the server saw at most %r at once" % peak)
EOF

# The slots belong to the address: [::1] and [0:0::1] share them (::1: one
# connection so far).
if [ "${MP_IPV6:-0}" = 1 ]; then
	URLS=()
	for ((i = 0; i < 4; i++)); do
		URLS+=("smtp://[::1]:$COUNT" "smtp://[0:0::1]:$COUNT")
	done
	mp_run "$W/perhost-v6.json" --format json --allow-duplicates --per-host 2 \
		--concurrency 24 "${LIMITS[@]}" "${URLS[@]}"
	[ "$MP_RC" = 0 ] || mp_fail "--per-host 2, two spellings of ::1: exit $MP_RC"
	pyeq "$W/stats.json" 'r.get("::1")' '2' "--per-host 2: [::1] and [0:0::1] count as one address"
	mp_note "--per-host 2: [::1] and [0:0::1] shared their 2 slots"
fi

# --per-host counts connections, not endpoints: --enumerate-tls attempts and
# --checks connections stay within the 2 (127.0.0.5, .6: one connection each
# so far). The server offers no STARTTLS; every attempt still connects.
URLS=()
for ((i = 0; i < 6; i++)); do
	URLS+=("smtp+starttls://127.0.0.5:$COUNT")
done
mp_run "$W/perhost-enum.json" --format json --allow-duplicates --per-host 2 --concurrency 24 \
	--enumerate-tls "${LIMITS[@]}" "${URLS[@]}"
URLS=()
for ((i = 0; i < 6; i++)); do
	URLS+=("smtp://127.0.0.6:$COUNT")
done
mp_run "$W/perhost-checks.json" --format json --allow-duplicates --per-host 2 --concurrency 24 \
	--checks all "${LIMITS[@]}" "${URLS[@]}"
"$MP_PY" - "$W/stats.json" "$W/perhost-enum.json" "$W/perhost-checks.json" <<'EOF' ||
import json, sys
peak = json.load(open(sys.argv[1]))
enum = json.load(open(sys.argv[2]))["results"]
checks = json.load(open(sys.argv[3]))["results"]
assert len(enum) == 6 and all(x["greeting"] for x in enum), [x["error"] for x in enum]
assert len(checks) == 6 and all(x["status"] == "ok" for x in checks), [x["error"] for x in checks]
assert all(x.get("checks") for x in checks), "no checks ran"
assert peak.get("127.0.0.5") == 2 and peak.get("127.0.0.6") == 2, peak
print("ok   --per-host 2 with --enumerate-tls and --checks: at most %r at once"
      % {k: peak[k] for k in ("127.0.0.5", "127.0.0.6")})
EOF
	mp_fail "--per-host 2 with --enumerate-tls and --checks"

# --rate paces every new connection, the --enumerate-tls attempts' too: at
# --rate 10, any four connections the server sees span 300 ms (less the
# scheduling jitter of client and server); unpaced, the attempts of one
# endpoint arrive together.
before=$(wc -l <"$W/accepts.log")
mp_run "$W/rate.json" --format json --allow-duplicates --rate 10 --concurrency 24 \
	--enumerate-tls "${LIMITS[@]}" "smtp+starttls://127.0.0.7:$COUNT" \
	"smtp+starttls://127.0.0.7:$COUNT"
"$MP_PY" - "$W/accepts.log" "$before" "$W/rate.json" <<'EOF' || mp_fail "--rate 10 with --enumerate-tls"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
t = sorted(float(l.split()[0]) for l in lines if l.split()[1] == "127.0.0.7")
r = json.load(open(sys.argv[3]))["results"]
assert len(r) == 2 and all(x["greeting"] for x in r), [x["error"] for x in r]
assert len(t) >= 6, "only %d connections: the attempts did not connect" % len(t)
spans = [t[i + 3] - t[i] for i in range(len(t) - 3)]
assert min(spans) >= 0.2 and t[-1] - t[0] >= 0.08 * (len(t) - 1), [round(b - a, 3) for a, b in zip(t, t[1:])]
print("ok   --rate 10: %d connections over %.2f s, any four over %.0f ms at least"
      % (len(t), t[-1] - t[0], 1000 * min(spans)))
EOF

# --- 4. a server answering 421 to the first two connections: --retry 3 gets through.
mp_run "$W/busy.json" --format json --retry 3 "${LIMITS[@]}" "smtp://127.0.0.1:$BUSY"
[ "$MP_RC" = 0 ] || mp_fail "--retry 3: exit $MP_RC"
pyeq "$W/busy.json" '[results[0]["status"], results[0]["attempts"]]' '["ok", 3]' "--retry 3 after two 421"
mp_run "$W/busy0.json" --format json "${LIMITS[@]}" "smtp://127.0.0.1:$BUSY"
pyassert "$W/busy0.json" 'results[0]["status"] == "ok" and results[0]["attempts"] == 1' \
	"after the two 421, the next connection is served"

# --- 5. SIGINT mid-stream: complete lines, then the summary with interrupted.
URLS=()
for ((i = 0; i < 40; i++)); do
	URLS+=("smtp://127.0.0.4:$COUNT")
done
"$MAILPROBE" --format ndjson --allow-duplicates --concurrency 4 --per-host 4 "${LIMITS[@]}" \
	"${URLS[@]}" >"$W/int.ndjson" 2>"$W/int.err" &
MPID=$!
sleep 0.6
kill -INT "$MPID"
wait "$MPID" || true
"$MP_PY" - "$W/int.ndjson" <<'EOF' || mp_fail "SIGINT mid-stream"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == ""
objs = [json.loads(l) for l in lines[:-1]]
s = objs[-1]
assert s["type"] == "summary" and s["interrupted"] is True, s
assert s["total"] == len(objs) - 1 and 0 < s["total"] < 40, s["total"]
assert s["by_status"].get("ok", 0) >= 1 and s["by_status"].get("interrupted", 0) >= 1, s
print("ok   SIGINT: %d complete lines, then the summary (interrupted)" % (len(objs) - 1))
EOF

# --- 6. bad input.
mp_run "$W/dir.out" -i "$W" --format ndjson
[ "$MP_RC" = 3 ] || mp_fail "-i DIRECTORY: exit $MP_RC, want 3"
[ "$(wc -l <"$W/dir.out.err")" = 1 ] && grep -q 'is a directory' "$W/dir.out.err" ||
	mp_fail "-i DIRECTORY: not one clear line: $(cat "$W/dir.out.err")"
[ -s "$W/dir.out" ] && mp_fail "-i DIRECTORY: wrote a report"
# binary garbage (seeded, and a NUL on every line so that no line is by
# chance a valid name that would be looked up)
"$MP_PY" -c '
import random, sys
rnd = random.Random(12)
data = bytes(rnd.getrandbits(8) for _ in range(200000))
sys.stdout.buffer.write(b"\n".join(b"\0" + l for l in data.split(b"\n")))
' >"$W/garbage.bin"
mp_run "$W/garbage.ndjson" -i "$W/garbage.bin" --format ndjson --connect-timeout 500 --deadline 20000
[ "$MP_RC" = 2 ] || mp_fail "binary garbage: exit $MP_RC"
"$MP_PY" - "$W/garbage.ndjson" <<'EOF' || mp_fail "binary garbage"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
res = objs[:-1]
assert res and all(r["status"] == "invalid_target" and r["error"].startswith("line ") for r in res)
print("ok   binary garbage: %d invalid_target results" % len(res))
EOF
{
	echo "127.0.0.1 # no: a space"
	head -c $((1024 * 1024)) /dev/zero | tr '\0' 'a'
	echo
	echo "smtp://127.0.0.5:$COUNT"
} >"$W/longline.txt"
mp_run "$W/longline.ndjson" -i "$W/longline.txt" --format ndjson "${LIMITS[@]}"
"$MP_PY" - "$W/longline.ndjson" <<'EOF' || mp_fail "1 MiB line"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])][:-1]
st = sorted((r["error"] or "ok")[:40] for r in res)
assert len(res) == 3, st
bad = {r["error"].split(":")[0]: r for r in res if r["status"] == "invalid_target"}
assert set(bad) == {"line 1", "line 2"}, st
assert "longer than 4096" in bad["line 2"]["error"] and len(bad["line 2"]["host"]) < 100
assert any(r["status"] == "ok" and r["port"] > 1024 for r in res)
print("ok   a 1 MiB line: invalid_target naming line 2; the next line probed")
EOF
# 50 MB of 1 MiB lines, streamed: memory stays bounded.
"$MP_PY" -c '
import sys
line = b"x" * (1024 * 1024) + b"\n"
with open(sys.argv[1], "wb") as f:
    for _ in range(50):
        f.write(line)
' "$W/big.txt"
/usr/bin/time -f '%M' -o "$W/big.time" "$MAILPROBE" -i "$W/big.txt" --format ndjson \
	>"$W/big.ndjson" 2>"$W/big.err" || true
HWM=$(tail -n 1 "$W/big.time")
[ "$(wc -l <"$W/big.ndjson")" = 51 ] || mp_fail "50 MB file: $(wc -l <"$W/big.ndjson") lines"
[ "$HWM" -lt "$MAX_HWM_KB" ] || mp_fail "50 MB file: peak RSS $HWM KiB, bound $MAX_HWM_KB"
echo "ok   50 MB of long lines: 50 invalid_target results, peak RSS $HWM KiB"

# --- 7. options that need the whole run.
mp_run "$W/u1.out" --format json --deadline 0 127.0.0.1
[ "$MP_RC" = 3 ] && grep -q 'needs --format ndjson' "$W/u1.out.err" || mp_fail "--deadline 0 without ndjson"
mp_run "$W/u2.out" --format ndjson --auto smtp 127.0.0.1
[ "$MP_RC" = 3 ] || mp_fail "--auto with ndjson accepted"
mp_run "$W/u3.out" --format ndjson --shard 4/4 127.0.0.1
[ "$MP_RC" = 3 ] || mp_fail "--shard 4/4 accepted"
echo "ok   usage errors: --deadline 0 without ndjson, --auto with ndjson, --shard 4/4"
echo "PASS"
