/* serve_work.c - the exporter's probing: --max-probes workers take queued
 * /probe jobs oldest first (pin the targets' addresses, probe, render the
 * answer, resume the connection); the reaper answers 503 to a job whose
 * scrape deadline would pass in the queue, or to all of them once stopping;
 * the prober runs the status page's background passes. */
#include "probe/app/serve_internal.h"
#include "probe/discover/discover.h"
#include "core/deadline.h"
#include "core/dns.h"
#include "core/threadmem.h"
#include "core/tls.h"
#include "reports/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double serve_wait_buckets[SERVE_WAIT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1,    2.5,   5,    10};

/* Sets a job's answer to a short text. */
static void job_text(struct job *j, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void job_text(struct job *j, unsigned code, const char *fmt, ...)
{
	va_list ap;
	int n;

	free(j->body);
	j->body = NULL;
	va_start(ap, fmt);
	n = vasprintf(&j->body, fmt, ap);
	va_end(ap);
	j->len = n < 0 ? 0 : (size_t)n;
	if (n < 0)
		j->body = NULL;
	j->code = code;
	j->type = "text/plain; charset=utf-8";
	j->retry_after = code == MHD_HTTP_SERVICE_UNAVAILABLE;
}

void serve_cut_pass(struct server *s)
{
	/* read by the engine without a lock, as a signal handler's flag is
	 * (the ThreadSanitizer build suppresses this one, tests/tsan.supp) */
	s->stop_pass = 1;
}

void serve_job_free(struct server *s, struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->ntargets; i++)
		free(j->targets[i]);
	free(j->body);
	if (j->h)
		serve_cfg_put(s, j->h);
	free(j);
}

/* Marks a job answered and wakes its connection; s->lock is held and is
 * released around the wake-up (the job belongs to the event loop after). */
static void job_finish_locked(struct server *s, struct job *j)
{
	struct MHD_Connection *conn = j->conn;

	j->done = true;
	pthread_mutex_unlock(&s->lock);
	MHD_resume_connection(conn);
	pthread_mutex_lock(&s->lock);
}

