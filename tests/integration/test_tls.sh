#!/bin/bash
# test_tls.sh - TLS in depth against real servers: which versions each
# endpoint accepts (--enumerate-tls), the certificate chain, verification and
# its reasons, the findings, --tls-versions. Every verdict is cross-checked
# with `openssl s_client` (and the certificates with `openssl x509`), never
# typed in.
#
# Servers: the Postfix and Dovecot of servers.sh (TLS 1.2-1.3), and
# tlsservers.sh: one stunnel in front of Postfix's plaintext SMTP port, a
# service per edge case (TLS 1.0-1.1 only at security level 0, 1.2 only,
# 1.3 only, expired, wrong name, incomplete chain and its complete control,
# self-signed, RSA 1024).
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

CASES=(LEGACY TLS12 TLS13 EXPIRED WRONGNAME INCOMPLETE FULLCHAIN SELFSIGNED WEAKKEY BIGCERT)
# every edge case is implicit TLS in front of SMTP
EDGE_URLS=()
for c in "${CASES[@]}"; do
	v=MP_TLS_${c}_PORT
	EDGE_URLS+=("smtps://$H:${!v}")
done
REAL_URLS=(
	"smtp+starttls://$H:$MP_SMTP_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"smtps://$H:$MP_SMTPS_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
	"imaps://$H:$MP_IMAPS_PORT"
	"pop3+starttls://$H:$MP_POP3_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
)

# s_client_accepts PORT VERSION_FLAG [STARTTLS_PROTO]: 0 when openssl s_client
# completes a handshake restricted to that version (at security level 0, so
# that OpenSSL itself does not refuse TLS 1.0/1.1).
s_client_accepts() {
	local out proto
	out=$(timeout 10 openssl s_client -brief -connect "$H:$1" "$2" -cipher 'DEFAULT:@SECLEVEL=0' \
		${3:+-starttls "$3"} -servername mail.test </dev/null 2>&1 | tr -d '\000') || return 1
	proto=$(sed -n 's/^Protocol version: *//p' <<<"$out" | head -n 1)
	[ "$proto" = "$(flag_version "$2")" ]
}

flag_version() {
	case "$1" in
	-tls1) echo TLSv1 ;;
	-tls1_1) echo TLSv1.1 ;;
	-tls1_2) echo TLSv1.2 ;;
	-tls1_3) echo TLSv1.3 ;;
	esac
}

# What s_client says of each version on PORT, as the JSON list of accepted
# names in mailprobe's spelling; SSLv3 is never accepted here (no OpenSSL 3
# on either side has it), which mailprobe must also say.
s_client_versions() {
	local port=$1 starttls=${2:-} f names=()
	for f in -tls1 -tls1_1 -tls1_2 -tls1_3; do
		if s_client_accepts "$port" "$f" "$starttls"; then
			case "$f" in
			-tls1) names+=('"TLSv1.0"') ;;
			*) names+=("\"$(flag_version "$f")\"") ;;
			esac
		fi
	done
	local IFS=,
	echo "[${names[*]}]"
}

# s_client's verification of PORT against MP_CA for the name mail.test:
# its X509_V_ERR code (0 = ok). OpenSSL's own default range starts at TLS
# 1.2, so a legacy server is asked again with -tls1_1.
s_client_verify_code() {
	local f code
	for f in "" -tls1_1; do
		code=$(timeout 10 openssl s_client -connect "$H:$1" ${f:+"$f"} -CAfile "$MP_CA" \
			-verify_hostname mail.test -servername mail.test -cipher 'DEFAULT:@SECLEVEL=0' \
			</dev/null 2>/dev/null | sed -n 's/^ *Verify return code: \([0-9]*\).*/\1/p' |
			head -n 1)
		[ -n "$code" ] && break
	done
	echo "$code"
}

ACC='[v["version"] for v in (%s)["tls_versions"] if v["accepted"]]'

# ---------------------------------------------------------------------------
# 1. The edge cases, enumerated, verified against the test CA for mail.test.
J=$MP_WORK/edge.json
mp_json "$J" --cafile "$MP_CA" --sni mail.test --enumerate-tls --cert-warn-days 14 "${EDGE_URLS[@]}"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" 'r["options"]["tls"]["enumerate"]' 'True' "options.tls.enumerate"
pyeq "$J" '[(x["port"], x["status"]) for x in results if x["status"] != "ok"]' '[]' \
	"every edge case completes an SMTP conversation over TLS"
