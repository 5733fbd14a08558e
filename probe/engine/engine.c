/* engine.c - the scheduler: a worker pool that runs the probes of many
 * endpoints concurrently under one deadline, their logins and TLS version
 * attempts, auto mode, and interrupts. What one probe does is in probe.c. */
#include "probe/engine/engine.h"
#include "probe/engine/pool.h"
#include "probe/dialects/auth.h"
#include "probe/engine/checks.h"
#include "probe/dialects/dialect.h"
#include "probe/engine/probe.h"
#include "core/deadline.h"
#include "core/sanitizer.h"
#include "core/threadmem.h"
#include "core/tls.h"
#include "core/tls_session.h"
#include "probe/engine/targets.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits until when_ms (monotonic) or the run stops, in bounded slices. */
static void pause_until(struct pool *p, int64_t when_ms)
{
	for (;;) {
		int64_t left = when_ms - mono_ms();

		if (left <= 0 || (p->stop && *p->stop))
			return;
		poll(NULL, 0,
		     (int)(left < MP_ENGINE_WAIT_SLICE_MS ? left : MP_ENGINE_WAIT_SLICE_MS));
	}
}

/* The per-host key of an endpoint: the address it goes to when that is
 * known (an address of an expanded name, or a numeric host), in one
 * canonical form, so that "127.0.0.1" and a name's 127.0.0.1 share their
 * slots; else its host name, case-folded. */
