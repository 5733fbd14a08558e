/* serve.c - "mailprobe serve": an HTTP front door (libmicrohttpd) onto the
 * same options -> plan -> engine -> report path as the command line.
 *
 *   GET  /probe?target=T[&target=T2...]&module=M[&format=json|prometheus]
 *   GET  /metrics      the exporter's own metrics
 *   GET  /-/healthy
 *   POST /-/reload     (or SIGHUP) reload the configuration; a bad one is
 *                      refused and the old one kept
 *   GET  /             status page of the configured targets
 *
 * Only targets the configuration allows are probed (403 otherwise), at most
 * --max-probes requests probe at once (503 with Retry-After beyond), a
 * scrape's deadline follows X-Prometheus-Scrape-Timeout-Seconds. SIGTERM or
 * SIGINT: stop accepting, let running probes end (each has its deadline),
 * exit 0. Nothing here logs a request's content: secrets stay in files. */
#include "probe/app/serve.h"
#include "probe/app/run.h"
#include "probe/app/serve_config.h"
#include "core/base64.h"
#include "core/deadline.h"
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
#include <time.h>
#include <unistd.h>

#define SERVE_DEFAULT_PORT       9925
#define SERVE_DEFAULT_MAX_PROBES 8
/* Scrape deadline margin, as blackbox_exporter's default timeout offset. */
#define SERVE_SCRAPE_MARGIN_MS 500
/* Shortest deadline a probe gets, whatever the scrape says. */
#define SERVE_MIN_DEADLINE_MS 200
/* Bytes MHD may use per connection: request line and headers must fit. */
#define SERVE_CONN_MEMORY (64 * 1024)
/* Seconds a client may stay silent mid-request. */
#define SERVE_CONN_TIMEOUT_S  10
#define SERVE_MAX_CONNECTIONS 1000
#define SERVE_THREAD_STACK    (1024 * 1024)
/* Most bytes of a request body (only POST /-/reload has one, unused). */
#define SERVE_MAX_BODY (64 * 1024)
/* malloc arenas: one per thread by default, each keeping freed memory; two
 * keep an idle exporter small after a burst of scrapes. */
#define SERVE_MALLOC_ARENAS 2
/* Request counters kept for /metrics (path x code). */
#define SERVE_MAX_COUNTERS 64

/* The configuration in use, shared by requests: freed when the last user
 * lets go of it after a reload. */
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

struct server {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* in_flight dropped, or stopping */
	struct cfg_holder *cfg;
	const char *config_path;
	int max_probes;
	int in_flight;
	bool stopping;
	volatile sig_atomic_t stop_probes; /* never set: running probes finish */
	/* metrics */
	struct counter counters[SERVE_MAX_COUNTERS];
	size_t ncounters;
	double probe_seconds;
	unsigned long probes;
	unsigned long reloads_ok, reloads_failed;
	bool last_reload_ok;
	time_t last_reload_at;
	/* status page: one slot per target of cfg, rebuilt on reload */
	struct target_status *status;
	size_t nstatus;
	unsigned long generation; /* bumped on reload */
};

/* One request's state (MHD's con_cls). */
struct request {
	bool bad_encoding; /* invalid percent-encoding in the URI */
	bool seen;         /* POST: headers seen, body follows */
	bool holds_slot;   /* a probe's slot, given back once its answer is sent */
	size_t body;       /* POST: bytes of body dropped so far */
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

/* Loads the configuration file; on success it replaces the one in use. */
static int reload(struct server *s, struct mp_error *err)
{
	struct serve_config *c = serve_config_load(s->config_path, err);
	struct cfg_holder *h = NULL, *old = NULL;
	struct target_status *st = NULL;

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
		return -1;
	}
	s->reloads_ok++;
	s->last_reload_at = time(NULL);
	h->c = c;
	h->refs = 1;
	old = s->cfg;
	s->cfg = h;
	for (size_t i = 0; i < s->nstatus; i++)
		free(s->status[i].html);
	free(s->status);
	s->status = st;
	s->nstatus = c->ntargets;
	s->generation++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (old)
		cfg_put(s, old);
	return 0;
}

/* Counts a response for /metrics. */
static void count(struct server *s, const char *path, unsigned code)
{
	static const char *const known[] = {"/probe", "/metrics", "/", "/-/healthy", "/-/reload"};
	const char *p = "other";

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(path, known[i]) == 0)
			p = known[i];
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->ncounters; i++)
		if (s->counters[i].path == p && s->counters[i].code == code) {
			s->counters[i].n++;
			pthread_mutex_unlock(&s->lock);
			return;
		}
	if (s->ncounters < SERVE_MAX_COUNTERS)
		s->counters[s->ncounters++] = (struct counter){.path = p, .code = code, .n = 1};
	pthread_mutex_unlock(&s->lock);
}

