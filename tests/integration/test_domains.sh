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
autoconfig.hugeac.test autoconfig.entity.test mta-sts.redir.test"
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
ZONE
	sed 's/^bogus\.test\./bogus/' "$DNS/bogus.ds"
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

# ---- DANE that matches: DANE-EE by key (3 1 1) and by certificate (3 0 2) ----
for dom in daneok daneder; do
	mp_json "$MP_WORK/$dom.json" "${D[@]}" --discover "$dom.test"
	mp_validate "$MP_WORK/$dom.json"
	pyeq "$MP_WORK/$dom.json" '[(d["records"], d["validated"], d["checked"], d["matched"]) for d in r["discovery"]["dane"]]' \
		'[(1, True, True, True)]' "$dom: the validated TLSA record matches the chain"
	pyassert "$MP_WORK/$dom.json" 'not any("dane_mismatch" in codes(x) for x in results)' "$dom: no mismatch"
done

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
