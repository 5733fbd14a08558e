#!/bin/bash
# test_policy.sh - the CI gate against real servers: every policy rule both
# ways (Postfix and Dovecot of servers.sh; the expired, legacy-TLS and other
# stunnel servers of tlsservers.sh), the Monitoring Plugins exit codes, the
# best-endpoint recommendation, policy files and -o FORMAT:FILE, and bad
# input (exit 3 before any probe, no partial file).
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
TLSDIR=$MP_WORK/tls
TLSSH=$MP_SRC/tests/integration/tlsservers.sh
command -v stunnel >/dev/null || mp_fail "stunnel is not installed (apt-get install stunnel4): the suite needs it (tests/run-all.sh installs it with .ci/install-deps.sh)"
trap 'bash "$TLSSH" stop "$TLSDIR" || true' EXIT
bash "$TLSSH" start "$TLSDIR" "$MP_SMTP_PORT" "$MP_CA" "$MP_CA_KEY" ||
	mp_fail "tlsservers.sh could not start the TLS edge-case servers"
set -a
# shellcheck disable=SC1091
. "$TLSDIR/tls.env"
set +a
CA=(--cafile "$MP_CA")
# a loopback port nobody listens on (either family)
CLOSED=$("$MP_PY" "$MP_SRC/tests/fake/loopback.py" free-ports 1)  # free on 127.0.0.1 and ::1

# run NAME WANT_RC ARGS...: a JSON run whose exit code must be WANT_RC; sets J.
run() {
	local name=$1 want=$2
	shift 2
	J=$MP_WORK/$name.json
	mp_json "$J" "$@"
	mp_expect_rc "$want"
	mp_validate "$J"
}

# state EXPR WANT MSG: the verdict states EXPR (a V(...) call) must be [WANT].
state() {
	pyeq "$J" "$1" "[\"$2\"]" "$3"
}

# --- all good: every rule OK, exit 0
run good 0 "${CA[@]}" --require-tls --min-tls 1.2 --require-verified --forbid-auth-before-tls \
	--require-auth PLAIN,SCRAM-SHA-256 --warn-ms 20000 --crit-ms 30000 --source 127.0.0.2 \
	"smtps://$H:$MP_SMTPS_PORT" "imaps://$H:$MP_IMAPS_PORT" "smtp+starttls://$H:$MP_SUBMISSION_PORT"
pyeq "$J" 'r["summary"]["state"]' '"OK"' "good: summary.state"
pyassert "$J" 'r["verdicts"] and all(v["state"] == "OK" for v in r["verdicts"])' "good: every verdict OK"
# 8 rules; forbid-auth-before-tls has nothing to judge on implicit TLS
pyassert "$J" 'len(r["verdicts"]) == 7 + 7 + 8' "good: a verdict of every rule that applies"
pyeq "$J" 'r["policy"]["min_tls"]' '"TLSv1.2"' "good: the effective policy in the report"
pyeq "$J" 'r["policy"]["require_auth"]' '["PLAIN", "SCRAM-SHA-256"]' "good: require_auth listed"
state 'V("cert-expiry", R("smtp", env["MP_SMTPS_PORT"]))' OK "good: cert-expiry OK"

# --- expect: ok versus answer, and --optional
run refused 2 --expect ok "smtp://$H:$CLOSED" "smtps://$H:$MP_SMTPS_PORT" "${CA[@]}"
state 'V("expect", R("smtp", env["MP_SMTPS_PORT"]))' OK "expect ok: working endpoint"
state "V(\"expect\", R(\"smtp\", $CLOSED))" CRITICAL "expect ok: refused endpoint"
pyeq "$J" 'r["summary"]["state"]' '"CRITICAL"' "refused: CRITICAL"
run optional 1 --optional "smtp://$H:$CLOSED" "smtp://$H:$CLOSED" "smtps://$H:$MP_SMTPS_PORT" "${CA[@]}"
state "V(\"expect\", R(\"smtp\", $CLOSED))" WARNING "optional: a refused optional endpoint warns"
# IMAP spoken to an SMTP port: it greets (answer) but does not end ok
run answer 0 --expect answer "imap://$H:$MP_SMTP_PORT"
state 'V("expect", R("imap", env["MP_SMTP_PORT"]))' OK "expect answer: a greeting is enough"
run answer_ok 2 --expect ok "imap://$H:$MP_SMTP_PORT"
state 'V("expect", R("imap", env["MP_SMTP_PORT"]))' CRITICAL "expect ok: protocol_error is CRITICAL"

