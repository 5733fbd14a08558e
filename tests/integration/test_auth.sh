#!/bin/bash
# test_auth.sh - logins (--user) against the real Dovecot and Postfix (Dovecot
# SASL) of servers.sh, and XOAUTH2 / OAUTHBEARER against tests/fake/oauth_imap.py
# (Dovecot's oauth2 passdb needs an outside token service):
#   1. the right password: every advertised mechanism logs in, on IMAP 993 and
#      143 STARTTLS, POP3 995 and 110 STLS, submission 587 and smtps 465;
#   2. a wrong password: rejected, with the server's reply;
#   3. --allowed-auth: others skipped, a named one not offered is not_offered;
#   4. no credentials over plaintext without --allow-plaintext-auth (from
#      127.0.0.2, Dovecot's "remote" view, and from 127.0.0.1, where Dovecot
#      offers PLAIN before TLS), challenge-response mechanisms included;
#   5. no credentials over an unverified certificate without --insecure;
#   6. OAuth tokens, exact bytes checked by the fake server;
#   7. the password and the token, and their base64 forms, appear in no output
#      (JSON with --transcript, -v transcripts on stderr, the table);
#   8. the password from MAILPROBE_PASSWORD, --password (warned about), and a
#      no-echo prompt on a terminal; usage errors.
# Different --source addresses keep Dovecot's per-address failure penalty
# (2 s, growing) of the wrong-password runs away from the other runs.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
PASS=$(head -n 1 "$MP_PASS_FILE")
[ -n "$PASS" ] || mp_fail "$MP_PASS_FILE holds no password"
export PASS
TLS_URLS=(
	"imaps://$H:$MP_IMAPS_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
	"pop3+starttls://$H:$MP_POP3_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"smtps://$H:$MP_SMTPS_PORT"
)
SASL='["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]'
# The mechanisms of one result as {mechanism: status}.
ST='lambda x: {a["mechanism"]: a["status"] for a in x["auth_results"]}'
# One auth result by mechanism.
A='lambda x, m: [a for a in x["auth_results"] if a["mechanism"] == m][0]'

# ---------------------------------------------------------------------------
# 1. The right password, every mechanism, verified TLS.
J=$MP_WORK/ok.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --user "$MP_USER" \
	--password-file "$MP_PASS_FILE" "${TLS_URLS[@]}" "smtp+starttls://$H:$MP_SMTP_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'r["options"]["auth"]' \
	'{"user": "alice", "password_given": True, "token_given": False, "allowed": None,
	  "allow_plaintext": False, "insecure": False}' "options.auth"
pyeq "$J" '[x["port"] for x in results if x["status"] != "ok"]' '[]' "every endpoint probed ok"
for p in "imap $MP_IMAPS_PORT" "imap $MP_IMAP_PORT"; do
	pyeq "$J" "($ST)(R($(printf '"%s", %s' $p)))" \
		"dict([(m, 'ok') for m in $SASL] + [('IMAP-LOGIN', 'ok')])" "imap port ${p#* }: every login ok"
done
for p in "pop3 $MP_POP3S_PORT" "pop3 $MP_POP3_PORT"; do
	pyeq "$J" "($ST)(R($(printf '"%s", %s' $p)))" \
		"dict([(m, 'ok') for m in $SASL] + [('USER', 'ok')])" "pop3 port ${p#* }: every login ok"
done
for p in "smtp $MP_SUBMISSION_PORT" "smtp $MP_SMTPS_PORT"; do
	pyeq "$J" "($ST)(R($(printf '"%s", %s' $p)))" "dict((m, 'ok') for m in $SASL)" \
		"smtp port ${p#* }: every login ok (Postfix with Dovecot SASL)"
done
pyeq "$J" 'R("smtp", env["MP_SMTP_PORT"])["auth_results"], R("smtp", env["MP_SMTP_PORT"])["auth_unsupported"]' \
	'[], []' "port 25: no AUTH offered, nothing to try"