pyeq "$J" '[x["port"] for x in results if [v["version"] for v in x["tls_versions"]] !=
	    ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]]' '[]' \
	"tls_versions: the five versions, oldest first"
pyeq "$J" '[(x["port"], v["version"]) for x in results for v in x["tls_versions"]
	    if not v["detail"] or (v["detail"].startswith("no verdict"))]' '[]' \
	"every attempt came to a verdict and says why"

# versions: exactly what s_client can negotiate, version by version
for c in "${CASES[@]}"; do
	v=MP_TLS_${c}_PORT
	port=${!v}
	want=$(s_client_versions "$port")
	pyeq "$J" "$(printf "$ACC" "R('smtp', $port)")" "$want" \
		"$c: versions accepted = what openssl s_client negotiates ($want)"
done
pyeq "$J" "$(printf "$ACC" 'R("smtp", env["MP_TLS_LEGACY_PORT"])')" '["TLSv1.0", "TLSv1.1"]' \
	"legacy: TLS 1.0 and 1.1 (the hand-built hello and wolfSSL)"
pyeq "$J" "$(printf "$ACC" 'R("smtp", env["MP_TLS_TLS12_PORT"])')" '["TLSv1.2"]' "1.2 only"
pyeq "$J" "$(printf "$ACC" 'R("smtp", env["MP_TLS_TLS13_PORT"])')" '["TLSv1.3"]' "1.3 only"
pyassert "$J" 'all(v["detail"].startswith("TLS_") for x in results for v in x["tls_versions"] if v["accepted"])' \
	"an accepted version names its cipher (IANA)"
pyassert "$J" 'all(("alert" in v["detail"] or "closed" in v["detail"] or "instead" in v["detail"])
	for x in results for v in x["tls_versions"] if not v["accepted"])' \
	"a refused version says how (alert, hang-up, other version)"

# the negotiated session: the widest range by default, so the legacy server
# is reached (TLS 1.1) and flagged, not failed
pyeq "$J" 'R("smtp", env["MP_TLS_LEGACY_PORT"])["tls"]["version"]' '"TLSv1.1"' \
	"legacy: negotiated TLS 1.1"
pyassert "$J" '{"legacy_tls_version", "legacy_tls_accepted"} <= codes(R("smtp", env["MP_TLS_LEGACY_PORT"]))' \
	"legacy: negotiated and accepted legacy versions flagged"
pyeq "$J" 'sorted(x["port"] for x in results if "legacy_tls_accepted" in codes(x))' \
	'sorted([int(env["MP_TLS_LEGACY_PORT"]), int(env["MP_TLS_WEAKKEY_PORT"])])' \
	"legacy_tls_accepted exactly where TLS 1.0/1.1 was accepted"
pyeq "$J" 'R("smtp", env["MP_TLS_TLS12_PORT"])["tls"]["version"]' '"TLSv1.2"' "1.2 only: negotiated 1.2"
pyeq "$J" 'R("smtp", env["MP_TLS_TLS13_PORT"])["tls"]["version"]' '"TLSv1.3"' "1.3 only: negotiated 1.3"

# verification: each reason, and s_client's verdict on the same server
# (X509_V_ERR: 0 ok, 10 expired, 62 hostname mismatch, 20/21 unknown issuer,
# 18 self-signed)
declare -A REASON=([0]="" [10]=expired [62]=name_mismatch [20]=unknown_issuer [21]=unknown_issuer
	[18]=self_signed [19]=self_signed)
for c in "${CASES[@]}"; do
	v=MP_TLS_${c}_PORT
	port=${!v}
	code=$(s_client_verify_code "$port")
	[ -n "$code" ] || mp_fail "$c: no verify code from openssl s_client"
	[ -n "${REASON[$code]+x}" ] || mp_fail "$c: unexpected s_client verify code $code"
	want=${REASON[$code]}
	if [ -z "$want" ]; then
		pyeq "$J" "(lambda t: (t['verified'], t['hostname_matched'], t['verify_reasons']))(R('smtp', $port)['tls'])" \
			'(True, True, [])' "$c: verified like s_client (code 0)"
	else
		pyassert "$J" "'$want' in R('smtp', $port)['tls']['verify_reasons']" \
			"$c: verify_reasons holds $want, as s_client's code $code says"
	fi
