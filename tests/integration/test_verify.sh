#!/bin/bash
# test_verify.sh - certificate verification (issue 21) with chains made by
# openssl, each judged against `openssl verify -purpose sslserver
# -verify_hostname/-verify_ip` as the oracle: name constraints of a CA above
# the issuing CA (DNS and IP), a sub-CA whose own name lies outside the
# permitted tree, keyUsage without keyCertSign, a clientAuth-only leaf, key
# rollover (two intermediates with one name), a chain of 9 certificates, an
# unknown critical extension, an IDN host (A-label SNI and match), numeric
# host spellings. And where verification fails, no login is attempted: the
# password never leaves.
#
# Server: one stunnel with a service per case in front of the real Dovecot's
# plaintext IMAP port of servers.sh (stunnel connects from 127.0.0.1, where
# Dovecot offers PLAIN and LOGIN), so a verified case really logs in.
. "$(dirname "$0")/lib.sh"
mp_setup

H=127.0.0.1
D=$MP_WORK/verify
mkdir -p "$D"
command -v stunnel >/dev/null || mp_fail "stunnel is not installed (.ci/install-deps.sh installs it)"
: >"$D/openssl.log"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/$1.key" 2>>"$D/openssl.log"; }
# ca NAME SUBJECT ISSUER EXTRA_EXT: a CA certificate (ISSUER "" = self-signed root)
ca() {
	local ext="$D/$1.ext"
	printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n%b' "${4:-}" >"$ext"
	[ -f "$D/$1.key" ] || key "$1"
	if [ -z "$3" ]; then
		openssl req -x509 -new -key "$D/$1.key" -subj "$2" -days 30 -out "$D/$1.pem" \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign 2>>"$D/openssl.log" ||
			mp_fail "cannot make $1 (see $D/openssl.log)"
	else
		sign "$1" "$2" "$3" "$ext"
	fi
}
# sign NAME SUBJECT ISSUER EXTFILE
sign() {
	[ -f "$D/$1.key" ] || key "$1"
	openssl req -new -key "$D/$1.key" -subj "$2" -out "$D/$1.csr" 2>>"$D/openssl.log"
	openssl x509 -req -in "$D/$1.csr" -CA "$D/$3.pem" -CAkey "$D/$3.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$4" -out "$D/$1.pem" \
		2>>"$D/openssl.log" || mp_fail "cannot sign $1 (see $D/openssl.log)"
}
# leaf NAME ISSUER EXT_LINES
leaf() {
	printf 'basicConstraints=critical,CA:FALSE\nauthorityKeyIdentifier=keyid\n%b' "$3" >"$D/$1.ext"
	sign "$1" "/CN=$1" "$2" "$D/$1.ext"
}

ca root "/CN=Verify Test Root" ""
# name constraints on a CA above the issuing CA
ca nc "/CN=Constrained CA" root 'nameConstraints=critical,permitted;DNS:good.test,permitted;IP:10.0.0.0/255.0.0.0\n'
ca sub "/CN=ca.evil.test" nc ''  # unconstrained sub-CA; its CN lies outside the tree
leaf nc_evil sub 'subjectAltName=DNS:mail.evil.test\n'
leaf nc_ip sub 'subjectAltName=IP:127.0.0.1\n'
leaf nc_good sub 'subjectAltName=DNS:mail.good.test\n'
# an intermediate without keyCertSign
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n' >"$D/nocertsign.ext"
sign nocertsign "/CN=No CertSign CA" root "$D/nocertsign.ext"
leaf ku_leaf nocertsign 'subjectAltName=DNS:mail.test\n'
# a leaf for clients only
leaf eku_client root 'subjectAltName=DNS:mail.test\nextendedKeyUsage=clientAuth\n'
# key rollover: two intermediates named alike, the leaf under the new key;
# the server sends the old one first
ca roll_old "/CN=Rollover CA" root ''
ca roll_new "/CN=Rollover CA" root ''
leaf roll_leaf roll_new 'subjectAltName=DNS:mail.test\n'
# 8 intermediates: 9 certificates sent, the most Debian's wolfSSL takes in a
# handshake (10 fail with "Handshake message too large": its compile-time
# MAX_CHAIN_DEPTH); longer paths are covered by test_limbo
prev=root
for i in $(seq 1 8); do
	ca "long$i" "/CN=Long CA $i" "$prev" ''
	prev=long$i
