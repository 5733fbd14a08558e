/* addrs.h - every address of a name: one endpoint per A/AAAA address, and
 * the findings that compare the addresses of one name. */
#ifndef MP_ADDRS_H
#define MP_ADDRS_H

#include <stddef.h>
#include <stdint.h>
#include "core/model/result.h"

/* Numeric addresses of one name, as a resolver returns them. */
#define MP_ADDR_TEXT 64

/* A way to resolve names: net_resolve (the system's resolver, getaddrinfo)
 * when NULL, else the DNS client (core/dns.h) through probe/discover.c.
 * resolve() fills up to max numeric addresses of host for family (AF_UNSPEC,
 * AF_INET, AF_INET6) before deadline; returns MP_OK or MP_ERR_DNS with err. */
struct addr_resolver {
	enum mp_status (*resolve)(void *arg, const char *host, int family, int64_t deadline,
	                          char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
	                          struct mp_error *err);
	void *arg;
};

/* Resolves host with r (NULL: net_resolve). Numeric hosts are returned as they are. */
enum mp_status addrs_resolve(const struct addr_resolver *r, const char *host, int family,
                             int64_t deadline, char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
                             struct mp_error *err);

/* Replaces each direct endpoint whose host is a name by one endpoint per
 * address of that name (ep.address set), in the order the resolver gave
 * them; each distinct name is resolved once. A name that does not resolve
 * keeps its one endpoint (the probe reports why). Endpoints through a proxy,
 * with an address already, or with a numeric host stay as they are.
 * *eps is reallocated. Returns 0, or -1 with err (out of memory, or more
 * than MP_MAX_ENDPOINTS endpoints). */
int addrs_expand(struct endpoint **eps, size_t *n, const struct addr_resolver *r, int family,
                 int64_t deadline, struct mp_error *err);

/* After the run: flags an address that could not be reached while another
 * address of the same name and endpoint works ("IPv6 address ::1 unreachable
 * while IPv4 works"), and addresses of one name that differ (certificate,
 * TLS version, capabilities). */
void addrs_findings(struct probe_result *res, size_t n);

#endif
