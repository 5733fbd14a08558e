/* addrs.c - every address of a name: one endpoint per A/AAAA address, and
 * the findings that compare the addresses of one name. */
#include "probe/engine/addrs.h"
#include "core/net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Most addresses probed per name (a name with more is cut, and says so in
 * the transcript of nothing: the DNS answer in "discovery" shows them). */
#define MAX_ADDRS_PER_NAME 16

enum mp_status addrs_resolve(const struct addr_resolver *r, const char *host, int family,
                             int64_t deadline, char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
                             struct mp_error *err)
{
	struct net_addr na[MAX_ADDRS_PER_NAME];
	size_t got = 0;
	enum mp_status st;

	*n = 0;
	if (r && r->resolve && !net_family_name(host))
		return r->resolve(r->arg, host, family, deadline, out, max, n, err);
	if (max > MAX_ADDRS_PER_NAME)
		max = MAX_ADDRS_PER_NAME;
	st = net_resolve(host, 0, family, deadline, na, max, &got, err);
	if (st != MP_OK)
		return st;
	for (size_t i = 0; i < got; i++)
		snprintf(out[(*n)++], MP_ADDR_TEXT, "%s", na[i].text);
	return MP_OK;
}

/* One resolved name: its addresses ("" resolution failed). */
struct name_addrs {
	const char *host;
	char addr[MAX_ADDRS_PER_NAME][MP_ADDR_TEXT];
	size_t n;
};

static bool expands(const struct endpoint *ep)
{
	return !ep->invalid && !ep->proxy && !ep->address[0] && !net_family_name(ep->host);
}

/* Removes repeated addresses (getaddrinfo may list one twice). */
static void dedup(struct name_addrs *na)
{
	size_t k = 0;

	for (size_t i = 0; i < na->n; i++) {
		bool seen = false;

		for (size_t j = 0; j < k && !seen; j++)
			seen = strcmp(na->addr[j], na->addr[i]) == 0;
		if (!seen && k != i)
			memcpy(na->addr[k], na->addr[i], MP_ADDR_TEXT);
		if (!seen)
			k++;
	}
	na->n = k;
}

int addrs_expand(struct endpoint **eps, size_t *n, const struct addr_resolver *r, int family,
                 int64_t deadline, struct mp_error *err)
{
	struct name_addrs *names = NULL;
	struct endpoint *out = NULL;
	size_t nnames = 0, total = 0, k = 0;
	int rc = -1;

	names = calloc(*n ? *n : 1, sizeof(*names));
	if (!names)
		goto nomem;
	for (size_t i = 0; i < *n; i++) {
		const struct endpoint *ep = &(*eps)[i];
		bool known = false;

		if (!expands(ep))
			continue;
		for (size_t j = 0; j < nnames && !known; j++)
			known = strcmp(names[j].host, ep->host) == 0;
		if (known)
			continue;
		names[nnames].host = ep->host;
		{
			struct mp_error rerr;

			mp_error_clear(&rerr);
			if (addrs_resolve(r, ep->host, family, deadline, names[nnames].addr,
			                  MAX_ADDRS_PER_NAME, &names[nnames].n, &rerr) != MP_OK)
				names[nnames].n = 0;
		}
		dedup(&names[nnames]);
		nnames++;
	}
	for (size_t i = 0; i < *n; i++) {
		size_t m = 1;

		for (size_t j = 0; expands(&(*eps)[i]) && j < nnames; j++)
			if (strcmp(names[j].host, (*eps)[i].host) == 0 && names[j].n > 0)
				m = names[j].n;
		total += m;
	}
	if (total > MP_MAX_ENDPOINTS) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "%zu endpoints once every address is counted (at most %d); narrow "
		             "the matrix or use --ipv4 / --ipv6",
		             total, MP_MAX_ENDPOINTS);
		goto out;
	}
	out = calloc(total ? total : 1, sizeof(*out));
	if (!out)
		goto nomem;
	for (size_t i = 0; i < *n; i++) {
		const struct endpoint *ep = &(*eps)[i];
		const struct name_addrs *na = NULL;

		for (size_t j = 0; expands(ep) && j < nnames && !na; j++)
			if (strcmp(names[j].host, ep->host) == 0 && names[j].n > 0)
				na = &names[j];
		if (!na) {
			out[k++] = *ep;
			continue;
		}
		for (size_t a = 0; a < na->n; a++) {
			out[k] = *ep;
			snprintf(out[k].address, sizeof(out[k].address), "%s", na->addr[a]);
			k++;
		}
	}
	free(*eps);
	*eps = out;
	*n = k;
	out = NULL;
	rc = 0;
	goto out;
