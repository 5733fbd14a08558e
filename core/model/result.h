/* result.h - the data model: what to probe (endpoint) and what was seen
 * (probe_result). Nothing here knows how results are printed.
 */
#ifndef MP_RESULT_H
#define MP_RESULT_H

#include <stdint.h>
#include <stdbool.h>
#include "core/limits.h"
#include "core/status.h"
#include "core/strlist.h"
#include "core/tls.h"
#include "core/tlsprobe.h"
#include "core/transcript.h"
#include "core/proxy.h"

enum protocol { PROTO_SMTP, PROTO_IMAP, PROTO_POP3, PROTO_COUNT };
enum sec_mode { MODE_PLAIN, MODE_STARTTLS, MODE_TLS, MODE_COUNT };

const char *protocol_name(enum protocol p); /* "smtp", "imap", "pop3" */
const char *mode_name(enum sec_mode m);     /* "plain", "starttls", "tls" */
/* Parse a name; return -1 when unknown. */
int protocol_parse(const char *s);
int mode_parse(const char *s);

struct endpoint {
	enum protocol proto;
	enum sec_mode mode;
	char host[256]; /* as the user gave it, IPv6 without brackets */
	uint16_t port;
	const struct proxy_spec *proxy; /* NULL when direct */
	/* One address of host to probe (numeric, no brackets), "" to resolve
	 * host and take the first address that connects (addrs.h). */
	char address[64];
	/* How discovery found the endpoint (discover.h): "mx", "srv",
	 * "autoconfig", "guess", "" for a target given by the user; and the
	 * record that named it ("10 mx1.example.test."). */
	const char *discovered_by;
	char discovered_record[160];
	const char *discovered_also[4]; /* other sources that named it too, NULL-ended */
	unsigned line;                  /* the line of -i FILE it came from; 0: command line */
	bool invalid;                   /* an invalid target (host: its text, made printable) */
};

/* Stable finding codes (JSON "findings[].code"). */
#define FINDING_AUTH_BEFORE_TLS       "auth_before_tls"
#define FINDING_STARTTLS_INJECTION    "plaintext_after_starttls"
#define FINDING_EXPECTS_IMPLICIT_TLS  "port_expects_implicit_tls"
#define FINDING_SPEAKS_PLAINTEXT      "port_speaks_plaintext"
#define FINDING_EHLO_REFUSED          "ehlo_refused_helo_used"
#define FINDING_NO_STARTTLS           "starttls_not_offered"
#define FINDING_PLAINTEXT_ONLY        "plaintext_only"
#define FINDING_CERT_UNVERIFIED       "certificate_not_verified"
#define FINDING_CERT_NAME_MISMATCH    "certificate_name_mismatch"
#define FINDING_CERT_EXPIRED          "certificate_expired"
#define FINDING_CERT_EXPIRING         "certificate_expiring"
#define FINDING_LOGINDISABLED         "login_disabled_before_tls"
#define FINDING_LIMIT_HIT             "limit_reached"
#define FINDING_NUL_IN_REPLY          "nul_in_reply"
#define FINDING_BARE_LF               "bare_lf"
#define FINDING_LEGACY_TLS            "legacy_tls_version"
#define FINDING_GREETING_REJECTED     "greeting_rejected"
#define FINDING_CERT_SELF_SIGNED      "certificate_self_signed"
#define FINDING_WEAK_KEY              "weak_certificate_key"
#define FINDING_LEGACY_TLS_ACCEPTED   "legacy_tls_accepted"
#define FINDING_STARTTLS_CERT_DIFFERS "starttls_certificate_differs"
/* Active checks (probe/checks.h) that ended "fail"; a failed
 * starttls-response-injection check is FINDING_STARTTLS_INJECTION. */
#define FINDING_STARTTLS_CMD_INJECTION   "starttls_command_injection"
#define FINDING_AUTH_ACCEPTED_BEFORE_TLS "auth_accepted_before_tls"
#define FINDING_USER_ENUMERATION         "user_enumeration"
#define FINDING_SMTP_SMUGGLING           "smtp_smuggling"
#define FINDING_OPEN_RELAY               "open_relay"
#define FINDING_ADDRESS_UNREACHABLE      "address_unreachable"
#define FINDING_ADDRESSES_DIFFER         "addresses_differ"
/* auto mode settled on plaintext while a TLS candidate before it timed out */
#define FINDING_AUTO_TLS_TIMED_OUT "auto_tls_timed_out"

struct finding {
	const char *code; /* one of the FINDING_* strings (static) */
	char *message;    /* owned, at most MP_MAX_ERROR - 1 bytes, never NULL */
};

