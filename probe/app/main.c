/* main.c - mailprobe: the composition root. "mailprobe serve" is the
 * exporter (serve.c), "mailprobe merge" joins reports (merge.c), "mailprobe
 * help" prints a help; anything else is one run from the command line:
 * parse options, open the report files, run (run.c), write the reports. */
#include "probe/app/cli.h"
#include "probe/app/run.h"
#include "probe/app/serve.h"
#include "probe/app/merge.h"
#include "reports/report.h"
#include "reports/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	char b = 1;

	(void)sig;
	interrupted = 1;
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], &b, 1) < 0) {
		/* nothing more can be done in a handler */
	}
	errno = saved;
}

static void install_signals(void)
{
	struct sigaction sa;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		wake_pipe[0] = wake_pipe[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Closes the wake-up pipe at exit (the handler sees -1 first and stops
 * writing to it), so no descriptor is left open beyond stdin/out/err. */
static void close_wake_pipe(void)
{
	int w = wake_pipe[1];

	wake_pipe[1] = -1;
	if (w >= 0)
		close(w);
	if (wake_pipe[0] >= 0)
		close(wake_pipe[0]);
	wake_pipe[0] = -1;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "mailprobe: %s (see mailprobe --help)\n", msg);
	return MP_EXIT_USAGE;
}

/* "mailprobe help [serve|merge]": the help of the command line or of a
 * subcommand (each prints its own on --help). argv[0] is "help". A host
 * named "help" is still reachable as "help." or smtp://help. */
static int help_main(int argc, char **argv)
{
	char help_opt[] = "--help";
	char serve[] = "serve", merge[] = "merge";
	char *sub[] = {NULL, help_opt, NULL};

	if (argc == 1) {
		cli_usage(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "serve") == 0) {
		sub[0] = serve;
		return serve_main(2, sub);
	}
	if (argc == 2 && strcmp(argv[1], "merge") == 0) {
		sub[0] = merge;
		return merge_main(2, sub);
	}
	fprintf(stderr,
	        "mailprobe: no help on '%.40s%s': use mailprobe help, mailprobe help "
	        "serve or mailprobe help merge\n",
	        argv[1], argc > 2 ? " ..." : "");
	return MP_EXIT_USAGE;
}

/* The reports to write: the main one (--format, to -o FILE or standard
 * output), then every -o FORMAT:FILE. */
static size_t plan_sinks(const struct run_options *opt, struct report_sink *sinks)
{
	size_t n = 0;
	bool to_tty = !opt->output_file && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");

	memset(sinks, 0, sizeof(*sinks) * (MP_MAX_OUTPUTS + 1));
	sinks[n].format = opt->format;
	sinks[n].path = opt->output_file;
	sinks[n++].color = opt->color == COLOR_ALWAYS || (opt->color == COLOR_AUTO && to_tty);
	for (size_t i = 0; i < opt->noutputs && i < MP_MAX_OUTPUTS; i++) {
		sinks[n].format = opt->outputs[i].format;
		sinks[n].path = opt->outputs[i].path;
		sinks[n++].color = opt->color == COLOR_ALWAYS;
	}
	return n;
}

/* Raises the soft limit on descriptors to the hard one, and caps
 * --concurrency to what it allows (a probe holds one socket, and logins or
 * --enumerate-tls a few more), saying so. */
static void fit_concurrency(struct run_options *opt)
{
	struct rlimit rl;
	rlim_t room;
	long most;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)MP_MAX_CONCURRENCY * 8)
		return;
	room = rl.rlim_cur > MP_FD_RESERVE ? rl.rlim_cur - MP_FD_RESERVE : 1;
	most = (long)room / (opt->probe.auth || opt->probe.enumerate_tls ? 4 : 1);
	if (most < 1)
		most = 1;
	if (opt->concurrency > most) {
		fprintf(stderr,
		        "mailprobe: --concurrency %d capped to %ld: the process may open "
		        "only %lu descriptors (raise ulimit -n)\n",
		        opt->concurrency, most, (unsigned long)rl.rlim_cur);
		opt->concurrency = (int)most;
	}
}

/* A streamed run (ndjson): results are written as they finish. */
static int main_stream(struct run_options *opt, struct report_sink *sinks, size_t nsinks)
{
	struct run_report report;
	struct run_tally tally;
	struct mp_error err;
	int rc;

	mp_error_clear(&err);
	if (run_stream(opt, &interrupted, wake_pipe[0], report_writer_for(opt->format), sinks[0].f,
	               &report, &tally, &err) != 0) {
		/* Nothing probed (a bad plan): no report at all. */
		if (tally.total == 0 && !report.started_at[0]) {
			sinks_abort(sinks, nsinks);
			return usage_error(err.msg);
		}
		fprintf(stderr, "mailprobe: %s\n", err.msg);
		sinks_commit(sinks, nsinks, &err);
		return MP_EXIT_USAGE;
	}
	rc = report_exit_code(&report);
	if (sinks_commit(sinks, nsinks, &err) != 0)
		return usage_error(err.msg);
	return rc;
}

int main(int argc, char **argv)
{
	struct run_options *opt = NULL;
	struct run_outcome run;
	struct mp_error err;
	struct report_sink sinks[MP_MAX_OUTPUTS + 1];
	size_t nsinks = 0;
	bool sinks_opened = false, ran = false;
	int rc = MP_EXIT_USAGE;

	if (argc > 1 && strcmp(argv[1], "help") == 0)
		return help_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return merge_main(argc - 1, argv + 1);
	/* Up to 8 malloc arenas per core would each keep the free pages of
	 * the handshakes that last used it; 4 cost no throughput and measured
	 * 160 -> 145 KiB per probe in flight (tests/bench/bench_scale.py). */
	mallopt(M_ARENA_MAX, MP_MALLOC_ARENAS);
	mp_error_clear(&err);
	memset(&run, 0, sizeof(run));
	opt = calloc(1, sizeof(*opt));
	if (!opt)
		return usage_error("out of memory");
	switch (cli_parse(argc, argv, opt, &err)) {
	case CLI_EXIT_OK:
		rc = 0;
		goto out;
	case CLI_USAGE_ERROR:
		rc = usage_error(err.msg);
		goto out;
	case CLI_RUN:
		break;
	}
	fit_concurrency(opt);
	nsinks = plan_sinks(opt, sinks);
	if (sinks_open(sinks, nsinks, &err) != 0) {
		rc = usage_error(err.msg);
		goto out;
	}
	sinks_opened = true;
	install_signals();
	if (opt->format == FORMAT_NDJSON) {
		sinks_opened = false;
		rc = main_stream(opt, sinks, nsinks);
		goto out;
	}
	if (run_probe(opt, 0, &interrupted, wake_pipe[0], NULL, NULL, &run, &err) != 0) {
		rc = usage_error(err.msg);
		goto out;
	}
	ran = true;
	if (opt->verbose)
		for (size_t i = 0; i < run.n; i++)
			report_write_transcript(stderr, &run.results[i]);
	sinks_opened = false;
	if (sinks_write(sinks, nsinks, &run.report, &err) != 0) {
		rc = usage_error(err.msg);
		goto out;
	}
	rc = report_exit_code(&run.report);
out:
	if (sinks_opened)
		sinks_abort(sinks, nsinks);
	if (ran)
		run_outcome_free(&run);
	if (opt) {
		explicit_bzero(opt->proxies, sizeof(opt->proxies));
		explicit_bzero(opt->password, sizeof(opt->password));
		explicit_bzero(opt->token, sizeof(opt->token));
	}
	free(opt);
	close_wake_pipe();
	return rc;
}
