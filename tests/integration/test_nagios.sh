#!/bin/bash
# test_nagios.sh - mailprobe --format nagios as the check command of a real
# Nagios 4 (Debian nagios4-core), started here as root from a private
# directory with interval_length=1, until status.dat shows the expected
# current_state, plugin_output, long_plugin_output and performance_data for
# an OK, a WARNING and a CRITICAL service.
#
# Every service's command is also run directly first, so the test can tell
# what Nagios keeps of the plugin's output from what mailprobe printed (seen
# with Nagios 4.4.6):
# - the first line's text (plugin_output, $SERVICEOUTPUT$) has every ';'
#   turned into ':' (';' separates the fields of nagios.log and of external
#   commands); long_plugin_output keeps its ';', and status.dat writes its
#   newlines as a backslash and an n;
# - status.dat (what the web UI reads) and the service perfdata file (what
#   graphers read) keep the perfdata, single-quoted labels included, as printed;
# - the macros of event handlers and notifications lose the characters of
#   illegal_macro_output_chars (Debian's default, quotes included), so a label
#   must stay one unambiguous token without its quotes.
. "$(dirname "$0")/lib.sh"
mp_setup

NAGIOS=/usr/sbin/nagios4
START_WAIT_S=10  # bound on the lock file showing the daemon's PID
# bound on status.dat showing every expected service state (MP_NAGIOS_WAIT_S
# shortens it, to see the failure output without waiting a minute)
STATUS_WAIT_S=${MP_NAGIOS_WAIT_S:-60}
STOP_WAIT_S=10   # bound on the daemon and its workers exiting after SIGTERM
H=127.0.0.1

if [ ! -x "$NAGIOS" ]; then
	mp_note "$NAGIOS is missing: running .ci/install-deps.sh"
	bash "$MP_SRC/.ci/install-deps.sh" >"$MP_WORK/install-deps.log" 2>&1 || true
	[ -x "$NAGIOS" ] || mp_fail "nagios4 cannot be installed (see $MP_WORK/install-deps.log): the suite needs it (tests/run-all.sh installs it with .ci/install-deps.sh)"
fi