done
T='R("smtp", env["MP_TLS_%s_PORT"])["tls"]'
pyeq "$J" "$(printf "$T" EXPIRED)['verify_reasons']" '["expired"]' "expired: the one reason"
pyeq "$J" "$(printf "$T" EXPIRED)['certificate']['not_after']" '"2020-02-01T00:00:00Z"' "expired: not_after"
pyassert "$J" "$(printf "$T" EXPIRED)['certificate']['days_left'] < -2000" "expired: days_left negative"
pyassert "$J" '"certificate_expired" in codes(R("smtp", env["MP_TLS_EXPIRED_PORT"]))' "expired: finding"
pyeq "$J" "(lambda t: (t['verified'], t['hostname_matched'], t['verify_reasons']))($(printf "$T" WRONGNAME))" \
	'(True, False, ["name_mismatch"])' "wrong name: chain fine, name not"
pyassert "$J" '"certificate_name_mismatch" in codes(R("smtp", env["MP_TLS_WRONGNAME_PORT"]))' \
	"wrong name: finding"
pyeq "$J" "(lambda t: (t['verified'], t['verify_reasons'], len(t['chain'])))($(printf "$T" INCOMPLETE))" \
	'(False, ["unknown_issuer"], 1)' "incomplete chain: unknown issuer, one certificate sent"
pyeq "$J" "(lambda t: (t['verified'], t['verify_reasons'], len(t['chain'])))($(printf "$T" FULLCHAIN))" \
	'(True, [], 2)' "complete chain: verified, two certificates sent"
pyassert "$J" '"certificate_not_verified" in codes(R("smtp", env["MP_TLS_INCOMPLETE_PORT"]))' \
	"incomplete chain: finding"
# An intermediate one server sent must not help another's chain: wolfSSL adds
# the intermediates a peer sends to its context's trusted store, so each
# handshake needs a context of its own (core/tls.c tls_start). One at a time,
# the complete chain first, in one process:
J2=$MP_WORK/chain-order.json
mp_json "$J2" --concurrency 1 --cafile "$MP_CA" --sni mail.test \
	"smtps://$H:$MP_TLS_FULLCHAIN_PORT" "smtps://$H:$MP_TLS_INCOMPLETE_PORT"
pyeq "$J2" '[(x["port"], x["tls"]["verified"]) for x in results]' \
	'[(int(env["MP_TLS_FULLCHAIN_PORT"]), True), (int(env["MP_TLS_INCOMPLETE_PORT"]), False)]' \
	"an intermediate seen in an earlier handshake does not complete a later chain"
pyeq "$J" "(lambda t: (t['verified'], t['verify_reasons'], t['certificate']['self_signed']))($(printf "$T" SELFSIGNED))" \
	'(False, ["self_signed"], True)' "self-signed leaf"
pyassert "$J" '{"certificate_self_signed", "certificate_not_verified"} <= codes(R("smtp", env["MP_TLS_SELFSIGNED_PORT"]))' \
	"self-signed: findings"
pyeq "$J" '[x["port"] for x in results if x["tls"]["certificate"]["self_signed"]]' \
	'[int(env["MP_TLS_SELFSIGNED_PORT"])]' "only the self-signed leaf is marked self_signed"
pyeq "$J" "($(printf "$T" WEAKKEY)['certificate']['key_type'], $(printf "$T" WEAKKEY)['certificate']['key_bits'])" \
	'("RSA", 1024)' "weak key: RSA 1024"
pyeq "$J" '[x["port"] for x in results if "weak_certificate_key" in codes(x)]' \
	'[int(env["MP_TLS_WEAKKEY_PORT"])]' "weak_certificate_key only for the RSA 1024 leaf"
pyeq "$J" '[x["port"] for x in results if "certificate_expiring" in codes(x)]' '[]' \
	"30-day leaves are not expiring with --cert-warn-days 14"
