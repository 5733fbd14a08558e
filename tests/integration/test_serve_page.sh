#!/bin/bash
# test_serve_page.sh - the exporter's status page (GET /) in a real headless
# browser: "mailprobe serve" probes the configured targets in the background
# (the real Postfix and Dovecot, and hostile fake servers whose greeting and
# certificate carry markup and escape sequences); Chromium loads the page over
# HTTP from the exporter itself; every target's grid shows its status words,
# element ids are unique across the runs on the page, the hostile text is
# shown as text, nothing a server sent becomes an element or runs, and the
# browser logs nothing about the page.
. "$(dirname "$0")/lib.sh"
mp_setup
. "$MP_SRC/tests/fake/fakelib.sh"
. "$MP_SRC/tests/integration/browser.sh"
set +e

H=127.0.0.1
PROBED_WAIT_TENTHS=300   # every target probed in the background within 30 s
SERVE_PID=

fake_init serve_page
EVIL=$FAKE_WORK/evil
mkdir -p "$EVIL"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout "$EVIL/key.pem" \
	-out "$EVIL/cert.pem" -subj "/CN=<img src=x onerror=alert(1)>/O=<script>alert(2)<\/script>" \
	2>"$EVIL/openssl.log" || mp_fail "openssl could not make the hostile certificate"
fake_start --only smtp-escape-greeting,tls-evil-cert --evil-cert "$EVIL/cert.pem" \
	--evil-key "$EVIL/key.pem"
stop_serve() {
	[ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
	SERVE_PID=
}
trap 'stop_serve; fake_cleanup' EXIT

TARGETS=("smtps://$H:$MP_SMTPS_PORT" "imap+starttls://$H:$MP_IMAP_PORT"
	"$(fake_url smtp smtp-escape-greeting)" "$(fake_url smtps tls-evil-cert)")
PORT=$("$MP_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CFG=$MP_WORK/serve.json
"$MP_PY" - "$CFG" "${TARGETS[@]}" <<'PY'
import json, os, sys
mod = {"cafile": os.environ["MP_CA"], "greeting-timeout": 1000, "timeout": 2000,
       "require-verified": True}
json.dump({"allow": ["127.0.0.1"], "modules": {"page": mod}, "interval": 1,
           "targets": [{"target": t, "module": "page"} for t in sys.argv[2:]]},
          open(sys.argv[1], "w"))
PY
"$MAILPROBE" serve --listen "$H:$PORT" --config "$CFG" 2>"$MP_WORK/serve.err" &
SERVE_PID=$!

# Until every target has been probed once (no "not probed" left), bounded.
PAGE=$MP_WORK/status.html
for _ in $(seq "$PROBED_WAIT_TENTHS"); do
	if curl -s -m 5 -o "$PAGE" "http://$H:$PORT/" && [ -s "$PAGE" ] &&
		! grep -q 'not probed' "$PAGE"; then
		break
	fi
	sleep 0.1
done
grep -q 'not probed' "$PAGE" && mp_fail "targets still not probed after 30 s: $(cat "$MP_WORK/serve.err")"
for t in "${TARGETS[@]}"; do
	grep -qF "$t (module page)" "$PAGE" || mp_fail "the page has no section for $t"
done

DOM=$MP_WORK/dom.html
chromium_run --dump-dom "http://$H:$PORT/" >"$DOM" ||
	mp_fail "chromium --dump-dom failed: $(tail -n 5 "$MP_WORK/chromium.$BROWSER_RUNS.err")"
[ -s "$DOM" ] || mp_fail "chromium dumped an empty DOM"
msgs=$(page_messages "$MP_WORK/chromium.$BROWSER_RUNS.err")
[ -z "$msgs" ] || mp_fail "the browser logged messages about the page: $msgs"

"$MP_PY" - "$DOM" <<'PY' || mp_fail "the status page as the browser built it is wrong"
import re, sys
from html.parser import HTMLParser

dom = open(sys.argv[1], encoding="utf-8").read()
errors = []

class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.ids = [], [], []
    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
    def handle_data(self, data):
        self.text.append(data)

p = Page()
p.feed(dom)
text = "".join(p.text)
# four runs, one per target, each with its own ids
runs = sorted(set(i.split("-")[0] for i in p.ids))
if runs != ["t0", "t1", "t2", "t3"]:
    errors.append("element ids come from runs %s, expected t0..t3" % runs)
if len(p.ids) != len(set(p.ids)):
    errors.append("duplicate element ids: %s" % sorted(i for i in p.ids if p.ids.count(i) > 1))
for tag, attrs in p.tags:
    if tag in ("img", "script", "iframe", "object", "embed", "b"):
        errors.append("a server's markup became an element: <%s %s>" % (tag, attrs))
    for name, value in attrs:
        if name.startswith("on"):
            errors.append("event handler <%s %s>" % (tag, name))
    if tag == "a":
        href = dict(attrs).get("href") or ""
        if not re.fullmatch(r"#t\d-\d+", href):
            errors.append("link to %r" % href)
for want in ("ok", "CRITICAL", "\\<img src\\=x onerror\\=alert(1)\\>", "\\x1b]0;pwned-title\\x07"):
    if want not in text:
        errors.append("%r is not shown" % want)
if "\x1b" in text:
    errors.append("a raw ESC reached the page")
for e in errors:
    print("FAIL", e)
sys.exit(1 if errors else 0)
PY

stop_serve
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$MP_WORK/serve.err" &&
	mp_fail "sanitizer report from the exporter: $(head -c 2000 "$MP_WORK/serve.err")"
echo "PASS: test_serve_page"