/* Queues a response that owns buf (malloc'd, len bytes). */
static enum MHD_Result respond_buf(struct server *s, struct MHD_Connection *conn, const char *path,
                                   unsigned code, const char *type, char *buf, size_t len,
                                   const char *retry_after)
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
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
	rc = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	count(s, path, code);
	return rc;
}

/* A short plain-text answer (errors say what went wrong and what to do). */
static enum MHD_Result respond_text(struct server *s, struct MHD_Connection *conn, const char *path,
                                    unsigned code, const char *retry_after, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static enum MHD_Result respond_text(struct server *s, struct MHD_Connection *conn, const char *path,
                                    unsigned code, const char *retry_after, const char *fmt, ...)
{
	char *buf = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return respond_buf(s, conn, path, code, "text/plain; charset=utf-8", buf, (size_t)n,
	                   retry_after);
}

/* Gives a probe's slot back; the last one out returns the freed memory of
 * the burst to the system, so an idle exporter stays small. */
static void slot_release(struct server *s)
{
	bool idle;

	pthread_mutex_lock(&s->lock);
	s->in_flight--;
	idle = s->in_flight == 0;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (idle)
		threadmem_trim_heap();
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

/* The probe's deadline from Prometheus's scrape timeout header, minus a
 * margin; 0 when absent. */
static int64_t scrape_budget_ms(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                            "X-Prometheus-Scrape-Timeout-Seconds");
	char *end = NULL;
	double sec;
	int64_t ms;

	if (!h)
		return 0;
	errno = 0;
	sec = strtod(h, &end);
	if (errno || end == h || sec <= 0 || sec > 86400)
		return 0;
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

static enum MHD_Result handle_probe(struct server *s, struct MHD_Connection *conn,
                                    struct request *req)
{
	struct probe_args a;
	struct cfg_holder *h = NULL;
	const struct serve_module *m = NULL;
	struct run_options *opt = NULL;
	struct run_outcome run;
	struct mp_error err;
	enum output_format fmt = FORMAT_PROMETHEUS;
	enum MHD_Result rc = MHD_NO;
	char *body = NULL;
	size_t len = 0;
	bool counted = false;
	int64_t t0, budget;

	memset(&a, 0, sizeof(a));
	memset(&run, 0, sizeof(run));
	if (req && req->bad_encoding)
		return respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL,
		                    "invalid percent-encoding in the query string\n");
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	if (a.bad)
		return respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL,
		                    "unknown or repeated parameter: use target (repeatable), "
		                    "module and format\n");
	if (a.too_many)
		return respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL,
		                    "at most %d targets in one request\n", MP_SERVE_MAX_TARGETS);
	if (!a.ntargets)
		return respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL,
		                    "missing target: /probe?target=HOST_OR_URL&module=NAME\n");
	if (a.format && strcmp(a.format, "json") == 0)
		fmt = FORMAT_JSON;
	else if (a.format && strcmp(a.format, "prometheus") != 0)
		return respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL,
		                    "format must be prometheus (the default) or json\n");
	h = cfg_get(s);
	m = serve_config_module(h->c, a.module && *a.module ? a.module : "default");
	if (!m) {
		rc = respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL,
		                  "unknown module: name one of the configuration's \"modules\"\n");
		goto out;
	}
	for (size_t i = 0; i < a.ntargets; i++)
		if (serve_target_check(a.targets[i], &err) != 0) {
			rc = respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL,
			                  "target %zu: %s\n", i + 1, err.msg);
			goto out;
		}
	for (size_t i = 0; i < a.ntargets; i++)
		if (!serve_config_allows(h->c, a.targets[i])) {
			rc = respond_text(s, conn, "/probe", MHD_HTTP_FORBIDDEN, NULL,
			                  "target %zu is not allowed: add its host, a pattern or a "
			                  "CIDR to \"allow\" in the configuration\n",
			                  i + 1);
			goto out;
		}
	pthread_mutex_lock(&s->lock);
	if (s->in_flight >= s->max_probes || s->stopping) {
		pthread_mutex_unlock(&s->lock);
		rc = respond_text(s, conn, "/probe", MHD_HTTP_SERVICE_UNAVAILABLE, "1",
		                  "%s: try again shortly\n",
		                  s->stopping ? "shutting down" : "too many probes running");
		goto out;
	}
	s->in_flight++;
	counted = true;
	pthread_mutex_unlock(&s->lock);

	opt = calloc(1, sizeof(*opt));
	if (!opt) {
		rc = respond_text(s, conn, "/probe", MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		                  "out of memory\n");
		goto out;
	}
	if (serve_config_options(m, a.targets, a.ntargets, opt, &err) != 0) {
		rc = respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL, "%s\n", err.msg);
		goto out;
	}
	budget = scrape_budget_ms(conn);
	/* the scrape's deadline, shown as the run's in the report */
	if (budget > 0 && budget < opt->overall_timeout_ms)
		opt->overall_timeout_ms = (int)budget;
	t0 = mono_ms();
	if (run_probe(opt, 0, &s->stop_probes, -1, NULL, NULL, &run, &err) != 0) {
		rc = respond_text(s, conn, "/probe", MHD_HTTP_BAD_REQUEST, NULL, "%s\n", err.msg);
		goto out;
	}
	pthread_mutex_lock(&s->lock);
	s->probes++;
	s->probe_seconds += (double)(mono_ms() - t0) / 1000.0;
	pthread_mutex_unlock(&s->lock);
	body = render(&run.report, fmt, &len);
	if (!body) {
		rc = respond_text(s, conn, "/probe", MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		                  "could not write the report\n");
		goto out;
	}
	rc = respond_buf(s, conn, "/probe", MHD_HTTP_OK,
	                 fmt == FORMAT_JSON ? "application/json"
	                                    : "text/plain; version=0.0.4; charset=utf-8",
	                 body, len, NULL);
