/* disc_int.h - what the files of discovery share (not for other layers):
 * the run's context, the list of sources the discovery loop walks, and the
 * helpers every source uses (findings, the query log, endpoints). */
#ifndef MP_DISC_INT_H
#define MP_DISC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/dns.h"
#include "core/model/domain.h"
#include "core/model/result.h"
#include "probe/engine/addrs.h"

struct run_options;
struct tls_ctx;
struct disc_resolver;

/* The endpoints discovery appends to (the caller's array). */
struct eplist {
	struct endpoint **v;
	size_t *n;
	size_t cap;
};

/* One discovery run. */
struct disc_ctx {
	const struct run_options *opt;
	struct dns_client *dns;
	struct tls_ctx *tls;
	struct disc_resolver *dr;
	int64_t deadline;
	struct discovery *d;
	struct eplist l;
	size_t before; /* endpoints there before the run */
};

/* A discovery source: what it asks DNS in the first round (all sources'
 * questions at once), what the answers mean, what it fetches over HTTPS
 * (all sources' fetches at once, after the DNS rounds) and the endpoints
 * it adds from that. Any hook may be NULL. Adding a source is one entry
 * in disc_sources[] (discover.c). */
struct disc_source {
	const char *name; /* "mx", "srv", ...: discovered_by of its endpoints */
	/* appends its questions to q (room left), returns how many */
	size_t (*ask)(struct disc_ctx *c, struct dns_query *q, size_t room);
	/* reads the answers to its questions; -1 when out of memory */
	int (*take)(struct disc_ctx *c, const struct dns_query *q, size_t n);
	/* fetches what it needs over HTTP(S); runs in a thread of its own */
	void (*fetch)(struct disc_ctx *c);
	/* adds endpoints from what it fetched; -1 with err */
	int (*endpoints)(struct disc_ctx *c, struct mp_error *err);
	/* only when no other source named an endpoint (--guess) */
	bool last_resort;
};

/* The sources, in the order they are walked (disc_dns.c, disc_fetch.c). */
extern const struct disc_source disc_src_mx, disc_src_mtasts, disc_src_tlsrpt, disc_src_srv,
    disc_src_autoconfig, disc_src_guess;

/* The MTA-STS policy (disc_fetch.c): a source's fetch hook. */
void disc_fetch_mtasts(struct disc_ctx *c);

/* Adds a finding of the domain (bounded; the same message once; thread-safe). */
void dfind(struct discovery *d, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A host name as DNS gives it, safe to quote in a message: printable, bounded. */
void safe_name(const char *in, char *out, size_t size);
/* Notes what went wrong with an answer, as a finding of the domain. */
void answer_findings(struct discovery *d, const struct dns_query *q);
/* True when the answer may be used: answered, NOERROR and not bogus. */
bool disc_usable(const struct dns_query *q);
/* A name DNS gave us that we can probe: letters, digits, '-', '_', '.'. */
bool probeable_name(const char *name);
/* Adds one endpoint, or when the same one is there already, adds by to
 * the sources that named it. Returns 0, or -1 when out of memory. */
int add_endpoint(struct eplist *l, enum protocol proto, enum sec_mode mode, const char *host,
                 uint16_t port, const char *by, const char *record);
/* Resolves host's addresses through the run's resolver (logged). */
enum mp_status disc_resolve(struct disc_resolver *dr, const char *host, int family,
                            int64_t deadline, char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
                            struct mp_error *err);

#endif
