#!/usr/bin/python3
"""hostile_check.py - what mailprobe must report for each fakeserver.py scenario.

The one table of expectations for tests/integration/test_hostile.sh:

    hostile_check.py urls READY_FILE
        prints one endpoint URL per scenario (one per line), in table order.
    hostile_check.py check READY_FILE REPORT EXIT_CODE WALL_MS STDERR [SERVER_LOG]
        asserts the report of one mailprobe run over those URLs; prints one
        line per scenario and, for each failure, the observed result; exits 1
        when anything failed.
    hostile_check.py statuses READY_FILE REPORT...
        for runs over the URLs repeated any number of times (test_soak.sh):
        every result's status is one the scenario accepts; prints counts.
    hostile_check.py termsafe [--allow-sgr] FILE...
        asserts FILE (table or -v transcript output) is safe for a terminal:
        valid UTF-8, no C0 control but LF, no DEL, no C1, no bidi or line
        separator format character; --allow-sgr first removes our own colour
        sequences (ESC [ digits m).
    hostile_check.py jsonsafe FILE...
        asserts FILE is strictly valid UTF-8 JSON whose raw text has no control
        byte other than LF and TAB (the encoder escapes the rest).
    hostile_check.py markdown READY_FILE REPORT
        prints the scenario outcomes of a `check` run as a markdown table.

The time bounds assume the run used the limits in RUN_LIMITS below.
"""

import json
import os
import re
import sys
import time

# The limits test_hostile.sh passes to mailprobe (milliseconds).
RUN_LIMITS = {
    "connect-timeout": 1000,
    "greeting-timeout": 500,
    "timeout": 1000,
    "tls-timeout": 1000,
}
G = RUN_LIMITS["greeting-timeout"]
T = RUN_LIMITS["timeout"]
TLS = RUN_LIMITS["tls-timeout"]
SLACK = 250             # scheduling slack on top of a timeout
FAST = G + 2 * SLACK + 250  # a failure the client should see at once (1250 ms)

# The whole run: the slowest endpoint bound plus process start and exit.
WALL_BOUND_MS = 5000

# Sanitizer reports that must never appear on stderr.
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "ThreadSanitizer", "runtime error:")


NUL_GREETING_MARK = "title"     # a word only the smtp-nul greeting carries


def check_escaped_greeting(where, g):
    """One copy of the smtp-nul greeting: NUL and invalid UTF-8 bytes escaped
    as \\xHH, nothing after them lost, no byte silently replaced."""
    errs = []
    low = g.lower()
    for esc in ("\\x00", "\\xff", "\\xfe", "\\xc3"):
        if esc not in low:
            errs.append("%s lacks the escape %s: %r" % (where, esc, g))
    if "\x00" in g:
        errs.append("%s carries a raw NUL: %r" % (where, g))
    if "\ufffd" in g:
        errs.append("%s has U+FFFD (bytes replaced, not escaped): %r" % (where, g))
    for word in (".test", "red", "end"):
        if word not in g:
            errs.append("%s lost %r (truncated at a bad byte?): %r" % (where, word, g))
    if "\x1b" not in g and "\\x1b" not in low:
        errs.append("%s lost the ESC bytes entirely: %r" % (where, g))
    return errs


def check_nul_greeting(res):
    """Wherever the report carries the greeting with NUL bytes, invalid UTF-8
    and ESC sequences (the greeting field; the error message and transcript,
    which quote it), its bad bytes are escaped. With status ok the greeting
    field must carry it; with protocol_error (the line was refused) the
    greeting may be null but the report must still show the line."""
    copies = []
    g = res.get("greeting")
    if res.get("status") == "ok" and not isinstance(g, str):
        return ["status ok but greeting is %r" % (g,)]
    if isinstance(g, str):
        copies.append(("greeting", g))
    if isinstance(res.get("error"), str) and NUL_GREETING_MARK in res["error"]:
        copies.append(("error", res["error"]))
    for i, t in enumerate(res.get("transcript") or []):
        if t.get("dir") == "S" and NUL_GREETING_MARK in (t.get("text") or ""):
            copies.append(("transcript[%d]" % i, t["text"]))
    if not copies:
        return ["the report shows the greeting nowhere (greeting, error, transcript)"]
    errs = []
    for where, text in copies:
        errs.extend(check_escaped_greeting(where, text))
    return errs


