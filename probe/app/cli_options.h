/* cli_options.h - the option-spec table, shared by the command line's own
 * files (cli.c parses, cli_options.c holds the table and its setters,
 * cli_usage.c writes --help); cli.h is the interface for everyone else.
 *
 * One entry per option gives getopt's long and short options, the parser's
 * dispatch (the entry's setter), the --help line and whether a module of
 * mailprobe serve may use it. docs/development.md: adding an option. */
#ifndef MP_CLI_OPTIONS_H
#define MP_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include "core/model/options.h"

/* Where --help lists an option, in this order. */
enum cli_group {
	CLI_G_MATRIX,
	CLI_G_DOMAINS,
	CLI_G_TIMEOUTS,
	CLI_G_MANY,
	CLI_G_TLS,
	CLI_G_CONNECTION,
	CLI_G_LOGIN,
	CLI_G_CHECKS,
	CLI_G_POLICY,
	CLI_G_OUTPUT,
	CLI_G_COUNT
};
#define CLI_GROUP(g) (1u << (g))

/* --help: the option column is CLI_HELP_COLUMN wide, the help text after it
 * at most CLI_HELP_WIDTH columns per line (80 in all). */
#define CLI_HELP_COLUMN 26
#define CLI_HELP_WIDTH  54

/* Most entries the table may have (getopt's tables are built on the stack). */
#define CLI_MAX_OPTIONS 160

/* Most policy options on one command line. */
#define MP_MAX_RULE_ARGS 128

/* Flags of an option. */
#define CLI_MODULE 1u /* a key of mailprobe serve's modules */
#define CLI_RULE   2u /* a policy rule: the name is the rule's key (policy_opts.c) */

/* The login options as given, before they are checked and read. */
struct cli_auth_args {
	const char *user;
	const char *password_file;
	char *password; /* --password: in argv, wiped once copied */
	const char *token_file;
	bool any; /* some login option other than --insecure */
};

/* A policy option as given: its rule key and value (NULL for a flag). */
struct cli_rule_arg {
	const char *key;
	const char *value;
};

/* What one parse collects besides run_options; lives for one cli_parse. */
struct cli_state {
	struct run_options *opt;
	struct cli_auth_args auth;
	const char *proxy_pass_file;
	const char *policy_file;
	struct cli_rule_arg rules[MP_MAX_RULE_ARGS];
	size_t nrules;
	int cert_warn_days; /* -1: not given */
	bool smuggling, relay;
	bool help, version;
};

struct cli_option;

/* Applies one occurrence of option o with value (NULL for a flag; writable,
 * as it is argv's). Returns 0, or -1 with err saying what is wrong. */
typedef int (*cli_setter)(struct cli_state *st, const struct cli_option *o, char *value,
                          struct mp_error *err);

struct cli_option {
	const char *name;     /* the long option, without dashes */
	char letter;          /* the short option, 0 for none */
	const char *arg;      /* the value's name in --help; NULL: a flag */
	enum cli_group group; /* where --help lists it */
	unsigned flags;       /* CLI_MODULE, CLI_RULE */
	cli_setter set;
	size_t off;       /* generic setters: the field (offsetof run_options or cli_state) */
	long min, max;    /* set_int, set_port: the accepted range */
	const char *help; /* lines of at most CLI_HELP_WIDTH columns, '\n' between */
};

extern const struct cli_option cli_options[];
extern const size_t cli_noptions;

/* The entry of long option name (without dashes), or NULL. */
const struct cli_option *cli_option_find(const char *name);

#endif
