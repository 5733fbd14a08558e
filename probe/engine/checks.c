/* checks.c - active server checks (checks.h): the list, selection, and each
 * check on a fresh connection, its wire work in one small function per
 * check and protocol. Replies are read with the dialects' read_reply step;
 * the evidence is built from the check connection's transcript. */
#include "probe/engine/checks.h"
#include "probe/dialects/dialect.h"
#include "probe/engine/probe.h"
#include "core/deadline.h"
#include "core/threadmem.h"
#include "core/tls.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

/* The user names the checks use: no one has them (RFC 2606 ".invalid"). */
#define VRFY_RANDOM_PREFIX "mailprobe-nobody-"
/* RFC 5321 4.5.1: every SMTP server has a postmaster: the name VRFY
 * compares a random one with when no --enum-user is given. */
#define VRFY_KNOWN_USER "postmaster"
#define INVALID_USER     "mailprobe-check.invalid"
/* AUTH PLAIN (RFC 4616) of "\0mailprobe-check.invalid\0invalid": a made-up
 * credential that cannot log anybody in. */
#define INVALID_PLAIN_IR "AG1haWxwcm9iZS1jaGVjay5pbnZhbGlkAGludmFsaWQ="
#define RELAY_LOCAL_PART "mailprobe-relay-test"


static const char *const check_refs[CHECK_ID_COUNT] = {
    "CVE-2011-0411; RFC 3207 section 4.2, RFC 2595 section 3.1",
    "RFC 3207 section 4.2 (cf. CVE-2011-0411, the client side)",
    "RFC 4954 section 4 (AUTH), RFC 9051 section 6.2.3 (LOGINDISABLED), RFC 2595 section 4",
    "RFC 5321 sections 3.5 and 7.3 (VRFY, EXPN)",
    "CVE-2023-51764, CVE-2023-51765, CVE-2023-51766; RFC 5321 section 4.1.1.4",
    "RFC 5321 section 3.6 and 7.1 (relaying); RFC 2505",
};

/* SMTP smuggling: the end-of-data look-alikes of 2023. RFC 5321 4.1.1.4
 * ends DATA only at <CRLF>.<CRLF>; a server that also ends it at one of
 * these takes what follows as commands. */
static const struct smuggling_variant {
	const char *name;  /* the check's name in the results */
	const char *seq;   /* the bytes sent */
	const char *shown; /* in messages */
} variants[] = {
    {"smtp-smuggling-lf-dot-lf", "\n.\n", "<LF>.<LF>"},
    {"smtp-smuggling-lf-dot-crlf", "\n.\r\n", "<LF>.<CR><LF>"},
    {"smtp-smuggling-cr-dot-lf", "\r.\n", "<CR>.<LF>"},
    {"smtp-smuggling-crlf-dot-lf", "\r\n.\n", "<CR><LF>.<LF>"},
    {"smtp-smuggling-cr-dot-crlf", "\r.\r\n", "<CR>.<CR><LF>"},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))


/* ---- The set of one endpoint's checks ---- */

struct check_job {
	enum check_id id;
	size_t variant; /* smuggling: index into variants */
	size_t slot;    /* index into res->checks */
};

struct check_set {
	const struct endpoint *ep;
	const struct probe_config *cfg;
	const struct check_config *cc;
	int64_t deadline;
	struct probe_result *res;
	struct check_job jobs[MP_MAX_CHECKS];
	size_t njobs, next;              /* next: guarded by lock */
	volatile int fds[MP_MAX_CHECKS]; /* sockets in use, for an interrupt */
	volatile sig_atomic_t *stop;
	pthread_mutex_t lock;
};

/* One check running on its connection. */
struct check_run {
	struct session *s;
	const struct dialect *d;
	const struct check_config *cc;
	struct check_result *c;
	size_t variant;
	size_t mark; /* first transcript entry of the evidence */
	bool decided;
	bool probe_tls_ok; /* the endpoint's own probe completed TLS */
};

/* Sets the state and the evidence: the summary (our text, with server text
 * already quoted), then the exchange since r->mark, each entry quoted, all
 * on one line and bounded. */
