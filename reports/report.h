/* report.h - turning results into JSON, a table, and an exit code.
 * Nothing here touches the network. */
#ifndef MP_REPORT_H
#define MP_REPORT_H

#include <stdio.h>
#include <stdbool.h>
#include "core/model/result.h"
#include "core/model/options.h"

/* Version of the JSON report format (reports/schema.json). 1.1 added
 * "policy", "verdicts", "summary.state" and "summary.recommended[].reason";
 * 1.2 "discovery", "results[].family" and "results[].discovered_by";
 * 1.3 added "results[].checks" (active checks) and their finding codes. */
#define MP_SCHEMA_VERSION "1.4"

/* Exit codes (documented in the README). Without a policy: */
#define MP_EXIT_OK            0 /* run completed, at least one endpoint answered */
#define MP_EXIT_NONE_ANSWERED 2 /* no endpoint answered */
#define MP_EXIT_USAGE         3 /* usage or internal error */
/* With a policy, the Monitoring Plugins' codes: the value of enum pstate. */

/* A verdict's state, ordered by severity (Monitoring Plugins Development
 * Guidelines, "Plugin Return Codes"); the value is the exit code. */
enum pstate { PSTATE_OK = 0, PSTATE_WARNING = 1, PSTATE_CRITICAL = 2, PSTATE_UNKNOWN = 3 };

/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *pstate_name(enum pstate s);

/* Rule names (JSON "verdicts[].rule", JUnit test names, Prometheus label). */
#define RULE_EXPECT                 "expect"
#define RULE_REQUIRE_TLS            "require-tls"
#define RULE_MIN_TLS                "min-tls"
#define RULE_REQUIRE_VERIFIED       "require-verified"
#define RULE_CERT_EXPIRY            "cert-expiry"
#define RULE_FORBID_AUTH_BEFORE_TLS "forbid-auth-before-tls"
#define RULE_FORBID_CHECK_FAILURES  "forbid-check-failures"
#define RULE_REQUIRE_AUTH           "require-auth"
#define RULE_REQUIRE_LOGIN          "require-login"
#define RULE_TIME                   "time"
#define RULE_REQUIRE_DANE           "require-dane"
#define RULE_REQUIRE_MTA_STS        "require-mta-sts"
#define RULE_REQUIRE_DNSSEC         "require-dnssec"
#define RULE_DNSSEC_BOGUS           "dnssec-bogus" /* any policy: a bogus answer that matters */
#define RULE_DOMAIN                 "domain"       /* the domain exists, or has a null MX */

/* What one rule said about one endpoint (or the run, endpoint -1). */
struct verdict {
	const char *rule; /* RULE_* (static) */
	int endpoint;     /* index into results, -1 for the run */
	enum pstate state;
	char message[MP_MAX_ERROR]; /* built from escaped text: safe to print */
};

#define MP_MAX_REASON 160

struct discovery;

/* The running totals of a streamed run (ndjson: results are written and
 * freed as they finish): what its summary line says. */
struct run_tally {
	size_t total, answered;
	size_t by_status[MP_STATUS_COUNT];
	/* per protocol: the best working endpoint so far (index in the order
	 * results were written, -1: none), its preference key and copy */
	long best[PROTO_COUNT];
	int best_key[PROTO_COUNT];
	size_t working[PROTO_COUNT];
	struct endpoint best_ep[PROTO_COUNT];
	char best_desc[PROTO_COUNT][MP_MAX_REASON];
};

struct run_report {
	const struct run_options *opt;
	const struct discovery *discovery; /* --discover (probe/discover.h), else NULL */
	struct probe_result *results;
	size_t n;
	char started_at[40]; /* RFC 3339 UTC */
	int64_t duration_ms;
	int recommended[PROTO_COUNT];                      /* index into results, or -1 */
	char recommend_reason[PROTO_COUNT][MP_MAX_REASON]; /* why that one, "" if none */
	int recommended_inbound; /* --discover: the MX result to deliver to, or -1 */
	bool interrupted;
	/* report_evaluate(): every verdict of the policy (OK ones included),
	 * and the run's state (the worst verdict; without a policy, OK when an
	 * endpoint answered, else CRITICAL). */
	struct verdict *verdicts;
	size_t nverdicts;
	enum pstate state;
	/* a streamed run: results[] holds only the result being written; the
	 * summary comes from the tally */
	const struct run_tally *tally;
};

/* Starts a tally. */
void report_tally_init(struct run_tally *t);
/* Counts one finished result (its index: t->total before the call). */
void report_tally_add(struct run_tally *t, const struct probe_result *res);
/* Fills r's recommendation reasons and state from r->tally (no policy). */
void report_tally_finish(struct run_report *r);

/* Picks the recommended endpoint per protocol, the best that works: verified
 * certificate and matching name, then TLS 1.2+ before legacy, then implicit
 * TLS, STARTTLS, plain (submission ports before 25), then direct before
 * proxied, then the user's order; fills recommend_reason. */
void report_recommend(struct run_report *r);
/* Applies r->opt->policy to the results (after report_recommend): fills
 * verdicts and state. Returns 0, or -1 when out of memory. */
