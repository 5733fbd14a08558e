/* dns.c - a thin DNS client over libunbound (dns.h). */
#include "core/dns.h"
#include "core/deadline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
#include <unistd.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

/* The root's trust anchor as Debian's dns-root-data ships it. */
#define ROOT_ANCHOR_FILE "/usr/share/dns/root.key"

struct dns_client {
	struct ub_ctx *ctx;
	pthread_mutex_t lock;
};

/* One query in flight: where its answer goes. */
struct inflight {
	struct dns_query *q;
	int async_id;
	int64_t t0;
	bool pending;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

int dns_parse_name(const uint8_t *p, size_t len, char *out, size_t size)
{
	size_t i = 0, o = 0, wire = 0;

	if (size == 0)
		return -1;
	out[0] = '\0';
	for (;;) {
		uint8_t l;

		if (i >= len)
			return -1;
		l = p[i++];
		wire++;
		if (l == 0)
			break;
		/* Compression pointers (and the reserved 01/10 forms) have no
		 * place in RDATA as libunbound hands it over (RFC 1035 4.1.4). */
		if (l & 0xC0)
			return -1;
		if (i + l > len || (wire += l) > 255)
			return -1;
		if (o > 0) {
			if (o + 1 >= size)
				return -1;
			out[o++] = '.';
		}
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[i + k];

			if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
				if (o + 1 >= size)
					return -1;
				out[o++] = (char)c;
			} else {
				/* RFC 1035 5.1: \DDD for anything else */
				if (o + 4 >= size)
					return -1;
				snprintf(out + o, size - o, "\\%03u", c);
				o += 4;
			}
		}
		i += l;
		out[o] = '\0';
	}
	out[o] = '\0';
	return (int)i;
}

int dns_parse_rdata(uint16_t type, const uint8_t *rd, size_t len, struct dns_rr *rr)
{
	int used;

	memset(&rr->u, 0, sizeof(rr->u));
	rr->type = type;
	switch (type) {
	case DNS_T_A:
		if (len != 4 || !inet_ntop(AF_INET, rd, rr->u.addr, sizeof(rr->u.addr)))
			return -1;
		return 0;
	case DNS_T_AAAA:
		if (len != 16 || !inet_ntop(AF_INET6, rd, rr->u.addr, sizeof(rr->u.addr)))
			return -1;
		return 0;
	case DNS_T_CNAME:
		used = dns_parse_name(rd, len, rr->u.name, sizeof(rr->u.name));
		return used < 0 || (size_t)used != len ? -1 : 0;
	case DNS_T_MX: /* RFC 1035 3.3.9 */
		if (len < 3)
			return -1;
		rr->u.mx.preference = get16(rd);
		used = dns_parse_name(rd + 2, len - 2, rr->u.mx.host, sizeof(rr->u.mx.host));
		return used < 0 || (size_t)used != len - 2 ? -1 : 0;
	case DNS_T_SRV: /* RFC 2782 */
		if (len < 7)
			return -1;
		rr->u.srv.priority = get16(rd);
		rr->u.srv.weight = get16(rd + 2);
		rr->u.srv.port = get16(rd + 4);
		used = dns_parse_name(rd + 6, len - 6, rr->u.srv.target, sizeof(rr->u.srv.target));
		return used < 0 || (size_t)used != len - 6 ? -1 : 0;
	case DNS_T_TXT: { /* RFC 1035 3.3.14: one or more <character-string> */
		size_t i = 0;

		if (len == 0)
			return -1;
		while (i < len) {
			size_t l = rd[i++];

			if (i + l > len)
				return -1;
			for (size_t k = 0; k < l; k++) {
				if (rd[i + k] == '\0')
					rr->u.txt.has_nul = true;
				if (rr->u.txt.len < MP_DNS_MAX_TXT)
					rr->u.txt.text[rr->u.txt.len++] = (char)rd[i + k];
				else
					rr->u.txt.truncated = true;
			}
			i += l;
		}
		rr->u.txt.text[rr->u.txt.len] = '\0';
		return 0;
	}
	case DNS_T_TLSA: /* RFC 6698 2.1 */
		if (len < 4)
			return -1;
		rr->u.tlsa.usage = rd[0];
		rr->u.tlsa.selector = rd[1];
		rr->u.tlsa.mtype = rd[2];
		rr->u.tlsa.len = len - 3;
		if (rr->u.tlsa.len > MP_DNS_MAX_TLSA_DATA) {
			rr->u.tlsa.len = MP_DNS_MAX_TLSA_DATA;
			rr->u.tlsa.truncated = true;
		}
		memcpy(rr->u.tlsa.data, rd + 3, rr->u.tlsa.len);
		/* the whole data, however long, for an exact match (type 0) */
		rr->u.tlsa.full_len = len - 3;
		if (wc_Sha512Hash(rd + 3, (word32)(len - 3), rr->u.tlsa.full_sha512) != 0)
			return -1;
		return 0;
	default:
		return -1;
	}
}