static void verdict(struct check_run *r, enum check_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void verdict(struct check_run *r, enum check_state st, const char *fmt, ...)
{
	const struct transcript *t = &r->s->res->transcript;
	char *ev = r->c->evidence;
	size_t size = sizeof(r->c->evidence);
	size_t used;
	va_list ap;

	if (r->decided)
		return;
	r->decided = true;
	r->c->state = st;
	va_start(ap, fmt);
	vsnprintf(ev, size, fmt, ap);
	va_end(ap);
	used = strlen(ev);
	/* a skipped check's evidence is the reason alone */
	for (size_t i = r->mark; st != CHECK_SKIPPED && i < t->n && used + 8 < size; i++) {
		char q[DIALECT_QUOTE_SIZE];

		dialect_quote(q, sizeof(q), t->e[i].text, t->e[i].len);
		snprintf(ev + used, size - used, " | %c: %s", t->e[i].dir, q);
		used += strlen(ev + used);
	}
	if (used + 1 >= size && size > 4)
		memcpy(ev + size - 4, "...", 4);
}

/* A step failed (st, with the session's message): inconclusive. */
static void verdict_broke(struct check_run *r, const char *where, enum mp_status st)
{
	char msg[MP_MAX_ERROR];

	dialect_quote(msg, sizeof(msg), r->s->err.msg[0] ? r->s->err.msg : mp_status_describe(st),
	              strlen(r->s->err.msg[0] ? r->s->err.msg : mp_status_describe(st)));
	verdict(r, CHECK_INCONCLUSIVE, "%s: %s", where, msg);
}

/* Sends line and reads its reply. */
static enum mp_status command(struct check_run *r, const char *line, const char *what,
                              struct dialect_reply *rep)
{
	enum mp_status st = session_send(r->s, line);

	if (st != MP_OK)
		return st;
	return r->d->read_reply(r->s, what, 0, rep);
}

/* Greeting and capabilities, staying before TLS (implicit TLS first when
 * the mode says so). */
static enum mp_status open_before_tls(struct check_run *r)
{
	enum mp_status st;

	if (r->s->ep->mode == MODE_TLS) {
		st = session_start_tls(r->s, r->s->cfg->tls_timeout_ms, false);
		if (st != MP_OK)
			return st;
	}
	st = r->d->greeting(r->s);
	if (st == MP_OK)
		st = r->d->capabilities(r->s);
	return st;
}

/* ---- starttls-injection: CVE-2011-0411 ---- */

/* The pipelined "STARTTLS + NOOP" of each protocol, into line; IMAP tags
 * go to stls_tag and noop_tag. */
static void injection_line(struct check_run *r, char *line, size_t size, char *stls_tag,
                           char *noop_tag, size_t tagsz)
{
	struct session *s = r->s;

	switch (s->ep->proto) {
	case PROTO_IMAP:
		snprintf(stls_tag, tagsz, "a%u", ++s->imap_tag);
		snprintf(noop_tag, tagsz, "a%u", ++s->imap_tag);
		snprintf(line, size, "%s STARTTLS\r\n%s NOOP", stls_tag, noop_tag);
		break;
	case PROTO_POP3:
		snprintf(line, size, "STLS\r\nNOOP");
		break;
	default:
		snprintf(line, size, "STARTTLS\r\nNOOP");
		break;
	}
}

/* True when rep is the go-ahead to STARTTLS (RFC 3207 4: 220; RFC 9051
 * 6.2.1: tagged OK; RFC 2595 4: +OK). */
static bool is_go_ahead(const struct session *s, const struct dialect_reply *rep,
                        const char *stls_tag)
{
	switch (s->ep->proto) {
	case PROTO_IMAP:
		return rep->kind == DR_OK && strcmp(rep->tag, stls_tag) == 0;
	case PROTO_POP3:
		return rep->kind == DR_OK;
	default:
		return rep->code == 220;
	}
}

/* Inside TLS, QUIT / LOGOUT: the first reply must be its own. A reply that
 * comes first answers the NOOP sent in plaintext. */
static void injection_after_tls(struct check_run *r, const char *noop_tag)
{
	struct session *s = r->s;
	struct dialect_reply rep, more;
	char quit_tag[16];
	char line[64];
	enum mp_status st;
	int settle = s->cfg->command_timeout_ms < MP_CHECK_SETTLE_MS ? s->cfg->command_timeout_ms
	                                                             : MP_CHECK_SETTLE_MS;

	if (s->ep->proto == PROTO_IMAP) {
		snprintf(quit_tag, sizeof(quit_tag), "a%u", ++s->imap_tag);
		snprintf(line, sizeof(line), "%s LOGOUT", quit_tag);
	} else {
		snprintf(line, sizeof(line), "QUIT");
	}
	st = command(r, line, s->ep->proto == PROTO_IMAP ? "LOGOUT" : "QUIT", &rep);
	if (st != MP_OK) {
		verdict_broke(r, "inside TLS, no reply to our own command", st);
		return;
	}
	switch (s->ep->proto) {
	case PROTO_SMTP:
		if (rep.code == 221)
			verdict(r, CHECK_PASS,
			        "inside TLS the first reply was QUIT's 221: the NOOP "
			        "sent in plaintext with STARTTLS was not carried over");
		else
			verdict(r, CHECK_FAIL,
			        "inside TLS the server answered %d \"%s\" before "
			        "QUIT's 221: it ran the NOOP it got in plaintext with STARTTLS "
			        "inside the TLS session",
			        rep.code, rep.text);
		return;
	case PROTO_IMAP:
		if (strcmp(rep.tag, noop_tag) == 0)
			verdict(r, CHECK_FAIL,
			        "inside TLS the server answered the %s NOOP sent in "
			        "plaintext with STARTTLS: \"%s\"",
			        noop_tag, rep.text);
		else if (strcmp(rep.tag, quit_tag) == 0)
			verdict(r, CHECK_PASS,
			        "inside TLS the only tagged reply was LOGOUT's: the "
			        "%s NOOP sent in plaintext with STARTTLS was not carried over",
			        noop_tag);
		else
			verdict(r, CHECK_INCONCLUSIVE,
			        "inside TLS a reply with an unknown tag: "
			        "\"%s\"",
			        rep.text);
		return;
	default:
		/* POP3 replies carry no tag: a second status line to one QUIT
		 * answers the NOOP. */
		if (r->d->read_reply(s, "QUIT", settle, &more) == MP_OK)
			verdict(r, CHECK_FAIL,
			        "inside TLS two replies to one QUIT (\"%s\", then "
			        "\"%s\"): the first answers the NOOP sent in plaintext with STLS",
			        rep.text, more.text);
		else
			verdict(r, CHECK_PASS,
			        "inside TLS one reply to QUIT (\"%s\"): the NOOP "
			        "sent in plaintext with STLS was not carried over",
			        rep.text);
		return;
	}
}

static void check_starttls_injection(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep;
	char stls_tag[16] = "", noop_tag[16] = "";
	char line[64];
	enum mp_status st;

	st = open_before_tls(r);
	if (st != MP_OK) {
		verdict_broke(r, "before STARTTLS", st);
		return;
	}
	if (!s->res->starttls_offered) {
		verdict(r, CHECK_INCONCLUSIVE, "STARTTLS not advertised on this connection");
		return;
	}
	r->mark = s->res->transcript.n;
	injection_line(r, line, sizeof(line), stls_tag, noop_tag, sizeof(stls_tag));
	/* One line with an embedded CRLF: both commands in one write. */
	st = session_send(s, line);
	if (st == MP_OK)
		st = r->d->read_reply(s, "STARTTLS", 0, &rep);
	if (st != MP_OK) {
		verdict_broke(r, "no go-ahead to STARTTLS sent with NOOP", st);
		return;
	}
	if (!is_go_ahead(s, &rep, stls_tag)) {
		verdict(r, CHECK_INCONCLUSIVE, "server refused STARTTLS sent with NOOP: \"%s\"",
		        rep.text);
		return;
	}
	st = session_start_tls(s, s->cfg->tls_timeout_ms, true);
	if (st != MP_OK && r->probe_tls_ok) {
		/* The probe's own handshake worked: this one failed on the NOOP
		 * bytes, taken for TLS data or refused (Dovecot does that). */
		char q[DIALECT_QUOTE_SIZE];

		dialect_quote(q, sizeof(q), s->err.msg, strlen(s->err.msg));
		verdict(r, CHECK_PASS,
		        "the TLS handshake after the pipelined NOOP failed (%s), "
		        "where the probe's own succeeded: the server took the plaintext for TLS "
		        "bytes or refused it, so no command ran inside TLS",
		        q);
		return;
	}
	if (st != MP_OK) {
		verdict_broke(r, "TLS handshake after the go-ahead failed", st);
		return;
	}
	injection_after_tls(r, noop_tag);
}

/* ---- starttls-response-injection: from the probe's own record ---- */

static void check_response_injection(const struct probe_result *res, struct check_result *c)
{
	for (size_t i = 0; i < res->nfindings; i++) {
		if (strcmp(res->findings[i].code, FINDING_STARTTLS_INJECTION) != 0)
			continue;
		c->state = CHECK_FAIL;
		dialect_quote(c->evidence, sizeof(c->evidence), res->findings[i].message,
		              strlen(res->findings[i].message));
		return;
	}
	c->state = CHECK_PASS;
	snprintf(c->evidence, sizeof(c->evidence),
	         "no byte arrived between the STARTTLS go-ahead and the TLS handshake (mailprobe "
	         "discards any)");
}

/* ---- auth-before-tls: AUTH, LOGIN or USER where not advertised ---- */

/* RFC 4954 4: AUTH PLAIN with an invalid credential; a server that does not
 * offer AUTH before TLS must refuse the command, not check the credential. */
static void auth_smtp(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep, cancel;
	enum mp_status st;

	if (s->res->auth_before.n > 0) {
		verdict(r, CHECK_SKIPPED,
		        "the server advertises AUTH before TLS (finding "
		        "auth_before_tls): nothing hidden to test");
		return;
	}
	r->mark = s->res->transcript.n;
	st = session_send_redacted(s, "AUTH PLAIN " INVALID_PLAIN_IR,
	                           "AUTH PLAIN <invalid credential for " INVALID_USER ">");
	if (st == MP_OK)
		st = r->d->read_reply(s, "AUTH", 0, &rep);
	if (st != MP_OK) {
		verdict_broke(r, "no reply to AUTH", st);
		return;
	}
	if (rep.code == 334) {
		/* RFC 4954 4: "*" cancels the exchange. */
		if (session_send(s, "*") == MP_OK)
			r->d->read_reply(s, "AUTH", 0, &cancel);
		verdict(r, CHECK_FAIL,
		        "AUTH is not advertised before TLS, yet the server "
		        "started the exchange (334)");
	} else if (rep.code == 235 || rep.code == 535) {
		verdict(r, CHECK_FAIL,
		        "AUTH is not advertised before TLS, yet the server checked "
		        "the credential (%d \"%s\")",
		        rep.code, rep.text);
	} else if (rep.kind == DR_BAD) {
		verdict(r, CHECK_PASS, "AUTH before TLS refused (%d)", rep.code);
	} else {
		verdict(r, CHECK_INCONCLUSIVE,
		        "AUTH before TLS answered %d: neither a refusal "
		        "nor a verdict on the credential",
		        rep.code);
	}
}

/* RFC 9051 6.2.3: with LOGINDISABLED the server must refuse LOGIN. A NO
 * with [AUTHENTICATIONFAILED] (RFC 5530) means it checked the credential;
 * [PRIVACYREQUIRED] or BAD is the refusal. */
static void auth_imap(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep;
	char line[96], shown[96];
	enum mp_status st;

	if (!strlist_has(&s->res->caps_before, "LOGINDISABLED")) {
		verdict(r, CHECK_SKIPPED,
		        "LOGINDISABLED is not advertised before TLS: LOGIN is "
		        "offered (the rule forbid-auth-before-tls judges that)");
		return;
	}
	r->mark = s->res->transcript.n;
	snprintf(line, sizeof(line), "a%u LOGIN " INVALID_USER " invalid", ++s->imap_tag);
	snprintf(shown, sizeof(shown), "a%u LOGIN " INVALID_USER " <invalid password>",
	         s->imap_tag);
	st = session_send_redacted(s, line, shown);
	if (st == MP_OK)
		st = r->d->read_reply(s, "LOGIN", 0, &rep);
	if (st != MP_OK) {
		verdict_broke(r, "no reply to LOGIN", st);
		return;
	}
	if (rep.kind == DR_OK || strstr(rep.text, "[AUTHENTICATIONFAILED]") ||
	    strstr(rep.text, "[AUTHORIZATIONFAILED]"))
		verdict(r, CHECK_FAIL,
		        "LOGINDISABLED is advertised, yet the server checked the "
		        "LOGIN credential: \"%s\"",
		        rep.text);
	else if (rep.kind == DR_BAD || strstr(rep.text, "[PRIVACYREQUIRED]"))
		verdict(r, CHECK_PASS, "LOGIN before TLS refused as LOGINDISABLED says");
	else
		verdict(r, CHECK_INCONCLUSIVE,
		        "NO without a response code: a refusal or a "
		        "failed login");
}

/* RFC 2449 6.8 / RFC 2595 4: without USER in CAPA before STLS, USER must be
 * refused. */
static void auth_pop3(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep;
	enum mp_status st;

	if (strlist_has(&s->res->caps_before, "USER")) {
		verdict(r, CHECK_SKIPPED,
		        "USER is advertised before TLS (the rule "
		        "forbid-auth-before-tls judges that)");
		return;
	}
	r->mark = s->res->transcript.n;
	st = command(r, "USER " INVALID_USER, "USER", &rep);
	if (st != MP_OK) {
		verdict_broke(r, "no reply to USER", st);
		return;
	}
	if (rep.kind == DR_OK)
		verdict(r, CHECK_FAIL,
		        "USER is not advertised before TLS, yet the server "
		        "accepted it: \"%s\"",
		        rep.text);
	else
		verdict(r, CHECK_PASS, "USER before TLS refused");
}

static void check_auth_before_tls(struct check_run *r)
{
	enum mp_status st = open_before_tls(r);

	if (st != MP_OK) {
		verdict_broke(r, "before the check", st);
		return;
	}
	if (r->s->ep->proto == PROTO_IMAP)
		auth_imap(r);
	else if (r->s->ep->proto == PROTO_POP3)
		auth_pop3(r);
	else
		auth_smtp(r);
	r->d->quit(r->s);
}

/* ---- vrfy: user enumeration through VRFY and EXPN (RFC 5321 3.5, 7.3) ---- */

/* What one answer says about the name asked for. */
enum vclass {
	V_KNOWN,   /* 250/251 confirm, 252 "cannot verify, will try" (RFC 5321 3.5.3) */
	V_UNKNOWN, /* 550/551/553: no such user (RFC 5321 4.2.2) */
	V_REFUSED, /* off (500/502/504), syntax (501), policy (530/554), or a 550
	              that says the command is prohibited: nothing about the user */
	V_OTHER,   /* anything else */
	V_BROKE,   /* no answer: the connection broke */
};

/* One VRFY or EXPN exchange. */
struct vanswer {
	int code;
	enum vclass cls;
};

/* Words in a 5xx that refuses the command itself rather than the user:
 * Exim's "550 Administrative prohibition", "not permitted", "disabled". */
static bool refuses_command(const char *text)
{
	static const char *const words[] = {"prohibit", "not permitted", "not allowed",
	                                    "disabled", "not available", "not implemented"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(text, words[i]))
			return true;
	return false;
}

static enum vclass vrfy_class(int code, const char *text)
{
	switch (code) {
	case 250:
	case 251:
		return V_KNOWN;
	case 252:
		/* Exim: "252 Administrative prohibition" for every name */
		return refuses_command(text) ? V_REFUSED : V_KNOWN;
	case 550:
	case 551:
	case 553:
		return refuses_command(text) ? V_REFUSED : V_UNKNOWN;
	case 500:
	case 501:
	case 502:
	case 504:
	case 530:
	case 554:
		return V_REFUSED;
	default:
		return V_OTHER;
	}
}

/* Sends "VERB user" and classifies the answer. */
static struct vanswer vrfy_ask(struct check_run *r, const char *verb, const char *user)
{
	struct dialect_reply rep;
	struct vanswer a = {0, V_BROKE};
	char line[MP_MAX_CHECK_ADDRESS + 16];

	snprintf(line, sizeof(line), "%s %s", verb, user);
	if (command(r, line, verb, &rep) != MP_OK)
		return a;
	a.code = rep.code;
	a.cls = vrfy_class(rep.code, rep.text);
	return a;
}

/* A name nobody has: "mailprobe-" and 12 random hex digits, so that no
 * server can learn to answer our one fixed name. */
static void random_user(char *out, size_t size)
{
	unsigned char b[6];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = (uint64_t)mono_ms() * 0x9e3779b97f4a7c15ULL;

		memcpy(b, &t, sizeof(b));
	}
	snprintf(out, size, VRFY_RANDOM_PREFIX "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
	         b[4], b[5]);
}

