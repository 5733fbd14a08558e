#!/usr/bin/env bash
# run-fuzz.sh - builds the libFuzzer targets with clang and fuzzes them.
#
#   tests/fuzz/run-fuzz.sh TARGET|all SECONDS
#
# Builds build-fuzz (CC=clang, -DMP_FUZZ=ON; MP_FUZZ_BUILD overrides the
# directory), runs each target for SECONDS with -max_total_time, and prints
# per target the executions per second and the coverage (cov: edges, ft:
# features) of libFuzzer's final stats. New corpus entries go to
# BUILD/fuzz-work/TARGET (the seeds in corpus/ stay small and hand-picked);
# crash, leak, timeout and out-of-memory inputs are copied into
# crashes/TARGET/, where the replay tests keep them forever.
# Exits 0 when no target crashed, 1 when one did, 2 on usage errors.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${MP_FUZZ_BUILD:-$ROOT/build-fuzz}
# Every fuzz_<target>.c but fuzz_common.c is a target (as in CMakeLists.txt).
TARGETS=$(cd "$HERE" && ls fuzz_*.c | sed -e 's/^fuzz_//' -e 's/\.c$//' | grep -vx common | tr '\n' ' ')
MAX_SECONDS=86400       # bound on one run's length
PER_INPUT_TIMEOUT_S=10  # an input slower than this is a hang (-timeout)
RSS_LIMIT_MB=2048

usage() {
	echo "usage: run-fuzz.sh TARGET|all SECONDS   (targets: $TARGETS)" >&2
	exit 2
}

[ $# -eq 2 ] || usage
case "$2" in
'' | *[!0-9]*) usage ;;
esac
SECONDS_EACH=$2
[ "$SECONDS_EACH" -ge 1 ] && [ "$SECONDS_EACH" -le "$MAX_SECONDS" ] || usage
if [ "$1" = all ]; then
	selected=$TARGETS
else
	case " $TARGETS " in
	*" $1 "*) selected=$1 ;;
	*) usage ;;
	esac
fi

# Dictionary and input size per target.
dict_of() {
	case "$1" in
	smtp | imap | pop3 | proxy | sasl | serverhello) echo "$HERE/dict/$1.dict" ;;
	proxy_url | endpoint_url) echo "$HERE/dict/url.dict" ;;
	*) echo "" ;;
	esac
}
max_len_of() {
	case "$1" in
	proxy_url | endpoint_url | escape) echo 4096 ;;
	*) echo 20000 ;;
	esac
}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	CC=clang cmake -S "$ROOT" -B "$BUILD" -DMP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
build_targets=()
for t in $selected; do
	build_targets+=(--target "fuzz_$t")
done
cmake --build "$BUILD" -j"$(nproc)" "${build_targets[@]}" >/dev/null

crashed=0
summary=""
for t in $selected; do
	work=$BUILD/fuzz-work/$t
	art=$BUILD/fuzz-artifacts/$t
	log=$BUILD/fuzz-logs/$t.log
	mkdir -p "$work" "$art" "$(dirname "$log")" "$HERE/crashes/$t"
	args=(-max_total_time="$SECONDS_EACH" -timeout="$PER_INPUT_TIMEOUT_S"
	      -rss_limit_mb="$RSS_LIMIT_MB" -max_len="$(max_len_of "$t")"
	      -artifact_prefix="$art/" -print_final_stats=1)
	dict=$(dict_of "$t")
	[ -n "$dict" ] && args+=(-dict="$dict")
	echo "== fuzz_$t for ${SECONDS_EACH}s (log: $log)"
	rc=0
	"$BUILD/tests/fuzz/fuzz_$t" "${args[@]}" "$work" "$HERE/corpus/$t" "$HERE/crashes/$t" \
		>"$log" 2>&1 || rc=$?
	# The last status line: "#N DONE cov: C ft: F corp: ... exec/s: E ..."
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	found=0
	for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
		[ -e "$f" ] || continue
		cp -n "$f" "$HERE/crashes/$t/"
		echo "   new crash input: crashes/$t/$(basename "$f")"
		found=1
	done
	if [ "$found" = 1 ] || [ "$rc" -ne 0 ]; then
		crashed=1
		echo "   fuzz_$t FAILED (rc $rc): see $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*fuzz invariant broken)' "$log" | head -n 5 || true
	fi
	line=$(printf '%-14s %10s execs %8s exec/s  cov %6s  ft %7s  %s' "$t" "${execs:-?}" \
		"${eps:-?}" "${cov:-?}" "${ft:-?}" "$([ "$rc" -eq 0 ] && echo ok || echo CRASH)")
	echo "   $line"
	summary+="$line"$'\n'
done
echo
echo "target           executions    exec/s  coverage         result"
printf '%s' "$summary"
exit "$crashed"