pyeq "$J" '[(x["port"], a["mechanism"]) for x in results for a in x["auth_results"]
	    if not (isinstance(a["time_ms"], int) and a["time_ms"] >= 0)]' '[]' "time_ms of every login"
pyeq "$J" '[(x["port"], a["mechanism"], a["reply"]) for x in results for a in x["auth_results"]
	    if not re.match({"smtp": r"235 ", "imap": r"OK ", "pop3": r"\+OK"}[x["protocol"]], a["reply"] or "")]' \
	'[]' "the server's success reply (235 / OK / +OK) is reported"
pyeq "$J" '[(x["port"], a["mechanism"]) for x in results for a in x["auth_results"]
	    if a["mechanism"].startswith("SCRAM") and "server signature verified" not in (a["detail"] or "")]' \
	'[]' "SCRAM: the server proved it knows the password (RFC 5802 v=)"
pyeq "$J" '[x["port"] for x in results if x["auth_unsupported"] != []]' '[]' \
	"Dovecot offers nothing mailprobe lacks"
mp_run "$MP_WORK/ok.txt" --cafile "$MP_CA" --source 127.0.0.2 --user "$MP_USER" \
	--password-file "$MP_PASS_FILE" "imaps://$H:$MP_IMAPS_PORT"
mp_expect_rc 0
grep -qxF "  imap $H:$MP_IMAPS_PORT tls: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 IMAP-LOGIN ok" \
	"$MP_WORK/ok.txt" || { cat "$MP_WORK/ok.txt" >&2; mp_fail "table: one login line for the endpoint"; }
mp_note "right password: every mechanism logged in on 6 endpoints"

# ---------------------------------------------------------------------------
# 2. A wrong password: rejected, with the server's reply (Dovecot delays each
#    failure, hence the longer --timeout).
WRONG=$MP_WORK/wrong.pass
(umask 077 && printf 'not-%s\n' "$PASS" >"$WRONG")
J=$MP_WORK/wrong.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.3 --timeout 30000 --deadline 120000 \
	--user "$MP_USER" --password-file "$WRONG" --allowed-auth PLAIN,SCRAM-SHA-256,IMAP-LOGIN,USER \
	"imaps://$H:$MP_IMAPS_PORT" "pop3s://$H:$MP_POP3S_PORT" "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" '[(x["protocol"], a["mechanism"], a["status"]) for x in results for a in x["auth_results"]
	    if a["status"] != "skipped"]' \
	'([("imap", m, "rejected") for m in ("PLAIN", "SCRAM-SHA-256", "IMAP-LOGIN")] +
	  [("pop3", m, "rejected") for m in ("PLAIN", "SCRAM-SHA-256", "USER")] +
	  [("smtp", m, "rejected") for m in ("PLAIN", "SCRAM-SHA-256")])' "wrong password: rejected"
pyeq "$J" '[(x["protocol"], a["mechanism"], a["reply"]) for x in results for a in x["auth_results"]
	    if a["status"] == "rejected" and not re.match({"smtp": r"535 5\.7\.8 ", "imap": r"NO \[AUTHENTICATIONFAILED\]",
							   "pop3": r"-ERR \[AUTH\]"}[x["protocol"]], a["reply"] or "")]' \
	'[]' "the server's refusal is reported (535, NO [AUTHENTICATIONFAILED], -ERR [AUTH])"
mp_note "wrong password: rejected with the server's replies ($MP_MS ms)"

# ---------------------------------------------------------------------------
# 3. --allowed-auth, and the password from MAILPROBE_PASSWORD.
J=$MP_WORK/allowed.json
MAILPROBE_PASSWORD=$PASS mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --user "$MP_USER" \
	--allowed-auth cram-md5,XOAUTH2,USER "imaps://$H:$MP_IMAPS_PORT" "pop3s://$H:$MP_POP3S_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'r["options"]["auth"]["allowed"]' '["CRAM-MD5", "XOAUTH2", "USER"]' "options.auth.allowed"
