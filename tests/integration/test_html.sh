#!/bin/bash
# test_html.sh - the HTML report (--format html -o FILE) in a real headless
# browser (Debian's chromium).
#
# One mailprobe run over the real Postfix and Dovecot of servers.sh, the
# hostile fake server (escape sequences in greetings and capabilities, a
# certificate whose subject carries HTML markup, a silent server) and a
# closed port, with a policy (so verdicts appear) and the JSON report beside
# it (-o json:FILE) as the reference. Then Chromium loads the page:
#   --dump-dom: every endpoint's grid cell shows its status word (the JSON's),
#     every endpoint has its <details id="ep-N">, the hostile text is there
#     as text and no element or event handler was injected;
#   the browser log shows no console message (the page has no script; a
#     CSP violation or an injected script would show up there);
#   --screenshot in a 420 px wide window (kept in the work dir to look at).
# Everything is on 127.0.0.1; each browser run is bounded with timeout.
. "$(dirname "$0")/lib.sh"
mp_setup
# shellcheck source=SCRIPTDIR/../fake/fakelib.sh
. "$MP_SRC/tests/fake/fakelib.sh"
# The helpers below check every step themselves; fake_cleanup (the EXIT
# trap) must not stop at its first failing wait.
set +e

. "$MP_SRC/tests/integration/browser.sh"

H=127.0.0.1
fake_init html
SCENARIOS=smtp-escape-greeting,smtp-escape-caps,imap-escape-greeting,smtp-silent,tls-evil-cert

# A self-signed certificate whose subject and SAN carry HTML markup.
EVIL=$FAKE_WORK/evil
mkdir -p "$EVIL"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout "$EVIL/key.pem" \
	-out "$EVIL/cert.pem" \
	-subj "/CN=<img src=x onerror=alert(1)>/O=<script>alert(2)<\/script> \"'&" \
	-addext "subjectAltName=DNS:localhost,DNS:<b>bold</b>.test" \
	2>"$EVIL/openssl.log" || mp_fail "openssl could not make the hostile certificate"
fake_start --only "$SCENARIOS" --evil-cert "$EVIL/cert.pem" --evil-key "$EVIL/key.pem"

