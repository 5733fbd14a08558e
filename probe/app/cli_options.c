/* cli_options.c - the option-spec table and the setters its entries name.
 * To add an option: one entry below (docs/development.md). */
#include "probe/app/cli_options.h"
#include "core/limits.h"
#include "core/tlsprobe.h"
#include "probe/engine/checks.h"
#include "probe/engine/targets.h"
#include "reports/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Parses a whole decimal number in [min, max] for option `name`. */
static int parse_num(const char *name, const char *s, long min, long max, long *out,
                     struct mp_error *err)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--%s expects a whole number from %ld to %ld, "
		             "not '%.40s'",
		             name, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Calls fn for each comma-separated item of list (copied into a bounded buffer). */
static int each_item(const char *opt, const char *list,
                     int (*fn)(const char *item, void *arg, struct mp_error *err), void *arg,
                     struct mp_error *err)
{
	char buf[1024];
	size_t len = strlen(list);
	char *p = buf;

	if (len == 0 || len >= sizeof(buf)) {
		mp_error_set(err, MP_ERR_INTERNAL, "--%s expects a comma-separated list", opt);
		return -1;
	}
	memcpy(buf, list, len + 1);
	for (;;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		if (*p == '\0') {
			mp_error_set(err, MP_ERR_INTERNAL, "--%s has an empty item in '%s'", opt,
			             list);
			return -1;
		}
		if (fn(p, arg, err) != 0)
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* --- generic setters: the entry's off names the field ---------------------- */

#define OPT(field) offsetof(struct run_options, field)
#define ST(field)  offsetof(struct cli_state, field)

static void *opt_field(struct cli_state *st, const struct cli_option *o)
{
	return (char *)st->opt + o->off;
}

static void *state_field(struct cli_state *st, const struct cli_option *o)
{
	return (char *)st + o->off;
}

/* A string of run_options (it points into argv). */
static int set_str(struct cli_state *st, const struct cli_option *o, char *value,
                   struct mp_error *err)
{
	*(const char **)opt_field(st, o) = value;
	return 0;
}

/* A flag of run_options. */
static int set_true(struct cli_state *st, const struct cli_option *o, char *value,
                    struct mp_error *err)
{
	*(bool *)opt_field(st, o) = true;
	return 0;
}

/* A whole number of run_options in [min, max]. */
static int set_int(struct cli_state *st, const struct cli_option *o, char *value,
                   struct mp_error *err)
{
	long v;

	if (parse_num(o->name, value, o->min, o->max, &v, err) != 0)
		return -1;
	*(int *)opt_field(st, o) = (int)v;
	return 0;
}

/* A port of run_options (uint16_t). */
static int set_port(struct cli_state *st, const struct cli_option *o, char *value,
                    struct mp_error *err)
{
	long v;

	if (parse_num(o->name, value, 1, 65535, &v, err) != 0)
		return -1;
	*(uint16_t *)opt_field(st, o) = (uint16_t)v;
	return 0;
}

/* A string of the parse's state. */
static int set_state_str(struct cli_state *st, const struct cli_option *o, char *value,
                         struct mp_error *err)
{
	*(const char **)state_field(st, o) = value;
	return 0;
}

/* A flag of the parse's state. */
static int set_state_true(struct cli_state *st, const struct cli_option *o, char *value,
                          struct mp_error *err)
{
	*(bool *)state_field(st, o) = true;
	return 0;
}

/* A login option: a string of the state, and a login is asked for. */
static int set_login_str(struct cli_state *st, const struct cli_option *o, char *value,
                         struct mp_error *err)
{
	st->auth.any = true;
	return set_state_str(st, o, value, err);
}

/* A policy rule: kept with its key until the policy file is read. */
static int set_rule(struct cli_state *st, const struct cli_option *o, char *value,
                    struct mp_error *err)
{
	if (st->nrules >= MP_MAX_RULE_ARGS) {
		mp_error_set(err, MP_ERR_INTERNAL, "at most %d policy options", MP_MAX_RULE_ARGS);
		return -1;
	}
	st->rules[st->nrules].key = o->name;
	st->rules[st->nrules++].value = o->arg ? value : NULL;
	return 0;
}

/* --- the setters of single options ------------------------------------------ */

static int set_help(struct cli_state *st, const struct cli_option *o, char *value,
                    struct mp_error *err)
{
	st->help = true;
	return 0;
}

static int set_version(struct cli_state *st, const struct cli_option *o, char *value,
                       struct mp_error *err)
{
	st->version = true;
	return 0;
}

static int set_verbose(struct cli_state *st, const struct cli_option *o, char *value,
                       struct mp_error *err)
{
	st->opt->verbose++;
	return 0;
}

static int set_format(struct cli_state *st, const struct cli_option *o, char *value,
                      struct mp_error *err)
{
	int fmt = report_format_parse(value);

	if (fmt < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "unknown format '%.40s': use %s", value,
		             report_format_list());
		return -1;
	}
	st->opt->format = (enum output_format)fmt;
	return 0;
}

/* -o FILE, or -o FORMAT:FILE (only when the text before the first colon is
 * a format name, so "-o c:/x" or "-o my:file" stay file names). */
static int set_output(struct cli_state *st, const struct cli_option *o, char *arg,
                      struct mp_error *err)
{
	struct run_options *opt = st->opt;
	const char *colon = strchr(arg, ':');
	char name[16];
	int fmt = -1;