pyeq "$J" "($ST)(R('imap', env['MP_IMAPS_PORT']))" \
	'{"PLAIN": "skipped", "LOGIN": "skipped", "CRAM-MD5": "ok", "SCRAM-SHA-1": "skipped",
	  "SCRAM-SHA-256": "skipped", "XOAUTH2": "not_offered", "IMAP-LOGIN": "skipped"}' \
	"imaps: only the allowed mechanism tried"
pyeq "$J" "($ST)(R('pop3', env['MP_POP3S_PORT']))" \
	'{"PLAIN": "skipped", "LOGIN": "skipped", "CRAM-MD5": "ok", "SCRAM-SHA-1": "skipped",
	  "SCRAM-SHA-256": "skipped", "XOAUTH2": "not_offered", "USER": "ok"}' \
	"pop3s: only the allowed mechanisms tried"
pyeq "$J" "($A)(R('imap', env['MP_IMAPS_PORT']), 'PLAIN')" \
	'{"mechanism": "PLAIN", "status": "skipped", "reply": None, "time_ms": None,
	  "detail": "not in --allowed-auth"}' "a skipped mechanism: why, and no reply or time"
pyassert "$J" "($A)(R('imap', env['MP_IMAPS_PORT']), 'XOAUTH2')['time_ms'] is None" \
	"not_offered: no time"
mp_note "--allowed-auth: others skipped, XOAUTH2 not offered"

# ---------------------------------------------------------------------------
# 4. Plaintext: nothing sent without --allow-plaintext-auth.
J=$MP_WORK/plain.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --user "$MP_USER" \
	--password-file "$MP_PASS_FILE" "imap://$H:$MP_IMAP_PORT" "pop3://$H:$MP_POP3_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" '[(x["protocol"], a["mechanism"], a["status"]) for x in results for a in x["auth_results"]]' \
	'[(p, m, "skipped") for p in ("imap", "pop3") for m in ("CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")]' \
	"from 127.0.0.2 Dovecot offers only challenge-response before TLS (no LOGIN: LOGINDISABLED); all skipped"
pyeq "$J" '[(x["protocol"], a["mechanism"]) for x in results for a in x["auth_results"]
	    if "would send credentials in plaintext" not in a["detail"]]' '[]' \
	"skipped: would send credentials in plaintext"
# From 127.0.0.1 Dovecot calls the connection secure and offers PLAIN: still not sent.
J=$MP_WORK/plain-local.json
mp_json "$J" --transcript --source 127.0.0.1 --user "$MP_USER" --password-file "$MP_PASS_FILE" \
	"imap://$H:$MP_IMAP_PORT"
mp_expect_rc 0
pyeq "$J" "($ST)(R('imap', env['MP_IMAP_PORT']))" \
	"dict([(m, 'skipped') for m in $SASL] + [('IMAP-LOGIN', 'skipped')])" \
	"from 127.0.0.1 PLAIN and LOGIN are offered in plaintext, and skipped"
pyeq "$J" '[e["text"] for x in results for e in x["transcript"] if e["dir"] == "C"]' \
	'["a1 CAPABILITY", "a2 LOGOUT"]' "nothing but CAPABILITY and LOGOUT was sent"
# With the opt-in, challenge-response logs in over plaintext.
J=$MP_WORK/plain-optin.json
mp_json "$J" --source 127.0.0.2 --user "$MP_USER" --password-file "$MP_PASS_FILE" \
	--allow-plaintext-auth "imap://$H:$MP_IMAP_PORT" "pop3://$H:$MP_POP3_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" '[(x["protocol"], a["mechanism"], a["status"]) for x in results for a in x["auth_results"]]' \
	'[(p, m, "ok") for p in ("imap", "pop3") for m in ("CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")]' \
	"--allow-plaintext-auth: challenge-response logins over plaintext"
mp_note "plaintext: skipped without the opt-in, ok with it"

