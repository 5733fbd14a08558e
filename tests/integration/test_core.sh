#!/bin/bash
# test_core.sh - mailprobe against the real Postfix and Dovecot of servers.sh:
# what each of the 7 endpoints advertises before and after TLS, the TLS
# session and certificate, the report's shape (schema), the matrix options,
# auto mode, the table format, --transcript, --compact and -o, and the
# servers over IPv6 loopback ([::1], and "localhost" whichever address it
# resolves to first).
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
VERSION=$(sed -n 's/^project(mailprobe VERSION \([0-9.]*\).*/\1/p' "$MP_SRC/CMakeLists.txt")
[ -n "$VERSION" ] || mp_fail "cannot read the project version from $MP_SRC/CMakeLists.txt"
export VERSION

URLS=(
	"smtp+starttls://$H:$MP_SMTP_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"smtps://$H:$MP_SMTPS_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
	"imaps://$H:$MP_IMAPS_PORT"
	"pop3+starttls://$H:$MP_POP3_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
)

# The leaf's facts, read with Python's own decoder, for exact comparison.
"$MP_PY" - "$MP_SERVER_CERT" "$MP_ITEST_DIR/ca/ca.pem" >"$MP_WORK/cert.json" <<'EOF'
import json, ssl, subprocess, sys
leaf = ssl._ssl._test_decode_cert(sys.argv[1])
serial = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", sys.argv[1]],
                        capture_output=True, text=True, check=True).stdout
json.dump({"notBefore": leaf["notBefore"], "notAfter": leaf["notAfter"],
           "serial": serial.strip().split("=", 1)[1]}, sys.stdout)
EOF

# ---------------------------------------------------------------------------
# 1. The seven endpoints by URL, from 127.0.0.2 (so Dovecot sees a "remote"
#    client and hides plaintext auth before TLS), JSON, verified against MP_CA.
J=$MP_WORK/all.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 "${URLS[@]}"
mp_expect_rc 0
mp_validate "$J"

pyeq "$J" 'r["schema_version"]' '"1.4"' "schema_version"
pyeq "$J" 'r["tool"]' '{"name": "mailprobe", "version": env["VERSION"]}' "tool name and version"
pyeq "$J" 'r["interrupted"]' 'False' "interrupted"
pyassert "$J" 'isinstance(r["duration_ms"], int) and r["duration_ms"] >= max(x["timings_ms"]["total"] for x in results)' \
	"duration_ms covers every endpoint's total"
pyeq "$J" 'r["options"]["source"]' '"127.0.0.2"' "options.source"
pyeq "$J" 'r["options"]["tls"]["cafile"]' 'env["MP_CA"]' "options.tls.cafile"
pyeq "$J" 'r["options"]["transcript"]' 'False' "options.transcript"
pyeq "$J" 'r["options"]["targets"]' "$("$MP_PY" -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${URLS[@]}")" \
	"options.targets are the URLs as given"
pyeq "$J" 'len(results)' '7' "one result per URL"
pyeq "$J" 'sorted((x["protocol"], x["port"], x["mode"]) for x in results)' \
	'sorted([("smtp", int(env["MP_SMTP_PORT"]), "starttls"),
	         ("smtp", int(env["MP_SUBMISSION_PORT"]), "starttls"),
	         ("smtp", int(env["MP_SMTPS_PORT"]), "tls"),
	         ("imap", int(env["MP_IMAP_PORT"]), "starttls"),
	         ("imap", int(env["MP_IMAPS_PORT"]), "tls"),
	         ("pop3", int(env["MP_POP3_PORT"]), "starttls"),
	         ("pop3", int(env["MP_POP3S_PORT"]), "tls")])' "the endpoints probed"
pyeq "$J" '[(x["port"], x["status"], x["error"]) for x in results if x["status"] != "ok" or x["error"] is not None]' \
	'[]' "every endpoint ok, without error"