	if (colon && (size_t)(colon - arg) < sizeof(name)) {
		memcpy(name, arg, (size_t)(colon - arg));
		name[colon - arg] = '\0';
		fmt = report_format_parse(name);
	}
	if (fmt < 0) {
		if (!*arg) {
			mp_error_set(err, MP_ERR_INTERNAL, "-o expects FILE or FORMAT:FILE");
			return -1;
		}
		opt->output_file = arg;
		return 0;
	}
	if (!colon[1]) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "-o %s: needs a file name after the colon, "
		             "e.g. -o %s:report",
		             name, name);
		return -1;
	}
	if (opt->noutputs >= MP_MAX_OUTPUTS) {
		mp_error_set(err, MP_ERR_INTERNAL, "at most %d -o FORMAT:FILE outputs",
		             MP_MAX_OUTPUTS);
		return -1;
	}
	for (size_t i = 0; i < opt->noutputs; i++)
		if (strcmp(opt->outputs[i].path, colon + 1) == 0) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "-o names %.100s twice: give each "
			             "format its own file",
			             colon + 1);
			return -1;
		}
	opt->outputs[opt->noutputs].format = (enum output_format)fmt;
	opt->outputs[opt->noutputs++].path = colon + 1;
	return 0;
}

static int set_input(struct cli_state *st, const struct cli_option *o, char *value,
                     struct mp_error *err)
{
	if (st->opt->targets_file) {
		mp_error_set(err, MP_ERR_INTERNAL, "-i is given once");
		return -1;
	}
	st->opt->targets_file = value;
	return 0;
}

static int set_shard(struct cli_state *st, const struct cli_option *o, char *value,
                     struct mp_error *err)
{
	return target_parse_shard(value, &st->opt->shard_index, &st->opt->shard_count, err);
}

static int set_no_color(struct cli_state *st, const struct cli_option *o, char *value,
                        struct mp_error *err)
{
	st->opt->color = COLOR_NEVER;
	return 0;
}

static int set_color(struct cli_state *st, const struct cli_option *o, char *value,
                     struct mp_error *err)
{
	if (strcmp(value, "auto") == 0) {
		st->opt->color = COLOR_AUTO;
	} else if (strcmp(value, "always") == 0) {
		st->opt->color = COLOR_ALWAYS;
	} else if (strcmp(value, "never") == 0) {
		st->opt->color = COLOR_NEVER;
	} else {
		mp_error_set(err, MP_ERR_INTERNAL, "--color expects auto, always or never");
		return -1;
	}
	return 0;
}

static int add_protocol(const char *item, void *arg, struct mp_error *err)
{
	int p = protocol_parse(item);

	if (p < 0) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "unknown protocol '%.40s': use smtp, imap or pop3", item);
		return -1;
	}
	((struct run_options *)arg)->protocols |= 1u << p;
	return 0;
}

