#!/bin/bash
# test_interrupt.sh - Ctrl-C (SIGINT) and SIGTERM during a run: mailprobe stops
# within a second and still writes a complete, valid report in which the
# endpoints it had not finished are "interrupted" and the finished ones keep
# their real status.
#
# The endpoints are fake-server scenarios (tests/fake/fakeserver.py): some
# finish at once (protocol_error, ok, rejected), others never answer
# (silence, a STARTTLS go-ahead without handshake) and every timeout is 30 s,
# so only the signal can end them.
set -u

# shellcheck source=SCRIPTDIR/../fake/fakelib.sh
. "$(dirname "$0")/../fake/fakelib.sh"

SIGNAL_AFTER=0.3          # seconds after start
EXIT_BOUND_MS=1000        # from the signal to the process' exit
KILL_AFTER_TENTHS=100     # a process still alive 10 s after the signal is killed
LONG=(--connect-timeout 30000 --greeting-timeout 30000 --timeout 30000 --tls-timeout 30000
	--deadline 60000)

fake_init interrupt
WORK=$FAKE_WORK
VALIDATE=$MP_SRC/tests/integration/validate_report.py
[ -r "$VALIDATE" ] || fake_die "$VALIDATE is missing"
fake_start --only smtp-silent,smtp-starttls-no-handshake,imap-literal-huge,smtp-bad-code,smtp-ehlo-refused,smtp-greeting-554

SILENT=$(fake_url smtp smtp-silent)
NOHS=$(fake_url smtp+starttls smtp-starttls-no-handshake)
FAST=("$(fake_url imap imap-literal-huge)" "$(fake_url smtp smtp-bad-code)"
	"$(fake_url smtp smtp-ehlo-refused)" "$(fake_url smtp smtp-greeting-554)")
# What the finished endpoints must keep, by port.
EXPECT_DONE="{$(fake_port imap-literal-huge): 'protocol_error', $(fake_port smtp-bad-code): \
'protocol_error', $(fake_port smtp-ehlo-refused): 'ok', $(fake_port smtp-greeting-554): 'rejected'}"

status=0
fail() {
	echo "FAIL $*"
	status=1
}

