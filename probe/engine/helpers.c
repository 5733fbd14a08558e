/* helpers.c - the helper connections of one endpoint, after (or beside) its
 * probe: logins (auth.h), --enumerate-tls version attempts (tlsprobe.h) and
 * active checks (checks.h). Each takes its extra threads from the pool's
 * spare ones (and its host's --per-host slots), and one interrupt path
 * shuts down the sockets of all three. */
#include "probe/engine/pool.h"
#include "probe/engine/engine.h"
#include "probe/dialects/auth.h"
#include "probe/dialects/dialect.h"
#include "probe/engine/checks.h"
#include "probe/engine/probe.h"
#include "core/deadline.h"
#include "core/helper_runner.h"
#include "core/threadmem.h"
#include "core/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The login attempts of one endpoint (auth.h), run on the helper runner
 * by its worker and by up to as many extra threads as the pool has spare,
 * so that no more than --concurrency connections are open at once. */
struct login_set {
	struct pool *p;
	size_t ep;
	size_t idx[AUTH_METHOD_COUNT]; /* attempts: indexes into res->auth_results */
	size_t n;
	const struct tls_resume *resume; /* the probe's TLS session, or NULL */
	struct helper_run *hr;
};

/* helper_spec.run: attempt k. */
static void login_job(void *arg, size_t k, volatile int *fd_slot)
{
	struct login_set *ls = arg;
	struct pool *p = ls->p;
	struct auth_result *a = &p->res[ls->ep].auth_results[ls->idx[k]];

	probe_attempt_login(&p->eps[ls->ep], p->cfg, p->deadline, a, fd_slot, ls->resume);
	/* A socket shut down by the interrupt looks like a server that
	 * closed: say what happened. */
	if (p->stop && *p->stop && a->status == AUTH_ST_ERROR)
		snprintf(a->detail, sizeof(a->detail), "interrupted during the login");
}

/* helper_spec.cancelled: auto mode no longer needs the endpoint. */
static bool login_cancelled(void *arg)
{
	struct login_set *ls = arg;
	bool skip;

	pthread_mutex_lock(&ls->p->lock);
	skip = ls->p->skip && ls->p->skip[ls->ep];
	pthread_mutex_unlock(&ls->p->lock);
	return skip;
}

/* Threads (and so connections) for endpoint i's helpers: up to want of the
 * pool's spare threads, and with --per-host no more than the free slots of
 * its host (the endpoint holds one already): never waits, the endpoint's
 * own thread does the rest in turn. */
size_t take_helpers(struct pool *p, size_t i, size_t want)
{
	struct host_use *h;
	size_t got;

	pthread_mutex_lock(&p->lock);
	got = want < p->spare ? want : p->spare;
	if (p->prm->per_host > 0) {
		h = host_find(p, &p->eps[i]);
		if (!h || h->count >= p->prm->per_host)
			got = 0;
		else if (got > (size_t)(p->prm->per_host - h->count))
			got = (size_t)(p->prm->per_host - h->count);
		if (h)
			h->count += (int)got;
	}
	p->spare -= got;
	pthread_mutex_unlock(&p->lock);
	return got;
}

/* Gives back n threads that take_helpers gave endpoint i. */
void give_helpers(struct pool *p, size_t i, size_t n)
{
	struct host_use *h;

	if (n == 0)
		return;
	pthread_mutex_lock(&p->lock);
	p->spare += n;
	h = p->prm->per_host > 0 ? host_find(p, &p->eps[i]) : NULL;
	if (h)
		h->count -= (int)n;
	pthread_cond_broadcast(&p->host_free);
	pthread_mutex_unlock(&p->lock);
}

/* After endpoint i's probe: plans its logins and runs them concurrently,
 * with extra threads taken from the pool's spare ones. Past the deadline an
 * attempt keeps its "not attempted". */
void run_logins(struct pool *p, size_t i, const struct tls_resume *resume)
{
	struct probe_result *res = &p->res[i];
	struct helper_spec spec;
	struct login_set ls;
	size_t got;

	if (auth_plan(p->cfg->auth, res) == 0)
		return;
	memset(&ls, 0, sizeof(ls));
	ls.p = p;
	ls.ep = i;
	ls.resume = resume;
	for (size_t k = 0; k < res->nauth && ls.n < AUTH_METHOD_COUNT; k++)
		if (res->auth_results[k].attempt)
			ls.idx[ls.n++] = k;
	memset(&spec, 0, sizeof(spec));
	spec.njobs = ls.n;
	spec.run = login_job;
	spec.arg = &ls;
	spec.stop = p->stop;
	spec.cancelled = login_cancelled;
	spec.deadline = p->deadline;
	ls.hr = helper_run_new(&spec);
	if (!ls.hr) {
		for (size_t k = 0; k < ls.n; k++)
			auth_attempt_failed(&res->auth_results[ls.idx[k]], MP_ERR_INTERNAL,
			                    "out of memory");
		return;
	}
	got = take_helpers(p, i, ls.n - 1);
	pthread_mutex_lock(&p->lock);
	p->logins[i] = &ls;
	pthread_mutex_unlock(&p->lock);
	helper_run_start(ls.hr, got);
	helper_run_finish(ls.hr);
	pthread_mutex_lock(&p->lock);
	p->logins[i] = NULL;
	pthread_mutex_unlock(&p->lock);
	helper_run_free(ls.hr);
	give_helpers(p, i, got);
}

