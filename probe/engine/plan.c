/* plan.c - from targets and matrix options to the list of endpoints. */
#include "probe/engine/plan.h"
#include "probe/dialects/dialect.h"
#include "probe/engine/targets.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every protocol fact used here (URL schemes, default ports, the default
 * matrix, --auto's order, well-known and implicit-TLS ports) comes from the
 * dialect table (probe/dialects/dialect.h); nothing below names a protocol. */

/* The suffix of a STARTTLS scheme ("smtp+starttls"). */
#define STARTTLS_SUFFIX "+starttls"

/* Finds the scheme of len bytes at s: curl's scheme names (name, name+s for
 * implicit TLS), plus "+starttls" for an explicit STARTTLS upgrade. Fills
 * proto, mode and the default port; returns false when unknown. */
static bool scheme_parse(const char *s, size_t len, struct endpoint *ep)
{
	size_t sl = strlen(STARTTLS_SUFFIX);

	for (int p = 0; p < PROTO_COUNT; p++) {
		const struct dialect *d = dialect_for((enum protocol)p);
		enum sec_mode mode;
		size_t nl;

		if (!d)
			continue;
		nl = strlen(d->name);
		if (len == nl && strncasecmp(s, d->name, len) == 0)
			mode = MODE_PLAIN;
		else if (d->starttls_command && len == nl + sl &&
		         strncasecmp(s, d->name, nl) == 0 &&
		         strncasecmp(s + nl, STARTTLS_SUFFIX, sl) == 0)
			mode = MODE_STARTTLS;
		else if (d->scheme_tls && len == strlen(d->scheme_tls) &&
		         strncasecmp(s, d->scheme_tls, len) == 0)
			mode = MODE_TLS;
		else
			continue;
		ep->proto = d->proto;
		ep->mode = mode;
		ep->port = mode == MODE_TLS ? d->port_tls : d->port_plain;
		return true;
	}
	return false;
}

/* Appends name to the list in buf ("a, b or c" once last is set). */
static void list_append(char *buf, size_t size, const char *name, const char *suffix, bool first,
                        bool last)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, "%s%s%s", first ? "" : last ? " or " : ", ", name, suffix);
}

/* Every scheme, for a message: "smtp, smtp+starttls, smtps, imap, ... or pop3s". */
static void scheme_list(char *buf, size_t size)
{
	struct {
		const char *name, *suffix;
	} v[PROTO_COUNT * 3];
	size_t n = 0;

	for (int p = 0; p < PROTO_COUNT; p++) {
		const struct dialect *d = dialect_for((enum protocol)p);

		if (!d)
			continue;
		v[n].name = d->name;
		v[n++].suffix = "";
		if (d->starttls_command) {
			v[n].name = d->name;
			v[n++].suffix = STARTTLS_SUFFIX;
		}
		if (d->scheme_tls) {
			v[n].name = d->scheme_tls;
			v[n++].suffix = "";
		}
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		list_append(buf, size, v[i].name, v[i].suffix, i == 0, i + 1 == n);
}

/* Every protocol name, for a message: "smtp|imap|pop3". */
static void protocol_list(char *buf, size_t size)
{
	buf[0] = '\0';
	for (int p = 0; p < PROTO_COUNT; p++) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "%s%s", p ? "|" : "",
		         protocol_name((enum protocol)p));
	}
}

/* Well-known ports, to tell the protocol of --ports without --protocols. */
static int protocol_of_port(uint16_t port)
{
	const struct dialect *d = dialect_of_port(port);

	return d ? (int)d->proto : -1;
}

static bool is_implicit_tls_port(uint16_t port)
{
	return dialect_of_tls_port(port) != NULL;
}

int plan_parse_host(const char *arg, char *host, size_t hostsz, struct mp_error *err)
{
	size_t len = strlen(arg);
	const char *h = arg;

	if (len > 0 && arg[0] == '[') {
		if (arg[len - 1] != ']' || len < 3) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "bad IPv6 literal '%.64s': expected [address]", arg);
			return -1;
		}
		h = arg + 1;
		len -= 2;
	}
	if (len == 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "empty host name");
		return -1;
	}
	if (len >= hostsz) {
		mp_error_set(err, MP_ERR_INTERNAL, "host name longer than %zu characters",
		             hostsz - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != ':' && c != '%') {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "'%.64s' is not a host name, address or endpoint URL "
			             "(unexpected character '%c')",
			             arg, isprint(c) ? c : '?');
			return -1;
		}
	}
	memcpy(host, h, len);
	host[len] = '\0';
	if (strchr(host, ':')) {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, host, &a6) != 1) {
			mp_error_set(
			    err, MP_ERR_INTERNAL,
			    "'%.64s' is neither a host name nor an IPv6 address; for a host "
			    "and port give an endpoint URL such as smtp://host:port",
			    arg);
			return -1;
		}
	}
	return 0;
}

