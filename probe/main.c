/* main.c - mailprobe: parse options, plan, probe, report. */
#include "cli.h"
#include "engine.h"
#include "plan.h"
#include "../core/deadline.h"
#include "../core/tls.h"
#include "../reports/report.h"
#include "../reports/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void rfc3339_now(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "mailprobe: %s (see mailprobe --help)\n", msg);
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

int main(int argc, char **argv)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct endpoint *eps = NULL;
	struct probe_result *results = NULL;
	struct tls_ctx *tls = NULL;
	struct run_report report;
	struct mp_error err;
	struct report_sink sinks[MP_MAX_OUTPUTS + 1];
	size_t n = 0, nsinks = 0;
	bool sinks_opened = false;
	int rc = MP_EXIT_USAGE;
	int64_t t0;

	mp_error_clear(&err);
	memset(&report, 0, sizeof(report));
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
	if (plan_build(opt, &eps, &n, &err) != 0) {
		rc = usage_error(err.msg);
		goto out;
	}
	tls = tls_ctx_new(&opt->tls, &err);
	if (!tls) {
		rc = usage_error(err.msg);
		goto out;
	}
	opt->probe.tls = tls;
	nsinks = plan_sinks(opt, sinks);
	if (sinks_open(sinks, nsinks, &err) != 0) {
		rc = usage_error(err.msg);
		goto out;
	}
	sinks_opened = true;
	results = calloc(n, sizeof(*results));
	if (!results) {
		rc = usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		result_init(&results[i], &eps[i]);

	install_signals();
	rfc3339_now(report.started_at, sizeof(report.started_at));
	t0 = mono_ms();
	engine_run(eps, results, n, &opt->probe, opt->concurrency,
		   deadline_in(opt->overall_timeout_ms), opt->auto_mode, &interrupted,
		   wake_pipe[0]);
	report.duration_ms = mono_ms() - t0;
	report.opt = opt;
	report.results = results;
	report.n = n;
	report.interrupted = interrupted != 0;
	report_recommend(&report);
	if (report_evaluate(&report) != 0) {
		rc = usage_error("out of memory evaluating the policy");
		goto out;
	}

	if (opt->verbose)
		for (size_t i = 0; i < n; i++)
			report_write_transcript(stderr, &results[i]);
	sinks_opened = false;
	if (sinks_write(sinks, nsinks, &report, &err) != 0) {
		rc = usage_error(err.msg);
		goto out;
	}
	rc = report_exit_code(&report);
out:
	if (sinks_opened)
		sinks_abort(sinks, nsinks);
	report_free(&report);
	for (size_t i = 0; results && i < n; i++)
		result_free(&results[i]);
	free(results);
	free(eps);
	tls_ctx_free(tls);
	if (opt) {
		explicit_bzero(opt->proxies, sizeof(opt->proxies));
		explicit_bzero(opt->password, sizeof(opt->password));
		explicit_bzero(opt->token, sizeof(opt->token));
	}
	free(opt);
	close_wake_pipe();
	return rc;
}