static int set_protocols(struct cli_state *st, const struct cli_option *o, char *value,
                         struct mp_error *err)
{
	return each_item(o->name, value, add_protocol, st->opt, err);
}

static int add_mode(const char *item, void *arg, struct mp_error *err)
{
	int m = mode_parse(item);

	if (m < 0) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "unknown mode '%.40s': use plain, starttls or tls", item);
		return -1;
	}
	((struct run_options *)arg)->modes |= 1u << m;
	return 0;
}

static int set_modes(struct cli_state *st, const struct cli_option *o, char *value,
                     struct mp_error *err)
{
	return each_item(o->name, value, add_mode, st->opt, err);
}

static int add_port(const char *item, void *arg, struct mp_error *err)
{
	struct run_options *opt = arg;
	long v;

	if (parse_num("ports", item, 1, 65535, &v, err) != 0)
		return -1;
	if (opt->nports >= MP_MAX_PORTS) {
		mp_error_set(err, MP_ERR_INTERNAL, "--ports takes at most %d ports", MP_MAX_PORTS);
		return -1;
	}
	for (size_t i = 0; i < opt->nports; i++)
		if (opt->ports[i] == v)
			return 0;
	opt->ports[opt->nports++] = (uint16_t)v;
	return 0;
}

static int set_ports(struct cli_state *st, const struct cli_option *o, char *value,
                     struct mp_error *err)
{
	return each_item(o->name, value, add_port, st->opt, err);
}

static int set_auto(struct cli_state *st, const struct cli_option *o, char *value,
                    struct mp_error *err)
{
	int p = protocol_parse(value);

	if (p < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "--auto expects smtp, imap or pop3, not '%.40s'",
		             value);
		return -1;
	}
	st->opt->auto_mode = true;
	st->opt->auto_proto = (enum protocol)p;
	return 0;
}

/* --deadline: milliseconds, or 0 for none. */
static int set_deadline(struct cli_state *st, const struct cli_option *o, char *value,
                        struct mp_error *err)
{
	if (strcmp(value, "0") == 0) {
		st->opt->overall_timeout_ms = 0;
		return 0;
	}
	return set_int(st, o, value, err);
}

/* --cert-warn-days: kept aside, the policy decides what it means. */
static int set_cert_warn_days(struct cli_state *st, const struct cli_option *o, char *value,
                              struct mp_error *err)
{
	long v;

	if (parse_num(o->name, value, o->min, o->max, &v, err) != 0)
		return -1;
	st->cert_warn_days = (int)v;
	return 0;
}

/* Adds one --tls-versions item ("1.2", "tls1.2", "TLSv1.2") to a bit set
 * indexed by the wire version's minor number. */
static int add_tls_version(const char *item, void *arg, struct mp_error *err)
{
	int version = tlsprobe_version_parse(item);

	if (version < 0) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--tls-versions: unknown version '%.40s': use "
		             "1.1, 1.2 or 1.3",
		             item);
		return -1;
	}
	if (version < MP_TLS_V1_1) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--tls-versions: this build's TLS library has no %s client; "
		             "use 1.1, 1.2 or 1.3 (--enumerate-tls still tells whether a "
		             "server accepts it)",
		             tlsprobe_version_name(version));
		return -1;
	}
	*(unsigned *)arg |= 1u << (version & 0xff);
	return 0;
}

/* --tls-versions: the set must be a range (the TLS library takes a minimum
 * and a maximum). */
static int set_tls_versions(struct cli_state *st, const struct cli_option *o, char *list,
                            struct mp_error *err)
{
	unsigned set = 0;
	int lo = -1, hi = -1;

	if (each_item("tls-versions", list, add_tls_version, &set, err) != 0)
		return -1;
	for (int m = 0; m < 8; m++) {
		if (!(set & (1u << m)))
			continue;
		if (lo < 0)
			lo = m;
		else if (m != hi + 1) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--tls-versions expects a range without "
			             "gaps, e.g. 1.2,1.3, not '%.40s'",
			             list);
			return -1;
		}
		hi = m;
	}
	st->opt->tls.min_version = 0x0300 | lo;
	st->opt->tls.max_version = 0x0300 | hi;
	return 0;
}

