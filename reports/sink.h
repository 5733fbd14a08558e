/* sink.h - report files that appear whole: each is written under a
 * temporary name in its own directory and renamed over the real name only
 * when complete, so a collector (node_exporter's textfile collector, a CI
 * job) never reads half a file. Standard output is a sink too. */
#ifndef MP_SINK_H
#define MP_SINK_H

#include <limits.h>
#include <stdio.h>
#include "reports/report.h"

struct report_sink {
	enum output_format format;
	const char *path;   /* NULL = standard output */
	char tmp[PATH_MAX]; /* the temporary name, "" when none */
	bool color;         /* table: ANSI colours */
	FILE *f;
	int rename_errno; /* why the rename into place failed, 0 if it did not */
};

/* Creates the temporary file of every sink with a path (so that a path that
 * cannot be written fails before any probe). On failure removes what it
 * created and returns -1 with err naming the file and what to try. */
int sinks_open(struct report_sink *s, size_t n, struct mp_error *err);
/* Writes the report to every sink, then renames each file into place.
 * Returns 0, or -1 with err (files that failed are removed, never left
 * half-written). */
int sinks_write(struct report_sink *s, size_t n, const struct run_report *r, struct mp_error *err);
/* For reports already written to s[i].f as they went (ndjson): flushes,
 * then renames each file into place. Returns 0 or -1 with err. */
int sinks_commit(struct report_sink *s, size_t n, struct mp_error *err);
/* Removes every temporary file still open (early exit). */
void sinks_abort(struct report_sink *s, size_t n);

#endif
