/* cli.c - the command line: options, defaults and usage text. */
#include "probe/app/cli.h"
#include "probe/app/policy_opts.h"
#include "core/limits.h"
#include "reports/report.h"
#include "core/tlsprobe.h"
#include "probe/engine/targets.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

void cli_usage(FILE *f)
{
	fputs(
"Usage: mailprobe [OPTIONS] TARGET...\n"
"       mailprobe -i FILE [OPTIONS] [TARGET...]\n"
"       mailprobe merge [--format FMT] [-o ...] [policy options] FILE...\n"
"                       (one report from NDJSON or JSON reports, e.g. shards)\n"
"       mailprobe serve --config FILE [--listen ADDR:PORT]   (Prometheus exporter,\n"
"                       JSON API and status page: mailprobe serve --help)\n"
"Diagnose how mail servers can be reached: SMTP, IMAP and POP3 over plain,\n"
"STARTTLS and implicit TLS, directly or through proxies.\n"
"\n"
"TARGET is a host name or address (probes the default matrix: SMTP 25, 587\n"
"STARTTLS and 465 TLS; IMAP 143 STARTTLS and 993 TLS; POP3 110 STARTTLS and\n"
"995 TLS), or an endpoint URL: smtp://, smtp+starttls://, smtps://, imap://,\n"
"imap+starttls://, imaps://, pop3://, pop3+starttls://, pop3s:// with an\n"
"optional :port ([::1] for IPv6). The scheme decides protocol and mode.\n"
"\n"
"Matrix:\n"
"  --protocols LIST        smtp,imap,pop3 (default: all)\n"
"  --ports LIST            ports to probe, e.g. 25,587 (default: the well-known ones)\n"
"  --modes LIST            plain,starttls,tls (default: STARTTLS or implicit TLS per port)\n"
"  --auto PROTO            try PROTO's combinations in preference order (implicit TLS,\n"
"                          STARTTLS, plain; submission before 25) and recommend the first\n"
"                          that works\n"
"Domains:\n"
"  --discover DOMAIN       find DOMAIN's mail hosts (MX on 25, SRV records of RFC 6186\n"
"                          and 8314, autoconfig) and probe each endpoint found; check\n"
"                          MTA-STS, TLS-RPT and DANE. user@DOMAIN also works\n"
"  --guess                 with --discover: try mail., imap., smtp., pop., pop3. when\n"
"                          the domain publishes nothing\n"
"  --resolver ADDR[@PORT]  ask this DNS server (default: the system's resolvers)\n"
"  --trust-anchor FILE     DNSSEC trust anchor (DS or DNSKEY records; default: the root's)\n"
"  --mx-port N             probe MX hosts on port N instead of 25\n"
"  --https-port N          fetch MTA-STS and autoconfig on port N instead of 443\n"
"Timeouts (milliseconds):\n"
"  --connect-timeout MS    TCP connect, per endpoint (default 5000)\n"
"  --greeting-timeout MS   wait for the server's greeting (default 1500); a port\n"
"                          that expects the other mode stays silent, so this is\n"
"                          what a wrong guess costs\n"
"  --timeout MS            each command's reply (default 5000)\n"
"  --tls-timeout MS        each TLS handshake (default 5000)\n"
"  --deadline MS           the whole run (default 30000; 0: none, with ndjson only)\n"
"  --concurrency N         endpoints probed at once (default 32, max 4096; capped\n"
"                          by the descriptors the process may open)\n"
"Many targets:\n"
"  -i, --input FILE        more targets from FILE, one per line (- : standard input);\n"
"                          blank lines and lines starting with # are skipped; a bad\n"
"                          line is an invalid_target result naming its line number\n"
"  --shard I/N             only the targets whose stable hash (of the text) is I\n"
"                          modulo N (0 <= I < N): N shards together make the whole run\n"
"  --allow-duplicates      probe an endpoint as often as it is given (by default one\n"
"                          that appears twice, same protocol, host, port, mode and\n"
"                          path, is probed once)\n"
"  --per-host N            at most N connections to one host at once, counting logins,\n"
"                          checks and --enumerate-tls attempts (default 4; 0: no limit)\n"
"  --rate N                at most N new connections per second for the whole run\n"
"  --retry N               retry an endpoint that refused service for load (SMTP 421,\n"
"                          IMAP * BYE, POP3 -ERR [IN-USE]/[SYS/TEMP]) or reset the\n"
"                          connection, up to N times with exponential back-off and\n"
"                          jitter within the deadline (default 0)\n"
"TLS:\n"
"  --cafile FILE           verify certificates against FILE instead of the system store\n"
"  --capath DIR            verify certificates against the hashed CA directory DIR\n"
"  --sni NAME              send NAME as SNI and check the certificate against it\n"
"  --cert-warn-days N      flag certificates expiring within N days (default 14);\n"
"                          with a policy, such a certificate is a WARNING\n"
"  --tls-versions LIST     TLS versions to offer, a range out of 1.1,1.2,1.3\n"
"                          (default: all three, so that a legacy server is reported)\n"
"  --enumerate-tls         on each TLS endpoint, try SSLv3, TLS 1.0, 1.1, 1.2 and 1.3\n"
"                          one by one (fresh connections) and report which it accepts\n"
"Connection:\n"
"  --proxy URL             add a path through a proxy (repeatable): socks4://,\n"
"                          socks4a://, socks5://, socks5h://, http:// with optional\n"
"                          user:password@; the password may also come from\n"
"                          --proxy-password-file FILE or MAILPROBE_PROXY_PASSWORD\n"
"  --direct                with --proxy, probe the direct path too\n"
"  --source ADDR           connect from local address ADDR (e.g. 127.0.0.2)\n"
"  --ipv4, --ipv6          probe only the IPv4 (A) or IPv6 (AAAA) addresses of a name;\n"
"                          by default every address is probed as its own endpoint\n"
"  --ehlo NAME             name sent in SMTP EHLO/HELO (default mailprobe.invalid)\n"
"Login (each advertised mechanism is tried on a fresh connection):\n"
"  --user NAME             log in as NAME on every endpoint that answered\n"
"  --password-file FILE    the password is the first line of FILE; else it comes from\n"
"                          MAILPROBE_PASSWORD, else it is asked for on the terminal\n"
"  --password PASS         the password on the command line (visible to other users)\n"
"  --oauth-token-file FILE\n"
"                          OAuth 2.0 bearer token (the first line of FILE) for\n"
"                          XOAUTH2 and OAUTHBEARER\n"
"  --allowed-auth LIST     try only these: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1,\n"
"                          SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, IMAP-LOGIN, USER, APOP\n"
"                          (default: every one the server advertises)\n"
"  --allow-plaintext-auth  also send credentials over unencrypted connections\n"
"  --insecure              also send credentials over TLS whose certificate did not\n"
"                          verify (credentials otherwise need a verified certificate)\n"
"Active checks (each on a fresh connection after the probe; results in \"checks\"):\n"
"  --checks LIST           starttls-injection (STARTTLS and NOOP in one write: is the\n"
"                          NOOP answered inside TLS?), starttls-response-injection\n"
"                          (plaintext after the go-ahead), auth-before-tls (AUTH PLAIN,\n"
"                          IMAP LOGIN or POP3 USER before TLS where not offered, with\n"
"                          an invalid credential), vrfy (VRFY and EXPN of a nonexistent\n"
"                          user), or all: every one of these (none sends mail)\n"
"  --enum-user NAME        vrfy: compare with this existing user (user enumeration)\n"
"  --smuggling-test        SMTP smuggling (CVE-2023-51764 class): sends one message per\n"
"                          end-of-data variant; needs --mail-from ADDRESS and\n"
"                          --rcpt-to ADDRESS (an address you own)\n"
"  --relay-test            open relay: MAIL FROM and RCPT TO in foreign domains\n"
"                          (--relay-from DOMAIN, --relay-to DOMAIN; default names\n"
"                          under .invalid), never DATA\n"
"Policy (any of these makes the exit code a verdict: 0 OK, 1 WARNING, 2 CRITICAL):\n"
"  --policy FILE           rules from a JSON file, keyed like these options without\n"
"                          dashes: {\"require-tls\": true, \"min-tls\": \"1.2\"}; options\n"
"                          given here override it\n"
"  --expect ok|answer      every endpoint must end ok (default), or at least greet\n"
"  --optional URL          this endpoint's failure is only a WARNING (repeatable)\n"
"  --require-tls           an endpoint that answered but never reached TLS is CRITICAL\n"
"  --min-tls VERSION       a negotiated TLS version below 1.0|1.1|1.2|1.3 is CRITICAL;\n"
"                          with --enumerate-tls an accepted older one is a WARNING\n"
"  --require-verified      an unverified chain or a name mismatch is CRITICAL\n"
"  --cert-crit-days N      CRITICAL when the certificate expires within N days\n"
"                          (default 3; WARNING within --cert-warn-days)\n"
"  --forbid-auth-before-tls\n"
"                          a password-sending mechanism offered before TLS is\n"
"                          CRITICAL, a challenge-response one a WARNING\n"
"  --forbid-check-failures an active check that failed is CRITICAL\n"
"  --require-auth LIST     these mechanisms must be offered after TLS\n"
"  --require-login         with --user: some mechanism must log in (CRITICAL), and\n"
"                          a rejected attempt is a WARNING\n"
"  --warn-ms N, --crit-ms N\n"
"                          an endpoint's total time above N ms is a WARNING / CRITICAL\n"
"Output:\n"
"  -f, --format FMT        table (default), json, ndjson (one result per line as\n"
"                          each endpoint finishes, then a summary line; memory does\n"
"                          not grow with the targets), nagios (Monitoring Plugins),\n"
"                          junit (JUnit XML), prometheus (text exposition format) or\n"
"                          html (one self-contained page)\n"
"  --compact               JSON on one line\n"
"  -o, --output FILE       write the report to FILE instead of standard output\n"
"  -o, --output FMT:FILE   also write format FMT to FILE (repeatable), e.g.\n"
"                          -o junit:report.xml -o prometheus:mailprobe.prom; each\n"
"                          file appears whole (written aside, then renamed)\n"
"  --transcript            include each conversation in the JSON report\n"
"  -v, --verbose           print each conversation to standard error\n"
"  --color WHEN            auto (default), always or never\n"
"  -h, --help              this help\n"
"  -V, --version           the version\n"
"\n"
"Exit codes: 0 the run completed and at least one endpoint answered;\n"
"            2 no endpoint answered; 3 usage or internal error.\n"
"  With a policy: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage or internal error).\n"
"Examples:\n"
"  mailprobe mail.example.com\n"
"  mailprobe --format json --cafile ca.pem smtp+starttls://127.0.0.1:2525\n"
"  mailprobe --auto imap mail.example.com\n"
"  mailprobe --require-tls --min-tls 1.2 --require-verified -o junit:mail.xml \\\n"
"            mail.example.com\n",
	      f);
}

