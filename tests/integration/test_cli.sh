#!/bin/bash
# test_cli.sh - the command line: --help, -V, and usage errors (exit 3 with a
# one-line error on stderr that says what to try, nothing on stdout, no probing).
. "$(dirname "$0")/lib.sh"
mp_setup

# The version CMake builds in (project(mailprobe VERSION x.y.z)).
VERSION=$(sed -n 's/^project(mailprobe VERSION \([0-9.]*\).*/\1/p' "$MP_SRC/CMakeLists.txt")
[ -n "$VERSION" ] || mp_fail "cannot read the project version from $MP_SRC/CMakeLists.txt"

# --- help: exit 0, on stdout, naming every option
for h in --help -h; do
	out=$MP_WORK/help$h.txt
	mp_run "$out" "$h"
	mp_expect_rc 0
	[ -s "$out" ] || mp_fail "mailprobe $h printed nothing on stdout"
	[ ! -s "$out.err" ] || mp_fail "mailprobe $h wrote to stderr: $(head -c 300 "$out.err")"
	for opt in --format --compact --output --transcript --verbose --color --protocols \
		--ports --modes --auto --connect-timeout --greeting-timeout --timeout \
		--tls-timeout --deadline --concurrency --cafile --capath --sni --ehlo --source \
		--proxy --direct --help --version; do
		grep -qE -- "(^|[^a-z-])$opt([^a-z-]|$)" "$out" ||
			mp_fail "mailprobe $h does not mention $opt"
	done
	for opt in -f -o -v -h -V; do
		grep -qE -- "(^|[ ,])$opt([ ,]|$)" "$out" ||
			mp_fail "mailprobe $h does not mention the short option $opt"
	done
	for scheme in smtp:// smtp+starttls:// smtps:// imap:// imap+starttls:// imaps:// \
		pop3:// pop3+starttls:// pop3s://; do
		grep -qF -- "$scheme" "$out" || mp_fail "mailprobe $h does not mention $scheme"
	done
done
cmp -s "$MP_WORK/help--help.txt" "$MP_WORK/help-h.txt" || mp_fail "-h and --help differ"

# --- --help: within 80 columns, short, pointing to the man page, and listing
# every option of the table (read from its source, cli_options.c)
H=$MP_WORK/help--help.txt
wide=$(awk 'length > 80' "$H")
[ -z "$wide" ] || mp_fail "--help has lines wider than 80 columns: $wide"
lines=$(wc -l <"$H")
[ "$lines" -lt 130 ] || mp_fail "--help is $lines lines long"
grep -qF 'mailprobe(1)' "$H" || mp_fail "--help does not point to mailprobe(1)"
names=$(sed -n 's/^ *{"\([a-z0-9-]*\)", .*/\1/p' "$MP_SRC/probe/app/cli_options.c")
[ "$(echo "$names" | wc -l)" -gt 60 ] || mp_fail "cannot read the option table: $names"
for name in $names; do
	grep -qE -- "^  (-., )?--$name( |\$)" "$H" || mp_fail "--help does not list --$name"
done
mp_note "--help: $lines lines, every one of $(echo "$names" | wc -l) options listed"

# --- mailprobe help [serve|merge]: the same text as each --help, no probing
mp_run "$MP_WORK/help.txt" help
mp_expect_rc 0
cmp -s "$MP_WORK/help.txt" "$H" || mp_fail "mailprobe help differs from mailprobe --help"
for sub in serve merge; do
	mp_run "$MP_WORK/help-$sub.txt" help "$sub"
	mp_expect_rc 0
	mp_run "$MP_WORK/$sub-help.txt" "$sub" --help
	mp_expect_rc 0
	cmp -s "$MP_WORK/help-$sub.txt" "$MP_WORK/$sub-help.txt" ||
		mp_fail "mailprobe help $sub differs from mailprobe $sub --help"
	head -1 "$MP_WORK/help-$sub.txt" | grep -q "^Usage: mailprobe $sub " ||
		mp_fail "mailprobe help $sub: $(head -1 "$MP_WORK/help-$sub.txt")"
	[ -z "$(awk 'length > 80' "$MP_WORK/help-$sub.txt")" ] ||
		mp_fail "mailprobe help $sub is wider than 80 columns"
	[ ! -s "$MP_WORK/help-$sub.txt.err" ] || mp_fail "mailprobe help $sub wrote to stderr"
done
# merge lists its own options (output and policy), not the probing ones
M=$MP_WORK/merge-help.txt
for opt in --format --output --policy --require-tls --min-tls; do
	grep -qE -- "^  (-., )?$opt( |\$)" "$M" || mp_fail "merge --help does not list $opt"
done
for opt in --timeout --proxy --user --checks; do
	! grep -qE -- "^  (-., )?$opt( |\$)" "$M" || mp_fail "merge --help lists $opt"
done
mp_run "$MP_WORK/merge-help2.txt" merge -o "$MP_WORK/never.json" --help
mp_expect_rc 0
cmp -s "$MP_WORK/merge-help2.txt" "$M" || mp_fail "merge -o FILE --help differs from merge --help"
[ ! -e "$MP_WORK/never.json" ] || mp_fail "merge --help wrote a report"

# --- version: exit 0, "mailprobe" and the project version on stdout
for v in -V --version; do
	out=$MP_WORK/version$v.txt
	mp_run "$out" "$v"
	mp_expect_rc 0
	grep -q mailprobe "$out" || mp_fail "mailprobe $v does not name the tool: $(cat "$out")"
	grep -qE "(^|[^0-9.])$VERSION([^0-9.]|$)" "$out" ||
		mp_fail "mailprobe $v does not print version $VERSION: $(cat "$out")"
