/* cli.c - the command line: one pass of getopt over the option-spec table
 * (cli_options.c), then the options that need each other are checked and
 * the secrets read. */
#include "probe/app/cli.h"
#include "probe/app/policy_opts.h"
#include "probe/engine/checks.h"
#include "core/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

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
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	int rc = -1;
	struct stat st;

	if (fd < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "--%s: cannot read %.100s: %s", opt, path,
		             strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		mp_error_set(err, MP_ERR_INTERNAL, "--%s: %.100s is not a regular file", opt, path);
		goto out;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		fprintf(stderr,
		        "mailprobe: warning: --%s: %.100s is readable by other users "
		        "(mode %04o); chmod 600 it\n",
		        opt, path, (unsigned)(st.st_mode & 07777));
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
		mp_error_set(err, MP_ERR_INTERNAL,
		             "cannot ask for the password: %s: use "
		             "--password-file or MAILPROBE_PASSWORD",
		             strerror(errno));
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
static int finish_auth(struct run_options *opt, struct cli_auth_args *a, struct mp_error *err)
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
		mp_error_set(err, MP_ERR_INTERNAL,
		             "give the password once: use --password-file "
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
		      "(ps, /proc); use --password-file or MAILPROBE_PASSWORD\n",
		      stderr);
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
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--user needs a password: use "
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
static int finish_checks(struct run_options *opt, bool smuggling, bool relay, struct mp_error *err)
{
	struct check_config *cc = &opt->checks;
	const struct {
		const char *opt, *value;
	} words[] = {{"mail-from", cc->mail_from},
	             {"rcpt-to", cc->rcpt_to},
	             {"relay-from", cc->relay_from},
	             {"relay-to", cc->relay_to},
	             {"enum-user", cc->enum_user}};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (words[i].value && !check_word_ok(words[i].value)) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--%s expects one word of printable "
			             "characters (no space or <>), at most %d bytes",
			             words[i].opt, MP_MAX_CHECK_ADDRESS);
			return -1;
		}
	}
	if (smuggling && (!cc->mail_from || !cc->rcpt_to)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--smuggling-test sends messages: use "
		             "--mail-from ADDRESS and --rcpt-to ADDRESS (an address you own)");
		return -1;
	}
	if (!smuggling && (cc->mail_from || cc->rcpt_to)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--mail-from and --rcpt-to are for "
		             "--smuggling-test: use it too, or leave them out");
		return -1;
	}
	if (!relay && (cc->relay_from || cc->relay_to)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--relay-from and --relay-to are for "
		             "--relay-test: use it too, or leave them out");
		return -1;
	}
	if (cc->enum_user && !checks_selected(cc, "vrfy")) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--enum-user is for the vrfy check: use "
		             "--checks vrfy (or --checks all)");
		return -1;
	}
	/* the opt-in checks, by their names in the engine's table */
	if ((smuggling && checks_select(cc, "smtp-smuggling") != 0) ||
	    (relay && checks_select(cc, "open-relay") != 0)) {
		mp_error_set(err, MP_ERR_INTERNAL, "an opt-in check is missing from the table");
		return -1;
	}
	if (relay) {
		if (!cc->relay_from)
			cc->relay_from = CHECK_RELAY_FROM_DEFAULT;
		if (!cc->relay_to)
			cc->relay_to = CHECK_RELAY_TO_DEFAULT;
	}
	if (cc->nselected)
		opt->probe.checks = cc;
	return 0;
}

/* The policy: defaults, then the --policy file, then the options (which
 * override the file; the first --optional replaces the file's list). */
static int finish_policy(struct run_options *opt, const char *file,
                         const struct cli_rule_arg *rules, size_t nrules, int cert_warn_days,
                         struct mp_error *err)
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
			mp_error_set(err, MP_ERR_INTERNAL,
			             "ndjson streams: give it as --format "
			             "ndjson (with -o FILE), not as -o ndjson:FILE");
			return -1;
		}
	if (opt->overall_timeout_ms == 0 && !ndjson) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--deadline 0 (no deadline) needs --format "
		             "ndjson, which writes each result as it finishes");
		return -1;
	}
	if (!ndjson)
		return 0;
	if (opt->auto_mode || policy || opt->noutputs > 0 || opt->discover || opt->resolver) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--format ndjson streams one result at a "
		             "time: %s needs the whole run; write ndjson, then run "
		             "mailprobe merge FILE with it",
		             opt->auto_mode  ? "--auto"
		             : policy        ? "a policy"
		             : opt->discover ? "--discover"
		             : opt->resolver ? "--resolver"
		                             : "-o FORMAT:FILE");
		return -1;
	}
	return 0;
}

enum cli_module_key cli_module_key(const char *name)
{
	const struct cli_option *o = cli_option_find(name);

	if (!o)
		return CLI_KEY_UNKNOWN;
	return o->flags & CLI_MODULE ? CLI_KEY_OK : CLI_KEY_FORBIDDEN;
}

/* getopt's tables from the option-spec table: a long option returns
 * CLI_LONG_BASE + its index, a short one its letter. */
#define CLI_LONG_BASE 256