/* --ipv4, --ipv6: one of them at most. */
static int set_family(struct cli_state *st, const struct cli_option *o, char *value,
                      struct mp_error *err)
{
	if (st->opt->probe.family != AF_UNSPEC) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "give --ipv4 or --ipv6, not both "
		             "(without either, every address is probed)");
		return -1;
	}
	st->opt->probe.family = strcmp(o->name, "ipv4") == 0 ? AF_INET : AF_INET6;
	return 0;
}

/* Adds a --proxy (its password, when not in the URL, is filled in once the
 * options are read: --proxy-password-file or MAILPROBE_PROXY_PASSWORD). */
static int set_proxy(struct cli_state *st, const struct cli_option *o, char *url,
                     struct mp_error *err)
{
	struct run_options *opt = st->opt;
	struct proxy_spec *p;

	if (opt->nproxies >= MP_MAX_PROXIES) {
		mp_error_set(err, MP_ERR_INTERNAL, "at most %d --proxy options", MP_MAX_PROXIES);
		return -1;
	}
	p = &opt->proxies[opt->nproxies];
	if (proxy_parse_url(url, p, err) != 0) {
		char msg[MP_MAX_ERROR];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		mp_error_set(err, MP_ERR_INTERNAL, "--proxy: %s", msg);
		return -1;
	}
	opt->nproxies++;
	return 0;
}

static int add_auth_method(const char *item, void *arg, struct mp_error *err)
{
	int m = auth_method_parse(item);

	if (m < 0) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "unknown mechanism '%.40s' in --allowed-auth: use PLAIN, LOGIN, "
		             "CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, "
		             "IMAP-LOGIN, USER or APOP",
		             item);
		return -1;
	}
	((struct run_options *)arg)->auth.allowed |= 1u << m;
	return 0;
}

/* --password: kept writable, to be wiped from argv once copied. */
static int set_password(struct cli_state *st, const struct cli_option *o, char *value,
                        struct mp_error *err)
{
	st->auth.any = true;
	st->auth.password = value;
	return 0;
}

static int set_allowed_auth(struct cli_state *st, const struct cli_option *o, char *value,
                            struct mp_error *err)
{
	st->auth.any = true;
	return each_item(o->name, value, add_auth_method, st->opt, err);
}

static int set_allow_plaintext_auth(struct cli_state *st, const struct cli_option *o, char *value,
                                    struct mp_error *err)
{
	st->auth.any = true;
	st->opt->auth.allow_plaintext = true;
	return 0;
}

static int set_checks(struct cli_state *st, const struct cli_option *o, char *value,
                      struct mp_error *err)
{
	return checks_parse_list(value, &st->opt->checks, err);
}

#define MS_MAX (24L * 3600 * 1000)
#define MOD    CLI_MODULE