int report_evaluate(struct run_report *r);
/* Frees the verdicts. */
void report_free(struct run_report *r);
/* Writes the JSON report (pretty unless opt->compact). Returns 0 or -1. */
int report_write_json(FILE *f, const struct run_report *r);
/* Writes the human table; color adds ANSI colours. Returns 0 or -1. */
int report_write_table(FILE *f, const struct run_report *r, bool color);
/* False for an MX found by --discover: where servers deliver, not a
 * client setting (recommended apart, as the domain's inbound). */
bool report_client_endpoint(const struct probe_result *res);
/* The same, fitted to max columns (0: no limit). report_write_table uses the
 * terminal's width when f is a terminal (COLUMNS, else its size), else 0.
 * Whether to colour is the caller's (cli_stdout_color: NO_COLOR, TERM=dumb). */
int report_write_table_width(FILE *f, const struct run_report *r, bool color, size_t max);
/* Writes the domain section of the table (--discover; table_domain.c). */
int table_write_domain(FILE *f, const struct run_report *r, bool color);
/* Writes one endpoint's transcript, escaped for a terminal. */
void report_write_transcript(FILE *f, const struct probe_result *res);
/* Exit code for a finished run (after report_evaluate). */
int report_exit_code(const struct run_report *r);
/* True for --format nagios without a policy: the certificate thresholds
 * still decide the state and the exit code is the state (0..3). */
bool report_plugin_mode(const struct run_report *r);
/* True when the endpoint answered as a mail server: it sent a greeting (or
 * the probe succeeded). The one definition behind the exit code and the
 * "answered" counts of the reports. */
bool report_answered(const struct probe_result *res);

/* ---- writers: one file each, all behind this interface ---- */

struct writer_ctx {
	bool color; /* table: ANSI colours */
};

struct report_writer {
	enum output_format format;
	const char *name;         /* "table", "json", "nagios", "junit", "prometheus",
	                             "html", "ndjson" */
	const char *content_type; /* the media type of what it writes (HTTP answers) */
	/* Writes the whole report to f. Returns 0 or -1. */
	int (*write)(FILE *f, const struct run_report *r, const struct writer_ctx *ctx);
	/* Streaming formats only (NULL otherwise): one result, r->results[i],
	 * as it finishes; then the summary once the run is over. */
	int (*write_result)(FILE *f, const struct run_report *r, size_t i);
	int (*write_summary)(FILE *f, const struct run_report *r);
};

/* The writer of a format. */
const struct report_writer *report_writer_for(enum output_format fmt);
/* The format named name ("json"), or -1. */
int report_format_parse(const char *name);
/* "table, json, nagios, junit, prometheus": for messages. */
const char *report_format_list(void);

/* Monitoring Plugins output: "MAILPROBE STATE - summary | perfdata", then
 * one long-output line per non-OK verdict (reports/nagios.c). */
int report_write_nagios(FILE *f, const struct run_report *r);
/* JUnit XML: a testsuite per target, a testcase per endpoint and per rule
 * (reports/junit.c). */
int report_write_junit(FILE *f, const struct run_report *r);
/* Prometheus text exposition format, names prefixed mailprobe_
 * (reports/prometheus.c). */
int report_write_prometheus(FILE *f, const struct run_report *r);
/* One self-contained HTML page (reports/html.c): head, body, tail. The
 * parts let a status page hold several runs: a head, one body per run
 * (heading: untrusted text, escaped), a tail. Each returns 0 or -1. */
int report_write_html(FILE *f, const struct run_report *r);
int report_write_html_head(FILE *f, const char *title);
int report_write_html_body(FILE *f, const struct run_report *r, const char *heading);
int report_write_html_tail(FILE *f);
/* Writes untrusted text s as HTML text, escaped as the page escapes every
 * server string (also safe in a quoted attribute). Returns 0 or -1. */
int report_html_text(FILE *f, const char *s);
/* Writes the domain section of the HTML report (--discover; html_domain.c). */
int html_write_domain(FILE *f, const struct run_report *r);
/* The body with element ids "IDS-N" instead of "ep-N" (IDS: letters,
 * digits, '-'), so that several runs fit on one page. */
int report_write_html_run(FILE *f, const struct run_report *r, const char *heading,
                          const char *ids);

/* NDJSON (reports/ndjson.c): one result object per line (as in the JSON
 * report's results[]), then {"type": "summary", ...}; each line flushed. */
int report_write_ndjson(FILE *f, const struct run_report *r);
int report_write_ndjson_result(FILE *f, const struct run_report *r, size_t i);
int report_write_ndjson_summary(FILE *f, const struct run_report *r);

/* The JSON builders (reports/json.c), shared by the NDJSON writer: one
 * element of "results", and the NDJSON summary line. cJSON objects the
 * caller frees; NULL when out of memory. */
struct cJSON;
struct cJSON *report_json_result(const struct probe_result *res, const struct run_options *opt);
struct cJSON *report_json_summary_line(const struct run_report *r);

/* Helpers shared by the machine formats: */
/* The endpoint as a URL ("smtp+starttls://[::1]:587"). */
void report_endpoint_url(const struct endpoint *ep, char *buf, size_t len);
/* The URL, plus " via TYPE://HOST:PORT" when reached through a proxy (the
 * same endpoint may be probed on several paths). Raw: escape it for the
 * format it goes into. */
void report_endpoint_name(const struct endpoint *ep, char *buf, size_t len);

#endif