static uint64_t host_key(const struct endpoint *ep)
{
	const char *src = ep->address[0] ? ep->address : ep->host;
	char buf[sizeof(ep->host) > INET6_ADDRSTRLEN ? sizeof(ep->host) : INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t len = 0;

	if (inet_pton(AF_INET, src, bin) == 1 && inet_ntop(AF_INET, bin, buf, sizeof(buf)))
		return target_hash(buf, strlen(buf));
	if (inet_pton(AF_INET6, src, bin) == 1 && inet_ntop(AF_INET6, bin, buf, sizeof(buf)))
		return target_hash(buf, strlen(buf));
	for (; src[len] && len < sizeof(buf); len++)
		buf[len] = (char)tolower((unsigned char)src[len]);
	return target_hash(buf, len);
}

/* The in-flight entry of ep's host, or NULL. Call with the lock held. */
struct host_use *host_find(struct pool *p, const struct endpoint *ep)
{
	uint64_t key = host_key(ep);

	for (size_t i = 0; i < p->nhosts; i++)
		if (p->hosts[i].key == key)
			return &p->hosts[i];
	return NULL;
}

/* --per-host: waits for a slot of ep's host. Returns false when the run
 * stopped or its deadline passed first. */
static bool host_acquire(struct pool *p, const struct endpoint *ep)
{
	uint64_t key = host_key(ep);
	bool ok = false;

	if (p->prm->per_host <= 0)
		return true;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct host_use *h = NULL;
		struct timespec ts;

		for (size_t i = 0; i < p->nhosts && !h; i++)
			if (p->hosts[i].key == key)
				h = &p->hosts[i];
		if (!h || h->count < p->prm->per_host) {
			if (!h) {
				h = &p->hosts[p->nhosts++];
				h->key = key;
				h->count = 0;
			}
			h->count++;
			ok = true;
			break;
		}
		if ((p->stop && *p->stop) || deadline_expired(p->deadline))
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += MP_ENGINE_WAIT_SLICE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->host_free, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static void host_release(struct pool *p, const struct endpoint *ep)
{
	uint64_t key = host_key(ep);

	if (p->prm->per_host <= 0)
		return;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nhosts; i++) {
		if (p->hosts[i].key != key)
			continue;
		if (--p->hosts[i].count <= 0)
			p->hosts[i] = p->hosts[--p->nhosts];
		break;
	}
	pthread_cond_broadcast(&p->host_free);
	pthread_mutex_unlock(&p->lock);
}

/* --rate: waits for this connection's turn (probe_config.before_connect, arg the pool). */
static void rate_wait(void *arg)
{
	struct pool *p = arg;
	int64_t now = mono_ms() * 1000, at;

	if (p->prm->rate <= 0)
		return;
	pthread_mutex_lock(&p->lock);
	at = p->next_conn_us > now ? p->next_conn_us : now;
	p->next_conn_us = at + 1000000 / p->prm->rate;
	pthread_mutex_unlock(&p->lock);
	pause_until(p, at / 1000);
}

/* Worth another attempt: the server refused service for load, or the
 * connection was reset (or closed) before any greeting. */
static bool retryable(const struct probe_result *res)
{
	if (res->status == MP_ERR_REJECTED)
		return res->busy;
	return (res->status == MP_ERR_NETWORK || res->status == MP_ERR_CLOSED) && !res->greeting;
}

/* The back-off before retry k (1, 2, ...): exponential, capped, plus up to
 * half of it again as jitter so that many clients do not come back at once. */
static int64_t backoff_ms(struct pool *p, int k)
{
	int64_t base = MP_RETRY_BASE_MS, jitter;
	uint64_t x;

	for (int i = 1; i < k && base < MP_RETRY_MAX_MS; i++)
		base *= 2;
	if (base > MP_RETRY_MAX_MS)
		base = MP_RETRY_MAX_MS;
	pthread_mutex_lock(&p->lock);
	x = p->jitter;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	p->jitter = x;
	pthread_mutex_unlock(&p->lock);
	jitter = (int64_t)(x % (uint64_t)(base / 2 + 1));
	return base + jitter;
}

/* A timeout that load alone can cause: the greeting, a reply or the TLS
 * handshake came too late (not a connect timeout: that is a filter). */
static bool load_timeout(enum mp_status st)
{
	return st == MP_ERR_TLS_TIMEOUT || st == MP_ERR_GREETING_TIMEOUT || st == MP_ERR_TIMEOUT;
}

/* Auto mode never falls back to plaintext because a TLS candidate was
 * slow: one that timed out is asked once more, with greeting
 * and handshake timeouts MP_AUTO_RETRY_TIMEOUT_FACTOR times longer, before
 * the plaintext ones after it may win. */
static void auto_retry_slow(struct pool *p, size_t i, struct tls_resume *save)
{
	const struct endpoint *ep = &p->eps[i];
	struct probe_result *res = &p->res[i];
	struct probe_config slow = *p->cfg;
	char first[MP_MAX_ERROR];
	int attempts = res->attempts;

	if (!p->prm->first_ok_wins || ep->mode == MODE_PLAIN || !load_timeout(res->status) ||
	    (p->stop && *p->stop) || deadline_expired(p->deadline))
		return;
	pthread_mutex_lock(&p->lock);
	attempts = p->skip && p->skip[i] ? -1 : attempts;
	pthread_mutex_unlock(&p->lock);
	if (attempts < 0)
		return;
	snprintf(first, sizeof(first), "%s: %.200s", mp_status_name(res->status), res->error);
	slow.greeting_timeout_ms *= MP_AUTO_RETRY_TIMEOUT_FACTOR;
	slow.tls_timeout_ms *= MP_AUTO_RETRY_TIMEOUT_FACTOR;
	result_free(res);
	result_init(res, ep);
	transcript_note(&res->transcript,
	                "auto mode: attempt %d ended %s; asked again with %d ms greeting and %d ms "
	                "TLS handshake timeouts before any plaintext candidate may win",
	                attempts, first, slow.greeting_timeout_ms, slow.tls_timeout_ms);
	struct probe_hooks hooks = {.save = save};

	probe_endpoint(ep, &slow, p->deadline, res, &p->fds[i], &hooks);
	res->attempts = attempts + 1;
}

/* Probes endpoint i (its --enumerate-tls attempts alongside), with --retry
 * attempts of a busy endpoint within the deadline, then its logins. */
static void run_job(struct pool *p, size_t i)
{
	const struct endpoint *ep = &p->eps[i];
	struct probe_result *res = &p->res[i];
	/* the probe's TLS session, for its logins and checks to resume */
	struct tls_resume *rs =
	    (p->cfg->auth || p->checks) && ep->mode != MODE_PLAIN ? tls_resume_new() : NULL;
	int attempt = 1;

	if (!host_acquire(p, ep)) {
		tls_resume_free(rs);
		if (!(p->stop && *p->stop))
			result_fail(res, MP_ERR_DEADLINE,
			            "the run's deadline passed before this endpoint was probed");
		return;
	}
	for (;;) {
		struct tls_enum *te = NULL;
		struct probe_hooks hooks = {.save = rs};
		int64_t wait;

		if (deadline_expired(p->deadline)) {
			result_fail(res, MP_ERR_DEADLINE,
			            "the run's deadline passed before this endpoint was probed");
			break;
		}
		te = attempt == 1 ? tls_enum_begin(p, i) : NULL;
		hooks.tls_done = te ? tls_enum_handshake_done : NULL;
		hooks.arg = te;
		probe_endpoint(ep, p->cfg, p->deadline, res, &p->fds[i], &hooks);
		tls_enum_end(p, i, te);
		res->attempts = attempt;
		if (attempt > p->prm->retry || !retryable(res) || (p->stop && *p->stop))
			break;
		wait = backoff_ms(p, attempt);
		if (p->deadline != DEADLINE_NONE && deadline_left_ms(p->deadline) <= wait)
			break;
		transcript_note(&res->transcript, "attempt %d: %s; trying again in %lld ms",
		                attempt, mp_status_name(res->status), (long long)wait);
		pause_until(p, mono_ms() + wait);
		if (p->stop && *p->stop)
			break;
		/* A fresh result for the next attempt. */
		result_free(res);
		result_init(res, ep);
		attempt++;
	}
	auto_retry_slow(p, i, rs);
	/* Logins and checks are connections to the same host: the slot is
	 * held until they are done. */
	if (p->cfg->auth && p->logins && res->status == MP_OK && !(p->stop && *p->stop))
		run_logins(p, i, rs);
	if (p->checks && !(p->stop && *p->stop))
		run_checks(p, i, rs);
	tls_resume_free(rs);
	host_release(p, ep);
}

/* An array run's worker: takes the next endpoint until none is left. */
static void *worker(void *arg)
{
	struct pool *p = arg;

	threadmem_thread_start();
	for (;;) {
		size_t i;
		char one = 1;

		pthread_mutex_lock(&p->lock);
		if (p->next >= p->n || (p->stop && *p->stop)) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		i = p->next++;
		p->state[i] = JOB_RUNNING;
		if ((p->skip && p->skip[i]) || p->eps[i].invalid) {
			p->state[i] = JOB_DONE;
			pthread_mutex_unlock(&p->lock);
			if (write(p->done_pipe[1], &one, 1) < 0) {
				/* see below */
			}
			continue;
		}
		pthread_mutex_unlock(&p->lock);

		if (deadline_expired(p->deadline))
			result_fail(&p->res[i], MP_ERR_DEADLINE,
			            "the run's deadline passed before this endpoint was probed");
		else
			run_job(p, i);
		/* wolfSSL's per-thread fixed-point ECC cache keeps up to 15
		 * entries of ~800 KiB (one per peer key seen): emptied after each
		 * endpoint, a worker's memory stays bounded. */
		tls_thread_cleanup();

		pthread_mutex_lock(&p->lock);
		p->state[i] = JOB_DONE;
		pthread_mutex_unlock(&p->lock);
		if (write(p->done_pipe[1], &one, 1) < 0) {
			/* the main thread also wakes up on its own; nothing to do */
		}
	}
	tls_thread_cleanup();
	return NULL;
}

/* A streamed run's worker: slot k holds its endpoint in flight. */
struct stream_worker {
	struct pool *p;
	size_t k;
};

static void *stream_worker(void *arg)
{
	struct stream_worker *w = arg;
	struct pool *p = w->p;
	size_t k = w->k;
	char why[MP_MAX_ERROR];
	char one = 1;

	threadmem_thread_start();
	for (;;) {
		struct probe_result *res = &p->res[k];
		int rc;

		pthread_mutex_lock(&p->src_lock);
		rc =
		    p->src_done || (p->stop && *p->stop)
		        ? 0
		        : p->src->next(p->src->arg, &p->slot_eps[k], why, sizeof(why), &p->src_err);
		if (rc <= 0) {
			if (rc < 0)
				p->src_rc = -1;
			p->src_done = true;
		}
		pthread_mutex_unlock(&p->src_lock);
		if (rc <= 0)
			break;
		result_init(res, &p->slot_eps[k]);
		pthread_mutex_lock(&p->lock);
		p->state[k] = JOB_RUNNING;
		p->skip[k] = false; /* streamed runs: "cut by an interrupt" */
		pthread_mutex_unlock(&p->lock);
		if (p->slot_eps[k].invalid)
			result_fail(res, MP_ERR_INVALID_TARGET, why);
		else if (deadline_expired(p->deadline))
			result_fail(res, MP_ERR_DEADLINE,
			            "the run's deadline passed before this endpoint was probed");
		else
			run_job(p, k);
		tls_thread_cleanup();
		pthread_mutex_lock(&p->lock);
		p->state[k] = JOB_DONE;
		pthread_mutex_unlock(&p->lock);
		pthread_mutex_lock(&p->lock);
		rc = p->skip[k];
		pthread_mutex_unlock(&p->lock);
		if (rc && res->status != MP_ERR_INVALID_TARGET) {
			res->status = MP_OK;
			result_fail(res, MP_ERR_INTERRUPTED,
			            "interrupted while probing this endpoint");
		}
		pthread_mutex_lock(&p->done_lock);
		p->done(p->done_arg, res);
		pthread_mutex_unlock(&p->done_lock);
		result_free(res);
	}
	tls_thread_cleanup();
	if (write(p->done_pipe[1], &one, 1) < 0) {
		/* the main thread also wakes up on its own */
	}
	return NULL;
}

/* Shuts down every socket in use so that blocked probes return at once. */
static void interrupt_all(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n; i++) {
		int fd = p->fds[i];

		if (p->state[i] == JOB_RUNNING && fd >= 0)
			shutdown(fd, SHUT_RDWR);
		helpers_interrupt(p, i);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Auto mode groups endpoints by target, protocol and path; inside a group
 * the order is the order of preference. */
static bool same_group(const struct endpoint *a, const struct endpoint *b)
{
	return a->proto == b->proto && a->proxy == b->proxy && strcmp(a->host, b->host) == 0 &&
	       strcmp(a->address, b->address) == 0;
}

/* Auto mode: once a group's most preferred endpoint that works is known
 * (all before it finished and failed), the rest of the group is not needed:
 * mark it skipped and cut short what is running. Call with the lock held. */
static void settle_auto(struct pool *p)
{
	for (size_t g = 0; g < p->n; g++) {
		size_t winner = p->n;

		if (p->group[g] != g)
			continue;
		for (size_t i = g; i < p->n; i++) {
			if (p->group[i] != g)
				continue;
			if (p->state[i] != JOB_DONE || p->skip[i])
				break;
			if (p->res[i].status == MP_OK) {
				winner = i;
				break;
			}
		}
		if (winner == p->n)
			continue;
		for (size_t i = winner + 1; i < p->n; i++) {
			if (p->group[i] != g || p->skip[i])
				continue;
			p->skip[i] = true;
			if (p->state[i] == JOB_RUNNING && p->fds[i] >= 0)
				shutdown(p->fds[i], SHUT_RDWR);
			helpers_interrupt(p, i);
		}
	}
}

/* After the run: flags a STARTTLS endpoint whose certificate (by SHA-256
 * fingerprint of the leaf) is none of those the same host shows on implicit
 * TLS for the same protocol and path. */
static void starttls_cert_findings(struct probe_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct tls_info *a = &res[i].tls;
		const struct probe_result *other = NULL;
		bool same = false;

		if (res[i].ep.mode != MODE_STARTTLS || !a->done || a->chain_len < 1 ||
		    !a->chain[0].fingerprint_sha256[0])
			continue;
		for (size_t j = 0; j < n && !same; j++) {
			const struct tls_info *b = &res[j].tls;

			if (res[j].ep.mode != MODE_TLS || res[j].ep.proto != res[i].ep.proto ||
			    res[j].ep.proxy != res[i].ep.proxy ||
			    strcmp(res[j].ep.host, res[i].ep.host) != 0 ||
			    strcmp(res[j].ep.address, res[i].ep.address) != 0 || !b->done ||
			    b->chain_len < 1 || !b->chain[0].fingerprint_sha256[0])
				continue;
			same = strcmp(a->chain[0].fingerprint_sha256,
			              b->chain[0].fingerprint_sha256) == 0;
			if (!other)
				other = &res[j];
		}
		if (other && !same)
			result_add_finding(&res[i], FINDING_STARTTLS_CERT_DIFFERS,
			                   "the certificate after STARTTLS on port %u (SHA-256 "
			                   "%.16s...) differs from the one on implicit-TLS port %u "
			                   "(%.16s...)",
			                   (unsigned)res[i].ep.port, a->chain[0].fingerprint_sha256,
			                   (unsigned)other->ep.port,
			                   other->tls.chain[0].fingerprint_sha256);
	}
}

/* Auto mode: a plaintext winner chosen while a TLS candidate before it in
 * the order of preference timed out (twice, see auto_retry_slow) says so:
 * a mail client configured from it would send passwords in clear. */
static void auto_plaintext_findings(struct pool *p)
{
	for (size_t w = 0; w < p->n; w++) {
		struct probe_result *res = &p->res[w];

		if (p->skip[w] || res->status != MP_OK || res->ep.mode != MODE_PLAIN)
			continue;
		for (size_t j = p->group[w]; j < w; j++) {
			const struct probe_result *t = &p->res[j];

			if (p->group[j] != p->group[w] || p->skip[j] || t->ep.mode == MODE_PLAIN ||
			    !load_timeout(t->status))
				continue;
			result_add_finding(
			    res, FINDING_AUTO_TLS_TIMED_OUT,
			    "auto mode chose plaintext only because %s port %u %s, "
			    "which comes first, timed out twice (%s): try again before "
			    "configuring a client for plaintext",
			    protocol_name(t->ep.proto), (unsigned)t->ep.port, mode_name(t->ep.mode),
			    mp_status_name(t->status));
			break;
		}
	}
}

/* Auto mode: what the skipped endpoints report. */
static void report_skipped(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		char msg[MP_MAX_ERROR];
		size_t g = p->group[i];
		size_t w = g;

		if (!p->skip[i])
			continue;
		for (size_t j = g; j < i; j++)
			if (p->group[j] == g && !p->skip[j] && p->res[j].status == MP_OK)
				w = j;
		snprintf(msg, sizeof(msg),
		         "not needed: auto mode settled on %s port %u %s, "
		         "which comes first in the order of preference",
		         protocol_name(p->eps[w].proto), (unsigned)p->eps[w].port,
		         mode_name(p->eps[w].mode));
		result_free(&p->res[i]);
		result_init(&p->res[i], &p->eps[i]);
		result_fail(&p->res[i], MP_ERR_SKIPPED, msg);
	}
}

