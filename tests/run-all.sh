#!/usr/bin/env bash
# Builds mailprobe and runs every test: unit tests, integration tests against
# real Postfix/Dovecot/proxies on loopback, and the hostile-server suite, once
# in a normal -Werror build and once under AddressSanitizer + UBSan.
# Installs what it needs on Debian 12 (apt-get) first.
#   tests/run-all.sh            both builds
#   MP_QUICK=1 tests/run-all.sh the normal build only
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh all
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() {
	local dir=$1
	shift
	echo "== build $dir ($*)"
	cmake -S . -B "$dir" -DMP_WERROR=ON -DMP_TESTS=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs"
	echo "== test $dir"
	ctest --test-dir "$dir" --output-on-failure --timeout 600
}

bash tests/check-banned.sh
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ -z "${MP_QUICK:-}" ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DMP_SANITIZE=ON
fi
