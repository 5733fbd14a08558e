/* options.h - the effective settings of one run, as parsed from the command
 * line (cli.c) and turned into endpoints (plan.c). */
#ifndef MP_OPTIONS_H
#define MP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../core/tls.h"
#include "../core/proxy.h"
#include "session.h"
#include "auth.h"

#define MP_MAX_PROXIES 16
#define MP_MAX_PORTS 64
#define MP_MAX_TARGETS 256

enum output_format { FORMAT_TABLE, FORMAT_JSON };
enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

struct run_options {
	enum output_format format;
	bool compact;                   /* JSON on one line */
	bool transcript;                /* transcript in JSON */
	int verbose;                    /* -v: print transcripts to stderr */
	enum color_mode color;
	const char *output_file;        /* -o, NULL = stdout */

	int concurrency;
	int overall_timeout_ms;
	struct probe_config probe;
	struct tls_config tls;

	/* matrix */
	unsigned protocols;             /* bit (1 << enum protocol); 0 = all */
	unsigned modes;                 /* bit (1 << enum sec_mode); 0 = default */
	uint16_t ports[MP_MAX_PORTS];
	size_t nports;                  /* 0 = default ports */
	bool auto_mode;
	enum protocol auto_proto;

	/* targets: host names, addresses or endpoint URLs, as given */
	const char *targets[MP_MAX_TARGETS];
	size_t ntargets;

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
};

#endif
