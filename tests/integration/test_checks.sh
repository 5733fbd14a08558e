#!/bin/bash
# test_checks.sh - the active checks (issue 14, probe/checks.c) against real
# servers and the fake one:
#   - Postfix and Dovecot of servers.sh: STARTTLS command injection passes on
#     SMTP, IMAP and POP3; AUTH / LOGIN / USER before TLS refused; VRFY;
#   - a private Postfix started here on two ports of one instance: OPEN (relays
#     for 127.0.0.0/8, smtpd_forbid_bare_newline = no, VRFY on) and CLOSED (no
#     relay, smtpd_forbid_bare_newline = yes, disable_vrfy_command = yes); mail
#     is accepted for mailprobe@localhost and goes to the discard transport,
#     never out; its log shows that no DATA is sent without --smuggling-test;
#   - fakeserver.py for the failures no current real server shows.
# Loopback addresses only; domains under .invalid and localhost.
. "$(dirname "$0")/lib.sh"
mp_setup
. "$MP_SRC/tests/fake/fakelib.sh"
fake_init checks

H=127.0.0.1
CA=(--cafile "$MP_CA")
PF=$MP_WORK/pf
PF_STOP_WAIT_S=15
PF_PID=

# Stops the private Postfix (by its master's PID), then the fake server.
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local i
	set +e
	if [ -n "$PF_PID" ]; then
		postfix -c "$PF/conf" stop >/dev/null 2>&1 || kill -TERM "$PF_PID" 2>/dev/null
		for ((i = 0; i < PF_STOP_WAIT_S * 10; i++)); do
			kill -0 "$PF_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$PF_PID" 2>/dev/null && kill -KILL "$PF_PID"
	fi
	fake_cleanup
	return 0
}
trap cleanup EXIT

# run NAME WANT_RC ARGS...: a JSON run with the exit code WANT_RC; sets J.
run() {
	local name=$1 want=$2
	shift 2
	J=$MP_WORK/$name.json
	mp_json "$J" "$@"
	mp_expect_rc "$want"
	mp_validate "$J"
}

# C(res, name) -> the state of check name on res (Python, for pyeq).
C() {
	echo "[c[\"state\"] for c in $1[\"checks\"] if c[\"name\"] == \"$2\"]"
}

# state RES CHECK WANT MSG
state() {
	pyeq "$J" "$(C "$1" "$2")" "[\"$3\"]" "$4"
}

# --- 1. Postfix and Dovecot of servers.sh ----------------------------------
run real 0 "${CA[@]}" --checks all "smtp://$H:$MP_SMTP_PORT" "smtp+starttls://$H:$MP_SMTP_PORT" \
	"smtp+starttls://$H:$MP_SUBMISSION_PORT" "smtps://$H:$MP_SMTPS_PORT" \
	"imap+starttls://$H:$MP_IMAP_PORT" "imaps://$H:$MP_IMAPS_PORT" \
	"pop3+starttls://$H:$MP_POP3_PORT" "pop3s://$H:$MP_POP3S_PORT"
SM='R("smtp", env["MP_SUBMISSION_PORT"])'
S25='R("smtp", env["MP_SMTP_PORT"], "starttls")'
IM='R("imap", env["MP_IMAP_PORT"])'
PO='R("pop3", env["MP_POP3_PORT"])'
for res in "$SM" "$S25" "$IM" "$PO"; do
	state "$res" starttls-injection pass "real: STARTTLS injection passes ($res)"
	state "$res" starttls-response-injection pass "real: response injection passes ($res)"
done
# issue 23: the check's handshake resumes the probe's TLS session (Postfix tickets)
pyassert "$J" '"(session resumed)" in [c for c in R("smtp", env["MP_SUBMISSION_PORT"])["checks"] if c["name"] == "starttls-injection"][0]["evidence"]' \
	"real: the starttls-injection connection resumed the probe's TLS session"
state "$SM" auth-before-tls pass "real: Postfix submission refuses AUTH before TLS (530)"
pyassert "$J" '"530" in [c for c in R("smtp", env["MP_SUBMISSION_PORT"])["checks"] if c["name"] == "auth-before-tls"][0]["evidence"]' \
	"real: the 530 in the evidence"
state 'R("smtp", env["MP_SMTP_PORT"], "plain")' auth-before-tls pass "real: port 25 refuses AUTH (503)"
state "$SM" vrfy pass "real: VRFY of a nonexistent user refused for relay policy (554)"
pyassert "$J" '"asked again inside TLS | C: VRFY mailprobe-nobody-" in [c for c in R("smtp", env["MP_SUBMISSION_PORT"])["checks"] if c["name"] == "vrfy"][0]["evidence"]' \
	"real: after 530 the random name is asked again inside TLS"