done
leaf long_leaf "$prev" 'subjectAltName=DNS:mail.test\n'
# an unknown critical extension in an intermediate (in the leaf, Debian's
# wolfSSL fails the handshake itself: "X.509 Critical extension ignored or
# invalid", before mailprobe sees the chain)
ca critca "/CN=Critical Extension CA" root '1.3.6.1.4.1.55555.1=critical,ASN1:NULL\n'
leaf crit_leaf critca 'subjectAltName=DNS:mail.test\n'
# an internationalised name: the certificate holds the A-label
leaf idn_leaf root 'subjectAltName=DNS:xn--bcher-kva.example.test\n'
# a leaf for an address, reached through other spellings of it
leaf ip_leaf root 'subjectAltName=IP:127.0.0.1\n'
# a legacy leaf that names its host only in the subject CN (no subjectAltName)
printf 'basicConstraints=critical,CA:FALSE\nauthorityKeyIdentifier=keyid\n' >"$D/cn_only.ext"
sign cn_only "/CN=mail.test" root "$D/cn_only.ext"
chmod 600 "$D"/*.key

# chain files: leaf, then what the server sends besides
cat "$D/nc_evil.pem" "$D/sub.pem" "$D/nc.pem" >"$D/nc_evil.chain"
cat "$D/nc_ip.pem" "$D/sub.pem" "$D/nc.pem" >"$D/nc_ip.chain"
cat "$D/nc_good.pem" "$D/sub.pem" "$D/nc.pem" >"$D/nc_good.chain"
cat "$D/ku_leaf.pem" "$D/nocertsign.pem" >"$D/ku_leaf.chain"
cp "$D/eku_client.pem" "$D/eku_client.chain"
cat "$D/roll_leaf.pem" "$D/roll_old.pem" "$D/roll_new.pem" >"$D/roll_leaf.chain"
{
	cat "$D/long_leaf.pem"
	for i in $(seq 8 -1 1); do cat "$D/long$i.pem"; done
} >"$D/long_leaf.chain"
cat "$D/crit_leaf.pem" "$D/critca.pem" >"$D/crit_leaf.chain"
cp "$D/idn_leaf.pem" "$D/idn_leaf.chain"
cp "$D/ip_leaf.pem" "$D/ip_leaf.chain"
cp "$D/cn_only.pem" "$D/cn_only.chain"

# case: name, chain, host to verify (mailprobe --sni, or the address), oracle host
CASES=(
	"nc_evil mail.evil.test mail.evil.test"
	"nc_ip 127.0.0.1 127.0.0.1"
	"nc_good mail.good.test mail.good.test"
	"ku_leaf mail.test mail.test"
	"eku_client mail.test mail.test"
	"roll_leaf mail.test mail.test"
	"long_leaf mail.test mail.test"
	"crit_leaf mail.test mail.test"
	"idn_leaf bücher.example.test xn--bcher-kva.example.test"
	"ip_leaf 127.1 127.0.0.1"
	"cn_only mail.test mail.test"
)

read -r -a PORTS <<<"$(/usr/bin/python3 "$MP_SRC/tests/fake/loopback.py" free-ports ${#CASES[@]})"
{
	echo "foreground = yes"
	echo "pid ="
	echo "output = $D/stunnel.log"
	i=0
	for c in "${CASES[@]}"; do
		read -r name _ <<<"$c"
		printf '[%s]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\nkey = %s\n' \
			"$name" "${PORTS[$i]}" "$MP_IMAP_PORT" "$D/$name.chain" "$D/$name.key"
		i=$((i + 1))
	done
} >"$D/stunnel.conf"
setsid stunnel "$D/stunnel.conf" </dev/null >>"$D/stunnel.log" 2>&1 &
STUNNEL=$!
trap 'kill -TERM $STUNNEL 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	up=1
	for p in "${PORTS[@]}"; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || up=0; done
	[ $up -eq 1 ] && break
	kill -0 $STUNNEL 2>/dev/null || { tail "$D/stunnel.log" >&2; mp_fail "stunnel exited"; }
	sleep 0.1
done
[ $up -eq 1 ] || mp_fail "stunnel ports did not open"

# oracle NAME HOST: 0 when openssl verify accepts the chain for HOST
oracle() {
	local name=$1 host=$2 flag=-verify_hostname untrusted=()
	[[ $host =~ ^[0-9.]+$ ]] && flag=-verify_ip
	awk '/BEGIN CERT/{c++} c>1' "$D/$name.chain" >"$D/$name.untrusted"
	[ -s "$D/$name.untrusted" ] && untrusted=(-untrusted "$D/$name.untrusted")
	openssl verify -purpose sslserver "$flag" "$host" -CAfile "$D/root.pem" "${untrusted[@]}" \
		"$D/$name.pem" >>"$D/oracle.log" 2>&1
}

declare -A WANT=(
	[nc_evil]=0 [nc_ip]=0 [nc_good]=1 [ku_leaf]=0 [eku_client]=0
	[roll_leaf]=1 [long_leaf]=1 [crit_leaf]=0 [idn_leaf]=1 [ip_leaf]=1 [cn_only]=1
)
# Where mailprobe is stricter than OpenSSL on purpose: RFC 9525 never matches
# the subject CN (OpenSSL falls back to it when there is no DNS name).
declare -A DIVERGE=([cn_only]=0)
i=0
for c in "${CASES[@]}"; do
	read -r name host ohost <<<"$c"
	port=${PORTS[$i]}
	i=$((i + 1))
	if oracle "$name" "$ohost"; then o=1; else o=0; fi
	[ "$o" = "${WANT[$name]}" ] || mp_fail "$name: openssl verify says $o, the test expects ${WANT[$name]} (see $D/oracle.log)"
	[ -n "${DIVERGE[$name]:-}" ] && o=${DIVERGE[$name]}
	J=$MP_WORK/verify_$name.json
	sni=(--sni "$host")
	[[ $host =~ ^[0-9.]+$ ]] && sni=()
	mp_json "$J" --transcript --cafile "$D/root.pem" "${sni[@]}" --user "$MP_USER" \
		--password-file "$MP_PASS_FILE" "imaps://$([ ${#sni[@]} -eq 0 ] && echo "$host" || echo $H):$port"
	mp_validate "$J"
	pyeq "$J" 'results[0]["status"]' '"ok"' "$name: the probe itself works (verification never stops it)"
	got=$(/usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["results"][0]["tls"]; print(int(t["verified"] and t["hostname_matched"]))' "$J")
	[ "$got" = "$o" ] || mp_fail "$name: mailprobe says $got, openssl verify says $o: $(/usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["results"][0]["tls"]; print(t["verify_error"], t["verify_reasons"])' "$J")"
	sent='[e["text"] for e in results[0]["transcript"] if e["dir"] == "C"]'
	if [ "$o" = 1 ]; then
		pyassert "$J" 'any(a["status"] == "ok" for a in results[0]["auth_results"])' \
			"$name: verified, so the login goes ahead and works"
	else
		pyassert "$J" 'results[0]["auth_results"] and all(a["status"] == "skipped" for a in results[0]["auth_results"])' \
			"$name: not verified, every login skipped"
		pyassert "$J" "not any(re.match(r'a\\d+ (LOGIN|AUTHENTICATE)', t) for t in $sent)" \
			"$name: no LOGIN or AUTHENTICATE was sent"
		pyassert "$J" "not any(open(env['MP_PASS_FILE']).read().strip() in t for t in $sent)" \
			"$name: the password never left"
	fi
	mp_note "$name: $o, as openssl verify"
done

# reasons and wire details the oracle does not show
pyassert "$MP_WORK/verify_crit_leaf.json" '"unhandled critical extension" in results[0]["tls"]["verify_error"]' \
	"an unknown critical extension is a verification reason"
pyassert "$MP_WORK/verify_nc_evil.json" '"subtree violation" in results[0]["tls"]["verify_error"]' \
	"the constraint of the CA above the issuer is named"
pyeq "$MP_WORK/verify_ip_leaf.json" 'results[0]["tls"]["sni"]' 'None' "127.1 is an address: no SNI"
pyassert "$MP_WORK/verify_cn_only.json" 'any(f["code"] == "certificate_name_mismatch" and "only in its subject CN" in f["message"] for f in results[0]["findings"])' \
	"a CN-only certificate: the mismatch finding says why (RFC 9525)"