/* Shuts down the sockets of endpoint i's running logins. Call with the lock held. */
static void interrupt_logins(struct pool *p, size_t i)
{
	struct login_set *ls = p->logins ? p->logins[i] : NULL;

	if (ls)
		helper_run_interrupt(ls->hr);
}

/* ---- --enumerate-tls: each TLS version on a fresh connection (tlsprobe.h) ---- */

/* One endpoint's version attempts, which run while its worker probes it
 * (on the helper runner, through tlsprobe). */
struct tls_enum {
	struct pool *p;
	size_t ep;
	size_t threads; /* taken from p->spare */
	struct tlsprobe_run *run;
};

/* tlsprobe open(): the endpoint's path, and for STARTTLS the greeting,
 * capabilities and go-ahead (into a scratch result), leaving the stream
 * where a ClientHello goes. */
static enum mp_status tls_enum_open(void *arg, int index, volatile int *fd_slot, int64_t deadline,
                                    struct stream **out, struct mp_error *err)
{
	struct tls_enum *te = arg;
	const struct endpoint *ep = &te->p->eps[te->ep];
	const struct probe_config *cfg = te->p->cfg;
	const struct dialect *d = dialect_for(ep->proto);
	struct probe_result *scratch = calloc(1, sizeof(*scratch));
	struct stream *stream = NULL;
	struct session s;
	enum mp_status st;

	*out = NULL;
	if (!scratch)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	result_init(scratch, ep);
	(void)index;
	st = probe_open_path(ep, cfg, deadline, scratch, fd_slot, &stream, err);
	if (st != MP_OK || ep->mode != MODE_STARTTLS)
		goto out;
	session_init(&s, &scratch->ep, cfg, scratch, stream, deadline);
	stream = NULL;
	st = d->greeting(&s);
	if (st == MP_OK)
		st = d->capabilities(&s);
	if (st == MP_OK && !scratch->starttls_offered)
		st = mp_error_set(&s.err, MP_ERR_STARTTLS_NOT_OFFERED,
		                  "server does not advertise STARTTLS");
	if (st == MP_OK)
		st = d->starttls(&s);
	if (st != MP_OK) {
		mp_error_set(err, st, "%s", s.err.msg[0] ? s.err.msg : mp_status_describe(st));
		*fd_slot = -1;
		session_close(&s);
		goto out;
	}
	/* RFC 3207 4.2: bytes after the go-ahead are not part of the TLS session. */
	lr_discard(&s.lr);
	stream = s.stream;
	s.stream = NULL;
	lr_init(&s.lr, NULL);
out:
	if (st == MP_OK)
		*out = stream;
	else
		*fd_slot = -1;
	result_free(scratch);
	free(scratch);
	return st;
}

/* tlsprobe close(). */
static void tls_enum_close(void *arg, int index, volatile int *fd_slot, struct stream *s)
{
	(void)arg;
	(void)index;
	*fd_slot = -1;
	stream_close(s);
}

/* Shuts down the sockets of endpoint i's version attempts. Call with the lock held. */
static void interrupt_tls_enum(struct pool *p, size_t i)
{
	struct tls_enum *te = p->tls_enums ? p->tls_enums[i] : NULL;

	if (te)
		tlsprobe_enum_interrupt(te->run);
}

/* Starts enumerating endpoint i, when asked for and the endpoint may speak
 * TLS, alongside its probe (the attempts learn soon enough whether a
 * STARTTLS endpoint says go-ahead). NULL when not enumerating. */
struct tls_enum *tls_enum_begin(struct pool *p, size_t i)
{
	const struct endpoint *ep = &p->eps[i];
	struct tlsprobe_target t;
	struct tls_enum *te = NULL;

	if (!p->cfg->enumerate_tls || !p->tls_enums || ep->mode == MODE_PLAIN)
		return NULL;
	te = calloc(1, sizeof(*te));
	if (!te)
		return NULL;
	te->p = p;
	te->ep = i;
	memset(&t, 0, sizeof(t));
	t.open = tls_enum_open;
	t.close = tls_enum_close;
	t.arg = te;
	t.tls = p->cfg->tls;
	t.sni = p->cfg->sni ? p->cfg->sni : ep->host;
	t.tls_timeout_ms = p->cfg->tls_timeout_ms;
	t.deadline = p->deadline;
	/* The probe's own handshake usually settles TLS 1.3: wait for it. */
	t.defer_version = MP_TLS_V1_3;
	te->threads = take_helpers(p, i, TLSPROBE_NVERSIONS);
	te->run = tlsprobe_enum_start(&t, (int)te->threads);
	pthread_mutex_lock(&p->lock);
	p->tls_enums[i] = te;
	pthread_mutex_unlock(&p->lock);
	return te;
}

/* True when the probe showed endpoint res to be TLS-capable: implicit TLS
 * that did not answer in plaintext or time out, or STARTTLS that gave the
 * go-ahead (session_start_tls ran, and not after a silent greeting). */