/* What the two answers to one verb show: true when they tell the existing
 * name (k) from the random one (n); *unclear when they differ in a way
 * that says nothing either way (e.g. 250 against 451). */
static bool tells_apart(struct vanswer k, struct vanswer n, bool *unclear)
{
	if (k.cls == V_KNOWN && n.cls == V_UNKNOWN)
		return true;
	if (k.cls == V_UNKNOWN && n.cls == V_KNOWN)
		return true; /* odd, but still two different answers about users */
	/* A refusal (off, syntax, policy such as Postfix's "554 Relay access
	 * denied" for a bare name it qualifies elsewhere) says nothing about
	 * the user, whatever the other answer is. */
	if (k.code != n.code && (k.cls == V_OTHER || n.cls == V_OTHER))
		*unclear = true;
	return false;
}

/* "disabled or refused", "the same answer" (the passing words). */
static const char *vrfy_word(struct vanswer k, struct vanswer n)
{
	if (k.cls == V_REFUSED && n.cls == V_REFUSED)
		return k.code == 501 && n.code == 501 ? "refused as a syntax error (not applicable)"
		                                      : "refused for both";
	if (k.cls == V_REFUSED || n.cls == V_REFUSED)
		return "refused for one name, which says nothing about the user";
	return "the same answer for both";
}