const char *dns_type_name(uint16_t type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_SRV:
		return "SRV";
	case DNS_T_TLSA:
		return "TLSA";
	default:
		return "UNKNOWN";
	}
}

const char *dns_security_name(enum dns_security s)
{
	switch (s) {
	case DNS_SEC_SECURE:
		return "secure";
	case DNS_SEC_BOGUS:
		return "bogus";
	default:
		return "insecure";
	}
}

/* Appends text[0..len) to out as a quoted string, \DDD for what is not printable. */
static void quoted(const char *text, size_t len, char *out, size_t size)
{
	size_t o = 0;

	if (size < 3) {
		if (size)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (size_t i = 0; i < len && o + 6 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else {
			snprintf(out + o, size - o, "\\%03u", c);
			o += 4;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

void dns_rr_text(const struct dns_rr *rr, char *out, size_t size)
{
	switch (rr->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		snprintf(out, size, "%s", rr->u.addr);
		break;
	case DNS_T_CNAME:
		snprintf(out, size, "%s.", rr->u.name);
		break;
	case DNS_T_MX:
		snprintf(out, size, "%u %s.", (unsigned)rr->u.mx.preference, rr->u.mx.host);
		break;
	case DNS_T_SRV:
		snprintf(out, size, "%u %u %u %s.", (unsigned)rr->u.srv.priority,
		         (unsigned)rr->u.srv.weight, (unsigned)rr->u.srv.port, rr->u.srv.target);
		break;
	case DNS_T_TXT:
		quoted(rr->u.txt.text, rr->u.txt.len, out, size);
		break;
	case DNS_T_TLSA: {
		size_t o;

		snprintf(out, size, "%u %u %u ", rr->u.tlsa.usage, rr->u.tlsa.selector,
		         rr->u.tlsa.mtype);
		o = strlen(out);
		for (size_t i = 0; i < rr->u.tlsa.len && o + 3 < size; i++, o += 2)
			snprintf(out + o, size - o, "%02x", rr->u.tlsa.data[i]);
		break;
	}
	default:
		snprintf(out, size, "?");
	}
}

void dns_query_init(struct dns_query *q, const char *name, uint16_t type)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->type = type;
	q->status = MP_ERR_DNS;
	q->time_ms = -1;
}

void dns_query_free(struct dns_query *q)
{
	free(q->rr);
	q->rr = NULL;
	q->n = 0;
}

/* Fills q from a libunbound result. */
static void take_result(struct dns_query *q, int err, struct ub_result *r)
{
	q->done = true;
	if (err != 0 || !r) {
		q->status = MP_ERR_DNS;
		snprintf(q->error, sizeof(q->error), "%s", ub_strerror(err));
		return;
	}
	q->status = MP_OK;
	q->rcode = r->rcode;
	q->nxdomain = r->nxdomain != 0;
	/* A bogus answer still has data (havedata = 1): the flags decide. */
	q->security = r->bogus ? DNS_SEC_BOGUS : r->secure ? DNS_SEC_SECURE : DNS_SEC_INSECURE;
	if (r->bogus && r->why_bogus)
		snprintf(q->why_bogus, sizeof(q->why_bogus), "%s", r->why_bogus);
	if (r->canonname && r->qname && strcasecmp(r->canonname, r->qname) != 0) {
		size_t l;

		snprintf(q->canonname, sizeof(q->canonname), "%s", r->canonname);
		l = strlen(q->canonname);
		if (l > 0 && q->canonname[l - 1] == '.')
			q->canonname[l - 1] = '\0';
	}
	if (r->rcode == 2 && !r->bogus)
		snprintf(q->error, sizeof(q->error), "the server failed (SERVFAIL)");
	for (size_t i = 0; r->havedata && r->data && r->data[i]; i++)
		q->n_total++;
	if (q->n_total == 0)
		return;
	q->rr = calloc(q->n_total < MP_DNS_MAX_RRS ? q->n_total : MP_DNS_MAX_RRS, sizeof(*q->rr));
	if (!q->rr) {
		q->status = MP_ERR_INTERNAL;
		snprintf(q->error, sizeof(q->error), "out of memory");
		return;
	}
	for (size_t i = 0; i < q->n_total && q->n < MP_DNS_MAX_RRS; i++) {
		struct dns_rr *rr = &q->rr[q->n];

		if (dns_parse_rdata((uint16_t)r->qtype, (const uint8_t *)r->data[i],
		                    (size_t)r->len[i], rr) != 0) {
			q->n_bad++;
			continue;
		}
		rr->ttl = r->ttl > 0 ? (uint32_t)r->ttl : 0;
		q->n++;
	}
}

static void on_answer(void *arg, int err, struct ub_result *r)
{
	struct inflight *f = arg;

	take_result(f->q, err, r);
	f->q->time_ms = mono_ms() - f->t0;
	f->pending = false;
	if (r)
		ub_resolve_free(r);
}

struct dns_client *dns_new(const char *resolver, const char *anchor_file, struct mp_error *err)
{
	struct dns_client *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->ctx = ub_ctx_create();
	if (!c->ctx) {
		mp_error_set(err, MP_ERR_INTERNAL, "cannot create the DNS resolver context");
		goto fail;
	}
	/* Answers come back through threads, not a forked process. */
	ub_ctx_async(c->ctx, 1);
	if (resolver) {
		rc = ub_ctx_set_fwd(c->ctx, resolver);
		if (rc != 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "--resolver %.80s: %s", resolver,
			             ub_strerror(rc));
			goto fail;
		}
	} else {
		rc = ub_ctx_resolvconf(c->ctx, NULL);
		if (rc != 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "cannot read the system's resolvers: %s",
			             ub_strerror(rc));
			goto fail;
		}
	}
	if (anchor_file) {
		rc = ub_ctx_add_ta_file(c->ctx, anchor_file);
		if (rc != 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "--trust-anchor %.100s: %s", anchor_file,
			             ub_strerror(rc));
			goto fail;
		}
	} else if (access(ROOT_ANCHOR_FILE, R_OK) == 0) {
		ub_ctx_add_ta_file(c->ctx, ROOT_ANCHOR_FILE);
	}
	/* libunbound answers these special-use names itself (RFC 6761): a
	 * given resolver may well serve them (test zones). This finalizes the
	 * context, so it comes last. */
	if (resolver) {
		ub_ctx_zone_remove(c->ctx, "test.");
		ub_ctx_zone_remove(c->ctx, "invalid.");
	}
	return c;
fail:
	dns_free(c);
	return NULL;
}

