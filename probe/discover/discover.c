/* discover.c - from a domain to its mail endpoints and policies
 * (discover.h): the discovery loop over the list of sources, the query
 * log, the address resolver and the endpoint list the sources share. */
#include "probe/discover/disc_int.h"
#include "probe/discover/discover.h"
#include "core/net.h"
#include "core/model/options.h"
#include "core/deadline.h"
#include "core/tls.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* The sources, in the order their questions, endpoints and findings come.
 * A new source is one line here. */
static const struct disc_source *const disc_sources[] = {
    &disc_src_mx,  &disc_src_mtasts,     &disc_src_tlsrpt,
    &disc_src_srv, &disc_src_autoconfig, &disc_src_guess,
};
#define NSOURCES (sizeof(disc_sources) / sizeof(disc_sources[0]))

static pthread_mutex_t disc_lock = PTHREAD_MUTEX_INITIALIZER;
/* The source a fetch thread works for (its findings are put back in the
 * order of the list). */
static __thread unsigned char cur_origin;

void dfind(struct discovery *d, const char *code, const char *fmt, ...)
{
	struct disc_finding *f;
	va_list ap;

	/* The two HTTPS fetches add findings from two threads. */
	pthread_mutex_lock(&disc_lock);
	if (d->nfindings >= MP_DISC_MAX_FINDINGS) {
		pthread_mutex_unlock(&disc_lock);
		return;
	}
	f = &d->findings[d->nfindings];
	f->code = code;
	f->origin = cur_origin;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < d->nfindings; i++)
		if (d->findings[i].code == code &&
		    strcmp(d->findings[i].message, f->message) == 0) {
			pthread_mutex_unlock(&disc_lock);
			return;
		}
	d->nfindings++;
	pthread_mutex_unlock(&disc_lock);
}

/* A host name as DNS gives it, safe to quote in a message: printable, bounded. */
void safe_name(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; in[i] && o + 1 < size && i < 120; i++)
		out[o++] = isprint((unsigned char)in[i]) ? in[i] : '?';
	out[o] = '\0';
}

int discover_parse_target(const char *arg, struct discovery *d, struct mp_error *err)
{
	const char *at = strrchr(arg, '@');
	const char *dom = at ? at + 1 : arg;
	size_t len = strlen(dom);

	if (at && (size_t)(at - arg) + 1 >= sizeof(d->email) - MP_DNS_MAX_NAME)
		return mp_error_set(err, MP_ERR_INTERNAL, "--discover: the address is too long"),
		       -1;
	while (len > 0 && dom[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(d->domain)) {
		mp_error_set(err, MP_ERR_INTERNAL, "--discover expects a domain or user@domain");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)dom[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_') {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--discover: '%.80s' is not a domain name", arg);
			return -1;
		}
	}
	memcpy(d->domain, dom, len);
	d->domain[len] = '\0';
	if (at)
		snprintf(d->email, sizeof(d->email), "%.*s@%s", (int)(at - arg), arg, d->domain);
	return 0;
}

/* Appends copies of q[0..n) to d's query log; the records move to the log. */
static int log_queries(struct discovery *d, struct dns_query *q, size_t n)
{
	pthread_mutex_lock(&disc_lock);
	if (d->nqueries + n > d->capqueries) {
		size_t cap = d->capqueries ? d->capqueries * 2 : 32;
		struct dns_query *nq;

		while (cap < d->nqueries + n)
			cap *= 2;
		nq = realloc(d->queries, cap * sizeof(*nq));
		if (!nq) {
			pthread_mutex_unlock(&disc_lock);
			return -1;
		}
		d->queries = nq;
		d->capqueries = cap;
	}
	memcpy(d->queries + d->nqueries, q, n * sizeof(*q));
	d->nqueries += n;
	for (size_t i = 0; i < n; i++) {
		q[i].rr = NULL;
		q[i].n = 0;
	}
	pthread_mutex_unlock(&disc_lock);
	return 0;
}

