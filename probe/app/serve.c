/* serve.c - "mailprobe serve": an HTTP front door (libmicrohttpd) onto the
 * same options -> plan -> engine -> report path as the command line.
 *
 *   GET  /probe?target=T[&target=T2...]&module=M[&format=json|prometheus]
 *   GET  /metrics      the exporter's own metrics
 *   GET  /-/healthy
 *   POST /-/reload     (with --enable-lifecycle; SIGHUP always) reload the
 *                      configuration; a bad one is refused, the old one kept
 *   GET  /             status page of the configured targets
 *
 * Connections: libmicrohttpd's event loop on a small pool of threads (a slow
 * client costs a socket, not a thread), a per-client connection limit, an
 * idle timeout and a deadline for a request's headers.
 * Probes: a request is checked in the event loop, then queued (FIFO) for one
 * of --max-probes worker threads while its connection is suspended; it waits
 * until its scrape deadline (X-Prometheus-Scrape-Timeout-Seconds less a
 * margin, else --scrape-timeout): 503 only when that would pass in the queue.
 * Names are resolved once and exactly the addresses checked against "allow"
 * are probed (serve_config_pin).
 * Lifecycle: SIGTERM or SIGINT stops taking work (new requests get 503),
 * lets running probes go on for --shutdown-grace, then cuts them (their
 * results say interrupted), answers, and exits 0; a second signal exits at
 * once. Nothing here logs or echoes a module's options: secrets stay in
 * files. */
#include "probe/app/serve.h"
#include "probe/app/run.h"
#include "probe/app/serve_config.h"
#include "probe/discover/discover.h"
#include "probe/engine/plan.h"
#include "core/base64.h"
#include "core/deadline.h"
#include "core/dns.h"
#include "core/threadmem.h"
#include "core/tls.h"
#include "reports/report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SERVE_DEFAULT_PORT 9925
/* Probes at once by default: measured with tests/bench/bench_serve.py and a
 * real Prometheus scraping a few hundred targets (docs/exporter.md). */
#define SERVE_DEFAULT_MAX_PROBES 64
#define SERVE_MAX_MAX_PROBES     1024
/* Scrape timeout assumed without X-Prometheus-Scrape-Timeout-Seconds
 * (Prometheus's own default), seconds. */
#define SERVE_DEFAULT_SCRAPE_TIMEOUT_S 10
/* Seconds running probes get after SIGTERM before they are cut. */
#define SERVE_DEFAULT_GRACE_S 5
/* Scrape deadline margin, as blackbox_exporter's default timeout offset. */
#define SERVE_SCRAPE_MARGIN_MS 500
/* Shortest time a probe is started with: a request that would have less
 * left after the queue is refused (503). */
#define SERVE_MIN_DEADLINE_MS 200
/* Most requests waiting for a probe slot; more get 503 at once. */
#define SERVE_MAX_QUEUE 10000
/* Bytes MHD may use per connection: request line and headers must fit. */
#define SERVE_CONN_MEMORY (64 * 1024)
/* Seconds a client may stay silent mid-request or idle between requests. */
#define SERVE_CONN_TIMEOUT_S 10
/* Seconds from a request line to the end of its headers (408 beyond). */
#define SERVE_HEADER_DEADLINE_S 10
/* Connections at once in all, and from one client address. */
#define SERVE_MAX_CONNECTIONS    4096
#define SERVE_DEFAULT_PER_CLIENT 1024
/* libmicrohttpd's event-loop threads. */
#define SERVE_EVENT_THREADS 2
#define SERVE_THREAD_STACK  (1024 * 1024)
/* Most bytes of a request body (only POST /-/reload has one, unused). */
#define SERVE_MAX_BODY (64 * 1024)
/* malloc arenas: one per thread by default, each keeping freed memory; two
 * keep an idle exporter small after a burst of scrapes. */
#define SERVE_MALLOC_ARENAS 2
/* Request counters kept for /metrics (path x code). */
#define SERVE_MAX_COUNTERS 64
/* After SIGTERM, new requests are answered 503 at least this long. */
#define SERVE_DRAIN_MS 300
/* After the grace, how long cut probes and unsent answers may take. */
#define SERVE_CUT_WAIT_MS 2000
/* How often the main thread looks at a shutdown's progress. */
#define SERVE_TICK_MS 50

/* The configuration in use, shared by requests: freed when the last user
 * lets go of it after a reload. Whoever reads c holds a reference. */
struct cfg_holder {
	struct serve_config *c;
	int refs;
};

/* The last background probe of one configured target. */
struct target_status {
	char *html; /* rendered report body, NULL until probed */
	time_t at;
};

struct counter {
	const char *path;
	unsigned code;
	unsigned long n;
};

/* Upper bounds of the queue-wait histogram, seconds. */
static const double wait_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(wait_buckets) / sizeof(wait_buckets[0]))

enum refusal { REFUSE_QUEUE_TIMEOUT, REFUSE_QUEUE_FULL, REFUSE_SHUTDOWN, REFUSE_COUNT };
static const char *const refusal_names[REFUSE_COUNT] = {"queue_timeout", "queue_full",
                                                        "shutting_down"};

struct job;

