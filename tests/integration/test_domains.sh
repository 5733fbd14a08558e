#!/bin/bash
# test_domains.sh - domains: every address of a name, discovery (MX, SRV,
# autoconfig), MTA-STS, TLS-RPT, DNSSEC status, hostile DNS and HTTP answers.
# A private Knot (dns.sh) serves signed zones under .test on 127.0.0.1; a
# private HTTPS server (tests/fake/httpsd.py, certificate from the suite's CA)
# serves MTA-STS policies and autoconfig files. mailprobe always gets
# --resolver and --trust-anchor: it never asks the system's resolvers.
. "$(dirname "$0")/lib.sh"
mp_setup
command -v knotd >/dev/null || mp_skip "knotd is missing (Debian knot)"
command -v ldns-signzone >/dev/null || mp_skip "ldns-signzone is missing (Debian ldnsutils)"

FAKE=$MP_SRC/tests/fake
DNS=$MP_WORK/dns
WWW=$MP_WORK/www
mkdir -p "$DNS/zones" "$WWW"
PIDS=()
cleanup() {
	bash "$MP_SRC/tests/integration/dns.sh" stop "$DNS" >/dev/null 2>&1 || true
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# Waits (bounded) for a ready file.
wait_file() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	mp_fail "$1 did not appear"
}

# ---- a name whose IPv4 address works and whose IPv6 address black-holes ----
"$MP_PY" "$FAKE/halfdead.py" --target-port "$MP_SMTP_PORT" --ready-file "$MP_WORK/halfdead.port" &
PIDS+=($!)

# ---- the HTTPS server's certificate, from the suite's CA ----
HOSTS="mta-sts.good.test autoconfig.good.test mta-sts.stsmiss.test autoconfig.disagree.test
autoconfig.hugeac.test autoconfig.entity.test mta-sts.redir.test mta-sts.stshtml.test
mta-sts.ststwice.test mta-sts.ststall.test mta-sts.stsmany.test autoconfig.accomment.test
autoconfig.acbroken.test autoconfig.acsocket.test"
SAN=$(for h in $HOSTS; do printf 'DNS:%s,' "$h"; done)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=mta-sts.good.test" \
	-keyout "$MP_WORK/www.key" -out "$MP_WORK/www.csr" 2>/dev/null
printf 'subjectAltName=%s\n' "${SAN%,}" >"$MP_WORK/www.ext"
openssl x509 -req -in "$MP_WORK/www.csr" -CA "$MP_CA" -CAkey "$MP_CA_KEY" -CAcreateserial \
	-days 30 -extfile "$MP_WORK/www.ext" -out "$MP_WORK/www.pem" 2>/dev/null
for h in $HOSTS; do mkdir -p "$WWW/$h/.well-known" "$WWW/$h/mail"; done
printf 'version: STSv1\nmode: enforce\nmx: mail.test\nmax_age: 86400\n' \
	>"$WWW/mta-sts.good.test/.well-known/mta-sts.txt"
printf 'version: STSv1\nmode: testing\nmx: mail.test\nmax_age: 86400\n' \
	>"$WWW/mta-sts.stsmiss.test/.well-known/mta-sts.txt"
echo "https://mta-sts.good.test/.well-known/mta-sts.txt" \
	>"$WWW/mta-sts.redir.test/.well-known/mta-sts.txt.redirect"
# RFC 8461 3.2: served as text/html; a repeated field (the first counts); a
# body the server stalls in; more mx lines than are kept
GOODPOL='version: STSv1\nmode: enforce\nmx: mail.test\nmax_age: 86400\n'
printf "$GOODPOL" >"$WWW/mta-sts.stshtml.test/.well-known/mta-sts.txt"
echo "text/html; charset=utf-8" >"$WWW/mta-sts.stshtml.test/.well-known/mta-sts.txt.ctype"
printf 'version: STSv1\nmode: enforce\nmode: none\nmx: mail.test\nmax_age: 86400\n' \
	>"$WWW/mta-sts.ststwice.test/.well-known/mta-sts.txt"
printf "$GOODPOL" >"$WWW/mta-sts.ststall.test/.well-known/mta-sts.txt"
touch "$WWW/mta-sts.ststall.test/.well-known/mta-sts.txt.stall"
{
	printf 'version: STSv1\nmode: testing\n'
	for ((i = 1; i <= 40; i++)); do printf 'mx: mx%d.stsmany.test\n' "$i"; done
	printf 'max_age: 86400\n'
} >"$WWW/mta-sts.stsmany.test/.well-known/mta-sts.txt"
autoconfig() { # FILE IMAP_HOST IMAP_PORT IMAP_SOCKET SMTP_PORT SMTP_SOCKET
	cat >"$1" <<XML
<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="x.test">
    <domain>x.test</domain>
    <incomingServer type="imap">
      <hostname>$2</hostname><port>$3</port><socketType>$4</socketType>
      <authentication>password-cleartext</authentication><username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>mail.test</hostname><port>$5</port><socketType>$6</socketType>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
XML
}
autoconfig "$WWW/autoconfig.good.test/mail/config-v1.1.xml" mail.test "$MP_IMAPS_PORT" SSL \
	"$MP_SUBMISSION_PORT" STARTTLS
# names IMAP on the STARTTLS port with implicit TLS: fails while the SRV one works
autoconfig "$WWW/autoconfig.disagree.test/mail/config-v1.1.xml" mail.test "$MP_IMAP_PORT" SSL \
	"$MP_SUBMISSION_PORT" STARTTLS