/* The logged answer to name/type, or NULL. */
static const struct dns_query *logged(const struct discovery *d, const char *name, uint16_t type)
{
	for (size_t i = d->nqueries; i-- > 0;)
		if (d->queries[i].type == type && strcasecmp(d->queries[i].name, name) == 0)
			return &d->queries[i];
	return NULL;
}

/* Notes what went wrong with an answer, as a finding of the domain. */
void answer_findings(struct discovery *d, const struct dns_query *q)
{
	char name[128];

	safe_name(q->name, name, sizeof(name));
	if (q->security == DNS_SEC_BOGUS && q->type == DNS_T_TLSA)
		dfind(d, DFIND_DNS_BOGUS,
		      "%s TLSA: the answer failed DNSSEC validation (%.120s): RFC 7672 2.1.1 "
		      "forbids delivery to this MX",
		      name, q->why_bogus[0] ? q->why_bogus : "bogus");
	else if (q->security == DNS_SEC_BOGUS)
		dfind(d, DFIND_DNS_BOGUS,
		      "%s %s: the answer failed DNSSEC validation (%.120s): not used", name,
		      dns_type_name(q->type), q->why_bogus[0] ? q->why_bogus : "bogus");
	else if (q->status != MP_OK)
		dfind(d, DFIND_DNS_FAILED, "%s %s: %s", name, dns_type_name(q->type), q->error);
	else if (q->rcode == 2)
		dfind(d, DFIND_DNS_FAILED, "%s %s: the server failed (SERVFAIL)", name,
		      dns_type_name(q->type));
	if (q->n_total > q->n + q->n_bad)
		dfind(d, DFIND_DNS_LIMIT, "%s %s: %zu records, only the first %d are used", name,
		      dns_type_name(q->type), q->n_total, MP_DNS_MAX_RRS);
	for (size_t i = 0; i < q->n; i++)
		if (q->rr[i].type == DNS_T_TXT && q->rr[i].u.txt.truncated)
			dfind(d, DFIND_DNS_LIMIT, "%s TXT: a record longer than %d bytes was cut",
			      name, MP_DNS_MAX_TXT);
}

/* True when the answer may be used: answered and not bogus. */
bool disc_usable(const struct dns_query *q)
{
	return q && q->status == MP_OK && q->security != DNS_SEC_BOGUS && q->rcode == 0;
}

/* ---- the address resolver over DNS ---- */

static enum mp_status dr_resolve(void *arg, const char *host, int family, int64_t deadline,
                                 char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
                                 struct mp_error *err)
{
	struct disc_resolver *dr = arg;
	static const uint16_t types[2] = {DNS_T_A, DNS_T_AAAA};
	const struct dns_query *have[2] = {NULL, NULL};
	struct dns_query q[2];
	size_t nq = 0;
	bool bogus = false, answered = false;
	char why[MP_MAX_ERROR] = "";