state 'R("smtp", env["MP_SMTPS_PORT"])' starttls-injection skipped \
	"real: implicit TLS skips the STARTTLS checks"
state "$IM" vrfy skipped "real: vrfy is SMTP only"
pyassert "$J" 'all(c["state"] != "fail" for x in results for c in x["checks"])' "real: nothing fails"
pyassert "$J" 'all(len(x["checks"]) == 4 for x in results)' "real: 4 entries per endpoint"
# Dovecot counts 127.0.0.1 as secure; from 127.0.0.2 it sends LOGINDISABLED and refuses USER.
run real2 0 "${CA[@]}" --checks auth-before-tls --source 127.0.0.2 \
	"imap+starttls://$H:$MP_IMAP_PORT" "pop3+starttls://$H:$MP_POP3_PORT"
state "$IM" auth-before-tls pass "real: Dovecot refuses LOGIN under LOGINDISABLED"
state "$PO" auth-before-tls pass "real: Dovecot refuses USER before STLS"
pyassert "$J" '"PRIVACYREQUIRED" in R("imap", env["MP_IMAP_PORT"])["checks"][0]["evidence"]' \
	"real: Dovecot's [PRIVACYREQUIRED] in the evidence"

# --- 2. usage errors: exit 3 with one line saying what to add -----------------
for args in "--smuggling-test" "--smuggling-test --mail-from a@localhost" \
	"--mail-from a@localhost" "--checks smtp-smuggling" "--checks open-relay" \
	"--checks nosuch" "--relay-from x.invalid" "--enum-user root" \
	"--smuggling-test --mail-from a<b --rcpt-to c@localhost"; do
	# shellcheck disable=SC2086  # the words of args are options
	mp_run "$MP_WORK/usage.out" $args "smtp://$H:$MP_SMTP_PORT"
	mp_expect_rc 3
	mp_one_line_error "$MP_WORK/usage.out.err"
done

# --- 3. the fake server: what no current real server does ---------------------
fake_start --only smtp-starttls-buffered,imap-starttls-buffered,pop3-stls-buffered,smtp-auth-unadvertised,imap-login-despite-logindisabled,pop3-user-unadvertised
PASSFILE=$MP_WORK/secret.pass
SECRET=never-sent-$(openssl rand -hex 6)
printf '%s\n' "$SECRET" >"$PASSFILE"
FAKE_EPS=("$(fake_url smtp+starttls smtp-starttls-buffered)"
	"$(fake_url imap+starttls imap-starttls-buffered)"
	"$(fake_url pop3+starttls pop3-stls-buffered)"
	"$(fake_url smtp+starttls smtp-auth-unadvertised)"
	"$(fake_url imap+starttls imap-login-despite-logindisabled)"
	"$(fake_url pop3+starttls pop3-user-unadvertised)")
# --user with a mechanism none offers: a password exists but no login sends it
run fake 2 --cafile "$FAKE_CA" --checks all --forbid-check-failures --transcript \
	--user alice --password-file "$PASSFILE" --allowed-auth CRAM-MD5 "${FAKE_EPS[@]}"
for sc in smtp-starttls-buffered imap-starttls-buffered pop3-stls-buffered; do
	port=$(fake_port "$sc")
	res="[x for x in results if x[\"port\"] == $port][0]"
	state "$res" starttls-injection fail "fake $sc: the injected NOOP is answered inside TLS"
	pyassert "$J" "\"starttls_command_injection\" in codes($res)" "fake $sc: finding"
	pyassert "$J" "V(\"forbid-check-failures\", $res) == [\"CRITICAL\"]" "fake $sc: CRITICAL"
done
for sc in smtp-auth-unadvertised imap-login-despite-logindisabled pop3-user-unadvertised; do
	port=$(fake_port "$sc")
	res="[x for x in results if x[\"port\"] == $port][0]"
	state "$res" auth-before-tls fail "fake $sc: login processed before TLS"
	state "$res" starttls-injection pass "fake $sc: no injection"
	pyassert "$J" "\"auth_accepted_before_tls\" in codes($res)" "fake $sc: finding"
done
pyeq "$J" 'r["summary"]["state"]' '"CRITICAL"' "fake: run CRITICAL"
pyassert "$J" 'all(re.fullmatch(r"[ -~]*", c["evidence"]) and len(c["evidence"]) < 640 for x in results for c in x["checks"])' \
	"fake: evidence printable ASCII and bounded"
grep -q "$SECRET" "$J" "$FAKE_WORK/server.log" && mp_fail "the password reached the report or the server"
grep -q 'AUTH PLAIN AG1haWxwcm9iZS1jaGVjay5pbnZhbGlkAGludmFsaWQ=' "$FAKE_WORK/server.log" ||
	mp_fail "fake: the server did not see the made-up invalid AUTH PLAIN credential"