# ---------------------------------------------------------------------------
# 5. An unverified certificate (no --cafile: the test CA is not in the system
#    store): skipped without --insecure.
J=$MP_WORK/unverified.json
mp_json "$J" --source 127.0.0.2 --user "$MP_USER" --password-file "$MP_PASS_FILE" \
	"imaps://$H:$MP_IMAPS_PORT" "smtp+starttls://$H:$MP_SUBMISSION_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" '[(x["protocol"], x["status"], x["tls"]["verified"]) for x in results]' \
	'[("imap", "ok", False), ("smtp", "ok", False)]' "the probes work; the certificate is not verified"
pyeq "$J" '[(x["protocol"], a["mechanism"]) for x in results for a in x["auth_results"]
	    if a["status"] != "skipped" or not a["detail"].startswith("certificate not verified")]' '[]' \
	"every login skipped: certificate not verified"
pyeq "$J" '[len(x["auth_results"]) for x in results]' '[6, 5]' "every mechanism listed"
J=$MP_WORK/insecure.json
mp_json "$J" --insecure --source 127.0.0.2 --user "$MP_USER" --password-file "$MP_PASS_FILE" \
	"imaps://$H:$MP_IMAPS_PORT" "smtp+starttls://$H:$MP_SUBMISSION_PORT"
mp_expect_rc 0
pyeq "$J" '[(x["protocol"], a["mechanism"]) for x in results for a in x["auth_results"]
	    if a["status"] != "ok"]' '[]' "--insecure: every login ok"
pyeq "$J" 'r["options"]["auth"]["insecure"]' 'True' "options.auth.insecure"
mp_note "unverified certificate: skipped without --insecure, ok with it"

# ---------------------------------------------------------------------------
# 6. OAuth: XOAUTH2 and OAUTHBEARER against the fake, which accepts only the
#    exact bytes (RFC 7628 3.1 with host and port).
TOKEN="ya29.mailprobe-$(openssl rand -hex 12)"
export TOKEN
TOKFILE=$MP_WORK/token
(umask 077 && printf '%s\n' "$TOKEN" >"$TOKFILE")
FAKE_READY=$MP_WORK/oauth.ready
FAKE_LOG=$MP_WORK/oauth.log
"$MP_PY" "$MP_SRC/tests/fake/oauth_imap.py" --cert "$MP_SERVER_CERT" --key "$MP_SERVER_KEY" \
	--user "$MP_USER" --token-file "$TOKFILE" --ready-file "$FAKE_READY" --log "$FAKE_LOG" \
	</dev/null >"$MP_WORK/oauth.out" 2>&1 &
FAKE_PID=$!
trap 'kill "$FAKE_PID" 2>/dev/null || true' EXIT
for ((i = 0; i < 100; i++)); do
	[ -s "$FAKE_READY" ] && break
	kill -0 "$FAKE_PID" 2>/dev/null || { cat "$MP_WORK/oauth.out" >&2; mp_fail "oauth_imap.py exited"; }
	sleep 0.1
done
[ -s "$FAKE_READY" ] || mp_fail "oauth_imap.py did not get ready in 10 s"
OPORT=$("$MP_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$FAKE_READY")
export OPORT
J=$MP_WORK/oauth.json
mp_json "$J" --transcript -v --cafile "$MP_CA" --user "$MP_USER" --oauth-token-file "$TOKFILE" \
	"imaps://$H:$OPORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" "($ST)(R('imap', env['OPORT']))" \
	'{"PLAIN": "skipped", "XOAUTH2": "ok", "OAUTHBEARER": "ok", "IMAP-LOGIN": "skipped"}' \
	"the token logs in with XOAUTH2 and OAUTHBEARER; the password methods are skipped"
pyeq "$J" "($A)(R('imap', env['OPORT']), 'PLAIN')['detail']" '"no password given"' "why PLAIN was skipped"
pyeq "$J" 'r["options"]["auth"]["token_given"], r["options"]["auth"]["password_given"]' 'True, False' \
	"options.auth: a token, no password"
