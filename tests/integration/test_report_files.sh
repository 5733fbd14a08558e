#!/bin/bash
# test_report_files.sh - report files and secret files are handled safely
# (issue 21): -o FORMAT:FILE says before probing why a file cannot be
# replaced (another user's file in a sticky directory, a directory), keeps
# the mode of the file it replaces; --password-file refuses what is not a
# regular file (a FIFO would block forever) and warns when other users can
# read it.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
W=$MP_WORK/files
mkdir -p "$W"
URL="smtp+starttls://$H:$MP_SMTP_PORT"

# 1. Another user's file in a sticky directory (as /tmp): refused before any
# probe, with the reason; run as nobody so that the rename would really fail.
mkdir -p "$W/sticky"
chmod 1777 "$W/sticky"
chmod o+x "$W" "$MP_WORK" 2>/dev/null || true
touch "$W/sticky/report.json"
chown root "$W/sticky/report.json"
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$MAILPROBE"; then
	rc=0
	timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups "$MAILPROBE" --cafile "$MP_CA" \
		-o "json:$W/sticky/report.json" "$URL" >"$W/sticky.out" 2>"$W/sticky.err" || rc=$?
	[ "$rc" -ne 0 ] || mp_fail "a report over another user's file in a sticky directory succeeded"
	grep -q "belongs to another user" "$W/sticky.err" ||
		mp_fail "no reason given for the sticky directory: $(cat "$W/sticky.err")"
	[ ! -s "$W/sticky.out" ] || mp_fail "probed before refusing the report file: $(head -c 300 "$W/sticky.out")"
	mp_note "another user's file in a sticky directory: refused before probing, with the reason"
else
	mp_note "cannot run as nobody here: the sticky-directory case is not run"
fi

# 2. A directory in place of the file: refused before probing.
mkdir -p "$W/adir"
mp_run "$W/dir.out" --cafile "$MP_CA" -o "json:$W/adir" "$URL"
[ "$MP_RC" -ne 0 ] || mp_fail "-o into a directory succeeded"
grep -q "is a directory" "$W/dir.out.err" || mp_fail "no reason for the directory: $(cat "$W/dir.out.err")"

# 3. The replaced file keeps its mode (a private 0600 report stays private);
# a new file gets the umask's.
echo old >"$W/private.json"
chmod 600 "$W/private.json"
mp_run "$W/keep.out" --cafile "$MP_CA" -o "json:$W/private.json" "$URL"
mp_expect_rc 0
[ "$(stat -c %a "$W/private.json")" = 600 ] ||
	mp_fail "the replaced 0600 report is now $(stat -c %a "$W/private.json")"
grep -q '"results"' "$W/private.json" || mp_fail "the report was not written"
rm -f "$W/new.json"
(umask 022 && "$MAILPROBE" --cafile "$MP_CA" -o "json:$W/new.json" "$URL" >/dev/null 2>&1) ||
	mp_fail "a new report file could not be written"
[ "$(stat -c %a "$W/new.json")" = 644 ] || mp_fail "a new report is $(stat -c %a "$W/new.json"), not 644"
mp_note "-o keeps the mode of the file it replaces"

# 4. --password-file: a FIFO is refused at once (it would block forever).
mkfifo "$W/pass.fifo"
mp_run "$W/fifo.out" --user "$MP_USER" --password-file "$W/pass.fifo" "$URL"
[ "$MP_RC" -ne 0 ] || mp_fail "a FIFO as --password-file was accepted"
[ "$MP_MS" -lt 10000 ] || mp_fail "a FIFO as --password-file took ${MP_MS} ms"
grep -q "not a regular file" "$W/fifo.out.err" || mp_fail "no reason for the FIFO: $(cat "$W/fifo.out.err")"

# 5. --password-file readable by others: a warning, and the probe goes on.
cp "$MP_PASS_FILE" "$W/open.pass"
chmod 644 "$W/open.pass"
mp_run "$W/open.out" --cafile "$MP_CA" --user "$MP_USER" --password-file "$W/open.pass" "$URL"
grep -q "readable by other users" "$W/open.out.err" ||
	mp_fail "no warning for a password file of mode 644: $(cat "$W/open.out.err")"
chmod 600 "$W/open.pass"
mp_run "$W/closed.out" --cafile "$MP_CA" --user "$MP_USER" --password-file "$W/open.pass" "$URL"
if grep -q "readable by other users" "$W/closed.out.err"; then
	mp_fail "a warning for a password file of mode 600"
fi
mp_note "--password-file: FIFO refused, mode 644 warned about, 600 quiet"