done

# --- usage errors: exit 3, one line on stderr, empty stdout, no network
# A closed port as the otherwise valid target: if a bad option were ignored
# and the probe ran, the exit code would be 2, not 3.
closed=$("$MP_PY" "$MP_SRC/tests/fake/loopback.py" free-ports 1)  # free on 127.0.0.1 and ::1
T=smtp://127.0.0.1:$closed
n=0
failed=()
# usage_error WHAT ARGS...: mailprobe ARGS must be a usage error. Every case
# runs (in a subshell, as mp_fail exits) and the failures are listed at the end.
usage_error() {
	local what=$1 out
	shift
	n=$((n + 1))
	out=$MP_WORK/usage$n.txt
	if (
		mp_run "$out" "$@"
		[ "$MP_RC" -eq 3 ] || {
			echo "--- stderr:" >&2
			head -c 1000 "$out.err" >&2
			mp_fail "$what: mailprobe $* exited $MP_RC, expected 3"
		}
		[ ! -s "$out" ] || mp_fail "$what: mailprobe $* wrote to stdout: $(head -c 300 "$out")"
		mp_one_line_error "$out.err"
		[ "$MP_MS" -lt 3000 ] || mp_fail "$what: a usage error took ${MP_MS} ms"
	); then
		mp_note "$what: $(cat "$out.err")"
	else
		echo "   (case: $what)" >&2
		failed+=("$what")
	fi
}

usage_error "no target"
usage_error "unknown option" --bogus-option "$T"
usage_error "unknown short option" -Z "$T"
usage_error "option without its value" "$T" --ports
usage_error "bad URL scheme (http)" http://127.0.0.1:80
usage_error "bad URL scheme (ftp)" ftp://127.0.0.1:21
usage_error "URL port 0" smtp://127.0.0.1:0
usage_error "URL port 70000" smtp://127.0.0.1:70000
usage_error "URL port not a number" smtp://127.0.0.1:abc
usage_error "unclosed IPv6 bracket" "smtps://[::1:465"
usage_error "--ports 0" --ports 0 127.0.0.1
usage_error "--ports 70000" --ports 70000 127.0.0.1
usage_error "--ports abc" --ports abc 127.0.0.1
usage_error "--ports 25,abc" --ports 25,abc 127.0.0.1
usage_error "--ports -1" --ports -1 127.0.0.1
usage_error "--ports empty" --ports "" 127.0.0.1
usage_error "--format xml" --format xml "$T"
usage_error "-f xml" -f xml "$T"
usage_error "--color sometimes" --color sometimes "$T"
usage_error "--protocols ftp" --protocols ftp 127.0.0.1
usage_error "--modes secure" --modes secure 127.0.0.1
usage_error "--auto ftp" --auto ftp 127.0.0.1
usage_error "--timeout abc" --timeout abc "$T"
usage_error "--timeout -5" --timeout -5 "$T"
usage_error "--connect-timeout 10x" --connect-timeout 10x "$T"
usage_error "--concurrency 0" --concurrency 0 "$T"
usage_error "--deadline abc" --deadline abc "$T"
usage_error "--version --bogus" --version --bogus
usage_error "--bogus --version" --bogus --version
usage_error "-V --ports 0" -V --ports 0 "$T"
usage_error "--help --format xml" --help --format xml
usage_error "-h -Z" -h -Z
usage_error "help with an unknown topic" help probes
usage_error "help with two topics" help serve merge
usage_error "IPv6 without brackets" smtp://::1:$closed
usage_error "IPv6 without brackets, no port" smtps://::1
printf '{\n  "require-tls": true,\n  "min-tls": "1.2",\n  "require-tls": false\n}\n' \
	>"$MP_WORK/twice.json"
usage_error "a policy rule twice" --policy "$MP_WORK/twice.json" "$T"

[ ${#failed[@]} -eq 0 ] ||
	mp_fail "${#failed[@]} of $n usage errors wrong: $(printf '[%s] ' "${failed[@]}")"

# --- what those errors say
grep -qF "unknown option '--bogus'" "$MP_WORK"/usage*.txt.err ||
	mp_fail "--version --bogus does not name --bogus"
grep -qF "write smtp://[::1]:$closed," "$MP_WORK"/usage*.txt.err ||
	mp_fail "smtp://::1:$closed does not say to write smtp://[::1]:$closed"
grep -qF "write smtps://[::1]," "$MP_WORK"/usage*.txt.err ||
	mp_fail "smtps://::1 does not say to write smtps://[::1]"
grep -qF "rule 'require-tls' is given twice, on line 2 and line 4" "$MP_WORK"/usage*.txt.err ||
	mp_fail "a rule given twice is not named with both lines"
grep -qF "mailprobe help serve or mailprobe help merge" "$MP_WORK"/usage*.txt.err ||
	mp_fail "mailprobe help TOPIC does not name the topics"

# --- and the same target with valid options is a real run: exit 2 (refused)
mp_json "$MP_WORK/closed.json" --connect-timeout 2000 "$T"
mp_expect_rc 2
pyeq "$MP_WORK/closed.json" 'R("smtp", '"$closed"')["status"]' '"refused"' \
	"a closed port is refused"

echo "PASS: $MP_TEST ($n usage errors checked)"