struct server {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* reload, stopping (prober) */
	pthread_cond_t work;         /* a job queued, or quit (workers) */
	pthread_cond_t reap;         /* a job queued, or stopping (reaper) */
	pthread_mutex_t reload_lock; /* one reload at a time */
	struct cfg_holder *cfg;
	const char *config_path;
	int max_probes;
	int scrape_timeout_s;
	int grace_s;
	unsigned per_client;
	bool lifecycle; /* POST /-/reload allowed */
	/* queue of jobs waiting for a worker, FIFO */
	struct job *qhead, *qtail;
	size_t qlen;
	int in_flight;
	bool stopping;                     /* SIGTERM: new requests get 503 */
	bool quit;                         /* workers and reaper end */
	volatile sig_atomic_t stop_probes; /* set after the grace: cut the probes */
	size_t pending;                    /* jobs made whose answer is not yet queued in MHD */
	size_t unsent;                     /* answers queued in MHD, not yet sent */
	/* metrics */
	struct counter counters[SERVE_MAX_COUNTERS];
	size_t ncounters;
	double probe_seconds;
	unsigned long probes;
	unsigned long wait_counts[NBUCKETS + 1];
	double wait_sum;
	unsigned long waited;
	unsigned long refused[REFUSE_COUNT];
	unsigned long reloads_ok, reloads_failed;
	bool last_reload_ok;
	time_t last_reload_at;
	/* status page: one slot per target of cfg, rebuilt on reload */
	struct target_status *status;
	size_t nstatus;
	unsigned long generation; /* bumped on reload */
};

/* A /probe request between the event loop and a worker. The event loop
 * makes it and suspends the connection; a worker (or the reaper, or the
 * shutdown) fills the answer, sets done and resumes the connection; the
 * event loop sends the answer and frees the job. */
struct job {
	struct job *next;
	struct MHD_Connection *conn;
	struct cfg_holder *h; /* held until the job is freed */
	const struct serve_module *m;
	char *targets[MP_SERVE_MAX_TARGETS];
	size_t ntargets;
	enum output_format fmt;
	int64_t arrived, deadline; /* monotonic ms */
	int64_t budget_ms;         /* the scrape's whole budget */
	bool done;
	/* the answer */
	unsigned code;
	const char *type;
	bool retry_after;
	char *body;
	size_t len;
};

/* One request's state (MHD's con_cls). */
struct request {
	bool bad_encoding; /* invalid percent-encoding in the URI */
	bool seen;         /* POST: headers seen, body follows */
	bool answered;     /* an answer is queued in MHD (counted in unsent) */
	size_t body;       /* POST: bytes of body dropped so far */
	int64_t started;   /* monotonic ms: the request line was read */
	struct job *job;   /* /probe: queued or running */
};

