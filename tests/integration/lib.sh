# lib.sh - shared helpers for the integration test scripts (tests/integration/test_*.sh).
# shellcheck shell=bash
# Source it, then call mp_setup:
#
#   . "$(dirname "$0")/lib.sh"
#   mp_setup                      # checks env, sources servers.env, makes $MP_WORK
#   mp_json "$MP_WORK/a.json" --cafile "$MP_CA" "smtps://127.0.0.1:$MP_SMTPS_PORT"
#   mp_expect_rc 0
#   pyeq "$MP_WORK/a.json" 'R("smtp", env["MP_SMTPS_PORT"])["status"]' '"ok"' 'smtps status'
#   pyassert "$MP_WORK/a.json" '"PIPELINING" in caps(R("smtp", env["MP_SMTPS_PORT"]), "after")' \
#           'PIPELINING offered'
# (servers.env is exported, so env["MP_..."] works; never hard-code a port.)
#
# Environment (set by ctest, see CMakeLists.txt): MAILPROBE (the binary),
# MP_ITEST_DIR (servers.sh's directory), MP_SRC (the source tree).
#
# Functions:
#   mp_setup                 as above; also sets MP_PY, MP_WORK, MP_TEST
#   mp_fail MSG / mp_skip MSG / mp_note MSG
#   mp_run OUT ARGS...       runs $MAILPROBE ARGS (stdout > OUT, stderr > OUT.err),
#                            bounded by MP_RUN_TIMEOUT_S; sets MP_RC and MP_MS (elapsed ms)
#   mp_json OUT ARGS...      mp_run with --format json, then checks OUT parses as JSON
#   mp_expect_rc WANT        fails unless MP_RC = WANT (shows stderr and stdout)
#   pyassert FILE EXPR MSG   fails with MSG unless the Python EXPR is true
#   pyeq FILE EXPR WANT MSG  fails with MSG unless EXPR == WANT (both Python), showing both
#   mp_result FILE PROTO PORT [MODE]   prints that result as JSON
#   mp_validate FILE         validates FILE against reports/schema.json
#   mp_one_line_error FILE   fails unless FILE holds exactly one line that names a fix
#
# Python expressions see: r (the report), results (r["results"]), env (os.environ),
# R(proto, port, mode=None, host=None) -> the one matching result (fails if 0 or >1),
# caps(res, "before"|"after") -> capability strings, upper-cased (None stays None),
# cap_words(res, when) -> first word of each capability, upper-cased,
# auth(res, when) -> auth mechanisms, upper-cased, codes(res) -> set of finding codes,
# port_of(res), rec(proto=None) -> summary.recommended without endpoint and
# reason, V(rule, res) -> states of the policy verdicts of rule on res
# (res None: run-level ones), jload(path) -> parsed JSON file, epoch(time string) -> seconds since
# 1970 (RFC 3339 or OpenSSL form), re and json (the modules).
# When an expression fails on a field that is missing or null (KeyError, or a
# TypeError on None such as x["tls"]["verified"] of a result without TLS), the
# failure names that field and shows the endpoint, status and error of its result.

set -euo pipefail

MP_PY=/usr/bin/python3
MP_RUN_TIMEOUT_S=${MP_RUN_TIMEOUT_S:-120}

mp_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

mp_skip() {
	echo "SKIP: $*"
	exit 77
}

mp_note() {
	echo "-- $*"
}

# Checks the environment, loads servers.env and makes a fresh work directory.
mp_setup() {
	MP_TEST=$(basename "$0" .sh)
	[ -n "${MAILPROBE:-}" ] || mp_fail "MAILPROBE is not set (run through ctest)"
	[ -x "$MAILPROBE" ] || mp_fail "MAILPROBE=$MAILPROBE is not an executable"
	[ -n "${MP_ITEST_DIR:-}" ] || mp_fail "MP_ITEST_DIR is not set (run through ctest)"
	[ -n "${MP_SRC:-}" ] || mp_fail "MP_SRC is not set (run through ctest)"
	[ -x "$MP_PY" ] || mp_fail "$MP_PY is missing"
	[ -f "$MP_ITEST_DIR/servers.env" ] ||
		mp_fail "$MP_ITEST_DIR/servers.env is missing: did itest.servers.start run?"
	# exported, so the Python helpers see them as env["MP_..."]
	set -a
	# shellcheck disable=SC1091
	. "$MP_ITEST_DIR/servers.env"
	set +a
	MP_WORK=$MP_ITEST_DIR/work/$MP_TEST
	rm -rf "$MP_WORK"
	mkdir -p "$MP_WORK"
	export MP_WORK MP_TEST
}