grep -c '"ok": true, "why": "exact bytes"' "$FAKE_LOG" | grep -qx 2 ||
	{ cat "$FAKE_LOG" >&2; mp_fail "the fake did not see the exact bytes twice"; }
BADTOK=$MP_WORK/badtoken
(umask 077 && printf 'ya29.wrong-%s\n' "$TOKEN" >"$BADTOK")
J=$MP_WORK/oauth-bad.json
mp_json "$J" --cafile "$MP_CA" --user "$MP_USER" --oauth-token-file "$BADTOK" "imaps://$H:$OPORT"
mp_expect_rc 0
pyeq "$J" "[(a['mechanism'], a['status'], a['reply']) for a in R('imap', env['OPORT'])['auth_results'] if 'OAUTH' in a['mechanism']]" \
	'[(m, "rejected", "NO [AUTHENTICATIONFAILED] Invalid credentials") for m in ("XOAUTH2", "OAUTHBEARER")]' \
	"a wrong token: rejected"
pyeq "$J" "[($A)(R('imap', env['OPORT']), m)['detail'] for m in ('XOAUTH2', 'OAUTHBEARER')]" \
	'["server said: status \"401\", schemes \"bearer\", scope \"https://mail.example/\""] * 2' \
	"the RFC 7628 error the server sent is reported"
grep -q 'answer to the error challenge' "$FAKE_LOG" &&
	{ cat "$FAKE_LOG" >&2; mp_fail "wrong answer to the OAuth error challenge (RFC 7628 3.2.3)"; }
kill "$FAKE_PID" 2>/dev/null || true
wait "$FAKE_PID" 2>/dev/null || true
trap - EXIT
mp_note "OAuth: exact XOAUTH2 / OAUTHBEARER bytes; a wrong token rejected"

# ---------------------------------------------------------------------------
# 7. Secrets: the password, its base64 forms (alone, as the PLAIN blobs with
#    and without authzid, as LOGIN sends it) and the token are in no output.
#    Every mechanism runs, plaintext ones included, with transcripts.
J=$MP_WORK/secrets.json
mp_json "$J" --transcript -v --cafile "$MP_CA" --source 127.0.0.2 --user "$MP_USER" \
	--password-file "$MP_PASS_FILE" --allow-plaintext-auth "${TLS_URLS[@]}" \
	"imap://$H:$MP_IMAP_PORT" "pop3://$H:$MP_POP3_PORT"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" '[(x["port"], a["mechanism"]) for x in results for a in x["auth_results"] if a["status"] != "ok"]' \
	'[]' "every login of the secrets run is ok (so every secret was sent)"
mp_run "$MP_WORK/secrets.txt" -v --cafile "$MP_CA" --source 127.0.0.2 --user "$MP_USER" \
	--password-file "$MP_PASS_FILE" "${TLS_URLS[@]}"
mp_expect_rc 0
FORMS=$MP_WORK/forms
"$MP_PY" - "$FORMS" <<'EOF'
import base64, os, sys
u, p, t = os.environ["MP_USER"].encode(), os.environ["PASS"].encode(), os.environ["TOKEN"].encode()
b = lambda s: base64.b64encode(s).decode()
forms = [p.decode(), b(p), b(b"\0" + u + b"\0" + p), b(u + b"\0" + p), t.decode(), b(t),
         b(b"user=" + u + b"\x01auth=Bearer " + t + b"\x01\x01")]
with open(sys.argv[1], "w") as f:
    f.write("\n".join(forms) + "\n")
EOF
for f in "$J" "$J.err" "$MP_WORK/secrets.txt" "$MP_WORK/secrets.txt.err" "$MP_WORK/oauth.json" \
	"$MP_WORK/oauth.json.err" "$MP_WORK/ok.json" "$MP_WORK/wrong.json" "$MP_WORK/commands.log"; do
	if grep -qFf "$FORMS" "$f"; then
		grep -noFf "$FORMS" "$f" | sed 's/:.*/: <secret>/' >&2
		mp_fail "a secret (password, token or a base64 form) appears in $f"
	fi