enum {
	OPT_COMPACT = 256, OPT_TRANSCRIPT, OPT_COLOR, OPT_PROTOCOLS, OPT_PORTS, OPT_MODES,
	OPT_AUTO, OPT_CONNECT_TIMEOUT, OPT_GREETING_TIMEOUT, OPT_TIMEOUT, OPT_TLS_TIMEOUT,
	OPT_DEADLINE, OPT_CONCURRENCY, OPT_CAFILE, OPT_CAPATH, OPT_SNI, OPT_EHLO, OPT_SOURCE,
	OPT_PROXY, OPT_DIRECT, OPT_CERT_WARN_DAYS, OPT_NO_COLOR, OPT_PROXY_PASSWORD_FILE,
	OPT_USER, OPT_PASSWORD_FILE, OPT_PASSWORD, OPT_OAUTH_TOKEN_FILE, OPT_ALLOWED_AUTH,
	OPT_ALLOW_PLAINTEXT_AUTH, OPT_INSECURE,
	OPT_TLS_VERSIONS, OPT_ENUMERATE_TLS, OPT_POLICY, OPT_RULE,
	OPT_CHECKS, OPT_ENUM_USER, OPT_SMUGGLING_TEST, OPT_MAIL_FROM, OPT_RCPT_TO, OPT_RELAY_TEST,
	OPT_RELAY_FROM, OPT_RELAY_TO,
	OPT_IPV4, OPT_IPV6,
	OPT_DISCOVER, OPT_GUESS, OPT_RESOLVER, OPT_TRUST_ANCHOR, OPT_MX_PORT, OPT_HTTPS_PORT,
	OPT_SHARD, OPT_PER_HOST, OPT_RATE, OPT_RETRY, OPT_ALLOW_DUPLICATES,
};