/* The stack size of the threads we start: small, so that thousands of
 * probes in flight cost little memory; sanitizers need more. */
#ifdef MP_ASAN
#define MP_STACK MP_WORKER_STACK_SANITIZER
#else
#define MP_STACK MP_WORKER_STACK
#endif

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return pthread_create(t, NULL, fn, arg);
	pthread_attr_setstacksize(&attr, MP_STACK);
	rc = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc;
}

/* Sets up what both kinds of run share; n is endpoints or slots. */
static int pool_init(struct pool *p, size_t n, const struct probe_config *cfg,
                     const struct engine_params *prm, size_t nthreads)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->cfg = cfg;
	if (prm->rate > 0) {
		/* every new connection of the run is paced, helpers' too */
		p->paced = *cfg;
		p->paced.before_connect = rate_wait;
		p->paced.before_connect_arg = p;
		p->cfg = &p->paced;
	}
	p->prm = prm;
	p->deadline = prm->deadline;
	p->stop = prm->stop;
	p->done_pipe[0] = p->done_pipe[1] = -1;
	p->jitter = (uint64_t)mono_ms() * 0x9e3779b97f4a7c15ULL | 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->src_lock, NULL);
	pthread_mutex_init(&p->done_lock, NULL);
	pthread_cond_init(&p->host_free, NULL);
	p->spare = (size_t)(prm->concurrency < 1 ? 1 : prm->concurrency) - nthreads;
	if (n == 0)
		return 0;
	if (cfg->auth) {
		p->logins = calloc(n, sizeof(*p->logins));
		if (!p->logins)
			return -1;
	}
	if (cfg->enumerate_tls) {
		p->tls_enums = calloc(n, sizeof(*p->tls_enums));
		if (!p->tls_enums)
			return -1;
	}
	if (cfg->checks) {
		p->checks = calloc(n, sizeof(*p->checks));
		if (!p->checks)
			return -1;
	}
	p->state = calloc(n, sizeof(*p->state));
	p->fds = calloc(n, sizeof(*p->fds));
	p->hosts = calloc(nthreads, sizeof(*p->hosts));
	if (!p->state || !p->fds || !p->hosts || pipe2(p->done_pipe, O_CLOEXEC) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		p->fds[i] = -1;
	return 0;
}