/* The domain the greeting names (RFC 5321 4.3.1: "220 domain ..."), for
 * a server that wants user@domain (Exim: "501 recipient address must
 * contain a domain"); false when it names none that looks like one. */
static bool greeting_domain(const struct probe_result *res, char *out, size_t size)
{
	const char *g = res->greeting ? res->greeting : "";
	size_t n = 0;
	bool dot = false, alpha = false;

	if (strlen(g) < 5 || (g[3] != ' ' && g[3] != '-'))
		return false;
	for (g += 4; g[n] && n + 1 < size; n++) {
		char ch = g[n];

		if (ch == '.')
			dot = true;
		else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
			alpha = true;
		else if (!(ch == '-' || (ch >= '0' && ch <= '9')))
			break;
		out[n] = ch;
	}
	out[n] = '\0';
	return dot && alpha && (g[n] == ' ' || g[n] == '\0' || g[n] == '\r');
}

/* Asks verb for the random name n (unless asked: *n holds its answer) and
 * the existing one k; when the random
 * name drew a syntax error (501), asks both again as name@domain of the
 * greeting, which is what an enumerator would do next. */
static void vrfy_pair(struct check_run *r, const char *verb, const char *user, const char *nobody,
                      bool asked, struct vanswer *k, struct vanswer *n)
{
	char dom[MP_MAX_CHECK_ADDRESS / 2], a[MP_MAX_CHECK_ADDRESS + 2], b[MP_MAX_CHECK_ADDRESS + 2];

	if (!asked)
		*n = vrfy_ask(r, verb, nobody);
	*k = vrfy_ask(r, verb, user);
	if (n->code != 501 || !greeting_domain(r->s->res, dom, sizeof(dom)))
		return;
	snprintf(a, sizeof(a), "%s@%s", nobody, dom);
	if (strchr(user, '@'))
		snprintf(b, sizeof(b), "%s", user);
	else
		snprintf(b, sizeof(b), "%.120s@%s", user, dom);
	*n = vrfy_ask(r, verb, a);
	*k = vrfy_ask(r, verb, b);
}