static const struct option long_options[] = {
	{"format", required_argument, NULL, 'f'},
	{"input", required_argument, NULL, 'i'},
	{"shard", required_argument, NULL, OPT_SHARD},
	{"allow-duplicates", no_argument, NULL, OPT_ALLOW_DUPLICATES},
	{"per-host", required_argument, NULL, OPT_PER_HOST},
	{"rate", required_argument, NULL, OPT_RATE},
	{"retry", required_argument, NULL, OPT_RETRY},
	{"output", required_argument, NULL, 'o'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"compact", no_argument, NULL, OPT_COMPACT},
	{"transcript", no_argument, NULL, OPT_TRANSCRIPT},
	{"color", required_argument, NULL, OPT_COLOR},
	{"no-color", no_argument, NULL, OPT_NO_COLOR},
	{"protocols", required_argument, NULL, OPT_PROTOCOLS},
	{"ports", required_argument, NULL, OPT_PORTS},
	{"modes", required_argument, NULL, OPT_MODES},
	{"auto", required_argument, NULL, OPT_AUTO},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"greeting-timeout", required_argument, NULL, OPT_GREETING_TIMEOUT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"tls-timeout", required_argument, NULL, OPT_TLS_TIMEOUT},
	{"deadline", required_argument, NULL, OPT_DEADLINE},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"cafile", required_argument, NULL, OPT_CAFILE},
	{"capath", required_argument, NULL, OPT_CAPATH},
	{"sni", required_argument, NULL, OPT_SNI},
	{"cert-warn-days", required_argument, NULL, OPT_CERT_WARN_DAYS},
	{"ehlo", required_argument, NULL, OPT_EHLO},
	{"source", required_argument, NULL, OPT_SOURCE},
	{"discover", required_argument, NULL, OPT_DISCOVER},
	{"guess", no_argument, NULL, OPT_GUESS},
	{"resolver", required_argument, NULL, OPT_RESOLVER},
	{"trust-anchor", required_argument, NULL, OPT_TRUST_ANCHOR},
	{"mx-port", required_argument, NULL, OPT_MX_PORT},
	{"https-port", required_argument, NULL, OPT_HTTPS_PORT},
	{"ipv4", no_argument, NULL, OPT_IPV4},
	{"ipv6", no_argument, NULL, OPT_IPV6},
	{"proxy", required_argument, NULL, OPT_PROXY},
	{"direct", no_argument, NULL, OPT_DIRECT},
	{"proxy-password-file", required_argument, NULL, OPT_PROXY_PASSWORD_FILE},
	{"user", required_argument, NULL, OPT_USER},
	{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	{"password", required_argument, NULL, OPT_PASSWORD},
	{"oauth-token-file", required_argument, NULL, OPT_OAUTH_TOKEN_FILE},
	{"allowed-auth", required_argument, NULL, OPT_ALLOWED_AUTH},
	{"allow-plaintext-auth", no_argument, NULL, OPT_ALLOW_PLAINTEXT_AUTH},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"tls-versions", required_argument, NULL, OPT_TLS_VERSIONS},
	{"enumerate-tls", no_argument, NULL, OPT_ENUMERATE_TLS},
	{"policy", required_argument, NULL, OPT_POLICY},
	{"checks", required_argument, NULL, OPT_CHECKS},
	{"enum-user", required_argument, NULL, OPT_ENUM_USER},
	{"smuggling-test", no_argument, NULL, OPT_SMUGGLING_TEST},
	{"mail-from", required_argument, NULL, OPT_MAIL_FROM},
	{"rcpt-to", required_argument, NULL, OPT_RCPT_TO},
	{"relay-test", no_argument, NULL, OPT_RELAY_TEST},
	{"relay-from", required_argument, NULL, OPT_RELAY_FROM},
	{"relay-to", required_argument, NULL, OPT_RELAY_TO},
	/* policy rules: the option's name is the rule's key (policy_opts.c) */
	{"expect", required_argument, NULL, OPT_RULE},
	{"optional", required_argument, NULL, OPT_RULE},
	{"require-tls", no_argument, NULL, OPT_RULE},
	{"min-tls", required_argument, NULL, OPT_RULE},
	{"require-verified", no_argument, NULL, OPT_RULE},
	{"cert-crit-days", required_argument, NULL, OPT_RULE},
	{"forbid-auth-before-tls", no_argument, NULL, OPT_RULE},
	{"forbid-check-failures", no_argument, NULL, OPT_RULE},
	{"require-auth", required_argument, NULL, OPT_RULE},
	{"require-login", no_argument, NULL, OPT_RULE},
	{"warn-ms", required_argument, NULL, OPT_RULE},
	{"crit-ms", required_argument, NULL, OPT_RULE},
	{NULL, 0, NULL, 0},
};

