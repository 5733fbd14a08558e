/* mailpolicy.c - MTA-STS, TLS-RPT and autoconfig parsers (mailpolicy.h). */
#include "probe/discover/mailpolicy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A bounded view of untrusted bytes. */
struct span {
	const char *p;
	size_t len;
};

static struct span trim(struct span s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t' || s.p[s.len - 1] == '\r'))
		s.len--;
	return s;
}

static bool span_is(struct span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Copies s into out (size), printable ASCII only ('?' for the rest). */
static void span_copy(struct span s, char *out, size_t size)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	for (size_t i = 0; i < n; i++)
		out[i] = isprint((unsigned char)s.p[i]) ? s.p[i] : '?';
	out[n] = '\0';
}

/* Takes the next "key=value" field up to sep from *rest. */
static bool next_field(struct span *rest, char sep, struct span *key, struct span *val)
{
	const char *end, *eq;
	struct span f;

	if (rest->len == 0)
		return false;
	end = memchr(rest->p, sep, rest->len);
	f.p = rest->p;
	f.len = end ? (size_t)(end - rest->p) : rest->len;
	rest->p += f.len + (end ? 1 : 0);
	rest->len -= f.len + (end ? 1 : 0);
	f = trim(f);
	eq = memchr(f.p, '=', f.len);
	key->p = f.p;
	key->len = eq ? (size_t)(eq - f.p) : f.len;
	val->p = eq ? eq + 1 : f.p + f.len;
	val->len = eq ? f.len - key->len - 1 : 0;
	*key = trim(*key);
	*val = trim(*val);
	return true;
}

int mtasts_parse_txt(const char *txt, size_t len, struct mtasts_state *st)
{
	struct span rest = {txt, len}, key, val;
	bool first = true;

	st->txt_valid = false;
	st->txt_id[0] = '\0';
	while (next_field(&rest, ';', &key, &val)) {
		if (key.len == 0 && val.len == 0)
			continue;
		if (first) {
			/* RFC 8461 3.1: the record starts with v=STSv1 */
			if (!span_is(key, "v") || !span_is(val, "STSv1")) {
				snprintf(st->txt_error, sizeof(st->txt_error),
				         "the record does not start with v=STSv1");
				return -1;
			}
			first = false;
			continue;
		}
		if (span_is(key, "id")) {
			/* sts-id = 1*32(ALPHA / DIGIT) */
			if (val.len < 1 || val.len > 32) {
				snprintf(st->txt_error, sizeof(st->txt_error),
				         "id must be 1 to 32 letters or digits");
				return -1;
			}
			for (size_t i = 0; i < val.len; i++)
				if (!isalnum((unsigned char)val.p[i])) {
					snprintf(st->txt_error, sizeof(st->txt_error),
					         "id must be letters and digits only");
					return -1;
				}
			span_copy(val, st->txt_id, sizeof(st->txt_id));
		}
	}
	if (first) {
		snprintf(st->txt_error, sizeof(st->txt_error), "empty record");
		return -1;
	}
	if (!st->txt_id[0]) {
		snprintf(st->txt_error, sizeof(st->txt_error), "no id= field");
		return -1;
	}
	st->txt_valid = true;
	return 0;
}

/* The policy's failure: records the reason, returns -1. */
static int policy_bad(struct mtasts_state *st, const char *why)
{
	snprintf(st->policy_error, sizeof(st->policy_error), "%s", why);
	st->policy_valid = false;
	return -1;
}