static void pool_free(struct pool *p)
{
	if (p->done_pipe[0] >= 0)
		close(p->done_pipe[0]);
	if (p->done_pipe[1] >= 0)
		close(p->done_pipe[1]);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->src_lock);
	pthread_mutex_destroy(&p->done_lock);
	pthread_cond_destroy(&p->host_free);
	free(p->state);
	free(p->skip);
	free(p->group);
	free(p->logins);
	free(p->tls_enums);
	free(p->checks);
	free(p->hosts);
	free((void *)p->fds);
}

/* Waits until `want` bytes came through the done pipe (finished endpoints
 * or workers), or an interrupt. Calls settle (may be NULL) after each. */
static bool wait_done(struct pool *p, size_t want, int wake_fd, void (*settle)(struct pool *))
{
	size_t finished = 0;
	int64_t trimmed = mono_ms();

	while (finished < want) {
		struct pollfd pfd[2] = {{.fd = p->done_pipe[0], .events = POLLIN},
		                        {.fd = wake_fd, .events = POLLIN}};
		char buf[64];
		int rc = poll(pfd, wake_fd >= 0 ? 2 : 1, MP_HEAP_TRIM_MS);

		/* Handshakes free many small blocks between the long-lived ones
		 * of probes in flight; hand the whole free pages back now and
		 * then, so that memory follows the probes in flight, not the
		 * run's busiest moment. */
		if (mono_ms() - trimmed >= MP_HEAP_TRIM_MS) {
			threadmem_trim_heap();
			trimmed = mono_ms();
		}

		if (rc < 0 && errno != EINTR)
			break;
		if (p->stop && *p->stop)
			return true;
		if (rc > 0 && (pfd[0].revents & POLLIN)) {
			ssize_t got = read(p->done_pipe[0], buf, sizeof(buf));

			if (got > 0)
				finished += (size_t)got;
			if (got > 0 && settle) {
				pthread_mutex_lock(&p->lock);
				settle(p);
				pthread_mutex_unlock(&p->lock);
			}
		}
	}
	return false;
}

