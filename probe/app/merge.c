/* merge.c - "mailprobe merge FILE...": reads NDJSON (or JSON) reports, e.g.
 * the shards of one run, and writes one report in any format, with the
 * summary, recommendations and policy verdicts recomputed. The options are
 * the command line's output and policy options (cli.c); the FILE arguments
 * take the place of targets. */
#include "probe/app/merge.h"
#include "probe/app/cli.h"
#include "reports/json_read.h"
#include "reports/report.h"
#include "reports/sink.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct merged {
	struct probe_result *v;
	size_t n, cap;
	struct json_read_proxies px;
	char started_at[40];
	int64_t duration_ms;
	bool interrupted;
};

/* Reads one line of at most MP_MAX_NDJSON_LINE bytes into *buf (grown as
 * needed). Returns its length (without '\n'), -1 at the end, -2 when too long. */
static long read_line(FILE *f, char **buf, size_t *cap)
{
	size_t len = 0;
	int c;

	while ((c = getc(f)) != EOF) {
		if (c == '\n')
			break;
		if (len + 1 >= *cap) {
			size_t ncap = *cap ? *cap * 2 : 4096;
			char *nb;

			if (ncap > MP_MAX_NDJSON_LINE + 1)
				ncap = MP_MAX_NDJSON_LINE + 1;
			if (len + 1 >= ncap)
				return -2;
			nb = realloc(*buf, ncap);
			if (!nb)
				return -2;
			*buf = nb;
			*cap = ncap;
		}
		(*buf)[len++] = (char)c;
	}
	if (c == EOF && len == 0)
		return -1;
	(*buf)[len] = '\0';
	return (long)len;
}

static int add_result(struct merged *m, const cJSON *o, struct mp_error *err)
{
	if (m->n >= m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		struct probe_result *nv = realloc(m->v, ncap * sizeof(*nv));

		if (!nv) {
			mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
			return -1;
		}
		m->v = nv;
		m->cap = ncap;
	}
	if (report_read_result(o, &m->v[m->n], &m->px, err) != 0)
		return -1;
	m->n++;
	return 0;
}

/* The run-level fields of a summary line or a JSON report. */
static void add_run(struct merged *m, const cJSON *o)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "started_at");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "duration_ms");

	if (cJSON_IsString(s) && strlen(s->valuestring) < sizeof(m->started_at) &&
	    (!m->started_at[0] || strcmp(s->valuestring, m->started_at) < 0))
		snprintf(m->started_at, sizeof(m->started_at), "%s", s->valuestring);
	if (cJSON_IsNumber(d) && d->valuedouble > (double)m->duration_ms && d->valuedouble < 1e15)
		m->duration_ms = (int64_t)d->valuedouble;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "interrupted")))
		m->interrupted = true;
}