void dns_free(struct dns_client *c)
{
	if (!c)
		return;
	if (c->ctx)
		ub_ctx_delete(c->ctx);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void dns_resolve(struct dns_client *c, struct dns_query *q, size_t n, int64_t deadline)
{
	struct inflight *f = NULL;
	size_t pending = 0;

	if (n == 0)
		return;
	f = calloc(n, sizeof(*f));
	if (!f) {
		for (size_t i = 0; i < n; i++)
			snprintf(q[i].error, sizeof(q[i].error), "out of memory");
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n; i++) {
		int rc;

		f[i].q = &q[i];
		f[i].t0 = mono_ms();
		f[i].pending = true;
		rc = ub_resolve_async(c->ctx, q[i].name, q[i].type, 1 /* IN */, &f[i], on_answer,
		                      &f[i].async_id);
		if (rc != 0) {
			f[i].pending = false;
			q[i].done = true;
			q[i].status = MP_ERR_DNS;
			snprintf(q[i].error, sizeof(q[i].error), "%s", ub_strerror(rc));
			continue;
		}
		pending++;
	}
	while (pending > 0) {
		struct pollfd pfd = {.fd = ub_fd(c->ctx), .events = POLLIN};
		int rc;

		if (deadline_expired(deadline))
			break;
		rc = poll(&pfd, 1, deadline_left_ms(deadline));
		if (rc < 0 && errno != EINTR)
			break;
		if (rc > 0 && ub_process(c->ctx) != 0)
			break;
		pending = 0;
		for (size_t i = 0; i < n; i++)
			pending += f[i].pending;
	}
	for (size_t i = 0; i < n; i++) {
		if (!f[i].pending)
			continue;
		ub_cancel(c->ctx, f[i].async_id);
		q[i].done = true;
		q[i].status = MP_ERR_DNS;
		snprintf(q[i].error, sizeof(q[i].error), "no answer in time");
	}
	pthread_mutex_unlock(&c->lock);
	free(f);
}