/* Parses a whole decimal number in [min, max] for option `name`. */
static int parse_num(const char *name, const char *s, long min, long max, long *out,
		     struct mp_error *err)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		mp_error_set(err, MP_ERR_INTERNAL, "--%s expects a whole number from %ld to %ld, "
			     "not '%.40s'", name, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_ms(const char *name, const char *s, int *out, struct mp_error *err)
{
	long v;

	if (parse_num(name, s, 1, 24L * 3600 * 1000, &v, err) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* Calls fn for each comma-separated item of list (copied into a bounded buffer). */
static int each_item(const char *opt, const char *list, int (*fn)(const char *item, void *arg,
								   struct mp_error *err),
		     void *arg, struct mp_error *err)
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
			mp_error_set(err, MP_ERR_INTERNAL, "--%s has an empty item in '%s'", opt, list);
			return -1;
		}
		if (fn(p, arg, err) != 0)
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int add_protocol(const char *item, void *arg, struct mp_error *err)
{
	int p = protocol_parse(item);

	if (p < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "unknown protocol '%.40s': use smtp, imap or pop3",
			     item);
		return -1;
	}
	((struct run_options *)arg)->protocols |= 1u << p;
	return 0;
}

static int add_mode(const char *item, void *arg, struct mp_error *err)
{
	int m = mode_parse(item);

	if (m < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "unknown mode '%.40s': use plain, starttls or tls",
			     item);
		return -1;
	}
	((struct run_options *)arg)->modes |= 1u << m;
	return 0;
}

/* Adds one --tls-versions item ("1.2", "tls1.2", "TLSv1.2") to a bit set
 * indexed by the wire version's minor number. */
static int add_tls_version(const char *item, void *arg, struct mp_error *err)
{
	int version = tlsprobe_version_parse(item);

	if (version < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "--tls-versions: unknown version '%.40s': use "
			     "1.1, 1.2 or 1.3", item);
		return -1;
	}
	if (version < MP_TLS_V1_1) {
		mp_error_set(err, MP_ERR_INTERNAL,
			     "--tls-versions: this build's TLS library has no %s client; "
			     "use 1.1, 1.2 or 1.3 (--enumerate-tls still tells whether a "
			     "server accepts it)", tlsprobe_version_name(version));
		return -1;
	}
	*(unsigned *)arg |= 1u << (version & 0xff);
	return 0;
}

/* --tls-versions: the set must be a range (the TLS library takes a minimum
 * and a maximum). */
static int set_tls_versions(struct run_options *opt, const char *list, struct mp_error *err)
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
			mp_error_set(err, MP_ERR_INTERNAL, "--tls-versions expects a range without "
				     "gaps, e.g. 1.2,1.3, not '%.40s'", list);
			return -1;
		}
		hi = m;
	}
	opt->tls.min_version = 0x0300 | lo;
	opt->tls.max_version = 0x0300 | hi;
	return 0;
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

/* Adds a --proxy (its password, when not in the URL, is filled in by
 * finish_proxies). */
static int add_proxy(struct run_options *opt, const char *url, struct mp_error *err)
{
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
			     "IMAP-LOGIN, USER or APOP", item);
		return -1;
	}
	((struct run_options *)arg)->auth.allowed |= 1u << m;
	return 0;
}

/* The login options as given, before they are checked and read. */
struct auth_args {
	const char *user;
	const char *password_file;
	char *password;                 /* --password: in argv, wiped once copied */
	const char *token_file;
	bool any;                       /* some login option other than --insecure */
};

/* Copies the first line of a secret (without its line end) into buf, or
 * fails when it is empty or longer than MP_MAX_SASL_CRED bytes. */
static int take_line(const char *what, const char *src, size_t n, char *buf, size_t bufsz,
		     struct mp_error *err)
{
	size_t len = 0;

	while (len < n && src[len] != '\n' && src[len] != '\r' && src[len] != '\0')
		len++;
	if (len == 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "%s is empty: expected it on the first line",
			     what);
		return -1;
	}
	if (len > MP_MAX_SASL_CRED || len >= bufsz) {
		mp_error_set(err, MP_ERR_INTERNAL, "%s is longer than %d bytes", what,
			     MP_MAX_SASL_CRED);
		return -1;
	}
	memcpy(buf, src, len);
	buf[len] = '\0';
	return 0;
}

/* Reads the first line of a secret file (--password-file, --oauth-token-file)
 * into buf; its bytes are wiped from our temporary buffer. */
static int read_secret_file(const char *opt, const char *path, char *buf, size_t bufsz,
			    struct mp_error *err)
{
	char tmp[MP_MAX_SASL_CRED + 3];
	char what[64];
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = -1;