pyeq "$J" 'set((x["host"], x["address"]) for x in results)' '{("127.0.0.1", "127.0.0.1")}' \
	"host and address"
pyeq "$J" '[x["proxy"] for x in results]' '[None] * 7' "no proxy"
pyeq "$J" '[x["port"] for x in results if "transcript" in x]' '[]' \
	"no transcript without --transcript"
pyeq "$J" 'r["summary"]["total"], r["summary"]["answered"], r["summary"]["by_status"]' \
	'7, 7, {"ok": 7}' "summary counts"
pyeq "$J" 'rec()' \
	'{"smtp": {"host": "127.0.0.1", "port": int(env["MP_SMTPS_PORT"]), "mode": "tls", "proxy": None},
	  "imap": {"host": "127.0.0.1", "port": int(env["MP_IMAPS_PORT"]), "mode": "tls", "proxy": None},
	  "pop3": {"host": "127.0.0.1", "port": int(env["MP_POP3S_PORT"]), "mode": "tls", "proxy": None}}' \
	"recommended: implicit TLS first (RFC 8314 3)"
pyassert "$J" 'r["summary"]["recommended"]["smtp"]["reason"].startswith("verified certificate, TLSv1.3, implicit TLS, direct")' \
	"recommended: the reason says why"

# Timings: every stage but the proxy ones reached, none longer than the total.
pyeq "$J" '[(x["port"], k) for x in results for k in ("connect", "greeting", "tls", "total")
	    if not isinstance(x["timings_ms"][k], int) or x["timings_ms"][k] < 0]' '[]' \
	"connect, greeting, tls and total timings are set"
pyeq "$J" '[x["port"] for x in results if x["timings_ms"]["proxy_connect"] is not None
	    or x["timings_ms"]["proxy_handshake"] is not None]' '[]' "no proxy timings"
pyeq "$J" '[x["port"] for x in results
	    if max(v for v in x["timings_ms"].values() if v is not None) > x["timings_ms"]["total"]]' \
	'[]' "no stage longer than the total"

# TLS: TLS 1.3 (what OpenSSL 3 in Postfix and Dovecot negotiates with us;
# check: openssl s_client -connect 127.0.0.1:PORT -brief), verified against
# MP_CA, 127.0.0.1 matched by the leaf's IP SAN (RFC 6125 6.2.1 / RFC 9525).
pyeq "$J" '[(x["port"], x["tls"] and x["tls"]["version"]) for x in results]' \
	'[(x["port"], "TLSv1.3") for x in results]' "TLS version"
pyeq "$J" '[(x["port"], x["tls"]["verified"], x["tls"]["verify_error"], x["tls"]["hostname_matched"])
	    for x in results]' '[(x["port"], True, None, True) for x in results]' \
	"certificate verified, no verify error, host name matched"
pyeq "$J" '[x["port"] for x in results if not x["tls"]["cipher"] or not x["tls"]["group"]]' '[]' \
	"cipher and key exchange group named"
# RFC 6066 3: no IP literal in server_name.
pyeq "$J" '[x["tls"]["sni"] for x in results]' '[None] * 7' "no SNI sent for an IP address"

# The certificate, compared with the leaf servers.sh made.
pyeq "$J" '[x["port"] for x in results if x["tls"]["chain"][:1] != [x["tls"]["certificate"]]]' '[]' \
	"tls.certificate is chain[0]"
C='R("smtp", env["MP_SMTPS_PORT"])["tls"]["certificate"]'
pyassert "$J" "re.search(r'CN\s*=\s*mail\.test', ${C}['subject'])" "leaf subject names CN=mail.test"
pyassert "$J" "re.search(r'O\s*=\s*mailprobe tests', ${C}['subject'])" "leaf subject names O=mailprobe tests"
pyassert "$J" "re.search(r'CN\s*=\s*mailprobe test CA', ${C}['issuer'])" "leaf issuer is the test CA"
pyeq "$J" "sorted(re.sub(r'^(DNS|IP|IP Address|email|URI):\s*', '', s) for s in ${C}['san'])" \
	'["127.0.0.1", "::1", "localhost", "mail.test"]' "leaf subjectAltName"