int mtasts_parse_policy(const char *body, size_t len, struct mtasts_state *st)
{
	struct span rest = {body, len};
	bool version = false;
	bool have_mode = false;

	st->nmx = 0;
	st->max_age = -1;
	st->mode = MTASTS_UNKNOWN;
	st->mx_truncated = false;
	while (rest.len > 0) {
		const char *nl = memchr(rest.p, '\n', rest.len);
		struct span line = {rest.p, nl ? (size_t)(nl - rest.p) : rest.len};
		const char *colon;
		struct span key, val;

		rest.p += line.len + (nl ? 1 : 0);
		rest.len -= line.len + (nl ? 1 : 0);
		line = trim(line);
		if (line.len == 0)
			continue;
		colon = memchr(line.p, ':', line.len);
		if (!colon)
			return policy_bad(st, "a line without \"key: value\"");
		key.p = line.p;
		key.len = (size_t)(colon - line.p);
		val.p = colon + 1;
		val.len = line.len - key.len - 1;
		key = trim(key);
		val = trim(val);
		if (span_is(key, "version")) {
			if (!span_is(val, "STSv1"))
				return policy_bad(st, "version is not STSv1");
			version = true;
		} else if (span_is(key, "mode")) {
			have_mode = true;
			st->mode = span_is(val, "enforce")   ? MTASTS_ENFORCE
			           : span_is(val, "testing") ? MTASTS_TESTING
			           : span_is(val, "none")    ? MTASTS_NONE
			                                     : MTASTS_UNKNOWN;
			if (st->mode == MTASTS_UNKNOWN)
				return policy_bad(st, "mode is not enforce, testing or none");
		} else if (span_is(key, "mx")) {
			if (st->nmx >= MP_MTASTS_MAX_MX) {
				st->mx_truncated = true;
				continue;
			}
			if (val.len == 0 || val.len >= sizeof(st->mx[0]))
				return policy_bad(st, "an mx pattern is empty or too long");
			span_copy(val, st->mx[st->nmx++], sizeof(st->mx[0]));
		} else if (span_is(key, "max_age")) {
			char num[16];
			char *end = NULL;
			long v;

			if (val.len == 0 || val.len >= sizeof(num))
				return policy_bad(st, "max_age is not a number");
			span_copy(val, num, sizeof(num));
			for (size_t i = 0; num[i]; i++)
				if (!isdigit((unsigned char)num[i]))
					return policy_bad(st, "max_age is not a number");
			errno = 0;
			v = strtol(num, &end, 10);
			if (errno || *end || v < 0 || v > MP_MTASTS_MAX_AGE)
				return policy_bad(st, "max_age is out of range (0 to 31557600)");
			st->max_age = v;
		}
		/* other keys are extensions: ignored (RFC 8461 3.2) */
	}
	if (!version)
		return policy_bad(st, "no version: STSv1 line");
	if (!have_mode)
		return policy_bad(st, "no mode line");
	if (st->max_age < 0)
		return policy_bad(st, "no max_age line");
	if (st->nmx == 0 && st->mode != MTASTS_NONE)
		return policy_bad(st, "no mx line");
	st->policy_valid = true;
	st->policy_error[0] = '\0';
	return 0;
}

bool mtasts_mx_matches(const char *pattern, const char *mx)
{
	size_t pl = strlen(pattern), ml = strlen(mx);

	/* names compare without a trailing dot */
	if (pl && pattern[pl - 1] == '.')
		pl--;
	if (ml && mx[ml - 1] == '.')
		ml--;
	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(mx, '.', ml);
		size_t rest;

		/* the wildcard stands for exactly one label, never empty */
		if (!dot || dot == mx)
			return false;
		rest = ml - (size_t)(dot - mx);
		return rest == pl - 1 && strncasecmp(dot, pattern + 1, rest) == 0;
	}
	return pl == ml && pl > 0 && strncasecmp(pattern, mx, pl) == 0;
}

