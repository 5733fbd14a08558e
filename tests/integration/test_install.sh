#!/bin/bash
# test_install.sh - what `cmake --install` puts in place: the binary, the man
# page (clean under mandoc -Tlint, naming every option --help names), the bash
# completion (every option, the --checks names, the schemes, the subcommands),
# the systemd unit for serve, the example configuration, README and LICENSE;
# and the installed binary probes a real loopback server.
. "$(dirname "$0")/lib.sh"
mp_setup

build=$(dirname "$MAILPROBE")
prefix=$MP_WORK/prefix
cmake --install "$build" --prefix "$prefix" --strip >"$MP_WORK/install.log" 2>&1 ||
	mp_fail "cmake --install failed: $(tail -n 5 "$MP_WORK/install.log")"

bin=$prefix/bin/mailprobe
man=$prefix/share/man/man1/mailprobe.1
comp=$prefix/share/bash-completion/completions/mailprobe
unit=$prefix/lib/systemd/system/mailprobe-serve.service
doc=$prefix/share/doc/mailprobe
for f in "$bin" "$man" "$comp" "$unit" "$doc/README.md" "$doc/LICENSE" "$doc/examples/serve.json" \
	"$doc/docs/json-format.md"; do
	[ -s "$f" ] || mp_fail "cmake --install did not install $f"
done
[ -x "$bin" ] || mp_fail "$bin is not executable"
# cmake --install reports every file it installs; none may land outside the prefix.
if grep '^-- \(Installing\|Up-to-date\): ' "$MP_WORK/install.log" | grep -v -- "-- [A-Za-z-]*: $prefix/"; then
	mp_fail "cmake --install --prefix $prefix wrote outside the prefix (above)"
fi
grep -q 'MIT License' "$doc/LICENSE" || mp_fail "LICENSE is not the MIT licence"

# --- the installed binary runs and probes ------------------------------------
"$bin" --version | grep -q '^mailprobe [0-9]' || mp_fail "$bin --version: $("$bin" --version 2>&1)"
MAILPROBE=$bin mp_json "$MP_WORK/probe.json" --cafile "$MP_CA" "smtps://127.0.0.1:$MP_SMTPS_PORT"
mp_expect_rc 0
pyeq "$MP_WORK/probe.json" 'R("smtp", env["MP_SMTPS_PORT"])["status"]' '"ok"' 'installed binary: smtps status'

# --- the man page -------------------------------------------------------------
command -v mandoc >/dev/null || mp_fail "mandoc is missing (.ci/install-deps.sh installs it)"
mandoc -Tlint -Wstyle "$man" >"$MP_WORK/lint.txt" 2>&1 || mp_fail "mandoc -Tlint: $(cat "$MP_WORK/lint.txt")"
[ ! -s "$MP_WORK/lint.txt" ] || mp_fail "mandoc -Tlint: $(cat "$MP_WORK/lint.txt")"
mandoc -Tascii -Owidth=80 "$man" | col -b >"$MP_WORK/man.txt"
for section in NAME SYNOPSIS DESCRIPTION OPTIONS SUBCOMMANDS 'EXIT STATUS' ENVIRONMENT FILES EXAMPLES; do
	grep -q "^$section\$" "$MP_WORK/man.txt" || mp_fail "man page: no section $section"
done
awk 'length > 80 { print; bad = 1 } END { exit bad }' "$MP_WORK/man.txt" >"$MP_WORK/wide.txt" ||
	mp_fail "man page: lines wider than 80 columns: $(head -n 3 "$MP_WORK/wide.txt")"
# Every long option of --help and serve --help is explained in the man page
# and completed by the completion.
"$bin" --help >"$MP_WORK/help.txt"
"$bin" serve --help >"$MP_WORK/serve-help.txt"
"$bin" merge --help >"$MP_WORK/merge-help.txt" 2>&1 || true
grep -q -- '--format' "$MP_WORK/merge-help.txt" || mp_fail "merge --help: $(head -n 3 "$MP_WORK/merge-help.txt")"
opts=$(grep -oh -- '--[a-z][a-z0-9-]*[a-z0-9]' "$MP_WORK/help.txt" "$MP_WORK/serve-help.txt" \
	"$MP_WORK/merge-help.txt" | sort -u)
[ "$(echo "$opts" | wc -l)" -gt 60 ] || mp_fail "only $(echo "$opts" | wc -l) options found in --help"
missing_man=() missing_comp=()
for o in $opts; do
	grep -qxF -- "$o" <(grep -oh -- '--[a-z][a-z0-9-]*[a-z0-9]' "$MP_WORK/man.txt" | sort -u) || missing_man+=("$o")
	grep -qw -- "$o" "$comp" || missing_comp+=("$o")
