#!/bin/bash
# test_soak.sh - over 1 000 hostile probes: bounded memory and descriptors, no
# leak, every probe still ends with the status its scenario demands.
#
# RUNS runs of mailprobe, each over the whole hostile catalogue
# (tests/fake/fakeserver.py) repeated REPEAT times, CONCURRENCY probes at a
# time. For each run: the peak RSS (/usr/bin/time, else VmHWM from /proc),
# the most descriptors the process held (sampled from /proc/<pid>/fd while it
# runs), exit code, sanitizer reports. Then one run over the catalogue under
# valgrind (memcheck, definite leaks are errors, --track-fds=yes): no error,
# no descriptor left open at exit beyond stdin/stdout/stderr. An ASan build
# cannot run under valgrind: there LeakSanitizer checks every run at exit.
#
# Figures are printed and kept in $FAKE_WORK/figures.txt (tests/fake/RESULTS.md).
set -u

# shellcheck source=SCRIPTDIR/../fake/fakelib.sh
. "$(dirname "$0")/../fake/fakelib.sh"

RUNS=5
MAX_TARGETS=256           # the CLI takes at most 256 targets
MAX_REPEAT=6              # the catalogue repeated up to 6 times, within MAX_TARGETS
CONCURRENCY=32
TLS_CONCURRENCY=16        # the TLS-heavy run: many handshakes per worker
MAX_RSS_KB=$((64 * 1024))         # normal build
MAX_RSS_KB_ASAN=$((1024 * 1024))  # ASan's shadow memory and quarantine
FD_SLACK=8                # own descriptors beyond one socket per probe (pipes...)
MAX_WALL_MS=90000
SAMPLE_LIMIT=6000         # fd samples per run (20 ms apart: 2 minutes at most)
LIMITS=(--connect-timeout 1000 --greeting-timeout 500 --timeout 1000 --tls-timeout 1000)
VG_LIMITS=(--connect-timeout 5000 --greeting-timeout 3000 --timeout 3000 --tls-timeout 5000)

fake_init soak
WORK=$FAKE_WORK
fake_start
FIG=$WORK/figures.txt
: >"$FIG"