# --- require-tls
run plain 2 --require-tls "smtp://$H:$MP_SMTP_PORT" "smtp+starttls://$H:$MP_SMTP_PORT" "${CA[@]}"
state 'V("require-tls", R("smtp", env["MP_SMTP_PORT"], "plain"))' CRITICAL "require-tls: plain SMTP"
state 'V("require-tls", R("smtp", env["MP_SMTP_PORT"], "starttls"))' OK "require-tls: STARTTLS"

# --- min-tls: the TLS 1.0-1.1 stunnel, negotiated and (--enumerate-tls) accepted
run legacy 2 --min-tls 1.2 --sni mail.test "${CA[@]}" "smtps://$H:$MP_TLS_LEGACY_PORT" \
	"smtps://$H:$MP_TLS_TLS13_PORT"
state 'V("min-tls", R("smtp", env["MP_TLS_LEGACY_PORT"]))' CRITICAL "min-tls 1.2: TLS 1.1 negotiated"
state 'V("min-tls", R("smtp", env["MP_TLS_TLS13_PORT"]))' OK "min-tls 1.2: TLS 1.3"
# the best endpoint is recommended, not the first listed that works
pyeq "$J" 'r["summary"]["recommended"]["smtp"]["port"]' 'int(env["MP_TLS_TLS13_PORT"])' \
	"recommendation: TLS 1.3 over the legacy endpoint listed first"
pyassert "$J" '"TLSv1.3" in r["summary"]["recommended"]["smtp"]["reason"]' "recommendation: reason"
run legacy_enum 1 --min-tls 1.1 --enumerate-tls --sni mail.test "${CA[@]}" \
	"smtps://$H:$MP_TLS_LEGACY_PORT" "smtps://$H:$MP_TLS_TLS12_PORT"
state 'V("min-tls", R("smtp", env["MP_TLS_LEGACY_PORT"]))' WARNING \
	"min-tls 1.1 with --enumerate-tls: TLS 1.0 also accepted"
state 'V("min-tls", R("smtp", env["MP_TLS_TLS12_PORT"]))' OK "min-tls 1.1: a TLS 1.2-only server"

# --- require-verified and cert-expiry: the expired and wrong-name stunnels
run expired 2 --require-verified --sni mail.test "${CA[@]}" "smtps://$H:$MP_TLS_EXPIRED_PORT" \
	"smtps://$H:$MP_TLS_WRONGNAME_PORT" "smtps://$H:$MP_TLS_FULLCHAIN_PORT"
state 'V("require-verified", R("smtp", env["MP_TLS_EXPIRED_PORT"]))' CRITICAL "require-verified: expired"
state 'V("cert-expiry", R("smtp", env["MP_TLS_EXPIRED_PORT"]))' CRITICAL "cert-expiry: expired"
state 'V("require-verified", R("smtp", env["MP_TLS_WRONGNAME_PORT"]))' CRITICAL "require-verified: wrong name"
state 'V("require-verified", R("smtp", env["MP_TLS_FULLCHAIN_PORT"]))' OK "require-verified: full chain"
# the test leaf is valid for about a year: thresholds around that
# (--cert-warn-days alone only moves the finding's threshold, as before
# policies; with any policy option it is the WARNING threshold)
run cert_warn_old 0 --cert-warn-days 400 "${CA[@]}" "smtps://$H:$MP_SMTPS_PORT"
pyassert "$J" '"certificate_expiring" in codes(R("smtp", env["MP_SMTPS_PORT"]))' "cert-warn-days: finding"
run cert_warn 1 --expect ok --cert-warn-days 400 "${CA[@]}" "smtps://$H:$MP_SMTPS_PORT"
state 'V("cert-expiry", R("smtp", env["MP_SMTPS_PORT"]))' WARNING "cert-warn-days 400: WARNING"
run cert_crit 2 --cert-warn-days 500 --cert-crit-days 400 "${CA[@]}" "smtps://$H:$MP_SMTPS_PORT"
state 'V("cert-expiry", R("smtp", env["MP_SMTPS_PORT"]))' CRITICAL "cert-crit-days 400: CRITICAL"