# run_signalled NAME SIGNAL ARGS...: starts mailprobe ARGS (stdout NAME.out,
# stderr NAME.err), sends SIGNAL after SIGNAL_AFTER s, waits (bounded) for
# the exit; sets RC and EXIT_MS (from the signal to the exit).
run_signalled() {
	local name=$1 sig=$2 pid i t_sig
	shift 2
	"$MAILPROBE" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	pid=$!
	fake_track "$pid"
	sleep "$SIGNAL_AFTER"
	kill -0 "$pid" 2>/dev/null || {
		fail "$name: mailprobe ended before the signal: $(head -c 500 "$WORK/$name.err")"
		wait "$pid"
		RC=$? EXIT_MS=0
		return
	}
	t_sig=$(fake_now_ms)
	kill -"$sig" "$pid"
	for ((i = 0; i < KILL_AFTER_TENTHS * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		fail "$name: mailprobe still running $((KILL_AFTER_TENTHS / 10)) s after SIG$sig (killed)"
	fi
	wait "$pid"
	RC=$?
	EXIT_MS=$(($(fake_now_ms) - t_sig))
	echo "$name: SIG$sig after ${SIGNAL_AFTER}s -> exit $RC, $EXIT_MS ms after the signal"
	[ "$EXIT_MS" -lt "$EXIT_BOUND_MS" ] ||
		fail "$name: exit $EXIT_MS ms after SIG$sig, bound $EXIT_BOUND_MS ms"
	if grep -qE 'Sanitizer|runtime error:' "$WORK/$name.err"; then
		fail "$name: sanitizer report on stderr"
		head -c 3000 "$WORK/$name.err"
	fi
}

# check_json NAME SLOW_COUNT: the JSON report of run NAME is complete and valid,
# marked interrupted; unfinished endpoints are "interrupted", finished ones kept.
check_json() {
	local name=$1 file=$WORK/$1.out
	"$FAKE_PY" "$FAKE_CHECK" jsonsafe "$file" >/dev/null || {
		fail "$name: stdout is not valid JSON: $(head -c 300 "$file")"
		return
	}
	if "$FAKE_PY" "$VALIDATE" "$file" >"$file.validate" 2>&1; then
		echo "ok   $name: report validates against reports/schema.json"
	else
		fail "$name: report does not validate: $(head -c 1000 "$file.validate")"
	fi
	"$FAKE_PY" - "$file" "$RC" "$2" "$EXPECT_DONE" <<'EOF' || status=1
import ast, json, sys
r = json.load(open(sys.argv[1]))
rc, slow, done = int(sys.argv[2]), int(sys.argv[3]), ast.literal_eval(sys.argv[4])
errs = []
if r.get("interrupted") is not True:
    errs.append("interrupted is %r" % r.get("interrupted"))
res = r.get("results") or []
stopped = [x for x in res if x.get("status") == "interrupted"]
if len(stopped) != slow:
    errs.append("%d interrupted results, expected %d" % (len(stopped), slow))
for x in stopped:
    if x.get("port") in done:
        errs.append("finished endpoint %s marked interrupted" % x.get("port"))
    if not x.get("error") or "interrupted" not in x["error"]:
        errs.append("interrupted result without a message: %r" % x.get("error"))
for x in res:
    want = done.get(x.get("port"))
    if want and x.get("status") != want:
        errs.append("finished endpoint %s: status %r, expected %r (real status kept)"
                    % (x.get("port"), x.get("status"), want))
s = r.get("summary") or {}
if s.get("total") != len(res):
    errs.append("summary.total %r for %d results" % (s.get("total"), len(res)))
if (s.get("by_status") or {}).get("interrupted", 0) != len(stopped):
    errs.append("summary.by_status.interrupted %r" % (s.get("by_status") or {}).get("interrupted"))
if rc not in (0, 2) or (rc == 0) != ((s.get("answered") or 0) > 0):
    errs.append("exit code %d with summary.answered %r" % (rc, s.get("answered")))
for e in errs:
    print("FAIL %s: %s" % (sys.argv[1], e))
if not errs:
    print("ok   %s: interrupted, %d unfinished marked, %d finished kept, exit %d"
          % (sys.argv[1], len(stopped), len(res) - len(stopped), rc))
sys.exit(1 if errs else 0)
EOF
}

# 1. SIGINT, JSON on stdout: 2 silent + 1 stuck TLS handshake, 4 finished.
run_signalled sigint_json INT --format json --allow-duplicates "${LONG[@]}" \
	"$SILENT" "$NOHS" "${FAST[@]}" "$SILENT"
check_json sigint_json 3

# 2. SIGTERM, compact JSON to a file (-o): the file is complete.
run_signalled sigterm_file TERM --format json --compact -o "$WORK/sigterm_file.json" \
	"${LONG[@]}" "${FAST[@]}" "$NOHS"
[ -s "$WORK/sigterm_file.out" ] && fail "sigterm_file: -o given, but stdout is not empty"
cp "$WORK/sigterm_file.json" "$WORK/sigterm_file.out"
check_json sigterm_file 1

# 3. One worker, three silent endpoints: the first is interrupted while being
#    probed, the other two before they were started.
run_signalled pending INT --format json --concurrency 1 --allow-duplicates "${LONG[@]}" "$SILENT" "$SILENT" "$SILENT"
check_json pending 3
"$FAKE_PY" - "$WORK/pending.out" <<'EOF' || status=1
import json, sys
res = json.load(open(sys.argv[1]))["results"]
msgs = [x.get("error") or "" for x in res]
if "while" not in msgs[0] or not all("before" in m for m in msgs[1:]):
    print("FAIL pending: messages do not tell probing from not started: %r" % msgs)
    sys.exit(1)
print("ok   pending: first interrupted while probing, others before they started")
EOF

# 4. SIGTERM, table format: every row, the details and the closing line.
run_signalled sigterm_table TERM --format table --color never "${LONG[@]}" \
	"$SILENT" "${FAST[@]}" "$NOHS"
T=$WORK/sigterm_table.out
"$FAKE_PY" "$FAKE_CHECK" termsafe "$T" >/dev/null || fail "sigterm_table: table not terminal-safe"
rows=$(grep -cE '^(smtp|imap|pop3)  +127\.0\.0\.1:[0-9]+ ' "$T")
[ "$rows" -eq 6 ] || fail "sigterm_table: $rows table rows, expected 6"
irows=$(grep -cE '^(smtp|imap|pop3)  +127\.0\.0\.1:[0-9]+ .* interrupted ' "$T")
[ "$irows" -eq 2 ] || fail "sigterm_table: $irows interrupted rows, expected 2"
grep -qE '^smtp  +127\.0\.0\.1:[0-9]+ .* ok ' "$T" || fail "sigterm_table: the finished ok row is missing"
grep -q 'interrupted while probing this endpoint' "$T" ||
	fail "sigterm_table: no detail line for the interrupted endpoints"
tail -n 1 "$T" | grep -qE '^6 endpoints probed, [0-9]+ answered, .*interrupted' ||
	fail "sigterm_table: last line is not the summary of an interrupted run: $(tail -n 1 "$T")"
[ "$RC" -eq 0 ] || fail "sigterm_table: exit $RC, expected 0 (one endpoint answered)"
[ "$status" = 0 ] && echo "ok   sigterm_table: complete table, 2 interrupted rows, summary line"

fake_alive
[ "$FAKE_KEEP" = 1 ] && echo "artifacts: $WORK"
exit $status
