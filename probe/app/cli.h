/* cli.h - the command line. */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <stdio.h>
#include "core/model/options.h"

enum cli_result { CLI_RUN, CLI_EXIT_OK, CLI_USAGE_ERROR };

/* Fills opt with defaults, then parses argv. CLI_EXIT_OK after --help or
 * --version (already printed to stdout); CLI_USAGE_ERROR with err->msg
 * saying what is wrong. Strings in opt point into argv. */
enum cli_result cli_parse(int argc, char **argv, struct run_options *opt, struct mp_error *err);
void cli_usage(FILE *f);

#endif
