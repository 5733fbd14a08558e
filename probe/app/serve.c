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
#include "probe/app/serve_internal.h"
#include "core/deadline.h"
#include "core/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void serve_log(const char *fmt, ...)
{
	va_list ap;

	fputs("mailprobe serve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct cfg_holder *serve_cfg_get(struct server *s)
{
	struct cfg_holder *h = NULL;

	pthread_mutex_lock(&s->lock);
	h = s->cfg;
	h->refs++;
	pthread_mutex_unlock(&s->lock);
	return h;
}

void serve_cfg_put(struct server *s, struct cfg_holder *h)
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
int serve_reload(struct server *s, struct mp_error *err)
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
	serve_cut_pass(s);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < old_n; i++)
		free(old_st[i].html);
	free(old_st);
	if (old)
		serve_cfg_put(s, old);
	pthread_mutex_unlock(&s->reload_lock);
	return 0;
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
	serve_cut_pass(s);
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
			sigset_t one;

			/* die of the signal itself, as without a handler */
			serve_log("second signal: exiting now");
			signal(sig, SIG_DFL);
			sigemptyset(&one);
			sigaddset(&one, sig);
			pthread_sigmask(SIG_UNBLOCK, &one, NULL);
			raise(sig);
			_exit(128 + sig);
		}
		now = mono_ms();
		pthread_mutex_lock(&s->lock);
		idle = s->pending == 0 && s->unsent == 0;
		if (!idle && now >= grace_end && !s->stop_probes && s->in_flight > 0) {
			serve_log("grace of %d s over: cutting %d running probes", s->grace_s,
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
	if (serve_reload(&s, &err) != 0) {
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
		if (pthread_create(&workers[nworkers], NULL, serve_worker, &s) != 0)
			break;
	if (nworkers == 0 || pthread_create(&rp, NULL, serve_reaper, &s) != 0) {
		fprintf(stderr, "mailprobe serve: cannot start threads: %s\n", strerror(errno));
		goto out;
	}
	rp_started = true;
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
	        MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, serve_http_handle, &s, MHD_OPTION_EXTERNAL_LOGGER, serve_http_log, &s,
	    MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_URI_LOG_CALLBACK, serve_http_uri_seen, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, serve_http_request_done, &s, MHD_OPTION_THREAD_POOL_SIZE,
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
	if (pthread_create(&bg, NULL, serve_prober, &s) == 0)
		bg_started = true;
	serve_log("listening on %s, configuration %s, at most %d probes at once", listen_arg,
	          s.config_path, s.max_probes);
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (serve_reload(&s, &err) != 0)
				serve_log("reload refused, keeping the old configuration: %s",
				          err.msg);
			else
				serve_log("configuration reloaded from %s", s.config_path);
			continue;
		}
		break;
	}
	serve_log("stopping: new requests get 503; running probes have %d s, then are cut",
	          s.grace_s);
	clean = shut_down(&s, &sigs);
	if (!clean) {
		/* a connection still suspended cannot be stopped safely */
		serve_log("probes did not end in time: exiting without cleaning up");
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
		serve_cfg_put(&s, s.cfg);
	tls_thread_cleanup();
	return rc;
}
