#!/bin/bash
# test_output_safety.sh - server text never reaches a terminal raw, and JSON is
# always valid UTF-8 with invalid bytes shown as \xHH.
#
# Fake-server scenarios (tests/fake/fakeserver.py) put ESC sequences (CSI,
# OSC set-title ended by BEL), C1 CSI both as a lone byte 0x9b and as UTF-8
# U+009B, NUL, DEL, TAB, invalid UTF-8 and the bidi override U+202E into
# greetings, capability words, AUTH mechanisms, error texts and (tls-evil-cert)
# the certificate's subject, issuer and SAN. Then:
# - table (stdout) and -v transcript (stderr), --color never: valid UTF-8, no
#   C0 byte but LF, no DEL, no C1, no bidi/separator character; the hostile
#   bytes are shown as \xHH / \t text;
# - --color always: the same once our own SGR colour sequences are removed;
# - JSON (pretty and --compact, with --transcript): strictly valid UTF-8,
#   valid against reports/schema.json, invalid bytes as \xHH, never U+FFFD,
#   nothing dropped.
set -u

# shellcheck source=SCRIPTDIR/../fake/fakelib.sh
. "$(dirname "$0")/../fake/fakelib.sh"

SCENARIOS=smtp-nul,smtp-escape-greeting,smtp-escape-caps,smtp-escape-refused
SCENARIOS=$SCENARIOS,imap-escape-greeting,pop3-escape-capa,tls-evil-cert
LIMITS=(--connect-timeout 2000 --greeting-timeout 2000 --timeout 2000 --tls-timeout 2000)

fake_init output_safety
WORK=$FAKE_WORK
VALIDATE=$MP_SRC/tests/integration/validate_report.py
[ -r "$VALIDATE" ] || fake_die "$VALIDATE is missing"

# A self-signed certificate whose text fields carry control sequences
# (openssl stores the non-ASCII bytes of -subj as UTF-8 of their Latin-1
# reading, so 0x9b becomes U+009B: a C1 control).
EVIL=$WORK/evil
mkdir -p "$EVIL"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout "$EVIL/key.pem" \
	-out "$EVIL/cert.pem" \
	-subj "/CN=$(printf 'evil\033]0;pwned-cn\007\033[2J\233CN')/O=$(printf 'org\033[31mred\177')" \
	-addext "subjectAltName=DNS:localhost,DNS:$(printf 'x\033[2J.test')" \
	2>"$EVIL/openssl.log" || fake_die "openssl could not make the hostile certificate"
fake_start --only "$SCENARIOS" --evil-cert "$EVIL/cert.pem" --evil-key "$EVIL/key.pem"

URLS=("$(fake_url smtp smtp-nul)" "$(fake_url smtp smtp-escape-greeting)"
	"$(fake_url smtp smtp-escape-caps)" "$(fake_url smtp+starttls smtp-escape-refused)"
	"$(fake_url imap imap-escape-greeting)" "$(fake_url pop3 pop3-escape-capa)"
	"$(fake_url smtps tls-evil-cert)")

status=0
fail() {
	echo "FAIL $*"
	status=1
}

# run NAME ARGS...: mailprobe ARGS > NAME.out 2> NAME.err, bounded.
run() {
	local name=$1
	shift
	timeout -k 5 60 "$MAILPROBE" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	RC=$?
	[ "$RC" -eq 0 ] || fail "$name: mailprobe exited $RC: $(head -c 500 "$WORK/$name.err")"
	if grep -qE 'Sanitizer|runtime error:' "$WORK/$name.err"; then
		fail "$name: sanitizer report on stderr"
		head -c 3000 "$WORK/$name.err"
	fi
}

# must_show FILE TEXT...: each TEXT (fixed string) appears in FILE.
must_show() {
	local f=$1 t
	shift
	for t in "$@"; do
		grep -qF -- "$t" "$f" || fail "$(basename "$f") does not show $t"
	done
}

# 1. Table and -v transcript, no colour.
run plain -v --color never "${LIMITS[@]}" "${URLS[@]}"
"$FAKE_PY" "$FAKE_CHECK" termsafe "$WORK/plain.out" "$WORK/plain.err" || status=1
# The table: AUTH cells and error texts quote server bytes as \xHH.
must_show "$WORK/plain.out" '454 4.7.0 \x1b[2J\x1b[H \x1b]0;pwned-title\x07 \x9b31m' \
	'\xc2\x9b32m \xe2\x80\xaeevil\xe2\x80\xac \xff\xfe \x7f \x09 end' \
	'220 fake\x00.test' 'X\x1b[31MRED'