# A leaf over 2 KiB: wolfSSL's own copy of the peer chain skips such
# certificates; mailprobe keeps its own, so it is listed and verified.
big=$(openssl x509 -in "$TLSDIR/bigcert.pem" -outform DER | wc -c)
[ "$big" -gt 2048 ] || mp_fail "bigcert: the test leaf is only $big bytes"
pyeq "$J" "(lambda t: (t['verified'], t['hostname_matched'], len(t['chain']), len(t['certificate']['san'])))($(printf "$T" BIGCERT))" \
	'(True, True, 1, 61)' "a $big-byte leaf: verified, listed with its 61 names"

# the chain's certificates as openssl sees the files tlsservers.sh made
for c in "${CASES[@]}"; do
	lc=$(tr '[:upper:]' '[:lower:]' <<<"$c")
	fp=$(openssl x509 -in "$TLSDIR/$lc.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
		tr '[:upper:]' '[:lower:]')
	serial=$(openssl x509 -in "$TLSDIR/$lc.pem" -noout -serial | sed 's/.*=//')
	v=MP_TLS_${c}_PORT
	pyeq "$J" "R('smtp', ${!v})['tls']['certificate']['fingerprint_sha256']" "'$fp'" \
		"$c: leaf fingerprint = openssl x509 -fingerprint -sha256"
	pyeq "$J" "R('smtp', ${!v})['tls']['certificate']['serial'].lstrip('0')" "'$serial'.lstrip('0')" \
		"$c: leaf serial = openssl x509 -serial"
done

# the table shows the versions compactly
mp_run "$MP_WORK/edge.txt" --cafile "$MP_CA" --sni mail.test --enumerate-tls --color never \
	"smtps://$H:$MP_TLS_LEGACY_PORT" "smtps://$H:$MP_TLS_TLS13_PORT"
mp_expect_rc 0
grep -q "^TLS versions" "$MP_WORK/edge.txt" || mp_fail "table: no 'TLS versions' section"
grep -qE "$MP_TLS_LEGACY_PORT tls: accepts TLSv1.0 TLSv1.1; refuses SSLv3 TLSv1.2 TLSv1.3$" \
	"$MP_WORK/edge.txt" || mp_fail "table: legacy line wrong: $(grep "$MP_TLS_LEGACY_PORT tls:" "$MP_WORK/edge.txt")"
grep -qE "$MP_TLS_TLS13_PORT tls: accepts TLSv1.3; refuses SSLv3 TLSv1.0 TLSv1.1 TLSv1.2$" \
	"$MP_WORK/edge.txt" || mp_fail "table: 1.3-only line wrong"

# A TLS 1.0-only server: wolfSSL (1.1 at least) cannot connect, so the probe
# fails, but the enumeration's hand-built hello shows what the server takes.
J=$MP_WORK/tls10.json
mp_json "$J" --cafile "$MP_CA" --sni mail.test --enumerate-tls "smtps://$H:$MP_TLS_TLS10_PORT"
mp_validate "$J"
pyeq "$J" '(R("smtp", env["MP_TLS_TLS10_PORT"])["status"], R("smtp", env["MP_TLS_TLS10_PORT"])["tls"])' \
	'("tls_failed", None)' "TLS 1.0 only: the probe's handshake fails"
want=$(s_client_versions "$MP_TLS_TLS10_PORT")
pyeq "$J" "$(printf "$ACC" 'R("smtp", env["MP_TLS_TLS10_PORT"])')" "$want" \
	"TLS 1.0 only: versions = openssl s_client's ($want)"
pyeq "$J" "$(printf "$ACC" 'R("smtp", env["MP_TLS_TLS10_PORT"])')" '["TLSv1.0"]' "TLS 1.0 only"
pyassert "$J" '"legacy_tls_accepted" in codes(R("smtp", env["MP_TLS_TLS10_PORT"]))' \
	"TLS 1.0 only: flagged"