# Milliseconds on the wall clock (date +%s%N), for elapsed times.
mp_now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# Runs mailprobe; never fails by itself except when it does not finish.
mp_run() {
	local out=$1 t0
	shift
	MP_LAST_OUT=$out
	t0=$(mp_now_ms)
	MP_RC=0
	timeout -k 5 "$MP_RUN_TIMEOUT_S" "$MAILPROBE" "$@" >"$out" 2>"$out.err" || MP_RC=$?
	MP_MS=$(($(mp_now_ms) - t0))
	if [ "$MP_RC" -eq 124 ] || [ "$MP_RC" -eq 137 ]; then
		mp_fail "mailprobe $* did not finish within ${MP_RUN_TIMEOUT_S}s"
	fi
	if [ "$MP_RC" -ge 128 ]; then
		cat "$out.err" >&2
		mp_fail "mailprobe $* died with signal $((MP_RC - 128))"
	fi
	echo "\$ mailprobe $*  -> exit $MP_RC in ${MP_MS} ms" >>"$MP_WORK/commands.log"
	# a sanitizer build (-DMP_SANITIZE=ON) reports on stderr
	if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$out.err"; then
		head -c 4000 "$out.err" >&2
		mp_fail "mailprobe $*: sanitizer report on stderr"
	fi
}

# Runs mailprobe with --format json and checks that stdout is one JSON document.
mp_json() {
	local out=$1
	shift
	mp_run "$out" --format json "$@"
	"$MP_PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$out" 2>/dev/null || {
		echo "--- stdout:" >&2
		head -c 2000 "$out" >&2
		echo "--- stderr:" >&2
		head -c 2000 "$out.err" >&2
		mp_fail "mailprobe --format json $* (exit $MP_RC) did not write valid JSON"
	}
}

# The exit code of the last mp_run must be $1.
mp_expect_rc() {
	[ "$MP_RC" -eq "$1" ] && return 0
	echo "--- stderr of the last run:" >&2
	head -c 2000 "$(mp_last_out).err" >&2 || true
	echo "--- stdout of the last run:" >&2
	head -c 3000 "$(mp_last_out)" >&2 || true
	mp_fail "expected exit code $1, got $MP_RC (last: $(tail -n 1 "$MP_WORK/commands.log"))"
}

# Output file of the last mp_run.
mp_last_out() {
	echo "${MP_LAST_OUT:-/dev/null}"
}

# Python side of pyassert / pyeq / mp_result.
MP_PYLIB='
import json, os, re, sys

mode, path, expr, msg = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
want_expr = sys.argv[5] if len(sys.argv) > 5 else None
env = os.environ
shown = []
gaps = {}       # "missing" / "null" -> (result or None, path) of the last such field read

class Lookup(Exception):
    pass

class Tracked(dict):
    """A JSON object that notes in gaps each read of a missing or null field."""

    def __getitem__(self, k):
        try:
            v = dict.__getitem__(self, k)
        except KeyError:
            gaps["missing"] = (self.res, self.path + (k,))
            raise
        if v is None:
            gaps["null"] = (self.res, self.path + (k,))
        return v

def track(v, res=None, path=()):
    """v with its objects as Tracked; res: the result (results[i]) they are in."""
    if isinstance(v, list):
        return [track(x, res, path + (i,)) for i, x in enumerate(v)]
    if not isinstance(v, dict):
        return v
    t = Tracked()
    if len(path) == 2 and path[0] == "results":
        res, path = t, ()
    t.res, t.path = res, path
    for k, x in v.items():
        dict.__setitem__(t, k, track(x, res, path + (k,)))
    return t

def gap_text(e):
    """For a KeyError or a TypeError on None: which field, and its result."""
    kind = "missing" if isinstance(e, KeyError) else "null" if "NoneType" in str(e) else None
    if kind is None or kind not in gaps:
        return ""
    res, p = gaps[kind]
    field = "".join("[%s]" % json.dumps(k) for k in p)
    if res is None:
        return "  report field %s is %s\n" % (field, kind)
    px = res.get("proxy") or {}
    return ("  field %s is %s in the result for %s://%s:%s (%s%s):\n"
            "    status %s, error %s\n"
            % (field, kind, res.get("protocol"), res.get("host"), res.get("port"),
               res.get("mode"), " via %s proxy" % px.get("type") if px else "",
               res.get("status"), json.dumps(res.get("error"))))

with open(path) as f:
    r = track(json.load(f))
results = r.get("results", []) if isinstance(r, dict) else []

def R(proto, port, mode=None, host=None):
    hits = [x for x in results
            if x.get("protocol") == proto and x.get("port") == int(port)
            and (mode is None or x.get("mode") == mode)
            and (host is None or x.get("host") == host)]
    if len(hits) != 1:
        have = ", ".join("%s/%s/%s/%s" % (x.get("protocol"), x.get("host"), x.get("port"),
                                          x.get("mode")) for x in results)
        raise Lookup("%d results match %s port %s mode %s host %s (have: %s)"
                     % (len(hits), proto, port, mode, host, have or "none"))
    if hits[0] not in shown:
        shown.append(hits[0])
    return hits[0]

def _upper(l):
    return None if l is None else [str(x).upper() for x in l]

def caps(res, when):
    return _upper(res["capabilities"][when + "_tls"])

def cap_words(res, when):
    c = caps(res, when)
    return None if c is None else [x.split(" ")[0] for x in c]

def auth(res, when):
    return _upper(res["auth_mechanisms"][when + "_tls"])

def codes(res):
    return set(f["code"] for f in res.get("findings", []))

