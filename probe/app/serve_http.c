/* serve_http.c - the exporter's libmicrohttpd callbacks: a request is
 * parsed and checked in the event loop; /probe is queued as a job for the
 * workers (serve_work.c) with its connection suspended, and answered when a
 * worker or the reaper resumes it. Every answer is counted for /metrics,
 * libmicrohttpd's own (414, 431, 400) through its log callback. */
#include "probe/app/serve_internal.h"
#include "probe/engine/plan.h"
#include "core/base64.h"
#include "core/deadline.h"
#include "reports/report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const refusal_names[REFUSE_COUNT] = {"queue_timeout", "queue_full",
                                                        "shutting_down"};

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
		serve_job_free(s, j);
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
	h = serve_cfg_get(s);
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
	serve_job_free(s, j);
	if (h)
		serve_cfg_put(s, h);
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
	for (size_t b = 0; b < SERVE_WAIT_BUCKETS; b++) {
		cum += s->wait_counts[b];
		fprintf(f, "mailprobe_exporter_queue_wait_seconds_bucket{le=\"%g\"} %lu\n",
		        serve_wait_buckets[b], cum);
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
	struct cfg_holder *h = serve_cfg_get(s);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		serve_cfg_put(s, h);
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
	serve_cfg_put(s, h);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	return respond_buf(s, conn, req, "/", MHD_HTTP_OK, "text/html; charset=utf-8", buf, len,
	                   false);
}

enum MHD_Result serve_http_handle(void *cls, struct MHD_Connection *conn, const char *url,
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
		if (serve_reload(s, &err) != 0) {
			serve_log("reload refused, keeping the old configuration: %s", err.msg);
			return respond_text(s, conn, req, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
			                    "reload refused, the old configuration stays: %s\n",
			                    err.msg);
		}
		serve_log("configuration reloaded from %s", s->config_path);
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
void *serve_http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
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

void serve_http_request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
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
		serve_job_free(s, req->job);
	}
	free(req);
	*con_cls = NULL;
}

/* libmicrohttpd's messages: its own error answers (414, 431, 400...) are
 * counted, the rest logged. */
void serve_http_log(void *cls, const char *fm, va_list ap)
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