done
# The redacted lines are there, so the search above looked at the logins.
for want in "AUTH PLAIN [redacted" "AUTHENTICATE SCRAM-SHA-256 [redacted" "LOGIN [redacted" \
	"PASS [redacted" "C: [redacted"; do
	grep -qF "$want" "$J.err" || mp_fail "-v transcript lacks \"$want\" (logins not shown?)"
done
grep -qF '"AUTH PLAIN [redacted' "$J" || mp_fail "JSON transcript lacks the redacted AUTH PLAIN"
grep -qF 'AUTHENTICATE XOAUTH2 [redacted' "$MP_WORK/oauth.json.err" ||
	mp_fail "-v transcript of the OAuth run lacks the redacted XOAUTH2"
mp_note "no secret in any output (JSON, -v transcripts, table)"

# ---------------------------------------------------------------------------
# 8. Where the password comes from; usage errors.
mp_run "$MP_WORK/cli-pass.txt" --cafile "$MP_CA" --user "$MP_USER" --password "$PASS" \
	--allowed-auth PLAIN "imaps://$H:$MP_IMAPS_PORT"
mp_expect_rc 0
grep -q 'warning: --password is visible to other users' "$MP_WORK/cli-pass.txt.err" ||
	mp_fail "--password without a warning on stderr"
grep -q "PLAIN ok" "$MP_WORK/cli-pass.txt" || mp_fail "--password: PLAIN did not log in"

mp_run "$MP_WORK/cli-nopass.txt" --user "$MP_USER" "imaps://$H:$MP_IMAPS_PORT" </dev/null
mp_expect_rc 3
mp_one_line_error "$MP_WORK/cli-nopass.txt.err"
mp_run "$MP_WORK/cli-mech.txt" --user "$MP_USER" --password-file "$MP_PASS_FILE" \
	--allowed-auth PLAIN,GSSAPI "imaps://$H:$MP_IMAPS_PORT"
mp_expect_rc 3
mp_one_line_error "$MP_WORK/cli-mech.txt.err"
mp_run "$MP_WORK/cli-nouser.txt" --password-file "$MP_PASS_FILE" "imaps://$H:$MP_IMAPS_PORT"
mp_expect_rc 3
mp_one_line_error "$MP_WORK/cli-nouser.txt.err"

# The prompt: on a terminal, without echo.
"$MP_PY" - "$MAILPROBE" "$MP_CA" "$MP_USER" "imaps://$H:$MP_IMAPS_PORT" >"$MP_WORK/prompt.out" 2>&1 <<'EOF' ||
import os, pty, select, sys, time
exe, ca, user, url = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(exe, [exe, "--cafile", ca, "--user", user, "--allowed-auth", "PLAIN", "--color",
                   "never", url])
out, sent, end = b"", False, time.monotonic() + 60
while time.monotonic() < end:
    r, _, _ = select.select([fd], [], [], 0.5)
    if not r:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and b"Password for " + user.encode() + b": " in out:
        os.write(fd, os.environ["PASS"].encode() + b"\n")
        sent = True
status = None
while time.monotonic() < end and status is None:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
    else:
        time.sleep(0.1)
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print("mailprobe did not finish within 60 s")
    status = 1 << 8
text = out.decode("utf-8", "replace")
ok = sent and os.environ["PASS"] not in text and "PLAIN ok" in text and os.WEXITSTATUS(status) == 0
print(text.replace(os.environ["PASS"], "<PASSWORD ECHOED>"))
sys.exit(0 if ok else 1)
EOF
	{ cat "$MP_WORK/prompt.out" >&2; mp_fail "the terminal prompt: no prompt, echo, or no login"; }
mp_note "password sources: --password (warned), MAILPROBE_PASSWORD, prompt without echo"