pyeq "$J" "re.sub(r'[^0-9a-f]', '', ${C}['serial'].lower()).lstrip('0')" \
	"json.load(open(env['MP_WORK'] + '/cert.json'))['serial'].lower().lstrip('0')" "leaf serial"
pyeq "$J" "(${C}['key_type'].upper(), ${C}['key_bits'])" '("RSA", 2048)' "leaf key"
pyassert "$J" "re.search(r'sha-?256', ${C}['signature_algorithm'], re.I) and re.search(r'rsa', ${C}['signature_algorithm'], re.I)" \
	"leaf signature algorithm is SHA-256 with RSA"
pyassert "$J" "${C}['days_left'] in (364, 365)" "leaf days_left (valid for 365 days from today)"
# not_before / not_after: whatever the format, the same instant as the leaf's.
pyeq "$J" "epoch(${C}['not_before'])" "epoch(jload(env['MP_WORK'] + '/cert.json')['notBefore'])" \
	"leaf not_before"
pyeq "$J" "epoch(${C}['not_after'])" "epoch(jload(env['MP_WORK'] + '/cert.json')['notAfter'])" \
	"leaf not_after"
pyeq "$J" '[x["port"] for x in results if any(not re.search(r"CN\s*=\s*mail(probe test CA|\.test)\b", c["subject"]) for c in x["tls"]["chain"])]' \
	'[]' "the chain holds only the leaf and the test CA"

# Greetings, as the servers send them (smtpd_banner; Dovecot's default).
pyeq "$J" '[x["port"] for x in results if x["protocol"] == "smtp"
	    and not re.fullmatch(r"(220[ -])?mail\.test ESMTP mailprobe-itest", x["greeting"] or "")]' \
	'[]' "SMTP greeting is Postfix's banner"
pyeq "$J" '[x["port"] for x in results if x["protocol"] == "imap"
	    and not re.fullmatch(r"(\* OK )?(\[CAPABILITY [^]]*\] )?Dovecot \(Debian\) ready\.", x["greeting"] or "")]' \
	'[]' "IMAP greeting is Dovecot's"
pyeq "$J" '[x["port"] for x in results if x["protocol"] == "pop3"
	    and not re.fullmatch(r"(\+OK )?Dovecot \(Debian\) ready\.", x["greeting"] or "")]' \
	'[]' "POP3 greeting is Dovecot's"

# STARTTLS / STLS advertised on the plaintext ports only.
pyeq "$J" 'sorted((x["port"], x["starttls_offered"]) for x in results)' \
	'sorted([(x["port"], x["mode"] == "starttls") for x in results])' "starttls_offered"
# Implicit TLS has no "before TLS"; every handshake completed, so after_tls is set.
pyeq "$J" '[(x["port"], w) for x in results for w in ("capabilities", "auth_mechanisms")
	    if (x[w]["before_tls"] is None) != (x["mode"] == "tls") or x[w]["after_tls"] is None]' \
	'[]' "before_tls null exactly in implicit TLS mode; after_tls always set"