/* Parses a port number 1..65535. */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
	char buf[8];
	char *end = NULL;
	long v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)buf[i]))
			return -1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* A URL whose host has colons but no brackets (smtp://::1:25): says how to
 * write it, smtp://[::1]:25, taking a last ":digits" as the port when what
 * stands before it is an IPv6 address. Returns -1. */
static int ipv6_needs_brackets(const char *arg, size_t schemelen, const char *rest, size_t restlen,
                               struct mp_error *err)
{
	const char *end = rest + restlen, *p = end;
	char addr[64], port[8] = "";
	struct in6_addr a6;
	size_t n;

	while (p > rest && isdigit((unsigned char)p[-1]))
		p--;
	n = p > rest ? (size_t)(p - 1 - rest) : 0;
	if (p < end && p > rest && p[-1] == ':' && (size_t)(end - p) < sizeof(port) - 1 &&
	    n < sizeof(addr)) {
		memcpy(addr, rest, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) == 1)
			snprintf(port, sizeof(port), ":%.*s", (int)(end - p), p);
	}
	if (!port[0]) {
		n = restlen < sizeof(addr) ? restlen : 0;
		memcpy(addr, rest, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) != 1) {
			snprintf(addr, sizeof(addr), "ADDRESS");
			snprintf(port, sizeof(port), ":PORT");
		}
	}
	mp_error_set(err, MP_ERR_INTERNAL,
	             "an IPv6 address in a URL goes in brackets: write %.*s://[%s]%s, not "
	             "'%.80s'",
	             (int)schemelen, arg, addr, port, arg);
	return -1;
}

int plan_parse_url(const char *arg, struct endpoint *ep, struct mp_error *err)
{
	const char *sep = strstr(arg, "://");
	const char *rest, *hostend, *portstart = NULL;
	struct endpoint found;
	size_t schemelen, restlen;
	char hostbuf[260];
	char list[256];

	if (!sep)
		return 0;
	schemelen = (size_t)(sep - arg);
	memset(&found, 0, sizeof(found));
	if (!scheme_parse(arg, schemelen, &found)) {
		scheme_list(list, sizeof(list));
		mp_error_set(err, MP_ERR_INTERNAL, "unknown scheme in '%.80s': use %s", arg, list);
		return -1;
	}
	*ep = found;
	rest = sep + 3;
	restlen = strlen(rest);
	if (restlen > 0 && rest[restlen - 1] == '/')
		restlen--;
	if (memchr(rest, '@', restlen)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "credentials in endpoint URLs are not supported: '%.80s'", arg);
		return -1;
	}
	if (memchr(rest, '/', restlen) || memchr(rest, '?', restlen)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "endpoint URL '%.80s' has a path; give scheme://host[:port]", arg);
		return -1;
	}
	if (restlen > 0 && rest[0] == '[') {
		const char *close = memchr(rest, ']', restlen);

		if (!close) {
			mp_error_set(err, MP_ERR_INTERNAL, "unclosed '[' in '%.80s'", arg);
			return -1;
		}
		hostend = close + 1;
		if (hostend < rest + restlen) {
			if (*hostend != ':') {
				mp_error_set(err, MP_ERR_INTERNAL,
				             "unexpected text after ']' in '%.80s'", arg);
				return -1;
			}
			portstart = hostend + 1;
		}
	} else {
		const char *colon = memchr(rest, ':', restlen);

		if (colon && memchr(colon + 1, ':', restlen - (size_t)(colon + 1 - rest)))
			return ipv6_needs_brackets(arg, schemelen, rest, restlen, err);
		hostend = colon ? colon : rest + restlen;
		if (colon)
			portstart = colon + 1;
	}
	if ((size_t)(hostend - rest) >= sizeof(hostbuf)) {
		mp_error_set(err, MP_ERR_INTERNAL, "host name too long in '%.80s'", arg);
		return -1;
	}
	memcpy(hostbuf, rest, (size_t)(hostend - rest));
	hostbuf[hostend - rest] = '\0';
	if (plan_parse_host(hostbuf, ep->host, sizeof(ep->host), err) != 0)
		return -1;
	if (portstart &&
	    parse_port(portstart, (size_t)(rest + restlen - portstart), &ep->port) != 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "bad port in '%.80s': expected 1-65535", arg);
		return -1;
	}
	return 1;
}