nomem:
	mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
out:
	free(out);
	free(names);
	return rc;
}

/* Same endpoint of the same name, another address. */
static bool same_but_address(const struct probe_result *a, const struct probe_result *b)
{
	return a->ep.proto == b->ep.proto && a->ep.port == b->ep.port && a->ep.mode == b->ep.mode &&
	       a->ep.proxy == b->ep.proxy && a->ep.address[0] && b->ep.address[0] &&
	       strcmp(a->ep.host, b->ep.host) == 0 && strcmp(a->ep.address, b->ep.address) != 0;
}

/* A failure to open the connection at all (as opposed to what the server said). */
static bool unreachable(const struct probe_result *r)
{
	return r->status == MP_ERR_REFUSED || r->status == MP_ERR_UNREACHABLE ||
	       r->status == MP_ERR_CONNECT_TIMEOUT || r->status == MP_ERR_NETWORK;
}

static const char *family_label(const char *addr)
{
	const char *f = net_family_name(addr);

	return f && strcmp(f, "ipv6") == 0 ? "IPv6" : "IPv4";
}

/* True when two lists hold the same strings (in any order). */
static bool same_list(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!strlist_has(b, a->v[i]))
			return false;
	return true;
}

/* What differs between two working addresses of one endpoint, "" if nothing. */
static void differences(const struct probe_result *a, const struct probe_result *b, char *out,
                        size_t size)
{
	const struct tls_info *ta = &a->tls, *tb = &b->tls;
	const struct strlist *ca = a->caps_after.n ? &a->caps_after : &a->caps_before;
	const struct strlist *cb = b->caps_after.n ? &b->caps_after : &b->caps_before;
	size_t used = 0;

	out[0] = '\0';
	if (ta->done && tb->done && ta->chain_len > 0 && tb->chain_len > 0 &&
	    strcmp(ta->chain[0].fingerprint_sha256, tb->chain[0].fingerprint_sha256) != 0) {
		snprintf(out + used, size - used, "%scertificate (SHA-256 %.16s... and %.16s...)",
		         used ? ", " : "", ta->chain[0].fingerprint_sha256,
		         tb->chain[0].fingerprint_sha256);
		used = strlen(out);
	}
	if (ta->done && tb->done && strcmp(ta->version, tb->version) != 0) {
		snprintf(out + used, size - used, "%sTLS version (%s and %s)", used ? ", " : "",
		         ta->version, tb->version);
		used = strlen(out);
	}
	if (ta->done != tb->done) {
		snprintf(out + used, size - used, "%sTLS (on one only)", used ? ", " : "");
		used = strlen(out);
	}
	if (!same_list(ca, cb))
		snprintf(out + used, size - used, "%scapabilities", used ? ", " : "");
}

void addrs_findings(struct probe_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct probe_result *works = NULL, *first_ok = NULL;
		char what[MP_MAX_ERROR];

		if (!res[i].ep.address[0])
			continue;
		for (size_t j = 0; j < n; j++) {
			if (j == i || !same_but_address(&res[i], &res[j]) || res[j].status != MP_OK)
				continue;
			if (!works || strcmp(family_label(res[j].ep.address),
			                     family_label(res[i].ep.address)) != 0)
				works = &res[j];
			if (!first_ok || j < (size_t)(first_ok - res))
				first_ok = &res[j];
		}
		if (works && unreachable(&res[i])) {
			result_add_finding(&res[i], FINDING_ADDRESS_UNREACHABLE,
			                   "%s address %s of %.100s is unreachable (%s) while %s "
			                   "address %s works",
			                   family_label(res[i].ep.address), res[i].ep.address,
			                   res[i].ep.host, mp_status_name(res[i].status),
			                   family_label(works->ep.address), works->ep.address);
			continue;
		}
		/* Each working address is compared with the first working one. */
		if (res[i].status != MP_OK || !first_ok || first_ok > &res[i])
			continue;
		differences(first_ok, &res[i], what, sizeof(what));
		if (what[0])
			result_add_finding(&res[i], FINDING_ADDRESSES_DIFFER,
			                   "addresses of %.100s differ: %s and %s show a different "
			                   "%s",
			                   res[i].ep.host, first_ok->ep.address, res[i].ep.address,
			                   what);
	}
}