# SMTP (Postfix 3.7, RFC 5321 4.1.1.1 EHLO; RFC 3207 STARTTLS; RFC 1870 SIZE).
SMTP_EXT='["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"]'
SMTP_EXT_TLS='["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"]'
SMTP_AUTH_CAP='"AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256"'
MECHS='["CRAM-MD5", "LOGIN", "PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"]'
S='R("smtp", env["MP_SMTP_PORT"])'
pyeq "$J" "caps($S, 'before')" "$SMTP_EXT" "port 25-style: EHLO extensions before TLS"
pyeq "$J" "caps($S, 'after')" "$SMTP_EXT_TLS" "port 25-style: EHLO extensions after TLS (no STARTTLS)"
pyeq "$J" "(auth($S, 'before'), auth($S, 'after'))" '([], [])' "port 25-style: no AUTH at all"
pyeq "$J" "codes($S)" 'set()' "port 25-style: no findings"
S='R("smtp", env["MP_SUBMISSION_PORT"])'
pyeq "$J" "caps($S, 'before')" "$SMTP_EXT" "submission: EHLO extensions before TLS, no AUTH"
pyeq "$J" "[c for c in caps($S, 'after') if not c.startswith('AUTH')]" "$SMTP_EXT_TLS" \
	"submission: EHLO extensions after TLS"
pyeq "$J" "[c for c in caps($S, 'after') if c.startswith('AUTH')]" "[$SMTP_AUTH_CAP]" \
	"submission: the AUTH extension after TLS (RFC 4954 3)"
pyeq "$J" "auth($S, 'before')" '[]' "submission: no AUTH before TLS (smtpd_tls_auth_only)"
pyeq "$J" "sorted(auth($S, 'after'))" "$MECHS" "submission: SASL mechanisms after TLS"
pyeq "$J" "codes($S)" 'set()' "submission: no findings"
S='R("smtp", env["MP_SMTPS_PORT"])'
pyeq "$J" "[c for c in caps($S, 'after') if not c.startswith('AUTH')]" "$SMTP_EXT_TLS" \
	"smtps: EHLO extensions"
pyeq "$J" "sorted(auth($S, 'after'))" "$MECHS" "smtps: SASL mechanisms"
pyeq "$J" "codes($S)" 'set()' "smtps: no findings"

# IMAP (Dovecot 2.3; RFC 3501 6.1.1 CAPABILITY, 6.2.3 LOGINDISABLED, 7.2.1 AUTH=).
IMAP_CAPS='["ENABLE", "ID", "IDLE", "IMAP4REV1", "LITERAL+", "LOGIN-REFERRALS", "SASL-IR"]'
I='R("imap", env["MP_IMAP_PORT"])'
pyeq "$J" "sorted(set(c for c in caps($I, 'before') if not c.startswith('AUTH=')))" \
	"sorted($IMAP_CAPS + ['LOGINDISABLED', 'STARTTLS'])" "imap: capabilities before TLS"
pyeq "$J" "sorted(auth($I, 'before'))" '["CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]' \
	"imap: only challenge-response mechanisms before TLS"
pyeq "$J" "sorted(set(c for c in caps($I, 'after') if not c.startswith('AUTH=')))" "$IMAP_CAPS" \
	"imap: capabilities after TLS (no STARTTLS, no LOGINDISABLED)"
pyeq "$J" "sorted(auth($I, 'after'))" "$MECHS" "imap: AUTH=PLAIN and the rest after TLS"
pyassert "$J" "'login_disabled_before_tls' in codes($I)" "imap: finding login_disabled_before_tls"
pyeq "$J" "codes($I) - {'login_disabled_before_tls', 'auth_before_tls'}" 'set()' \
	"imap: no other findings"
I='R("imap", env["MP_IMAPS_PORT"])'
pyeq "$J" "sorted(set(c for c in caps($I, 'after') if not c.startswith('AUTH=')))" "$IMAP_CAPS" \
	"imaps: capabilities"
pyeq "$J" "sorted(auth($I, 'after'))" "$MECHS" "imaps: mechanisms"
pyeq "$J" "codes($I)" 'set()' "imaps: no findings"

# POP3 (Dovecot 2.3; RFC 2449 CAPA, RFC 2595 4 STLS, RFC 5034 SASL).
POP3_CAPS='["AUTH-RESP-CODE", "CAPA", "PIPELINING", "RESP-CODES", "SASL", "TOP", "UIDL"]'
P='R("pop3", env["MP_POP3_PORT"])'
pyeq "$J" "sorted(cap_words($P, 'before'))" "sorted($POP3_CAPS + ['STLS'])" "pop3: CAPA before TLS"
pyeq "$J" "sorted(cap_words($P, 'after'))" "sorted($POP3_CAPS + ['USER'])" \
	"pop3: CAPA after TLS (USER appears, STLS goes)"