static bool tls_enum_applies(const struct probe_result *res)
{
	if (!res->tls_used)
		return false;
	if (res->ep.mode == MODE_TLS)
		return !res->tls.peer_spoke_plaintext && res->status != MP_ERR_TLS_TIMEOUT;
	return res->ep.mode == MODE_STARTTLS && res->status != MP_ERR_GREETING_TIMEOUT;
}

/* The version the probe's handshake selected is accepted (RFC 8446 4.2.1,
 * RFC 5246 7.4.1.3): no need to ask again. */
static void tls_enum_know(struct tls_enum *te, const struct tls_info *info)
{
	for (int k = 0; info->done && k < TLSPROBE_NVERSIONS; k++) {
		struct tls_version_check known;
		const char *name = tlsprobe_version_name(tlsprobe_version_at(k));

		if (!name || strcmp(name, info->version) != 0)
			continue;
		memset(&known, 0, sizeof(known));
		known.version = tlsprobe_version_at(k);
		known.accepted = known.conclusive = true;
		snprintf(known.detail, sizeof(known.detail), "%.90s (the probe's own handshake)",
		         info->cipher);
		tlsprobe_enum_known(te->run, &known);
	}
}

void tls_enum_handshake_done(void *arg, const struct tls_info *info)
{
	struct tls_enum *te = arg;
	size_t want, started;

	if (!te || !te->run)
		return;
	tls_enum_know(te, info);
	/* The deferred version was not the one negotiated: it starts now,
	 * with the others still waiting for a thread. */
	tlsprobe_enum_release(te->run);
	want = take_helpers(te->p, te->ep, TLSPROBE_NVERSIONS);
	started = (size_t)tlsprobe_enum_more(te->run, (int)want);
	te->threads += started;
	give_helpers(te->p, te->ep, want - started);
}

/* Waits for endpoint i's attempts (running those still waiting, on threads
 * that came free meanwhile or in this one), records them and flags the
 * legacy versions accepted (RFC 7568, RFC 8996). */
void tls_enum_end(struct pool *p, size_t i, struct tls_enum *te)
{
	struct probe_result *res = &p->res[i];
	struct tls_version_check chk[TLSPROBE_NVERSIONS];
	char legacy[64] = "", list[96] = "";
	bool ran;
	size_t want, started;

	if (!te)
		return;
	ran = te->run != NULL;
	if (res->tls_used)
		tls_enum_know(te, &res->tls);
	want = take_helpers(p, i, TLSPROBE_NVERSIONS);
	started = (size_t)tlsprobe_enum_more(te->run, (int)want);
	te->threads += started;
	give_helpers(p, i, want - started);
	memset(chk, 0, sizeof(chk));
	tlsprobe_enum_finish(te->run, chk);
	pthread_mutex_lock(&p->lock);
	p->tls_enums[i] = NULL;
	pthread_mutex_unlock(&p->lock);
	give_helpers(p, i, te->threads);
	free(te);
	if (!ran || !tls_enum_applies(res))
		return;
	memcpy(res->tls_versions, chk, sizeof(chk));
	res->tls_versions_done = true;
	for (int k = 0; k < TLSPROBE_NVERSIONS; k++) {
		const char *name = tlsprobe_version_name(chk[k].version);
		char *to = chk[k].version <= MP_TLS_V1_1 ? legacy : NULL;

		if (!chk[k].accepted || !name)
			continue;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		         list[0] ? " " : "", name);
		if (to)
			snprintf(to + strlen(to), sizeof(legacy) - strlen(to), "%s%s",
			         to[0] ? ", " : "", name);
	}
	transcript_note(&res->transcript, "TLS versions accepted: %s", list[0] ? list : "none");
	if (legacy[0])
		result_add_finding(res, FINDING_LEGACY_TLS_ACCEPTED,
		                   "server accepts %s, which %s deprecated (RFC 7568, RFC 8996)",
		                   legacy, strchr(legacy, ',') ? "are" : "is");
}

/* After endpoint i's probe: its active checks (checks.h), each on a fresh
 * connection, with extra threads taken from the pool's spare ones. */
void run_checks(struct pool *p, size_t i, const struct tls_resume *resume)
{
	struct check_set *cs = checks_begin(&p->eps[i], p->cfg, p->deadline, &p->res[i]);
	size_t got = take_helpers(p, i, checks_pending(cs) > 1 ? checks_pending(cs) - 1 : 0);

	checks_resume_from(cs, resume);

	pthread_mutex_lock(&p->lock);
	p->checks[i] = cs;
	pthread_mutex_unlock(&p->lock);
	checks_run(cs, got, p->stop);
	pthread_mutex_lock(&p->lock);
	p->checks[i] = NULL;
	pthread_mutex_unlock(&p->lock);
	give_helpers(p, i, got);
	checks_end(cs);
}

void helpers_interrupt(struct pool *p, size_t i)
{
	interrupt_logins(p, i);
	interrupt_tls_enum(p, i);
	if (p->checks)
		checks_interrupt(p->checks[i]);
}
