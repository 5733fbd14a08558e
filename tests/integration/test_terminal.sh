#!/bin/bash
# test_terminal.sh - the table on a terminal (a pseudo-terminal of a chosen
# size, tests/integration/ptyrun.py): it fits the terminal's width, or COLUMNS
# when set; columns shrink or drop (VIA when every row is direct, AUTH cut,
# then TIME...), findings, errors, verdicts and reasons wrap with an
# indentation; colour on a terminal unless NO_COLOR, --color never or
# TERM=dumb; files and pipes keep the full table and no colour unless
# --color always.
. "$(dirname "$0")/lib.sh"
mp_setup

PTY="$MP_PY $(dirname "$0")/ptyrun.py"
H=127.0.0.1
# plain SMTP under --require-tls gives a verdict; STARTTLS on the implicit-TLS
# port gives an error line and a long finding; IMAP STARTTLS has AUTH mechanisms.
ARGS=(--greeting-timeout 500 --cafile "$MP_CA" --require-tls
	"smtp+starttls://$H:$MP_SMTP_PORT" "smtps://$H:$MP_SMTPS_PORT" "smtp+starttls://$H:$MP_SMTPS_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT" "smtp://$H:$MP_SMTP_PORT")
ESC=$'\033'

# on_pty COLS OUT [ENV...]: runs mailprobe ARGS on a COLS-wide terminal.
on_pty() {
	local cols=$1 out=$2
	shift 2
	env -u COLUMNS -u NO_COLOR TERM=xterm "$@" $PTY "$cols" -- "$MAILPROBE" "${ARGS[@]}" >"$out" || true
	[ -s "$out" ] || mp_fail "nothing on the terminal ($cols columns, env $*)"
	grep -q 'endpoints probed' "$out" || mp_fail "no summary line on the terminal: $(cat "$out")"
}
# widest LINE WIDTH FILE: the longest line (escape sequences removed) is at most WIDTH
widest() {
	local w
	w=$(sed "s/$ESC\[[0-9;]*m//g" "$2" | awk '{ if (length > m) m = length } END { print m + 0 }')
	[ "$w" -le "$1" ] || mp_fail "a line of $w columns on a $1-column terminal: $(sed "s/$ESC\[[0-9;]*m//g" "$2" | awk -v w="$1" 'length > w' | head -n 3)"
}

# 1. Piped: the full table (every column), no colour, long lines kept.
mp_run "$MP_WORK/pipe.txt" "${ARGS[@]}"
head -n 1 "$MP_WORK/pipe.txt" | grep -q '^PROTO  *HOST:PORT  *MODE  *VIA  *STATUS  *TLS  *AUTH  *TIME$' ||
	mp_fail "piped header: $(head -n 1 "$MP_WORK/pipe.txt")"
grep -q "$ESC" "$MP_WORK/pipe.txt" && mp_fail "colour in piped output without --color always"
awk 'length > 80 { found = 1 } END { exit !found }' "$MP_WORK/pipe.txt" ||
	mp_fail "piped output has no line wider than 80: the test shows nothing"
COLUMNS=60 mp_run "$MP_WORK/pipe-columns.txt" "${ARGS[@]}"
head -n 1 "$MP_WORK/pipe-columns.txt" | grep -q ' VIA ' || mp_fail "COLUMNS narrowed a piped table"
mp_run "$MP_WORK/pipe-always.txt" --color always "${ARGS[@]}"
grep -q "$ESC\[3[12]m" "$MP_WORK/pipe-always.txt" || mp_fail "--color always gave no colour in a pipe"

# 2. An 80-column terminal: everything fits; VIA (all direct) is gone, AUTH is cut.
on_pty 80 "$MP_WORK/tty80.txt"
widest 80 "$MP_WORK/tty80.txt"
hdr=$(head -n 1 "$MP_WORK/tty80.txt" | sed "s/$ESC\[[0-9;]*m//g")
[[ $hdr =~ ^PROTO\ +HOST:PORT\ +MODE\ +STATUS\ +TLS\ +AUTH\ +TIME$ ]] || mp_fail "80-column header: '$hdr'"
sed "s/$ESC\[[0-9;]*m//g" "$MP_WORK/tty80.txt" >"$MP_WORK/tty80.plain"
grep -q '^imap .*starttls .*ok .*TLSv1\.[23] .*\.\.\. ' "$MP_WORK/tty80.plain" ||
	mp_fail "80 columns: the IMAP row with a cut AUTH cell is missing: $(grep '^imap' "$MP_WORK/tty80.plain")"
# the finding about the implicit-TLS port wraps, its next line indented by 4
grep -A1 '^  ! port .* stays silent' "$MP_WORK/tty80.plain" | tail -n 1 |
	grep -q '^    [a-z(]' || mp_fail "the long finding does not wrap with an indentation: $(grep -A1 'stays silent' "$MP_WORK/tty80.plain")"
grep -q "$ESC\[32mok" "$MP_WORK/tty80.txt" || mp_fail "no colour on a terminal (TERM=xterm)"
# the same words as piped, only arranged differently
for w in 'expects implicit TLS (try smtps://)' 'answered in plaintext and never reached TLS'; do
	tr -s ' \n' ' ' <"$MP_WORK/tty80.plain" | grep -qF "$w" || mp_fail "80 columns lost the words '$w'"
done

# 3. COLUMNS wins over the terminal's size; a narrow width drops more columns.
on_pty 200 "$MP_WORK/tty-columns60.txt" COLUMNS=60
widest 60 "$MP_WORK/tty-columns60.txt"
hdr=$(head -n 1 "$MP_WORK/tty-columns60.txt")
[[ $hdr == *STATUS* && $hdr != *TIME* && $hdr != *AUTH* ]] || mp_fail "60-column header: '$hdr'"
# 4. A wide terminal shows the whole table, as a pipe does.
on_pty 200 "$MP_WORK/tty200.txt"
[ "$(head -n 1 "$MP_WORK/tty200.txt")" = "$(head -n 1 "$MP_WORK/pipe.txt")" ] ||
	mp_fail "a 200-column terminal changed the header: $(head -n 1 "$MP_WORK/tty200.txt")"

# 4b. Logins and TLS versions wrap too (their lines are the longest).
SAVED=("${ARGS[@]}")
ARGS=(--cafile "$MP_CA" --user "$MP_USER" --password-file "$MP_PASS_FILE" --enumerate-tls
	"imaps://$H:$MP_IMAPS_PORT" "smtp+starttls://$H:$MP_SUBMISSION_PORT")
mp_run "$MP_WORK/logins-pipe.txt" "${ARGS[@]}"
grep -q '^Logins as ' "$MP_WORK/logins-pipe.txt" || mp_fail "no logins section: $(cat "$MP_WORK/logins-pipe.txt")"
awk '/^Logins as/ { on = 1 } on && length > 80 { found = 1 } END { exit !found }' "$MP_WORK/logins-pipe.txt" ||
	mp_fail "no login line wider than 80 when piped: the check below shows nothing"
on_pty 80 "$MP_WORK/logins-tty80.txt"
widest 80 "$MP_WORK/logins-tty80.txt"
sed "s/$ESC\[[0-9;]*m//g" "$MP_WORK/logins-tty80.txt" >"$MP_WORK/logins-tty80.plain"
for w in 'TLS versions (each tried on its own connection):' 'accepts TLSv1.2 TLSv1.3' \
	"imap $H:$MP_IMAPS_PORT tls: PLAIN LOGIN"; do
	tr -s ' \n' ' ' <"$MP_WORK/logins-tty80.plain" | grep -qF "$w" || mp_fail "80 columns lost '$w'"
done
ARGS=("${SAVED[@]}")

# 5. Plain output: NO_COLOR, --color never, --no-color, TERM=dumb.
on_pty 80 "$MP_WORK/nocolor.txt" NO_COLOR=1
grep -q "$ESC" "$MP_WORK/nocolor.txt" && mp_fail "NO_COLOR: escape sequences on the terminal"
on_pty 80 "$MP_WORK/dumb.txt" TERM=dumb
grep -q "$ESC" "$MP_WORK/dumb.txt" && mp_fail "TERM=dumb: escape sequences on the terminal"
widest 80 "$MP_WORK/dumb.txt"
ARGS=(--color never "${ARGS[@]}")
on_pty 80 "$MP_WORK/never.txt"
grep -q "$ESC" "$MP_WORK/never.txt" && mp_fail "--color never: escape sequences on the terminal"
mp_note "80, 60 and 200 columns, COLUMNS, NO_COLOR, TERM=dumb, --color never/always checked"