def check_trickle_fast(res):
    """A full STARTTLS probe: STARTTLS seen before TLS, capabilities again
    after it, and the certificate (from the CA given with --cafile) verified."""
    errs = []
    caps = res.get("capabilities") or {}
    before = caps.get("before_tls") or []
    after = caps.get("after_tls")
    if not any(c.upper().startswith("STARTTLS") for c in before):
        errs.append("STARTTLS not among capabilities before TLS: %r" % before)
    if not after or any(c.upper().startswith("STARTTLS") for c in after):
        errs.append("capabilities after TLS missing or still offering STARTTLS: %r" % after)
    if res.get("starttls_offered") is not True:
        errs.append("starttls_offered is %r" % res.get("starttls_offered"))
    tls = res.get("tls") or {}
    if tls.get("verified") is not True:
        errs.append("certificate not verified against --cafile: %r" % tls.get("verify_error"))
    return errs


def check_injection(res):
    """Bytes injected after the STARTTLS go-ahead never count as a reply
    received under TLS."""
    caps = res.get("capabilities") or {}
    errs = []
    for c in caps.get("after_tls") or []:
        if "INJECTED" in c.upper() or c.strip().upper() == "X":
            errs.append("injected plaintext %r taken as a capability after TLS" % c)
    auth = (res.get("auth_mechanisms") or {}).get("after_tls") or []
    if any("INJECTED" in a.upper() for a in auth):
        errs.append("injected plaintext among auth mechanisms after TLS: %r" % auth)
    if res.get("status") == "ok" and not caps.get("after_tls"):
        errs.append("status ok but no capabilities after TLS: %r" % caps.get("after_tls"))
    return errs


def error_has(*needles):
    """An extra check: the error message names each needle (case-insensitive)."""
    def check(res):
        err = res.get("error") or ""
        return ["error %r does not mention %r" % (err, n) for n in needles
                if n.lower() not in err.lower()]
    return check


def all_of(*checks):
    """An extra check made of several."""
    def check(res):
        errs = []
        for c in checks:
            errs.extend(c(res))
        return errs
    return check


def check_no_shift(res):
    """Pipelining confusion: the stray reply was refused, not taken as the
    EHLO reply; no capability of it (or of the real reply) was recorded."""
    errs = []
    before = (res.get("capabilities") or {}).get("before_tls") or []
    if before:
        errs.append("capabilities recorded from a shifted reply: %r" % before)
    if res.get("starttls_offered"):
        errs.append("starttls_offered is true, taken from a shifted reply")
    return errs


ESCAPE_GREETING_PARTS = ("\x1b]0;pwned-title\x07", "\x1b[2J", "\\x9b31m", "\u202eevil\u202c")


def check_escape_greeting(res):
    """JSON keeps the greeting's valid characters (controls are JSON-escaped
    by the encoder) and writes the lone C1 byte 0x9b as the text \\x9b."""
    g = res.get("greeting")
    if not isinstance(g, str):
        return ["greeting is %r" % (g,)]
    return ["greeting lacks %r: %r" % (p, g) for p in ESCAPE_GREETING_PARTS if p not in g]


def check_long_greeting(res):
    """A 3000-byte greeting is kept, cut to MP_MAX_GREETING (2048) bytes."""
    g = res.get("greeting")
    if not isinstance(g, str) or not g.startswith("+OK ggg"):
        return ["greeting is %r" % (g,)]
    if not 1024 <= len(g.encode()) <= 2048:
        return ["greeting is %d bytes, expected it cut to at most 2048" % len(g.encode())]
    return []


def check_pop3_injection(res):
    """STLS injection: the real CAPA after TLS (USER) was read, the injected
    one never."""
    errs = check_injection(res)
    after = [c.upper() for c in (res.get("capabilities") or {}).get("after_tls") or []]
    if "USER" not in after:
        errs.append("the real CAPA after TLS (with USER) was not read: %r" % after)
    return errs


def check_escape_caps(res):
    """Extension words and AUTH mechanisms with control sequences are kept
    (JSON-escaped), invalid bytes as \\xHH; nothing dropped."""
    errs = []
    before = [c.upper() for c in (res.get("capabilities") or {}).get("before_tls") or []]
    # Keywords are upper-cased and blanks (TAB) made one space by the parser.
    for want in ("X-CSI\x1b[2J", "X-OSC\x1b]0;PWNED\x07", "X-C1\\X9B2J", "X-C1UTF8\u009b2J",
                 "X-BIDI\u202eEVIL", "X-BAD\\XFF\\XFE", "X-DEL\x7f", "X-TAB X"):
        if want not in before:
            errs.append("capability %r missing from %r" % (want, before))
    auth = (res.get("auth_mechanisms") or {}).get("before_tls") or []
    if "PLAIN" not in auth or len(auth) < 4:
        errs.append("auth mechanisms %r: expected PLAIN and the three hostile ones" % auth)
    return errs


