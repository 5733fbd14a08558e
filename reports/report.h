/* report.h - turning results into JSON, a table, and an exit code.
 * Nothing here touches the network. */
#ifndef MP_REPORT_H
#define MP_REPORT_H

#include <stdio.h>
#include <stdbool.h>
#include "../probe/result.h"
#include "../probe/options.h"

/* Version of the JSON report format (reports/schema.json). */
#define MP_SCHEMA_VERSION "1.0"

/* Exit codes (documented in the README). */
#define MP_EXIT_OK 0            /* run completed, at least one endpoint answered */
#define MP_EXIT_NONE_ANSWERED 2 /* no endpoint answered */
#define MP_EXIT_USAGE 3         /* usage or internal error */

struct run_report {
	const struct run_options *opt;
	struct probe_result *results;
	size_t n;
	char started_at[40];            /* RFC 3339 UTC */
	int64_t duration_ms;
	int recommended[PROTO_COUNT];   /* index into results, or -1 */
	bool interrupted;
};

/* Picks the recommended endpoint per protocol: the first that works in the
 * preference order (implicit TLS, STARTTLS, plain; submission ports before 25). */
void report_recommend(struct run_report *r);
/* Writes the JSON report (pretty unless opt->compact). Returns 0 or -1. */
int report_write_json(FILE *f, const struct run_report *r);
/* Writes the human table; color adds ANSI colours. Returns 0 or -1. */
int report_write_table(FILE *f, const struct run_report *r, bool color);
/* Writes one endpoint's transcript, escaped for a terminal. */
void report_write_transcript(FILE *f, const struct probe_result *res);
/* Exit code for a finished run. */
int report_exit_code(const struct run_report *r);
/* True when the endpoint answered as a mail server: it sent a greeting (or
 * the probe succeeded). The one definition behind the exit code and the
 * "answered" counts of the reports. */
bool report_answered(const struct probe_result *res);

#endif