/* RFC 5321 3.5 / 7.3: compares a name that must exist (--enum-user, or
 * postmaster, which RFC 5321 4.5.1 requires) with a random one, by VRFY and
 * by EXPN; "fail" only when the answers tell them apart. */
static void check_vrfy(struct check_run *r)
{
	const char *user = r->cc->enum_user ? r->cc->enum_user : VRFY_KNOWN_USER;
	struct session *s = r->s;
	bool starttls = s->ep->mode == MODE_STARTTLS;
	bool unclear = false, vapart, eapart;
	char nobody[32];
	struct vanswer vn, vk, en, ek;
	/* On a STARTTLS endpoint ask in plaintext first, as anyone can: it
	 * saves a handshake; TLS only when the server wants it first. */
	enum mp_status st = starttls ? open_before_tls(r) : probe_converse(s, r->d);

	if (st != MP_OK) {
		verdict_broke(r, "before VRFY", st);
		return;
	}
	random_user(nobody, sizeof(nobody));
	r->mark = s->res->transcript.n;
	vn = vrfy_ask(r, "VRFY", nobody);
	if (starttls && vn.code == 530) {
		/* RFC 3207 4: "530 Must issue a STARTTLS command first" */
		st = r->d->starttls(s);
		if (st == MP_OK)
			st = session_start_tls(s, s->cfg->tls_timeout_ms, true);
		if (st == MP_OK)
			st = r->d->capabilities(s);
		if (st != MP_OK) {
			verdict_broke(r, "STARTTLS after VRFY's 530", st);
			return;
		}
		r->mark = s->res->transcript.n;
		transcript_note(&s->res->transcript,
		                "VRFY before TLS: 530 (STARTTLS first); asked again inside TLS");
	}
	vrfy_pair(r, "VRFY", user, nobody, true, &vk, &vn);
	vrfy_pair(r, "EXPN", user, nobody, false, &ek, &en);
	if (vn.cls == V_BROKE || vk.cls == V_BROKE || en.cls == V_BROKE || ek.cls == V_BROKE) {
		verdict(r, CHECK_INCONCLUSIVE, "the connection broke during VRFY / EXPN");
		goto out;
	}
	vapart = tells_apart(vk, vn, &unclear);
	eapart = tells_apart(ek, en, &unclear);
	if (vapart || eapart)
		verdict(r, CHECK_FAIL,
		        "the answers tell users apart: %s%s%s answers %s otherwise than a random "
		        "name (VRFY %d / %d, EXPN %d / %d), so names can be enumerated",
		        vapart ? "VRFY" : "", vapart && eapart ? " and " : "", eapart ? "EXPN" : "",
		        user, vk.code, vn.code, ek.code, en.code);
	else if (unclear)
		verdict(r, CHECK_INCONCLUSIVE,
		        "different answers for %s and a random name that neither confirm nor deny "
		        "a user (VRFY %d / %d, EXPN %d / %d)",
		        user, vk.code, vn.code, ek.code, en.code);
	else
		verdict(r, CHECK_PASS,
		        "nothing to enumerate: VRFY %s (%d / %d), EXPN %s (%d / %d) for %s and a "
		        "random name",
		        vrfy_word(vk, vn), vk.code, vn.code, vrfy_word(ek, en), ek.code, en.code, user);
out:
	r->d->quit(r->s);
}