out:
	run_outcome_free(&run);
	if (opt)
		explicit_bzero(opt, sizeof(*opt));
	free(opt);
	/* MHD sends the answer after this returns, and MHD_stop_daemon cuts what
	 * is unsent: keep the slot until request_done, so SIGTERM waits for it */
	if (counted && req && rc == MHD_YES) {
		req->holds_slot = true;
		counted = false;
	}
	if (counted)
		slot_release(s);
	cfg_put(s, h);
	return rc;
}

/* The exporter's own metrics, in the text exposition format. */
static enum MHD_Result handle_metrics(struct server *s, struct MHD_Connection *conn)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return MHD_NO;
	pthread_mutex_lock(&s->lock);
	fprintf(f,
	        "# HELP mailprobe_exporter_build_info The exporter's version.\n"
	        "# TYPE mailprobe_exporter_build_info gauge\n"
	        "mailprobe_exporter_build_info{version=\"%s\"} 1\n",
	        MP_VERSION);
	fprintf(f, "# HELP mailprobe_exporter_requests_total HTTP requests answered, by path "
	           "and status code.\n# TYPE mailprobe_exporter_requests_total counter\n");
	for (size_t i = 0; i < s->ncounters; i++)
		fprintf(f, "mailprobe_exporter_requests_total{path=\"%s\",code=\"%u\"} %lu\n",
		        s->counters[i].path, s->counters[i].code, s->counters[i].n);
	fprintf(f,
	        "# HELP mailprobe_exporter_probes_in_flight Probe requests running now.\n"
	        "# TYPE mailprobe_exporter_probes_in_flight gauge\n"
	        "mailprobe_exporter_probes_in_flight %d\n",
	        s->in_flight);
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
	return respond_buf(s, conn, "/metrics", MHD_HTTP_OK,
	                   "text/plain; version=0.0.4; charset=utf-8", buf, len, NULL);
}

/* The status page: the last background probe of every configured target. */
static enum MHD_Result handle_status(struct server *s, struct MHD_Connection *conn)
{
	struct cfg_holder *h = cfg_get(s);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	enum MHD_Result rc;

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
	rc = respond_buf(s, conn, "/", MHD_HTTP_OK, "text/html; charset=utf-8", buf, len, NULL);
	return rc;
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
	struct mp_error err;