mapfile -t CATALOGUE < <("$FAKE_PY" "$FAKE_CHECK" urls "$FAKE_READY")
[ "${#CATALOGUE[@]}" -ge 25 ] || fake_die "only ${#CATALOGUE[@]} scenarios in the catalogue"
# 45 scenarios x 5 = 225 endpoints
REPEAT=$((MAX_TARGETS / ${#CATALOGUE[@]}))
[ "$REPEAT" -le "$MAX_REPEAT" ] || REPEAT=$MAX_REPEAT
URLS=()
for ((r = 0; r < REPEAT; r++)); do
	URLS+=("${CATALOGUE[@]}")
done

ASAN=0
if ldd "$MAILPROBE" 2>/dev/null | grep -q 'libasan'; then
	ASAN=1
	MAX_RSS_KB=$MAX_RSS_KB_ASAN
fi
HAVE_TIME=0
[ -x /usr/bin/time ] && HAVE_TIME=1

status=0
fail() {
	echo "FAIL $*"
	status=1
}

# The PID of the only child of $1 (mailprobe under /usr/bin/time), waiting
# (bounded) until it exists.
child_of() {
	local i kids
	for ((i = 0; i < 200; i++)); do
		kids=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
		if [ -n "$kids" ]; then
			echo "${kids%% *}"
			return 0
		fi
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

# measured_run NAME CONCURRENCY URL...: one mailprobe run (JSON to NAME.json)
# watched from /proc while it goes. Sets RC, MS, N (results), RSS (peak, KiB),
# FDS, SOCKS, THREADS (most seen at once) and SAMPLES; fails on a bad exit
# code, a missing result or a sanitizer report.
measured_run() {
	local name=$1 conc=$2 out err wrapper pid t0 fds tasks socks h hwm=0
	shift 2
	out=$WORK/$name.json err=$WORK/$name.err
	t0=$(fake_now_ms)
	if [ "$HAVE_TIME" = 1 ]; then
		/usr/bin/time -f '%M' -o "$WORK/$name.time" \
			timeout -k 5 120 "$MAILPROBE" --format json --compact --allow-duplicates --per-host 0 "${LIMITS[@]}" \
			--concurrency "$conc" --cafile "$FAKE_CA" "$@" >"$out" 2>"$err" &
	else
		timeout -k 5 120 "$MAILPROBE" --format json --compact --allow-duplicates --per-host 0 "${LIMITS[@]}" \
			--concurrency "$conc" --cafile "$FAKE_CA" "$@" >"$out" 2>"$err" &
	fi
	wrapper=$!
	fake_track "$wrapper"
	# [/usr/bin/time ->] timeout -> mailprobe
	pid=$wrapper
	if [ "$HAVE_TIME" = 1 ]; then
		pid=$(child_of "$pid") || pid=
	fi
	[ -n "$pid" ] && pid=$(child_of "$pid") || pid=
	FDS=0 SOCKS=0 THREADS=0 SAMPLES=0
	while [ -n "$pid" ] && [ -d "/proc/$pid/fd" ] && ((SAMPLES < SAMPLE_LIMIT)); do
		fds=(/proc/"$pid"/fd/*)
		tasks=(/proc/"$pid"/task/*)
		[ "${#tasks[@]}" -gt "$THREADS" ] && THREADS=${#tasks[@]}
		if [ "${#fds[@]}" -gt "$FDS" ]; then
			FDS=${#fds[@]}
			socks=$(find "/proc/$pid/fd" -lname 'socket:*' 2>/dev/null | wc -l)
			[ "$socks" -gt "$SOCKS" ] && SOCKS=$socks
		fi
		if [ "$HAVE_TIME" = 0 ]; then
			h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
			[ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
		fi
		SAMPLES=$((SAMPLES + 1))
		sleep 0.02
	done
	wait "$wrapper"
	RC=$? # /usr/bin/time and timeout exit with mailprobe's status
	MS=$(($(fake_now_ms) - t0))
	if [ "$HAVE_TIME" = 1 ]; then
		RSS=$(tail -n 1 "$WORK/$name.time")
	else
		RSS=$hwm
	fi
	[[ "$RSS" =~ ^[0-9]+$ ]] || RSS=0
	N=$("$FAKE_PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["results"]))' \
		"$out" 2>/dev/null) || N=0
	printf '%s: %d probes, exit %d, %d ms, peak RSS %d KiB, at most %d fds of which %d sockets, %d threads (%d samples)\n' \
		"$name" "$N" "$RC" "$MS" "$RSS" "$FDS" "$SOCKS" "$THREADS" "$SAMPLES"
	[ "$RC" -eq 0 ] || [ "$RC" -eq 2 ] || fail "$name exited $RC: $(head -c 1000 "$err")"
	[ "$N" -eq "$#" ] || fail "$name: $N results for $# endpoints"
	if grep -qE 'Sanitizer|runtime error:' "$err"; then
		fail "$name: sanitizer report on stderr:"
		head -c 4000 "$err"
	fi
	[ "$SAMPLES" -gt 0 ] || fail "$name: could not sample /proc/<pid>/fd while it ran"
	fake_alive
}

# Descriptors every child inherits from this shell (all of ours but 255).
shell_fds=(/proc/$$/fd/*)
inherited=$((${#shell_fds[@]} - 1))
total_probes=0
max_rss=0
max_fds=0
max_socks=0
max_threads=0
start_all=$(fake_now_ms)
for ((run = 1; run <= RUNS; run++)); do
	measured_run "run$run" "$CONCURRENCY" "${URLS[@]}"
	total_probes=$((total_probes + N))
	[ "$RSS" -gt "$max_rss" ] && max_rss=$RSS
	[ "$FDS" -gt "$max_fds" ] && max_fds=$FDS
	[ "$SOCKS" -gt "$max_socks" ] && max_socks=$SOCKS
	[ "$THREADS" -gt "$max_threads" ] && max_threads=$THREADS
done
wall=$(($(fake_now_ms) - start_all))

echo "-- statuses of all $total_probes probes (hostile_check.py statuses):"
reports=()
for ((run = 1; run <= RUNS; run++)); do
	reports+=("$WORK/run$run.json")
done
"$FAKE_PY" "$FAKE_CHECK" statuses "$FAKE_READY" "${reports[@]}" || status=1

fd_bound=$((CONCURRENCY + inherited + FD_SLACK))
{
	echo "probes: $total_probes in $RUNS runs of ${#URLS[@]} endpoints" \
		"(${#CATALOGUE[@]} scenarios x $REPEAT), concurrency $CONCURRENCY"
	echo "wall: $wall ms"
	echo "peak_rss_kib: $max_rss (bound $MAX_RSS_KB)"
	echo "max_fds: $max_fds, sockets $max_socks (bounds: $fd_bound = concurrency + $inherited" \
		"inherited + $FD_SLACK; sockets $CONCURRENCY)"
	echo "max_threads: $max_threads (bound: concurrency + 1 = $((CONCURRENCY + 1)))"
	echo "build: $([ "$ASAN" = 1 ] && echo asan || echo normal)"
} | tee -a "$FIG"
[ "$total_probes" -ge 1000 ] || fail "only $total_probes probes, expected at least 1000"
[ "$wall" -lt "$MAX_WALL_MS" ] || fail "the soak took $wall ms, bound $MAX_WALL_MS ms"
[ "$max_rss" -gt 0 ] || fail "no peak RSS measured"
[ "$max_rss" -lt "$MAX_RSS_KB" ] || fail "peak RSS $max_rss KiB, bound $MAX_RSS_KB KiB"
[ "$max_fds" -gt 3 ] || fail "fd sampling saw at most $max_fds descriptors: not measured"
[ "$max_fds" -le "$fd_bound" ] ||
	fail "mailprobe held $max_fds descriptors, bound $fd_bound"
[ "$max_threads" -le $((CONCURRENCY + 1)) ] ||
	fail "mailprobe ran $max_threads threads with --concurrency $CONCURRENCY"
[ "$max_socks" -le "$CONCURRENCY" ] ||
	fail "mailprobe held $max_socks sockets at once with --concurrency $CONCURRENCY"

# Many TLS handshakes per worker: memory must not grow with them (wolfSSL's
# per-thread ECC cache, ~800 KiB per peer key, is emptied after each probe;
# without that, 200 handshakes at --concurrency 16 peaked at 177 MiB).
TLS_URLS=()
tls_url=$(fake_url smtps tls-evil-cert)
for ((r = 0; r < ${#URLS[@]}; r++)); do
	TLS_URLS+=("$tls_url")
done
measured_run tls_heavy "$TLS_CONCURRENCY" "${TLS_URLS[@]}"
"$FAKE_PY" - "$WORK/tls_heavy.json" <<'EOF' || fail "tls_heavy: not every handshake succeeded"
import json, sys
r = json.load(open(sys.argv[1]))
bad = [x["status"] for x in r["results"] if x["status"] != "ok"]
print("     tls_heavy: %d of %d ok" % (len(r["results"]) - len(bad), len(r["results"])))
sys.exit(1 if bad else 0)
EOF
echo "tls_heavy: $N implicit-TLS probes, concurrency $TLS_CONCURRENCY, peak RSS $RSS KiB" \
	"(bound $MAX_RSS_KB)" | tee -a "$FIG"
{ [ "$RSS" -gt 0 ] && [ "$RSS" -lt "$MAX_RSS_KB" ]; } ||
	fail "tls_heavy: peak RSS $RSS KiB, bound $MAX_RSS_KB KiB"

# One run under valgrind: memory errors, definite leaks, descriptors at exit.
if [ "$ASAN" = 1 ]; then
	echo "note: ASan build: valgrind skipped; LeakSanitizer checked each of the $RUNS runs at exit"
	echo "valgrind: skipped (ASan build; LeakSanitizer clean)" >>"$FIG"
elif ! command -v valgrind >/dev/null; then
	fail "valgrind is not installed (apt-get install valgrind)"
else
	vlog=$WORK/valgrind.log
	t0=$(fake_now_ms)
	timeout -k 5 240 valgrind --leak-check=full --errors-for-leak-kinds=definite \
		--error-exitcode=9 --track-fds=yes --log-file="$vlog" \
		"$MAILPROBE" --format json "${VG_LIMITS[@]}" --cafile "$FAKE_CA" "${CATALOGUE[@]}" \
		>"$WORK/valgrind.json" 2>"$WORK/valgrind.err"
	rc=$?
	ms=$(($(fake_now_ms) - t0))
	summary=$(grep -m1 'ERROR SUMMARY' "$vlog" | sed 's/^==[0-9]*== //')
	leaks=$(grep -m1 -E 'definitely lost|All heap blocks were freed' "$vlog" | sed 's/^==[0-9]*== //')
	# Descriptors open at exit that mailprobe opened itself (not std, not inherited).
	own_fds=$("$FAKE_PY" - "$vlog" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
blocks = [re.split(r"\n==\d+== ?\n", b)[0] for b in re.split(r"==\d+== Open ", text)[1:]]
own = [b.splitlines()[0] for b in blocks
       if "<inherited from parent>" not in b and not re.match(r"file descriptor [012]:", b)]
print(len(own))
for o in own:
    sys.stderr.write("  open at exit: %s\n" % o)
EOF
)
	fds_line=$(grep -m1 'FILE DESCRIPTORS' "$vlog" | sed 's/^==[0-9]*== //')
	{
		echo "valgrind: exit $rc in $ms ms over ${#CATALOGUE[@]} endpoints; $summary"
		echo "valgrind_leaks: $leaks"
		echo "valgrind_fds: $fds_line; opened by mailprobe and still open: $own_fds"
	} | tee -a "$FIG"
	[ "$rc" -ne 9 ] || { fail "valgrind found errors (see $vlog)"; grep -A12 -m5 -E 'Invalid|uninitialised|definitely lost' "$vlog" | head -60; }
	[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || [ "$rc" -eq 9 ] || fail "mailprobe under valgrind exited $rc"
	case "$summary" in
	"ERROR SUMMARY: 0 errors"*) ;;
	*) fail "valgrind: $summary" ;;
	esac
	[ "$own_fds" = 0 ] || fail "$own_fds descriptor(s) left open at exit (see $vlog)"
	"$FAKE_PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/valgrind.json" ||
		fail "the valgrind run did not write valid JSON"
fi

[ "$status" = 0 ] && echo "ok   soak: $total_probes probes, peak RSS $max_rss KiB, at most $max_fds fds"
[ "$FAKE_KEEP" = 1 ] && echo "artifacts: $WORK"
exit $status