/* Milliseconds spent per stage; -1 when the stage was not reached. */
struct timings {
	int64_t resolve;
	int64_t proxy_connect;
	int64_t proxy_handshake;
	int64_t connect;
	int64_t greeting;
	int64_t tls; /* TLS handshake (implicit, or after STARTTLS) */
	int64_t total;
};

/* Login attempts (issue: authentication); JSON "auth_results[].status". */
enum auth_status {
	AUTH_ST_OK,          /* "ok": the server accepted the login */
	AUTH_ST_REJECTED,    /* "rejected": the server refused it (reply says how) */
	AUTH_ST_NOT_OFFERED, /* "not_offered": allowed by the user, not advertised */
	AUTH_ST_SKIPPED,     /* "skipped": not tried (detail says why) */
	AUTH_ST_ERROR,       /* "error": the attempt broke (detail says how) */
	AUTH_ST_COUNT
};

/* One method's login result (auth.h). */
struct auth_result {
	const char *mechanism; /* auth_method_name() (static) */
	int method;            /* enum auth_method */
	enum auth_status status;
	bool attempt;                 /* to be tried on a fresh connection */
	char reply[MP_MAX_ERROR];     /* the server's final reply, escaped; "" if none */
	char detail[MP_MAX_ERROR];    /* why skipped / what broke / a note; "" if none */
	int64_t time_ms;              /* the login exchange; -1 when not attempted */
	struct transcript transcript; /* the attempt's own connection */
};

/* Active checks (probe/checks.h); JSON "checks[].state". */
enum check_state {
	CHECK_PASS,         /* "pass": the server behaved */
	CHECK_FAIL,         /* "fail": the server showed the weakness */
	CHECK_INCONCLUSIVE, /* "inconclusive": ran, but the answers do not tell */
	CHECK_SKIPPED,      /* "skipped": not run (evidence says why) */
	CHECK_STATE_COUNT
};

/* "pass", "fail", "inconclusive", "skipped". */
const char *check_state_name(enum check_state st);

/* One check's outcome on one endpoint. evidence is the exchange (or why the
 * check was skipped) on one line, already escaped to printable ASCII (other
 * bytes as \xNN) and bounded; it never holds a credential. */
struct check_result {
	const char *name; /* the check's (or variant's) static name */
	enum check_state state;
	char evidence[MP_MAX_CHECK_EVIDENCE];
	const char *reference; /* "CVE-2011-0411; RFC 3207 section 4.2" (static) */
};

struct probe_result {
	struct endpoint ep;
	char address[64]; /* the address we connected to, "" if none */
	enum mp_status status;
	char error[MP_MAX_ERROR]; /* human message, "" when ok */
	struct timings t;
	char *greeting; /* joined lines of the greeting, NULL if none */
	struct strlist caps_before, caps_after;
	struct strlist auth_before, auth_after;
	bool starttls_offered; /* STARTTLS / STLS advertised before TLS */
	char *apop_timestamp;  /* POP3 <...> from the greeting, or NULL */
	bool ehlo_refused;     /* SMTP: had to fall back to HELO */
	bool tls_used;         /* a TLS layer is (was) up */
	struct tls_info tls;
	/* --enumerate-tls (tlsprobe.h): one entry per version, oldest first;
	 * tls_versions_done is false when the endpoint was not enumerated. */
	bool tls_versions_done;
	struct tls_version_check tls_versions[TLSPROBE_NVERSIONS];
	struct finding findings[MP_MAX_FINDINGS];
	size_t nfindings;
	bool findings_truncated;
	struct transcript transcript;
	/* logins (auth.h): planned only when --user was given and the probe
	 * succeeded */
	bool auth_planned;
	struct auth_result *auth_results;
	size_t nauth;
	struct strlist auth_unsupported; /* offered, not implemented by mailprobe */
	/* active checks (checks.h): one entry per selected check and variant,
	 * NULL / 0 when none was selected */
	struct check_result *checks;
	size_t nchecks;
	/* --retry (engine.c): connections tried for this endpoint (1 without
	 * retries); busy: the server refused service for load (SMTP 4xx
	 * greeting, IMAP * BYE greeting, POP3 -ERR [IN-USE] or [SYS/TEMP]),
	 * so a later attempt may get through. */
	int attempts;
	bool busy;
};

/* Sets up an empty result for ep (timings -1, transcript started now). */
void result_init(struct probe_result *r, const struct endpoint *ep);
void result_free(struct probe_result *r);
/* Adds a finding once (a second finding with the same code is ignored). */
void result_add_finding(struct probe_result *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool result_has_finding(const struct probe_result *r, const char *code);
/* Records status and message; keeps the first error if one is already set. */
void result_fail(struct probe_result *r, enum mp_status st, const char *msg);

#endif