struct eplist {
	struct endpoint *v;
	size_t n, cap;
};

/* Appends one endpoint per path (direct and/or each proxy). */
static int add_paths(struct eplist *l, const struct run_options *opt, const struct endpoint *ep,
                     struct mp_error *err)
{
	size_t paths = (opt->nproxies == 0 || opt->direct ? 1 : 0) + opt->nproxies;

	if (l->n + paths > MP_MAX_ENDPOINTS) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "more than %d endpoints for one target; narrow "
		             "the matrix",
		             MP_MAX_ENDPOINTS);
		return -1;
	}
	if (l->n + paths > l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 32;
		struct endpoint *nv;

		while (ncap < l->n + paths)
			ncap *= 2;
		nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv) {
			mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
			return -1;
		}
		l->v = nv;
		l->cap = ncap;
	}
	if (opt->nproxies == 0 || opt->direct) {
		l->v[l->n] = *ep;
		l->v[l->n++].proxy = NULL;
	}
	for (size_t i = 0; i < opt->nproxies; i++) {
		l->v[l->n] = *ep;
		l->v[l->n++].proxy = &opt->proxies[i];
	}
	return 0;
}

static int add_one(struct eplist *l, const struct run_options *opt, const char *host,
                   enum protocol proto, uint16_t port, enum sec_mode mode, struct mp_error *err)
{
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.proto = proto;
	ep.port = port;
	ep.mode = mode;
	snprintf(ep.host, sizeof(ep.host), "%s", host);
	return add_paths(l, opt, &ep, err);
}

/* True when the matrix of a bare host includes protocol p: the ones of
 * --protocols, or without it every protocol that is not opt-in. */
static bool want_proto(const struct run_options *opt, enum protocol p)
{
	const struct dialect *d = dialect_for(p);

	if (opt->protocols == 0)
		return d && !d->opt_in;
	return (opt->protocols & (1u << p)) != 0;
}

static bool want_mode(const struct run_options *opt, enum sec_mode m)
{
	return opt->modes & (1u << m);
}

/* The endpoints of auto mode for one host, in preference order. */
static int plan_auto(struct eplist *l, const struct run_options *opt, const char *host,
                     struct mp_error *err)
{
	static const enum sec_mode order[] = {MODE_TLS, MODE_STARTTLS, MODE_PLAIN};

	const struct dialect *d = dialect_for(opt->auto_proto);

	if (opt->nports == 0) {
		for (size_t i = 0; d && i < DIALECT_MAX_PORTS && d->auto_order[i].port; i++)
			if (add_one(l, opt, host, opt->auto_proto, d->auto_order[i].port,
			            d->auto_order[i].mode, err) != 0)
				return -1;
		return 0;
	}
	for (size_t m = 0; m < 3; m++)
		for (size_t i = 0; i < opt->nports; i++)
			if ((opt->modes == 0 || want_mode(opt, order[m])) &&
			    add_one(l, opt, host, opt->auto_proto, opt->ports[i], order[m], err) !=
			        0)
				return -1;
	return 0;
}

/* One cell of a protocol's default matrix: as listed without --modes; with
 * --modes, each mode asked for that fits the port (TLS on an implicit-TLS
 * port, the others elsewhere). */
static int plan_cell(struct eplist *l, const struct run_options *opt, const char *host,
                     enum protocol proto, const struct dialect_port *cell, struct mp_error *err)
{
	bool tls_port = is_implicit_tls_port(cell->port);

	if (opt->modes == 0)
		return add_one(l, opt, host, proto, cell->port, cell->mode, err);
	for (int m = 0; m < MODE_COUNT; m++) {
		if (!want_mode(opt, (enum sec_mode)m) || tls_port != (m == MODE_TLS))
			continue;
		if (add_one(l, opt, host, proto, cell->port, (enum sec_mode)m, err) != 0)
			return -1;
	}
	return 0;
}