# ---------------------------------------------------------------------------
# 2. The real Postfix and Dovecot (min TLS 1.2): implicit TLS and STARTTLS
#    alike, each attempt a fresh connection with its own STARTTLS exchange.
J=$MP_WORK/real.json
mp_json "$J" --cafile "$MP_CA" --source 127.0.0.2 --enumerate-tls "${REAL_URLS[@]}"
mp_expect_rc 0
mp_validate "$J"
pyeq "$J" '[(x["port"], x["status"]) for x in results if x["status"] != "ok"]' '[]' "all ok"
for u in "${REAL_URLS[@]}"; do
	port=${u##*:}
	scheme=${u%%://*}
	proto=${scheme%%+*}
	proto=${proto%s}
	st=
	[ "$scheme" != "${scheme%+starttls}" ] && st=$proto
	want=$(s_client_versions "$port" "$st")
	pyeq "$J" "$(printf "$ACC" "R('$proto', $port)")" "$want" \
		"port $port${st:+ (STARTTLS $st)}: versions = openssl s_client's ($want)"
done
pyeq "$J" '[x["port"] for x in results if "legacy_tls_accepted" in codes(x)]' '[]' \
	"Postfix/Dovecot at TLS 1.2+: no legacy finding"
pyeq "$J" '[x["port"] for x in results if "starttls_certificate_differs" in codes(x)]' '[]' \
	"same certificate on STARTTLS and implicit TLS: no finding"
pyeq "$J" '[x["port"] for x in results if x["tls"]["certificate"]["fingerprint_sha256"] !=
	    results[0]["tls"]["certificate"]["fingerprint_sha256"]]' '[]' "one leaf everywhere"

# without --enumerate-tls, tls_versions is null
J=$MP_WORK/plain.json
mp_json "$J" --cafile "$MP_CA" "smtps://$H:$MP_SMTPS_PORT" "smtp+starttls://$H:$MP_SMTP_PORT"
mp_validate "$J"
pyeq "$J" '[x["tls_versions"] for x in results]' '[None, None]' "tls_versions null when not asked"
pyeq "$J" 'r["options"]["tls"]["enumerate"]' 'False' "options.tls.enumerate false"

# a plaintext-only endpoint and a port that refuses: not enumerated (null)
J=$MP_WORK/notls.json
mp_json "$J" --enumerate-tls --greeting-timeout 500 "smtp://$H:$MP_SMTP_PORT" \
	"smtps://$H:$MP_SMTP_PORT"
mp_validate "$J"
pyeq "$J" '[(x["mode"], x["tls_versions"]) for x in results]' '[("plain", None), ("tls", None)]' \
	"no enumeration for plain mode, nor for a port that answers TLS in plaintext"

# ---------------------------------------------------------------------------
# 3. A STARTTLS certificate unlike the implicit-TLS one on the same host.
J=$MP_WORK/differs.json
mp_json "$J" --cafile "$MP_CA" "smtp+starttls://$H:$MP_SMTP_PORT" "smtps://$H:$MP_TLS_TLS12_PORT"
mp_validate "$J"
pyassert "$J" '"starttls_certificate_differs" in codes(R("smtp", env["MP_SMTP_PORT"]))' \
	"STARTTLS certificate differs from the implicit-TLS one: finding"
pyassert "$J" '(R("smtp", env["MP_SMTP_PORT"])["tls"]["certificate"]["fingerprint_sha256"] !=
	R("smtp", env["MP_TLS_TLS12_PORT"])["tls"]["certificate"]["fingerprint_sha256"])' \
	"the two fingerprints differ indeed"
pyeq "$J" '"starttls_certificate_differs" in codes(R("smtp", env["MP_TLS_TLS12_PORT"]))' 'False' \
	"only the STARTTLS endpoint carries it"