	(void)version;
	(void)upload_data;
	if (post) {
		/* the body is never used: drop it, answer once it is read */
		if (*upload_data_size) {
			/* a body that goes on and on: close the connection */
			if (req)
				req->body += *upload_data_size;
			if (!req || req->body > SERVE_MAX_BODY)
				return MHD_NO;
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (req && !req->seen) {
			req->seen = true;
			return MHD_YES;
		}
	}
	if (strcmp(url, "/-/reload") == 0) {
		if (!post)
			return respond_text(s, conn, url, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
			                    "use POST /-/reload\n");
		if (reload(s, &err) != 0) {
			logf_line("reload refused, keeping the old configuration: %s", err.msg);
			return respond_text(s, conn, url, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			                    "reload refused, the old configuration stays: %s\n",
			                    err.msg);
		}
		logf_line("configuration reloaded from %s", s->config_path);
		return respond_text(s, conn, url, MHD_HTTP_OK, NULL, "configuration reloaded\n");
	}
	if (!get)
		return respond_text(s, conn, url, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "use GET\n");
	if (strcmp(url, "/probe") == 0)
		return handle_probe(s, conn, req);
	if (strcmp(url, "/metrics") == 0)
		return handle_metrics(s, conn);
	if (strcmp(url, "/-/healthy") == 0)
		return respond_text(s, conn, url, MHD_HTTP_OK, NULL, "OK\n");
	if (strcmp(url, "/") == 0)
		return handle_status(s, conn);
	return respond_text(s, conn, url, MHD_HTTP_NOT_FOUND, NULL,
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
	if (req && req->holds_slot)
		slot_release(s);
	free(*con_cls);
	*con_cls = NULL;
}

/* Background probing of the configured targets every "interval" seconds. */
static void *prober(void *arg)
{
	struct server *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct cfg_holder *h = s->cfg;
		unsigned long gen = s->generation;
		struct timespec until;

		if (!h->c->interval_s) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		h->refs++;
		pthread_mutex_unlock(&s->lock);
		for (size_t i = 0; i < h->c->ntargets && !s->stopping; i++) {
			const struct serve_target *t = &h->c->targets[i];
			const char *targets[1] = {t->target};
			struct run_options *opt = calloc(1, sizeof(*opt));
			struct run_outcome run;
			struct mp_error err;
			char heading[600], ids[32];
			char *html = NULL;
			size_t len = 0;
			FILE *f = NULL;

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
		until.tv_sec += h->c->interval_s > 0 ? h->c->interval_s : 1;
		while (!s->stopping && s->generation == gen &&
		       pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void serve_usage(FILE *f)
{
	fputs("Usage: mailprobe serve [--listen ADDR:PORT] --config FILE [--max-probes N]\n"
	      "Prometheus exporter, JSON API and status page for mail endpoints.\n"
	      "\n"
	      "  --listen ADDR:PORT   address to listen on (default 127.0.0.1:9925; an IPv6\n"
	      "                       address in brackets: [::1]:9925)\n"
	      "  --config FILE        modules, allowed targets, background targets (JSON)\n"
	      "  --max-probes N       probe requests running at once (default 8); more get\n"
	      "                       503 with Retry-After\n"
	      "  -h, --help           this help\n"
	      "\n"
	      "Endpoints:\n"
	      "  GET  /probe?target=T&module=M[&format=json]   probe T (repeatable) with module\n"
	      "       M's options; Prometheus text, or the JSON report\n"
	      "  GET  /metrics      the exporter's own metrics\n"
	      "  GET  /-/healthy    200 while running\n"
	      "  POST /-/reload     reload the configuration (also SIGHUP)\n"
	      "  GET  /             status page of the configured targets\n"
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

int serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"config", required_argument, NULL, 'c'},
	    {"max-probes", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct server s;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d = NULL;
	struct mp_error err;
	const char *listen_arg = "127.0.0.1:9925";
	pthread_t bg;
	bool v6 = false, bg_started = false;
	sigset_t sigs;
	int c, sig = 0, rc = 3;
	long v;
	char *end = NULL;

	memset(&s, 0, sizeof(s));
	mallopt(M_ARENA_MAX, SERVE_MALLOC_ARENAS);
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	s.max_probes = SERVE_DEFAULT_MAX_PROBES;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_arg = optarg;
			break;
		case 'c':
			s.config_path = optarg;
			break;
		case 'm':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > 1024) {
				fprintf(stderr,
				        "mailprobe serve: --max-probes expects a whole number "
				        "from 1 to 1024 (see mailprobe serve --help)\n");
				return 3;
			}
			s.max_probes = (int)v;
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
	/* every thread inherits this mask; the main thread takes the signals */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
	        MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, handle, &s, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_URI_LOG_CALLBACK,
	    uri_seen, NULL, MHD_OPTION_NOTIFY_COMPLETED, request_done, &s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_CONN_MEMORY,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_MAX_CONNECTIONS,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)SERVE_THREAD_STACK, MHD_OPTION_END);
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
	logf_line("stopping: no new requests; running probes end by their deadlines");
	{
		MHD_socket lfd = MHD_quiesce_daemon(d);

		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	pthread_mutex_lock(&s.lock);
	s.stopping = true;
	pthread_cond_broadcast(&s.cond);
	while (s.in_flight > 0)
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	rc = 0;
out:
	if (d)
		MHD_stop_daemon(d);
	if (bg_started) {
		pthread_mutex_lock(&s.lock);
		s.stopping = true;
		pthread_cond_broadcast(&s.cond);
		pthread_mutex_unlock(&s.lock);
		pthread_join(bg, NULL);
	}
	for (size_t i = 0; i < s.nstatus; i++)
		free(s.status[i].html);
	free(s.status);
	if (s.cfg)
		cfg_put(&s, s.cfg);
	tls_thread_cleanup();
	return rc;
}