static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_line(const char *fmt, ...)
{
	va_list ap;

	fputs("mailprobe serve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct cfg_holder *cfg_get(struct server *s)
{
	struct cfg_holder *h = NULL;

	pthread_mutex_lock(&s->lock);
	h = s->cfg;
	h->refs++;
	pthread_mutex_unlock(&s->lock);
	return h;
}

static void cfg_put(struct server *s, struct cfg_holder *h)
{
	bool last;

	pthread_mutex_lock(&s->lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last) {
		serve_config_free(h->c);
		free(h);
	}
}

/* Loads the configuration file; on success it replaces the one in use and
 * the prober starts the new one's pass at once. */
static int reload(struct server *s, struct mp_error *err)
{
	struct serve_config *c = NULL;
	struct cfg_holder *h = NULL, *old = NULL;
	struct target_status *st = NULL, *old_st = NULL;
	size_t old_n = 0;

	pthread_mutex_lock(&s->reload_lock);
	c = serve_config_load(s->config_path, err);
	if (c) {
		h = calloc(1, sizeof(*h));
		st = calloc(c->ntargets ? c->ntargets : 1, sizeof(*st));
		if (!h || !st) {
			mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
			serve_config_free(c);
			free(h);
			free(st);
			c = NULL;
		}
	}
	pthread_mutex_lock(&s->lock);
	s->last_reload_ok = c != NULL;
	if (!c) {
		s->reloads_failed++;
		pthread_mutex_unlock(&s->lock);
		pthread_mutex_unlock(&s->reload_lock);
		return -1;
	}
	s->reloads_ok++;
	s->last_reload_at = time(NULL);
	h->c = c;
	h->refs = 1;
	old = s->cfg;
	s->cfg = h;
	old_st = s->status;
	old_n = s->nstatus;
	s->status = st;
	s->nstatus = c->ntargets;
	s->generation++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < old_n; i++)
		free(old_st[i].html);
	free(old_st);
	if (old)
		cfg_put(s, old);
	pthread_mutex_unlock(&s->reload_lock);
	return 0;
}

/* Counts an answer for /metrics; with s->lock held. */
static void count_locked(struct server *s, const char *path, unsigned code)
{
	static const char *const known[] = {"/probe", "/metrics", "/", "/-/healthy", "/-/reload"};
	const char *p = "other";

	for (size_t i = 0; path && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(path, known[i]) == 0)
			p = known[i];
	for (size_t i = 0; i < s->ncounters; i++)
		if (s->counters[i].path == p && s->counters[i].code == code) {
			s->counters[i].n++;
			return;
		}
	if (s->ncounters < SERVE_MAX_COUNTERS)
		s->counters[s->ncounters++] = (struct counter){.path = p, .code = code, .n = 1};
}

static void count(struct server *s, const char *path, unsigned code)
{
	pthread_mutex_lock(&s->lock);
	count_locked(s, path, code);
	pthread_mutex_unlock(&s->lock);
}

/* Queues an answer that owns buf (malloc'd, len bytes). */
static enum MHD_Result respond_buf(struct server *s, struct MHD_Connection *conn,
                                   struct request *req, const char *path, unsigned code,
                                   const char *type, char *buf, size_t len, bool retry_after)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (code == MHD_HTTP_REQUEST_TIMEOUT)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	rc = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	pthread_mutex_lock(&s->lock);
	count_locked(s, path, code);
	if (rc == MHD_YES && req && !req->answered) {
		req->answered = true;
		s->unsent++;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* A short plain-text answer (errors say what went wrong and what to do). */
static enum MHD_Result respond_text(struct server *s, struct MHD_Connection *conn,
                                    struct request *req, const char *path, unsigned code,
                                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result respond_text(struct server *s, struct MHD_Connection *conn,
                                    struct request *req, const char *path, unsigned code,
                                    const char *fmt, ...)
{
	char *buf = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return respond_buf(s, conn, req, path, code, "text/plain; charset=utf-8", buf, (size_t)n,
	                   code == MHD_HTTP_SERVICE_UNAVAILABLE);
}

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

static void job_free(struct server *s, struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->ntargets; i++)
		free(j->targets[i]);
	free(j->body);
	if (j->h)
		cfg_put(s, j->h);
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

	while (b < NBUCKETS && sec > wait_buckets[b])
		b++;
	s->wait_counts[b]++;
	s->wait_sum += sec;
	s->waited++;
}

/* Collected query parameters of /probe. */
struct probe_args {
	const char *targets[MP_SERVE_MAX_TARGETS];
	size_t ntargets;
	const char *module;
	const char *format;
	const char *bad; /* first unknown or repeated parameter */
	bool too_many;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct probe_args *a = cls;

	(void)kind;
	if (strcmp(key, "target") == 0 && value && *value) {
		if (a->ntargets < MP_SERVE_MAX_TARGETS)
			a->targets[a->ntargets++] = value;
		else
			a->too_many = true;
	} else if (strcmp(key, "module") == 0 && !a->module) {
		a->module = value ? value : "";
	} else if (strcmp(key, "format") == 0 && !a->format) {
		a->format = value ? value : "";
	} else if (!a->bad) {
		a->bad = key;
	}
	return MHD_YES;
}

/* The scrape's budget: Prometheus's scrape timeout header, else
 * --scrape-timeout, less a margin. */
static int64_t scrape_budget_ms(const struct server *s, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                            "X-Prometheus-Scrape-Timeout-Seconds");
	char *end = NULL;
	double sec = s->scrape_timeout_s;
	int64_t ms;

	if (h) {
		errno = 0;
		sec = strtod(h, &end);
		if (errno || end == h || sec <= 0 || sec > 86400)
			sec = s->scrape_timeout_s;
	}
	ms = (int64_t)(sec * 1000) - SERVE_SCRAPE_MARGIN_MS;
	return ms < SERVE_MIN_DEADLINE_MS ? SERVE_MIN_DEADLINE_MS : ms;
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
			logf_line("module '%.60s': the resolver it names could not start",
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
		logf_line("module '%.60s' could not start a probe: check the files it names, "
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
static void *worker(void *arg)
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
static void *reaper(void *arg)
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

/* Handles GET /probe: checks what is cheap to check in the event loop,
 * then queues a job and suspends the connection until it is answered. */
static enum MHD_Result handle_probe(struct server *s, struct MHD_Connection *conn,
                                    struct request *req)
{
	struct probe_args a;
	struct cfg_holder *h = NULL;
	const struct serve_module *m = NULL;
	struct mp_error err;
	struct job *j = NULL;
	enum output_format fmt = FORMAT_PROMETHEUS;
	enum MHD_Result rc = MHD_NO;

	if (req->job) {
		/* resumed: the job is answered */
		j = req->job;
		req->job = NULL;
		rc = respond_buf(s, conn, req, "/probe", j->code, j->type ? j->type : "text/plain",
		                 j->body, j->len, j->retry_after);
		j->body = NULL;
		pthread_mutex_lock(&s->lock);
		s->pending--;
		pthread_mutex_unlock(&s->lock);
		job_free(s, j);
		return rc;
	}
	memset(&a, 0, sizeof(a));
	if (req->bad_encoding)
		return respond_text(s, conn, req, "/probe", MHD_HTTP_BAD_REQUEST,
		                    "invalid percent-encoding in the query string\n");
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	if (a.bad)
		return respond_text(s, conn, req, "/probe", MHD_HTTP_BAD_REQUEST,
		                    "unknown or repeated parameter: use target (repeatable), "
		                    "module and format\n");
	if (a.too_many)
		return respond_text(s, conn, req, "/probe", MHD_HTTP_BAD_REQUEST,
		                    "at most %d targets in one request\n", MP_SERVE_MAX_TARGETS);
	if (!a.ntargets)
		return respond_text(s, conn, req, "/probe", MHD_HTTP_BAD_REQUEST,
		                    "missing target: /probe?target=HOST_OR_URL&module=NAME\n");
	if (a.format && strcmp(a.format, "json") == 0)
		fmt = FORMAT_JSON;
	else if (a.format && strcmp(a.format, "prometheus") != 0)
		return respond_text(s, conn, req, "/probe", MHD_HTTP_BAD_REQUEST,
		                    "format must be prometheus (the default) or json\n");
	for (size_t i = 0; i < a.ntargets; i++)
		if (serve_target_check(a.targets[i], &err) != 0)
			return respond_text(s, conn, req, "/probe", MHD_HTTP_BAD_REQUEST,
			                    "target %zu: %s\n", i + 1, err.msg);
	h = cfg_get(s);
	m = serve_config_module(h->c, a.module && *a.module ? a.module : "default");
	if (!m) {
		rc = respond_text(s, conn, req, "/probe", MHD_HTTP_BAD_REQUEST,
		                  "unknown module: name one of the configuration's \"modules\"\n");
		goto out;
	}
	/* numeric hosts are judged here; names once resolved, by a worker */
	for (size_t i = 0; i < a.ntargets; i++) {
		char host[256];
		unsigned char addr[16];
		struct endpoint ep;
		struct mp_error scratch;
		const char *hp = a.targets[i];

		if (plan_parse_url(hp, &ep, &scratch) == 1)
			hp = ep.host;
		if (plan_parse_host(hp, host, sizeof(host), &scratch) != 0)
			continue;
		if ((inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) &&
		    !serve_config_allows(h->c, a.targets[i])) {
			rc = respond_text(s, conn, req, "/probe", MHD_HTTP_FORBIDDEN,
			                  "target %zu is not allowed: add its host, a pattern or a "
			                  "CIDR to \"allow\" in the configuration\n",
			                  i + 1);
			goto out;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		rc = respond_text(s, conn, req, "/probe", MHD_HTTP_INTERNAL_SERVER_ERROR,
		                  "out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < a.ntargets; i++) {
		j->targets[i] = strdup(a.targets[i]);
		if (!j->targets[j->ntargets++]) {
			rc = respond_text(s, conn, req, "/probe", MHD_HTTP_INTERNAL_SERVER_ERROR,
			                  "out of memory\n");
			goto out;
		}
	}
	j->conn = conn;
	j->h = h;
	h = NULL;
	j->m = m;
	j->fmt = fmt;
	j->arrived = mono_ms();
	j->budget_ms = scrape_budget_ms(s, conn);
	j->deadline = j->arrived + j->budget_ms;
	pthread_mutex_lock(&s->lock);
	if (s->stopping || s->qlen >= SERVE_MAX_QUEUE) {
		enum refusal why = s->stopping ? REFUSE_SHUTDOWN : REFUSE_QUEUE_FULL;

		s->refused[why]++;
		pthread_mutex_unlock(&s->lock);
		rc = respond_text(s, conn, req, "/probe", MHD_HTTP_SERVICE_UNAVAILABLE,
		                  why == REFUSE_SHUTDOWN ? "shutting down: try another instance\n"
		                                         : "too many requests waiting: raise "
		                                           "--max-probes\n");
		goto out;
	}
	/* suspended before a worker can answer and resume it */
	MHD_suspend_connection(conn);
	req->job = j;
	s->pending++;
	if (s->qtail)
		s->qtail->next = j;
	else
		s->qhead = j;
	s->qtail = j;
	s->qlen++;
	j = NULL;
	pthread_cond_signal(&s->work);
	pthread_cond_signal(&s->reap);
	pthread_mutex_unlock(&s->lock);
	rc = MHD_YES;
out:
	job_free(s, j);
	if (h)
		cfg_put(s, h);
	return rc;
}

/* The exporter's own metrics, in the text exposition format. */
static enum MHD_Result handle_metrics(struct server *s, struct MHD_Connection *conn,
                                      struct request *req)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned long cum = 0;

	if (!f)
		return MHD_NO;
	pthread_mutex_lock(&s->lock);
	fprintf(f,
	        "# HELP mailprobe_exporter_build_info The exporter's version.\n"
	        "# TYPE mailprobe_exporter_build_info gauge\n"
	        "mailprobe_exporter_build_info{version=\"%s\"} 1\n",
	        MP_VERSION);
	fprintf(f, "# HELP mailprobe_exporter_requests_total HTTP requests answered, by path "
	           "and status code (libmicrohttpd's own answers under path \"other\").\n"
	           "# TYPE mailprobe_exporter_requests_total counter\n");
	for (size_t i = 0; i < s->ncounters; i++)
		fprintf(f, "mailprobe_exporter_requests_total{path=\"%s\",code=\"%u\"} %lu\n",
		        s->counters[i].path, s->counters[i].code, s->counters[i].n);
	fprintf(f,
	        "# HELP mailprobe_exporter_probes_in_flight Probe requests running now.\n"
	        "# TYPE mailprobe_exporter_probes_in_flight gauge\n"
	        "mailprobe_exporter_probes_in_flight %d\n"
	        "# HELP mailprobe_exporter_probe_slots Probe requests that may run at once "
	        "(--max-probes).\n"
	        "# TYPE mailprobe_exporter_probe_slots gauge\n"
	        "mailprobe_exporter_probe_slots %d\n"
	        "# HELP mailprobe_exporter_queue_length Probe requests waiting for a slot.\n"
	        "# TYPE mailprobe_exporter_queue_length gauge\n"
	        "mailprobe_exporter_queue_length %zu\n",
	        s->in_flight, s->max_probes, s->qlen);
	fprintf(f, "# HELP mailprobe_exporter_queue_wait_seconds Time probe requests waited "
	           "for a slot.\n# TYPE mailprobe_exporter_queue_wait_seconds histogram\n");
	for (size_t b = 0; b < NBUCKETS; b++) {
		cum += s->wait_counts[b];
		fprintf(f, "mailprobe_exporter_queue_wait_seconds_bucket{le=\"%g\"} %lu\n",
		        wait_buckets[b], cum);
	}
	fprintf(f,
	        "mailprobe_exporter_queue_wait_seconds_bucket{le=\"+Inf\"} %lu\n"
	        "mailprobe_exporter_queue_wait_seconds_sum %.3f\n"
	        "mailprobe_exporter_queue_wait_seconds_count %lu\n",
	        s->waited, s->wait_sum, s->waited);
	fprintf(f, "# HELP mailprobe_exporter_refused_total Probe requests answered 503, by "
	           "reason.\n# TYPE mailprobe_exporter_refused_total counter\n");
	for (size_t r = 0; r < REFUSE_COUNT; r++)
		fprintf(f, "mailprobe_exporter_refused_total{reason=\"%s\"} %lu\n",
		        refusal_names[r], s->refused[r]);
	fprintf(f,
	        "# HELP mailprobe_exporter_probe_duration_seconds Time probe requests took.\n"
	        "# TYPE mailprobe_exporter_probe_duration_seconds summary\n"
	        "mailprobe_exporter_probe_duration_seconds_sum %.3f\n"
	        "mailprobe_exporter_probe_duration_seconds_count %lu\n",
	        s->probe_seconds, s->probes);
	fprintf(f,
	        "# HELP mailprobe_exporter_config_reloads_total Configuration loads, by "
	        "result.\n# TYPE mailprobe_exporter_config_reloads_total counter\n"
	        "mailprobe_exporter_config_reloads_total{result=\"success\"} %lu\n"
	        "mailprobe_exporter_config_reloads_total{result=\"failure\"} %lu\n",
	        s->reloads_ok, s->reloads_failed);
	fprintf(f,
	        "# HELP mailprobe_exporter_config_last_reload_successful Whether the last "
	        "configuration load worked.\n"
	        "# TYPE mailprobe_exporter_config_last_reload_successful gauge\n"
	        "mailprobe_exporter_config_last_reload_successful %d\n"
	        "# HELP mailprobe_exporter_config_last_reload_success_timestamp_seconds When "
	        "the configuration was last loaded, as Unix time.\n"
	        "# TYPE mailprobe_exporter_config_last_reload_success_timestamp_seconds gauge\n"
	        "mailprobe_exporter_config_last_reload_success_timestamp_seconds %lld\n",
	        s->last_reload_ok ? 1 : 0, (long long)s->last_reload_at);
	pthread_mutex_unlock(&s->lock);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	return respond_buf(s, conn, req, "/metrics", MHD_HTTP_OK,
	                   "text/plain; version=0.0.4; charset=utf-8", buf, len, false);
}

/* The status page: the last background probe of every configured target. */
static enum MHD_Result handle_status(struct server *s, struct MHD_Connection *conn,
                                     struct request *req)
{
	struct cfg_holder *h = cfg_get(s);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		cfg_put(s, h);
		return MHD_NO;
	}
	report_write_html_head(f, "mailprobe status");
	pthread_mutex_lock(&s->lock);
	if (!h->c->ntargets)
		fputs("<p>No targets in the configuration: list them under \"targets\" to see them "
		      "here.</p>\n",
		      f);
	for (size_t i = 0; i < h->c->ntargets; i++) {
		const struct target_status *st =
		    s->cfg == h && i < s->nstatus ? &s->status[i] : NULL;

		if (st && st->html) {
			fputs(st->html, f);
			continue;
		}
		fputs("<section><h2>", f);
		report_html_text(f, h->c->targets[i].target);
		fputs("</h2><p>", f);
		fputs(h->c->interval_s ? "not probed yet"
		                       : "not probed: set \"interval\" in the "
		                         "configuration to probe the targets in the background",
		      f);
		fputs("</p></section>\n", f);
	}
	pthread_mutex_unlock(&s->lock);
	report_write_html_tail(f);
	cfg_put(s, h);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	return respond_buf(s, conn, req, "/", MHD_HTTP_OK, "text/html; charset=utf-8", buf, len,
	                   false);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct request *req = *con_cls;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	bool get =
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	bool stopping;
	struct mp_error err;

	(void)version;
	(void)upload_data;
	if (!req)
		return MHD_NO;
	if (req->job)
		return handle_probe(s, conn, req);
	if (!req->seen && mono_ms() - req->started > SERVE_HEADER_DEADLINE_S * 1000) {
		/* headers trickled in past the deadline */
		req->seen = true;
		return respond_text(s, conn, req, url, MHD_HTTP_REQUEST_TIMEOUT,
		                    "the request took longer than %d s to arrive\n",
		                    SERVE_HEADER_DEADLINE_S);
	}
	if (post) {
		/* the body is never used: drop it, answer once it is read */
		if (*upload_data_size) {
			/* a body that goes on and on: close the connection */
			req->body += *upload_data_size;
			if (req->body > SERVE_MAX_BODY)
				return MHD_NO;
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (!req->seen) {
			req->seen = true;
			return MHD_YES;
		}
	}
	req->seen = true;
	pthread_mutex_lock(&s->lock);
	stopping = s->stopping;
	if (stopping && strcmp(url, "/probe") == 0)
		s->refused[REFUSE_SHUTDOWN]++;
	pthread_mutex_unlock(&s->lock);
	if (stopping)
		return respond_text(s, conn, req, url, MHD_HTTP_SERVICE_UNAVAILABLE,
		                    "shutting down: try another instance\n");
	if (strcmp(url, "/-/reload") == 0) {
		if (!post)
			return respond_text(s, conn, req, url, MHD_HTTP_METHOD_NOT_ALLOWED,
			                    "use POST /-/reload\n");
		if (!s->lifecycle)
			return respond_text(s, conn, req, url, MHD_HTTP_FORBIDDEN,
			                    "reload over HTTP is off: start mailprobe serve with "
			                    "--enable-lifecycle, or send SIGHUP\n");
		if (reload(s, &err) != 0) {
			logf_line("reload refused, keeping the old configuration: %s", err.msg);
			return respond_text(s, conn, req, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
			                    "reload refused, the old configuration stays: %s\n",
			                    err.msg);
		}
		logf_line("configuration reloaded from %s", s->config_path);
		return respond_text(s, conn, req, url, MHD_HTTP_OK, "configuration reloaded\n");
	}
	if (!get)
		return respond_text(s, conn, req, url, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n");
	if (strcmp(url, "/probe") == 0)
		return handle_probe(s, conn, req);
	if (strcmp(url, "/metrics") == 0)
		return handle_metrics(s, conn, req);
	if (strcmp(url, "/-/healthy") == 0)
		return respond_text(s, conn, req, url, MHD_HTTP_OK, "OK\n");
	if (strcmp(url, "/") == 0)
		return handle_status(s, conn, req);
	return respond_text(s, conn, req, url, MHD_HTTP_NOT_FOUND,
	                    "not found: use /probe, /metrics, /-/healthy, /-/reload or /\n");
}

/* Called with the raw URI before parsing: makes the request's state and
 * checks the percent-encoding (MHD itself would pass bad escapes on). */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *req = calloc(1, sizeof(*req));

	(void)cls;
	(void)conn;
	if (!req)
		return NULL;
	req->started = mono_ms();
	for (const char *p = uri; p && *p; p++)
		if (*p == '%' && (hex_digit_value(p[1]) < 0 || hex_digit_value(p[2]) < 0)) {
			req->bad_encoding = true;
			break;
		}
	return req;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
	struct server *s = cls;
	struct request *req = *con_cls;

	(void)conn;
	(void)code;
	if (req) {
		pthread_mutex_lock(&s->lock);
		if (req->answered)
			s->unsent--;
		if (req->job)
			s->pending--;
		pthread_mutex_unlock(&s->lock);
		/* a job is never left behind: a suspended connection ends only
		 * after its job resumed it and the answer took it */
		job_free(s, req->job);
	}
	free(req);
	*con_cls = NULL;
}

/* libmicrohttpd's messages: its own error answers (414, 431, 400...) are
 * counted, the rest logged. */
static void mhd_log(void *cls, const char *fm, va_list ap)
{
	static const char own[] = "Error processing request (HTTP response code is %u";
	struct server *s = cls;

	if (strncmp(fm, own, sizeof(own) - 1) == 0) {
		va_list copy;
		unsigned code;

		va_copy(copy, ap);
		code = va_arg(copy, unsigned);
		va_end(copy);
		count(s, NULL, code);
		return;
	}
	fputs("mailprobe serve: libmicrohttpd: ", stderr);
	vfprintf(stderr, fm, ap);
}

/* Background probing of the configured targets every "interval" seconds.
 * It holds a reference to the configuration it reads, for as long as it
 * reads it; a reload ends the pass and starts the new one's at once. */
static void *prober(void *arg)
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
		if (!interval) {
			pthread_mutex_unlock(&s->lock);
			cfg_put(s, h);
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
			    run_probe(opt, 0, &s->stop_probes, -1, NULL, NULL, &run, &err) == 0) {
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
		cfg_put(s, h);
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

static void serve_usage(FILE *f)
{
	fputs("Usage: mailprobe serve --config FILE [--listen ADDR:PORT] [options]\n"
	      "Prometheus exporter, JSON API and status page for mail endpoints\n"
	      "(docs/exporter.md).\n"
	      "\n"
	      "  --listen ADDR:PORT        address to listen on (default 127.0.0.1:9925; an\n"
	      "                            IPv6 address in brackets: [::1]:9925)\n"
	      "  --config FILE             modules, allowed targets, background targets (JSON)\n"
	      "  --max-probes N            probe requests running at once (default 64); more\n"
	      "                            wait in a queue until their scrape deadline\n"
	      "  --scrape-timeout SEC      a request's deadline without Prometheus's\n"
	      "                            X-Prometheus-Scrape-Timeout-Seconds (default 10)\n"
	      "  --shutdown-grace SEC      after SIGTERM, how long running probes may go on\n"
	      "                            before they are cut (default 5)\n"
	      "  --max-connections-per-client N\n"
	      "                            connections at once from one address (default 1024)\n"
	      "  --enable-lifecycle        allow POST /-/reload (SIGHUP always reloads)\n"
	      "  -h, --help                this help\n"
	      "\n"
	      "Endpoints:\n"
	      "  GET  /probe?target=T&module=M[&format=json]   probe T (repeatable) with module\n"
	      "       M's options; Prometheus text, or the JSON report\n"
	      "  GET  /metrics      the exporter's own metrics\n"
	      "  GET  /-/healthy    200 while running\n"
	      "  POST /-/reload     reload the configuration (with --enable-lifecycle)\n"
	      "  GET  /             status page of the configured targets\n"
	      "\n"
	      "Signals: SIGHUP reloads; SIGTERM or SIGINT stops (a second one at once).\n"
	      "\n"
	      "Prometheus scrape configuration (the multi-target exporter pattern):\n"
	      "  - job_name: mail\n"
	      "    metrics_path: /probe\n"
	      "    params: {module: [default]}\n"
	      "    static_configs: [{targets: ['smtps://mail.example.com']}]\n"
	      "    relabel_configs:\n"
	      "      - {source_labels: [__address__], target_label: __param_target}\n"
	      "      - {source_labels: [__param_target], target_label: instance}\n"
	      "      - {target_label: __address__, replacement: '127.0.0.1:9925'}\n",
	      f);
}

/* Parses ADDR:PORT ("127.0.0.1:9925", "[::1]:9925") into ss. */
static int parse_listen(const char *arg, struct sockaddr_storage *ss, bool *v6,
                        struct mp_error *err)
{
	char host[64];
	const char *colon = NULL;
	char *end = NULL;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':' || (size_t)(close - arg - 1) >= sizeof(host))
			goto bad;
		memcpy(host, arg + 1, (size_t)(close - arg - 1));
		host[close - arg - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon || (size_t)(colon - arg) >= sizeof(host))
			goto bad;
		memcpy(host, arg, (size_t)(colon - arg));
		host[colon - arg] = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
		goto bad;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return 0;
	}
bad:
	mp_error_set(err, MP_ERR_INTERNAL,
	             "--listen expects ADDRESS:PORT with an IP address, "
	             "e.g. 127.0.0.1:9925 or [::1]:9925, not '%.60s'",
	             arg);
	return -1;
}

/* A whole number option from lo to hi, or -1 with a message. */
static long num_option(const char *name, const char *arg, long lo, long hi)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi) {
		fprintf(stderr,
		        "mailprobe serve: --%s expects a whole number from %ld to %ld (see "
		        "mailprobe serve --help)\n",
		        name, lo, hi);
		return -1;
	}
	return v;
}

/* Room for the connections: the soft limit on open files up to the hard. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* After the first SIGTERM or SIGINT: new requests get 503, queued ones too
 * (the reaper), running probes get the grace and are then cut. Returns when
 * everything is answered and sent, or the time is up (false). A second
 * signal exits at once. */
static bool shut_down(struct server *s, const sigset_t *sigs)
{
	int64_t t0 = mono_ms(), grace_end = t0 + (int64_t)s->grace_s * 1000;
	int64_t give_up = grace_end + SERVE_CUT_WAIT_MS;

	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_cond_broadcast(&s->reap);
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	for (;;) {
		struct timespec tick = {.tv_sec = 0, .tv_nsec = SERVE_TICK_MS * 1000000L};
		int64_t now;
		bool idle;
		int sig = sigtimedwait(sigs, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT) {
			logf_line("second signal: exiting now");
			_exit(128 + sig);
		}
		now = mono_ms();
		pthread_mutex_lock(&s->lock);
		idle = s->pending == 0 && s->unsent == 0;
		if (!idle && now >= grace_end && !s->stop_probes && s->in_flight > 0) {
			logf_line("grace of %d s over: cutting %d running probes", s->grace_s,
			          s->in_flight);
			s->stop_probes = 1;
		}
		pthread_mutex_unlock(&s->lock);
		if (now >= grace_end && !s->stop_probes) {
			/* the background pass too */
			s->stop_probes = 1;
		}
		if (idle && now - t0 >= SERVE_DRAIN_MS)
			return true;
		if (now >= give_up)
			return false;
	}
}

int serve_main(int argc, char **argv)
{
	enum { OPT_SCRAPE = 256, OPT_GRACE, OPT_PER_CLIENT, OPT_LIFECYCLE };
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"config", required_argument, NULL, 'c'},
	    {"max-probes", required_argument, NULL, 'm'},
	    {"scrape-timeout", required_argument, NULL, OPT_SCRAPE},
	    {"shutdown-grace", required_argument, NULL, OPT_GRACE},
	    {"max-connections-per-client", required_argument, NULL, OPT_PER_CLIENT},
	    {"enable-lifecycle", no_argument, NULL, OPT_LIFECYCLE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct server s;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d = NULL;
	struct mp_error err;
	const char *listen_arg = "127.0.0.1:9925";
	pthread_t bg, rp, *workers = NULL;
	int nworkers = 0;
	bool v6 = false, bg_started = false, rp_started = false, clean = false;
	sigset_t sigs;
	int c, sig = 0, rc = 3;
	long v;

	memset(&s, 0, sizeof(s));
	mallopt(M_ARENA_MAX, SERVE_MALLOC_ARENAS);
	pthread_mutex_init(&s.lock, NULL);
	pthread_mutex_init(&s.reload_lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	pthread_cond_init(&s.work, NULL);
	pthread_cond_init(&s.reap, NULL);
	s.max_probes = SERVE_DEFAULT_MAX_PROBES;
	s.scrape_timeout_s = SERVE_DEFAULT_SCRAPE_TIMEOUT_S;
	s.grace_s = SERVE_DEFAULT_GRACE_S;
	s.per_client = SERVE_DEFAULT_PER_CLIENT;
	opterr = 0;
	optind = 0; /* glibc: a full reset */
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_arg = optarg;
			break;
		case 'c':
			s.config_path = optarg;
			break;
		case 'm':
			if ((v = num_option("max-probes", optarg, 1, SERVE_MAX_MAX_PROBES)) < 0)
				return 3;
			s.max_probes = (int)v;
			break;
		case OPT_SCRAPE:
			if ((v = num_option("scrape-timeout", optarg, 1, 3600)) < 0)
				return 3;
			s.scrape_timeout_s = (int)v;
			break;
		case OPT_GRACE:
			if ((v = num_option("shutdown-grace", optarg, 0, 3600)) < 0)
				return 3;
			s.grace_s = (int)v;
			break;
		case OPT_PER_CLIENT:
			if ((v = num_option("max-connections-per-client", optarg, 1,
			                    SERVE_MAX_CONNECTIONS)) < 0)
				return 3;
			s.per_client = (unsigned)v;
			break;
		case OPT_LIFECYCLE:
			s.lifecycle = true;
			break;
		case 'h':
			serve_usage(stdout);
			return 0;
		default:
			fprintf(stderr,
			        "mailprobe serve: %s option '%.40s' (see mailprobe serve "
			        "--help)\n",
			        c == ':' ? "missing value for" : "unknown", argv[optind - 1]);
			return 3;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		        "mailprobe serve: unexpected argument '%.60s': targets come with "
		        "each request (see mailprobe serve --help)\n",
		        argv[optind]);
		return 3;
	}
	if (!s.config_path) {
		fprintf(stderr,
		        "mailprobe serve: --config FILE is required: it lists the modules "
		        "and the targets that may be probed (see mailprobe serve --help)\n");
		return 3;
	}
	if (parse_listen(listen_arg, &ss, &v6, &err) != 0) {
		fprintf(stderr, "mailprobe serve: %s (see mailprobe serve --help)\n", err.msg);
		return 3;
	}
	/* a module with "user" but no password file must fail, not prompt */
	{
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			close(null);
		}
	}
	if (reload(&s, &err) != 0) {
		fprintf(stderr, "mailprobe serve: %s\n", err.msg);
		return 3;
	}
	raise_nofile();
	/* every thread inherits this mask; the main thread takes the signals */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	workers = calloc((size_t)s.max_probes, sizeof(*workers));
	if (!workers) {
		fprintf(stderr, "mailprobe serve: out of memory\n");
		goto out;
	}
	for (nworkers = 0; nworkers < s.max_probes; nworkers++)
		if (pthread_create(&workers[nworkers], NULL, worker, &s) != 0)
			break;
	if (nworkers == 0 || pthread_create(&rp, NULL, reaper, &s) != 0) {
		fprintf(stderr, "mailprobe serve: cannot start threads: %s\n", strerror(errno));
		goto out;
	}
	rp_started = true;
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
	        MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, handle, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s,
	    MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, &s, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)SERVE_EVENT_THREADS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)SERVE_CONN_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)SERVE_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)SERVE_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, s.per_client,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U, MHD_OPTION_THREAD_STACK_SIZE,
	    (size_t)SERVE_THREAD_STACK, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "mailprobe serve: cannot listen on %s: %s: is the port in use?\n",
		        listen_arg, strerror(errno));
		goto out;
	}
	if (pthread_create(&bg, NULL, prober, &s) == 0)
		bg_started = true;
	logf_line("listening on %s, configuration %s, at most %d probes at once", listen_arg,
	          s.config_path, s.max_probes);
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (reload(&s, &err) != 0)
				logf_line("reload refused, keeping the old configuration: %s",
				          err.msg);
			else
				logf_line("configuration reloaded from %s", s.config_path);
			continue;
		}
		break;
	}
	logf_line("stopping: new requests get 503; running probes have %d s, then are cut",
	          s.grace_s);
	clean = shut_down(&s, &sigs);
	if (!clean) {
		/* a connection still suspended cannot be stopped safely */
		logf_line("probes did not end in time: exiting without cleaning up");
		_exit(1);
	}
	rc = 0;
out:
	if (d) {
		MHD_socket lfd = MHD_quiesce_daemon(d);

		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
		MHD_stop_daemon(d);
	}
	pthread_mutex_lock(&s.lock);
	s.stopping = true;
	s.quit = true;
	s.stop_probes = 1;
	pthread_cond_broadcast(&s.cond);
	pthread_cond_broadcast(&s.work);
	pthread_cond_broadcast(&s.reap);
	pthread_mutex_unlock(&s.lock);
	if (bg_started)
		pthread_join(bg, NULL);
	if (rp_started)
		pthread_join(rp, NULL);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	for (size_t i = 0; i < s.nstatus; i++)
		free(s.status[i].html);
	free(s.status);
	if (s.cfg)
		cfg_put(&s, s.cfg);
	tls_thread_cleanup();
	return rc;
}