int tlsrpt_parse(const char *txt, size_t len, struct tlsrpt_state *st)
{
	struct span rest = {txt, len}, key, val;
	bool first = true;

	st->valid = false;
	st->nrua = 0;
	while (next_field(&rest, ';', &key, &val)) {
		if (key.len == 0 && val.len == 0)
			continue;
		if (first) {
			if (!span_is(key, "v") || !span_is(val, "TLSRPTv1")) {
				snprintf(st->error, sizeof(st->error),
				         "the record does not start with v=TLSRPTv1");
				return -1;
			}
			first = false;
			continue;
		}
		if (span_is(key, "rua")) {
			struct span uris = val;

			while (uris.len > 0) {
				const char *comma = memchr(uris.p, ',', uris.len);
				struct span u = {uris.p,
				                 comma ? (size_t)(comma - uris.p) : uris.len};

				uris.p += u.len + (comma ? 1 : 0);
				uris.len -= u.len + (comma ? 1 : 0);
				u = trim(u);
				if (u.len == 0)
					continue;
				if (!(u.len > 7 && strncasecmp(u.p, "mailto:", 7) == 0) &&
				    !(u.len > 8 && strncasecmp(u.p, "https://", 8) == 0)) {
					snprintf(
					    st->error, sizeof(st->error),
					    "rua has a URI that is neither mailto: nor https:");
					return -1;
				}
				if (st->nrua < MP_TLSRPT_MAX_RUA)
					span_copy(u, st->rua[st->nrua++], sizeof(st->rua[0]));
			}
		}
	}
	if (first) {
		snprintf(st->error, sizeof(st->error), "empty record");
		return -1;
	}
	if (st->nrua == 0) {
		snprintf(st->error, sizeof(st->error), "no rua= field");
		return -1;
	}
	st->valid = true;
	st->error[0] = '\0';
	return 0;
}

/* ---- autoconfig: a small reader for config-v1.1.xml ---- */

/* Case-sensitive search for lit in [p, p+len). */
static const char *find(const char *p, size_t len, const char *lit)
{
	size_t l = strlen(lit);

	for (size_t i = 0; l <= len && i <= len - l; i++)
		if (memcmp(p + i, lit, l) == 0)
			return p + i;
	return NULL;
}

/* Decodes the text of an element: the five predefined entities (XML 1.0
 * 4.6) and nothing else; trims white space; printable ASCII only. */
static void xml_text(struct span s, char *out, size_t size)
{
	size_t o = 0;

	s = trim(s);
	while (s.len && (s.p[0] == '\n' || s.p[0] == '\r' || s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len && isspace((unsigned char)s.p[s.len - 1]))
		s.len--;
	for (size_t i = 0; i < s.len && o + 1 < size; i++) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = {{"&amp;", '&'},
		            {"&lt;", '<'},
		            {"&gt;", '>'},
		            {"&quot;", '"'},
		            {"&apos;", '\''}};
		char c = s.p[i];

		if (c == '&') {
			bool done = false;

			for (size_t e = 0; e < 5 && !done; e++) {
				size_t el = strlen(ents[e].ent);

				if (s.len - i >= el && memcmp(s.p + i, ents[e].ent, el) == 0) {
					out[o++] = ents[e].c;
					i += el - 1;
					done = true;
				}
			}
			if (done)
				continue;
		}
		out[o++] = isprint((unsigned char)c) ? c : '?';
	}
	out[o] = '\0';
}

/* The text of the first <name>...</name> inside [p, p+len), into out. */
static bool child_text(const char *p, size_t len, const char *name, char *out, size_t size)
{
	char open[48], close[48];
	const char *a, *b;
	size_t ol;

	snprintf(open, sizeof(open), "<%s", name);
	snprintf(close, sizeof(close), "</%s>", name);
	ol = strlen(open);
	for (const char *from = p; (a = find(from, len - (size_t)(from - p), open)); from = a + 1) {
		const char *gt;

		/* "<port>" or "<port attr...>", not "<portal>" */
		if ((size_t)(a - p) + ol >= len || (a[ol] != '>' && a[ol] != ' '))
			continue;
		gt = memchr(a, '>', len - (size_t)(a - p));
		if (!gt)
			return false;
		b = find(gt + 1, len - (size_t)(gt + 1 - p), close);
		if (!b)
			return false;
		xml_text((struct span){gt + 1, (size_t)(b - gt - 1)}, out, size);
		return true;
	}
	return false;
}