# a server inside a comment is not published; broken XML; an unknown socketType
cat >"$WWW/autoconfig.accomment.test/mail/config-v1.1.xml" <<XML
<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="c.test">
<!-- <incomingServer type="imap"><hostname>mail.test</hostname><port>$MP_IMAP_PORT</port>
     <socketType>plain</socketType></incomingServer> -->
<incomingServer type="imap"><hostname>mail<!-- . -->.test</hostname><port>$MP_IMAPS_PORT</port>
<socketType>SSL</socketType></incomingServer>
</emailProvider></clientConfig>
XML
cat >"$WWW/autoconfig.acbroken.test/mail/config-v1.1.xml" <<XML
<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="b.test">
<incomingServer type="imap"><hostname>mail.test</hostname><port>$MP_IMAPS_PORT</prot>
<socketType>SSL</socketType></incomingServer>
</emailProvider></clientConfig>
XML
autoconfig "$WWW/autoconfig.acsocket.test/mail/config-v1.1.xml" mail.test "$MP_IMAPS_PORT" SSLv2 \
	"$MP_SUBMISSION_PORT" STARTTLS
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$WWW/autoconfig.hugeac.test/mail/config-v1.1.xml"
cat >"$WWW/autoconfig.entity.test/mail/config-v1.1.xml" <<'XML'
<?xml version="1.0"?>
<!DOCTYPE clientConfig [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY x SYSTEM "file:///etc/passwd">]>
<clientConfig version="1.1"><emailProvider id="e.test">
<incomingServer type="imap"><hostname>&x;&b;</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
</emailProvider></clientConfig>
XML
"$MP_PY" "$FAKE/httpsd.py" --root "$WWW" --cert "$MP_WORK/www.pem" --key "$MP_WORK/www.key" \
	--ready-file "$MP_WORK/https.port" &
PIDS+=($!)
wait_file "$MP_WORK/https.port"
wait_file "$MP_WORK/halfdead.port"
HTTPS_PORT=$(cat "$MP_WORK/https.port")

# ---- DANE-TA: SMTP servers presenting the suite's leaf with its CA (a chain
# that leads to the anchor) or with an unrelated CA appended ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/CN=an unrelated CA" -keyout "$MP_WORK/ca2.key" -out "$MP_WORK/ca2.pem" 2>/dev/null
cat "$MP_SERVER_CERT" "$MP_CA" >"$MP_WORK/chain-good.pem"
cat "$MP_SERVER_CERT" "$MP_WORK/ca2.pem" >"$MP_WORK/chain-bad.pem"
for c in good bad; do
	"$MP_PY" "$FAKE/starttls_chain.py" --chain "$MP_WORK/chain-$c.pem" \
		--key "$(dirname "$MP_SERVER_CERT")/server.key" --ready-file "$MP_WORK/chain-$c.port" &
	PIDS+=($!)