# the table: a Checks block with one line per check
mp_run "$MP_WORK/fake.txt" --color never --checks starttls-injection "${FAKE_EPS[0]}" --cafile "$FAKE_CA"
grep -q '^Checks:' "$MP_WORK/fake.txt" || mp_fail "table: no Checks: block"
grep -q 'starttls-injection *fail' "$MP_WORK/fake.txt" || mp_fail "table: no failing check line"

# --- 4. a private Postfix: open relay / smuggling / VRFY, both ways -------------
postconf -d smtpd_forbid_bare_newline >/dev/null 2>&1 ||
	mp_skip "this Postfix has no smtpd_forbid_bare_newline (3.7.10 and later have it)"
read -r OPEN CLOSED < <("$MP_PY" "$MP_SRC/tests/fake/loopback.py" free-ports 2)
mkdir -p "$PF/conf" "$PF/queue" "$PF/data"
chmod 755 "$PF" "$PF/conf" "$PF/queue"
chown postfix "$PF/data"
chmod 700 "$PF/data"
PF_IF=127.0.0.1 PF_PROTO=ipv4 PF_NETS=127.0.0.0/8
if [ "$MP_IPV6" = 1 ]; then
	PF_IF="127.0.0.1, [::1]" PF_PROTO=all PF_NETS="127.0.0.0/8, [::1]/128"
fi
cat >"$PF/conf/main.cf" <<EOF
# A private Postfix for test_checks.sh: local mail for mailprobe@localhost is
# discarded, nothing ever leaves (discard transports, no DNS).
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
mail_owner = postfix
setgid_group = postdrop
myhostname = checks.test
mydomain = checks.test
myorigin = localhost
mydestination = localhost
relayhost =
inet_interfaces = $PF_IF
inet_protocols = $PF_PROTO
mynetworks = $PF_NETS
alias_maps =
alias_database =
local_recipient_maps = inline:{ mailprobe=yes, postmaster=yes }
local_transport = discard:
default_transport = discard:
relay_transport = discard:
smtp_dns_support_level = disabled
biff = no
smtpd_banner = \$myhostname ESMTP mailprobe-checks
smtpd_tls_cert_file = $MP_SERVER_CERT
smtpd_tls_key_file = $MP_SERVER_KEY
smtpd_tls_security_level = may
EOF
# OPEN relays for mynetworks (127.0.0.0/8), takes a bare LF as a line end,
# answers VRFY; CLOSED relays for nobody, rejects bare LF (from every client:
# the exclusions default to mynetworks), has VRFY off.
cat >"$PF/conf/master.cf" <<EOF
$OPEN inet n - n - - smtpd
  -o syslog_name=postfix/open
  -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination
  -o smtpd_forbid_bare_newline=no
  -o disable_vrfy_command=no
$CLOSED inet n - n - - smtpd
  -o syslog_name=postfix/closed
  -o smtpd_relay_restrictions=reject_unauth_destination
  -o smtpd_forbid_bare_newline=yes
  -o smtpd_forbid_bare_newline_exclusions=
  -o disable_vrfy_command=yes
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
EOF
postfix -c "$PF/conf" check </dev/null >"$PF/cmd.log" 2>&1 || mp_fail "postfix check: $(cat "$PF/cmd.log")"
postfix -c "$PF/conf" start </dev/null >>"$PF/cmd.log" 2>&1 || mp_fail "postfix start: $(cat "$PF/cmd.log")"
for ((i = 0; i < 50; i++)); do
	[ -s "$PF/queue/pid/master.pid" ] && break
	sleep 0.1
done
PF_PID=$(tr -d ' ' <"$PF/queue/pid/master.pid") || mp_fail "no master.pid for the private Postfix"
for ((i = 0; i < 100; i++)); do
	(exec 3<>"/dev/tcp/$H/$CLOSED") 2>/dev/null && break
	sleep 0.1
done
export OPEN CLOSED
mp_note "private Postfix $PF_PID on ports $OPEN (open) and $CLOSED (closed)"

PEPS=("smtp://$H:$OPEN" "smtp://$H:$CLOSED" "smtp+starttls://$H:$CLOSED")
# a. everything but smuggling: no message may be sent
run pf-nodata 0 "${CA[@]}" --checks all --relay-test --enum-user mailprobe "${PEPS[@]}"
state 'R("smtp", env["OPEN"])' open-relay fail "postfix open: relays for 127.0.0.0/8"
state 'R("smtp", env["CLOSED"], "plain")' open-relay pass "postfix closed: relay refused"
state 'R("smtp", env["CLOSED"], "starttls")' open-relay pass "postfix closed, in TLS: relay refused"
state 'R("smtp", env["OPEN"])' vrfy fail "postfix open: VRFY tells mailprobe (252) from nobody (550)"
state 'R("smtp", env["CLOSED"], "plain")' vrfy pass "postfix closed: disable_vrfy_command = yes (502)"
pyassert "$J" '"open_relay" in codes(R("smtp", env["OPEN"])) and "user_enumeration" in codes(R("smtp", env["OPEN"]))' \
	"postfix open: findings open_relay and user_enumeration"