	if (fd < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "--%s: cannot read %.100s: %s", opt, path,
			     strerror(errno));
		return -1;
	}
	while (n < sizeof(tmp)) {
		ssize_t got = read(fd, tmp + n, sizeof(tmp) - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "--%s: cannot read %.100s: %s", opt,
				     path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	snprintf(what, sizeof(what), "the file of --%s", opt);
	rc = take_line(what, tmp, n, buf, bufsz, err);
out:
	explicit_bzero(tmp, sizeof(tmp));
	close(fd);
	return rc;
}

/* Asks for the password on the terminal (stdin) with echo off. */
static int prompt_password(const char *user, char *buf, size_t bufsz, struct mp_error *err)
{
	struct termios old, quiet;
	char tmp[MP_MAX_SASL_CRED + 3];
	size_t n = 0;
	int rc;

	if (tcgetattr(STDIN_FILENO, &old) != 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "cannot ask for the password: %s: use "
			     "--password-file or MAILPROBE_PASSWORD", strerror(errno));
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	/* Echo off before the prompt: whatever is typed after it is not shown
	 * (and not flushed away). */
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	fprintf(stderr, "Password for %.100s: ", user);
	fflush(stderr);
	while (n < sizeof(tmp) && (n == 0 || tmp[n - 1] != '\n')) {
		ssize_t got = read(STDIN_FILENO, tmp + n, sizeof(tmp) - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	tcsetattr(STDIN_FILENO, TCSANOW, &old);
	fputc('\n', stderr);
	rc = take_line("the password typed", tmp, n, buf, bufsz, err);
	explicit_bzero(tmp, sizeof(tmp));
	return rc;
}

/* Checks the login options and reads the secrets: the password from
 * --password-file, --password (with a warning), MAILPROBE_PASSWORD, or a
 * prompt on a terminal, in that order; the token from --oauth-token-file. */
static int finish_auth(struct run_options *opt, struct auth_args *a, struct mp_error *err)
{
	const char *env = getenv("MAILPROBE_PASSWORD");

	if (!a->user) {
		if (a->any) {
			mp_error_set(err, MP_ERR_INTERNAL, "login options need --user NAME");
			return -1;
		}
		return 0;
	}
	if (!a->user[0] || strlen(a->user) > MP_MAX_SASL_CRED) {
		mp_error_set(err, MP_ERR_INTERNAL, "--user expects a name of 1 to %d bytes",
			     MP_MAX_SASL_CRED);
		return -1;
	}
	if (a->password_file && a->password) {
		mp_error_set(err, MP_ERR_INTERNAL, "give the password once: use --password-file "
			     "or --password, not both");
		return -1;
	}
	if (a->token_file && read_secret_file("oauth-token-file", a->token_file, opt->token,
					      sizeof(opt->token), err) != 0)
		return -1;
	if (a->password_file) {
		if (read_secret_file("password-file", a->password_file, opt->password,
				     sizeof(opt->password), err) != 0)
			return -1;
	} else if (a->password) {
		fputs("mailprobe: warning: --password is visible to other users of this system "
		      "(ps, /proc); use --password-file or MAILPROBE_PASSWORD\n", stderr);
		if (take_line("--password", a->password, strlen(a->password), opt->password,
			      sizeof(opt->password), err) != 0)
			return -1;
		/* Shortens what ps shows from now on. */
		explicit_bzero(a->password, strlen(a->password));
	} else if (env && *env) {
		if (take_line("MAILPROBE_PASSWORD", env, strlen(env), opt->password,
			      sizeof(opt->password), err) != 0)
			return -1;
	} else if (!opt->token[0]) {
		if (!isatty(STDIN_FILENO)) {
			mp_error_set(err, MP_ERR_INTERNAL, "--user needs a password: use "
				     "--password-file FILE or MAILPROBE_PASSWORD (or run on a "
				     "terminal to be asked)");
			return -1;
		}
		if (prompt_password(a->user, opt->password, sizeof(opt->password), err) != 0)
			return -1;
	}
	opt->auth.user = a->user;
	opt->auth.password = opt->password[0] ? opt->password : NULL;
	opt->auth.token = opt->token[0] ? opt->token : NULL;
	opt->probe.auth = &opt->auth;
	return 0;
}

static void set_defaults(struct run_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->format = FORMAT_TABLE;
	opt->color = COLOR_AUTO;
	opt->concurrency = MP_DEFAULT_CONCURRENCY;
	opt->per_host = MP_DEFAULT_PER_HOST;
	opt->overall_timeout_ms = MP_DEFAULT_OVERALL_TIMEOUT_MS;
	opt->probe.connect_timeout_ms = MP_DEFAULT_CONNECT_TIMEOUT_MS;
	opt->probe.greeting_timeout_ms = MP_DEFAULT_GREETING_TIMEOUT_MS;
	opt->probe.command_timeout_ms = MP_DEFAULT_COMMAND_TIMEOUT_MS;
	opt->probe.tls_timeout_ms = MP_DEFAULT_TLS_TIMEOUT_MS;
	opt->probe.ehlo_name = "mailprobe.invalid";
	opt->probe.cert_warn_days = 14;
	opt->mx_port = 25;
	opt->https_port = 443;
}

/* Gives every proxy that has a user but no password in its URL the password
 * from --proxy-password-file, else from MAILPROBE_PROXY_PASSWORD, so that it
 * need not sit on the command line. SOCKS4 takes no password. */
static int finish_proxies(struct run_options *opt, const char *pass_file, struct mp_error *err)
{
	char pass[MP_MAX_SASL_CRED + 1];
	const char *env = getenv("MAILPROBE_PROXY_PASSWORD");
	size_t len;
	int rc = -1;

	pass[0] = '\0';
	if (pass_file) {
		if (read_secret_file("proxy-password-file", pass_file, pass, sizeof(pass), err))
			goto out;
	} else if (env && *env) {
		snprintf(pass, sizeof(pass), "%s", env);
	}
	len = strlen(pass);
	if (len == 0) {
		rc = 0;
		goto out;
	}
	if (len >= sizeof(opt->proxies[0].pass)) {
		mp_error_set(err, MP_ERR_INTERNAL, "the proxy password is longer than %zu bytes",
			     sizeof(opt->proxies[0].pass) - 1);
		goto out;
	}
	for (size_t i = 0; i < opt->nproxies; i++) {
		struct proxy_spec *p = &opt->proxies[i];

		if (!p->has_user || p->has_pass || p->type == PROXY_SOCKS4 ||
		    p->type == PROXY_SOCKS4A)
			continue;
		memcpy(p->pass, pass, len + 1);
		p->has_pass = true;
	}
	rc = 0;
out:
	explicit_bzero(pass, sizeof(pass));
	return rc;
}

/* True when v is a plain word for a command line: printable ASCII, no
 * space, no angle bracket, 1 to MP_MAX_CHECK_ADDRESS bytes (what a check
 * puts into VRFY, MAIL FROM:<...> and RCPT TO:<...>). */
static bool check_word_ok(const char *v)
{
	size_t len = strlen(v);

	if (len == 0 || len > MP_MAX_CHECK_ADDRESS)
		return false;
	for (size_t i = 0; i < len; i++)
		if (v[i] <= ' ' || v[i] >= 0x7f || v[i] == '<' || v[i] == '>')
			return false;
	return true;
}

/* The check options together: the opt-in ones with what they need, and
 * the values fit for a command line. */
static int finish_checks(struct run_options *opt, bool smuggling, bool relay,
			 struct mp_error *err)
{
	struct check_config *cc = &opt->checks;
	const struct {
		const char *opt, *value;
	} words[] = {{"mail-from", cc->mail_from}, {"rcpt-to", cc->rcpt_to},
		     {"relay-from", cc->relay_from}, {"relay-to", cc->relay_to},
		     {"enum-user", cc->enum_user}};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (words[i].value && !check_word_ok(words[i].value)) {
			mp_error_set(err, MP_ERR_INTERNAL, "--%s expects one word of printable "
				     "characters (no space or <>), at most %d bytes",
				     words[i].opt, MP_MAX_CHECK_ADDRESS);
			return -1;
		}
	}
	if (smuggling && (!cc->mail_from || !cc->rcpt_to)) {
		mp_error_set(err, MP_ERR_INTERNAL, "--smuggling-test sends messages: use "
			     "--mail-from ADDRESS and --rcpt-to ADDRESS (an address you own)");
		return -1;
	}
	if (!smuggling && (cc->mail_from || cc->rcpt_to)) {
		mp_error_set(err, MP_ERR_INTERNAL, "--mail-from and --rcpt-to are for "
			     "--smuggling-test: use it too, or leave them out");
		return -1;
	}
	if (!relay && (cc->relay_from || cc->relay_to)) {
		mp_error_set(err, MP_ERR_INTERNAL, "--relay-from and --relay-to are for "
			     "--relay-test: use it too, or leave them out");
		return -1;
	}
	if (cc->enum_user && !(cc->selected & (1u << CHECK_VRFY))) {
		mp_error_set(err, MP_ERR_INTERNAL, "--enum-user is for the vrfy check: use "
			     "--checks vrfy (or --checks all)");
		return -1;
	}
	if (smuggling)
		cc->selected |= 1u << CHECK_SMUGGLING;
	if (relay) {
		cc->selected |= 1u << CHECK_RELAY;
		if (!cc->relay_from)
			cc->relay_from = CHECK_RELAY_FROM_DEFAULT;
		if (!cc->relay_to)
			cc->relay_to = CHECK_RELAY_TO_DEFAULT;
	}
	if (cc->selected)
		opt->probe.checks = cc;
	return 0;
}

/* Most policy options on one command line. */
#define MP_MAX_RULE_ARGS 128

/* A policy option as given: its rule key and value (NULL for a flag). */
struct rule_arg {
	const char *key;
	const char *value;
};

/* -o FILE, or -o FORMAT:FILE (only when the text before the first colon is
 * a format name, so "-o c:/x" or "-o my:file" stay file names). */
static int add_output(struct run_options *opt, const char *arg, struct mp_error *err)
{
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
		mp_error_set(err, MP_ERR_INTERNAL, "-o %s: needs a file name after the colon, "
			     "e.g. -o %s:report", name, name);
		return -1;
	}
	if (opt->noutputs >= MP_MAX_OUTPUTS) {
		mp_error_set(err, MP_ERR_INTERNAL, "at most %d -o FORMAT:FILE outputs",
			     MP_MAX_OUTPUTS);
		return -1;
	}
	for (size_t i = 0; i < opt->noutputs; i++)
		if (strcmp(opt->outputs[i].path, colon + 1) == 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "-o names %.100s twice: give each "
				     "format its own file", colon + 1);
			return -1;
		}
	opt->outputs[opt->noutputs].format = (enum output_format)fmt;
	opt->outputs[opt->noutputs++].path = colon + 1;
	return 0;
}

