#!/usr/bin/env bash
# Builds mailprobe and runs every test: unit tests, integration tests against
# real Postfix/Dovecot/proxies on loopback, and the hostile-server suite, once
# in a normal -Werror build and once under AddressSanitizer + UBSan.
# Installs what it needs on Debian 12 (apt-get) first. Before building it
# checks the sources: banned functions, layers and circles (check-source.py),
# formatting (check-format.sh, clang-format 14).
#   tests/run-all.sh            both builds
#   MP_QUICK=1 tests/run-all.sh the normal build only
# After the ASan build, a ThreadSanitizer build runs only the exporter's
# tests (itest.serve*, the fixture included): they are the threaded ones.
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
python3 tests/check-source.py
bash tests/check-format.sh
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ -z "${MP_QUICK:-}" ]; then
	MP_SKIP_SOAK=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DMP_SANITIZE=ON
fi
if [ -z "${MP_QUICK:-}" ]; then
	echo "== build build-tsan (-DMP_TSAN=ON, serve tests only)"
	cmake -S . -B build-tsan -DMP_WERROR=ON -DMP_TESTS=ON -DCMAKE_BUILD_TYPE=Debug -DMP_TSAN=ON >/dev/null
	cmake --build build-tsan -j"$jobs" --target mailprobe
	echo "== test build-tsan"
	MP_SKIP_SOAK=1 TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp \
		ctest --test-dir build-tsan --output-on-failure --timeout 600 -R '^itest\.(servers\.|serve)'
fi