	*n = 0;
	for (int t = 0; t < 2; t++) {
		if ((family == AF_INET && t == 1) || (family == AF_INET6 && t == 0))
			continue;
		pthread_mutex_lock(&disc_lock);
		have[t] = dr->d ? logged(dr->d, host, types[t]) : NULL;
		pthread_mutex_unlock(&disc_lock);
		if (!have[t])
			dns_query_init(&q[nq++], host, types[t]);
	}
	if (nq > 0) {
		dns_resolve(dr->dns, q, nq, deadline_min(deadline, deadline_in(MP_DNS_TIMEOUT_MS)));
		if (dr->d)
			log_queries(dr->d, q, nq);
	}
	for (int t = 0, k = 0; t < 2; t++) {
		const struct dns_query *a;

		if ((family == AF_INET && t == 1) || (family == AF_INET6 && t == 0))
			continue;
		pthread_mutex_lock(&disc_lock);
		/* Looked up again under the lock: another probe's log_queries may
		 * have moved the log (realloc) since have[t] was found. */
		a = dr->d ? logged(dr->d, host, types[t]) : NULL;
		if (!a && !have[t])
			a = &q[k];
		if (!have[t])
			k++;
		if (!a) {
			pthread_mutex_unlock(&disc_lock);
			continue;
		}
		if (a->security == DNS_SEC_BOGUS) {
			bogus = true;
			snprintf(why, sizeof(why), "%s", a->why_bogus);
		} else if (a->status == MP_OK) {
			answered = true;
			for (size_t i = 0; i < a->n && *n < max; i++)
				if (a->rr[i].type == types[t])
					snprintf(out[(*n)++], MP_ADDR_TEXT, "%s", a->rr[i].u.addr);
		} else if (!why[0]) {
			snprintf(why, sizeof(why), "%s", a->error);
		}
		pthread_mutex_unlock(&disc_lock);
	}
	for (size_t i = 0; !dr->d && i < nq; i++)
		dns_query_free(&q[i]);
	if (*n > 0)
		return MP_OK;
	if (bogus)
		return mp_error_set(err, MP_ERR_DNS,
		                    "cannot resolve %s: the answer failed DNSSEC "
		                    "validation (%.100s)",
		                    host, why);
	if (answered)
		return mp_error_set(err, MP_ERR_DNS,
		                    "cannot resolve %s: no such host or no "
		                    "address",
		                    host);
	return mp_error_set(err, MP_ERR_DNS, "cannot resolve %s: %s", host,
	                    why[0] ? why : "no answer");
}

void discover_resolver_init(struct disc_resolver *dr, struct dns_client *dns, struct discovery *d)
{
	memset(dr, 0, sizeof(*dr));
	dr->r.resolve = dr_resolve;
	dr->r.arg = dr;
	dr->dns = dns;
	dr->d = d;
}

enum mp_status disc_resolve(struct disc_resolver *dr, const char *host, int family,
                            int64_t deadline, char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
                            struct mp_error *err)
{
	return dr_resolve(dr, host, family, deadline, out, max, n, err);
}

/* ---- endpoints ---- */

