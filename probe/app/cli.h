/* cli.h - the command line. Its options are one table (cli_options.h). */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <stdio.h>
#include "core/model/options.h"
#include "probe/app/cli_options.h"

enum cli_result { CLI_RUN, CLI_EXIT_OK, CLI_USAGE_ERROR };

/* Fills opt with defaults, then parses argv (argv[0] is skipped). CLI_EXIT_OK
 * after --help or --version (already printed to stdout; only when every
 * option was valid); CLI_USAGE_ERROR with err->msg saying what is wrong.
 * Strings in opt point into argv. Re-entrant in the sense getopt allows:
 * every call starts afresh (optind = 0), none keeps a pointer into the
 * argv of an earlier call; calls must not overlap (getopt's state is
 * global). */
enum cli_result cli_parse(int argc, char **argv, struct run_options *opt, struct mp_error *err);
/* cli_parse with usage as what --help prints (mailprobe merge's own). */
enum cli_result cli_parse_with(int argc, char **argv, struct run_options *opt, struct mp_error *err,
                               void (*usage)(FILE *f));

/* mailprobe --help. */
void cli_usage(FILE *f);
/* The --help lines of the options of the groups in mask (CLI_GROUP(g) bits). */
void cli_usage_options(FILE *f, unsigned mask);

/* What a key of a serve module is: an option a module may set, one it may
 * not (it decides the exporter's own output, or would put a secret into
 * the configuration file), or no option at all. */
enum cli_module_key { CLI_KEY_OK, CLI_KEY_FORBIDDEN, CLI_KEY_UNKNOWN };
enum cli_module_key cli_module_key(const char *name);

#endif