/* ---- smtp-smuggling: one message per end-of-data variant ---- */

/* MAIL, RCPT and (with data) DATA (RFC 5321 4.1.1.2-4); false (decided)
 * unless the server is ready for the message, or without data unless RCPT
 * got a reply (left in rep). */
static bool smtp_envelope(struct check_run *r, const char *from, const char *to, bool data,
                          struct dialect_reply *rep_out)
{
	struct dialect_reply rep;
	char line[MP_MAX_CHECK_ADDRESS + 16];
	enum mp_status st;

	snprintf(line, sizeof(line), "MAIL FROM:<%s>", from);
	st = command(r, line, "MAIL FROM", &rep);
	if (st == MP_OK && rep.code != 250) {
		verdict(r, CHECK_INCONCLUSIVE, "MAIL FROM refused: %d \"%s\"", rep.code, rep.text);
		return false;
	}
	if (st == MP_OK) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>", to);
		st = command(r, line, "RCPT TO", &rep);
	}
	if (st != MP_OK) {
		verdict_broke(r, "envelope", st);
		return false;
	}
	if (!data) {
		*rep_out = rep;
		return true;
	}
	if (rep.code != 250 && rep.code != 251) {
		verdict(r, CHECK_INCONCLUSIVE,
		        "RCPT TO refused (%d \"%s\"): give --rcpt-to an "
		        "address this server accepts",
		        rep.code, rep.text);
		return false;
	}
	st = command(r, "DATA", "DATA", &rep);
	if (st != MP_OK) {
		verdict_broke(r, "DATA", st);
		return false;
	}
	if (rep.code != 354) {
		verdict(r, CHECK_INCONCLUSIVE, "DATA refused: %d \"%s\"", rep.code, rep.text);
		return false;
	}
	return true;
}

static void check_smuggling(struct check_run *r)
{
	const struct smuggling_variant *v = &variants[r->variant];
	struct session *s = r->s;
	struct dialect_reply end, rep;
	char body[1024], shown[MP_MAX_CHECK_ADDRESS + 64];
	int extra = 0, codes[3] = {0, 0, 0};
	enum mp_status st = probe_converse(s, r->d);

	if (st != MP_OK) {
		verdict_broke(r, "before MAIL FROM", st);
		return;
	}
	r->mark = s->res->transcript.n;
	if (!smtp_envelope(r, r->cc->mail_from, r->cc->rcpt_to, true, &rep))
		goto out;
	/* The text before the variant ends without a line end; after the
	 * variant, a second MAIL FROM, then the real end of data. */
	snprintf(body, sizeof(body),
	         "From: <%s>\r\nTo: <%s>\r\nSubject: mailprobe SMTP smuggling test %s\r\n\r\n"
	         "mailprobe checks whether this server ends DATA at %s (SMTP smuggling).\r\n"
	         "The MAIL FROM line below must stay part of this message.%sMAIL FROM:<%s>\r\n.",
	         r->cc->mail_from, r->cc->rcpt_to, v->shown, v->shown, v->seq, r->cc->mail_from);
	snprintf(shown, sizeof(shown), "(message) ...this message.%sMAIL FROM:<%s>\r\n.", v->seq,
	         r->cc->mail_from);
	st = session_send_redacted(s, body, shown);
	if (st == MP_OK)
		st = r->d->read_reply(s, "the end of DATA", 0, &end);
	if (st != MP_OK) {
		verdict_broke(r, "no reply to the message", st);
		goto out;
	}
	/* QUIT, and count the replies before its 221: each answers a line of
	 * the message that the server took as a command. */
	if (session_send(s, "QUIT") == MP_OK) {
		for (int k = 0; k < 6; k++) {
			if (r->d->read_reply(s, "QUIT", 0, &rep) != MP_OK || rep.code == 221)
				break;
			if (extra < 3)
				codes[extra] = rep.code;
			extra++;
		}
	}
	if (extra > 0) {
		char list[40] = "";

		for (int k = 0; k < extra && k < 3; k++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d",
			         k ? " " : "", codes[k]);
		verdict(r, CHECK_FAIL,
		        "the server ended DATA at %s: after its %d it answered %s to lines of "
		        "the message it took as commands",
		        v->shown, end.code, list);
	} else if (end.kind == DR_OK) {
		verdict(r, CHECK_PASS, "%s stayed data: one reply (%d) for the whole message",
		        v->shown, end.code);
	} else {
		verdict(r, CHECK_PASS,
		        "the server refused the message (%d \"%s\") and did not "
		        "take %s as end of data",
		        end.code, end.text, v->shown);
	}
	return;
out:
	r->d->quit(s);
}

/* ---- open-relay: MAIL and RCPT in foreign domains, never DATA ---- */