done
[ ${#missing_man[@]} -eq 0 ] || mp_fail "man page misses options of --help: ${missing_man[*]}"
[ ${#missing_comp[@]} -eq 0 ] || mp_fail "completion misses options of --help: ${missing_comp[*]}"
for sub in 'mailprobe merge' 'mailprobe serve' 'mailprobe help'; do
	grep -q "^ *$sub" "$MP_WORK/man.txt" || mp_fail "man page: no $sub"
done
for v in MAILPROBE_PASSWORD MAILPROBE_PROXY_PASSWORD NO_COLOR TERM COLUMNS; do
	grep -qE "^ *$v( |$)" "$MP_WORK/man.txt" || mp_fail "man page ENVIRONMENT: no $v"
done

# --- the bash completion -----------------------------------------------------
# complete WORDS... : what the completion offers for the last word.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _mailprobe; printf "%s\n" "${COMPREPLY[@]}"' \
		complete "$comp" "$@"
}
# The names --checks takes, from the installed binary: its error for an
# unknown check lists them (the table of probe/engine/checks.c; the opt-in
# checks run by their own flags and are not listed).
checks=$("$bin" --checks mailprobe-nosuch-check 127.0.0.1 2>&1 || true)
checks=$(sed -n "s/.*unknown check '[^']*': use \(.*\) or all.*/\1/p" <<<"$checks" | tr -d ,)
[ -n "$checks" ] || mp_fail "could not read the check names from: $bin --checks mailprobe-nosuch-check"
got=$(complete_words mailprobe --checks '')
for c in $checks; do
	grep -qx "$c" <<<"$got" || mp_fail "completion of --checks lacks $c (offers: $got)"
done
[ "$(complete_words mailprobe --checks vrfy,starttls-r)" = "vrfy,starttls-response-injection" ] ||
	mp_fail "completion of a --checks list: $(complete_words mailprobe --checks vrfy,starttls-r)"
[ "$(complete_words mailprobe se)" = serve ] || mp_fail "completion of 'se': $(complete_words mailprobe se)"
[ "$(complete_words mailprobe mer)" = merge ] || mp_fail "completion of 'mer': $(complete_words mailprobe mer)"
[ "$(complete_words mailprobe serve --max-p)" = --max-probes ] || mp_fail "serve options are not completed"
[ "$(complete_words mailprobe serve --shut)" = --shutdown-grace ] || mp_fail "serve's --shutdown-grace is not completed"
[ "$(complete_words mailprobe help m)" = merge ] || mp_fail "help's argument is not completed"
[ "$(complete_words mailprobe merge --trans)" = --transcript ] || mp_fail "merge options are not completed"
[ "$(complete_words mailprobe he)" = help ] || mp_fail "completion of 'he': $(complete_words mailprobe he)"
[ "$(complete_words mailprobe imap+)" = imap+starttls:// ] || mp_fail "schemes are not completed"
[ "$(complete_words mailprobe -f nag)" = nagios ] || mp_fail "formats are not completed"

# --- the systemd unit and the example configuration ------------------------------
for d in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes 'ExecReload=/bin/kill -HUP $MAINPID'; do
	grep -qxF "$d" "$unit" || mp_fail "unit: no '$d'"
done
exec_bin=$(sed -n 's/^ExecStart=\([^ ]*\) serve .*/\1/p' "$unit")
[ "$(basename "$exec_bin")" = mailprobe ] && [[ $exec_bin == /* ]] || mp_fail "unit: ExecStart is '$exec_bin'"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$unit" >"$MP_WORK/verify.txt" 2>&1 || true
	grep -i 'unknown\|invalid' "$MP_WORK/verify.txt" && mp_fail "systemd-analyze verify (above)"
fi
# The example configuration loads (serve refuses a bad one): started on a free
# port, healthy, then stopped with SIGTERM.
port=$("$MP_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --config "$doc/examples/serve.json" --listen "127.0.0.1:$port" >"$MP_WORK/serve.log" 2>&1 &
spid=$!
ok=0
for _ in $(seq 50); do
	if curl -fsS "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1; then ok=1; break; fi
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.1
done
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
[ $ok -eq 1 ] || mp_fail "serve with the example configuration did not come up: $(cat "$MP_WORK/serve.log")"
mp_note "installed: $(cd "$prefix" && find . -type f | wc -l) files; man page, completion, unit and example checked"