/* The policy: defaults, then the --policy file, then the options (which
 * override the file; the first --optional replaces the file's list). */
static int finish_policy(struct run_options *opt, const char *file, const struct rule_arg *rules,
			 size_t nrules, int cert_warn_days, struct mp_error *err)
{
	struct policy *p = &opt->policy;
	bool cli_optional = false;
	char where[64];

	policy_defaults(p);
	if (file && policy_load_file(file, p, err) != 0)
		return -1;
	for (size_t i = 0; i < nrules; i++) {
		if (strcmp(rules[i].key, "optional") == 0 && !cli_optional) {
			p->noptional = 0;
			cli_optional = true;
		}
		snprintf(where, sizeof(where), "--%s", rules[i].key);
		if (policy_set(p, rules[i].key, rules[i].value, where, err) != 0)
			return -1;
	}
	/* --cert-warn-days is older than policies: alone it only sets when the
	 * "certificate_expiring" finding appears, and does not make one. */
	if (cert_warn_days >= 0)
		p->cert_warn_days = cert_warn_days;
	opt->probe.cert_warn_days = p->cert_warn_days;
	return policy_check(p, opt->auth.user != NULL, err);
}

/* What needs the whole run cannot stream: --deadline 0 needs ndjson (a run
 * without deadline must be written as it goes); ndjson takes neither auto
 * mode, nor a policy, nor other outputs (mailprobe merge gives those). */
static int check_streaming(const struct run_options *opt, bool policy, struct mp_error *err)
{
	bool ndjson = opt->format == FORMAT_NDJSON;

	for (size_t i = 0; i < opt->noutputs; i++)
		if (opt->outputs[i].format == FORMAT_NDJSON) {
			mp_error_set(err, MP_ERR_INTERNAL, "ndjson streams: give it as --format "
				     "ndjson (with -o FILE), not as -o ndjson:FILE");
			return -1;
		}
	if (opt->overall_timeout_ms == 0 && !ndjson) {
		mp_error_set(err, MP_ERR_INTERNAL, "--deadline 0 (no deadline) needs --format "
			     "ndjson, which writes each result as it finishes");
		return -1;
	}
	if (!ndjson)
		return 0;
	if (opt->auto_mode || policy || opt->noutputs > 0 || opt->discover || opt->resolver) {
		mp_error_set(err, MP_ERR_INTERNAL, "--format ndjson streams one result at a "
			     "time: %s needs the whole run; write ndjson, then run "
			     "mailprobe merge FILE with it",
			     opt->auto_mode ? "--auto"
			     : policy       ? "a policy"
			     : opt->discover ? "--discover"
			     : opt->resolver ? "--resolver"
					     : "-o FORMAT:FILE");
		return -1;
	}
	return 0;
}