/* The matrix for one bare host. */
static int plan_host(struct eplist *l, const struct run_options *opt, const char *host,
                     struct mp_error *err)
{
	if (opt->auto_mode)
		return plan_auto(l, opt, host, err);
	if (opt->nports == 0) {
		for (int p = 0; p < PROTO_COUNT; p++) {
			const struct dialect *d = dialect_for((enum protocol)p);

			if (!d || !want_proto(opt, (enum protocol)p))
				continue;
			for (size_t i = 0; i < DIALECT_MAX_PORTS && d->matrix[i].port; i++)
				if (plan_cell(l, opt, host, d->proto, &d->matrix[i], err) != 0)
					return -1;
		}
		return 0;
	}
	for (int p = 0; p < PROTO_COUNT; p++) {
		for (size_t i = 0; i < opt->nports; i++) {
			uint16_t port = opt->ports[i];

			if (opt->protocols == 0) {
				if (protocol_of_port(port) != p)
					continue;
			} else if (!want_proto(opt, (enum protocol)p)) {
				continue;
			}
			if (opt->modes == 0) {
				if (add_one(l, opt, host, (enum protocol)p, port,
				            is_implicit_tls_port(port) ? MODE_TLS : MODE_STARTTLS,
				            err) != 0)
					return -1;
				continue;
			}
			for (int m = 0; m < MODE_COUNT; m++)
				if (want_mode(opt, (enum sec_mode)m) &&
				    add_one(l, opt, host, (enum protocol)p, port, (enum sec_mode)m,
				            err) != 0)
					return -1;
		}
	}
	return 0;
}

/* ---- the de-duplication set: 64-bit hashes of endpoint keys ---- */

/* The key of an endpoint: protocol, mode, port, host (case-folded) and path. */
static uint64_t endpoint_key(const struct endpoint *ep, const struct run_options *opt)
{
	char buf[300];
	int len, proxy = -1;

	for (size_t i = 0; ep->proxy && i < opt->nproxies; i++)
		if (ep->proxy == &opt->proxies[i])
			proxy = (int)i;
	len = snprintf(buf, sizeof(buf), "%d/%d/%u/%d/", (int)ep->proto, (int)ep->mode,
	               (unsigned)ep->port, proxy);
	if (len < 0)
		len = 0;
	for (size_t i = 0; ep->host[i] && (size_t)len < sizeof(buf) - 1; i++)
		buf[len++] = (char)tolower((unsigned char)ep->host[i]);
	return target_hash(buf, (size_t)len) | 1; /* 0 marks a free slot */
}

bool epset_seen(struct epset *s, const struct endpoint *ep, const struct run_options *opt)
{
	uint64_t k = endpoint_key(ep, opt);
	size_t i;

	if (s->n * 2 >= s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		uint64_t *nv = calloc(ncap, sizeof(*nv));

		if (!nv)
			return false;
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->v[j])
				continue;
			for (i = s->v[j] & (ncap - 1); nv[i]; i = (i + 1) & (ncap - 1))
				;
			nv[i] = s->v[j];
		}
		free(s->v);
		s->v = nv;
		s->cap = ncap;
	}
	for (i = k & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == k)
			return true;
	s->v[i] = k;
	s->n++;
	return false;
}