def port_of(res):
    return res["port"]

def rec(proto=None):
    """summary.recommended (or the entry of one protocol) without the fields that
    explain the choice (endpoint, reason): host, port, mode and proxy."""
    def cut(v):
        return None if v is None else {k: v[k] for k in ("host", "port", "mode", "proxy")}
    all_ = r["summary"]["recommended"]
    return cut(all_[proto]) if proto else {k: cut(v) for k, v in all_.items()}

def V(rule, res=None):
    """States of the policy verdicts of rule on result res (None: run-level)."""
    idx = None if res is None else results.index(res)
    return [v["state"] for v in r.get("verdicts", [])
            if v["rule"] == rule and v["endpoint"] == idx]

def jload(p):
    with open(p) as f:
        return json.load(f)

def epoch(s):
    """Seconds since 1970 of a time in RFC 3339 or OpenSSL ("Nov  2 10:00:00 2026 GMT") form."""
    import datetime
    utc = datetime.timezone.utc
    s = s.strip()
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d+)?"
                 r"(Z|[+-]\d\d:?\d\d| ?UTC| ?GMT)?$", s)
    if not m:
        d = datetime.datetime.strptime(re.sub(" +", " ", s), "%b %d %H:%M:%S %Y GMT")
        return int(d.replace(tzinfo=utc).timestamp())
    d = datetime.datetime(*map(int, m.groups()[:6]), tzinfo=utc)
    tz = (m.group(7) or "Z").strip()
    if tz[0] in "+-":
        off = datetime.timedelta(minutes=int(tz[1:3]) * 60 + int(tz[-2:]))
        d = d - off if tz[0] == "+" else d + off
    return int(d.timestamp())

def short(v):
    s = json.dumps(v, sort_keys=True, default=str) if not isinstance(v, set) else repr(sorted(v))
    return s if len(s) <= 1500 else s[:1500] + "...(truncated)"

def dump_shown():
    for x in shown:
        x = dict(x)
        x.pop("transcript", None)
        sys.stderr.write("  result: %s\n" % short(x))

try:
    got = eval(expr)
    if mode == "result":
        print(json.dumps(got, indent=2))
        sys.exit(0)
    if mode == "eq":
        want = eval(want_expr)
        if got == want:
            sys.exit(0)
        sys.stderr.write("FAIL: %s\n  %s\n  expected: %s\n  got:      %s\n"
                         % (msg, expr, short(want), short(got)))
    else:
        if got:
            sys.exit(0)
        sys.stderr.write("FAIL: %s\n  not true: %s\n" % (msg, expr))
except Lookup as e:
    sys.stderr.write("FAIL: %s\n  %s\n  %s\n" % (msg, expr, e))
except Exception as e:
    sys.stderr.write("FAIL: %s\n  %s\n  raised %s: %s\n%s"
                     % (msg, expr, type(e).__name__, e, gap_text(e)))
dump_shown()
sys.stderr.write("  report: %s\n" % path)
sys.exit(1)
'

# pyassert FILE EXPR MSG: EXPR (Python, over the report r) must be true.
pyassert() {
	[ $# -eq 3 ] || mp_fail "pyassert needs FILE EXPR MSG, got $# arguments"
	"$MP_PY" -c "$MP_PYLIB" assert "$1" "$2" "$3" || exit 1
}

# pyeq FILE EXPR WANT MSG: EXPR must equal WANT (both Python expressions).
pyeq() {
	[ $# -eq 4 ] || mp_fail "pyeq needs FILE EXPR WANT MSG, got $# arguments"
	"$MP_PY" -c "$MP_PYLIB" eq "$1" "$2" "$4" "$3" || exit 1
}

# mp_result FILE PROTO PORT [MODE]: prints the one matching result as JSON.
mp_result() {
	local mode=None
	[ $# -ge 4 ] && mode="\"$4\""
	"$MP_PY" -c "$MP_PYLIB" result "$1" "R(\"$2\", $3, $mode)" "mp_result" || exit 1
}

# Validates a JSON report against reports/schema.json.
mp_validate() {
	local v=$MP_SRC/tests/integration/validate_report.py
	[ -f "$v" ] || mp_fail "$v is missing: cannot validate $1"
	"$MP_PY" "$v" "$1" >"$1.validate" 2>&1 || {
		cat "$1.validate" >&2
		mp_fail "$1 does not validate against reports/schema.json"
	}
}

# FILE must hold exactly one line: a "mailprobe: " error that says what to try.
mp_one_line_error() {
	local f=$1 n
	n=$(wc -l <"$f")
	# a final line without newline still counts as one line
	[ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ] && n=$((n + 1))
	[ "$n" -eq 1 ] || {
		echo "--- $f:" >&2
		cat "$f" >&2
		mp_fail "expected a one-line error on stderr, got $n lines"
	}
	grep -q '^mailprobe: ' "$f" || mp_fail "error line does not start with 'mailprobe: ': $(cat "$f")"
	grep -qiE -- '--help|try |use |expect' "$f" ||
		mp_fail "error line does not say what to try: $(cat "$f")"
}