enum cli_result cli_parse(int argc, char **argv, struct run_options *opt, struct mp_error *err)
{
	struct auth_args auth = {0};
	const char *proxy_pass_file = NULL;
	const char *policy_file = NULL;
	struct rule_arg rules[MP_MAX_RULE_ARGS];
	size_t nrules = 0;
	int cert_warn_days = -1;
	bool smuggling = false, relay = false;
	int c, li = -1;
	long v;

	set_defaults(opt);
	opterr = 0;
	optind = 0; /* glibc: a full reset, no state kept from an earlier argv */
	while ((c = getopt_long(argc, argv, ":f:o:i:vhV", long_options, &li)) != -1) {
		switch (c) {
		case 'f': {
			int fmt = report_format_parse(optarg);

			if (fmt < 0) {
				mp_error_set(err, MP_ERR_INTERNAL, "unknown format '%.40s': use %s",
					     optarg, report_format_list());
				return CLI_USAGE_ERROR;
			}
			opt->format = (enum output_format)fmt;
			break;
		}
		case 'o':
			if (add_output(opt, optarg, err) != 0)
				return CLI_USAGE_ERROR;
			break;
		case 'i':
			if (opt->targets_file) {
				mp_error_set(err, MP_ERR_INTERNAL, "-i is given once");
				return CLI_USAGE_ERROR;
			}
			opt->targets_file = optarg;
			break;
		case OPT_SHARD:
			if (target_parse_shard(optarg, &opt->shard_index, &opt->shard_count, err))
				return CLI_USAGE_ERROR;
			break;
		case OPT_ALLOW_DUPLICATES:
			opt->allow_duplicates = true;
			break;
		case OPT_PER_HOST:
			if (parse_num("per-host", optarg, 0, MP_MAX_CONCURRENCY, &v, err))
				return CLI_USAGE_ERROR;
			opt->per_host = (int)v;
			break;
		case OPT_RATE:
			if (parse_num("rate", optarg, 1, 1000000, &v, err))
				return CLI_USAGE_ERROR;
			opt->rate = (int)v;
			break;
		case OPT_RETRY:
			if (parse_num("retry", optarg, 0, MP_MAX_RETRY, &v, err))
				return CLI_USAGE_ERROR;
			opt->retry = (int)v;
			break;
		case 'v':
			opt->verbose++;
			break;
		case 'h':
			cli_usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("mailprobe %s\n", MP_VERSION);
			return CLI_EXIT_OK;
		case OPT_COMPACT:
			opt->compact = true;
			break;
		case OPT_TRANSCRIPT:
			opt->transcript = true;
			break;
		case OPT_NO_COLOR:
			opt->color = COLOR_NEVER;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0) {
				opt->color = COLOR_AUTO;
			} else if (strcmp(optarg, "always") == 0) {
				opt->color = COLOR_ALWAYS;
			} else if (strcmp(optarg, "never") == 0) {
				opt->color = COLOR_NEVER;
			} else {
				mp_error_set(err, MP_ERR_INTERNAL,
					     "--color expects auto, always or never");
				return CLI_USAGE_ERROR;
			}
			break;
		case OPT_PROTOCOLS:
			if (each_item("protocols", optarg, add_protocol, opt, err) != 0)
				return CLI_USAGE_ERROR;
			break;
		case OPT_MODES:
			if (each_item("modes", optarg, add_mode, opt, err) != 0)
				return CLI_USAGE_ERROR;
			break;
		case OPT_PORTS:
			if (each_item("ports", optarg, add_port, opt, err) != 0)
				return CLI_USAGE_ERROR;
			break;
		case OPT_AUTO: {
			int p = protocol_parse(optarg);

			if (p < 0) {
				mp_error_set(err, MP_ERR_INTERNAL,
					     "--auto expects smtp, imap or pop3, not '%.40s'", optarg);
				return CLI_USAGE_ERROR;
			}
			opt->auto_mode = true;
			opt->auto_proto = (enum protocol)p;
			break;
		}
		case OPT_CONNECT_TIMEOUT:
			if (parse_ms("connect-timeout", optarg, &opt->probe.connect_timeout_ms, err))
				return CLI_USAGE_ERROR;
			break;
		case OPT_GREETING_TIMEOUT:
			if (parse_ms("greeting-timeout", optarg, &opt->probe.greeting_timeout_ms, err))
				return CLI_USAGE_ERROR;
			break;
		case OPT_TIMEOUT:
			if (parse_ms("timeout", optarg, &opt->probe.command_timeout_ms, err))
				return CLI_USAGE_ERROR;
			break;
		case OPT_TLS_TIMEOUT:
			if (parse_ms("tls-timeout", optarg, &opt->probe.tls_timeout_ms, err))
				return CLI_USAGE_ERROR;
			break;
		case OPT_DEADLINE:
			if (strcmp(optarg, "0") == 0)
				opt->overall_timeout_ms = 0;
			else if (parse_ms("deadline", optarg, &opt->overall_timeout_ms, err))
				return CLI_USAGE_ERROR;
			break;
		case OPT_CONCURRENCY:
			if (parse_num("concurrency", optarg, 1, MP_MAX_CONCURRENCY, &v, err))
				return CLI_USAGE_ERROR;
			opt->concurrency = (int)v;
			break;
		case OPT_CERT_WARN_DAYS:
			if (parse_num("cert-warn-days", optarg, 0, 3650, &v, err))
				return CLI_USAGE_ERROR;
			cert_warn_days = (int)v;
			break;
		case OPT_POLICY:
			policy_file = optarg;
			break;
		case OPT_CHECKS:
			if (checks_parse_list(optarg, &opt->checks.selected, err) != 0)
				return CLI_USAGE_ERROR;
			break;
		case OPT_ENUM_USER:
			opt->checks.enum_user = optarg;
			break;
		case OPT_SMUGGLING_TEST:
			smuggling = true;
			break;
		case OPT_MAIL_FROM:
			opt->checks.mail_from = optarg;
			break;
		case OPT_RCPT_TO:
			opt->checks.rcpt_to = optarg;
			break;
		case OPT_RELAY_TEST:
			relay = true;
			break;
		case OPT_RELAY_FROM:
			opt->checks.relay_from = optarg;
			break;
		case OPT_RELAY_TO:
			opt->checks.relay_to = optarg;
			break;
		case OPT_RULE:
			if (nrules >= MP_MAX_RULE_ARGS) {
				mp_error_set(err, MP_ERR_INTERNAL, "at most %d policy options",
					     MP_MAX_RULE_ARGS);
				return CLI_USAGE_ERROR;
			}
			rules[nrules].key = long_options[li].name;
			rules[nrules++].value = long_options[li].has_arg ? optarg : NULL;
			break;
		case OPT_CAFILE:
			opt->tls.cafile = optarg;
			break;
		case OPT_CAPATH:
			opt->tls.capath = optarg;
			break;
		case OPT_TLS_VERSIONS:
			if (set_tls_versions(opt, optarg, err) != 0)
				return CLI_USAGE_ERROR;
			break;
		case OPT_ENUMERATE_TLS:
			opt->probe.enumerate_tls = true;
			break;
		case OPT_SNI:
			opt->probe.sni = optarg;
			break;
		case OPT_EHLO:
			opt->probe.ehlo_name = optarg;
			break;
		case OPT_SOURCE:
			opt->probe.source_addr = optarg;
			break;
		case OPT_DISCOVER:
			opt->discover = optarg;
			break;
		case OPT_GUESS:
			opt->guess = true;
			break;
		case OPT_RESOLVER:
			opt->resolver = optarg;
			break;
		case OPT_TRUST_ANCHOR:
			opt->trust_anchor = optarg;
			break;
		case OPT_MX_PORT:
		case OPT_HTTPS_PORT:
			if (parse_num(c == OPT_MX_PORT ? "mx-port" : "https-port", optarg, 1, 65535,
				      &v, err))
				return CLI_USAGE_ERROR;
			if (c == OPT_MX_PORT)
				opt->mx_port = (uint16_t)v;
			else
				opt->https_port = (uint16_t)v;
			break;
		case OPT_IPV4:
		case OPT_IPV6:
			if (opt->probe.family != AF_UNSPEC) {
				mp_error_set(err, MP_ERR_INTERNAL, "give --ipv4 or --ipv6, not both "
					     "(without either, every address is probed)");
				return CLI_USAGE_ERROR;
			}
			opt->probe.family = c == OPT_IPV4 ? AF_INET : AF_INET6;
			break;
		case OPT_PROXY:
			if (add_proxy(opt, optarg, err) != 0)
				return CLI_USAGE_ERROR;
			break;
		case OPT_PROXY_PASSWORD_FILE:
			proxy_pass_file = optarg;
			break;
		case OPT_DIRECT:
			opt->direct = true;
			break;
		case OPT_USER:
			auth.user = optarg;
			break;
		case OPT_PASSWORD_FILE:
			auth.password_file = optarg;
			auth.any = true;
			break;
		case OPT_PASSWORD:
			auth.password = optarg;
			auth.any = true;
			break;
		case OPT_OAUTH_TOKEN_FILE:
			auth.token_file = optarg;
			auth.any = true;
			break;
		case OPT_ALLOWED_AUTH:
			if (each_item("allowed-auth", optarg, add_auth_method, opt, err) != 0)
				return CLI_USAGE_ERROR;
			auth.any = true;
			break;
		case OPT_ALLOW_PLAINTEXT_AUTH:
			opt->auth.allow_plaintext = true;
			auth.any = true;
			break;
		case OPT_INSECURE:
			opt->auth.insecure = true;
			break;
		case ':':
			mp_error_set(err, MP_ERR_INTERNAL, "option %s needs a value",
				     argv[optind - 1]);
			return CLI_USAGE_ERROR;
		default:
			mp_error_set(err, MP_ERR_INTERNAL, "unknown option '%.40s'",
				     argv[optind - 1]);
			return CLI_USAGE_ERROR;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (opt->ntargets >= MP_MAX_TARGETS) {
			mp_error_set(err, MP_ERR_INTERNAL, "at most %d targets", MP_MAX_TARGETS);
			return CLI_USAGE_ERROR;
		}
		opt->targets[opt->ntargets++] = argv[i];
	}
	if (opt->guess && !opt->discover) {
		mp_error_set(err, MP_ERR_INTERNAL, "--guess needs --discover DOMAIN");
		return CLI_USAGE_ERROR;
	}
	if (opt->ntargets == 0 && !opt->discover && !opt->targets_file) {
		mp_error_set(err, MP_ERR_INTERNAL, "no target given: name a host or an endpoint "
			     "URL such as smtps://mail.example.com, or give -i FILE");
		return CLI_USAGE_ERROR;
	}
	if (check_streaming(opt, policy_file != NULL || nrules > 0, err) != 0)
		return CLI_USAGE_ERROR;
	if (opt->direct && opt->nproxies == 0)
		opt->direct = false;
	if (finish_proxies(opt, proxy_pass_file, err) != 0)
		return CLI_USAGE_ERROR;
	if (finish_auth(opt, &auth, err) != 0)
		return CLI_USAGE_ERROR;
	if (finish_checks(opt, smuggling, relay, err) != 0)
		return CLI_USAGE_ERROR;
	if (finish_policy(opt, policy_file, rules, nrules, cert_warn_days, err) != 0)
		return CLI_USAGE_ERROR;
	opt->probe.transcript = opt->transcript || opt->verbose;
	return CLI_RUN;
}