void epset_free(struct epset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- the plan as a stream ---- */

struct plan_iter {
	const struct run_options *opt;
	size_t cli_next;              /* next command-line target */
	struct target_reader *reader; /* -i FILE, NULL when none */
	struct eplist cur;            /* the current target's endpoints */
	size_t icur;
	struct epset seen;
	size_t given;
};

struct plan_iter *plan_iter_new(const struct run_options *opt, struct mp_error *err)
{
	struct plan_iter *it = NULL;

	if (opt->nports > 0 && opt->protocols == 0 && !opt->auto_mode) {
		for (size_t i = 0; i < opt->nports; i++) {
			if (protocol_of_port(opt->ports[i]) < 0) {
				char names[128];

				protocol_list(names, sizeof(names));
				mp_error_set(err, MP_ERR_INTERNAL,
				             "cannot tell which protocol port %u speaks; add "
				             "--protocols %s",
				             (unsigned)opt->ports[i], names);
				return NULL;
			}
		}
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	it->opt = opt;
	if (opt->targets_file) {
		it->reader = malloc(sizeof(*it->reader));
		if (!it->reader) {
			mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		if (targets_open(it->reader, opt->targets_file, err) != 0) {
			free(it->reader);
			it->reader = NULL;
			goto fail;
		}
	}
	return it;
fail:
	plan_iter_free(it);
	return NULL;
}

void plan_iter_free(struct plan_iter *it)
{
	if (!it)
		return;
	if (it->reader) {
		targets_close(it->reader);
		free(it->reader);
	}
	free(it->cur.v);
	epset_free(&it->seen);
	free(it);
}

size_t plan_count(const struct plan_iter *it)
{
	return it->given;
}

/* Expands one target's text into it->cur. Returns 0 or -1 with err. */
static int expand(struct plan_iter *it, const char *text, struct mp_error *err)
{
	struct endpoint ep;
	char host[256];
	int rc;

	it->cur.n = 0;
	it->icur = 0;
	rc = plan_parse_url(text, &ep, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return add_paths(&it->cur, it->opt, &ep, err);
	if (plan_parse_host(text, host, sizeof(host), err) != 0)
		return -1;
	return plan_host(&it->cur, it->opt, host, err);
}

/* An invalid line of -i FILE as an endpoint. */
static void invalid_line(struct endpoint *ep, const char *text, unsigned long line)
{
	memset(ep, 0, sizeof(*ep));
	ep->invalid = true;
	ep->line = (unsigned)line;
	snprintf(ep->host, sizeof(ep->host), "%.*s", MP_TARGET_QUOTE + 3, text);
	for (char *c = ep->host; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
}

int plan_next(struct plan_iter *it, struct endpoint *ep, char *why, size_t whysz,
              struct mp_error *err)
{
	const struct run_options *opt = it->opt;

	for (;;) {
		struct target_item ti;
		struct mp_error perr;
		int rc;

		while (it->icur < it->cur.n) {
			*ep = it->cur.v[it->icur++];
			if (!opt->allow_duplicates && epset_seen(&it->seen, ep, opt))
				continue;
			it->given++;
			return 1;
		}
		if (it->cli_next < opt->ntargets) {
			const char *t = opt->targets[it->cli_next++];

			if (!target_in_shard(target_hash(t, strlen(t)), opt->shard_index,
			                     opt->shard_count))
				continue;
			if (expand(it, t, err) != 0)
				return -1;
			continue;
		}
		if (!it->reader)
			return 0;
		rc = targets_next(it->reader, &ti, err);
		if (rc <= 0)
			return rc;
		if (!target_in_shard(ti.hash, opt->shard_index, opt->shard_count))
			continue;
		mp_error_clear(&perr);
		if (ti.kind == TARGET_TOO_LONG)
			mp_error_set(&perr, MP_ERR_INVALID_TARGET, "line longer than %d bytes",
			             MP_MAX_TARGET_LINE);
		else if (ti.kind == TARGET_BINARY)
			mp_error_set(&perr, MP_ERR_INVALID_TARGET,
			             "line holds control bytes (binary data?)");
		else if (expand(it, ti.text, &perr) == 0)
			continue;
		invalid_line(ep, ti.text, ti.line);
		snprintf(why, whysz, "line %lu: %s", ti.line, perr.msg);
		it->given++;
		return 1;
	}
}

void plan_whys_free(char **whys, size_t n)
{
	for (size_t i = 0; whys && i < n; i++)
		free(whys[i]);
	free(whys);
}

/* Appends a copy of why to the list (*whys, *n, capacity *cap). */
static int push_why(char ***whys, size_t *n, size_t *cap, const char *why)
{
	if (*n >= *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **nv = realloc(*whys, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		*whys = nv;
		*cap = ncap;
	}
	(*whys)[*n] = strdup(why);
	return (*whys)[(*n)++] ? 0 : -1;
}

int plan_build_why(const struct run_options *opt, struct endpoint **eps, size_t *n, char ***whys,
                   size_t *nwhys, struct mp_error *err)
{
	struct eplist l = {NULL, 0, 0};
	struct plan_iter *it = plan_iter_new(opt, err);
	char why[MP_MAX_ERROR];
	size_t wcap = 0;
	bool oom = false;
	int rc;

	*eps = NULL;
	*n = 0;
	if (whys) {
		*whys = NULL;
		*nwhys = 0;
	}
	if (!it)
		return -1;
	for (;;) {
		struct endpoint ep;

		rc = plan_next(it, &ep, why, sizeof(why), err);
		if (rc <= 0)
			break;
		if (l.n >= l.cap) {
			size_t ncap = l.cap ? l.cap * 2 : 32;
			struct endpoint *nv = realloc(l.v, ncap * sizeof(*nv));

			if (!nv) {
				oom = true;
				break;
			}
			l.v = nv;
			l.cap = ncap;
		}
		if (ep.invalid && whys && push_why(whys, nwhys, &wcap, why) != 0) {
			oom = true;
			break;
		}
		l.v[l.n++] = ep;
	}
	plan_iter_free(it);
	if (oom)
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	if (oom || rc < 0)
		goto fail;
	if (l.n == 0 && !opt->targets_file && opt->shard_count <= 1) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "the options leave no endpoint to probe "
		             "(check --protocols, --ports and --modes)");
		goto fail;
	}
	*eps = l.v;
	*n = l.n;
	return 0;
fail:
	free(l.v);
	if (whys) {
		plan_whys_free(*whys, *nwhys);
		*whys = NULL;
		*nwhys = 0;
	}
	return -1;
}

int plan_build(const struct run_options *opt, struct endpoint **eps, size_t *n,
               struct mp_error *err)
{
	return plan_build_why(opt, eps, n, NULL, NULL, err);
}