/* Replaces %EMAILDOMAIN% in s (size) by domain. */
static void substitute_domain(char *s, size_t size, const char *domain)
{
	static const char ph[] = "%EMAILDOMAIN%";
	char *at = strstr(s, ph);
	char buf[256];

	if (!at || !domain)
		return;
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - s), s, domain, at + strlen(ph));
	snprintf(s, size, "%s", buf);
}

/* Reads the type="..." attribute of a start tag [p, gt). */
static void type_attr(const char *p, size_t len, char *out, size_t size)
{
	const char *a = find(p, len, "type=");
	char q;
	const char *end;

	out[0] = '\0';
	if (!a || (size_t)(a + 6 - p) > len)
		return;
	q = a[5];
	if (q != '"' && q != '\'')
		return;
	end = memchr(a + 6, q, len - (size_t)(a + 6 - p));
	if (end)
		xml_text((struct span){a + 6, (size_t)(end - a - 6)}, out, size);
}

int autoconfig_parse(const char *xml, size_t len, const char *domain, struct autoconfig_state *st)
{
	static const char *const kinds[] = {"incomingServer", "outgoingServer"};

	st->n = 0;
	st->valid = false;
	st->truncated = false;
	/* No DTD, no entities: the "billion laughs" and external entities
	 * (XXE) have nothing to work with (OWASP XXE prevention). */
	if (find(xml, len, "<!DOCTYPE") || find(xml, len, "<!ENTITY")) {
		snprintf(st->error, sizeof(st->error),
		         "the file has a DTD or entity declarations: refused");
		return -1;
	}
	if (memchr(xml, '\0', len)) {
		snprintf(st->error, sizeof(st->error), "the file contains NUL bytes");
		return -1;
	}
	if (!find(xml, len, "<clientConfig")) {
		snprintf(st->error, sizeof(st->error), "no <clientConfig> element");
		return -1;
	}
	for (size_t k = 0; k < 2; k++) {
		char open[32], close[32];
		const char *from = xml, *a;

		snprintf(open, sizeof(open), "<%s", kinds[k]);
		snprintf(close, sizeof(close), "</%s>", kinds[k]);
		while ((a = find(from, len - (size_t)(from - xml), open))) {
			const char *gt = memchr(a, '>', len - (size_t)(a - xml));
			const char *b;
			struct autoconfig_server *sv;
			char port[16];
			char *end = NULL;
			long v;

			if (!gt)
				break;
			b = find(gt, len - (size_t)(gt - xml), close);
			if (!b)
				break;
			from = b + strlen(close);
			if (st->n >= MP_AUTOCONFIG_MAX_SERVERS) {
				st->truncated = true;
				break;
			}
			sv = &st->servers[st->n];
			memset(sv, 0, sizeof(*sv));
			sv->incoming = k == 0;
			type_attr(a, (size_t)(gt - a), sv->type, sizeof(sv->type));
			child_text(gt + 1, (size_t)(b - gt - 1), "hostname", sv->hostname,
			           sizeof(sv->hostname));
			substitute_domain(sv->hostname, sizeof(sv->hostname), domain);
			child_text(gt + 1, (size_t)(b - gt - 1), "socketType", sv->socket_type,
			           sizeof(sv->socket_type));
			child_text(gt + 1, (size_t)(b - gt - 1), "authentication",
			           sv->authentication, sizeof(sv->authentication));
			if (!child_text(gt + 1, (size_t)(b - gt - 1), "port", port, sizeof(port)))
				continue;
			errno = 0;
			v = strtol(port, &end, 10);
			if (errno || end == port || *end || v < 1 || v > 65535 || !sv->hostname[0])
				continue;
			sv->port = (uint16_t)v;
			st->n++;
		}
	}
	if (st->n == 0) {
		snprintf(st->error, sizeof(st->error),
		         "no incomingServer or outgoingServer with a hostname and port");
		return -1;
	}
	st->valid = true;
	st->error[0] = '\0';
	return 0;
}