# ---------------------------------------------------------------------------
# 3b. Through a SOCKS5 proxy (dante, tests/integration/proxies.sh) the
#     attempts take the same path as the probe and find the same versions.
PXSH=$MP_SRC/tests/integration/proxies.sh
if [ -f "$PXSH" ] && command -v danted >/dev/null; then
	PXDIR=$MP_WORK/proxies
	trap 'bash "$PXSH" stop "$PXDIR" || true; bash "$TLSSH" stop "$TLSDIR" || true' EXIT
	bash "$PXSH" start "$PXDIR" >/dev/null || mp_fail "proxies.sh could not start dante"
	PX=$(sed -n 's/^MP_PX_DANTE_PORT=//p' "$PXDIR/proxies.env")
	J=$MP_WORK/proxied.json
	mp_json "$J" --cafile "$MP_CA" --sni mail.test --enumerate-tls --proxy "socks5://$H:$PX" \
		"smtps://$H:$MP_TLS_LEGACY_PORT" "imap+starttls://$H:$MP_IMAP_PORT"
	mp_validate "$J"
	pyeq "$J" '[(x["port"], x["proxy"]["type"]) for x in results]' \
		'[(int(env["MP_TLS_LEGACY_PORT"]), "socks5"), (int(env["MP_IMAP_PORT"]), "socks5")]' \
		"both probed through the proxy"
	pyeq "$J" "$(printf "$ACC" 'R("smtp", env["MP_TLS_LEGACY_PORT"])')" '["TLSv1.0", "TLSv1.1"]' \
		"legacy through SOCKS5: TLS 1.0 and 1.1"
	pyeq "$J" "$(printf "$ACC" 'R("imap", env["MP_IMAP_PORT"])')" '["TLSv1.2", "TLSv1.3"]' \
		"IMAP STARTTLS through SOCKS5: TLS 1.2 and 1.3"
	bash "$PXSH" stop "$PXDIR" || true
else
	mp_note "no proxies.sh or danted: enumeration through a proxy not tested"
fi

# ---------------------------------------------------------------------------
# 4. --tls-versions: the range offered.
J=$MP_WORK/range.json
mp_json "$J" --cafile "$MP_CA" --sni mail.test --tls-versions 1.2,1.3 \
	"smtps://$H:$MP_TLS_LEGACY_PORT" "smtps://$H:$MP_TLS_TLS13_PORT"
mp_validate "$J"
pyeq "$J" '(r["options"]["tls"]["min_version"], r["options"]["tls"]["max_version"])' \
	'("TLSv1.2", "TLSv1.3")' "options.tls range"
pyeq "$J" 'R("smtp", env["MP_TLS_LEGACY_PORT"])["status"]' '"tls_failed"' \
	"a TLS 1.0-1.1 server fails with --tls-versions 1.2,1.3"
pyeq "$J" 'R("smtp", env["MP_TLS_TLS13_PORT"])["tls"]["version"]' '"TLSv1.3"' "1.3 still negotiated"
J=$MP_WORK/range12.json
mp_json "$J" --cafile "$MP_CA" --sni mail.test --tls-versions tls1.2 \
	"smtps://$H:$MP_TLS_TLS13_PORT" "smtps://$H:$MP_SMTPS_PORT"
pyeq "$J" 'R("smtp", env["MP_TLS_TLS13_PORT"])["status"]' '"tls_failed"' "1.2 only vs 1.3 only fails"
pyeq "$J" 'R("smtp", env["MP_SMTPS_PORT"])["tls"]["version"]' '"TLSv1.2"' \
	"1.2 only: Postfix negotiates 1.2"
J=$MP_WORK/range11.json
mp_json "$J" --cafile "$MP_CA" --sni mail.test --tls-versions 1.1 "smtps://$H:$MP_TLS_LEGACY_PORT"
pyeq "$J" 'R("smtp", env["MP_TLS_LEGACY_PORT"])["tls"]["version"]' '"TLSv1.1"' "1.1 only"
for bad in 1.0 ssl3 1.1,1.3 1.4 ""; do
	mp_run "$MP_WORK/bad.out" --tls-versions "$bad" "smtps://$H:$MP_SMTPS_PORT"
	mp_expect_rc 3
	mp_one_line_error "$MP_WORK/bad.out.err"
	case "$bad" in
	1.0) grep -q "no TLSv1.0 client" "$MP_WORK/bad.out.err" ||
		mp_fail "--tls-versions 1.0: the error should say why: $(cat "$MP_WORK/bad.out.err")" ;;
	1.1,1.3) grep -q "range" "$MP_WORK/bad.out.err" ||
		mp_fail "--tls-versions 1.1,1.3: the error should ask for a range" ;;
	esac
done

echo "test_tls: all checks passed"
