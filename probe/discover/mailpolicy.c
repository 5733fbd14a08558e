/* mailpolicy.c - MTA-STS, TLS-RPT and autoconfig parsers (mailpolicy.h). */
#include "probe/discover/mailpolicy.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
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

/* RFC 8461 3.1 / RFC 8460 3: the name of an extension field,
 * (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."). */
static bool field_name_ok(struct span n)
{
	if (n.len < 1 || n.len > 32 || !isalnum((unsigned char)n.p[0]))
		return false;
	for (size_t i = 1; i < n.len; i++)
		if (!isalnum((unsigned char)n.p[i]) && !strchr("_-.", n.p[i]))
			return false;
	return true;
}

/* RFC 8461 3.1 sts-ext-value / RFC 8460 3 tlsrpt-ext-value:
 * 1*(%x21-3A / %x3C / %x3E-7E), i.e. visible ASCII but ';' and '='. */
static bool field_value_ok(struct span v)
{
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < 0x21 || c > 0x7e || c == ';' || c == '=')
			return false;
	}
	return true;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* One "name=value" field of a tagged record. */
struct tag_field {
	struct span name, value;
};

#define MP_TAG_MAX_FIELDS 32

/* Splits a record of the form version 1*(*WSP ";" *WSP field) [*WSP ";" *WSP]
 * (RFC 8461 3.1, RFC 8460 3) into its fields; the values are taken up to
 * the next ';' with trailing WSP removed, and checked by the caller.
 * Returns the number of fields, or -1 with err. */
static int tagged_record(const char *txt, size_t len, const char *version, struct tag_field *f,
                         char *err, size_t errsize)
{
	size_t vl = strlen(version), i = vl;
	int n = 0;

	if (len < vl || memcmp(txt, version, vl) != 0) {
		snprintf(err, errsize, "the record does not start with %s", version);
		return -1;
	}
	if (i < len && !is_wsp(txt[i]) && txt[i] != ';') {
		snprintf(err, errsize, "the record starts with %.40s, not %s followed by \";\"",
		         version, version);
		return -1;
	}
	for (;;) {
		size_t s, e;

		while (i < len && is_wsp(txt[i]))
			i++;
		if (i == len)
			break;
		if (txt[i] != ';') {
			snprintf(err, errsize, "a field is not separated by \";\" (at byte %zu)",
			         i);
			return -1;
		}
		i++;
		while (i < len && is_wsp(txt[i]))
			i++;
		if (i == len)
			break; /* [field-delim] at the end */
		if (txt[i] == ';') {
			snprintf(err, errsize, "an empty field (\";;\", at byte %zu)", i);
			return -1;
		}
		s = i;
		while (i < len && txt[i] != ';')
			i++;
		e = i;
		while (e > s && is_wsp(txt[e - 1]))
			e--;
		if (n >= MP_TAG_MAX_FIELDS) {
			snprintf(err, errsize, "more than %d fields", MP_TAG_MAX_FIELDS);
			return -1;
		}
		{
			const char *eq = memchr(txt + s, '=', e - s);

			if (!eq) {
				snprintf(err, errsize, "a field without \"=\" (at byte %zu)", s);
				return -1;
			}
			f[n].name = (struct span){txt + s, (size_t)(eq - (txt + s))};
			f[n].value = (struct span){eq + 1, (size_t)(txt + e - eq - 1)};
			if (!field_name_ok(f[n].name)) {
				snprintf(err, errsize,
				         "a field name is not 1 to 32 letters, digits, "
				         "'_', '-' or '.' (at byte %zu)",
				         s);
				return -1;
			}
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errsize, "no field after %s", version);
		return -1;
	}
	return n;
}

int mtasts_parse_txt(const char *txt, size_t len, struct mtasts_state *st)
{
	struct tag_field f[MP_TAG_MAX_FIELDS];
	int n;

	st->txt_valid = false;
	st->txt_id[0] = '\0';
	n = tagged_record(txt, len, "v=STSv1", f, st->txt_error, sizeof(st->txt_error));
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (span_is(f[i].name, "id")) {
			/* sts-id = %s"id=" 1*32(ALPHA / DIGIT); a repeated field: the first counts
			 */
			bool ok = f[i].value.len >= 1 && f[i].value.len <= 32;

			for (size_t k = 0; ok && k < f[i].value.len; k++)
				ok = isalnum((unsigned char)f[i].value.p[k]) != 0;
			if (!ok) {
				snprintf(st->txt_error, sizeof(st->txt_error),
				         "id must be 1 to 32 letters or digits");
				return -1;
			}
			if (!st->txt_id[0])
				span_copy(f[i].value, st->txt_id, sizeof(st->txt_id));
		} else if (!field_value_ok(f[i].value)) {
			snprintf(
			    st->txt_error, sizeof(st->txt_error),
			    "the value of an extension field is empty or has a space, ';' or '='");
			return -1;
		}
	}
	if (!st->txt_id[0]) {
		snprintf(st->txt_error, sizeof(st->txt_error), "no id= field");
		return -1;
	}
	st->txt_valid = true;
	st->txt_error[0] = '\0';
	return 0;
}

