/* options.h - the effective settings of one run, as parsed from the command
 * line (cli.c) and turned into endpoints (plan.c). */
#ifndef MP_OPTIONS_H
#define MP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/tls.h"
#include "core/proxy.h"
#include "core/model/auth.h"
#include "core/model/checks.h"
#include "core/model/result.h"

/* The limits and settings one probe works with (a part of the run options). */
struct addr_resolver;

struct probe_config {
	int connect_timeout_ms;
	int greeting_timeout_ms;
	int command_timeout_ms;
	int tls_timeout_ms;
	const char *ehlo_name;                /* name sent in EHLO/HELO */
	struct tls_ctx *tls;                  /* shared TLS context */
	const char *sni;                      /* override for SNI / name check, or NULL */
	const char *source_addr;              /* bind to this local address, or NULL */
	int family;                           /* --ipv4/--ipv6: AF_INET, AF_INET6, else AF_UNSPEC */
	const struct addr_resolver *resolver; /* names of targets (addrs.h); NULL: system */
	bool transcript;                      /* record the transcript */
	int cert_warn_days;                   /* certificate_expiring below this many days */
	bool enumerate_tls;                   /* --enumerate-tls: try each TLS version on its own */
	const struct auth_config *auth;       /* login attempts (auth.h), NULL for none */
	const struct check_config *checks;    /* active checks (checks.h), NULL for none */
	/* Called before each new connection (the probe's, and those of its
	 * logins, checks and TLS version attempts) when set: --rate. */
	void (*before_connect)(void *arg);
	void *before_connect_arg;
};

#define MP_MAX_PROXIES 16
#define MP_MAX_PORTS   64
#define MP_MAX_TARGETS 256
/* -o FORMAT:FILE outputs in one run, and policy list sizes. */
#define MP_MAX_OUTPUTS      8
#define MP_MAX_OPTIONAL     64
#define MP_MAX_REQUIRE_AUTH 16
#define MP_MAX_POLICY_STR   300

/* Report formats (reports/writer.c maps names to writers). */
enum output_format {
	FORMAT_TABLE,
	FORMAT_JSON,
	FORMAT_NAGIOS,     /* Monitoring Plugins status line, perfdata, long output */
	FORMAT_JUNIT,      /* JUnit XML (Jenkins, GitLab) */
	FORMAT_PROMETHEUS, /* Prometheus text exposition format */
	FORMAT_HTML,       /* one self-contained HTML page */
	FORMAT_NDJSON,     /* one JSON result per line as each finishes, then a summary line */
	FORMAT_COUNT
};
enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

/* One report to write: a format and a file (NULL = standard output). */
struct output_spec {
	enum output_format format;
	const char *path;
};

/* --expect: what every probed endpoint must reach. */
enum policy_expect {
	EXPECT_OK,     /* "ok": the probe succeeded (status ok) */
	EXPECT_ANSWER, /* "answer": it at least greeted */
};

/* The policy rules (options and --policy FILE; options override the file).
 * Evaluated by reports/policy.c into verdicts; never used while probing.
 * Strings are copies (the file's text is gone after loading). */
struct policy {
	bool active;                  /* any rule or --policy given: exit codes are
	                                 the Monitoring Plugins' (0..3) */
	char file[MP_MAX_POLICY_STR]; /* --policy FILE, "" if none */
	enum policy_expect expect;    /* default EXPECT_OK */
	char optional[MP_MAX_OPTIONAL][MP_MAX_POLICY_STR]; /* endpoint URLs whose
	                                   failure is only a WARNING */
	/* the same, parsed (reports compare results with these) */
	struct policy_endpoint {
		enum protocol proto;
		enum sec_mode mode;
		uint16_t port;
		char host[256];
	} optional_ep[MP_MAX_OPTIONAL];
	size_t noptional;
	bool require_tls;
	int min_tls; /* MP_TLS_V1_x wire version, 0 = no rule */
	bool require_verified;
	/* --discover: every MX has a usable, matching TLSA set (RFC 7672); a
	 * valid MTA-STS policy in enforce mode every MX matches (RFC 8461);
	 * the answers that matter DNSSEC-validated */
	bool require_dane, require_mta_sts, require_dnssec;
	int cert_warn_days; /* WARNING below it (days left); default 14 */
	int cert_crit_days; /* CRITICAL below it; default 3 */
	bool forbid_auth_before_tls;
	bool forbid_check_failures;                 /* an active check that failed is CRITICAL */
	char require_auth[MP_MAX_REQUIRE_AUTH][32]; /* mechanism names, upper case */
	size_t nrequire_auth;
	bool require_login; /* needs --user */
	int warn_ms;        /* endpoint total time, 0 = no rule */
	int crit_ms;
};

struct run_options {
	enum output_format format; /* --format: of output_file or stdout */
	bool compact;              /* JSON on one line */
	bool transcript;           /* transcript in JSON */
	int verbose;               /* -v: print transcripts to stderr */
	enum color_mode color;
	const char *output_file; /* -o FILE, NULL = stdout */
	/* -o FORMAT:FILE (repeatable), written besides the main report */
	struct output_spec outputs[MP_MAX_OUTPUTS];
	size_t noutputs;
	struct policy policy;

	int concurrency;
	int overall_timeout_ms; /* 0: no deadline (only with ndjson) */
	/* politeness (engine.c): connections at once per address, new
	 * connections per second (0: no limit), retries of a busy endpoint */
	int per_host;
	int rate;
	int retry;
	struct probe_config probe;
	struct tls_config tls;

	/* matrix */
	unsigned protocols; /* bit (1 << enum protocol); 0 = all */
	unsigned modes;     /* bit (1 << enum sec_mode); 0 = default */
	uint16_t ports[MP_MAX_PORTS];
	size_t nports; /* 0 = default ports */
	bool auto_mode;
	enum protocol auto_proto;

	/* targets: host names, addresses or endpoint URLs, as given */
	const char *targets[MP_MAX_TARGETS];
	size_t ntargets;
	/* -i FILE ("-": standard input): more targets, one per line */
	const char *targets_file;
	/* --shard I/N: only targets whose hash is I modulo N (count 0: all) */
	unsigned shard_index, shard_count;
	/* --allow-duplicates: probe an endpoint as often as it is given
	 * (soak tests, benchmarks); by default it is probed once */
	bool allow_duplicates;

	/* domains (discover.h): --discover DOMAIN or user@DOMAIN */
	const char *discover;
	bool guess;               /* --guess: mail., imap., smtp.... when nothing is published */
	const char *resolver;     /* --resolver ADDR[@PORT], NULL: the system's */
	const char *trust_anchor; /* --trust-anchor FILE, NULL: the root's */
	uint16_t mx_port;         /* --mx-port: where MX hosts are probed (25) */
	uint16_t https_port;      /* --https-port: MTA-STS and autoconfig (443) */

	/* proxies (each adds a path); direct = also probe directly */
	struct proxy_spec proxies[MP_MAX_PROXIES];
	size_t nproxies;
	bool direct;

	/* logins (issue: authentication): probe.auth points to auth when
	 * --user is given; auth.password / auth.token point into the buffers
	 * below (secrets: wipe before freeing the options) */
	struct auth_config auth;
	char password[MP_MAX_SASL_CRED + 1];
	char token[MP_MAX_SASL_CRED + 1];

	/* active checks (checks.h): probe.checks points here when any is
	 * selected (--checks, --smuggling-test, --relay-test) */
	struct check_config checks;
};

#endif