# The transcript: every line as received, escaped.
must_show "$WORK/plain.err" '250-X-OSC\x1b]0;pwned\x07' '250-X-C1\x9b2J' \
	'250-X-C1UTF8\xc2\x9b2J' '250-X-BIDI\xe2\x80\xaeevil' '250-X-DEL\x7f' '250-X-TAB\tx' \
	'* CAPABILITY IMAP4rev1 X-\x1b[2J AUTH=\x1b]0;t\x07PLAIN' 'SASL PLAIN \x9bC1 \xe2\x80\xaeRLO \xff' \
	'220 fake\x00.test ESMTP \xff\xfe\xc3('
n=$(grep -c '^--- ' "$WORK/plain.err")
[ "$n" -eq "${#URLS[@]}" ] || fail "-v printed $n transcripts for ${#URLS[@]} endpoints"

# 2. Colour forced: only our own SGR sequences may appear.
run color -v --color always "${LIMITS[@]}" "${URLS[@]}"
grep -q $'\033\\[' "$WORK/color.out" || fail "--color always printed no colour at all"
"$FAKE_PY" "$FAKE_CHECK" termsafe --allow-sgr "$WORK/color.out" "$WORK/color.err" || status=1

# 3. JSON, pretty and compact, with the transcript.
run json --format json --transcript "${LIMITS[@]}" "${URLS[@]}"
run compact --format json --compact --transcript "${LIMITS[@]}" "${URLS[@]}"
for f in json compact; do
	"$FAKE_PY" "$FAKE_CHECK" jsonsafe "$WORK/$f.out" || status=1
	if "$FAKE_PY" "$VALIDATE" "$WORK/$f.out" >"$WORK/$f.validate" 2>&1; then
		echo "ok   $f: report validates against reports/schema.json"
	else
		fail "$f: report does not validate: $(head -c 1000 "$WORK/$f.validate")"
	fi
done
[ "$(wc -l <"$WORK/compact.out")" -le 1 ] || fail "--compact wrote more than one line"
"$FAKE_PY" - "$WORK/json.out" "$WORK/compact.out" \
	"$(fake_port smtp-escape-caps)" "$(fake_port tls-evil-cert)" <<'EOF' || status=1
import json, sys
pretty, compact = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
esc_port, cert_port = int(sys.argv[3]), int(sys.argv[4])
errs = []
raw = open(sys.argv[1], "rb").read().decode("utf-8")
if "\ufffd" in raw:
    errs.append("U+FFFD in the JSON: bytes were replaced, not escaped")

def text_of(report):
    """What the server said, per result (timings differ between runs)."""
    return [(r["port"], r["status"], r["greeting"], r["error"], r["capabilities"],
             r["auth_mechanisms"]) for r in report["results"]]


if text_of(pretty) != text_of(compact):
    errs.append("pretty and compact JSON carry different server text")
by_port = {r["port"]: r for r in pretty["results"]}
g = by_port[esc_port]["greeting"]
for want in ("\x1b]0;pwned-title\x07", "\x1b[2J", "\\x9b31m", "\u009b32m", "\u202eevil\u202c",
             "\\xff\\xfe", "\x7f", "\t end"):
    if want not in g:
        errs.append("greeting %r lacks %r" % (g, want))
# Every transcript line is a string; invalid bytes of the greeting show as \xHH there too.
t = [e["text"] for e in by_port[esc_port].get("transcript") or [] if e["dir"] == "S"]
if not t or "\\xff\\xfe" not in t[0]:
    errs.append("transcript's first server line lacks \\xff\\xfe: %r" % t[:1])
tls = by_port[cert_port].get("tls") or {}
cert = tls.get("certificate") or {}
subj = cert.get("subject") or ""
san = cert.get("san") or []
if by_port[cert_port]["status"] != "ok":
    errs.append("tls-evil-cert status %r" % by_port[cert_port]["status"])
# wolfSSL writes the subject RFC 2253-style (controls as \1B); nothing may be lost.
for want in ("evil", "pwned-cn", "2J", "CN", "org", "red"):
    if want not in subj:
        errs.append("certificate subject lost %r: %r" % (want, subj))
if not any("x" in s and ".test" in s for s in san):
    errs.append("SAN with the escape sequence missing: %r" % san)
for e in errs:
    print("FAIL " + e)
if not errs:
    print("ok   JSON keeps server text (greeting, transcript, certificate %r) escaped, "
          "nothing replaced or dropped" % subj)
sys.exit(1 if errs else 0)
EOF

fake_alive
[ "$status" = 0 ] && echo "ok   output safety: table, -v, colour and JSON"
[ "$FAKE_KEEP" = 1 ] && echo "artifacts: $WORK"
exit $status
