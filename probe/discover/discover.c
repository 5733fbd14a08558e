/* discover.c - from a domain to its mail endpoints and policies (discover.h). */
#include "probe/discover/discover.h"
#include "core/net.h"
#include "core/model/options.h"
#include "probe/engine/plan.h"
#include "probe/engine/probe.h"
#include "core/deadline.h"
#include "core/http.h"
#include "core/tls.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* The SRV services of RFC 6186 section 3 and RFC 8314 section 5.1, in the
 * order a client prefers them (implicit TLS first). */
static const struct {
	const char *prefix;
	enum protocol proto;
	enum sec_mode mode;
} srv_services[] = {
    {"_submissions._tcp", PROTO_SMTP, MODE_TLS}, {"_submission._tcp", PROTO_SMTP, MODE_STARTTLS},
    {"_imaps._tcp", PROTO_IMAP, MODE_TLS},       {"_imap._tcp", PROTO_IMAP, MODE_STARTTLS},
    {"_pop3s._tcp", PROTO_POP3, MODE_TLS},       {"_pop3._tcp", PROTO_POP3, MODE_STARTTLS},
};
#define NSRV (sizeof(srv_services) / sizeof(srv_services[0]))

/* --guess: the names mail clients try when nothing is published. */
static const char *const guess_prefixes[] = {"mail", "imap", "smtp", "pop", "pop3"};
#define NGUESS (sizeof(guess_prefixes) / sizeof(guess_prefixes[0]))

static pthread_mutex_t disc_lock = PTHREAD_MUTEX_INITIALIZER;

static void dfind(struct discovery *d, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds a finding of the domain (bounded; the same message once). */
static void dfind(struct discovery *d, const char *code, const char *fmt, ...)
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
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < d->nfindings; i++)
		if (d->findings[i].code == code && strcmp(d->findings[i].message, f->message) == 0) {
			pthread_mutex_unlock(&disc_lock);
			return;
		}
	d->nfindings++;
	pthread_mutex_unlock(&disc_lock);
}

