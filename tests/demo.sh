#!/usr/bin/env bash
# Builds mailprobe and runs it.
#   tests/demo.sh                 demo: starts private Postfix + Dovecot on
#                                 127.0.0.1 (ports 40025...), probes their 7
#                                 endpoints, prints the table, stops them
#   tests/demo.sh ARGS...         probes what ARGS say, e.g. mail.example.com
# Installs what it needs on Debian 12 (apt-get) first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh demo
# The demo builds the binary only (the tests need more packages: tests/run-all.sh).
log=/tmp/mailprobe-demo-build.log
echo "demo: building build/mailprobe (log: $log)"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMP_TESTS=OFF &&
	cmake --build build --target mailprobe -j"$(nproc 2>/dev/null || echo 2)"; } >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	echo "demo: the build failed (log: $log)" >&2
	exit 3
fi
if [ $# -gt 0 ]; then
	exec ./build/mailprobe "$@"
fi
base=40000
dir=$(mktemp -d /tmp/mailprobe-demo.XXXXXX)
trap 'MP_ITEST_PORT_BASE=$base bash tests/integration/servers.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
echo "Starting Postfix and Dovecot on 127.0.0.1 (ports $base+25, +587, +465, +143, +993, +110, +995)..."
MP_ITEST_PORT_BASE=$base bash tests/integration/servers.sh start "$dir" >/dev/null
h=127.0.0.1
set +e
# --source 127.0.0.2: Dovecot trusts clients on its own address; from another
# loopback address it shows what a remote client sees. The last URL is a
# deliberate mistake (STARTTLS on the implicit-TLS port) to show a finding.
./build/mailprobe --cafile "$dir/ca/ca.pem" --source 127.0.0.2 --greeting-timeout 500 \
	smtp+starttls://$h:$((base + 25)) smtp+starttls://$h:$((base + 587)) smtps://$h:$((base + 465)) \
	imap+starttls://$h:$((base + 143)) imaps://$h:$((base + 993)) \
	pop3+starttls://$h:$((base + 110)) pop3s://$h:$((base + 995)) \
	smtp+starttls://$h:$((base + 465))
rc=$?
echo "(exit code $rc; try: ./build/mailprobe --help)"
exit $rc
