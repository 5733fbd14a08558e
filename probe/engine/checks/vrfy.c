/* vrfy.c - user enumeration through VRFY and EXPN (RFC 5321 3.5, 7.3):
 * the answers for a name that must exist and for a random one, compared;
 * "fail" only when they tell the two apart. */
#include "probe/engine/checks/check.h"
#include "core/deadline.h"
#include "core/limits.h"
#include "probe/engine/probe.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* A name nobody has: this prefix and random hex digits. */
#define VRFY_RANDOM_PREFIX "mailprobe-nobody-"
/* RFC 5321 4.5.1: every SMTP server has a postmaster: the name VRFY
 * compares a random one with when no --enum-user is given. */
#define VRFY_KNOWN_USER "postmaster"

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
	if (check_command(r, line, verb, &rep) != MP_OK)
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
	char dom[MP_MAX_CHECK_ADDRESS / 2], a[MP_MAX_CHECK_ADDRESS + 2],
	    b[MP_MAX_CHECK_ADDRESS + 2];

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
static void run(struct check_run *r)
{
	const char *user = r->cc->enum_user ? r->cc->enum_user : VRFY_KNOWN_USER;
	struct session *s = r->s;
	bool starttls = s->ep->mode == MODE_STARTTLS;
	bool unclear = false, vapart, eapart;
	char nobody[32];
	struct vanswer vn, vk, en, ek;
	/* On a STARTTLS endpoint ask in plaintext first, as anyone can: it
	 * saves a handshake; TLS only when the server wants it first. */
	enum mp_status st = starttls ? check_open_before_tls(r) : probe_converse(s, r->d);

	if (st != MP_OK) {
		check_verdict_broke(r, "before VRFY", st);
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
			check_verdict_broke(r, "STARTTLS after VRFY's 530", st);
			return;
		}
		r->mark = s->res->transcript.n;
		transcript_note(&s->res->transcript,
		                "VRFY before TLS: 530 (STARTTLS first); asked again inside TLS");
		vn = vrfy_ask(r, "VRFY", nobody);
	}
	vrfy_pair(r, "VRFY", user, nobody, true, &vk, &vn);
	vrfy_pair(r, "EXPN", user, nobody, false, &ek, &en);
	if (vn.cls == V_BROKE || vk.cls == V_BROKE || en.cls == V_BROKE || ek.cls == V_BROKE) {
		check_verdict(r, CHECK_INCONCLUSIVE, "the connection broke during VRFY / EXPN");
		goto out;
	}
	vapart = tells_apart(vk, vn, &unclear);
	eapart = tells_apart(ek, en, &unclear);
	if (vapart || eapart)
		check_verdict(
		    r, CHECK_FAIL,
		    "the answers tell users apart: %s%s%s answers %s otherwise than a random "
		    "name (VRFY %d / %d, EXPN %d / %d), so names can be enumerated",
		    vapart ? "VRFY" : "", vapart && eapart ? " and " : "", eapart ? "EXPN" : "",
		    user, vk.code, vn.code, ek.code, en.code);
	else if (unclear)
		check_verdict(
		    r, CHECK_INCONCLUSIVE,
		    "different answers for %s and a random name that neither confirm nor deny "
		    "a user (VRFY %d / %d, EXPN %d / %d)",
		    user, vk.code, vn.code, ek.code, en.code);
	else
		check_verdict(
		    r, CHECK_PASS,
		    "nothing to enumerate: VRFY %s (%d / %d), EXPN %s (%d / %d) for %s and a "
		    "random name",
		    vrfy_word(vk, vn), vk.code, vn.code, vrfy_word(ek, en), ek.code, en.code, user);
out:
	r->d->quit(r->s);
}

static const char *applies(const struct probe_result *res, char *buf, size_t size)
{
	return check_needs_envelope(res, buf, size);
}

const struct check_desc check_vrfy = {
    .name = "vrfy",
    .reference = "RFC 5321 sections 3.5, 4.5.1 and 7.3 (VRFY, EXPN, postmaster)",
    .finding = FINDING_USER_ENUMERATION,
    .applies = applies,
    .run = run,
};