/* A host name as DNS gives it, safe to quote in a message: printable, bounded. */
static void safe_name(const char *in, char *out, size_t size)
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
static void answer_findings(struct discovery *d, const struct dns_query *q)
{
	char name[128];

	safe_name(q->name, name, sizeof(name));
	if (q->security == DNS_SEC_BOGUS)
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
static bool usable(const struct dns_query *q)
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

/* ---- endpoints ---- */

struct eplist {
	struct endpoint **v;
	size_t *n;
	size_t cap;
};

/* Adds one endpoint unless the same one is there already. */
static int add_endpoint(struct eplist *l, enum protocol proto, enum sec_mode mode, const char *host,
                        uint16_t port, const char *by, const char *record)
{
	struct endpoint *ep;

	for (size_t i = 0; i < *l->n; i++) {
		const struct endpoint *e = &(*l->v)[i];

		if (e->proto == proto && e->mode == mode && e->port == port &&
		    strcasecmp(e->host, host) == 0)
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
static bool probeable_name(const char *name)
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
static void take_mx(struct discovery *d, const struct dns_query *q)
{
	struct dns_rr *sorted[MP_DNS_MAX_RRS];
	size_t n = 0;

	answer_findings(d, q);
	if (!usable(q)) {
		if (q->status == MP_OK && q->nxdomain)
			dfind(d, DFIND_NO_MX, "%s does not exist (NXDOMAIN)", d->domain);
		return;
	}
	if (q->n == 0) {
		dfind(d, DFIND_NO_MX,
		      "%s publishes no MX record: mail goes to its address "
		      "records, if any (RFC 5321 5.1)",
		      d->domain);
		return;
	}
	for (size_t i = 0; i < q->n && n < MP_DNS_MAX_RRS; i++)
		if (q->rr[i].type == DNS_T_MX)
			sorted[n++] = &q->rr[i];
	/* insertion sort by preference: n is small */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i;
		     j > 0 && sorted[j]->u.mx.preference < sorted[j - 1]->u.mx.preference; j--) {
			struct dns_rr *t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		const char *host = sorted[i]->u.mx.host;
		char name[128];

		safe_name(host, name, sizeof(name));
		if (!host[0]) {
			/* RFC 7505 3: a single MX with preference 0 and target "." */
			d->null_mx = true;
			if (n == 1 && sorted[i]->u.mx.preference == 0)
				dfind(d, DFIND_NULL_MX,
				      "%s publishes a null MX (RFC 7505): it "
				      "accepts no mail",
				      d->domain);
			else
				dfind(d, DFIND_NULL_MX,
				      "%s mixes a null MX with other MX records, "
				      "which RFC 7505 3 forbids",
				      d->domain);
			continue;
		}
		if (net_family_name(host) || strspn(host, "0123456789.") == strlen(host)) {
			dfind(d, DFIND_MX_IS_ADDRESS,
			      "the MX %s is an address, not a host name "
			      "(RFC 5321 5.1 expects a name)",
			      name);
			continue;
		}
		if (!probeable_name(host)) {
			dfind(d, DFIND_DNS_FAILED, "the MX %s is not a usable host name", name);
			continue;
		}
		if (d->nmx < MP_DISC_MAX_MX) {
			bool dup = false;

			for (size_t k = 0; k < d->nmx && !dup; k++)
				dup = strcasecmp(d->mx[k], host) == 0;
			if (!dup)
				snprintf(d->mx[d->nmx++], sizeof(d->mx[0]), "%s", host);
		}
	}
	if (n > MP_DISC_MAX_MX)
		dfind(d, DFIND_DNS_LIMIT,
		      "%s has %zu MX records: the first %d by preference are "
		      "probed",
		      d->domain, q->n_total, MP_DISC_MAX_MX);
}

/* The TXT record of q that starts with prefix; NULL if none; *count of them. */
static const struct dns_rr *txt_with(const struct dns_query *q, const char *prefix, size_t *count)
{
	const struct dns_rr *found = NULL;
	size_t pl = strlen(prefix);

	*count = 0;
	for (size_t i = 0; usable(q) && i < q->n; i++) {
		const struct dns_rr *rr = &q->rr[i];

		if (rr->type == DNS_T_TXT && rr->u.txt.len >= pl &&
		    strncmp(rr->u.txt.text, prefix, pl) == 0) {
			(*count)++;
			if (!found)
				found = rr;
		}
	}
	return found;
}

/* TLS-RPT (RFC 8460 3): the _smtp._tls TXT record. */
static void take_tlsrpt(struct discovery *d, const struct dns_query *q)
{
	size_t count;
	const struct dns_rr *rr = txt_with(q, "v=TLSRPTv1", &count);

	answer_findings(d, q);
	if (!rr) {
		dfind(d, DFIND_TLSRPT,
		      "no TLS-RPT record at _smtp._tls.%s: failures of TLS to "
		      "the MX hosts are not reported to the domain",
		      d->domain);
		return;
	}
	d->tlsrpt.present = true;
	if (count > 1) {
		snprintf(d->tlsrpt.error, sizeof(d->tlsrpt.error),
		         "%zu TLS-RPT records: RFC 8460 3 asks for exactly one", count);
		dfind(d, DFIND_TLSRPT, "%s", d->tlsrpt.error);
		return;
	}
	if (tlsrpt_parse(rr->u.txt.text, rr->u.txt.len, &d->tlsrpt) != 0)
		dfind(d, DFIND_TLSRPT, "the TLS-RPT record is invalid: %s", d->tlsrpt.error);
}

/* MTA-STS TXT (RFC 8461 3.1). */
static void take_mtasts_txt(struct discovery *d, const struct dns_query *q)
{
	size_t count;
	const struct dns_rr *rr = txt_with(q, "v=STSv1", &count);

	answer_findings(d, q);
	if (!rr)
		return;
	d->mtasts.txt_present = true;
	if (count > 1) {
		snprintf(d->mtasts.txt_error, sizeof(d->mtasts.txt_error),
		         "%zu records start with v=STSv1: RFC 8461 3.1 treats that as no policy",
		         count);
		return;
	}
	mtasts_parse_txt(rr->u.txt.text, rr->u.txt.len, &d->mtasts);
}

/* ---- HTTPS fetches (MTA-STS policy, autoconfig) ---- */

struct fetch_ctx {
	const struct run_options *opt;
	struct tls_ctx *tls;
	struct disc_resolver *dr;
	int64_t deadline;
};

/* GETs url parts over HTTPS (tls true, verified chain and name required
 * when must_verify) or plain HTTP, through the first --proxy if any. */
static enum mp_status fetch(const struct fetch_ctx *fc, const char *host, uint16_t port, bool tls,
                            bool must_verify, const char *path, size_t max_body,
                            struct http_response *resp, struct mp_error *err)
{
	struct endpoint ep;
	struct probe_config cfg = fc->opt->probe;
	struct probe_result *scratch = calloc(1, sizeof(*scratch));
	struct stream *s = NULL, *t = NULL;
	struct tls_info info;
	int64_t deadline = deadline_min(fc->deadline, deadline_in(MP_HTTP_TIMEOUT_MS));
	enum mp_status st;

	memset(&info, 0, sizeof(info));
	if (!scratch)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	memset(&ep, 0, sizeof(ep));
	ep.proto = PROTO_SMTP; /* unused by the path */
	ep.port = port;
	snprintf(ep.host, sizeof(ep.host), "%s", host);
	ep.proxy = fc->opt->nproxies > 0 && !fc->opt->direct ? &fc->opt->proxies[0] : NULL;
	cfg.resolver = &fc->dr->r;
	result_init(scratch, &ep);
	st = probe_open_path(&ep, &cfg, deadline, scratch, NULL, &s, err);
	if (st != MP_OK)
		goto out;
	if (tls) {
		st = tls_start(fc->tls, s, host, host, deadline, &t, &info, err);
		if (st != MP_OK)
			goto out;
		s = t;
		if (must_verify && (!info.verified || !info.hostname_matched)) {
			st = mp_error_set(err, MP_ERR_TLS,
			                  "the certificate of %s:%u does not "
			                  "verify for that name (%s)",
			                  host, (unsigned)port,
			                  info.verify_error[0] ? info.verify_error
			                                       : "name mismatch");
			goto out;
		}
	}
	st = http_get(s, host, path, max_body, deadline, resp, err);
out:
	stream_close(s);
	tls_info_free(&info);
	result_free(scratch);
	free(scratch);
	return st;
}

/* MTA-STS policy (RFC 8461 3.3): HTTPS with a valid certificate, no
 * redirects, 200 only, text/plain, size-bounded. */
static void fetch_mtasts(struct discovery *d, const struct fetch_ctx *fc)
{
	struct mtasts_state *m = &d->mtasts;
	struct http_response resp;
	struct mp_error err;
	char host[MP_DNS_MAX_NAME + 16];

	if (!m->txt_present || !m->txt_valid) {
		if (m->txt_present)
			dfind(d, DFIND_MTASTS, "the _mta-sts TXT record is invalid: %s",
			      m->txt_error);
		else
			dfind(d, DFIND_MTASTS,
			      "no MTA-STS record at _mta-sts.%s: senders may "
			      "deliver without TLS or to an impostor",
			      d->domain);
		return;
	}
	snprintf(host, sizeof(host), "mta-sts.%s", d->domain);
	snprintf(m->url, sizeof(m->url), "https://%.200s:%u/.well-known/mta-sts.txt", host,
	         (unsigned)fc->opt->https_port);
	mp_error_clear(&err);
	memset(&resp, 0, sizeof(resp));
	if (fetch(fc, host, fc->opt->https_port, true, true, "/.well-known/mta-sts.txt",
	          MP_HTTP_MAX_BODY, &resp, &err) != MP_OK) {
		snprintf(m->policy_error, sizeof(m->policy_error), "%s", err.msg);
		dfind(d, DFIND_MTASTS, "the MTA-STS policy could not be fetched: %s", err.msg);
		goto out;
	}
	m->http_status = resp.status;
	if (resp.status != 200) {
		snprintf(m->policy_error, sizeof(m->policy_error), "HTTP status %d%s%.100s",
		         resp.status, resp.location[0] ? ", redirect (not followed) to " : "",
		         resp.location);
		dfind(d, DFIND_MTASTS,
		      "the MTA-STS policy was not served: %s (RFC 8461 3.3 "
		      "wants 200, and redirects are not followed)",
		      m->policy_error);
		goto out;
	}
	if (resp.truncated) {
		snprintf(m->policy_error, sizeof(m->policy_error),
		         "the policy is larger than %d bytes", MP_HTTP_MAX_BODY);
		dfind(d, DFIND_MTASTS, "%s", m->policy_error);
		goto out;
	}
	m->fetched = true;
	if (mtasts_parse_policy(resp.body, resp.body_len, m) != 0)
		dfind(d, DFIND_MTASTS, "the MTA-STS policy is invalid: %s", m->policy_error);
out:
	http_response_free(&resp);
}

/* Autoconfig, as Thunderbird fetches it: autoconfig.<domain> then the
 * domain's well-known URL, over HTTPS; plain HTTP on port 80 only when
 * neither answered (a finding). */
static void fetch_autoconfig(struct discovery *d, const struct fetch_ctx *fc)
{
	struct autoconfig_state *a = &d->autoconfig;
	char host1[MP_DNS_MAX_NAME + 16], path1[600];
	const char *path2 = "/.well-known/autoconfig/mail/config-v1.1.xml";
	struct {
		const char *host;
		const char *path;
		bool tls;
	} tries[3];
	char why[MP_MAX_ERROR] = "";

	snprintf(host1, sizeof(host1), "autoconfig.%s", d->domain);
	if (d->email[0]) {
		char enc[300];
		size_t o = 0;

		/* the address percent-encoded where it needs to be */
		for (size_t i = 0; d->email[i] && o + 4 < sizeof(enc); i++) {
			unsigned char c = (unsigned char)d->email[i];

			if (isalnum(c) || c == '.' || c == '-' || c == '_')
				enc[o++] = (char)c;
			else
				o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", c);
		}
		enc[o] = '\0';
		snprintf(path1, sizeof(path1), "/mail/config-v1.1.xml?emailaddress=%s", enc);
	} else {
		snprintf(path1, sizeof(path1), "/mail/config-v1.1.xml");
	}
	tries[0].host = host1;
	tries[0].path = path1;
	tries[0].tls = true;
	tries[1].host = d->domain;
	tries[1].path = path2;
	tries[1].tls = true;
	tries[2].host = host1;
	tries[2].path = path1;
	tries[2].tls = false;
	for (size_t i = 0; i < 3 && !a->fetched; i++) {
		struct http_response resp;
		struct mp_error err;
		uint16_t port = tries[i].tls ? fc->opt->https_port : 80;

		mp_error_clear(&err);
		memset(&resp, 0, sizeof(resp));
		if (deadline_expired(fc->deadline))
			break;
		if (fetch(fc, tries[i].host, port, tries[i].tls, false, tries[i].path,
		          MP_HTTP_MAX_BODY, &resp, &err) != MP_OK) {
			if (!why[0])
				snprintf(why, sizeof(why), "%s", err.msg);
			continue;
		}
		snprintf(a->url, sizeof(a->url), "%s://%s:%u%.200s",
		         tries[i].tls ? "https" : "http", tries[i].host, (unsigned)port,
		         tries[i].path);
		a->http_status = resp.status;
		if (resp.status == 200) {
			a->fetched = true;
			a->over_plain_http = !tries[i].tls;
			if (resp.truncated) {
				snprintf(a->error, sizeof(a->error),
				         "the file is larger than %d bytes: not read",
				         MP_HTTP_MAX_BODY);
				dfind(d, DFIND_AUTOCONFIG_BAD, "autoconfig at %s: %s", a->url,
				      a->error);
			} else if (autoconfig_parse(resp.body, resp.body_len, d->domain, a) != 0) {
				dfind(d, DFIND_AUTOCONFIG_BAD, "autoconfig at %s: %s", a->url,
				      a->error);
			}
			if (a->over_plain_http)
				dfind(
				    d, DFIND_AUTOCONFIG_PLAIN,
				    "autoconfig was only served over plain "
				    "HTTP (%s): anyone on the path can change a client's settings",
				    a->url);
		}
		http_response_free(&resp);
	}
	if (!a->fetched && why[0])
		snprintf(a->error, sizeof(a->error), "%s", why);
}

struct mtasts_job {
	struct discovery *d;
	const struct fetch_ctx *fc;
};

static void *mtasts_thread(void *arg)
{
	struct mtasts_job *j = arg;

	fetch_mtasts(j->d, j->fc);
	tls_thread_cleanup();
	return NULL;
}

/* The MTA-STS policy and autoconfig at once (they have nothing in common).
 * The findings they add from first on are put back in the order one after
 * the other would give: MTA-STS's, then autoconfig's. */
static void fetch_both(struct discovery *d, const struct fetch_ctx *fc)
{
	struct mtasts_job job = {d, fc};
	struct disc_finding *tmp;
	size_t first = d->nfindings, k = 0;
	pthread_t th;
	bool threaded = pthread_create(&th, NULL, mtasts_thread, &job) == 0;

	if (!threaded)
		fetch_mtasts(d, fc);
	fetch_autoconfig(d, fc);
	if (threaded)
		pthread_join(th, NULL);
	if (d->nfindings - first < 2 || !(tmp = calloc(d->nfindings - first, sizeof(*tmp))))
		return;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = first; i < d->nfindings; i++)
			if ((strcmp(d->findings[i].code, DFIND_MTASTS) == 0) == (pass == 0))
				tmp[k++] = d->findings[i];
	memcpy(&d->findings[first], tmp, k * sizeof(*tmp));
	free(tmp);
}

/* protocol and mode of an autoconfig server entry; -1 when not a mail one. */
static int autoconfig_endpoint(const struct autoconfig_server *s, enum protocol *p,
                               enum sec_mode *m)
{
	int proto = protocol_parse(s->type);

	if (proto < 0)
		return -1;
	*p = (enum protocol)proto;
	if (strcasecmp(s->socket_type, "SSL") == 0 || strcasecmp(s->socket_type, "TLS") == 0)
		*m = MODE_TLS;
	else if (strcasecmp(s->socket_type, "STARTTLS") == 0)
		*m = MODE_STARTTLS;
	else
		*m = MODE_PLAIN;
	return 0;
}

/* --guess: the usual names that resolve, each with the default matrix. */
static int guess(struct discovery *d, const struct run_options *opt, struct disc_resolver *dr,
                 int64_t deadline, struct eplist *l, struct mp_error *err)
{
	struct run_options *g = calloc(1, sizeof(*g));
	char names[NGUESS][MP_DNS_MAX_NAME + 8];
	struct endpoint *eps = NULL;
	size_t n = 0;
	int rc = -1;

	if (!g)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory"), -1;
	*g = *opt;
	g->ntargets = 0;
	g->auto_mode = false;
	for (size_t i = 0; i < NGUESS; i++) {
		char addr[1][MP_ADDR_TEXT];
		size_t got = 0;
		struct mp_error rerr;

		snprintf(names[i], sizeof(names[i]), "%s.%s", guess_prefixes[i], d->domain);
		if (dr_resolve(dr, names[i], opt->probe.family, deadline, addr, 1, &got, &rerr) ==
		        MP_OK &&
		    got > 0)
			g->targets[g->ntargets++] = names[i];
	}
	if (g->ntargets == 0) {
		dfind(d, DFIND_GUESSED,
		      "--guess: none of mail., imap., smtp., pop., pop3.%s "
		      "resolves",
		      d->domain);
		rc = 0;
		goto out;
	}
	if (plan_build(g, &eps, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (add_endpoint(l, eps[i].proto, eps[i].mode, eps[i].host, eps[i].port, "guess",
		                 eps[i].host) != 0)
			goto out;
	dfind(d, DFIND_GUESSED,
	      "the domain publishes no mail hosts: %zu guessed names "
	      "resolve and are probed",
	      g->ntargets);
	rc = 0;
out:
	free(eps);
	free(g);
	return rc;
}

int discover_run(const struct run_options *opt, struct dns_client *dns, struct tls_ctx *tls,
                 int64_t deadline, struct discovery *d, struct endpoint **eps, size_t *n,
                 struct mp_error *err)
{
	struct dns_query *q = NULL;
	struct disc_resolver dr;
	struct fetch_ctx fc;
	struct eplist l = {eps, n, *n};
	size_t nq = 0, before = *n;
	int64_t t0 = mono_ms();
	int rc = -1;
	char name[MP_DNS_MAX_NAME + 32];

	if (discover_parse_target(opt->discover, d, err) != 0)
		return -1;
	discover_resolver_init(&dr, dns, d);
	q = calloc(MP_DNS_MAX_QUERIES, sizeof(*q));
	if (!q)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory"), -1;

	/* Round 1, all at once: MX, the SRV services, the policy records. */
	dns_query_init(&q[nq++], d->domain, DNS_T_MX);
	for (size_t i = 0; i < NSRV; i++) {
		snprintf(name, sizeof(name), "%s.%s", srv_services[i].prefix, d->domain);
		dns_query_init(&q[nq++], name, DNS_T_SRV);
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", d->domain);
	dns_query_init(&q[nq++], name, DNS_T_TXT);
	snprintf(name, sizeof(name), "_smtp._tls.%s", d->domain);
	dns_query_init(&q[nq++], name, DNS_T_TXT);
	dns_resolve(dns, q, nq, deadline_min(deadline, deadline_in(MP_DNS_TIMEOUT_MS)));
	take_mx(d, &q[0]);
	take_mtasts_txt(d, &q[1 + NSRV]);
	take_tlsrpt(d, &q[2 + NSRV]);
	for (size_t i = 0; i < d->nmx; i++) {
		char rec[160];

		snprintf(rec, sizeof(rec), "MX %.120s", d->mx[i]);
		for (size_t k = 0; k < q[0].n; k++)
			if (strcasecmp(q[0].rr[k].u.mx.host, d->mx[i]) == 0) {
				snprintf(rec, sizeof(rec), "%.60s MX ", d->domain);
				dns_rr_text(&q[0].rr[k], rec + strlen(rec),
				            sizeof(rec) - strlen(rec));
				break;
			}
		if (add_endpoint(&l, PROTO_SMTP, MODE_STARTTLS, d->mx[i], opt->mx_port, "mx",
		                 rec) != 0)
			goto nomem;
	}
	for (size_t s = 0; s < NSRV; s++) {
		const struct dns_query *sq = &q[1 + s];

		answer_findings(d, sq);
		if (!usable(sq))
			continue;
		for (size_t i = 0; i < sq->n; i++) {
			const struct dns_rr *rr = &sq->rr[i];
			char rec[160], tname[128];

			snprintf(rec, sizeof(rec), "%.60s SRV ", sq->name);
			dns_rr_text(rr, rec + strlen(rec), sizeof(rec) - strlen(rec));
			safe_name(rr->u.srv.target, tname, sizeof(tname));
			if (!rr->u.srv.target[0]) {
				/* RFC 2782, RFC 6186 3.4: "." means "not offered" */
				dfind(d, DFIND_SRV_NOT_OFFERED,
				      "%s: the target \".\" says the "
				      "service is not offered",
				      sq->name);
				continue;
			}
			if (!probeable_name(rr->u.srv.target) || rr->u.srv.port == 0) {
				dfind(d, DFIND_DNS_FAILED, "%s names %s port %u: not usable",
				      sq->name, tname, (unsigned)rr->u.srv.port);
				continue;
			}
			if (add_endpoint(&l, srv_services[s].proto, srv_services[s].mode,
			                 rr->u.srv.target, rr->u.srv.port, "srv", rec) != 0)
				goto nomem;
		}
	}
	if (log_queries(d, q, nq) != 0)
		goto nomem;

	/* Round 2, all at once: the addresses of every host named so far and
	 * the TLSA records of the MX hosts (RFC 7672 2.2). */
	nq = 0;
	memset(q, 0, MP_DNS_MAX_QUERIES * sizeof(*q));
	for (size_t i = before; i < *n && nq + 2 <= MP_DNS_MAX_QUERIES; i++) {
		bool seen = false;

		for (size_t k = before; k < i && !seen; k++)
			seen = strcasecmp((*eps)[k].host, (*eps)[i].host) == 0;
		if (seen)
			continue;
		if (opt->probe.family != AF_INET6)
			dns_query_init(&q[nq++], (*eps)[i].host, DNS_T_A);
		if (opt->probe.family != AF_INET)
			dns_query_init(&q[nq++], (*eps)[i].host, DNS_T_AAAA);
	}
	for (size_t i = 0; i < d->nmx && nq < MP_DNS_MAX_QUERIES; i++) {
		snprintf(name, sizeof(name), "_%u._tcp.%s", 25u, d->mx[i]);
		dns_query_init(&q[nq++], name, DNS_T_TLSA);
	}
	dns_resolve(dns, q, nq, deadline_min(deadline, deadline_in(MP_DNS_TIMEOUT_MS)));
	for (size_t i = 0; i < nq; i++) {
		answer_findings(d, &q[i]);
		if (q[i].type == DNS_T_TLSA && d->ndane < MP_DISC_MAX_MX) {
			struct dane_state *ds = &d->dane[d->ndane++];

			snprintf(ds->mx, sizeof(ds->mx), "%s", q[i].name + strlen("_25._tcp."));
			ds->security = q[i].security;
			ds->validated = q[i].security == DNS_SEC_SECURE && q[i].status == MP_OK;
			for (size_t k = 0; usable(&q[i]) && k < q[i].n; k++) {
				const struct dns_rr *rr = &q[i].rr[k];

				/* RFC 7672 3.1.3: usages 2 (DANE-TA) and 3 (DANE-EE) */
				if (!rr->u.tlsa.truncated &&
				    dane_add_record(ds, rr->u.tlsa.usage, rr->u.tlsa.selector,
				                    rr->u.tlsa.mtype, rr->u.tlsa.data, rr->u.tlsa.len))
					ds->records++;
				else
					ds->unusable++;
			}
		}
	}
	/* An MX that is a CNAME (RFC 2181 10.3), or has no address. */
	for (size_t i = 0; i < d->nmx; i++) {
		char mname[128];
		bool any = false;

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
			any |= usable(&q[k]) && q[k].n > 0;
		}
		if (!any)
			dfind(d, DFIND_MX_NO_ADDRESS, "the MX %s has no usable address", mname);
	}
	if (log_queries(d, q, nq) != 0)
		goto nomem;
	d->dns_ms = mono_ms() - t0;

	/* HTTPS: the MTA-STS policy and autoconfig. */
	t0 = mono_ms();
	fc.opt = opt;
	fc.tls = tls;
	fc.dr = &dr;
	fc.deadline = deadline;
	fetch_both(d, &fc);
	d->http_ms = mono_ms() - t0;
	for (size_t i = 0; d->autoconfig.valid && i < d->autoconfig.n; i++) {
		const struct autoconfig_server *s = &d->autoconfig.servers[i];
		enum protocol p;
		enum sec_mode m;
		char rec[160];

		if (autoconfig_endpoint(s, &p, &m) != 0 || !probeable_name(s->hostname))
			continue;
		snprintf(rec, sizeof(rec), "%s %s %.100s:%u %s",
		         s->incoming ? "incomingServer" : "outgoingServer", s->type, s->hostname,
		         (unsigned)s->port, s->socket_type);
		if (add_endpoint(&l, p, m, s->hostname, s->port, "autoconfig", rec) != 0)
			goto nomem;
	}
	if (*n == before && opt->guess && guess(d, opt, &dr, deadline, &l, err) != 0)
		goto out;
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

/* ---- after the run ---- */

static bool answered(const struct probe_result *r)
{
	return r->status == MP_OK || r->greeting != NULL;
}

/* True when the MX host is covered by some pattern of the policy. */
static bool mx_listed(const struct mtasts_state *m, const char *mx)
{
	for (size_t i = 0; i < m->nmx; i++)
		if (mtasts_mx_matches(m->mx[i], mx))
			return true;
	return false;
}

void discover_findings(struct discovery *d, struct probe_result *res, size_t n)
{
	const struct mtasts_state *m = &d->mtasts;

	/* A published host none of whose endpoints answered. */
	for (size_t i = 0; i < n; i++) {
		const char *by = res[i].ep.discovered_by;
		bool any = false, first = true;

		if (!by)
			continue;
		for (size_t j = 0; j < n && !any; j++) {
			if (res[j].ep.discovered_by &&
			    strcasecmp(res[j].ep.host, res[i].ep.host) == 0) {
				any = answered(&res[j]);
				if (j < i)
					first = false;
			}
		}
		if (!any && first) {
			char h[128];

			safe_name(res[i].ep.host, h, sizeof(h));
			dfind(d, DFIND_PUBLISHED_DEAD,
			      "%s (published by %s) does not answer on any "
			      "address or port probed",
			      h, by);
		}
	}
	/* An SRV or autoconfig endpoint that fails while another of the same
	 * protocol works. */
	for (size_t i = 0; i < n; i++) {
		const struct probe_result *ok = NULL;
		const char *by = res[i].ep.discovered_by;

		if (!by || res[i].status == MP_OK ||
		    (strcmp(by, "srv") != 0 && strcmp(by, "autoconfig") != 0))
			continue;
		for (size_t j = 0; j < n && !ok; j++)
			if (res[j].ep.discovered_by && res[j].ep.proto == res[i].ep.proto &&
			    res[j].status == MP_OK)
				ok = &res[j];
		if (!ok)
			continue;
		result_add_finding(&res[i], DFIND_PUBLISHED_FAILS,
		                   "%s publishes %s port %u %s, which fails (%s), while %s port %u "
		                   "%s works",
		                   by, protocol_name(res[i].ep.proto), (unsigned)res[i].ep.port,
		                   mode_name(res[i].ep.mode), mp_status_name(res[i].status),
		                   protocol_name(ok->ep.proto), (unsigned)ok->ep.port,
		                   mode_name(ok->ep.mode));
		dfind(d, DFIND_PUBLISHED_FAILS,
		      "%s names %s port %u %s, which fails (%s), while "
		      "port %u %s works",
		      by, protocol_name(res[i].ep.proto), (unsigned)res[i].ep.port,
		      mode_name(res[i].ep.mode), mp_status_name(res[i].status),
		      (unsigned)ok->ep.port, mode_name(ok->ep.mode));
	}
	/* SRV and autoconfig disagree: per protocol, each endpoint one names
	 * must be named by the other. */
	for (size_t i = 0; i < n; i++) {
		const struct endpoint *a = &res[i].ep;
		bool other_has_proto = false, same = false;
		const char *other;

		if (!a->discovered_by || (strcmp(a->discovered_by, "srv") != 0 &&
		                          strcmp(a->discovered_by, "autoconfig") != 0))
			continue;
		other = strcmp(a->discovered_by, "srv") == 0 ? "autoconfig" : "srv";
		for (size_t j = 0; j < n; j++) {
			const struct endpoint *b = &res[j].ep;

			if (!b->discovered_by || strcmp(b->discovered_by, other) != 0 ||
			    b->proto != a->proto)
				continue;
			other_has_proto = true;
			same |= b->port == a->port && b->mode == a->mode &&
			        strcasecmp(b->host, a->host) == 0;
		}
		if (other_has_proto && !same) {
			char h[128];

			safe_name(a->host, h, sizeof(h));
			dfind(d, DFIND_SRV_AUTOCONFIG, "%s names %s %s:%u %s, which %s does not",
			      a->discovered_by, protocol_name(a->proto), h, (unsigned)a->port,
			      mode_name(a->mode), other);
		}
	}
	/* MTA-STS (RFC 8461 4.1, 4.2): every MX matches a pattern, and in
	 * enforce or testing mode presents a certificate valid for its name. */
	if (m->policy_valid) {
		for (size_t i = 0; i < d->nmx; i++)
			if (!mx_listed(m, d->mx[i])) {
				char h[128];

				safe_name(d->mx[i], h, sizeof(h));
				dfind(d, DFIND_MTASTS,
				      "the MX %s matches no mx pattern of the MTA-STS "
				      "policy: senders that enforce it will not deliver there",
				      h);
			}
		for (size_t i = 0; i < n; i++) {
			struct probe_result *r = &res[i];

			if (!r->ep.discovered_by || strcmp(r->ep.discovered_by, "mx") != 0)
				continue;
			if (!mx_listed(m, r->ep.host))
				result_add_finding(r, FINDING_MTASTS_MX_NOT_LISTED,
				                   "this MX matches no mx pattern of the MTA-STS "
				                   "policy (mode %s)",
				                   mtasts_mode_name(m->mode));
			if (m->mode == MTASTS_NONE || r->status != MP_OK)
				continue;
			if (!r->tls.done || !r->tls.verified || !r->tls.hostname_matched)
				result_add_finding(
				    r, FINDING_MTASTS_CERT,
				    "MTA-STS mode %s needs STARTTLS with a certificate "
				    "valid for the MX name (RFC 8461 4.2): %s",
				    mtasts_mode_name(m->mode),
				    !r->tls.done       ? "no TLS"
				    : !r->tls.verified ? "the chain does not verify"
				                       : "the name does not match");
		}
	}
	dane_findings(d, res, n);
}