/* A whole JSON report (the first line was not a JSON object on its own). */
static int read_report(FILE *f, const char *path, struct merged *m, struct mp_error *err)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	cJSON *root = NULL, *it = NULL;
	int rc = -1;

	rewind(f);
	for (;;) {
		size_t got;

		if (len + 65536 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 1 << 20;
			char *nt;

			if (ncap > MP_MAX_MERGE_REPORT + 1) {
				mp_error_set(err, MP_ERR_INTERNAL, "%.200s: larger than %d bytes",
				             path, MP_MAX_MERGE_REPORT);
				goto out;
			}
			nt = realloc(text, ncap);
			if (!nt) {
				mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
				goto out;
			}
			text = nt;
			cap = ncap;
		}
		got = fread(text + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	text[len] = '\0';
	root = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(root) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "results"))) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "%.200s: neither NDJSON nor a JSON report of "
		             "mailprobe",
		             path);
		goto out;
	}
	add_run(m, root);
	cJSON_ArrayForEach(
	    it, cJSON_GetObjectItemCaseSensitive(root, "results")) if (add_result(m, it, err) != 0)
	{
		char msg[MP_MAX_ERROR];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		mp_error_set(err, MP_ERR_INTERNAL, "%.200s: %s", path, msg);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

static int read_file(const char *path, struct merged *m, struct mp_error *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	int rc = -1;

	if (!f) {
		mp_error_set(err, MP_ERR_INTERNAL, "cannot read %.200s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		long len = read_line(f, &line, &cap);
		cJSON *o = NULL;
		const cJSON *type = NULL;
		size_t skip = 0;

		lineno++;
		if (len == -1)
			break;
		if (len == -2) {
			mp_error_set(err, MP_ERR_INTERNAL, "%.200s line %lu: longer than %d bytes",
			             path, lineno, MP_MAX_NDJSON_LINE);
			goto out;
		}
		while (skip < (size_t)len &&
		       (line[skip] == ' ' || line[skip] == '\t' || line[skip] == '\r'))
			skip++;
		if (skip == (size_t)len)
			continue;
		o = cJSON_ParseWithLength(line, (size_t)len);
		if (!cJSON_IsObject(o)) {
			cJSON_Delete(o);
			if (lineno == 1 && strcmp(path, "-") != 0) {
				rc = read_report(f, path, m, err);
				goto out;
			}
			mp_error_set(err, MP_ERR_INTERNAL, "%.200s line %lu: not a JSON object",
			             path, lineno);
			goto out;
		}
		type = cJSON_GetObjectItemCaseSensitive(o, "type");
		if (cJSON_IsString(type) && strcmp(type->valuestring, "summary") == 0) {
			add_run(m, o);
		} else if (add_result(m, o, err) != 0) {
			char msg[MP_MAX_ERROR];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			mp_error_set(err, MP_ERR_INTERNAL, "%.200s line %lu: %s", path, lineno,
			             msg);
			cJSON_Delete(o);
			goto out;
		}
		cJSON_Delete(o);
	}
	rc = 0;
out:
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* mailprobe merge --help: what it does and the options it reads (the
 * command line's output and policy options, from the option table). */
static void merge_usage(FILE *f)
{
	fputs("Usage: mailprobe merge [OPTIONS] FILE...\n"
	      "One report from NDJSON or JSON reports of mailprobe, e.g. the shards of a run\n"
	      "(--shard I/N): the summary, the recommendations and the policy's verdicts are\n"
	      "recomputed, the report written in any format. FILE - is standard input.\n"
	      "\n",
	      f);
	cli_usage_options(f, CLI_GROUP(CLI_G_OUTPUT) | CLI_GROUP(CLI_G_POLICY));
	fputs("\n"
	      "Exit codes: those of mailprobe for the merged results; 3 for a usage error or\n"
	      "a file that cannot be read. See mailprobe(1).\n",
	      f);
}

int merge_main(int argc, char **argv)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct merged m;
	struct run_report r;
	struct report_sink sinks[MP_MAX_OUTPUTS + 1];
	struct mp_error err;
	size_t nsinks = 0;
	int rc = MP_EXIT_USAGE;

	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	mp_error_clear(&err);
	if (!opt)
		goto out;
	switch (cli_parse_with(argc, argv, opt, &err, merge_usage)) {
	case CLI_EXIT_OK:
		rc = 0;
		goto out;
	case CLI_USAGE_ERROR:
		fprintf(stderr,
		        "mailprobe merge: %s (usage: mailprobe merge [--format FMT] "
		        "[-o ...] [policy options] FILE...)\n",
		        err.msg);
		goto out;
	case CLI_RUN:
		break;
	}
	for (size_t i = 0; i < opt->ntargets; i++)
		if (read_file(opt->targets[i], &m, &err) != 0) {
			fprintf(stderr, "mailprobe merge: %s\n", err.msg);
			goto out;
		}
	opt->ntargets = 0;
	sinks[0].format = opt->format;
	sinks[0].path = opt->output_file;
	sinks[0].color =
	    opt->color == COLOR_ALWAYS || (opt->color == COLOR_AUTO && !opt->output_file &&
	                                   isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
	nsinks = 1;
	for (size_t i = 0; i < opt->noutputs; i++, nsinks++) {
		sinks[nsinks].format = opt->outputs[i].format;
		sinks[nsinks].path = opt->outputs[i].path;
		sinks[nsinks].color = opt->color == COLOR_ALWAYS;
	}
	r.opt = opt;
	r.results = m.v;
	r.n = m.n;
	snprintf(r.started_at, sizeof(r.started_at), "%s",
	         m.started_at[0] ? m.started_at : "1970-01-01T00:00:00Z");
	r.duration_ms = m.duration_ms;
	r.interrupted = m.interrupted;
	report_recommend(&r);
	if (report_evaluate(&r) != 0 || sinks_open(sinks, nsinks, &err) != 0) {
		fprintf(stderr, "mailprobe merge: %s\n", err.msg[0] ? err.msg : "out of memory");
		goto out;
	}
	if (sinks_write(sinks, nsinks, &r, &err) != 0) {
		fprintf(stderr, "mailprobe merge: %s\n", err.msg);
		goto out;
	}
	rc = report_exit_code(&r);
out:
	for (size_t i = 0; i < m.n; i++)
		result_free(&m.v[i]);
	free(m.v);
	json_read_proxies_free(&m.px);
	report_free(&r);
	free(opt);
	return rc;
}
