/* cli_usage.c - mailprobe --help: a short text around the option-spec
 * table's lines, within 80 columns. The long explanations are the man
 * page's (docs/mailprobe.1). */
#include "probe/app/cli.h"

#include <string.h>

static const char *const group_title[CLI_G_COUNT] = {
    [CLI_G_MATRIX] = "Matrix:",
    [CLI_G_DOMAINS] = "Domains:",
    [CLI_G_TIMEOUTS] = "Timeouts (milliseconds):",
    [CLI_G_MANY] = "Many targets:",
    [CLI_G_TLS] = "TLS:",
    [CLI_G_CONNECTION] = "Connection:",
    [CLI_G_LOGIN] = "Login (each mechanism on a fresh connection):",
    [CLI_G_CHECKS] = "Active checks (each on a fresh connection):",
    [CLI_G_POLICY] = "Policy (the exit code is a verdict: 0 OK, 1 WARNING, 2 CRITICAL):",
    [CLI_G_OUTPUT] = "Output:",
};

/* One option: "  -f, --format FMT" padded to CLI_HELP_COLUMN (or alone on
 * its line when longer), then its help lines, each at that column. */
static void usage_option(FILE *f, const struct cli_option *o)
{
	char left[64];
	const char *line = o->help;
	int n;

	if (o->letter)
		n = snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->letter, o->name,
		             o->arg ? " " : "", o->arg ? o->arg : "");
	else
		n = snprintf(left, sizeof(left), "  --%s%s%s", o->name, o->arg ? " " : "",
		             o->arg ? o->arg : "");
	if (n < 0)
		return;
	if (n <= CLI_HELP_COLUMN - 2) /* two spaces at least before the help */
		fprintf(f, "%-*s", CLI_HELP_COLUMN, left);
	else
		fprintf(f, "%s\n%*s", left, CLI_HELP_COLUMN, "");
	for (;;) {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);

		fprintf(f, "%.*s\n", len, line);
		if (!nl)
			break;
		line = nl + 1;
		fprintf(f, "%*s", CLI_HELP_COLUMN, "");
	}
}

void cli_usage_options(FILE *f, unsigned mask)
{
	for (int g = 0; g < CLI_G_COUNT; g++) {
		if (!(mask & CLI_GROUP(g)))
			continue;
		fprintf(f, "%s\n", group_title[g]);
		for (size_t i = 0; i < cli_noptions; i++)
			if (cli_options[i].group == (enum cli_group)g)
				usage_option(f, &cli_options[i]);
	}
}

void cli_usage(FILE *f)
{
	fputs("Usage: mailprobe [OPTIONS] TARGET...\n"
	      "       mailprobe -i FILE [OPTIONS] [TARGET...]\n"
	      "       mailprobe merge [OPTIONS] FILE...   one report from NDJSON/JSON reports\n"
	      "       mailprobe serve --config FILE       Prometheus exporter and JSON API\n"
	      "       mailprobe help [serve|merge]        this help, or a subcommand's\n"
	      "Diagnose how mail servers can be reached: SMTP, IMAP and POP3 over plain,\n"
	      "STARTTLS and implicit TLS, directly or through proxies.\n"
	      "\n"
	      "TARGET is a host name or address (probes SMTP 25, 587, 465, IMAP 143, 993\n"
	      "and POP3 110, 995) or an endpoint URL with an optional :port: smtp://,\n"
	      "smtp+starttls://, smtps://, imap://, imap+starttls://, imaps://, pop3://,\n"
	      "pop3+starttls://, pop3s://. An IPv6 address goes in brackets:\n"
	      "smtp://[::1]:25.\n"
	      "\n",
	      f);
	cli_usage_options(f, ~0u);
	fputs("\n"
	      "Exit codes: 0 the run completed and some endpoint answered; 2 none answered;\n"
	      "3 usage or internal error. With a policy: 0 OK, 1 WARNING, 2 CRITICAL,\n"
	      "3 UNKNOWN.\n"
	      "Examples:\n"
	      "  mailprobe mail.example.com\n"
	      "  mailprobe --format json --cafile ca.pem smtp+starttls://127.0.0.1:2525\n"
	      "  mailprobe --require-tls --min-tls 1.2 -o junit:mail.xml mail.example.com\n"
	      "Each option in full, policy files, formats and more examples: see mailprobe(1).\n",
	      f);
}