# --- forbid-auth-before-tls: Dovecot treats a client on its own address as
# secure and offers PLAIN before STARTTLS; from 127.0.0.2 it offers only
# challenge-response mechanisms, and Postfix's submission none at all.
run auth_before 2 --forbid-auth-before-tls "${CA[@]}" "imap+starttls://$H:$MP_IMAP_PORT"
state 'V("forbid-auth-before-tls", R("imap", env["MP_IMAP_PORT"]))' CRITICAL \
	"forbid-auth-before-tls: PLAIN before STARTTLS"
run auth_before_cr 1 --forbid-auth-before-tls --source 127.0.0.2 "${CA[@]}" \
	"imap+starttls://$H:$MP_IMAP_PORT" "smtp+starttls://$H:$MP_SUBMISSION_PORT"
state 'V("forbid-auth-before-tls", R("imap", env["MP_IMAP_PORT"]))' WARNING \
	"forbid-auth-before-tls: challenge-response only"
state 'V("forbid-auth-before-tls", R("smtp", env["MP_SUBMISSION_PORT"]))' OK \
	"forbid-auth-before-tls: nothing before TLS"

# --- require-auth
run req_auth 2 --require-auth SCRAM-SHA-256,GSSAPI "${CA[@]}" "imaps://$H:$MP_IMAPS_PORT"
pyassert "$J" '"GSSAPI" in [v for v in r["verdicts"] if v["rule"] == "require-auth"][0]["message"]' \
	"require-auth: the missing mechanism is named"
state 'V("require-auth", R("imap", env["MP_IMAPS_PORT"]))' CRITICAL "require-auth: GSSAPI missing"

# --- require-login: the right password, a wrong one
run login 0 --user "$MP_USER" --password-file "$MP_PASS_FILE" --require-login \
	--allowed-auth PLAIN,SCRAM-SHA-256 "${CA[@]}" "imaps://$H:$MP_IMAPS_PORT"
state 'V("require-login", R("imap", env["MP_IMAPS_PORT"]))' OK "require-login: logged in"
echo "not-the-password" >"$MP_WORK/wrong.pass"
run login_bad 2 --user "$MP_USER" --password-file "$MP_WORK/wrong.pass" --require-login \
	--allowed-auth PLAIN,SCRAM-SHA-256 "${CA[@]}" "imaps://$H:$MP_IMAPS_PORT"
state 'V("require-login", R("imap", env["MP_IMAPS_PORT"]))' CRITICAL "require-login: wrong password"
grep -q "not-the-password" "$J" && mp_fail "the wrong password appears in the report"

# --- time
run slow 1 --warn-ms 1 "${CA[@]}" "smtps://$H:$MP_SMTPS_PORT"
state 'V("time", R("smtp", env["MP_SMTPS_PORT"]))' WARNING "warn-ms 1: WARNING"
run slower 2 --warn-ms 1 --crit-ms 1 "${CA[@]}" "smtps://$H:$MP_SMTPS_PORT"
state 'V("time", R("smtp", env["MP_SMTPS_PORT"]))' CRITICAL "crit-ms 1: CRITICAL"