/* Takes a job out of the queue; s->lock held. */
static void queue_unlink_locked(struct server *s, struct job *j)
{
	struct job **pp = &s->qhead, *prev = NULL;

	while (*pp && *pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = j->next;
	if (s->qtail == j)
		s->qtail = prev;
	j->next = NULL;
	s->qlen--;
}

/* Records how long a job waited for its slot; s->lock held. */
static void observe_wait_locked(struct server *s, int64_t ms)
{
	double sec = (double)ms / 1000.0;
	size_t b = 0;

	while (b < SERVE_WAIT_BUCKETS && sec > serve_wait_buckets[b])
		b++;
	s->wait_counts[b]++;
	s->wait_sum += sec;
	s->waited++;
}

/* Writes a report in one format into a new buffer. */
static char *render(const struct run_report *r, enum output_format fmt, size_t *len)
{
	const struct report_writer *w = report_writer_for(fmt);
	struct writer_ctx ctx = {.color = false};
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	int rc;

	if (!f)
		return NULL;
	rc = w ? w->write(f, r, &ctx) : -1;
	if (fclose(f) != 0 || rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Pins the targets' names (serve_config_pin) with the module's resolver:
 * the DNS client for "resolver", else the system's. Afterwards the probe
 * resolves from the pins alone. Returns as serve_config_pin. */
static int pin_targets(const struct job *j, struct run_options *opt, struct serve_pins *pins,
                       size_t *which, struct mp_error *err)
{
	struct dns_client *dns = NULL;
	struct disc_resolver dr;
	const struct addr_resolver *r = NULL;
	int64_t left = j->deadline - mono_ms();
	int rc;

	if (opt->resolver) {
		dns = dns_new(opt->resolver, opt->trust_anchor, err);
		if (!dns)
			return -1;
		discover_resolver_init(&dr, dns, NULL);
		r = &dr.r;
	}
	if (opt->probe.connect_timeout_ms > 0 && opt->probe.connect_timeout_ms < left)
		left = opt->probe.connect_timeout_ms;
	rc = serve_config_pin(j->h->c, (const char *const *)j->targets, j->ntargets, r,
	                      opt->probe.family, deadline_in(left), pins, which, err);
	dns_free(dns);
	if (rc == 0) {
		opt->resolver = NULL;
		opt->probe.resolver = &pins->r;
	}
	return rc;
}

/* Runs one job on a worker: options, allow list and pins, the probe, the
 * answer. Nothing here echoes the module's options: a failure names the
 * query parameter at fault. */
static void run_job(struct server *s, struct job *j)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct serve_pins *pins = calloc(1, sizeof(*pins));
	struct run_outcome run;
	struct mp_error err;
	int64_t t0 = mono_ms(), left = j->deadline - t0;
	size_t which = 0;
	int rc;

	memset(&run, 0, sizeof(run));
	if (!opt || !pins) {
		job_text(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		goto out;
	}
	if (serve_config_options(j->m, (const char *const *)j->targets, j->ntargets, opt, &err) !=
	    0) {
		job_text(j, MHD_HTTP_BAD_REQUEST,
		         "the targets cannot be probed with module '%.60s': check each target "
		         "parameter (a host, an address or an endpoint URL)\n",
		         j->m->name);
		goto out;
	}
	if (!opt->discover) {
		rc = pin_targets(j, opt, pins, &which, &err);
		if (rc > 0) {
			job_text(j, MHD_HTTP_FORBIDDEN, "%s\n", err.msg);
			goto out;
		}
		if (rc < 0) {
			job_text(j, MHD_HTTP_INTERNAL_SERVER_ERROR,
			         "module '%.60s' could not resolve the targets: see the "
			         "exporter's log\n",
			         j->m->name);
			serve_log("module '%.60s': the resolver it names could not start",
			          j->m->name);
			goto out;
		}
	}
	/* the scrape's deadline, shown as the run's in the report */
	if (j->budget_ms < opt->overall_timeout_ms || opt->overall_timeout_ms <= 0)
		opt->overall_timeout_ms = (int)j->budget_ms;
	left = j->deadline - mono_ms();
	if (left < SERVE_MIN_DEADLINE_MS)
		left = SERVE_MIN_DEADLINE_MS;
	if (run_probe(opt, left, &s->stop_probes, -1, NULL, NULL, &run, &err) != 0) {
		job_text(j, MHD_HTTP_INTERNAL_SERVER_ERROR,
		         "module '%.60s' could not start the probe (a file it names may be "
		         "unreadable): see the exporter's log\n",
		         j->m->name);
		serve_log("module '%.60s' could not start a probe: check the files it names, "
		          "then reload",
		          j->m->name);
		goto out;
	}
	pthread_mutex_lock(&s->lock);
	s->probes++;
	s->probe_seconds += (double)(mono_ms() - t0) / 1000.0;
	pthread_mutex_unlock(&s->lock);
	free(j->body);
	j->body = render(&run.report, j->fmt, &j->len);
	if (!j->body) {
		job_text(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not write the report\n");
		goto out;
	}
	j->code = MHD_HTTP_OK;
	j->retry_after = false;
	j->type =
	    j->fmt == FORMAT_JSON ? "application/json" : "text/plain; version=0.0.4; charset=utf-8";
out:
	run_outcome_free(&run);
	if (opt)
		explicit_bzero(opt, sizeof(*opt));
	free(opt);
	free(pins);
}

/* A worker: takes the oldest queued job, probes, answers; ends on quit. */
void *serve_worker(void *arg)
{
	struct server *s = arg;

	threadmem_thread_start();
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct job *j = NULL;
		int64_t now;

		while (!s->qhead && !s->quit)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->qhead)
			break;
		j = s->qhead;
		queue_unlink_locked(s, j);
		now = mono_ms();
		observe_wait_locked(s, now - j->arrived);
		if (s->stopping || j->deadline - now < SERVE_MIN_DEADLINE_MS) {
			enum refusal why = s->stopping ? REFUSE_SHUTDOWN : REFUSE_QUEUE_TIMEOUT;

			s->refused[why]++;
			job_text(j, MHD_HTTP_SERVICE_UNAVAILABLE,
			         why == REFUSE_SHUTDOWN
			             ? "shutting down: try another instance\n"
			             : "no probe slot came free before the scrape deadline: raise "
			               "--max-probes or the scrape timeout\n");
			job_finish_locked(s, j);
			continue;
		}
		s->in_flight++;
		pthread_mutex_unlock(&s->lock);
		run_job(s, j);
		/* a report and a CA load touch deep stack: give it back */
		threadmem_trim_stack();
		pthread_mutex_lock(&s->lock);
		s->in_flight--;
		job_finish_locked(s, j);
		if (s->in_flight == 0 && !s->qhead) {
			/* the last one out returns the burst's freed memory */
			pthread_mutex_unlock(&s->lock);
			threadmem_trim_heap();
			pthread_mutex_lock(&s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	tls_thread_cleanup();
	return NULL;
}

/* The reaper: answers 503 to queued jobs whose deadline would pass in the
 * queue, and to every queued job once stopping; ends on quit. */
void *serve_reaper(void *arg)
{
	struct server *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->quit) {
		int64_t now = mono_ms(), next = now + 1000;
		struct job *j = s->qhead;

		while (j) {
			struct job *after = j->next;

			if (s->stopping || j->deadline - now < SERVE_MIN_DEADLINE_MS) {
				enum refusal why =
				    s->stopping ? REFUSE_SHUTDOWN : REFUSE_QUEUE_TIMEOUT;

				queue_unlink_locked(s, j);
				observe_wait_locked(s, now - j->arrived);
				s->refused[why]++;
				job_text(
				    j, MHD_HTTP_SERVICE_UNAVAILABLE,
				    why == REFUSE_SHUTDOWN
				        ? "shutting down: try another instance\n"
				        : "no probe slot came free before the scrape deadline: "
				          "raise --max-probes or the scrape timeout\n");
				job_finish_locked(s, j);
				/* the queue may have changed meanwhile: start over */
				after = s->qhead;
				now = mono_ms();
			} else if (j->deadline - SERVE_MIN_DEADLINE_MS < next) {
				next = j->deadline - SERVE_MIN_DEADLINE_MS;
			}
			j = after;
		}
		if (s->quit)
			break;
		{
			struct timespec until;
			int64_t wait = next - mono_ms();

			if (wait < 1)
				wait = 1;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += (time_t)(wait / 1000);
			until.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->reap, &s->lock, &until);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Background probing of the configured targets every "interval" seconds.
 * It holds a reference to the configuration it reads, for as long as it
 * reads it; a reload ends the pass and starts the new one's at once. */
void *serve_prober(void *arg)
{
	struct server *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct cfg_holder *h = s->cfg;
		unsigned long gen = s->generation;
		struct timespec until;
		int interval;

		h->refs++;
		interval = h->c->interval_s;
		/* no probe of the pass runs now: a fresh flag for this one */
		s->stop_pass = 0;
		if (!interval) {
			pthread_mutex_unlock(&s->lock);
			serve_cfg_put(s, h);
			pthread_mutex_lock(&s->lock);
			while (!s->stopping && s->generation == gen)
				pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		for (size_t i = 0; i < h->c->ntargets; i++) {
			const struct serve_target *t = &h->c->targets[i];
			const char *targets[1] = {t->target};
			struct run_options *opt = NULL;
			struct run_outcome run;
			struct mp_error err;
			char heading[600], ids[32];
			char *html = NULL;
			size_t len = 0;
			FILE *f = NULL;
			bool stale;

			pthread_mutex_lock(&s->lock);
			stale = s->stopping || s->generation != gen;
			pthread_mutex_unlock(&s->lock);
			if (stale)
				break;
			opt = calloc(1, sizeof(*opt));
			if (!opt)
				break;
			memset(&run, 0, sizeof(run));
			if (serve_config_options(serve_config_module(h->c, t->module), targets, 1,
			                         opt, &err) == 0 &&
			    run_probe(opt, 0, &s->stop_pass, -1, NULL, NULL, &run, &err) == 0) {
				snprintf(heading, sizeof(heading), "%s (module %s)", t->target,
				         t->module);
				snprintf(ids, sizeof(ids), "t%zu", i);
				f = open_memstream(&html, &len);
				if (f) {
					report_write_html_run(f, &run.report, heading, ids);
					if (fclose(f) != 0) {
						free(html);
						html = NULL;
					}
				}
			}
			run_outcome_free(&run);
			explicit_bzero(opt, sizeof(*opt));
			free(opt);
			pthread_mutex_lock(&s->lock);
			if (html && s->generation == gen && i < s->nstatus) {
				free(s->status[i].html);
				s->status[i].html = html;
				s->status[i].at = time(NULL);
				html = NULL;
			}
			pthread_mutex_unlock(&s->lock);
			free(html);
		}
		serve_cfg_put(s, h);
		pthread_mutex_lock(&s->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += interval;
		while (!s->stopping && s->generation == gen &&
		       pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->lock);
	tls_thread_cleanup();
	return NULL;
}