int add_endpoint(struct eplist *l, enum protocol proto, enum sec_mode mode, const char *host,
                 uint16_t port, const char *by, const char *record)
{
	struct endpoint *ep;

	for (size_t i = 0; i < *l->n; i++) {
		struct endpoint *e = &(*l->v)[i];
		size_t k = 0;

		if (e->proto != proto || e->mode != mode || e->port != port ||
		    strcasecmp(e->host, host) != 0)
			continue;
		/* named again: every source that names it is listed */
		if (!e->discovered_by || strcmp(e->discovered_by, by) == 0)
			return 0;
		for (; k < 4 && e->discovered_also[k]; k++)
			if (strcmp(e->discovered_also[k], by) == 0)
				return 0;
		if (k < 3)
			e->discovered_also[k] = by;
		return 0;
	}
	if (*l->n >= MP_MAX_ENDPOINTS)
		return 0;
	if (*l->n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct endpoint *nv = realloc(*l->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		*l->v = nv;
		l->cap = cap;
	}
	ep = &(*l->v)[(*l->n)++];
	memset(ep, 0, sizeof(*ep));
	ep->proto = proto;
	ep->mode = mode;
	ep->port = port;
	snprintf(ep->host, sizeof(ep->host), "%s", host);
	ep->discovered_by = by;
	snprintf(ep->discovered_record, sizeof(ep->discovered_record), "%s", record);
	return 0;
}

/* A name DNS gave us that we can probe: a host name (letters, digits, '-', '_', '.'). */
bool probeable_name(const char *name)
{
	if (!name[0])
		return false;
	for (size_t i = 0; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '.' &&
		    name[i] != '_')
			return false;
	return true;
}

/* MX (RFC 5321 5.1): hosts by preference; null MX (RFC 7505); an MX that
 * is an address. */
/* bogus < insecure < secure: the weaker of two answers has the lower rank. */
static int sec_rank(enum dns_security s)
{
	return s == DNS_SEC_BOGUS ? 0 : s == DNS_SEC_INSECURE ? 1 : 2;
}

/* The second DNS round, all at once: the addresses of every host named so
 * far, and the TLSA records of the MX hosts at the port they are probed on
 * (RFC 7672 2.2, 2.2.3). */
static int round_two(struct disc_ctx *c, struct dns_query *q)
{
	struct discovery *d = c->d;
	struct endpoint *eps = *c->l.v;
	size_t nq = 0, n = *c->l.n;
	char name[MP_DNS_MAX_NAME + 32];

	for (size_t i = c->before; i < n && nq + 2 <= MP_DNS_MAX_QUERIES; i++) {
		bool seen = false;

		for (size_t k = c->before; k < i && !seen; k++)
			seen = strcasecmp(eps[k].host, eps[i].host) == 0;
		if (seen)
			continue;
		if (c->opt->probe.family != AF_INET6)
			dns_query_init(&q[nq++], eps[i].host, DNS_T_A);
		if (c->opt->probe.family != AF_INET)
			dns_query_init(&q[nq++], eps[i].host, DNS_T_AAAA);
	}
	for (size_t i = 0; i < d->nmx && nq < MP_DNS_MAX_QUERIES; i++) {
		snprintf(name, sizeof(name), "_%u._tcp.%s", (unsigned)c->opt->mx_port, d->mx[i]);
		dns_query_init(&q[nq++], name, DNS_T_TLSA);
	}
	dns_resolve(c->dns, q, nq, deadline_min(c->deadline, deadline_in(MP_DNS_TIMEOUT_MS)));
	for (size_t i = 0; i < nq; i++) {
		answer_findings(d, &q[i]);
		if (q[i].type == DNS_T_TLSA)
			dane_take(d, c->opt->mx_port, &q[i]);
	}
	/* An MX that is a CNAME (RFC 2181 10.3), or has no address; its
	 * address families and their DNSSEC state for the report. */
	for (size_t i = 0; i < d->nmx; i++) {
		struct disc_mx_info *ma = &d->mx_info[i];
		char mname[128];
		bool any = false, first = true;

		safe_name(d->mx[i], mname, sizeof(mname));
		for (size_t k = 0; k < nq; k++) {
			if (strcasecmp(q[k].name, d->mx[i]) != 0 ||
			    (q[k].type != DNS_T_A && q[k].type != DNS_T_AAAA))
				continue;
			if (q[k].canonname[0])
				dfind(d, DFIND_MX_IS_CNAME,
				      "the MX %s is an alias (CNAME) of %.100s: "
				      "RFC 2181 10.3 wants the MX to name the host itself",
				      mname, q[k].canonname);
			if (first || sec_rank(q[k].security) < sec_rank(ma->security))
				ma->security = q[k].security;
			first = false;
			if (q[k].security == DNS_SEC_BOGUS) {
				ma->bogus = true;
				dfind(d, DFIND_DNS_BOGUS,
				      "the addresses of the MX %s failed DNSSEC validation: "
				      "this MX is unusable",
				      mname);
			}
			for (size_t r = 0; disc_usable(&q[k]) && r < q[k].n; r++) {
				if (q[k].rr[r].type == DNS_T_A)
					ma->n4++;
				else if (q[k].rr[r].type == DNS_T_AAAA)
					ma->n6++;
			}
			any |= disc_usable(&q[k]) && q[k].n > 0;
		}
		if (!any)
			dfind(d, DFIND_MX_NO_ADDRESS, "the MX %s has no usable address", mname);
	}
	return log_queries(d, q, nq);
}

/* The fetches of the sources that have one, each in a thread. */
struct fetch_job {
	struct disc_ctx *c;
	const struct disc_source *src;
	unsigned char origin;
};

static void *fetch_thread(void *arg)
{
	struct fetch_job *j = arg;

	cur_origin = j->origin;
	j->src->fetch(j->c);
	tls_thread_cleanup();
	return NULL;
}

/* Runs every source's fetch at once; the findings they add are then put
 * in the order of the list, as one fetch after the other would give. */
static void fetch_all(struct disc_ctx *c)
{
	struct discovery *d = c->d;
	struct fetch_job jobs[NSOURCES];
	pthread_t th[NSOURCES];
	bool threaded[NSOURCES] = {false};
	struct disc_finding *tmp;
	size_t first = d->nfindings, k = 0;

	for (size_t i = 0; i < NSOURCES; i++) {
		jobs[i] = (struct fetch_job){c, disc_sources[i], (unsigned char)i};
		if (disc_sources[i]->fetch)
			threaded[i] = pthread_create(&th[i], NULL, fetch_thread, &jobs[i]) == 0;
	}
	for (size_t i = 0; i < NSOURCES; i++) {
		if (threaded[i]) {
			pthread_join(th[i], NULL);
		} else if (disc_sources[i]->fetch) {
			cur_origin = (unsigned char)i;
			disc_sources[i]->fetch(c);
			cur_origin = 0;
		}
	}
	if (d->nfindings - first < 2 || !(tmp = calloc(d->nfindings - first, sizeof(*tmp))))
		return;
	for (size_t o = 0; o < NSOURCES; o++)
		for (size_t i = first; i < d->nfindings; i++)
			if (d->findings[i].origin == o)
				tmp[k++] = d->findings[i];
	memcpy(&d->findings[first], tmp, k * sizeof(*tmp));
	free(tmp);
}

int discover_run(const struct run_options *opt, struct dns_client *dns, struct tls_ctx *tls,
                 int64_t deadline, struct discovery *d, struct endpoint **eps, size_t *n,
                 struct mp_error *err)
{
	struct dns_query *q = NULL;
	struct disc_resolver dr;
	struct disc_ctx c;
	size_t nq = 0, first[NSOURCES], count[NSOURCES];
	int64_t t0 = mono_ms();
	int rc = -1;

	if (discover_parse_target(opt->discover, d, err) != 0)
		return -1;
	discover_resolver_init(&dr, dns, d);
	q = calloc(MP_DNS_MAX_QUERIES, sizeof(*q));
	if (!q)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory"), -1;
	memset(&c, 0, sizeof(c));
	c.opt = opt;
	c.dns = dns;
	c.tls = tls;
	c.dr = &dr;
	c.deadline = deadline;
	c.d = d;
	c.l = (struct eplist){eps, n, *n};
	c.before = *n;

	/* Round 1, all at once: every source's questions. */
	for (size_t s = 0; s < NSOURCES; s++) {
		first[s] = nq;
		count[s] = disc_sources[s]->ask
		               ? disc_sources[s]->ask(&c, q + nq, MP_DNS_MAX_QUERIES - nq)
		               : 0;
		nq += count[s];
	}
	dns_resolve(dns, q, nq, deadline_min(deadline, deadline_in(MP_DNS_TIMEOUT_MS)));
	for (size_t s = 0; s < NSOURCES; s++)
		if (disc_sources[s]->take && disc_sources[s]->take(&c, q + first[s], count[s]) != 0)
			goto nomem;
	if (log_queries(d, q, nq) != 0)
		goto nomem;
	memset(q, 0, MP_DNS_MAX_QUERIES * sizeof(*q));
	if (round_two(&c, q) != 0)
		goto nomem;
	d->dns_ms = mono_ms() - t0;

	/* HTTPS, all at once: the MTA-STS policy, autoconfig. */
	t0 = mono_ms();
	fetch_all(&c);
	d->http_ms = mono_ms() - t0;
	for (size_t s = 0; s < NSOURCES; s++) {
		const struct disc_source *src = disc_sources[s];

		if (!src->endpoints || (src->last_resort && *n != c.before))
			continue;
		if (src->endpoints(&c, err) != 0)
			goto out;
	}
	rc = 0;
	goto out;
nomem:
	mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
out:
	for (size_t i = 0; i < MP_DNS_MAX_QUERIES; i++)
		dns_query_free(&q[i]);
	free(q);
	return rc;
}

void discovery_free(struct discovery *d)
{
	for (size_t i = 0; i < d->nqueries; i++)
		dns_query_free(&d->queries[i]);
	free(d->queries);
	d->queries = NULL;
	d->nqueries = d->capqueries = 0;
}