# name: (URL scheme, accepted statuses, required findings, bound on timings_ms.total, extra)
CASES = [
    ("smtp-silent", "smtp", {"greeting_timeout"}, [], 2 * G + SLACK, None),
    ("smtp-trickle-slow", "smtp", {"greeting_timeout"}, [], 2 * G + SLACK, None),
    ("smtp-trickle-fast", "smtp+starttls", {"ok"}, [], 2000, check_trickle_fast),
    ("smtp-no-crlf", "smtp", {"greeting_timeout", "line_too_long"}, [], 2 * G + SLACK, None),
    ("smtp-long-line", "smtp", {"line_too_long"}, [], FAST, None),
    ("smtp-endless-multiline", "smtp", {"reply_too_large"}, [], G + T + SLACK, None),
    ("smtp-nul", "smtp", {"ok", "protocol_error"}, ["nul_in_reply"], 2000, check_nul_greeting),
    ("smtp-bad-code", "smtp", {"protocol_error"}, [], FAST, None),
    ("smtp-close-mid-reply", "smtp", {"closed"}, [], FAST, None),
    # The fake server completes a real handshake after the injected bytes, so
    # a client that drops them (as it must) gets a working TLS session: ok.
    ("smtp-starttls-inject", "smtp+starttls", {"ok"}, ["plaintext_after_starttls"], 2000,
     check_injection),
    ("smtp-starttls-no-handshake", "smtp+starttls", {"tls_timeout"}, [], TLS + 1000, None),
    ("smtp-starttls-garbage", "smtp+starttls", {"tls_failed"}, [], FAST, None),
    ("smtp-starttls-refused", "smtp+starttls", {"starttls_refused"}, [], FAST, None),
    ("smtp-no-starttls", "smtp+starttls", {"starttls_not_offered"}, [], FAST, None),
    ("smtp-ehlo-refused", "smtp", {"ok"}, ["ehlo_refused_helo_used"], FAST, None),
    ("smtp-greeting-554", "smtp", {"rejected"}, [], FAST, None),
    ("imap-literal-huge", "imap", {"protocol_error"}, [], FAST, None),
    ("imap-bye", "imap", {"rejected"}, [], FAST, None),
    ("pop3-capa-no-dot", "pop3", {"closed"}, [], FAST, None),
    ("pop3-plain-on-tls-port", "pop3s", {"tls_failed"}, ["port_speaks_plaintext"], FAST, None),
    ("tls-alert", "smtps", {"tls_failed"}, [], FAST, None),
    ("rst-mid-reply", "smtp", {"network_error", "closed"}, [], FAST, None),
    ("smtp-pipeline-unsolicited", "smtp", {"protocol_error"}, [], FAST,
     all_of(error_has("before EHLO was sent", "250 unsolicited"), check_no_shift)),
    ("smtp-pipeline-early-ehlo", "smtp+starttls", {"protocol_error"}, [], FAST,
     all_of(error_has("before EHLO was sent", "other.test"), check_no_shift)),
    ("smtp-100k-continuation", "smtp", {"reply_too_large"}, ["limit_reached"], FAST,
     error_has("more than 512 lines")),
    ("smtp-code-600", "smtp", {"protocol_error"}, [], FAST, error_has("600", "200-599")),
    ("smtp-close-after-greeting", "smtp", {"closed"}, [], FAST, error_has("EHLO")),
    ("smtp-escape-greeting", "smtp", {"ok"}, [], 2000, check_escape_greeting),
    ("imap-untagged-flood", "imap", {"reply_too_large"}, ["limit_reached"], FAST,
     error_has("CAPABILITY")),
    ("imap-starttls-inject", "imap+starttls", {"ok"}, ["plaintext_after_starttls"], 2000,
     check_injection),
    ("pop3-long-greeting", "pop3", {"ok"}, ["limit_reached"], FAST, check_long_greeting),
    ("pop3-stls-inject", "pop3+starttls", {"ok"}, ["plaintext_after_starttls"], 2000,
     check_pop3_injection),
    ("tls-alert-after-hello", "smtps", {"tls_failed"}, [], FAST, error_has("alert")),
    ("tls-garbage-hello", "smtps", {"tls_failed"}, [], FAST, None),
    ("smtp-escape-caps", "smtp", {"ok"}, ["plaintext_only", "auth_before_tls"], FAST,
     check_escape_caps),
    ("smtp-escape-refused", "smtp+starttls", {"starttls_refused"}, [], FAST,
     error_has("454 4.7.0 \\x1b[2J", "\\x9b31m", "\\xe2\\x80\\xae")),
    ("imap-escape-greeting", "imap", {"ok"}, ["plaintext_only"], FAST, None),
    ("pop3-escape-capa", "pop3", {"ok"}, ["plaintext_only"], FAST, None),
    ("tls-evil-cert", "smtps", {"ok"}, [], 2000, None),
    # Active checks (issue 14; test_checks.sh runs the checks): to the plain
    # probe these are well-behaved servers.
    ("smtp-starttls-buffered", "smtp+starttls", {"ok"}, [], FAST, None),
    ("imap-starttls-buffered", "imap+starttls", {"ok"}, [], FAST, None),
    ("pop3-stls-buffered", "pop3+starttls", {"ok"}, [], FAST, None),
    ("smtp-auth-unadvertised", "smtp+starttls", {"ok"}, [], FAST, None),
    ("imap-login-despite-logindisabled", "imap+starttls", {"ok"}, ["login_disabled_before_tls"],
     FAST, None),
    ("pop3-user-unadvertised", "pop3+starttls", {"ok"}, [], FAST, None),
]