# A port nobody listens on (bound, then closed): "refused".
CLOSED=$("$MP_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

URLS=(
	"smtp+starttls://$H:$MP_SMTP_PORT"
	"smtp+starttls://$H:$MP_SUBMISSION_PORT"
	"smtps://$H:$MP_SMTPS_PORT"
	"imap+starttls://$H:$MP_IMAP_PORT"
	"imaps://$H:$MP_IMAPS_PORT"
	"pop3+starttls://$H:$MP_POP3_PORT"
	"pop3s://$H:$MP_POP3S_PORT"
	"smtp://$H:$CLOSED"
	"$(fake_url smtp smtp-escape-greeting)"
	"$(fake_url smtp smtp-escape-caps)"
	"$(fake_url imap imap-escape-greeting)"
	"$(fake_url smtp smtp-silent)"
	"$(fake_url smtps tls-evil-cert)"
)

PAGE=$MP_WORK/report.html
JSON=$MP_WORK/report.json
mp_run "$MP_WORK/run.out" --format html -o "$PAGE" -o "json:$JSON" --transcript \
	--cafile "$MP_CA" --require-verified --connect-timeout 1000 --greeting-timeout 500 \
	--timeout 2000 --tls-timeout 2000 "${URLS[@]}"
# The evil certificate does not verify: CRITICAL.
mp_expect_rc 2
[ -s "$PAGE" ] || mp_fail "no HTML page written"
pyeq "$JSON" 'len(results)' "${#URLS[@]}" "one result per URL"
pyeq "$JSON" 'R("smtp", '"$CLOSED"')["status"]' '"refused"' "the closed port is refused"
SILENT=$(fake_port smtp-silent)
pyeq "$JSON" 'R("smtp", '"$SILENT"')["status"]' '"greeting_timeout"' "the silent server times out"
mp_note "report written: $(wc -c <"$PAGE") bytes"

# The file itself: valid UTF-8, no raw markup from a server.
"$MP_PY" - "$PAGE" <<'EOF' || mp_fail "the HTML file is not safe as written"
import sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")  # raises on invalid UTF-8
for bad in ("<img", "<script", "<b>"):
    assert bad not in text, bad
assert "\x1b" not in text and "\u202e" not in text and "\x9b" not in text
EOF

DOM=$MP_WORK/dom.html
chromium_run --dump-dom "file://$PAGE" >"$DOM" ||
	mp_fail "chromium --dump-dom failed: $(tail -n 5 "$MP_WORK/chromium.$BROWSER_RUNS.err")"
[ -s "$DOM" ] || mp_fail "chromium dumped an empty DOM"
msgs=$(page_messages "$MP_WORK/chromium.$BROWSER_RUNS.err")
[ -z "$msgs" ] || mp_fail "the browser logged messages about the page: $msgs"

"$MP_PY" - "$DOM" "$JSON" <<'EOF' || mp_fail "the page as the browser built it is wrong"
import json, re, sys
from html.parser import HTMLParser

dom = open(sys.argv[1], encoding="utf-8").read()
report = json.load(open(sys.argv[2]))
results = report["results"]
errors = []

class Page(HTMLParser):
    """Elements (tag, attrs), the whole text, the grid cells' first status
    word per link target, and the details ids."""
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.stack = [], [], []
        self.cells = {}          # "ep-N" -> status word shown in the grid
        self.details = []
        self.in_cell = 0
        self.link = None
        self.want_status = False
        self.title = ""
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "title":
            self.in_title = True
        if tag == "td" and "cell" in (a.get("class") or "").split():
            self.in_cell += 1
        if tag == "a" and self.in_cell:
            self.link = (a.get("href") or "").lstrip("#")
        if tag == "span" and self.link and "st" in (a.get("class") or "").split():
            self.want_status = True
        if tag == "details":
            self.details.append(a.get("id"))
        if tag not in ("br", "meta", "link", "img", "input", "hr", "wbr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag == "td" and self.in_cell:
            self.in_cell -= 1
        if tag == "a":
            self.link = None
        if tag == "span":
            self.want_status = False

    def handle_data(self, data):
        self.text.append(data)
        if self.in_title:
            self.title += data
        if self.want_status and self.link:
            self.cells.setdefault(self.link, data.strip())

p = Page()
p.feed(dom)
text = "".join(p.text)

# 1. Each endpoint's status word in its grid cell, and its details.
for i, res in enumerate(results):
    got = p.cells.get("ep-%d" % i)
    if got != res["status"]:
        errors.append("grid cell of ep-%d (%s:%s) shows %r, the JSON says %r"
                      % (i, res["protocol"], res["port"], got, res["status"]))
if sorted(p.cells) != sorted("ep-%d" % i for i in range(len(results))):
    errors.append("grid cells link to %s" % sorted(p.cells))
if p.details != ["ep-%d" % i for i in range(len(results))]:
    errors.append("details ids are %s" % p.details)
for word in ("ok", "refused", "greeting_timeout"):
    if word not in p.cells.values():
        errors.append("no grid cell shows %r" % word)

# 2. The run's state and the verdicts.
if "CRITICAL" not in p.title:
    errors.append("title %r lacks the state" % p.title)
if "Policy: CRITICAL" not in text or "require-verified" not in text:
    errors.append("the policy section or the require-verified verdict is missing")

# 3. Nothing injected: no element a server could have brought, no handler.
allowed = {"html", "head", "meta", "title", "style", "body", "div", "h1", "h2", "h4", "p",
           "strong", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "br", "ul",
           "li", "details", "summary", "dl", "dt", "dd", "pre", "code"}
for tag, attrs in p.tags:
    if tag not in allowed:
        errors.append("unexpected element <%s %s>" % (tag, attrs))
    for name, value in attrs:
        if name.startswith("on") or (value or "").lower().startswith("javascript:"):
            errors.append("event handler or script URL: <%s %s=%r>" % (tag, name, value))
    if tag == "a":
        href = dict(attrs).get("href") or ""
        if not re.fullmatch(r"#ep-\d+", href):
            errors.append("link to %r" % href)

# 4. The hostile text is there, as text.
# (The certificate's subject is in RFC 4514 form: markup characters get a
# backslash.)
for want in ("\\<img src\\=x onerror\\=alert(1)\\>", "\\<script\\>alert(2)\\</script\\>",
             "<b>bold</b>.test", "\\x1b]0;pwned-title\\x07", "\\x1b[2J", "\\x9b31m",
             "\\xc2\\x9b32m", "\\xe2\\x80\\xaeevil", "X-CSI\\x1b[2J", "\\xff\\xfe"):
    if want not in text:
        errors.append("text %r is not shown" % want)
for bad in ("\x1b", "\u202e", "\x9b"):
    if bad in text:
        errors.append("raw control %r reached the page" % bad)

for e in errors:
    print("FAIL", e)
sys.exit(1 if errors else 0)
EOF
mp_note "the DOM shows ${#URLS[@]} grid cells with the JSON's status words, nothing injected"

# Following a cell's link: the page scrolls to (and the browser may open)
# the endpoint's details; the fragment must not break the page.
chromium_run --dump-dom "file://$PAGE#ep-0" >"$MP_WORK/dom-ep0.html" ||
	mp_fail "chromium --dump-dom with #ep-0 failed"
grep -q '<details id="ep-0"' "$MP_WORK/dom-ep0.html" || mp_fail "#ep-0 is not in the page"

# A narrow window: the screenshot is written (look at it: narrow.png).
SHOT=$MP_WORK/narrow.png
chromium_run --screenshot="$SHOT" --window-size=420,1200 --hide-scrollbars "file://$PAGE" \
	>/dev/null || mp_fail "chromium --screenshot failed"
[ -s "$SHOT" ] || mp_fail "no screenshot written"
msgs=$(page_messages "$MP_WORK/chromium.$BROWSER_RUNS.err")
[ -z "$msgs" ] || mp_fail "the browser logged messages about the page: $msgs"
"$MP_PY" - "$SHOT" <<'EOF' || mp_fail "the screenshot is not a 420 px wide PNG"
import struct, sys
head = open(sys.argv[1], "rb").read(24)
assert head[:8] == b"\x89PNG\r\n\x1a\n", head[:8]
w, h = struct.unpack(">II", head[16:24])
assert w == 420 and h == 1200, (w, h)
EOF

fake_alive
echo "ok   the HTML report in Chromium: grid, details, verdicts, hostile text escaped, no console messages"
