#!/bin/bash
# test_hostile.sh - mailprobe against misbehaving servers (tests/fake/fakeserver.py).
#
# Starts the fake server (one port per scenario, own self-made CA), runs ONE
# mailprobe over every scenario as an explicit endpoint URL, then checks with
# tests/fake/hostile_check.py (the table of expectations) each scenario's
# status, findings and time bound, the whole run's time, the exit code, the
# absence of sanitizer reports, and the report against reports/schema.json.
# A second run prints the table and the -v transcript of the scenarios with
# terminal escape sequences: both must reach the terminal escaped.
#
# Environment: MAILPROBE (the binary), MP_SRC (source dir), MP_ITEST_DIR
# (optional: artifacts are kept in $MP_ITEST_DIR/hostile for inspection).
set -u

# shellcheck source=SCRIPTDIR/../fake/fakelib.sh
. "$(dirname "$0")/../fake/fakelib.sh"

fake_init hostile
VALIDATE=$MP_SRC/tests/integration/validate_report.py
WORK=$FAKE_WORK
fake_start

mapfile -t URLS < <("$FAKE_PY" "$FAKE_CHECK" urls "$FAKE_READY")
[ "${#URLS[@]}" -gt 0 ] || fake_die "no endpoint URLs from hostile_check.py"

start_ms=$(fake_now_ms)
timeout -k 5 60 "$MAILPROBE" --format json --transcript \
	--connect-timeout 1000 --greeting-timeout 500 --timeout 1000 --tls-timeout 1000 \
	--concurrency 64 --cafile "$FAKE_CA" "${URLS[@]}" >"$WORK/report.json" 2>"$WORK/stderr.txt"
rc=$?
wall_ms=$(($(fake_now_ms) - start_ms))
echo "mailprobe exited $rc after $wall_ms ms over ${#URLS[@]} endpoints"
fake_alive

status=0
"$FAKE_PY" "$FAKE_CHECK" check "$FAKE_READY" "$WORK/report.json" "$rc" "$wall_ms" \
	"$WORK/stderr.txt" "$WORK/server.log" || status=1
"$FAKE_PY" "$FAKE_CHECK" markdown "$FAKE_READY" "$WORK/report.json" >"$WORK/results.md" ||
	status=1

if [ -r "$VALIDATE" ]; then
	if "$FAKE_PY" "$VALIDATE" "$WORK/report.json"; then
		echo "ok   report validates against reports/schema.json"
	else
		echo "FAIL report does not validate against reports/schema.json"
		status=1
	fi
else
	echo "FAIL $VALIDATE is missing: cannot check the report against the schema"
	status=1
fi

# The table and the -v transcript of the escape-sequence scenarios.
ESC_URLS=("$(fake_url smtp smtp-escape-greeting)" "$(fake_url smtp smtp-nul)"
	"$(fake_url smtp+starttls smtp-escape-refused)")
timeout -k 5 60 "$MAILPROBE" -v --color never --greeting-timeout 500 --timeout 1000 \
	"${ESC_URLS[@]}" >"$WORK/table.txt" 2>"$WORK/verbose.txt"
rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL table run exited $rc: $(head -c 500 "$WORK/verbose.txt")"; status=1; }
"$FAKE_PY" "$FAKE_CHECK" termsafe "$WORK/table.txt" "$WORK/verbose.txt" || status=1
# Each sequence is shown as text: \x1b]0;pwned-title\x07, \x1b[2J, \x9b, \xe2\x80\xae.
for want in '\x1b]0;pwned-title\x07' '\x1b[2J' '\x9b31m' '\xe2\x80\xaeevil' '\x00'; do
	if ! grep -qF -- "$want" "$WORK/verbose.txt"; then
		echo "FAIL the -v transcript does not show $want escaped"
		status=1
	fi
done
for want in '454 4.7.0 \x1b[2J' '\x1b]0;pwned-title\x07' '220 fake\x00.test'; do
	if ! grep -qF -- "$want" "$WORK/table.txt"; then
		echo "FAIL the table does not show $want escaped"
		status=1
	fi
done
[ "$status" = 0 ] && echo "ok   table and -v transcript show the escape sequences as text"

# A greeting that carried NUL bytes is still an answer: exit 0 without a
# policy, OK for --expect answer.
timeout -k 5 60 "$MAILPROBE" --format json --greeting-timeout 500 --timeout 1000 \
	"$(fake_url smtp smtp-nul)" >"$WORK/nul.json" 2>"$WORK/nul.err"
rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL a NUL-carrying greeting: exit $rc, expected 0 (answered)"; status=1; }
timeout -k 5 60 "$MAILPROBE" --format json --expect answer --greeting-timeout 500 --timeout 1000 \
	"$(fake_url smtp smtp-nul)" >"$WORK/nul-policy.json" 2>"$WORK/nul-policy.err"
rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL a NUL-carrying greeting with --expect answer: exit $rc"; status=1; }
[ "$rc" -eq 0 ] && echo "ok   a greeting with NUL bytes counts as an answer"

[ "$FAKE_KEEP" = 1 ] && echo "artifacts: $WORK"
exit $status
