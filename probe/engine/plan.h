/* plan.h - from targets and matrix options to the list of endpoints. */
#ifndef MP_PLAN_H
#define MP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/model/options.h"
#include "core/model/result.h"

/* Parses an endpoint URL such as "smtp+starttls://127.0.0.1:2525" or
 * "imaps://[::1]". Returns 1 when arg is a valid URL (ep filled, proxy NULL),
 * 0 when arg is not a URL at all (no "://"), -1 when it is a bad URL (err). */
int plan_parse_url(const char *arg, struct endpoint *ep, struct mp_error *err);

/* Checks a bare host argument (name, IPv4, IPv6 with or without brackets)
 * and copies it without brackets. Returns 0 or -1 with err. */
int plan_parse_host(const char *arg, char *host, size_t hostsz, struct mp_error *err);

/* Builds every endpoint of the run (targets x matrix x paths) into a new
 * array, duplicates left out. Returns 0 or -1 with err (e.g. a port whose
 * protocol is unknown, a bad target on the command line). With -i FILE, a
 * bad line is an endpoint with invalid set (its reason: plan_build_why). */
int plan_build(const struct run_options *opt, struct endpoint **eps, size_t *n,
               struct mp_error *err);
/* plan_build, and the reasons of the invalid endpoints in their order: the
 * k-th endpoint with invalid set has (*whys)[k] (malloc'd strings, freed by
 * plan_whys_free). */
int plan_build_why(const struct run_options *opt, struct endpoint **eps, size_t *n, char ***whys,
                   size_t *nwhys, struct mp_error *err);
void plan_whys_free(char **whys, size_t n);

/* The plan as a stream: the command line's targets, then -i FILE's lines,
 * each (in --shard) expanded into its matrix and paths, endpoints seen
 * before left out. Memory: one target's endpoints, plus the set of
 * endpoints seen (16 bytes per distinct endpoint, see README). */
struct plan_iter;

/* Starts the plan (opens -i FILE). Returns NULL with err. */
struct plan_iter *plan_iter_new(const struct run_options *opt, struct mp_error *err);
/* The next endpoint. Returns 1 with *ep; when ep->invalid the target (a
 * line of -i FILE) is not one, ep->host holds its text made printable and
 * why[] (whysz bytes) says why. Returns 0 at the end, -1 with err on a bad
 * target given on the command line or a read error. */
int plan_next(struct plan_iter *it, struct endpoint *ep, char *why, size_t whysz,
              struct mp_error *err);
/* Endpoints given so far, and duplicates left out. */
size_t plan_count(const struct plan_iter *it);
void plan_iter_free(struct plan_iter *it);

/* The endpoint set of the de-duplication (exposed for tests): returns true
 * when ep was already in it (else adds it; false also when out of memory). */
struct epset {
	uint64_t *v;
	size_t n, cap;
};
bool epset_seen(struct epset *s, const struct endpoint *ep, const struct run_options *opt);
void epset_free(struct epset *s);

#endif