done
wait_file "$MP_WORK/chain-good.port"
wait_file "$MP_WORK/chain-bad.port"
TA_GOOD=$(cat "$MP_WORK/chain-good.port")
TA_BAD=$(cat "$MP_WORK/chain-bad.port")
CA256=$(openssl x509 -in "$MP_CA" -outform DER | openssl dgst -sha256 -hex | awk '{print $NF}')
CA2_256=$(openssl x509 -in "$MP_WORK/ca2.pem" -outform DER | openssl dgst -sha256 -hex | awk '{print $NF}')
# the whole certificate as TLSA data (3 0 0): far over 128 bytes
DERHEX=$(openssl x509 -in "$MP_SERVER_CERT" -outform DER | od -An -v -tx1 | tr -d ' \n')
[ ${#DERHEX} -gt 512 ] || mp_fail "could not compute the full-certificate TLSA data"
HALF_PORT=$(cat "$MP_WORK/halfdead.port")

# ---- zones ----
# bogus.test: signed by hand with ldns-signzone, then an MX edited: bogus.
(
	cd "$DNS"
	cat >bogus.test.zone.in <<'ZONE'
$TTL 300
bogus.test. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
bogus.test. IN NS ns.test.
bogus.test. IN MX 10 mail.test.
ZONE
	ksk=$(ldns-keygen -a ECDSAP256SHA256 -k bogus.test)
	zsk=$(ldns-keygen -a ECDSAP256SHA256 bogus.test)
	ldns-signzone -f bogus.test.zone.signed0 bogus.test.zone.in "$zsk" "$ksk" >/dev/null
	sed -e 's/\tMX\t10 mail\.test\./\tMX\t10 evil.test./' bogus.test.zone.signed0 \
		>zones/bogus.test.zone.signed
	grep -q 'evil.test' zones/bogus.test.zone.signed || exit 1
	cp "$ksk.ds" bogus.ds
) || mp_fail "could not make the bogus zone"
# DANE-EE records of the test server's certificate, computed here (RFC 6698
# 2.1: selector 1 = SubjectPublicKeyInfo, matching type 1 = SHA-256;
# selector 0 = the whole certificate, type 2 = SHA-512)
SPKI256=$(openssl x509 -in "$MP_SERVER_CERT" -noout -pubkey | openssl pkey -pubin -outform DER |
	openssl dgst -sha256 -hex | awk '{print $NF}')
DER512=$(openssl x509 -in "$MP_SERVER_CERT" -outform DER | openssl dgst -sha512 -hex | awk '{print $NF}')
[ ${#SPKI256} -eq 64 ] && [ ${#DER512} -eq 128 ] || mp_fail "could not compute the TLSA data"
# bogustlsa.test: signed by hand, then its TLSA data edited: a bogus TLSA answer
(
	cd "$DNS"
	cat >bogustlsa.test.zone.in <<ZONE
\$TTL 300
bogustlsa.test. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
bogustlsa.test. IN NS ns.test.
bogustlsa.test. IN MX 10 mx.bogustlsa.test.
mx.bogustlsa.test. IN A 127.0.0.1
mx2.bogustlsa.test. IN A 127.0.0.1
_$MP_SMTP_PORT._tcp.mx.bogustlsa.test. IN TLSA 3 1 1 $SPKI256
ZONE
	ksk=$(ldns-keygen -a ECDSAP256SHA256 -k bogustlsa.test)
	zsk=$(ldns-keygen -a ECDSAP256SHA256 bogustlsa.test)
	ldns-signzone -f bogustlsa.test.zone.signed0 bogustlsa.test.zone.in "$zsk" "$ksk" >/dev/null
	# and the address of mx2 (a bogus A answer)
	sed -e "s/$SPKI256/$(printf '%064d' 0)/" \
		-e '/^mx2\.bogustlsa\.test\./s/127\.0\.0\.1/127.0.0.2/' bogustlsa.test.zone.signed0 \
		>zones/bogustlsa.test.zone.signed
	grep -q "$(printf '%064d' 0)" zones/bogustlsa.test.zone.signed || exit 1
	grep -q '^mx2\.bogustlsa\.test\..*127\.0\.0\.2' zones/bogustlsa.test.zone.signed || exit 1
	cp "$ksk.ds" bogustlsa.ds
) || mp_fail "could not make the bogus TLSA zone"
{
	cat <<ZONE
\$TTL 300
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 300
@ NS ns.test.
ns A 127.0.0.1
mail A 127.0.0.1
mail AAAA ::1
mx2 A 127.0.0.1
dead A 127.0.0.9
halfdead A 127.0.0.1
halfdead AAAA ::1
good MX 10 mail.test.
_mta-sts.good TXT "v=STSv1; id=20240101T000000"
_smtp._tls.good TXT "v=TLSRPTv1; rua=mailto:tlsrpt@good.test"
mta-sts.good A 127.0.0.1
autoconfig.good A 127.0.0.1
_imaps._tcp.good SRV 0 1 $MP_IMAPS_PORT mail.test.
_submission._tcp.good SRV 0 1 $MP_SUBMISSION_PORT mail.test.
_$MP_SMTP_PORT._tcp.mail TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
daneok MX 10 mx3.test.
mx3 A 127.0.0.1
_$MP_SMTP_PORT._tcp.mx3 TLSA 3 1 1 $SPKI256
_25._tcp.mx3 TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
daneder MX 10 mx4.test.
mx4 A 127.0.0.1
_$MP_SMTP_PORT._tcp.mx4 TLSA 3 0 2 $DER512
nullmx MX 0 .
refusing MX 10 dead.test.
srvdot MX 10 mail.test.
_imaps._tcp.srvdot SRV 0 0 0 .
_imaps._tcp.disagree SRV 0 1 $MP_IMAPS_PORT mail.test.
autoconfig.disagree A 127.0.0.1
stsmiss MX 10 mail.test.
stsmiss MX 20 mx2.test.
_mta-sts.stsmiss TXT "v=STSv1; id=1"
mta-sts.stsmiss A 127.0.0.1
redir MX 10 mail.test.
_mta-sts.redir TXT "v=STSv1; id=1"
mta-sts.redir A 127.0.0.1
hugeac MX 10 mail.test.
autoconfig.hugeac A 127.0.0.1
entity MX 10 mail.test.
autoconfig.entity A 127.0.0.1
ipmx MX 10 127.0.0.1.
cnmx MX 10 alias.test.
alias CNAME mail.test.
loop1 CNAME loop2.test.
loop2 CNAME loop1.test.
cnloop MX 10 loop1.test.
bogusaddr MX 10 mx2.bogustlsa.test.
bogusaddr MX 20 mail.test.
danetaok MX 10 mail.test.
_$TA_GOOD._tcp.mail TLSA 2 0 1 $CA256
danetabad MX 10 mail.test.
_$TA_BAD._tcp.mail TLSA 2 0 1 $CA2_256
danetaname MX 10 mx2.test.
_$TA_GOOD._tcp.mx2 TLSA 2 0 1 $CA256
danefull MX 10 mx5.test.
mx5 A 127.0.0.1
_$MP_SMTP_PORT._tcp.mx5 TLSA 3 0 0 $DERHEX
stshtml MX 10 mail.test.
_mta-sts.stshtml TXT "v=STSv1; id=1"
mta-sts.stshtml A 127.0.0.1
ststwice MX 10 mail.test.
_mta-sts.ststwice TXT "v=STSv1; id=1"
mta-sts.ststwice A 127.0.0.1
ststall MX 10 mail.test.
_mta-sts.ststall TXT "v=STSv1; id=1"
mta-sts.ststall A 127.0.0.1
stsmany MX 10 mx40.stsmany.test.
mx40.stsmany A 127.0.0.1
_mta-sts.stsmany TXT "v=STSv1; id=1"
mta-sts.stsmany A 127.0.0.1
stsv10 MX 10 mail.test.
_mta-sts.stsv10 TXT "v=STSv10; id=1"
_smtp._tls.stsv10 TXT "v=TLSRPTv1;; rua=mailto:a@stsv10.test"
accomment MX 10 mail.test.
autoconfig.accomment A 127.0.0.1
acbroken MX 10 mail.test.
autoconfig.acbroken A 127.0.0.1
acsocket MX 10 mail.test.
autoconfig.acsocket A 127.0.0.1
ZONE
	sed 's/^bogus\.test\./bogus/' "$DNS/bogus.ds"
	sed 's/^bogustlsa\.test\./bogustlsa/' "$DNS/bogustlsa.ds"
	# a TXT record of about 64 KiB: 250 strings of 255 bytes
	printf 'bigtxt MX 10 mail.test.\n_smtp._tls.bigtxt TXT'
	for ((i = 0; i < 250; i++)); do printf ' "%s"' "$(head -c 255 /dev/zero | tr '\0' 'a')"; done
	echo
	for ((i = 1; i <= 1000; i++)); do echo "many MX $i m$i.many.test."; done
} >"$DNS/zones/test.zone"
bash "$MP_SRC/tests/integration/dns.sh" start "$DNS" || mp_fail "Knot did not start"
. "$DNS/dns.env"

D=(--resolver "127.0.0.1@$MP_DNS_PORT" --trust-anchor "$MP_DNS_ANCHOR" --cafile "$MP_CA"
	--mx-port "$MP_SMTP_PORT" --https-port "$HTTPS_PORT" --connect-timeout 1500
	--greeting-timeout 1000 --deadline 30000)
disc() { pyeq "$1" "$2" "$3" "$4"; }
dcodes='set(f["code"] for f in r["discovery"]["findings"])'

# ---- every address: 127.0.0.1 works, ::1 black-holed (a timeout, not "refused") ----
mp_json "$MP_WORK/half.json" "${D[@]}" "smtp+starttls://halfdead.test:$HALF_PORT"
mp_validate "$MP_WORK/half.json"
pyeq "$MP_WORK/half.json" 'sorted((x["address"], x["family"], x["status"]) for x in results)' \
	'[("127.0.0.1", "ipv4", "ok"), ("::1", "ipv6", "connect_timeout")]' "both addresses probed"
pyassert "$MP_WORK/half.json" '"address_unreachable" in codes([x for x in results if x["address"] == "::1"][0])' \
	"IPv6 unreachable while IPv4 works"
mp_json "$MP_WORK/half4.json" "${D[@]}" --ipv4 "smtp+starttls://halfdead.test:$HALF_PORT"
pyeq "$MP_WORK/half4.json" '[x["address"] for x in results]' '["127.0.0.1"]' "--ipv4 restricts"
mp_run "$MP_WORK/half.txt" "${D[@]}" "smtp+starttls://halfdead.test:$HALF_PORT"
grep -q '`- ::1' "$MP_WORK/half.txt" || mp_fail "the table does not group the addresses"

# ---- the good domain: MX, SRV, autoconfig, MTA-STS, TLS-RPT, all DNSSEC-validated ----
mp_json "$MP_WORK/good.json" "${D[@]}" --discover alice@good.test
mp_validate "$MP_WORK/good.json"
pyassert "$MP_WORK/good.json" 'all(q["validated"] for q in r["discovery"]["queries"])' "answers validated"
pyassert "$MP_WORK/good.json" 'any(q["type"] == "MX" and q["answers"][0] == {"ttl": 300, "data": "10 mail.test."} for q in r["discovery"]["queries"])' "MX with TTL"
pyeq "$MP_WORK/good.json" 'sorted(set(x["discovered_by"]["source"] for x in results))' \
	'["mx", "srv"]' "discovered_by (autoconfig names the SRV endpoints again)"
pyassert "$MP_WORK/good.json" '"srv_autoconfig_disagree" not in '"$dcodes" "SRV and autoconfig agree"
pyassert "$MP_WORK/good.json" 'all(x["status"] == "ok" for x in results)' "every endpoint works"
pyeq "$MP_WORK/good.json" 'r["discovery"]["mta_sts"]["mode"]' '"enforce"' "MTA-STS mode"
pyeq "$MP_WORK/good.json" 'r["discovery"]["tls_rpt"]["rua"]' '["mailto:tlsrpt@good.test"]' "TLS-RPT rua"
pyeq "$MP_WORK/good.json" 'r["discovery"]["autoconfig"]["valid"]' 'True' "autoconfig read"
pyassert "$MP_WORK/good.json" '"emailaddress=alice%40good.test" in r["discovery"]["autoconfig"]["url"]' "emailaddress"
pyassert "$MP_WORK/good.json" 'not any(c.startswith("mta_sts") for x in results for c in codes(x))' "MX meets MTA-STS"
pyeq "$MP_WORK/good.json" '[(d["mx"], d["records"], d["validated"]) for d in r["discovery"]["dane"]]' \
	'[("mail.test", 1, True)]' "TLSA found and validated"
pyeq "$MP_WORK/good.json" '[(d["checked"], d["matched"]) for d in r["discovery"]["dane"]]' \
	'[(True, False)]' "a TLSA record that does not match the chain"
pyassert "$MP_WORK/good.json" 'any("dane_mismatch" in codes(x) for x in results if x["port"] == int(env["MP_SMTP_PORT"]))' \
	"the mismatch is a finding on the MX's result"

pyeq "$MP_WORK/good.json" 'sorted(x["discovered_by"]["sources"] for x in results if x["discovered_by"]["source"] == "srv")' \
	'[["srv", "autoconfig"]] * 4' "discovered_by lists every source that named the endpoint"
pyeq "$MP_WORK/good.json" '[(m["host"], m["preference"], m["ipv4"], m["ipv6"], m["address_security"], m["usable"], m["mta_sts_match"], m["dane"]) for m in r["discovery"]["mx_hosts"]]' \
	'[("mail.test", 10, 1, 1, "secure", True, True, "mismatch")]' "the MX with its addresses, DNSSEC, MTA-STS and DANE"
pyeq "$MP_WORK/good.json" '(r["discovery"]["recommended_inbound"]["host"], r["discovery"]["recommended_inbound"]["port"])' \
	'("mail.test", int(env["MP_SMTP_PORT"]))' "the inbound recommendation is the MX"
pyeq "$MP_WORK/good.json" 'r["summary"]["recommended"]["smtp"]["port"]' 'int(env["MP_SUBMISSION_PORT"])' \
	"the client's smtp recommendation is submission, not the MX"
pyeq "$MP_WORK/good.json" '[d["port"] for d in r["discovery"]["dane"]]' '[int(env["MP_SMTP_PORT"])]' \
	"TLSA asked at the port the MX is probed on (RFC 7672 2.2.3)"
# the same in the table and the HTML: the domain first
mp_run "$MP_WORK/good.txt" "${D[@]}" --discover alice@good.test
mp_expect_rc 0
for want in "Domain:" "!  10 mail.test  IPv4 1, IPv6 1, DNSSEC secure," "MTA-STS: listed" \
	"DANE: TLSA does NOT match" "mode enforce, max_age 86400, 1 mx pattern" \
	"reports to mailto:tlsrpt@good.test" "deliver to mail.test port $MP_SMTP_PORT" \
	"https://autoconfig.good.test"; do
	grep -qF -- "$want" "$MP_WORK/good.txt" || { cat "$MP_WORK/good.txt" >&2; mp_fail "table: no \"$want\""; }
done
[ "$(grep -n '^Domain:' "$MP_WORK/good.txt" | cut -d: -f1)" = 1 ] || mp_fail "the table does not start with the domain"
[ "$(sed -n '/^Domain:/,/^$/p' "$MP_WORK/good.txt" | awk 'length > 80' | wc -l)" = 0 ] ||
	mp_fail "the domain section is wider than 80 columns"
mp_run "$MP_WORK/good.html" "${D[@]}" --format html --discover alice@good.test
grep -q '<h2>Domain</h2>' "$MP_WORK/good.html" || mp_fail "HTML: no domain section"
grep -q '<td>MTA-STS</td><td>mode enforce' "$MP_WORK/good.html" || mp_fail "HTML: no MTA-STS mode"
grep -q 'class="warn"><td>MX</td><td>10 mail.test' "$MP_WORK/good.html" || mp_fail "HTML: no MX row"

# ---- domain policies ----
mp_json "$MP_WORK/good-pol.json" "${D[@]}" --require-mta-sts --require-dnssec --discover alice@good.test
mp_expect_rc 0
pyeq "$MP_WORK/good-pol.json" 'sorted((v["rule"], v["state"]) for v in r["verdicts"] if v["endpoint"] is None)' \
	'[("require-dnssec", "OK"), ("require-mta-sts", "OK")]' "MTA-STS enforce and DNSSEC: OK"
mp_json "$MP_WORK/good-dane.json" "${D[@]}" --require-dane --discover good.test
mp_expect_rc 2
pyassert "$MP_WORK/good-dane.json" 'any(v["rule"] == "require-dane" and v["state"] == "CRITICAL" for v in r["verdicts"])' \
	"--require-dane: a TLSA set that does not match is CRITICAL"
echo '{"require-dane": true}' >"$MP_WORK/dane-policy.json"
mp_json "$MP_WORK/daneok-pol.json" "${D[@]}" --policy "$MP_WORK/dane-policy.json" --discover daneok.test
mp_expect_rc 0
pyassert "$MP_WORK/daneok-pol.json" '[v["state"] for v in r["verdicts"] if v["rule"] == "require-dane"] == ["OK"]' \
	"require-dane in a policy file: a matching TLSA set is OK"
mp_json "$MP_WORK/stsmiss-pol.json" "${D[@]}" --require-mta-sts --discover stsmiss.test
mp_expect_rc 2

# ---- DANE that matches: DANE-EE by key (3 1 1) and by certificate (3 0 2) ----
for dom in daneok daneder; do
	mp_json "$MP_WORK/$dom.json" "${D[@]}" --discover "$dom.test"
	mp_validate "$MP_WORK/$dom.json"
	pyeq "$MP_WORK/$dom.json" '[(d["records"], d["validated"], d["checked"], d["matched"]) for d in r["discovery"]["dane"]]' \
		'[(1, True, True, True)]' "$dom: the validated TLSA record matches the chain"
	pyassert "$MP_WORK/$dom.json" 'not any("dane_mismatch" in codes(x) for x in results)' "$dom: no mismatch"
done
# a wrong TLSA at _25 is not asked: the one at the port probed matches
pyeq "$MP_WORK/daneok.json" '[q["name"] for q in r["discovery"]["queries"] if q["type"] == "TLSA"]' \
	'["_%s._tcp.mx3.test" % env["MP_SMTP_PORT"]]' "TLSA at the port, not _25"
# full-certificate data (3 0 0, ~700 bytes); DANE-EE explains the name mismatch
mp_json "$MP_WORK/danefull.json" "${D[@]}" --discover danefull.test
mp_validate "$MP_WORK/danefull.json"
pyeq "$MP_WORK/danefull.json" '[(d["records"], d["state"]) for d in r["discovery"]["dane"]]' '[(1, "match")]' \
	"a full-certificate TLSA record of any length matches"
pyassert "$MP_WORK/danefull.json" 'all("dane_ee_name_not_checked" in codes(x) for x in results)' \
	"the name mismatch is explained by the DANE-EE match"
# DANE-TA (2 0 1 of the CA): a chain that leads to it; the anchor appended to
# an unrelated chain; a chain that leads to it for a certificate without the MX name
mp_json "$MP_WORK/danetaok.json" "${D[@]}" --mx-port "$TA_GOOD" --discover danetaok.test
mp_validate "$MP_WORK/danetaok.json"
pyeq "$MP_WORK/danetaok.json" '[d["state"] for d in r["discovery"]["dane"]]' '["match"]' "DANE-TA: the chain leads to the anchor"
mp_json "$MP_WORK/danetabad.json" "${D[@]}" --mx-port "$TA_BAD" --discover danetabad.test
pyeq "$MP_WORK/danetabad.json" '[d["state"] for d in r["discovery"]["dane"]]' '["mismatch"]' "DANE-TA: an anchor appended to a chain that does not lead to it"
pyassert "$MP_WORK/danetabad.json" 'any("does not lead" in f["message"] for x in results for f in x["findings"] if f["code"] == "dane_mismatch")' \
	"DANE-TA: says why"
mp_json "$MP_WORK/danetaname.json" "${D[@]}" --mx-port "$TA_GOOD" --discover danetaname.test
pyeq "$MP_WORK/danetaname.json" '[d["state"] for d in r["discovery"]["dane"]]' '["mismatch"]' "DANE-TA: the leaf must carry the MX name"
pyassert "$MP_WORK/danetaname.json" 'any("MX name" in f["message"] for x in results for f in x["findings"] if f["code"] == "dane_mismatch")' \
	"DANE-TA: the name is the reason"

# ---- a bogus TLSA answer: the MX is unusable (RFC 7672 2.1.1) ----
mp_json "$MP_WORK/bogustlsa.json" "${D[@]}" --discover bogustlsa.test
mp_validate "$MP_WORK/bogustlsa.json"
pyeq "$MP_WORK/bogustlsa.json" '[(d["state"], d["bogus"]) for d in r["discovery"]["dane"]]' '[("bogus", True)]' "bogus TLSA"
pyeq "$MP_WORK/bogustlsa.json" '[(m["usable"], m["dane"]) for m in r["discovery"]["mx_hosts"]]' '[(False, "bogus")]' "the MX is unusable"
pyassert "$MP_WORK/bogustlsa.json" 'results and all("dane_tlsa_bogus" in codes(x) for x in results)' "every address flagged"
pyeq "$MP_WORK/bogustlsa.json" 'r["discovery"]["recommended_inbound"]' 'None' "never recommended"
mp_run "$MP_WORK/bogustlsa.txt" "${D[@]}" --discover bogustlsa.test
grep -q "!! 10 mx.bogustlsa.test .*UNUSABLE: its TLSA" "$MP_WORK/bogustlsa.txt" ||
	{ cat "$MP_WORK/bogustlsa.txt" >&2; mp_fail "table: the bogus TLSA is not shown"; }
mp_json "$MP_WORK/bogustlsa-pol.json" "${D[@]}" --require-tls --discover bogustlsa.test
mp_expect_rc 2
pyassert "$MP_WORK/bogustlsa-pol.json" 'any(v["rule"] == "dnssec-bogus" and v["state"] == "CRITICAL" for v in r["verdicts"])' \
	"--require-tls with a bogus TLSA answer: CRITICAL"

# ---- benchmark (tests/bench/bench_discover.sh sets MP_BENCH_RUNS): the good
# domain's whole run against the DNS round trips plus its matrix probed alone
if [ -n "${MP_BENCH_RUNS:-}" ]; then
	"$MP_PY" - "$MAILPROBE" "$MP_BENCH_RUNS" "$MP_WORK/good.json" "${D[@]}" <<'PY'
import json, statistics, subprocess, sys, time
binary, runs, good, common = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
r = json.load(open(good))
urls = sorted(set("%s%s://%s:%d" % (x["protocol"], {"plain": "", "starttls": "+starttls",
              "tls": "s"}[x["mode"]], x["host"], x["port"]) for x in r["results"]))
def run(args):
    t = time.monotonic()
    p = subprocess.run([binary, "--format", "json"] + common + args, capture_output=True)
    return (time.monotonic() - t) * 1000, json.loads(p.stdout)
disc, dns, http, matrix = [], [], [], []
for _ in range(runs):
    w, rep = run(["--discover", "alice@good.test"])
    disc.append(w); dns.append(rep["discovery"]["dns_ms"]); http.append(rep["discovery"]["http_ms"])
    w, rep = run(urls)
    matrix.append(w)
d, q, h, m = (statistics.median(v) for v in (disc, dns, http, matrix))
print("discovery benchmark: good.test (%d endpoints from MX, SRV, autoconfig; every address), "
      "median of %d runs" % (len(r["results"]), runs))
print("  whole --discover run          %7.1f ms" % d)
print("  of which DNS round trips      %7.1f ms, HTTPS fetches %.1f ms" % (q, h))
print("  the endpoints found, as URLs  %7.1f ms (names resolved through the same server)" % m)
print("  whole run <= DNS + 1.3 x matrix: %.1f <= %.1f ms %s (HTTPS fetches included)"
      % (d, q + 1.3 * m, "PASS" if d <= q + 1.3 * m else "MISS"))
PY
	exit 0
fi

# ---- broken domains ----
mp_json "$MP_WORK/nullmx.json" "${D[@]}" --discover nullmx.test
pyassert "$MP_WORK/nullmx.json" '"null_mx" in '"$dcodes"' and r["discovery"]["null_mx"]' "null MX"
pyeq "$MP_WORK/nullmx.json" 'len(results)' '0' "a null MX gives no endpoint"
mp_expect_rc 0
mp_run "$MP_WORK/nullmx.txt" "${D[@]}" --discover nullmx.test
mp_expect_rc 0
grep -q "null MX: the domain accepts no mail (RFC 7505)" "$MP_WORK/nullmx.txt" || mp_fail "table: no null MX"
mp_json "$MP_WORK/nosuch.json" "${D[@]}" --discover nosuch.test
mp_validate "$MP_WORK/nosuch.json"
mp_expect_rc 2
pyassert "$MP_WORK/nosuch.json" 'r["discovery"]["exists"] is False and "domain_does_not_exist" in '"$dcodes" "NXDOMAIN is reported"
mp_run "$MP_WORK/nosuch.txt" "${D[@]}" --discover nosuch.test
mp_expect_rc 2
grep -q "nosuch.test does not exist (NXDOMAIN" "$MP_WORK/nosuch.txt" || mp_fail "table: NXDOMAIN not said"

# a bogus address answer: that MX is unusable, the next one is where mail goes
mp_json "$MP_WORK/bogusaddr.json" "${D[@]}" --discover bogusaddr.test
mp_validate "$MP_WORK/bogusaddr.json"
pyeq "$MP_WORK/bogusaddr.json" '[(m["host"], m["usable"], m["address_security"]) for m in r["discovery"]["mx_hosts"]]' \
	'[("mx2.bogustlsa.test", False, "bogus"), ("mail.test", True, "secure")]' "a bogus address answer makes the MX unusable"
pyeq "$MP_WORK/bogusaddr.json" 'r["discovery"]["recommended_inbound"]["host"]' '"mail.test"' "the next MX is recommended"
mp_json "$MP_WORK/bogusaddr-pol.json" "${D[@]}" --require-tls --discover bogusaddr.test
mp_expect_rc 2
pyassert "$MP_WORK/bogusaddr-pol.json" 'any(v["rule"] == "dnssec-bogus" and "mx2.bogustlsa.test" in v["message"] for v in r["verdicts"])' \
	"a bogus address answer is CRITICAL under any policy"

# ---- MTA-STS per RFC 8461 3.1-3.3 ----
mp_json "$MP_WORK/stshtml.json" "${D[@]}" --discover stshtml.test
pyassert "$MP_WORK/stshtml.json" 'not r["discovery"]["mta_sts"]["policy_valid"] and "text/plain" in r["discovery"]["mta_sts"]["policy_error"]' \
	"a policy served as text/html is not used"
mp_json "$MP_WORK/ststwice.json" "${D[@]}" --discover ststwice.test
mp_validate "$MP_WORK/ststwice.json"
pyeq "$MP_WORK/ststwice.json" '(r["discovery"]["mta_sts"]["mode"], r["discovery"]["mta_sts"]["repeated_field"])' \
	'("enforce", "mode")' "a repeated field: the first counts"
mp_json "$MP_WORK/ststall.json" "${D[@]}" --deadline 14000 --discover ststall.test
pyassert "$MP_WORK/ststall.json" 'not r["discovery"]["mta_sts"]["policy_valid"] and "incomplete" in r["discovery"]["mta_sts"]["policy_error"]' \
	"a body the server stalls in is not parsed"
mp_json "$MP_WORK/stsmany.json" "${D[@]}" --discover stsmany.test
mp_validate "$MP_WORK/stsmany.json"
pyeq "$MP_WORK/stsmany.json" '(r["discovery"]["mta_sts"]["mx_total"], len(r["discovery"]["mta_sts"]["mx"]))' '(40, 32)' "40 mx lines counted"
pyassert "$MP_WORK/stsmany.json" 'any("first 32" in f["message"] for f in r["discovery"]["findings"])' "the limit is a finding"
mp_json "$MP_WORK/stsv10.json" "${D[@]}" --discover stsv10.test
pyeq "$MP_WORK/stsv10.json" '(r["discovery"]["mta_sts"]["record_present"], r["discovery"]["mta_sts"]["record_valid"], r["discovery"]["tls_rpt"]["valid"])' \
	'(True, False, False)' "v=STSv10 is not v=STSv1; an empty TLS-RPT field is invalid"

# ---- autoconfig through a real XML parser ----
mp_json "$MP_WORK/accomment.json" "${D[@]}" --discover accomment.test
pyeq "$MP_WORK/accomment.json" '[(s["hostname"], s["port"]) for s in r["discovery"]["autoconfig"]["servers"]]' \
	'[("mail.test", int(env["MP_IMAPS_PORT"]))]' "a server inside a comment is not published"
mp_json "$MP_WORK/acbroken.json" "${D[@]}" --discover acbroken.test
pyassert "$MP_WORK/acbroken.json" '"not well-formed" in r["discovery"]["autoconfig"]["error"] and not any(x["protocol"] == "imap" for x in results)' \
	"mismatched tags: refused"
mp_json "$MP_WORK/acsocket.json" "${D[@]}" --discover acsocket.test
pyassert "$MP_WORK/acsocket.json" '"autoconfig_unknown_socket_type" in '"$dcodes"' and not any(x["protocol"] == "imap" for x in results)' \
	"an unknown socketType is skipped, not probed as plain"

mp_json "$MP_WORK/refusing.json" "${D[@]}" --discover refusing.test
pyeq "$MP_WORK/refusing.json" '[x["status"] for x in results]' '["refused"]' "MX refuses"
pyassert "$MP_WORK/refusing.json" '"published_host_not_answering" in '"$dcodes" "dead MX reported"

mp_json "$MP_WORK/srvdot.json" "${D[@]}" --discover srvdot.test
pyassert "$MP_WORK/srvdot.json" '"srv_not_offered" in '"$dcodes" "SRV ."
pyassert "$MP_WORK/srvdot.json" 'all(x["protocol"] == "smtp" for x in results)' "no endpoint from SRV ."

mp_json "$MP_WORK/disagree.json" "${D[@]}" --discover disagree.test
pyassert "$MP_WORK/disagree.json" '"srv_autoconfig_disagree" in '"$dcodes" "SRV and autoconfig disagree"
pyassert "$MP_WORK/disagree.json" '"published_endpoint_fails" in '"$dcodes" "autoconfig port fails while SRV works"

mp_json "$MP_WORK/stsmiss.json" "${D[@]}" --discover stsmiss.test
pyassert "$MP_WORK/stsmiss.json" 'any("mx2.test" in f["message"] for f in r["discovery"]["findings"] if f["code"] == "mta_sts")' "MX missing from the policy"
pyassert "$MP_WORK/stsmiss.json" 'any("mta_sts_mx_not_listed" in codes(x) for x in results if x["host"] == "mx2.test")' "result flagged"
pyassert "$MP_WORK/stsmiss.json" 'any("mta_sts_certificate_invalid" in codes(x) for x in results if x["host"] == "mx2.test")' "mx2's certificate is not for mx2.test"

mp_json "$MP_WORK/redir.json" "${D[@]}" --discover redir.test
pyeq "$MP_WORK/redir.json" 'r["discovery"]["mta_sts"]["http_status"]' '301' "redirect seen"
pyeq "$MP_WORK/redir.json" 'r["discovery"]["mta_sts"]["policy_valid"]' 'False' "redirect not followed"

mp_json "$MP_WORK/bogus.json" "${D[@]}" --discover bogus.test
mp_validate "$MP_WORK/bogus.json"
pyassert "$MP_WORK/bogus.json" '[q["security"] for q in r["discovery"]["queries"] if q["type"] == "MX"] == ["bogus"]' "bogus answer"
pyassert "$MP_WORK/bogus.json" '"dns_bogus" in '"$dcodes"' and r["discovery"]["mx"] == [] and results == []' "bogus MX not used"

mp_json "$MP_WORK/ipmx.json" "${D[@]}" --discover ipmx.test
pyassert "$MP_WORK/ipmx.json" '"mx_is_address" in '"$dcodes" "MX that is an address"
mp_json "$MP_WORK/cnmx.json" "${D[@]}" --discover cnmx.test
pyassert "$MP_WORK/cnmx.json" '"mx_is_cname" in '"$dcodes" "MX that is a CNAME"

# ---- hostile answers: bounded, reported, no crash ----
mp_json "$MP_WORK/bigtxt.json" "${D[@]}" --discover bigtxt.test
mp_validate "$MP_WORK/bigtxt.json"
pyassert "$MP_WORK/bigtxt.json" '"dns_answer_cut" in '"$dcodes" "64 KiB TXT cut"
mp_json "$MP_WORK/cnloop.json" "${D[@]}" --discover cnloop.test
pyassert "$MP_WORK/cnloop.json" '"mx_has_no_address" in '"$dcodes" "CNAME loop: no address"
mp_json "$MP_WORK/many.json" "${D[@]}" --discover many.test
mp_validate "$MP_WORK/many.json"
pyassert "$MP_WORK/many.json" '"dns_answer_cut" in '"$dcodes"' and len(r["discovery"]["mx"]) <= 32' "1000 MX bounded"
mp_json "$MP_WORK/hugeac.json" "${D[@]}" --discover hugeac.test
pyassert "$MP_WORK/hugeac.json" '"autoconfig_invalid" in '"$dcodes"' and "larger than" in r["discovery"]["autoconfig"]["error"]' "10 MiB autoconfig refused"
mp_json "$MP_WORK/entity.json" "${D[@]}" --discover entity.test
pyassert "$MP_WORK/entity.json" '"DTD" in r["discovery"]["autoconfig"]["error"] and r["discovery"]["autoconfig"]["servers"] == []' "XML entities refused"

echo "PASS: test_domains"