pyeq "$J" "[c for c in caps($P, 'after') if c.startswith('SASL')]" \
	'["SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256"]' "pop3: SASL line after TLS"
pyeq "$J" "sorted(auth($P, 'before'))" '["CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]' \
	"pop3: only challenge-response mechanisms before TLS"
pyeq "$J" "sorted(set(auth($P, 'after')) - {'USER'})" "$MECHS" "pop3: SASL mechanisms after TLS"
pyeq "$J" "codes($P) - {'auth_before_tls'}" 'set()' "pop3: no other findings"
P='R("pop3", env["MP_POP3S_PORT"])'
pyeq "$J" "sorted(cap_words($P, 'after'))" "sorted($POP3_CAPS + ['USER'])" "pop3s: CAPA"
pyeq "$J" "sorted(set(auth($P, 'after')) - {'USER'})" "$MECHS" "pop3s: SASL mechanisms"
pyeq "$J" "codes($P)" 'set()' "pop3s: no findings"
mp_note "7 endpoints: statuses, TLS, certificate, capabilities and findings as expected"

# ---------------------------------------------------------------------------
# 2. The same IMAP port from 127.0.0.1: Dovecot counts a client on its own
#    address as secured and offers plaintext LOGIN/PLAIN before TLS.
J=$MP_WORK/imap-local.json
mp_json "$J" --cafile "$MP_CA" "imap+starttls://$H:$MP_IMAP_PORT"
mp_expect_rc 0
mp_validate "$J"
I='R("imap", env["MP_IMAP_PORT"])'
pyeq "$J" "${I}['status']" '"ok"' "imap from 127.0.0.1: status"
pyeq "$J" "r['options']['source']" 'None' "options.source without --source"
pyeq "$J" "sorted(auth($I, 'before'))" "$MECHS" "imap from 127.0.0.1: all mechanisms before TLS"
pyeq "$J" "'LOGINDISABLED' in caps($I, 'before')" 'False' "imap from 127.0.0.1: no LOGINDISABLED"
pyeq "$J" "sorted(codes($I))" '["auth_before_tls"]' "imap from 127.0.0.1: finding auth_before_tls"

# ---------------------------------------------------------------------------
# 3. A matrix on a host name: --protocols smtp --ports A,B --modes starttls,plain
J=$MP_WORK/matrix.json
mp_json "$J" --cafile "$MP_CA" --protocols smtp --ports "$MP_SMTP_PORT,$MP_SUBMISSION_PORT" \
	--modes starttls,plain "$H"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'sorted((x["protocol"], x["port"], x["mode"], x["status"]) for x in results)' \
	'sorted([("smtp", int(env[p]), m, "ok") for p in ("MP_SMTP_PORT", "MP_SUBMISSION_PORT")
	         for m in ("plain", "starttls")])' "matrix: 2 ports x 2 modes, all ok"
pyeq "$J" 'sorted(r["options"]["ports"]), sorted(r["options"]["modes"]), r["options"]["protocols"]' \
	'sorted([int(env["MP_SMTP_PORT"]), int(env["MP_SUBMISSION_PORT"])]), ["plain", "starttls"], ["smtp"]' \
	"matrix: options echo the matrix"
pyeq "$J" '[(x["port"], x["tls"], x["capabilities"]["after_tls"]) for x in results if x["mode"] == "plain"]' \
	'[(x["port"], None, None) for x in results if x["mode"] == "plain"]' "plain mode: no TLS"