# What each scenario's server does, for the results table (markdown).
DESCRIBE = {
    "smtp-silent": "accepts, never says anything",
    "smtp-trickle-slow": "greeting one byte every 300 ms",
    "smtp-trickle-fast": "greeting one byte every 5 ms, then a full STARTTLS server",
    "smtp-no-crlf": "greeting line that never ends",
    "smtp-long-line": "1 MiB greeting line",
    "smtp-endless-multiline": "endless `250-` continuation lines to EHLO",
    "smtp-nul": "greeting with NUL, invalid UTF-8 and escape sequences",
    "smtp-bad-code": "reply code 999",
    "smtp-close-mid-reply": "closes in the middle of a multi-line greeting",
    "smtp-starttls-inject": "STARTTLS go-ahead followed by injected plaintext, then TLS",
    "smtp-starttls-no-handshake": "STARTTLS go-ahead, then silence",
    "smtp-starttls-garbage": "STARTTLS go-ahead, then garbage instead of a ServerHello",
    "smtp-starttls-refused": "STARTTLS answered 454",
    "smtp-no-starttls": "no STARTTLS offered (probed as starttls)",
    "smtp-ehlo-refused": "EHLO answered 502, HELO works",
    "smtp-greeting-554": "554 greeting",
    "imap-literal-huge": "CAPABILITY answered with a 4 GiB literal",
    "imap-bye": "`* BYE` greeting",
    "pop3-capa-no-dot": "CAPA list without the terminating dot, then close",
    "pop3-plain-on-tls-port": "plaintext POP3 on a port probed as pop3s",
    "tls-alert": "implicit TLS: fatal alert instead of a ServerHello",
    "rst-mid-reply": "TCP reset in the middle of the greeting",
    "smtp-pipeline-unsolicited": "greeting followed by a `250` nobody asked for",
    "smtp-pipeline-early-ehlo": "a whole EHLO reply before EHLO was sent",
    "smtp-100k-continuation": "greeting of 100 000 continuation lines",
    "smtp-code-600": "reply code 600",
    "smtp-close-after-greeting": "closes right after the greeting",
    "smtp-escape-greeting": "greeting with OSC set-title, clear screen, C1 CSI, bidi override",
    "imap-untagged-flood": "endless untagged `* OK` lines to CAPABILITY",
    "imap-starttls-inject": "IMAP STARTTLS go-ahead followed by injected plaintext",
    "pop3-long-greeting": "3000-byte POP3 greeting (over the 2 KiB greeting limit)",
    "pop3-stls-inject": "POP3 STLS go-ahead followed by an injected CAPA answer",
    "tls-alert-after-hello": "implicit TLS: real ServerHello, then a fatal alert",
    "tls-garbage-hello": "implicit TLS: garbage handshake record instead of a ServerHello",
    "smtp-escape-caps": "EHLO words and AUTH mechanisms with control sequences",
    "smtp-escape-refused": "STARTTLS refusal text with control sequences",
    "imap-escape-greeting": "IMAP greeting and CAPABILITY with control sequences",
    "pop3-escape-capa": "POP3 greeting and CAPA with control sequences",
    "tls-evil-cert": "implicit TLS; with --evil-cert, control sequences in the certificate",
    "smtp-starttls-buffered": "keeps plaintext sent with STARTTLS and runs it inside TLS",
    "imap-starttls-buffered": "IMAP: keeps plaintext sent with STARTTLS and runs it inside TLS",
    "pop3-stls-buffered": "POP3: keeps plaintext sent with STLS and runs it inside TLS",
    "smtp-auth-unadvertised": "checks an AUTH credential before TLS without offering AUTH",
    "imap-login-despite-logindisabled": "checks a LOGIN credential despite LOGINDISABLED",
    "pop3-user-unadvertised": "accepts USER before STLS without listing it in CAPA",
}