static void build_getopt(struct option *longs, char *shorts, size_t shorts_len)
{
	size_t n = 0;

	shorts[n++] = ':';
	for (size_t i = 0; i < cli_noptions; i++) {
		const struct cli_option *o = &cli_options[i];

		longs[i].name = o->name;
		longs[i].has_arg = o->arg ? required_argument : no_argument;
		longs[i].flag = NULL;
		longs[i].val = CLI_LONG_BASE + (int)i;
		if (o->letter && n + 3 < shorts_len) {
			shorts[n++] = o->letter;
			if (o->arg)
				shorts[n++] = ':';
		}
	}
	memset(&longs[cli_noptions], 0, sizeof(longs[0]));
	shorts[n] = '\0';
}

/* The entry getopt's answer c stands for, or NULL. */
static const struct cli_option *entry_of(int c)
{
	if (c >= CLI_LONG_BASE && (size_t)(c - CLI_LONG_BASE) < cli_noptions)
		return &cli_options[c - CLI_LONG_BASE];
	for (size_t i = 0; c > 0 && c < CLI_LONG_BASE && i < cli_noptions; i++)
		if (cli_options[i].letter == c)
			return &cli_options[i];
	return NULL;
}

/* getopt's pass: every option through its entry's setter. */
static int read_options(int argc, char **argv, struct cli_state *st, struct mp_error *err)
{
	struct option longs[CLI_MAX_OPTIONS + 1];
	char shorts[2 * CLI_MAX_OPTIONS + 2];
	int c;

	if (cli_noptions > CLI_MAX_OPTIONS) {
		mp_error_set(err, MP_ERR_INTERNAL, "more than %d options: raise CLI_MAX_OPTIONS",
		             CLI_MAX_OPTIONS);
		return -1;
	}
	build_getopt(longs, shorts, sizeof(shorts));
	opterr = 0;
	/* 0, not 1: glibc then forgets everything of the previous parse,
	 * including its position inside a cluster of short options of an argv
	 * that may be gone */
	optind = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct cli_option *o = entry_of(c);

		if (c == ':') {
			mp_error_set(err, MP_ERR_INTERNAL, "option %s needs a value",
			             argv[optind - 1]);
			return -1;
		}
		if (!o) {
			/* an unknown short option sets optopt (it may sit inside a
			 * cluster, "-Zv"); an unknown long one leaves it 0 */
			if (optopt > 0 && optopt < CLI_LONG_BASE)
				mp_error_set(err, MP_ERR_INTERNAL, "unknown option '-%c'", optopt);
			else
				mp_error_set(err, MP_ERR_INTERNAL, "unknown option '%.40s'",
				             argv[optind - 1]);
			return -1;
		}
		if (o->set(st, o, o->arg ? optarg : NULL, err) != 0)
			return -1;
	}
	for (int i = optind; i < argc; i++) {
		if (st->opt->ntargets >= MP_MAX_TARGETS) {
			mp_error_set(err, MP_ERR_INTERNAL, "at most %d targets", MP_MAX_TARGETS);
			return -1;
		}
		st->opt->targets[st->opt->ntargets++] = argv[i];
	}
	return 0;
}

/* The options that need each other, the secrets, the policy. */
static int finish(struct cli_state *st, struct mp_error *err)
{
	struct run_options *opt = st->opt;

	if (opt->guess && !opt->discover) {
		mp_error_set(err, MP_ERR_INTERNAL, "--guess needs --discover DOMAIN");
		return -1;
	}
	if (opt->ntargets == 0 && !opt->discover && !opt->targets_file) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "no target given: name a host or an endpoint "
		             "URL such as smtps://mail.example.com, or give -i FILE");
		return -1;
	}
	if (check_streaming(opt, st->policy_file != NULL || st->nrules > 0, err) != 0)
		return -1;
	if (opt->direct && opt->nproxies == 0)
		opt->direct = false;
	if (finish_proxies(opt, st->proxy_pass_file, err) != 0)
		return -1;
	if (finish_auth(opt, &st->auth, err) != 0)
		return -1;
	if (finish_checks(opt, st->smuggling, st->relay, err) != 0)
		return -1;
	if (finish_policy(opt, st->policy_file, st->rules, st->nrules, st->cert_warn_days, err) !=
	    0)
		return -1;
	opt->probe.transcript = opt->transcript || opt->verbose;
	return 0;
}

enum cli_result cli_parse_with(int argc, char **argv, struct run_options *opt, struct mp_error *err,
                               void (*usage)(FILE *f))
{
	struct cli_state *st = calloc(1, sizeof(*st));
	enum cli_result rc = CLI_USAGE_ERROR;

	set_defaults(opt);
	if (!st) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return CLI_USAGE_ERROR;
	}
	st->opt = opt;
	st->cert_warn_days = -1;
	if (read_options(argc, argv, st, err) != 0)
		goto out;
	/* --help and --version answer once every option was read: a usage
	 * error beside them is still one */
	if (st->help || st->version) {
		if (st->help)
			usage(stdout);
		else
			printf("mailprobe %s\n", MP_VERSION);
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (finish(st, err) != 0)
		goto out;
	rc = CLI_RUN;
out:
	free(st);
	return rc;
}

enum cli_result cli_parse(int argc, char **argv, struct run_options *opt, struct mp_error *err)
{
	return cli_parse_with(argc, argv, opt, err, cli_usage);
}

bool cli_stdout_color(const struct run_options *opt)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (opt->color != COLOR_AUTO)
		return opt->color == COLOR_ALWAYS;
	return !opt->output_file && isatty(STDOUT_FILENO) && !(no_color && *no_color) &&
	       !(term && strcmp(term, "dumb") == 0);
}