pyassert "$J" 'not any(c["name"].startswith("smtp-smuggling") for x in results for c in x["checks"])' \
	"no smuggling entry without --smuggling-test"
# without --enum-user: postmaster (RFC 5321 4.5.1) against a random name (issue 23)
J_NODATA=$J
run pf-vrfy 0 --checks vrfy "smtp://$H:$OPEN" "smtp://$H:$CLOSED" "smtp+starttls://$H:$CLOSED"
state 'R("smtp", env["OPEN"])' vrfy fail "postfix VRFY on: postmaster (252) told from a random name (550)"
pyassert "$J" '"VRFY postmaster" in [c for c in R("smtp", env["OPEN"])["checks"]][0]["evidence"]' \
	"postfix VRFY on: postmaster asked"
state 'R("smtp", env["CLOSED"], "plain")' vrfy pass "postfix disable_vrfy_command = yes: pass"
state 'R("smtp", env["CLOSED"], "starttls")' vrfy pass "postfix disable_vrfy_command = yes, STARTTLS: pass"
pyassert "$J" '"user_enumeration" not in codes(R("smtp", env["CLOSED"], "plain"))' \
	"postfix VRFY off: no user_enumeration finding"
J=$J_NODATA
# the server's own record: every session ended, none with DATA
for ((i = 0; i < 30; i++)); do
	[ "$(grep -c ' disconnect from ' "$PF/postfix.log")" -ge 12 ] && break
	sleep 0.1
done
grep ' disconnect from ' "$PF/postfix.log" >"$MP_WORK/pf-nodata.disconnects" ||
	mp_fail "the Postfix log has no disconnect lines"
grep -q ' data=' "$MP_WORK/pf-nodata.disconnects" &&
	mp_fail "Postfix saw DATA without --smuggling-test: $(grep ' data=' "$MP_WORK/pf-nodata.disconnects")"
grep -q ' rcpt=' "$MP_WORK/pf-nodata.disconnects" || mp_fail "the relay test's RCPT is not in the log"

# b. smuggling, per variant as Postfix 3.7 behaves: with bare LF accepted as
# a line end, <LF>.<LF>, <LF>.<CR><LF> and <CR><LF>.<LF> end DATA early; a
# bare CR stays inside a line (no variant with <CR>. before LF ends it).
run pf-smuggle 2 "${CA[@]}" --smuggling-test --mail-from mailprobe@localhost \
	--rcpt-to mailprobe@localhost --forbid-check-failures --expect answer \
	"smtp://$H:$OPEN" "smtp://$H:$CLOSED" "smtp+starttls://$H:$CLOSED"
O='R("smtp", env["OPEN"])'
for v in lf-dot-lf lf-dot-crlf crlf-dot-lf; do
	state "$O" "smtp-smuggling-$v" fail "postfix forbid_bare_newline=no: $v ends DATA"
done
for v in cr-dot-lf cr-dot-crlf; do
	state "$O" "smtp-smuggling-$v" pass "postfix forbid_bare_newline=no: $v stays data"
done
for v in lf-dot-lf lf-dot-crlf cr-dot-lf crlf-dot-lf cr-dot-crlf; do
	state 'R("smtp", env["CLOSED"], "plain")' "smtp-smuggling-$v" pass \
		"postfix forbid_bare_newline=yes: $v refused or kept"
	state 'R("smtp", env["CLOSED"], "starttls")' "smtp-smuggling-$v" pass \
		"postfix forbid_bare_newline=yes, in TLS: $v"
done
pyassert "$J" '"smtp_smuggling" in codes(R("smtp", env["OPEN"]))' "postfix open: smtp_smuggling finding"
pyassert "$J" 'V("forbid-check-failures", R("smtp", env["OPEN"])) == ["CRITICAL"]' \
	"postfix open: forbid-check-failures CRITICAL"
pyassert "$J" 'V("forbid-check-failures", R("smtp", env["CLOSED"], "plain")) == ["OK"]' \
	"postfix closed: forbid-check-failures OK"
grep -q ' data=' "$PF/postfix.log" || mp_fail "with --smuggling-test the log shows no DATA"
echo "PASS: test_checks"