ND=$MP_WORK/nagios
mkdir -p "$ND/checkresults"
# The query handler socket is a Unix socket: sun_path holds 108 bytes.
QH=$ND/nagios.qh
QH_DIR=
if [ ${#QH} -ge 100 ]; then
	QH_DIR=$(mktemp -d /tmp/mp-nagios.XXXXXX)
	QH=$QH_DIR/nagios.qh
fi

# A loopback port nobody listens on (bound, never listening, then released).
closed=$("$MP_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# ---------------------------------------------------------------------------
# The services: name, expected state (0 OK, 1 WARNING, 2 CRITICAL) and
# mailprobe's arguments. Nagios runs the command line itself (no shell: no
# metacharacters in it), so every argument must be one plain word.
SERVICES=(ok warning critical certwarn)
declare -A WANT_STATE ARGS
WANT_STATE[ok]=0
ARGS[ok]="--format nagios --cafile $MP_CA --require-tls --require-verified --min-tls 1.2"
ARGS[ok]+=" smtps://$H:$MP_SMTPS_PORT imaps://$H:$MP_IMAPS_PORT"
# a refused endpoint marked --optional (which marks, and does not add, a
# target): WARNING, not CRITICAL
WANT_STATE[warning]=1
ARGS[warning]="--format nagios --cafile $MP_CA --require-tls --optional smtps://$H:$closed"
ARGS[warning]+=" smtps://$H:$MP_SMTPS_PORT smtps://$H:$closed"
# TLS required, but smtp:// is plain SMTP
WANT_STATE[critical]=2
ARGS[critical]="--format nagios --cafile $MP_CA --require-tls"
ARGS[critical]+=" smtp://$H:$MP_SMTP_PORT"
# no policy: --cert-warn-days alone makes a certificate expiring within it a
# WARNING (Monitoring Plugins thresholds); the test certificate has about 365
# days left
WANT_STATE[certwarn]=1
ARGS[certwarn]="--format nagios --cafile $MP_CA --cert-warn-days 3000"
ARGS[certwarn]+=" smtps://$H:$MP_SMTPS_PORT"
STATE_NAME=(OK WARNING CRITICAL UNKNOWN)

# Expected perfdata labels (<scheme>_<host>_<port>_time, <...>_cert_days) per service.
declare -A WANT_LABELS
WANT_LABELS[ok]="smtps_${H}_${MP_SMTPS_PORT}_time imaps_${H}_${MP_IMAPS_PORT}_time"
WANT_LABELS[ok]+=" smtps_${H}_${MP_SMTPS_PORT}_cert_days imaps_${H}_${MP_IMAPS_PORT}_cert_days"
WANT_LABELS[warning]="smtps_${H}_${MP_SMTPS_PORT}_time smtps_${H}_${MP_SMTPS_PORT}_cert_days"
WANT_LABELS[critical]="smtp_${H}_${MP_SMTP_PORT}_time"
WANT_LABELS[certwarn]="smtps_${H}_${MP_SMTPS_PORT}_time smtps_${H}_${MP_SMTPS_PORT}_cert_days"

for s in "${SERVICES[@]}"; do
	# shellcheck disable=SC2086 # one word per argument, checked below
	for a in $MAILPROBE ${ARGS[$s]}; do
		case $a in
		*[!A-Za-z0-9_./:+,=@-]*) mp_fail "service $s: argument '$a' is not one plain word" ;;
		esac
	done
done

# ---------------------------------------------------------------------------
# 1. Each command run directly: the exit code is the state, stdout the
#    plugin output Nagios will get.
for s in "${SERVICES[@]}"; do
	# shellcheck disable=SC2086
	mp_run "$MP_WORK/direct-$s.txt" ${ARGS[$s]}
	mp_expect_rc "${WANT_STATE[$s]}"
	head -n 1 "$MP_WORK/direct-$s.txt" | grep -q "^MAILPROBE ${STATE_NAME[${WANT_STATE[$s]}]} - " ||
		mp_fail "service $s: first line is not 'MAILPROBE ${STATE_NAME[${WANT_STATE[$s]}]} - ...': $(head -n 1 "$MP_WORK/direct-$s.txt")"
done

# The certificate perfdata carries the thresholds as ranges that alert below
# them ("N:"): --cert-warn-days, and the default critical 3 days.
grep -q "'smtps_${H}_${MP_SMTPS_PORT}_cert_days'=3[0-9][0-9];3000:;3:;; *\$" <(head -n 1 "$MP_WORK/direct-certwarn.txt") ||
	mp_fail "certwarn: no cert_days perfdata with thresholds 3000: and 3: in $(head -n 1 "$MP_WORK/direct-certwarn.txt")"
grep -q '^WARNING: smtps://.* \[cert-expiry\] certificate expires in 3[0-9][0-9] days' "$MP_WORK/direct-certwarn.txt" ||
	mp_fail "certwarn: no WARNING line for the certificate: $(cat "$MP_WORK/direct-certwarn.txt")"
# the same certificate with the default threshold (14 days) is OK
mp_run "$MP_WORK/direct-certok.txt" --format nagios --cafile "$MP_CA" "smtps://$H:$MP_SMTPS_PORT"
mp_expect_rc 0
grep -q "^MAILPROBE OK - .*_cert_days'=3[0-9][0-9];14:;3:;;" "$MP_WORK/direct-certok.txt" ||
	mp_fail "default thresholds: $(cat "$MP_WORK/direct-certok.txt")"

# ---------------------------------------------------------------------------
# 2. Nagios' configuration: every path inside $ND.
cat >"$ND/nagios.cfg" <<EOF
log_file=$ND/nagios.log
cfg_file=$ND/objects.cfg
resource_file=$ND/resource.cfg
object_cache_file=$ND/objects.cache
precached_object_file=$ND/objects.precache
status_file=$ND/status.dat
state_retention_file=$ND/retention.dat
temp_file=$ND/nagios.tmp
temp_path=$ND
lock_file=$ND/nagios.lock
check_result_path=$ND/checkresults
command_file=$ND/nagios.cmd
query_socket=$QH
debug_file=$ND/debug.log
nagios_user=$(id -un)
nagios_group=$(id -gn)
use_syslog=0
log_rotation_method=n
daemon_dumps_core=0
interval_length=1
status_update_interval=1
check_result_reaper_frequency=1
max_service_check_spread=2
max_host_check_spread=2
retain_state_information=0
use_retained_program_state=0
use_retained_scheduling_info=0
enable_notifications=0
enable_flap_detection=0
check_external_commands=0
accept_passive_service_checks=0
accept_passive_host_checks=0
enable_event_handlers=1
process_performance_data=1
service_perfdata_file=$ND/service-perfdata
service_perfdata_file_mode=a
service_perfdata_file_template=\$SERVICEDESC\$\t\$SERVICESTATEID\$\t\$SERVICEOUTPUT\$\t\$SERVICEPERFDATA\$
illegal_macro_output_chars=\`~\$&|'"<>
EOF
: >"$ND/resource.cfg"

# A script that records the macros an event handler gets (one file per service).
cat >"$ND/event-handler.sh" <<EOF
#!/bin/sh
printf '%s\n' "\$2" "\$3" "\$4" >"$ND/event-\$1.txt"
EOF
chmod +x "$ND/event-handler.sh"

{
	cat <<EOF
define timeperiod {
	timeperiod_name 24x7
	alias always
	sunday 00:00-24:00
	monday 00:00-24:00
	tuesday 00:00-24:00
	wednesday 00:00-24:00
	thursday 00:00-24:00
	friday 00:00-24:00
	saturday 00:00-24:00
}
define command {
	command_name always-up
	command_line /bin/true
}
define command {
	command_name record-event
	command_line $ND/event-handler.sh \$SERVICEDESC\$ "\$SERVICESTATE\$" "\$SERVICEOUTPUT\$" "\$SERVICEPERFDATA\$"
}
define contact {
	contact_name nobody
	alias notifications off
	host_notifications_enabled 0
	service_notifications_enabled 0
	host_notification_period 24x7
	service_notification_period 24x7
	host_notification_options n
	service_notification_options n
	host_notification_commands always-up
	service_notification_commands always-up
}
define host {
	host_name mailservers
	alias the test Postfix and Dovecot
	address $H
	check_command always-up
	check_interval 2
	max_check_attempts 1
	check_period 24x7
	contacts nobody
	notification_period 24x7
	notifications_enabled 0
}
EOF
	for s in "${SERVICES[@]}"; do
		cat <<EOF
define command {
	command_name mailprobe-$s
	command_line $MAILPROBE ${ARGS[$s]}
}
define service {
	host_name mailservers
	service_description $s
	check_command mailprobe-$s
	check_interval 2
	retry_interval 2
	max_check_attempts 1
	check_period 24x7
	contacts nobody
	notification_period 24x7
	notifications_enabled 0
	event_handler record-event
	event_handler_enabled 1
}
EOF
	done
} >"$ND/objects.cfg"

"$NAGIOS" -v "$ND/nagios.cfg" >"$ND/verify.txt" 2>&1 || {
	cat "$ND/verify.txt" >&2
	mp_fail "nagios4 -v rejects $ND/nagios.cfg"
}
grep -qE '^Total Warnings: *0$' "$ND/verify.txt" || {
	cat "$ND/verify.txt" >&2
	mp_fail "nagios4 -v warns about $ND/nagios.cfg"
}

# ---------------------------------------------------------------------------
# 3. Start it; from here on, stop it (by PID) however the test ends.
NAGIOS_PID=
WORKER_PIDS=

# True when PID $1 is alive, not a zombie, and runs nagios4 (not a recycled PID).
nagios_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ] && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$NAGIOS" ]
}

# Stops the daemon and its workers by PID, bounded; prints the log on failure.
nagios_stop() {
	local rc=$? p left i
	for p in $NAGIOS_PID; do
		nagios_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for ((i = 0; i < STOP_WAIT_S * 4; i++)); do
		left=
		for p in $NAGIOS_PID $WORKER_PIDS; do
			nagios_alive "$p" && left="$left $p"
		done
		[ -z "$left" ] && break
		sleep 0.25
	done
	for p in $left; do
		echo "nagios4 PID $p did not exit within ${STOP_WAIT_S}s: SIGKILL" >&2
		kill -KILL "$p" 2>/dev/null || true
	done
	[ -n "$QH_DIR" ] && rm -rf "$QH_DIR"
	if [ "$rc" -ne 0 ] && [ -f "$ND/nagios.log" ]; then
		echo "--- $ND/nagios.log:" >&2
		tail -n 60 "$ND/nagios.log" >&2
	fi
	exit "$rc"
}
trap nagios_stop EXIT

"$NAGIOS" -d "$ND/nagios.cfg" >"$ND/start.txt" 2>&1 || {
	cat "$ND/start.txt" >&2
	mp_fail "nagios4 -d did not start"
}
for ((i = 0; i < START_WAIT_S * 10; i++)); do
	NAGIOS_PID=$(tr -dc 0-9 <"$ND/nagios.lock" 2>/dev/null || true)
	[ -n "$NAGIOS_PID" ] && nagios_alive "$NAGIOS_PID" && break
	NAGIOS_PID=
	sleep 0.1
done
[ -n "$NAGIOS_PID" ] || mp_fail "no running nagios4 PID in $ND/nagios.lock after ${START_WAIT_S}s"
# its check workers are its children: stopped with it, waited for by PID
WORKER_PIDS=$(ps -o pid= --ppid "$NAGIOS_PID" | tr '\n' ' ')
mp_note "nagios4 PID $NAGIOS_PID, workers: $WORKER_PIDS"

# ---------------------------------------------------------------------------
# 4. Poll status.dat until every service shows what its direct run showed.
export ND SERVICES_LIST="${SERVICES[*]}"
for s in "${SERVICES[@]}"; do
	export "WANT_STATE_$s=${WANT_STATE[$s]}" "WANT_LABELS_$s=${WANT_LABELS[$s]}"
done
CHECK_STATUS='
import os, re, sys, time

nd = os.environ["ND"]
services = os.environ["SERVICES_LIST"].split()
names = ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
deadline = time.monotonic() + float(sys.argv[1])

def blocks(path):
    """The servicestatus blocks of status.dat, by service_description."""
    out, cur = {}, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line == "servicestatus {":
                cur = {}
            elif line == "}" and cur is not None:
                out[cur.get("service_description")] = cur
                cur = None
            elif cur is not None and "=" in line:
                k, v = line.split("=", 1)
                cur[k] = v
    return out

# Monitoring Plugins Development Guidelines, performance data:
# label=value[UOM];[warn];[crit];[min];[max], the label single-quoted when it
# holds spaces or quotes, items separated by spaces.
PERF = re.compile(r"^(\x27[^\x27]+\x27|[^ \x27=]+)=(-?[0-9.]+)([a-zA-Z%]*)(;[^; ]*){0,4}$")

def labels(perf, quoted):
    got = []
    for item in perf.split():
        m = PERF.match(item)
        if not m:
            raise ValueError("perfdata item %r is not label=value[UOM];..." % item)
        lab = m.group(1)
        if quoted and not (lab.startswith("\x27") and lab.endswith("\x27")):
            raise ValueError("perfdata label %r is not single-quoted" % lab)
        got.append(lab.strip("\x27"))
    return got

def nagios_text(t):
    """What Nagios keeps of the text of a first line: every ";" becomes ":"."""
    return t.replace(";", ":")

def direct(s):
    """First line (output, perfdata) and long output of the direct run."""
    lines = open(os.path.join(os.environ["MP_WORK"], "direct-%s.txt" % s)).read().splitlines()
    out, _, perf = lines[0].partition(" | ")
    return out, perf, lines[1:]

def problems(st):
    bad = []
    for s in services:
        want = int(os.environ["WANT_STATE_" + s])
        want_labels = os.environ["WANT_LABELS_" + s].split()
        d_out, d_perf, d_long = direct(s)
        b = st.get(s)
        if b is None:
            bad.append("%s: no servicestatus block" % s)
            continue
        if b.get("has_been_checked") != "1":
            bad.append("%s: not checked yet" % s)
            continue
        if b.get("current_state") != str(want):
            bad.append("%s: current_state %s, want %d (%s)" % (s, b.get("current_state"), want,
                                                              b.get("plugin_output")))
            continue
        out, perf, lng = b.get("plugin_output", ""), b.get("performance_data", ""), \
            b.get("long_plugin_output", "")
        if not out.startswith("MAILPROBE %s - " % names[want]):
            bad.append("%s: plugin_output %r does not start with MAILPROBE %s - "
                       % (s, out, names[want]))
        if out != nagios_text(d_out):
            bad.append("%s: plugin_output %r, the direct run printed %r" % (s, out, d_out))
        try:
            got = labels(perf, True)
            if got != labels(d_perf, True):
                bad.append("%s: performance_data labels %s, the direct run had %s"
                           % (s, got, labels(d_perf, True)))
            missing = [l for l in want_labels if l not in got]
            if missing:
                bad.append("%s: performance_data %r lacks %s" % (s, perf, missing))
            times = [i for i in perf.split() if re.match(r"^\x27[^\x27]*_time\x27=", i)]
            if not times or any(not re.match(r"^\x27[^\x27]+\x27=[0-9]+ms;", i) for i in times):
                bad.append("%s: _time items %s are not =<n>ms;..." % (s, times))
        except ValueError as e:
            bad.append("%s: performance_data %r: %s" % (s, perf, e))
        # status.dat writes the newlines of long output as backslash-n
        want_long = "\\n".join(d_long)
        if lng != want_long:
            bad.append("%s: long_plugin_output %r, the direct run printed %r" % (s, lng, want_long))
        if (want == 0) != (lng == ""):
            bad.append("%s: long_plugin_output %r: want one line per non-OK verdict" % (s, lng))
    return bad

bad = ["status.dat not written yet"]
while time.monotonic() < deadline:
    try:
        bad = problems(blocks(os.path.join(nd, "status.dat")))
    except FileNotFoundError:
        bad = ["status.dat not written yet"]
    if not bad:
        break
    time.sleep(0.5)
if bad:
    sys.stderr.write("FAIL: status.dat after %ss:\n  %s\n" % (sys.argv[1], "\n  ".join(bad)))
    sys.exit(1)
'
t0=$(mp_now_ms)
"$MP_PY" -c "$CHECK_STATUS" "$STATUS_WAIT_S" || {
	echo "--- servicestatus in $ND/status.dat:" >&2
	awk '/^servicestatus/,/}/' "$ND/status.dat" 2>/dev/null |
		grep -E 'service_description|has_been_checked|current_state|plugin_output|performance_data' >&2 || true
	mp_fail "Nagios did not show the expected service states within ${STATUS_WAIT_S}s"
}
mp_note "status.dat showed every service as expected after $(($(mp_now_ms) - t0)) ms"

# ---------------------------------------------------------------------------
# 5. Beyond status.dat: the perfdata file keeps the output and the quoted
#    labels as printed; an event handler's macros lose illegal_macro_output_chars
#    (the quotes among them), and what is left must still parse.
for ((i = 0; i < 20; i++)); do
	[ -s "$ND/event-warning.txt" ] && [ -s "$ND/event-critical.txt" ] &&
		grep -q '^warning	' "$ND/service-perfdata" 2>/dev/null && break
	sleep 0.5
done
"$MP_PY" - <<'EOF' || mp_fail "what Nagios hands to graphers and event handlers"
import os, re, sys
nd, work = os.environ["ND"], os.environ["MP_WORK"]
names = ["OK", "WARNING", "CRITICAL"]
illegal = set("`~$&|'\"<>")
bad = []
perf_rows = {}
with open(os.path.join(nd, "service-perfdata")) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 4:
            perf_rows[parts[0]] = parts
for s in ("ok", "warning", "critical"):
    want = int(os.environ["WANT_STATE_" + s])
    first = open(os.path.join(work, "direct-%s.txt" % s)).read().splitlines()[0]
    out, _, perf = first.partition(" | ")
    out = out.replace(";", ":")  # what Nagios keeps of the text (see the top)
    labels = [i.split("=", 1)[0] for i in perf.split()]
    row = perf_rows.get(s)
    if row is None:
        bad.append("%s: no line in the service perfdata file" % s)
    else:
        if row[1:3] != [str(want), out]:
            bad.append("%s: perfdata file has %r, want state %d and %r" % (s, row[1:3], want, out))
        if [i.split("=", 1)[0] for i in row[3].split()] != labels:
            bad.append("%s: perfdata file labels %r, the direct run had %r" % (s, row[3], labels))
    if want == 0:
        continue  # no state change from the initial OK: no event handler run
    try:
        ev = open(os.path.join(nd, "event-%s.txt" % s)).read().split("\n")
    except FileNotFoundError:
        bad.append("%s: the event handler did not run" % s)
        continue
    strip = lambda t: "".join(c for c in t if c not in illegal)
    if ev[0] != names[want] or ev[1] != strip(out):
        bad.append("%s: event handler got %r, want %r" % (s, ev[:2], [names[want], strip(out)]))
    ev_labels = [i.split("=", 1)[0] for i in ev[2].split()]
    if ev_labels != [strip(l) for l in labels]:
        bad.append("%s: event handler perfdata %r, want the labels %r unquoted"
                   % (s, ev[2], [strip(l) for l in labels]))
    if any(not re.match(r"^[A-Za-z0-9_.:+-]+=[0-9]", i) for i in ev[2].split()):
        bad.append("%s: unquoted perfdata %r has a label that is not one plain token" % (s, ev[2]))
if bad:
    sys.stderr.write("FAIL:\n  " + "\n  ".join(bad) + "\n")
    sys.exit(1)
EOF

# Nagios' own complaints (a check that timed out, printed nothing, ...);
# alert lines carry the plugin's text, not Nagios' word
if grep -vE '(SERVICE|HOST) (ALERT|EVENT HANDLER):' "$ND/nagios.log" | grep -qE '(Error|Warning):'; then
	grep -vE '(SERVICE|HOST) (ALERT|EVENT HANDLER):' "$ND/nagios.log" | grep -E '(Error|Warning):' >&2
	mp_fail "nagios.log reports errors or warnings"
fi
mp_note "Nagios kept every service's state, output and perfdata"