# --- --auto: only the recommended endpoint counts
run auto 0 --auto imap --require-tls "${CA[@]}" --ports "$MP_IMAPS_PORT,$MP_IMAP_PORT" $H
pyassert "$J" 'len(set(v["endpoint"] for v in r["verdicts"])) == 1' "auto: one endpoint judged"

# --- a policy file; options override it
POL=$MP_WORK/policy.json
cat >"$POL" <<JSON
{
  "require-tls": true,
  "min-tls": "1.2",
  "crit-ms": 1,
  "optional": ["smtp://$H:$CLOSED"]
}
JSON
run file 2 --policy "$POL" "${CA[@]}" "smtps://$H:$MP_SMTPS_PORT"
state 'V("time", R("smtp", env["MP_SMTPS_PORT"]))' CRITICAL "policy file: crit-ms 1"
pyeq "$J" 'r["policy"]["file"]' "\"$POL\"" "policy file named in the report"
run file_override 0 --policy "$POL" --crit-ms 60000 "${CA[@]}" "smtps://$H:$MP_SMTPS_PORT"
state 'V("time", R("smtp", env["MP_SMTPS_PORT"]))' OK "policy file: --crit-ms overrides"

# --- several outputs from one run, each written whole
out=$MP_WORK/multi
mkdir -p "$out"
mp_run "$out/stdout.txt" --require-tls "${CA[@]}" -o "json:$out/r.json" -o "table:$out/t.txt" \
	"smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
grep -q "^Policy: OK" "$out/stdout.txt" || mp_fail "-o FORMAT:FILE: the table is not on stdout"
cmp -s "$out/stdout.txt" "$out/t.txt" || mp_fail "-o table:FILE differs from the table on stdout"
mp_validate "$out/r.json"
[ "$(find "$out" -name '*.tmp.*' | wc -l)" -eq 0 ] || mp_fail "temporary files left behind"

# --- bad input: exit 3 before any probe, one line, no partial file
bad() {
	local name=$1
	shift
	mp_run "$MP_WORK/bad_$name.txt" "$@" "smtp://$H:$CLOSED"
	mp_expect_rc 3
	mp_one_line_error "$MP_WORK/bad_$name.txt.err"
	[ ! -s "$MP_WORK/bad_$name.txt" ] || mp_fail "bad $name: wrote to stdout"
}
printf '{\n  "require-tls": true,\n  "requiretls": true\n}\n' >"$MP_WORK/unknown.json"
bad unknown_rule --policy "$MP_WORK/unknown.json"
grep -q "unknown.json line 3: unknown rule 'requiretls'" "$MP_WORK/bad_unknown_rule.txt.err" ||
	mp_fail "unknown rule: the error names neither line nor key: $(cat "$MP_WORK/bad_unknown_rule.txt.err")"
printf '{"min-tls": "1.2",\n"warn-ms": 100,,}' >"$MP_WORK/broken.json"
bad broken_file --policy "$MP_WORK/broken.json"
grep -q "broken.json line 2: not valid JSON" "$MP_WORK/bad_broken_file.txt.err" ||
	mp_fail "broken policy: $(cat "$MP_WORK/bad_broken_file.txt.err")"
bad threshold --cert-crit-days 99999
bad order --warn-ms 500 --crit-ms 100
bad min_tls --min-tls 2.0
bad unknown_format -o "xml:$MP_WORK/x.xml" --format xml
t0=$(mp_now_ms)
bad unwritable --require-tls -o "json:$MP_WORK/no-such-dir/r.json" -o "junit:$MP_WORK/j.xml"
[ ! -e "$MP_WORK/j.xml" ] || mp_fail "unwritable -o: another output was left behind"
[ "$(find "$MP_WORK" -name '*.tmp.*' | wc -l)" -eq 0 ] || mp_fail "unwritable -o: temporary file left"
grep -q "no-such-dir" "$MP_WORK/bad_unwritable.txt.err" || mp_fail "unwritable: path not named"
echo "PASS: test_policy"
