#!/bin/bash
# test_vrfy.sh - the vrfy check (issue 23) against real Exim: no false alarm
# where VRFY and EXPN answer everybody alike, a failure where they tell users
# apart. Three private Exim 4.96 daemons (Debian's exim4-daemon-light,
# unpacked by .ci/install-deps.sh into /opt/mailprobe-exim, or $MP_EXIM):
#   DEFAULT  no VRFY / EXPN ACL (Debian's binary as shipped): VRFY of a bare
#            name 501 "must contain a domain", with a domain 252
#            "Administrative prohibition", EXPN 550 "Administrative prohibition";
#   OFF      acl_smtp_vrfy / acl_smtp_expn = deny;
#   ON       both accept: postmaster deliverable, a random name unrouteable.
# Postfix with disable_vrfy_command on and off is in test_checks.sh.
# Loopback only; mail is never accepted (no transport).
. "$(dirname "$0")/lib.sh"
mp_setup

EXIM=${MP_EXIM:-/opt/mailprobe-exim/usr/sbin/exim4}
[ -x "$EXIM" ] || mp_skip "no Exim at $EXIM (.ci/install-deps.sh unpacks one)"
id Debian-exim >/dev/null 2>&1 || mp_skip "Exim wants the system user Debian-exim"

H=127.0.0.1
EX=$MP_WORK/exim
EXIM_PIDS=()
EXIM_START_WAIT_S=10

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	set +e
	for pid in "${EXIM_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

read -r P_DEFAULT P_OFF P_ON < <("$MP_PY" "$MP_SRC/tests/fake/loopback.py" free-ports 3)
mkdir -p "$EX"
# Exim reads the key as Debian-exim: a copy of the test key it may read.
install -m 644 "$MP_SERVER_KEY" "$EX/server.key"
chmod 755 "$MP_WORK" "$EX"

# start_exim NAME PORT [-DMACRO]: one daemon with its own spool and log.
start_exim() {
	local name=$1 port=$2 def=${3:-} d=$EX/$1 i
	mkdir -p "$d/spool" "$d/log"
	chown -R Debian-exim "$d/spool" "$d/log"
	cat >"$d/exim.conf" <<CONF
exim_user = Debian-exim
exim_group = Debian-exim
keep_environment =
spool_directory = $d/spool
log_file_path = $d/log/%slog
primary_hostname = exim.test
qualify_domain = exim.test
local_interfaces = <; $H
tls_certificate = $MP_SERVER_CERT
tls_privatekey = $EX/server.key
tls_advertise_hosts = *
domainlist local_domains = exim.test
acl_smtp_rcpt = acl_rcpt
.ifdef VRFY_ON
acl_smtp_vrfy = accept
acl_smtp_expn = accept
.endif
.ifdef VRFY_OFF
acl_smtp_vrfy = deny
acl_smtp_expn = deny
.endif
begin acl
acl_rcpt:
  deny
begin routers
postmaster:
  driver = redirect
  domains = +local_domains
  local_parts = postmaster
  data = :blackhole:
begin transports
CONF
	# shellcheck disable=SC2086  # def is one word or none
	"$EXIM" -C "$d/exim.conf" $def -bd -oX "$port" -oP "$d/exim.pid" ||
		mp_fail "exim $name did not start"
	for ((i = 0; i < EXIM_START_WAIT_S * 10; i++)); do
		[ -s "$d/exim.pid" ] && (exec 3<>"/dev/tcp/$H/$port") 2>/dev/null && break
		sleep 0.1
	done
	[ -s "$d/exim.pid" ] || mp_fail "exim $name: no pid file ($(cat "$d"/log/* 2>/dev/null))"
	EXIM_PIDS+=("$(cat "$d/exim.pid")")
}
start_exim default "$P_DEFAULT"
start_exim off "$P_OFF" -DVRFY_OFF
start_exim on "$P_ON" -DVRFY_ON
export P_DEFAULT P_OFF P_ON

C() {
	echo "[c[\"state\"] for c in $1[\"checks\"] if c[\"name\"] == \"vrfy\"]"
}
E() {
	echo "[c[\"evidence\"] for c in $1[\"checks\"] if c[\"name\"] == \"vrfy\"][0]"
}

J=$MP_WORK/exim.json
mp_json "$J" --cafile "$MP_CA" --checks all --forbid-check-failures \
	"smtp+starttls://$H:$P_DEFAULT" "smtp://$H:$P_DEFAULT" "smtp+starttls://$H:$P_OFF" \
	"smtp://$H:$P_ON"
mp_validate "$J"
D='R("smtp", env["P_DEFAULT"], "starttls")'
pyeq "$J" "$(C "$D")" '["pass"]' "exim default, STARTTLS: no false alarm (issue 23)"
pyeq "$J" "$(C 'R("smtp", env["P_DEFAULT"], "plain")')" '["pass"]' "exim default, plain: pass"
pyassert "$J" "'Administrative prohibition' in $(E "$D")" "exim default: the refusal in the evidence"
pyassert "$J" "'@exim.test' in $(E "$D")" "exim default: asked again with the greeting's domain"
pyassert "$J" "'user_enumeration' not in codes($D)" "exim default: no user_enumeration finding"
pyassert "$J" "V(\"forbid-check-failures\", $D) == [\"OK\"]" "exim default: the CI gate stays OK"
pyeq "$J" "$(C 'R("smtp", env["P_OFF"], "starttls")')" '["pass"]' "exim VRFY/EXPN denied: pass"
O='R("smtp", env["P_ON"])'
pyeq "$J" "$(C "$O")" '["fail"]' "exim VRFY/EXPN on: postmaster told from a random name"
pyassert "$J" "'Unrouteable address' in $(E "$O")" "exim on: the 550 in the evidence"
pyassert "$J" "'user_enumeration' in codes($O)" "exim on: user_enumeration finding"
pyassert "$J" "V(\"forbid-check-failures\", $O) == [\"CRITICAL\"]" "exim on: CRITICAL under the gate"
mp_expect_rc 2
# --enum-user: the same verdicts
mp_json "$MP_WORK/exim-user.json" --checks vrfy --enum-user postmaster \
	"smtp://$H:$P_DEFAULT" "smtp://$H:$P_ON"
J=$MP_WORK/exim-user.json
pyeq "$J" "$(C 'R("smtp", env["P_DEFAULT"])')" '["pass"]' "exim default --enum-user: pass"
pyeq "$J" "$(C 'R("smtp", env["P_ON"])')" '["fail"]' "exim on --enum-user: fail"
echo "PASS: test_vrfy"