pyeq "$J" '[(x["port"], x["starttls_offered"], "STARTTLS" in caps(x, "before"), sorted(codes(x)))
	    for x in results if x["mode"] == "plain"]' \
	'[(x["port"], True, True, []) for x in results if x["mode"] == "plain"]' \
	"plain mode: STARTTLS seen, no plaintext_only finding"
pyeq "$J" '[(x["port"], x["tls"]["version"]) for x in results if x["mode"] == "starttls"]' \
	'[(x["port"], "TLSv1.3") for x in results if x["mode"] == "starttls"]' "starttls mode: TLS"
# Which of the two ports is "submission" mailprobe cannot know (neither is 587);
# what it must do is prefer STARTTLS to plain.
pyeq "$J" 'r["summary"]["recommended"]["smtp"]["mode"], r["summary"]["recommended"]["imap"], r["summary"]["recommended"]["pop3"]' \
	'"starttls", None, None' "matrix: STARTTLS recommended over plain"
pyeq "$J" 'r["summary"]["recommended"]["smtp"]["port"] in (int(env["MP_SMTP_PORT"]), int(env["MP_SUBMISSION_PORT"]))' \
	'True' "matrix: a probed port recommended"

# ---------------------------------------------------------------------------
# 4. Auto mode: --auto imap on the two IMAP ports; implicit TLS wins.
J=$MP_WORK/auto-imap.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --greeting-timeout 500 --auto imap \
	--ports "$MP_IMAP_PORT,$MP_IMAPS_PORT" "$H"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'r["options"]["auto"]' '"imap"' "options.auto"
pyeq "$J" 'set(x["protocol"] for x in results)' '{"imap"}' "auto imap probes IMAP only"
pyeq "$J" 'set(x["port"] for x in results) <= {int(env["MP_IMAP_PORT"]), int(env["MP_IMAPS_PORT"])}' \
	'True' "auto imap probes only the given ports"
pyeq "$J" 'R("imap", env["MP_IMAPS_PORT"], "tls")["status"]' '"ok"' "auto: imaps probed and ok"
pyeq "$J" '[(x["port"], x["mode"], x["status"]) for x in results if x["status"] == "ok"]' \
	'[(int(env["MP_IMAPS_PORT"]), "tls", "ok")]' "auto: stops at the first that works"
pyeq "$J" 'rec()' \
	'{"smtp": None, "imap": {"host": "127.0.0.1", "port": int(env["MP_IMAPS_PORT"]), "mode": "tls", "proxy": None},
	  "pop3": None}' "auto imap: recommends imaps"

# Only the implicit-TLS port works in TLS mode, whatever order the ports are tried in.
J=$MP_WORK/auto-smtp.json
mp_json "$J" --cafile "$MP_CA" --greeting-timeout 500 --auto smtp \
	--ports "$MP_SMTP_PORT,$MP_SUBMISSION_PORT,$MP_SMTPS_PORT" "$H"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'rec("smtp")' \
	'{"host": "127.0.0.1", "port": int(env["MP_SMTPS_PORT"]), "mode": "tls", "proxy": None}' \
	"auto smtp: implicit TLS first (RFC 8314 3.3)"
pyeq "$J" '[(x["port"], x["mode"]) for x in results if x["status"] == "ok"]' \
	'[(int(env["MP_SMTPS_PORT"]), "tls")]' "auto smtp: stops at the first that works"

# A port that speaks plaintext with STARTTLS: STARTTLS is preferred to plain.
J=$MP_WORK/auto-pop3.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --greeting-timeout 500 --auto pop3 \
	--ports "$MP_POP3_PORT" "$H"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'rec("pop3")' \
	'{"host": "127.0.0.1", "port": int(env["MP_POP3_PORT"]), "mode": "starttls", "proxy": None}' \
	"auto pop3 on the plaintext port: STARTTLS, not plain"
pyeq "$J" '[(x["port"], x["mode"]) for x in results if x["status"] == "ok"]' \
	'[(int(env["MP_POP3_PORT"]), "starttls")]' "auto pop3: plain is not tried once STARTTLS works"
