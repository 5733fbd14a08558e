/* serve_internal.h - what the exporter's three files share: the server's
 * state, a queued /probe request (a job), a request's state, the limits.
 *   serve.c       options, start, signals, reload, shutdown (serve_main)
 *   serve_http.c  libmicrohttpd's callbacks: parse, check, queue, answer
 *   serve_work.c  the probe workers, the queue's reaper, the status prober
 * Locking: s->lock guards every field of struct server but the ones set
 * before the threads start; a job belongs to the event loop until it is
 * queued, to the queue (s->lock) until a worker or the reaper takes it, and
 * to the event loop again once done and its connection resumed. */
#ifndef MP_SERVE_INTERNAL_H
#define MP_SERVE_INTERNAL_H

#include "probe/app/run.h"
#include "probe/app/serve_config.h"

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

/* Upper bounds of the queue-wait histogram (serve_work.c), seconds. */
#define SERVE_WAIT_BUCKETS 11
extern const double serve_wait_buckets[SERVE_WAIT_BUCKETS];

enum refusal { REFUSE_QUEUE_TIMEOUT, REFUSE_QUEUE_FULL, REFUSE_SHUTDOWN, REFUSE_COUNT };

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
	volatile sig_atomic_t stop_pass;   /* a reload or SIGTERM: cut the status pass */
	size_t pending;                    /* jobs made whose answer is not yet queued in MHD */
	size_t unsent;                     /* answers queued in MHD, not yet sent */
	/* metrics */
	struct counter counters[SERVE_MAX_COUNTERS];
	size_t ncounters;
	double probe_seconds;
	unsigned long probes;
	unsigned long wait_counts[SERVE_WAIT_BUCKETS + 1];
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

/* serve.c */
void serve_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Takes a reference to the configuration in use; serve_cfg_put lets go
 * (the last one frees it). */
struct cfg_holder *serve_cfg_get(struct server *s);
void serve_cfg_put(struct server *s, struct cfg_holder *h);
/* Loads the configuration file; on success it replaces the one in use and
 * the prober starts the new one's pass at once. Returns 0 or -1 with err. */
int serve_reload(struct server *s, struct mp_error *err);

/* serve_http.c: libmicrohttpd's callbacks (cls is the server) */
enum MHD_Result serve_http_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls);
void *serve_http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn);
void serve_http_request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode code);
void serve_http_log(void *cls, const char *fm, va_list ap) __attribute__((format(printf, 2, 0)));

/* serve_work.c: thread bodies (arg is the server), and a job's end */
void *serve_worker(void *arg);
void *serve_reaper(void *arg);
void *serve_prober(void *arg);
/* Cuts the status page's background probe in flight (a reload starts the
 * new configuration's pass at once; SIGTERM needs no pass). */
void serve_cut_pass(struct server *s);
/* Frees a job and lets go of its configuration (NULL: nothing). */
void serve_job_free(struct server *s, struct job *j);

#endif