void engine_run(const struct endpoint *eps, struct probe_result *res, size_t n,
                const struct probe_config *cfg, const struct engine_params *prm)
{
	struct pool p;
	pthread_t *threads = NULL;
	size_t nthreads, started = 0;
	bool interrupted = false;
	bool first_ok_wins = prm->first_ok_wins;
	enum job_state *was = NULL;

	nthreads = prm->concurrency < 1 ? 1 : (size_t)prm->concurrency;
	if (nthreads > n)
		nthreads = n ? n : 1;
	/* Memory measures only where many probes are in flight. */
	threadmem_set_thrifty(nthreads >= MP_THRIFTY_MIN_THREADS);
	if (pool_init(&p, n, cfg, prm, nthreads) != 0)
		goto nomem;
	p.eps = eps;
	p.res = res;
	if (n == 0)
		goto out;
	threads = calloc(nthreads, sizeof(*threads));
	was = calloc(n, sizeof(*was));
	if (first_ok_wins) {
		p.skip = calloc(n, sizeof(*p.skip));
		p.group = calloc(n, sizeof(*p.group));
		if (!p.skip || !p.group)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			p.group[i] = i;
			for (size_t j = 0; j < i; j++) {
				if (same_group(&eps[i], &eps[j])) {
					p.group[i] = p.group[j];
					break;
				}
			}
		}
	}
	if (!threads || !was) {
	nomem:
		for (size_t i = 0; i < n; i++)
			if (!eps[i].invalid)
				result_fail(&res[i], MP_ERR_INTERNAL,
				            "out of memory or file descriptors");
		goto out;
	}
	for (; started < nthreads; started++)
		if (start_thread(&threads[started], worker, &p) != 0)
			break;
	if (started == 0) {
		/* No thread could be made: probe in this thread. */
		worker(&p);
	} else {
		/* Wait for every endpoint, or for an interrupt. */
		interrupted = wait_done(&p, n, prm->wake_fd, first_ok_wins ? settle_auto : NULL);
	}
	if (interrupted) {
		pthread_mutex_lock(&p.lock);
		memcpy(was, p.state, n * sizeof(*was));
		pthread_mutex_unlock(&p.lock);
		interrupt_all(&p);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (first_ok_wins && !interrupted) {
		settle_auto(&p);
		auto_plaintext_findings(&p);
		report_skipped(&p);
	}
	starttls_cert_findings(res, n);
	if (interrupted) {
		for (size_t i = 0; i < n; i++) {
			if (was[i] == JOB_DONE || eps[i].invalid)
				continue;
			res[i].status = MP_OK;
			result_fail(&res[i], MP_ERR_INTERRUPTED,
			            was[i] == JOB_PENDING
			                ? "interrupted before this endpoint was probed"
			                : "interrupted while probing this endpoint");
		}
	}
out:
	pool_free(&p);
	free(threads);
	free(was);
}