pyeq "$J" 'R("pop3", env["MP_POP3_PORT"], "tls")["status"]' '"tls_failed"' \
	"auto pop3: implicit TLS tried first, and failed"

# ---------------------------------------------------------------------------
# 5. Table format (the default): every endpoint listed, exit 0.
T=$MP_WORK/table.txt
mp_run "$T" --cafile "$MP_CA" --source 127.0.0.2 --color never "${URLS[@]}"
mp_expect_rc 0
[ -s "$T" ] || mp_fail "table: nothing on stdout"
head -c 1 "$T" | grep -q '{' && mp_fail "table: the default format printed JSON"
grep -q $'\e\[' "$T" && mp_fail "table: --color never printed ANSI escapes"
for p in $MP_SMTP_PORT $MP_SUBMISSION_PORT $MP_SMTPS_PORT $MP_IMAP_PORT $MP_IMAPS_PORT \
	$MP_POP3_PORT $MP_POP3S_PORT; do
	grep -E "(^|[^0-9])$p([^0-9]|$)" "$T" | grep -qiwE 'ok' ||
		{ cat "$T" >&2; mp_fail "table: no line with port $p and status ok"; }
done
for w in smtp imap pop3 TLSv1.3; do
	grep -qi -- "$w" "$T" || { cat "$T" >&2; mp_fail "table: does not mention $w"; }
done
# the format flag spelled out gives the same kind of output
mp_run "$MP_WORK/table2.txt" --format table --cafile "$MP_CA" --color never "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
grep -E "(^|[^0-9])$MP_SMTPS_PORT([^0-9]|$)" "$MP_WORK/table2.txt" | grep -qiw ok ||
	mp_fail "--format table: no line with port $MP_SMTPS_PORT and ok"

# ---------------------------------------------------------------------------
# 6. --transcript: the EHLO / STARTTLS / EHLO exchange, in order.
J=$MP_WORK/transcript.json
mp_json "$J" --cafile "$MP_CA" --transcript "smtp+starttls://$H:$MP_SUBMISSION_PORT"
mp_expect_rc 0
mp_validate "$J"
X='R("smtp", env["MP_SUBMISSION_PORT"])["transcript"]'
pyeq "$J" 'r["options"]["transcript"]' 'True' "options.transcript"
pyassert "$J" "len($X) >= 6" "transcript has the whole conversation"
pyeq "$J" "[e['text'] for e in $X if e['dir'] == 'S'][:1]" '["220 mail.test ESMTP mailprobe-itest"]' \
	"transcript starts with the greeting"
pyeq "$J" "[e['text'].split(' ')[0].upper() for e in $X if e['dir'] == 'C'][:4]" \
	'["EHLO", "STARTTLS", "EHLO", "QUIT"]' "client commands: EHLO, STARTTLS, EHLO, QUIT"
pyassert "$J" "any(e['dir'] == 'S' and re.match(r'250[- ]STARTTLS', e['text']) for e in $X)" \
	"the first EHLO reply offers STARTTLS"
pyassert "$J" "any(e['dir'] == 'S' and e['text'].startswith('220 2.0.0') for e in $X)" \
	"the STARTTLS go-ahead is recorded"
pyassert "$J" "any(e['dir'] == 'S' and re.match(r'250[- ]AUTH PLAIN LOGIN', e['text']) for e in $X)" \
	"the second EHLO reply offers AUTH"
pyassert "$J" "all(isinstance(e['at_ms'], int) and e['at_ms'] >= 0 for e in $X)" "at_ms set"
pyassert "$J" "all(a['at_ms'] <= b['at_ms'] for a, b in zip($X, ${X}[1:]))" "at_ms never goes back"