SCHEME_PROTO_MODE = {
    "smtp": ("smtp", "plain"), "smtp+starttls": ("smtp", "starttls"), "smtps": ("smtp", "tls"),
    "imap": ("imap", "plain"), "imap+starttls": ("imap", "starttls"), "imaps": ("imap", "tls"),
    "pop3": ("pop3", "plain"), "pop3+starttls": ("pop3", "starttls"), "pop3s": ("pop3", "tls"),
}


def load_ports(ready_file):
    """The scenario ports of a fake server serving the whole catalogue."""
    with open(ready_file) as f:
        ports = json.load(f)
    names = [c[0] for c in CASES]
    if sorted(ports) != sorted(names):
        sys.exit("fakeserver scenarios %s differ from the expectation table %s"
                 % (sorted(ports), sorted(names)))
    return ports


def fake_host():
    """The address the fake server listens on (MP_FAKE_HOST, default 127.0.0.1)."""
    return os.environ.get("MP_FAKE_HOST", "127.0.0.1")


def url(scheme, host, port):
    h = "[%s]" % host if ":" in host else host
    return "%s://%s:%d" % (scheme, h, port)


def cmd_urls(ready_file):
    ports = load_ports(ready_file)
    host = fake_host()
    for name, scheme, *_ in CASES:
        print(url(scheme, host, ports[name]))
    return 0


def read_server_log(path, names, wait_s=3.0):
    """Connections the fake server logged, per scenario; waits (bounded) until
    every scenario has at least one finished connection."""
    end = time.monotonic() + wait_s
    while True:
        per = {}
        if path and os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        rec = json.loads(line)
                        per.setdefault(rec["scenario"], []).append(rec)
        if all(n in per for n in names) or time.monotonic() >= end:
            return per
        time.sleep(0.1)


def check_server_side(name, conns):
    """What the fake server saw: mailprobe connected, hung up by itself (never
    left a connection to the 30 s server deadline), tried TLS on the silent
    port's connection, and after a STARTTLS go-ahead sent nothing in
    plaintext."""
    errs = []
    if not conns:
        return ["the fake server saw no finished connection"]
    for c in conns:
        if c["end"] == "deadline" or c["duration_ms"] >= 29000:
            errs.append("connection left open until the server's deadline: %r" % c)
        if c["end"].startswith("error"):
            errs.append("fake server error (bug in fakeserver.py?): %r" % c)
        if name == "smtp-silent" and c["bytes_received"] == 0:
            errs.append("no TLS handshake tried on the silent connection (expected the "
                        "implicit-TLS check on the same connection): %r" % c)
        cmds = c["commands"]
        if "STARTTLS" in [x.upper() for x in cmds]:
            after = cmds[[x.upper() for x in cmds].index("STARTTLS") + 1:]
            plain = [x for x in after if not x.startswith("tls: ")]
            if plain:
                errs.append("plaintext commands sent after STARTTLS: %r" % plain)
    return errs


