#!/bin/bash
# bench_discover.sh - the cost of --discover (run by hand; prints figures):
# a domain's whole run against its DNS round trips, its HTTPS fetches and the
# matrix it found probed directly. Uses the integration harness of
# test_domains.sh (Knot with signed zones, an HTTPS server, the loopback
# Postfix and Dovecot), started here and stopped at the end.
#   tests/bench/bench_discover.sh [BUILD_DIR] [RUNS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
RUNS=${2:-9}
[ -x "$BUILD/mailprobe" ] || { echo "no $BUILD/mailprobe: build first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mp-bench-disc.XXXXXX)
trap 'bash "$SRC/tests/integration/servers.sh" stop "$WORK" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
bash "$SRC/tests/integration/servers.sh" start "$WORK" >/dev/null
MAILPROBE=$BUILD/mailprobe MP_ITEST_DIR=$WORK MP_SRC=$SRC MP_BENCH_RUNS=$RUNS \
	bash "$SRC/tests/integration/test_domains.sh" | grep -v '^--'