# ---------------------------------------------------------------------------
# 7. --compact: one line; -o FILE: the report goes to the file, not stdout.
J=$MP_WORK/compact.json
mp_json "$J" --compact --cafile "$MP_CA" "pop3s://$H:$MP_POP3S_PORT"
mp_expect_rc 0
[ "$(wc -l <"$J")" -le 1 ] || mp_fail "--compact printed $(wc -l <"$J") lines"
pyeq "$J" 'R("pop3", env["MP_POP3S_PORT"])["status"]' '"ok"' "--compact: pop3s ok"

O=$MP_WORK/out-file.json
rm -f "$O"
mp_run "$MP_WORK/o.stdout" --format json -o "$O" --cafile "$MP_CA" "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
[ ! -s "$MP_WORK/o.stdout" ] || mp_fail "-o FILE: the report still went to stdout"
[ -s "$O" ] || mp_fail "-o FILE: $O was not written"
mp_validate "$O"
pyeq "$O" '[(x["port"], x["status"]) for x in results]' '[(int(env["MP_SMTPS_PORT"]), "ok")]' \
	"-o FILE: the report in the file"
rm -f "$O"
mp_run "$MP_WORK/o2.stdout" --format json --output "$O" --cafile "$MP_CA" "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
if [ ! -s "$O" ] || [ -s "$MP_WORK/o2.stdout" ]; then
	mp_fail "--output FILE: not written to the file"
fi

# ---------------------------------------------------------------------------
# 8. IPv6: the servers listen on ::1 too (servers.sh). An IP literal in
#    brackets, verified by the leaf's IP:::1 SAN; "localhost", which a
#    standard Debian /etc/hosts maps to ::1 first, then 127.0.0.1.
if [ "${MP_IPV6:-0}" = 1 ]; then
	J=$MP_WORK/ipv6.json
	mp_json "$J" --cafile "$MP_CA" "smtps://[::1]:$MP_SMTPS_PORT" \
		"imaps://[::1]:$MP_IMAPS_PORT" "pop3+starttls://[::1]:$MP_POP3_PORT" \
		"smtp+starttls://localhost:$MP_SMTP_PORT" "imaps://localhost:$MP_IMAPS_PORT"
	mp_expect_rc 0
	mp_validate "$J"
	pyeq "$J" 'sorted((x["host"], x["port"], x["status"], x["error"], x["address"]) for x in results
		    if x["host"] == "::1")' \
		'sorted(("::1", int(env[p]), "ok", None, "::1")
		  for p in ("MP_SMTPS_PORT", "MP_IMAPS_PORT", "MP_POP3_PORT"))' \
		"[::1]: smtps, imaps and pop3+starttls ok, connected to ::1"
	pyeq "$J" '[(x["host"], x["tls"]["verified"], x["tls"]["verify_error"], x["tls"]["hostname_matched"],
		     x["tls"]["version"]) for x in results]' \
		'[(x["host"], True, None, True, "TLSv1.3") for x in results]' \
		"[::1] and localhost: TLS 1.3, certificate verified for the IP and the name"
	LOCALHOST_ADDRS=$("$MP_PY" -c 'import socket
print(" ".join(sorted({a[4][0] for a in socket.getaddrinfo("localhost", 25, type=socket.SOCK_STREAM)})))')
	export LOCALHOST_ADDRS
	# every address of the name is its own result (a standard Debian's
	# localhost is 127.0.0.1 and ::1; some machines list only the first)
	pyeq "$J" 'sorted((x["port"], x["status"], x["address"]) for x in results if x["host"] == "localhost")' \
		'sorted((int(env[p]), "ok", a) for p in ("MP_SMTP_PORT", "MP_IMAPS_PORT") for a in env["LOCALHOST_ADDRS"].split())' \
		"localhost: ok at every one of its addresses ($LOCALHOST_ADDRS)"
	mp_note "IPv6: [::1] and localhost verified"
else
	mp_note "no IPv6 loopback on this machine: IPv6 endpoints not tested"
fi

echo "PASS: $MP_TEST"