def cmd_check(ready_file, report_path, exit_code, wall_ms, stderr_path, server_log=None):
    ports = load_ports(ready_file)
    failures = []

    def fail(scope, msg, observed=None):
        failures.append((scope, msg, observed))

    exit_code = int(exit_code)
    wall_ms = int(wall_ms)
    with open(stderr_path, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        if mark in stderr:
            fail("run", "sanitizer report on stderr (%s):\n%s" % (mark, stderr[-4000:]))
            break
    if exit_code not in (0, 2):
        fail("run", "exit code %d, expected 0 or 2; stderr: %s" % (exit_code, stderr[-2000:]))
    if wall_ms >= WALL_BOUND_MS:
        fail("run", "the whole run took %d ms, bound %d ms" % (wall_ms, WALL_BOUND_MS))

    with open(report_path, "rb") as f:
        raw = f.read()
    try:
        report = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        fail("run", "report is not valid UTF-8 JSON: %s; first bytes: %r" % (e, raw[:400]))
        return report_failures(failures, 0)

    results = report.get("results")
    if not isinstance(results, list):
        fail("run", "report has no results list")
        return report_failures(failures, 0)
    if len(results) != len(CASES):
        fail("run", "%d results for %d endpoints" % (len(results), len(CASES)))
    answered = (report.get("summary") or {}).get("answered")
    if isinstance(answered, int) and (exit_code == 0) != (answered > 0):
        fail("run", "exit code %d disagrees with summary.answered = %d" % (exit_code, answered))

    by_port = {}
    for r in results:
        by_port.setdefault(r.get("port"), []).append(r)
    server = read_server_log(server_log, [c[0] for c in CASES]) if server_log else None

    passed = 0
    for name, scheme, statuses, findings, bound, extra in CASES:
        port = ports[name]
        rs = by_port.get(port, [])
        if len(rs) != 1:
            fail(name, "%d results for port %d, expected 1" % (len(rs), port))
            continue
        res = rs[0]
        errs = []
        proto, mode = SCHEME_PROTO_MODE[scheme]
        if res.get("protocol") != proto or res.get("mode") != mode:
            errs.append("result is %s/%s, probed as %s/%s"
                        % (res.get("protocol"), res.get("mode"), proto, mode))
        if res.get("status") not in statuses:
            errs.append("status %r, expected %s" % (res.get("status"), " or ".join(sorted(statuses))))
        codes = [f.get("code") for f in res.get("findings") or []]
        for code in findings:
            if code not in codes:
                errs.append("finding %s missing (findings: %s)" % (code, codes))
        total = (res.get("timings_ms") or {}).get("total")
        if not isinstance(total, int):
            errs.append("timings_ms.total is %r" % (total,))
        elif total >= bound:
            errs.append("timings_ms.total %d ms, bound %d ms" % (total, bound))
        if extra:
            errs.extend(extra(res))
        if server is not None:
            errs.extend("server side: " + e for e in check_server_side(name, server.get(name)))
        if errs:
            for e in errs:
                fail(name, e, res)
        else:
            passed += 1
            print("ok   %-28s %-20s total %s ms" % (name, res.get("status"), total))
    return report_failures(failures, passed)


def report_failures(failures, passed):
    shown = set()
    for scope, msg, observed in failures:
        print("FAIL %-28s %s" % (scope, msg))
        if observed is not None and scope not in shown:
            shown.add(scope)
            print("     observed: " + json.dumps(observed, indent=1).replace("\n", "\n     "))
    print("%d of %d scenarios passed%s" % (passed, len(CASES),
                                           "" if not failures else ", %d failures" % len(failures)))
    return 1 if failures else 0


def cmd_statuses(ready_file, reports):
    """Every result of every report has a status its scenario accepts."""
    ports = load_ports(ready_file)
    case_of = {ports[c[0]]: c for c in CASES}
    seen = {}
    bad = []
    total = 0
    for path in reports:
        with open(path, "rb") as f:
            report = json.loads(f.read().decode("utf-8"))
        for res in report.get("results") or []:
            total += 1
            case = case_of.get(res.get("port"))
            if case is None:
                bad.append("%s: result for unknown port %r" % (path, res.get("port")))
                continue
            name, statuses = case[0], case[2]
            st = res.get("status")
            seen.setdefault(name, {}).setdefault(st, 0)
            seen[name][st] += 1
            if st not in statuses:
                bad.append("%s: %s got %r (%s), expected %s"
                           % (path, name, st, res.get("error"), " or ".join(sorted(statuses))))
    for name, *_ in CASES:
        counts = ", ".join("%d x %s" % (n, st) for st, n in sorted(seen.get(name, {}).items()))
        print("     %-28s %s" % (name, counts or "no result"))
    for b in bad[:40]:
        print("FAIL " + b)
    if len(bad) > 40:
        print("FAIL ... and %d more" % (len(bad) - 40))
    missing = [c[0] for c in CASES if c[0] not in seen]
    if missing:
        print("FAIL no result for %s" % ", ".join(missing))
    print("%d results, %d with an unexpected status" % (total, len(bad)))
    return 1 if bad or missing else 0


# Code points that must not reach a terminal raw: format characters that
# reorder or break what is shown (bidi embeddings, overrides and isolates,
# LRM/RLM, line and paragraph separators).
TERM_FORMAT_CHARS = set([0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D,
                         0x202E, 0x2066, 0x2067, 0x2068, 0x2069])
SGR = re.compile(r"\x1b\[[0-9;]*m")


def term_unsafe(text):
    """(offset, character) of each character a terminal must not see raw."""
    bad = []
    for i, ch in enumerate(text):
        c = ord(ch)
        if (c < 0x20 and ch != "\n") or 0x7F <= c <= 0x9F or c in TERM_FORMAT_CHARS:
            bad.append((i, ch))
    return bad


def cmd_termsafe(args):
    allow_sgr = False
    if args and args[0] == "--allow-sgr":
        allow_sgr = True
        args = args[1:]
    failed = False
    for path in args:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            print("FAIL %s is not valid UTF-8: %s; near %r" % (path, e, raw[max(0, e.start - 40):
                                                                         e.start + 40]))
            failed = True
            continue
        if allow_sgr:
            text = SGR.sub("", text)
        bad = term_unsafe(text)
        if bad:
            failed = True
            for off, ch in bad[:10]:
                print("FAIL %s: raw U+%04X at character %d: %r"
                      % (path, ord(ch), off, text[max(0, off - 40):off + 40]))
            if len(bad) > 10:
                print("FAIL %s: ... %d more" % (path, len(bad) - 10))
        else:
            print("ok   %s is terminal-safe (%d bytes, %d lines)" % (path, len(raw),
                                                                  text.count("\n")))
    return 1 if failed else 0


def cmd_jsonsafe(args):
    failed = False
    for path in args:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            json.loads(raw.decode("utf-8", errors="strict"))
        except (UnicodeDecodeError, ValueError) as e:
            print("FAIL %s is not strictly valid UTF-8 JSON: %s" % (path, e))
            failed = True
            continue
        ctl = [i for i, b in enumerate(raw) if b < 0x20 and b not in (0x0A, 0x09)]
        if ctl:
            failed = True
            print("FAIL %s has raw control bytes at %s" % (path, ctl[:10]))
        else:
            print("ok   %s is valid UTF-8 JSON without raw control bytes" % path)
    return 1 if failed else 0


def cmd_markdown(ready_file, report_path):
    """One row per scenario: what the server does, the expectation, the outcome."""
    ports = load_ports(ready_file)
    with open(report_path, "rb") as f:
        results = json.loads(f.read().decode("utf-8")).get("results") or []
    by_port = {r.get("port"): r for r in results}
    print("| # | scenario | the server... | probed as | expected | observed | findings | ms |")
    print("|---|---|---|---|---|---|---|---|")
    for i, (name, scheme, statuses, findings, bound, extra) in enumerate(CASES, 1):
        r = by_port.get(ports[name]) or {}
        codes = sorted(set(f.get("code") for f in r.get("findings") or []))
        exp = " or ".join(sorted(statuses)) + "".join(" + " + f for f in findings)
        print("| %d | %s | %s | %s | %s, < %d ms | %s | %s | %s |"
              % (i, name, DESCRIBE[name], scheme, exp, bound, r.get("status"),
                 ", ".join(codes) or "-", (r.get("timings_ms") or {}).get("total")))
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "urls":
        return cmd_urls(argv[2])
    if len(argv) in (7, 8) and argv[1] == "check":
        return cmd_check(*argv[2:])
    if len(argv) >= 4 and argv[1] == "statuses":
        return cmd_statuses(argv[2], argv[3:])
    if len(argv) >= 3 and argv[1] == "termsafe":
        return cmd_termsafe(argv[2:])
    if len(argv) >= 3 and argv[1] == "jsonsafe":
        return cmd_jsonsafe(argv[2:])
    if len(argv) == 4 and argv[1] == "markdown":
        return cmd_markdown(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