/* Every option, in the order --help lists them within their group. */
const struct cli_option cli_options[] = {
    /* Matrix */
    {"protocols", 0, "LIST", CLI_G_MATRIX, MOD, set_protocols, 0, 0, 0,
     "smtp,imap,pop3 (default: all)"},
    {"ports", 0, "LIST", CLI_G_MATRIX, MOD, set_ports, 0, 0, 0,
     "ports to probe, e.g. 25,587 (default: well-known)"},
    {"modes", 0, "LIST", CLI_G_MATRIX, MOD, set_modes, 0, 0, 0,
     "plain,starttls,tls (default: by port)"},
    {"auto", 0, "PROTO", CLI_G_MATRIX, MOD, set_auto, 0, 0, 0,
     "try PROTO's combinations in preference order and\n"
     "recommend the first that works"},
    /* Domains */
    {"discover", 0, "DOMAIN", CLI_G_DOMAINS, MOD, set_str, OPT(discover), 0, 0,
     "probe DOMAIN's mail hosts (MX, SRV, autoconfig);\n"
     "check MTA-STS, TLS-RPT and DANE"},
    {"guess", 0, NULL, CLI_G_DOMAINS, MOD, set_true, OPT(guess), 0, 0,
     "with --discover: try mail., imap., smtp. ... too"},
    {"resolver", 0, "ADDR[@PORT]", CLI_G_DOMAINS, MOD, set_str, OPT(resolver), 0, 0,
     "ask this DNS server (default: the system's)"},
    {"trust-anchor", 0, "FILE", CLI_G_DOMAINS, MOD, set_str, OPT(trust_anchor), 0, 0,
     "DNSSEC trust anchor (default: the root's)"},
    {"mx-port", 0, "N", CLI_G_DOMAINS, MOD, set_port, OPT(mx_port), 1, 65535,
     "probe MX hosts on port N (default 25)"},
    {"https-port", 0, "N", CLI_G_DOMAINS, MOD, set_port, OPT(https_port), 1, 65535,
     "fetch MTA-STS and autoconfig on N (default 443)"},
    /* Timeouts */
    {"connect-timeout", 0, "MS", CLI_G_TIMEOUTS, MOD, set_int, OPT(probe.connect_timeout_ms), 1,
     MS_MAX, "TCP connect, per endpoint (default 5000)"},
    {"greeting-timeout", 0, "MS", CLI_G_TIMEOUTS, MOD, set_int, OPT(probe.greeting_timeout_ms), 1,
     MS_MAX, "wait for the greeting (default 1500)"},
    {"timeout", 0, "MS", CLI_G_TIMEOUTS, MOD, set_int, OPT(probe.command_timeout_ms), 1, MS_MAX,
     "each command's reply (default 5000)"},
    {"tls-timeout", 0, "MS", CLI_G_TIMEOUTS, MOD, set_int, OPT(probe.tls_timeout_ms), 1, MS_MAX,
     "each TLS handshake (default 5000)"},
    {"deadline", 0, "MS", CLI_G_TIMEOUTS, MOD, set_deadline, OPT(overall_timeout_ms), 1, MS_MAX,
     "the whole run (default 30000; 0: none, ndjson only)"},
    {"concurrency", 0, "N", CLI_G_TIMEOUTS, MOD, set_int, OPT(concurrency), 1, MP_MAX_CONCURRENCY,
     "endpoints probed at once (default 32, max 4096)"},
    /* Many targets */
    {"input", 'i', "FILE", CLI_G_MANY, MOD, set_input, 0, 0, 0,
     "more targets, one per line (-: standard input)"},
    {"shard", 0, "I/N", CLI_G_MANY, MOD, set_shard, 0, 0, 0,
     "only the targets whose hash is I modulo N"},
    {"allow-duplicates", 0, NULL, CLI_G_MANY, MOD, set_true, OPT(allow_duplicates), 0, 0,
     "probe an endpoint as often as it is given"},
    {"per-host", 0, "N", CLI_G_MANY, MOD, set_int, OPT(per_host), 0, MP_MAX_CONCURRENCY,
     "connections to one host at once (default 4; 0: any)"},
    {"rate", 0, "N", CLI_G_MANY, MOD, set_int, OPT(rate), 1, 1000000,
     "at most N new connections per second"},
    {"retry", 0, "N", CLI_G_MANY, MOD, set_int, OPT(retry), 0, MP_MAX_RETRY,
     "retry a server busy or reset up to N times (0)"},
    /* TLS */
    {"cafile", 0, "FILE", CLI_G_TLS, MOD, set_str, OPT(tls.cafile), 0, 0,
     "verify against FILE, not the system store"},
    {"capath", 0, "DIR", CLI_G_TLS, MOD, set_str, OPT(tls.capath), 0, 0,
     "verify against the hashed CA directory DIR"},
    {"sni", 0, "NAME", CLI_G_TLS, MOD, set_str, OPT(probe.sni), 0, 0,
     "send NAME as SNI and check the certificate for it"},
    {"cert-warn-days", 0, "N", CLI_G_TLS, MOD, set_cert_warn_days, 0, 0, 3650,
     "flag certificates expiring within N days (14)"},
    {"tls-versions", 0, "LIST", CLI_G_TLS, MOD, set_tls_versions, 0, 0, 0,
     "versions to offer, a range of 1.1,1.2,1.3 (all)"},
    {"enumerate-tls", 0, NULL, CLI_G_TLS, MOD, set_true, OPT(probe.enumerate_tls), 0, 0,
     "report which of SSLv3 to TLS 1.3 each accepts"},
    /* Connection */
    {"proxy", 0, "URL", CLI_G_CONNECTION, MOD, set_proxy, 0, 0, 0,
     "probe through this proxy (repeatable): socks4://,\n"
     "socks4a://, socks5://, socks5h://, http://"},
    {"proxy-password-file", 0, "FILE", CLI_G_CONNECTION, MOD, set_state_str, ST(proxy_pass_file), 0,
     0, "the proxy password (or MAILPROBE_PROXY_PASSWORD)"},
    {"direct", 0, NULL, CLI_G_CONNECTION, MOD, set_true, OPT(direct), 0, 0,
     "with --proxy, probe the direct path too"},
    {"source", 0, "ADDR", CLI_G_CONNECTION, MOD, set_str, OPT(probe.source_addr), 0, 0,
     "connect from local address ADDR"},
    {"ipv4", 0, NULL, CLI_G_CONNECTION, MOD, set_family, 0, 0, 0,
     "probe only the IPv4 addresses of a name"},
    {"ipv6", 0, NULL, CLI_G_CONNECTION, MOD, set_family, 0, 0, 0,
     "probe only the IPv6 addresses of a name"},
    {"ehlo", 0, "NAME", CLI_G_CONNECTION, MOD, set_str, OPT(probe.ehlo_name), 0, 0,
     "name sent in EHLO (default mailprobe.invalid)"},
    /* Login */
    {"user", 0, "NAME", CLI_G_LOGIN, MOD, set_state_str, ST(auth.user), 0, 0,
     "log in as NAME with every advertised mechanism"},
    {"password-file", 0, "FILE", CLI_G_LOGIN, MOD, set_login_str, ST(auth.password_file), 0, 0,
     "the password (else MAILPROBE_PASSWORD, or asked)"},
    {"password", 0, "PASS", CLI_G_LOGIN, 0, set_password, 0, 0, 0,
     "the password (visible to other users)"},
    {"oauth-token-file", 0, "FILE", CLI_G_LOGIN, MOD, set_login_str, ST(auth.token_file), 0, 0,
     "OAuth 2.0 token for XOAUTH2 and OAUTHBEARER"},
    {"allowed-auth", 0, "LIST", CLI_G_LOGIN, MOD, set_allowed_auth, 0, 0, 0,
     "try only these mechanisms, e.g. PLAIN,SCRAM-SHA-256"},
    {"allow-plaintext-auth", 0, NULL, CLI_G_LOGIN, MOD, set_allow_plaintext_auth, 0, 0, 0,
     "also log in over unencrypted connections"},
    {"insecure", 0, NULL, CLI_G_LOGIN, MOD, set_true, OPT(auth.insecure), 0, 0,
     "also log in over TLS that did not verify"},
    /* Active checks */
    {"checks", 0, "LIST", CLI_G_CHECKS, MOD, set_checks, 0, 0, 0,
     "starttls-injection, starttls-response-injection,\n"
     "auth-before-tls, vrfy, or all (none sends mail)"},
    {"enum-user", 0, "NAME", CLI_G_CHECKS, MOD, set_str, OPT(checks.enum_user), 0, 0,
     "vrfy: compare with this existing user"},
    {"smuggling-test", 0, NULL, CLI_G_CHECKS, MOD, set_state_true, ST(smuggling), 0, 0,
     "SMTP smuggling: sends messages (needs --mail-from\n"
     "and --rcpt-to, an address you own)"},
    {"mail-from", 0, "ADDRESS", CLI_G_CHECKS, MOD, set_str, OPT(checks.mail_from), 0, 0,
     "sender of --smuggling-test"},
    {"rcpt-to", 0, "ADDRESS", CLI_G_CHECKS, MOD, set_str, OPT(checks.rcpt_to), 0, 0,
     "recipient of --smuggling-test"},
    {"relay-test", 0, NULL, CLI_G_CHECKS, MOD, set_state_true, ST(relay), 0, 0,
     "open relay: foreign MAIL FROM and RCPT TO, no DATA"},
    {"relay-from", 0, "DOMAIN", CLI_G_CHECKS, MOD, set_str, OPT(checks.relay_from), 0, 0,
     "sender domain of --relay-test"},
    {"relay-to", 0, "DOMAIN", CLI_G_CHECKS, MOD, set_str, OPT(checks.relay_to), 0, 0,
     "recipient domain of --relay-test"},
    /* Policy */
    {"policy", 0, "FILE", CLI_G_POLICY, MOD, set_state_str, ST(policy_file), 0, 0,
     "rules from a JSON file, keyed like these options"},
    {"expect", 0, "ok|answer", CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "every endpoint must end ok (default), or greet"},
    {"optional", 0, "URL", CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "this endpoint's failure is a WARNING (repeatable)"},
    {"require-tls", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "an endpoint that answered without TLS: CRITICAL"},
    {"min-tls", 0, "VERSION", CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "a TLS version below 1.0|1.1|1.2|1.3: CRITICAL"},
    {"require-verified", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "an unverified chain or a name mismatch: CRITICAL"},
    {"cert-crit-days", 0, "N", CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "certificate expiring within N days: CRITICAL (3)"},
    {"forbid-auth-before-tls", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "a login mechanism offered before TLS: CRITICAL"},
    {"forbid-check-failures", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "an active check that failed: CRITICAL"},
    {"require-auth", 0, "LIST", CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "these mechanisms must be offered after TLS"},
    {"require-login", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "with --user: some mechanism must log in"},
    {"require-dane", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "an MX with no TLSA set it matches: CRITICAL"},
    {"require-mta-sts", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "no MTA-STS enforce policy all MX fit: CRITICAL"},
    {"require-dnssec", 0, NULL, CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "an unsigned MX, address or TLSA answer: CRITICAL"},
    {"warn-ms", 0, "N", CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "an endpoint's total time above N ms: WARNING"},
    {"crit-ms", 0, "N", CLI_G_POLICY, MOD | CLI_RULE, set_rule, 0, 0, 0,
     "an endpoint's total time above N ms: CRITICAL"},
    /* Output */
    {"format", 'f', "FMT", CLI_G_OUTPUT, 0, set_format, 0, 0, 0,
     "table (default), json, ndjson, nagios, junit,\n"
     "prometheus or html"},
    {"compact", 0, NULL, CLI_G_OUTPUT, 0, set_true, OPT(compact), 0, 0, "JSON on one line"},
    {"output", 'o', "[FMT:]FILE", CLI_G_OUTPUT, 0, set_output, 0, 0, 0,
     "write the report to FILE; with FMT: also write\n"
     "format FMT to FILE (repeatable)"},
    {"transcript", 0, NULL, CLI_G_OUTPUT, MOD, set_true, OPT(transcript), 0, 0,
     "include each conversation in the JSON report"},
    {"verbose", 'v', NULL, CLI_G_OUTPUT, 0, set_verbose, 0, 0, 0,
     "print each conversation to standard error"},
    {"color", 0, "WHEN", CLI_G_OUTPUT, 0, set_color, 0, 0, 0,
     "auto (default), always or never; NO_COLOR is read"},
    {"no-color", 0, NULL, CLI_G_OUTPUT, 0, set_no_color, 0, 0, 0, "the same as --color never"},
    {"help", 'h', NULL, CLI_G_OUTPUT, 0, set_help, 0, 0, 0, "this help"},
    {"version", 'V', NULL, CLI_G_OUTPUT, 0, set_version, 0, 0, 0, "the version"},
};

const size_t cli_noptions = sizeof(cli_options) / sizeof(cli_options[0]);

const struct cli_option *cli_option_find(const char *name)
{
	for (size_t i = 0; name && i < cli_noptions; i++)
		if (strcmp(cli_options[i].name, name) == 0)
			return &cli_options[i];
	return NULL;
}