static void check_relay(struct check_run *r)
{
	struct dialect_reply rep;
	char from[MP_MAX_CHECK_ADDRESS + 32], to[MP_MAX_CHECK_ADDRESS + 32];
	enum mp_status st = probe_converse(r->s, r->d);

	if (st != MP_OK) {
		verdict_broke(r, "before MAIL FROM", st);
		return;
	}
	r->mark = r->s->res->transcript.n;
	snprintf(from, sizeof(from), RELAY_LOCAL_PART "@%s", r->cc->relay_from);
	snprintf(to, sizeof(to), RELAY_LOCAL_PART "@%s", r->cc->relay_to);
	if (!smtp_envelope(r, from, to, false, &rep))
		goto out;
	if (rep.code == 250 || rep.code == 251)
		verdict(r, CHECK_FAIL,
		        "without authentication the server accepted a recipient in "
		        "%s from a sender in %s (%d): an open relay",
		        r->cc->relay_to, r->cc->relay_from, rep.code);
	else if (rep.kind == DR_BAD)
		verdict(r, CHECK_PASS, "relaying to %s refused (%d)", r->cc->relay_to, rep.code);
	else
		verdict(r, CHECK_INCONCLUSIVE,
		        "RCPT TO answered %d: neither accepted nor refused "
		        "for good",
		        rep.code);
	command(r, "RSET", "RSET", &rep);
out:
	r->d->quit(r->s);
}

/* ---- Running ---- */

/* Runs job k on a fresh connection. */
static void run_job(struct check_set *cs, size_t k)
{
	const struct check_job *j = &cs->jobs[k];
	struct check_result *c = &cs->res->checks[j->slot];
	struct probe_result *scratch = calloc(1, sizeof(*scratch));
	struct stream *stream = NULL;
	struct session s;
	struct mp_error err;
	struct check_run r;
	enum mp_status st;

	if (!scratch) {
		snprintf(c->evidence, sizeof(c->evidence), "not run: out of memory");
		return;
	}
	mp_error_clear(&err);
	result_init(scratch, cs->ep);
	st = probe_open_path(cs->ep, cs->cfg, cs->deadline, scratch, &cs->fds[k], &stream, &err);
	if (st != MP_OK) {
		char q[DIALECT_QUOTE_SIZE];

		dialect_quote(q, sizeof(q), err.msg, strlen(err.msg));
		snprintf(c->evidence, sizeof(c->evidence), "could not connect: %s", q);
		goto out;
	}
	session_init(&s, &scratch->ep, cs->cfg, scratch, stream, cs->deadline);
	memset(&r, 0, sizeof(r));
	r.s = &s;
	r.d = dialect_for(cs->ep->proto);
	r.cc = cs->cc;
	r.c = c;
	r.variant = j->variant;
	r.probe_tls_ok = cs->res->tls_used && cs->res->tls.done;
	switch (j->id) {
	case CHECK_STARTTLS_INJECTION:
		check_starttls_injection(&r);
		break;
	case CHECK_AUTH_BEFORE_TLS:
		check_auth_before_tls(&r);
		break;
	case CHECK_VRFY:
		check_vrfy(&r);
		break;
	case CHECK_SMUGGLING:
		check_smuggling(&r);
		break;
	case CHECK_RELAY:
		check_relay(&r);
		break;
	default:
		break;
	}
	if (!r.decided)
		verdict(&r, CHECK_INCONCLUSIVE, "the check ended without a verdict");
	cs->fds[k] = -1;
	session_close(&s);
out:
	cs->fds[k] = -1;
	result_free(scratch);
	free(scratch);
}

/* Runs jobs until none is left, the deadline passed or the run stops. */
static void check_loop(struct check_set *cs)
{
	for (;;) {
		size_t k;

		pthread_mutex_lock(&cs->lock);
		if (cs->next >= cs->njobs || (cs->stop && *cs->stop)) {
			pthread_mutex_unlock(&cs->lock);
			return;
		}
		k = cs->next++;
		pthread_mutex_unlock(&cs->lock);
		if (!deadline_expired(cs->deadline))
			run_job(cs, k);
	}
}

static void *check_thread(void *arg)
{
	threadmem_thread_start();
	check_loop(arg);
	tls_thread_cleanup();
	return NULL;
}

/* Why check id does not apply to res, or NULL when it does. */
static const char *skip_reason(enum check_id id, const struct probe_result *res, char *buf,
                               size_t size)
{
	const struct endpoint *ep = &res->ep;

	if (res->status != MP_OK) {
		snprintf(buf, size, "the endpoint's probe did not succeed (%s)",
		         mp_status_name(res->status));
		return buf;
	}
	switch (id) {
	case CHECK_STARTTLS_INJECTION:
	case CHECK_RESPONSE_INJECTION:
		if (ep->mode != MODE_STARTTLS) {
			snprintf(buf, size, "needs a STARTTLS endpoint; this one is %s",
			         mode_name(ep->mode));
			return buf;
		}
		return NULL;
	case CHECK_AUTH_BEFORE_TLS:
		if (ep->mode == MODE_TLS)
			return "implicit TLS: nothing is sent before TLS";
		return NULL;
	default:
		if (ep->proto != PROTO_SMTP) {
			snprintf(buf, size, "SMTP only; this endpoint is %s",
			         protocol_name(ep->proto));
			return buf;
		}
		return NULL;
	}
}