int engine_stream(const struct engine_source *src, const struct probe_config *cfg,
                  const struct engine_params *prm,
                  void (*done)(void *arg, struct probe_result *res), void *done_arg,
                  struct mp_error *err)
{
	struct pool p;
	pthread_t *threads = NULL;
	struct stream_worker *ws = NULL;
	size_t nthreads = prm->concurrency < 1 ? 1 : (size_t)prm->concurrency;
	size_t started = 0;
	int rc = -1;

	threadmem_set_thrifty(nthreads >= MP_THRIFTY_MIN_THREADS);
	if (pool_init(&p, nthreads, cfg, prm, nthreads) != 0)
		goto nomem;
	p.streamed = true;
	p.src = src;
	p.done = done;
	p.done_arg = done_arg;
	mp_error_clear(&p.src_err);
	p.slot_eps = calloc(nthreads, sizeof(*p.slot_eps));
	p.res = calloc(nthreads, sizeof(*p.res));
	p.skip = calloc(nthreads, sizeof(*p.skip));
	threads = calloc(nthreads, sizeof(*threads));
	ws = calloc(nthreads, sizeof(*ws));
	if (!p.slot_eps || !p.res || !p.skip || !threads || !ws) {
	nomem:
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory or file descriptors");
		goto out;
	}
	p.eps = p.slot_eps;
	for (size_t k = 0; k < nthreads; k++) {
		ws[k].p = &p;
		ws[k].k = k;
	}
	for (; started < nthreads; started++)
		if (start_thread(&threads[started], stream_worker, &ws[started]) != 0)
			break;
	if (started == 0) {
		stream_worker(&ws[0]);
	} else if (wait_done(&p, started, prm->wake_fd, NULL)) {
		/* Interrupted: cut what is in flight; the workers hand it over. */
		pthread_mutex_lock(&p.lock);
		for (size_t k = 0; k < nthreads; k++)
			p.skip[k] = p.state[k] == JOB_RUNNING;
		pthread_mutex_unlock(&p.lock);
		interrupt_all(&p);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	rc = p.src_rc;
	if (rc != 0)
		*err = p.src_err;
out:
	pool_free(&p);
	free(p.slot_eps);
	free(p.res);
	free(threads);
	free(ws);
	return rc;
}