/* The policy's failure: records the reason, returns -1. */
static int policy_bad(struct mtasts_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int policy_bad(struct mtasts_state *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->policy_error, sizeof(st->policy_error), fmt, ap);
	va_end(ap);
	st->policy_valid = false;
	return -1;
}

/* RFC 5321 4.1.2 Domain: sub-domain *("." sub-domain), sub-domain =
 * Let-dig [Ldh-str] (letters, digits, inner hyphens). */
static bool domain_ok(struct span d)
{
	size_t label = 0;

	if (d.len == 0 || d.len > 253)
		return false;
	for (size_t i = 0; i <= d.len; i++) {
		char c = i < d.len ? d.p[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63 || d.p[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/* sts-policy-ext-value: visible characters (and UTF-8) with inner WSP. */
static bool policy_value_ok(struct span v)
{
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < 0x21 && !is_wsp((char)c))
			return false;
		if (c == 0x7f)
			return false;
	}
	return true;
}

int mtasts_parse_policy(const char *body, size_t len, struct mtasts_state *st)
{
	struct span rest = {body, len};
	bool version = false, have_mode = false;
	unsigned line_no = 0;

	st->nmx = 0;
	st->nmx_total = 0;
	st->max_age = -1;
	st->mode = MTASTS_UNKNOWN;
	st->mx_truncated = false;
	st->repeated[0] = '\0';
	/* sts-policy-record = sts-policy-field *WSP *(sts-policy-term
	 * sts-policy-field *WSP) [sts-policy-term] (RFC 8461 3.2) */
	while (rest.len > 0) {
		const char *nl = memchr(rest.p, '\n', rest.len);
		struct span line = {rest.p, nl ? (size_t)(nl - rest.p) : rest.len};
		const char *colon;
		struct span key, val;

		rest.p += line.len + (nl ? 1 : 0);
		rest.len -= line.len + (nl ? 1 : 0);
		line_no++;
		if (line.len && line.p[line.len - 1] == '\r')
			line.len--;
		if (memchr(line.p, '\r', line.len))
			return policy_bad(st, "line %u: a bare CR", line_no);
		while (line.len && is_wsp(line.p[line.len - 1]))
			line.len--;
		if (line.len == 0)
			return policy_bad(
			    st, "line %u is empty (RFC 8461 3.2 allows no empty line)", line_no);
		colon = memchr(line.p, ':', line.len);
		if (!colon)
			return policy_bad(st, "line %u is not \"key: value\"", line_no);
		key.p = line.p;
		key.len = (size_t)(colon - line.p);
		val.p = colon + 1;
		val.len = line.len - key.len - 1;
		while (val.len && is_wsp(val.p[0])) {
			val.p++;
			val.len--;
		}
		if (!field_name_ok(key))
			return policy_bad(st,
			                  "line %u: the key is not 1 to 32 letters, digits, "
			                  "'_', '-' or '.' right at the start of the line",
			                  line_no);
		if (span_is(key, "version")) {
			if (version)
				goto repeated;
			if (!span_is(val, "STSv1"))
				return policy_bad(st, "line %u: version is not STSv1", line_no);
			version = true;
		} else if (span_is(key, "mode")) {
			if (have_mode)
				goto repeated;
			have_mode = true;
			st->mode = span_is(val, "enforce")   ? MTASTS_ENFORCE
			           : span_is(val, "testing") ? MTASTS_TESTING
			           : span_is(val, "none")    ? MTASTS_NONE
			                                     : MTASTS_UNKNOWN;
			if (st->mode == MTASTS_UNKNOWN)
				return policy_bad(
				    st, "line %u: mode is not enforce, testing or none", line_no);
		} else if (span_is(key, "mx")) {
			struct span dom = val;

			/* sts-policy-mx-value = ["*."] Domain */
			if (dom.len >= 2 && dom.p[0] == '*' && dom.p[1] == '.') {
				dom.p += 2;
				dom.len -= 2;
			}
			if (!domain_ok(dom))
				return policy_bad(st,
				                  "line %u: the mx pattern is not a domain name, "
				                  "optionally after \"*.\"",
				                  line_no);
			st->nmx_total++;
			if (st->nmx >= MP_MTASTS_MAX_MX) {
				st->mx_truncated = true;
				continue;
			}
			span_copy(val, st->mx[st->nmx++], sizeof(st->mx[0]));
		} else if (span_is(key, "max_age")) {
			char num[16];
			char *end = NULL;
			long v;

			if (st->max_age >= 0)
				goto repeated;
			/* 1*10(DIGIT), at most 31557600 */
			if (val.len == 0 || val.len > 10)
				return policy_bad(st, "line %u: max_age is not 1 to 10 digits",
				                  line_no);
			span_copy(val, num, sizeof(num));
			for (size_t i = 0; num[i]; i++)
				if (!isdigit((unsigned char)num[i]))
					return policy_bad(st, "line %u: max_age is not a number",
					                  line_no);
			errno = 0;
			v = strtol(num, &end, 10);
			if (errno || *end || v < 0 || v > MP_MTASTS_MAX_AGE)
				return policy_bad(st,
				                  "line %u: max_age is out of range "
				                  "(0 to 31557600)",
				                  line_no);
			st->max_age = v;
		} else if (!policy_value_ok(val)) {
			/* other keys are extensions, ignored when well-formed */
			return policy_bad(st, "line %u: an extension field without a value",
			                  line_no);
		}
		continue;
	repeated:
		/* RFC 8461 3.2: "all but the first" of a repeated field are ignored */
		if (!st->repeated[0])
			span_copy(key, st->repeated, sizeof(st->repeated));
		if (!policy_value_ok(val))
			return policy_bad(st, "line %u: a field without a value", line_no);
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

/* One URI of rua (RFC 8460 3: tlsrpt-uri = URI, mailto: or https:): no
 * white space, no ';' or ',' (they delimit), visible ASCII. */
static bool rua_uri_ok(struct span u, const char **why)
{
	*why = "rua has a URI that is neither mailto: nor https:";
	if (!(u.len > 7 && strncasecmp(u.p, "mailto:", 7) == 0) &&
	    !(u.len > 8 && strncasecmp(u.p, "https://", 8) == 0))
		return false;
	*why = "rua has a URI with a character a URI cannot hold";
	for (size_t i = 0; i < u.len; i++) {
		unsigned char c = (unsigned char)u.p[i];

		if (c < 0x21 || c > 0x7e || c == '"' || c == '<' || c == '>' || c == '\\' ||
		    c == '^' || c == '`' || c == '{' || c == '|' || c == '}')
			return false;
	}
	return true;
}

int tlsrpt_parse(const char *txt, size_t len, struct tlsrpt_state *st)
{
	struct tag_field f[MP_TAG_MAX_FIELDS];
	bool have_rua = false;
	int n;

	st->valid = false;
	st->nrua = 0;
	n = tagged_record(txt, len, "v=TLSRPTv1", f, st->error, sizeof(st->error));
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct span uris = f[i].value;

		if (!span_is(f[i].name, "rua")) {
			if (!field_value_ok(f[i].value)) {
				snprintf(st->error, sizeof(st->error),
				         "the value of an extension "
				         "field is empty or has a space, ';' or '='");
				return -1;
			}
			continue;
		}
		if (have_rua) {
			snprintf(st->error, sizeof(st->error), "more than one rua= field");
			return -1;
		}
		have_rua = true;
		/* tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri) */
		for (;;) {
			const char *comma = memchr(uris.p, ',', uris.len);
			struct span u = {uris.p, comma ? (size_t)(comma - uris.p) : uris.len};
			const char *why;

			u = trim(u);
			if (!rua_uri_ok(u, &why)) {
				snprintf(st->error, sizeof(st->error), "%s",
				         u.len ? why : "rua has an empty URI");
				return -1;
			}
			if (st->nrua < MP_TLSRPT_MAX_RUA)
				span_copy(u, st->rua[st->nrua++], sizeof(st->rua[0]));
			if (!comma)
				break;
			uris.len -= (size_t)(comma + 1 - uris.p);
			uris.p = comma + 1;
		}
	}
	if (!have_rua) {
		snprintf(st->error, sizeof(st->error), "no rua= field");
		return -1;
	}
	st->valid = true;
	st->error[0] = '\0';
	return 0;
}
