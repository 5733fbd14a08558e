#!/usr/bin/python3
"""hostile_check.py - what mailprobe must report for each fakeserver.py scenario.

The one table of expectations for tests/integration/test_hostile.sh:

    hostile_check.py urls READY_FILE
        prints one endpoint URL per scenario (one per line), in table order.
    hostile_check.py check READY_FILE REPORT EXIT_CODE WALL_MS STDERR [SERVER_LOG]
        asserts the report of one mailprobe run over those URLs; prints one
        line per scenario and, for each failure, the observed result; exits 1
        when anything failed.

The time bounds assume the run used the limits in RUN_LIMITS below.
"""

import json
import os
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
]

SCHEME_PROTO_MODE = {
    "smtp": ("smtp", "plain"), "smtp+starttls": ("smtp", "starttls"), "smtps": ("smtp", "tls"),
    "imap": ("imap", "plain"), "imap+starttls": ("imap", "starttls"), "imaps": ("imap", "tls"),
    "pop3": ("pop3", "plain"), "pop3+starttls": ("pop3", "starttls"), "pop3s": ("pop3", "tls"),
}


def load_ports(ready_file):
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


def main(argv):
    if len(argv) == 3 and argv[1] == "urls":
        return cmd_urls(argv[2])
    if len(argv) in (7, 8) and argv[1] == "check":
        return cmd_check(*argv[2:])
    sys.stderr.write(__doc__)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