/* Adds one entry (and a job unless skipped or decided at once). */
static void plan_one(struct check_set *cs, enum check_id id, size_t variant, const char *name)
{
	struct probe_result *res = cs->res;
	struct check_result *c = &res->checks[res->nchecks];
	const char *why;
	char buf[160];

	if (res->nchecks >= MP_MAX_CHECKS)
		return;
	c->name = name;
	c->reference = check_refs[id];
	why = skip_reason(id, res, buf, sizeof(buf));
	if (why) {
		c->state = CHECK_SKIPPED;
		snprintf(c->evidence, sizeof(c->evidence), "%s", why);
	} else if (id == CHECK_RESPONSE_INJECTION) {
		check_response_injection(res, c);
	} else {
		c->state = CHECK_INCONCLUSIVE;
		snprintf(c->evidence, sizeof(c->evidence),
		         "not run: the run's deadline passed or it was interrupted");
		cs->jobs[cs->njobs].id = id;
		cs->jobs[cs->njobs].variant = variant;
		cs->jobs[cs->njobs].slot = res->nchecks;
		cs->njobs++;
	}
	res->nchecks++;
}

struct check_set *checks_begin(const struct endpoint *ep, const struct probe_config *cfg,
                               int64_t deadline, struct probe_result *res)
{
	const struct check_config *cc = cfg->checks;
	struct check_set *cs = NULL;

	if (!cc || !cc->selected)
		return NULL;
	res->checks = calloc(MP_MAX_CHECKS, sizeof(*res->checks));
	cs = calloc(1, sizeof(*cs));
	if (!res->checks || !cs) {
		free(cs);
		free(res->checks);
		res->checks = NULL;
		res->nchecks = 0;
		result_add_finding(res, FINDING_LIMIT_HIT, "out of memory: active checks not run");
		return NULL;
	}
	cs->ep = ep;
	cs->cfg = cfg;
	cs->cc = cc;
	cs->deadline = deadline;
	cs->res = res;
	for (size_t k = 0; k < MP_MAX_CHECKS; k++)
		cs->fds[k] = -1;
	pthread_mutex_init(&cs->lock, NULL);
	for (int id = 0; id < CHECK_ID_COUNT; id++) {
		if (!(cc->selected & (1u << id)))
			continue;
		if (id != CHECK_SMUGGLING) {
			plan_one(cs, (enum check_id)id, 0, check_name((enum check_id)id));
			continue;
		}
		for (size_t v = 0; v < NVARIANTS; v++)
			plan_one(cs, CHECK_SMUGGLING, v, variants[v].name);
	}
	return cs;
}

size_t checks_pending(const struct check_set *cs)
{
	return cs ? cs->njobs : 0;
}

void checks_run(struct check_set *cs, size_t extra_threads, volatile sig_atomic_t *stop)
{
	pthread_t t[MP_MAX_CHECKS];
	size_t started = 0;

	if (!cs)
		return;
	cs->stop = stop;
	if (extra_threads > MP_MAX_CHECKS)
		extra_threads = MP_MAX_CHECKS;
	for (; started < extra_threads; started++)
		if (pthread_create(&t[started], NULL, check_thread, cs) != 0)
			break;
	check_loop(cs);
	for (size_t k = 0; k < started; k++)
		pthread_join(t[k], NULL);
}

void checks_interrupt(struct check_set *cs)
{
	for (size_t k = 0; cs && k < MP_MAX_CHECKS; k++) {
		int fd = cs->fds[k];

		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
}

/* The finding code of a failed check. */
static const char *finding_of(enum check_id id)
{
	switch (id) {
	case CHECK_STARTTLS_INJECTION:
		return FINDING_STARTTLS_CMD_INJECTION;
	case CHECK_RESPONSE_INJECTION:
		return FINDING_STARTTLS_INJECTION;
	case CHECK_AUTH_BEFORE_TLS:
		return FINDING_AUTH_ACCEPTED_BEFORE_TLS;
	case CHECK_VRFY:
		return FINDING_USER_ENUMERATION;
	case CHECK_SMUGGLING:
		return FINDING_SMTP_SMUGGLING;
	default:
		return FINDING_OPEN_RELAY;
	}
}

void checks_end(struct check_set *cs)
{
	struct probe_result *res = cs ? cs->res : NULL;
	char smuggled[160] = "";

	if (!cs)
		return;
	for (size_t i = 0; i < res->nchecks; i++) {
		const struct check_result *c = &res->checks[i];
		enum check_id id = CHECK_SMUGGLING;

		if (c->state != CHECK_FAIL)
			continue;
		for (int k = 0; k < CHECK_ID_COUNT; k++)
			if (strcmp(c->name, check_name((enum check_id)k)) == 0)
				id = (enum check_id)k;
		if (id == CHECK_SMUGGLING) {
			for (size_t v = 0; v < NVARIANTS; v++)
				if (strcmp(c->name, variants[v].name) == 0)
					snprintf(smuggled + strlen(smuggled),
					         sizeof(smuggled) - strlen(smuggled), "%s%s",
					         smuggled[0] ? ", " : "", variants[v].shown);
			continue;
		}
		if (id == CHECK_RESPONSE_INJECTION)
			continue; /* the probe's own finding is there already */
		result_add_finding(res, finding_of(id), "check %s failed: %.200s", c->name,
		                   c->evidence);
	}
	if (smuggled[0])
		result_add_finding(res, FINDING_SMTP_SMUGGLING,
		                   "check smtp-smuggling failed: the server ends DATA at %s, not "
		                   "only at <CR><LF>.<CR><LF> (RFC 5321 4.1.1.4)",
		                   smuggled);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}
