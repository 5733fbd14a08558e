# browser.sh - headless Chromium for the page tests (test_html.sh,
# test_serve_page.sh). Source it after lib.sh's mp_setup.
# shellcheck shell=bash
#
#   chromium_run ARGS...    one bounded headless run (stdout: what Chromium
#                           prints, e.g. --dump-dom); its log goes to
#                           $MP_WORK/chromium.N.err, N = $BROWSER_RUNS
#   page_messages LOG       the page's own messages in a browser log
#                           (console output, script errors, CSP refusals)

CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || mp_skip "chromium is not installed (.ci/install-deps.sh installs it)"
BROWSER_TIMEOUT_S=${BROWSER_TIMEOUT_S:-40}
BROWSER_RUNS=0

chromium_run() {
	local profile rc
	BROWSER_RUNS=$((BROWSER_RUNS + 1))
	profile=$(mktemp -d "$MP_WORK/profile.XXXXXX")
	# no background networking: this machine's network is closed, and a page
	# test must talk to nothing but the page
	timeout -k 5 "$BROWSER_TIMEOUT_S" "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-extensions \
		--user-data-dir="$profile" --enable-logging=stderr --v=0 "$@" \
		2>"$MP_WORK/chromium.$BROWSER_RUNS.err"
	rc=$?
	rm -rf "$profile"
	[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] &&
		mp_fail "chromium did not finish within ${BROWSER_TIMEOUT_S}s"
	return "$rc"
}

page_messages() {
	grep -E 'CONSOLE|Uncaught|Refused to|Content Security Policy|file://|http://' "$1" |
		grep -v 'ALSA\|dbus\|Fontconfig' || true
}
