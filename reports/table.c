/* table.c - the human report: a table, findings, recommendations, and
 * transcripts for a terminal.
 *
 * Every string that may have come from a server goes through the terminal
 * escape (escape.h) before it is printed, so no control character or escape
 * sequence reaches the terminal; the only ESC bytes written are our own
 * colours, and only when asked for.
 */
#include "reports/report.h"
#include "reports/escape.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Widest AUTH cell, in characters; longer lists end in "...". */
#define TABLE_AUTH_WIDTH 32
/* Spaces between columns. */
#define TABLE_GAP 2

/* ANSI SGR colours (ECMA-48 8.3.117). */
#define ANSI_GREEN  "\033[32m"
#define ANSI_RED    "\033[31m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_RESET  "\033[0m"

enum col {
	COL_PROTO,
	COL_ENDPOINT,
	COL_MODE,
	COL_VIA,
	COL_STATUS,
	COL_TLS,
	COL_AUTH,
	COL_TIME,
	COL_COUNT
};

static const char *const col_header[COL_COUNT] = {"PROTO",  "HOST:PORT", "MODE", "VIA",
                                                  "STATUS", "TLS",       "AUTH", "TIME"};

/* A malloc'd copy of a trusted ASCII string. */
static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

/* "host:port", "[v6]:port" for IPv6 literals; terminal-safe, malloc'd. */
static char *host_port(const char *host, uint16_t port)
{
	char *h = esc_term_dup(host, strlen(host));
	char *out = NULL;
	bool v6 = strchr(host, ':') != NULL;

	if (!h)
		return NULL;
	if (asprintf(&out, "%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "", (unsigned)port) < 0)
		out = NULL;
	free(h);
	return out;
}

/* "smtp 127.0.0.1:25 starttls" (without "smtp " unless with_proto), plus
 * " via socks5 127.0.0.1:1080" when the endpoint is reached through a proxy;
 * terminal-safe, malloc'd. */
static char *endpoint_desc(const struct endpoint *ep, bool with_proto)
{
	char *hp = NULL, *php = NULL, *out = NULL;

	hp = host_port(ep->host, ep->port);
	if (!hp)
		goto out;
	if (ep->address[0] && strcmp(ep->address, ep->host) != 0) {
		char *addr = esc_term_dup(ep->address, strlen(ep->address));
		char *both = NULL;

		if (!addr || asprintf(&both, "%s (%s)", hp, addr) < 0)
			both = NULL;
		free(addr);
		free(hp);
		hp = both;
		if (!hp)
			goto out;
	}
	if (ep->proxy) {
		php = host_port(ep->proxy->host, ep->proxy->port);
		if (!php)
			goto out;
	}
	if (asprintf(&out, "%s%s%s %s%s%s%s%s", with_proto ? protocol_name(ep->proto) : "",
	             with_proto ? " " : "", hp, mode_name(ep->mode), php ? " via " : "",
	             php ? proxy_type_name(ep->proxy->type) : "", php ? " " : "",
	             php ? php : "") < 0)
		out = NULL;
out:
	free(hp);
	free(php);
	return out;
}

/* The AUTH cell: after-TLS mechanisms if any, else before-TLS ones, space
 * separated and cut to TABLE_AUTH_WIDTH; "-" when there are none. */
static char *auth_cell(const struct probe_result *res)
{
	const struct strlist *l = res->auth_after.n ? &res->auth_after : &res->auth_before;
	char *out = NULL, *esc = NULL, *grown = NULL;
	size_t len = 0, elen;

	if (l->n == 0)
		return dup_str("-");
	for (size_t i = 0; i < l->n; i++) {
		esc = esc_term_dup(l->v[i], strlen(l->v[i]));
		if (!esc)
			goto fail;
		elen = strlen(esc);
		grown = realloc(out, len + elen + 2);
		if (!grown)
			goto fail;
		out = grown;
		if (len)
			out[len++] = ' ';
		memcpy(out + len, esc, elen + 1);
		len += elen;
		free(esc);
		esc = NULL;
		/* Enough to fill the column; the rest would be cut anyway. */
		if (esc_utf8_width(out) > TABLE_AUTH_WIDTH)
			break;
	}
	return esc_utf8_truncate(out, TABLE_AUTH_WIDTH);
fail:
	free(esc);
	free(out);
	return NULL;
}

/* True when a status is shown as a failure (red). */
static bool status_is_failure(enum mp_status st)
{
	return st != MP_OK && st != MP_ERR_SKIPPED;
}

/* Fills the cells of one table row; returns 0, or -1 when out of memory. */
/* The HOST:PORT cell. The addresses of one name (addrs.h) are grouped: the
 * first row says "name:port address", the next rows of the same endpoint
 * only "  `- address", so that the name is read once. prev is the row above
 * (NULL for the first). */
static char *endpoint_cell(const struct probe_result *res, const struct probe_result *prev)
{
	const struct endpoint *ep = &res->ep;
	char *hp = NULL, *addr = NULL, *out = NULL;

	if (!ep->address[0] || strcmp(ep->address, ep->host) == 0)
		return host_port(ep->host, ep->port);
	addr = esc_term_dup(ep->address, strlen(ep->address));
	if (!addr)
		return NULL;
	if (prev && prev->ep.address[0] && prev->ep.proto == ep->proto &&
	    prev->ep.port == ep->port && prev->ep.mode == ep->mode && prev->ep.proxy == ep->proxy &&
	    strcmp(prev->ep.host, ep->host) == 0) {
		if (asprintf(&out, "  `- %s", addr) < 0)
			out = NULL;
		free(addr);
		return out;
	}
	hp = host_port(ep->host, ep->port);
	if (hp && asprintf(&out, "%s %s", hp, addr) < 0)
		out = NULL;
	free(hp);
	free(addr);
	return out;
}

static int row_cells(const struct probe_result *res, const struct probe_result *prev, char **cell)
{
	bool tls_up = res->tls_used && res->tls.done;

	cell[COL_PROTO] = dup_str(protocol_name(res->ep.proto));
	cell[COL_ENDPOINT] = endpoint_cell(res, prev);
	cell[COL_MODE] = dup_str(mode_name(res->ep.mode));
	cell[COL_VIA] = dup_str(res->ep.proxy ? proxy_type_name(res->ep.proxy->type) : "direct");
	cell[COL_STATUS] = dup_str(mp_status_name(res->status));
	cell[COL_TLS] = tls_up && res->tls.version[0]
	                    ? esc_term_dup(res->tls.version,
	                                   strnlen(res->tls.version, sizeof(res->tls.version)))
	                    : dup_str("-");
	cell[COL_AUTH] = auth_cell(res);
	if (res->t.total >= 0) {
		if (asprintf(&cell[COL_TIME], "%" PRId64 " ms", res->t.total) < 0)
			cell[COL_TIME] = NULL;
	} else {
		cell[COL_TIME] = dup_str("-");
	}
	for (int c = 0; c < COL_COUNT; c++)
		if (!cell[c])
			return -1;
	return 0;
}

/* Writes one row: the shown columns, each but the last padded to its width. */
static void write_row(FILE *f, const char *const *cell, const size_t *width, const bool *shown,
                      const char *status_color)
{
	int last = 0;

	for (int c = 0; c < COL_COUNT; c++)
		if (shown[c])
			last = c;
	for (int c = 0; c < COL_COUNT; c++) {
		size_t w = esc_utf8_width(cell[c]);

		if (!shown[c])
			continue;
		if (c == COL_STATUS && status_color)
			fprintf(f, "%s%s%s", status_color, cell[c], ANSI_RESET);
		else
			fputs(cell[c], f);
		if (c < last)
			fprintf(f, "%*s",
			        (int)(width[c] > w ? width[c] - w + TABLE_GAP : TABLE_GAP), "");
	}
	fputc('\n', f);
}

/* ---- fitting a terminal: the table's columns and wrapped lines ----
 *
 * On a terminal the report fits its width (table_terminal_width): the table
 * first loses VIA when every row is direct, then AUTH shrinks, then whole
 * columns go by drop_order, and last HOST:PORT is cut; findings, errors and
 * verdicts wrap at spaces with an indentation. A width of 0 means no limit
 * (files and pipes), and the output is the same as before any fitting. */

/* Narrowest AUTH and HOST:PORT columns before dropping or overflowing. */
#define TABLE_AUTH_MIN 10
#define TABLE_HOST_MIN 16
/* The narrowest width fitted to; a narrower terminal gets this width. */
#define TABLE_MIN_WIDTH 40
#define TABLE_MAX_WIDTH 1000

/* Columns dropped, in this order, while the table is still too wide. */
static const enum col drop_order[] = {COL_TIME, COL_AUTH, COL_VIA, COL_TLS, COL_MODE};

/* The width of the shown columns with their gaps. */
static size_t table_total(const size_t *width, const bool *shown)
{
	size_t total = 0, n = 0;

	for (int c = 0; c < COL_COUNT; c++) {
		if (!shown[c])
			continue;
		total += width[c];
		n++;
	}
	return n ? total + TABLE_GAP * (n - 1) : 0;
}

/* True when no result went through a proxy (VIA says "direct" on every row). */
static bool all_direct(const struct run_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->results[i].ep.proxy)
			return false;
	return true;
}

/* Chooses the shown columns and their widths so that the table fits max
 * columns (0: no limit, every column at its natural width). */
static void table_fit(const struct run_report *r, size_t *width, bool *shown, size_t max)
{
	size_t total, over;

	for (int c = 0; c < COL_COUNT; c++)
		shown[c] = true;
	if (max == 0 || table_total(width, shown) <= max)
		return;
	if (all_direct(r))
		shown[COL_VIA] = false;
	total = table_total(width, shown);
	if (total > max && width[COL_AUTH] > TABLE_AUTH_MIN) {
		over = total - max;
		width[COL_AUTH] = over + TABLE_AUTH_MIN <= width[COL_AUTH] ? width[COL_AUTH] - over
		                                                           : TABLE_AUTH_MIN;
	}
	for (size_t k = 0; k < sizeof(drop_order) / sizeof(drop_order[0]); k++) {
		if (table_total(width, shown) <= max)
			return;
		shown[drop_order[k]] = false;
	}
	total = table_total(width, shown);
	if (total > max && width[COL_ENDPOINT] > TABLE_HOST_MIN) {
		over = total - max;
		width[COL_ENDPOINT] = width[COL_ENDPOINT] - TABLE_HOST_MIN > over
		                          ? width[COL_ENDPOINT] - over
		                          : TABLE_HOST_MIN;
	}
}

/* Cuts the cells of one row to the widths table_fit chose ("..." ends a cut
 * cell); cells are shortened in place. */
static void table_cut_row(char **cell, const size_t *width)
{
	for (int c = 0; c < COL_COUNT; c++)
		if (esc_utf8_width(cell[c]) > width[c])
			esc_utf8_truncate(cell[c], width[c] < 3 ? 3 : width[c]);
}

/* The width the report fits: 0 (no limit) unless f is a terminal; then
 * COLUMNS when it holds a number, else the terminal's size (TIOCGWINSZ),
 * else 80; never less than TABLE_MIN_WIDTH. */
static size_t table_terminal_width(FILE *f)
{
	int fd = fileno(f);
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	size_t width = 80;

	if (fd < 0 || !isatty(fd))
		return 0;
	if (env && *env) {
		char *end = NULL;
		long v;

		errno = 0;
		v = strtol(env, &end, 10);
		if (errno == 0 && end && *end == '\0' && v > 0 && v <= TABLE_MAX_WIDTH) {
			width = (size_t)v;
			return width < TABLE_MIN_WIDTH ? TABLE_MIN_WIDTH : width;
		}
	}
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		width = ws.ws_col;
	return width < TABLE_MIN_WIDTH ? TABLE_MIN_WIDTH : width;
}

/* Length of our own colour sequence (ESC [ digits m) at s[0..len), else 0.
 * Server text never holds ESC (escape.h), so every one is ours. */
static size_t sgr_len(const char *s, size_t len)
{
	size_t i = 2;

	if (len < 3 || s[0] != '\033' || s[1] != '[')
		return 0;
	while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == ';'))
		i++;
	return i < len && s[i] == 'm' ? i + 1 : 0;
}

/* Columns taken by the first len bytes of valid UTF-8 s: its code points,
 * colour sequences taking none. */
static size_t utf8_points(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		size_t sgr = sgr_len(s + i, len - i);

		if (sgr)
			i += sgr - 1;
		else if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	}
	return n;
}

/* Byte length of the first n columns of the valid UTF-8 s[0..len), never
 * cutting a colour sequence. */
static size_t utf8_prefix(const char *s, size_t len, size_t n)
{
	size_t i = 0;

	while (i < len) {
		size_t sgr = sgr_len(s + i, len - i);

		if (sgr) {
			i += sgr;
			continue;
		}
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (n == 0)
				break;
			n--;
		}
		i++;
	}
	return i;
}

/* Writes the terminal-safe text s on a line already holding col columns
 * (after a space when space_first), breaking at spaces so that no line
 * passes max columns (0: no limit, s written as it is); each further line
 * starts with indent, and a word wider than a line is split. Returns the
 * column where the text ended. */
static size_t write_wrapped(FILE *f, const char *s, size_t col, const char *indent, size_t max,
                            bool space_first)
{
	size_t ind = strlen(indent);
	bool fresh = col <= ind, need_space = space_first;

	if (max == 0 || max <= ind + 8) {
		if (space_first)
			fputc(' ', f);
		fputs(s, f);
		return col + (space_first ? 1 : 0) + esc_utf8_width(s);
	}
	while (*s) {
		size_t len = strcspn(s, " ");
		size_t w = utf8_points(s, len);

		if (len == 0) { /* runs of spaces collapse into one break point */
			s++;
			continue;
		}
		if (!fresh && col + (need_space ? 1 : 0) + w > max) {
			fprintf(f, "\n%s", indent);
			col = ind;
			fresh = true;
			need_space = false;
		}
		if (need_space) {
			fputc(' ', f);
			col++;
		}
		while (col + w > max && col < max) { /* a word wider than the line */
			size_t take = utf8_prefix(s, len, max - col);

			fwrite(s, 1, take, f);
			fprintf(f, "\n%s", indent);
			s += take;
			len -= take;
			w = utf8_points(s, len);
			col = ind;
		}
		fwrite(s, 1, len, f);
		col += w;
		fresh = false;
		need_space = true;
		s += len;
	}
	return col;
}

/* Writes a rendered, terminal-safe line (ending in a newline) after two
 * spaces, wrapped to max with the further lines indented by four. */
static void write_fitted_line(FILE *f, char *line, size_t len, size_t max)
{
	if (len > 0 && line[len - 1] == '\n')
		line[len - 1] = '\0';
	fputs("  ", f);
	write_wrapped(f, line, 2, "    ", max, false);
	fputc('\n', f);
}

/* write_wrapped for untrusted text: escaped for the terminal first.
 * Returns the column where it ended, or -1 when out of memory. */
static long write_wrapped_raw(FILE *f, const char *raw, size_t col, const char *indent, size_t max,
                              bool space_first)
{
	char *esc = esc_term_dup(raw, strlen(raw));

	if (!esc)
		return -1;
	col = write_wrapped(f, esc, col, indent, max, space_first);
	free(esc);
	return (long)col;
}

/* Under the table: each endpoint that failed or has findings, with its
 * error and "! finding" lines. */
static int write_details(FILE *f, const struct run_report *r, bool color, size_t max)
{
	bool any = false;

	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->results[i];
		const char *err = res->error[0] ? res->error : NULL;
		char *desc = NULL;
		size_t col;

		if (!err && res->status != MP_OK)
			err = mp_status_describe(res->status);
		if (!err && res->nfindings == 0)
			continue;
		desc = endpoint_desc(&res->ep, true);
		if (!desc)
			return -1;
		fputs(any ? "" : "\n", f);
		any = true;
		col = write_wrapped(f, desc, 0, "  ", max, false);
		free(desc);
		if (err) {
			fputc(':', f);
			if (color && status_is_failure(res->status))
				fputs(ANSI_RED, f);
			if (write_wrapped_raw(f, err, col + 1, "  ", max, true) < 0)
				return -1;
			if (color && status_is_failure(res->status))
				fputs(ANSI_RESET, f);
		}
		fputc('\n', f);
		for (size_t k = 0; k < res->nfindings && k < MP_MAX_FINDINGS; k++) {
			const char *msg = res->findings[k].message;

			fprintf(f, "  %s! ", color ? ANSI_YELLOW : "");
			if (write_wrapped_raw(f, msg, 4, "    ", max, false) < 0)
				return -1;
			fprintf(f, "%s\n", color ? ANSI_RESET : "");
		}
		if (res->findings_truncated)
			fputs("  ! (more findings were not recorded)\n", f);
	}
	return 0;
}

/* Colour of a login status: green ok, red rejected or error, else yellow. */
static const char *auth_color(enum auth_status st)
{
	if (st == AUTH_ST_OK)
		return ANSI_GREEN;
	return st == AUTH_ST_REJECTED || st == AUTH_ST_ERROR ? ANSI_RED : ANSI_YELLOW;
}

/* Why a login ended as it did, for the table: nothing for ok, else the
 * server's reply, else our detail. */
static const char *login_why(const struct auth_result *a)
{
	if (a->status == AUTH_ST_OK)
		return "";
	return a->reply[0] ? a->reply : a->detail;
}

/* One endpoint's logins on one line, mechanisms with the same status and
 * reason together: "PLAIN LOGIN ok; XOAUTH2 skipped (why)", then what the
 * server offers that mailprobe does not implement. */
static void write_login_line(FILE *f, const struct probe_result *res, bool color)
{
	bool done[AUTH_METHOD_COUNT] = {false};
	size_t n = res->nauth < AUTH_METHOD_COUNT ? res->nauth : AUTH_METHOD_COUNT;
	bool first = true;

	if (!res->auth_planned) {
		fputs(" no login: the probe of this endpoint did not succeed\n", f);
		return;
	}
	if (n == 0)
		fputs(" no login mechanism offered", f);
	for (size_t k = 0; k < n; k++) {
		const struct auth_result *a = &res->auth_results[k];
		const char *why = login_why(a);

		if (done[k])
			continue;
		fputs(first ? " " : "; ", f);
		first = false;
		for (size_t j = k; j < n; j++) {
			const struct auth_result *b = &res->auth_results[j];

			if (done[j] || b->status != a->status || strcmp(login_why(b), why) != 0)
				continue;
			done[j] = true;
			fprintf(f, "%s ", b->mechanism);
		}
		fprintf(f, "%s%s%s", color ? auth_color(a->status) : "",
		        auth_status_name(a->status), color ? ANSI_RESET : "");
		if (why[0]) {
			fputs(" (", f);
			esc_term_write(f, why, strlen(why));
			fputc(')', f);
		}
	}
	if (res->auth_unsupported.n > 0) {
		fputs("; not implemented here:", f);
		for (size_t k = 0; k < res->auth_unsupported.n; k++) {
			const char *m = res->auth_unsupported.v[k];

			fputc(' ', f);
			esc_term_write(f, m, strlen(m));
		}
	}
	fputc('\n', f);
}

/* With --user: "Logins as USER:" and one line per endpoint. */
static int write_logins(FILE *f, const struct run_report *r, bool color, size_t max)
{
	const char *user = r->opt ? r->opt->auth.user : NULL;

	if (!user || r->n == 0)
		return 0;
	fputs("\nLogins as ", f);
	esc_term_write(f, user, strlen(user));
	fputs(":\n", f);
	for (size_t i = 0; i < r->n; i++) {
		char *desc = endpoint_desc(&r->results[i].ep, true);
		char *line = NULL;
		size_t len = 0;
		FILE *m = NULL;

		if (!desc)
			return -1;
		m = open_memstream(&line, &len);
		if (!m) {
			free(desc);
			return -1;
		}
		fprintf(m, "%s:", desc);
		free(desc);
		write_login_line(m, &r->results[i], color);
		if (fclose(m) != 0 || !line) {
			free(line);
			return -1;
		}
		write_fitted_line(f, line, len, max);
		free(line);
	}
	return 0;
}

/* One group of a TLS versions line: " accepts TLSv1.2 TLSv1.3" for the
 * versions whose verdict matches (accepted / refused / no verdict). */
static void write_version_group(FILE *f, const struct probe_result *res, const char *label,
                                bool accepted, bool conclusive, bool color, bool *first)
{
	bool any = false;

	for (int k = 0; k < TLSPROBE_NVERSIONS; k++) {
		const struct tls_version_check *c = &res->tls_versions[k];
		const char *name = tlsprobe_version_name(c->version);
		bool legacy = c->version <= MP_TLS_V1_1;

		if (!name || c->accepted != accepted || c->conclusive != conclusive)
			continue;
		if (!any)
			fprintf(f, "%s%s", *first ? " " : "; ", label);
		any = true;
		*first = false;
		if (color && accepted)
			fprintf(f, " %s%s%s", legacy ? ANSI_YELLOW : ANSI_GREEN, name, ANSI_RESET);
		else
			fprintf(f, " %s", name);
	}
}

/* With --enumerate-tls: "TLS versions:" and one line per endpoint that
 * may speak TLS, e.g. "accepts TLSv1.2 TLSv1.3; refuses SSLv3 TLSv1.0". */
static int write_tls_versions(FILE *f, const struct run_report *r, bool color, size_t max)
{
	if (!r->opt || !r->opt->probe.enumerate_tls || r->n == 0)
		return 0;
	fputs("\nTLS versions (each tried on its own connection):\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->results[i];
		char *desc = NULL, *line = NULL;
		size_t len = 0;
		bool first = true;
		FILE *m = NULL;

		if (res->ep.mode == MODE_PLAIN)
			continue;
		desc = endpoint_desc(&res->ep, true);
		m = desc ? open_memstream(&line, &len) : NULL;
		if (!m) {
			free(desc);
			return -1;
		}
		fprintf(m, "%s:", desc);
		free(desc);
		if (!res->tls_versions_done) {
			fputs(" not tried: the probe showed no TLS on this endpoint", m);
		} else {
			write_version_group(m, res, "accepts", true, true, color, &first);
			write_version_group(m, res, "refuses", false, true, color, &first);
			write_version_group(m, res, "no verdict for", false, false, color, &first);
		}
		if (fclose(m) != 0 || !line) {
			free(line);
			return -1;
		}
		write_fitted_line(f, line, len, max);
		free(line);
	}
	return 0;
}

/* Longest evidence shown on a table line (the JSON report has all of it). */
#define TABLE_EVIDENCE_MAX 110

/* With active checks: "Checks:", each endpoint that has them, and one line
 * per check: name, state, the evidence cut to one short line. */
static int write_checks(FILE *f, const struct run_report *r, bool color, size_t max)
{
	/* "    name(28) state(12) " comes before the evidence */
	size_t room = max == 0 ? TABLE_EVIDENCE_MAX : max > 46 + 16 ? max - 46 : 16;

	bool any = false;

	for (size_t i = 0; i < r->n; i++)
		any = any || r->results[i].nchecks > 0;
	if (!any)
		return 0;
	fputs("\nChecks:\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->results[i];
		char *desc = NULL;

		if (!res->checks || res->nchecks == 0)
			continue;
		desc = endpoint_desc(&res->ep, true);
		if (!desc)
			return -1;
		fprintf(f, "  %s:\n", desc);
		free(desc);
		for (size_t k = 0; k < res->nchecks && k < MP_MAX_CHECKS; k++) {
			const struct check_result *c = &res->checks[k];
			const char *st = check_state_name(c->state);
			size_t len = strnlen(c->evidence, sizeof(c->evidence));
			const char *sc = c->state == CHECK_FAIL   ? ANSI_RED
			                 : c->state == CHECK_PASS ? ANSI_GREEN
			                                          : ANSI_YELLOW;

			fprintf(f, "    %-28s ", c->name);
			if (color && c->state != CHECK_SKIPPED)
				fprintf(f, "%s%-12s%s ", sc, st, ANSI_RESET);
			else
				fprintf(f, "%-12s ", st);
			/* evidence is printable ASCII already; escaped again all the same */
			if (room > TABLE_EVIDENCE_MAX)
				room = TABLE_EVIDENCE_MAX;
			if (len > room) /* printable ASCII: one column per byte */
				len = room - 3;
			esc_term_write(f, c->evidence, len);
			fputs(len < strnlen(c->evidence, sizeof(c->evidence)) ? "...\n" : "\n", f);
		}
	}
	return 0;
}

/* "Recommended:" and one line per probed protocol. */
static int write_recommended(FILE *f, const struct run_report *r, size_t max)
{
	bool probed[PROTO_COUNT] = {false};
	bool any = false;

	for (size_t i = 0; i < r->n; i++)
		if ((unsigned)r->results[i].ep.proto < PROTO_COUNT &&
		    report_client_endpoint(&r->results[i]))
			probed[r->results[i].ep.proto] = any = true;
	if (!any)
		return 0;
	fputs("\nRecommended:\n", f);
	for (int p = 0; p < PROTO_COUNT; p++) {
		int idx = r->recommended[p];
		const struct probe_result *res = NULL;
		char *desc = NULL;

		if (!probed[p])
			continue;
		if (idx < 0 || (size_t)idx >= r->n) {
			fprintf(f, "  %s: none works\n", protocol_name((enum protocol)p));
			continue;
		}
		res = &r->results[idx];
		desc = endpoint_desc(&res->ep, false);
		if (!desc)
			return -1;
		fprintf(f, "  %s: %s\n", protocol_name(res->ep.proto), desc);
		if (r->recommend_reason[p][0]) {
			fputs("        (", f);
			write_wrapped(f, r->recommend_reason[p], 9, "         ", max, false);
			fputs(")\n", f);
		}
		free(desc);
	}
	return 0;
}

/* Where the further lines of a wrapped verdict start. */
#define VERDICT_INDENT "           "

/* "Policy: STATE" and one line per verdict that is not OK (policy runs
 * only); messages may quote a server, so they are escaped. */
static int write_verdicts(FILE *f, const struct run_report *r, bool color, size_t max)
{
	size_t shown = 0;

	if (!r->opt || !r->opt->policy.active)
		return 0;
	fprintf(f, "\nPolicy: %s%s%s (%zu verdicts)\n",
	        color ? (r->state == PSTATE_OK        ? ANSI_GREEN
	                 : r->state == PSTATE_WARNING ? ANSI_YELLOW
	                                              : ANSI_RED)
	              : "",
	        pstate_name(r->state), color ? ANSI_RESET : "", r->nverdicts);
	for (size_t i = 0; r->verdicts && i < r->nverdicts; i++) {
		const struct verdict *v = &r->verdicts[i];
		char *desc = NULL;
		char rule[64];
		size_t col;

		if (v->state == PSTATE_OK)
			continue;
		if (v->endpoint >= 0 && (size_t)v->endpoint < r->n)
			desc = endpoint_desc(&r->results[v->endpoint].ep, true);
		snprintf(rule, sizeof(rule), "[%s]", v->rule);
		fprintf(f, "  %-8s ", pstate_name(v->state));
		col = write_wrapped(f, desc ? desc : "run", 11, VERDICT_INDENT, max, false);
		col = write_wrapped(f, rule, col, VERDICT_INDENT, max, true);
		free(desc);
		if (write_wrapped_raw(f, v->message, col, VERDICT_INDENT, max, true) < 0)
			return -1;
		fputc('\n', f);
		shown++;
	}
	if (!shown)
		fputs("  every rule passed\n", f);
	return 0;
}

int report_write_table(FILE *f, const struct run_report *r, bool color)
{
	return report_write_table_width(f, r, color, table_terminal_width(f));
}

int report_write_table_width(FILE *f, const struct run_report *r, bool color, size_t max)
{
	char **cells = NULL;
	size_t width[COL_COUNT], answered = 0;
	bool shown[COL_COUNT];
	int rc = -1;

	cells = calloc(r->n ? r->n * COL_COUNT : 1, sizeof(*cells));
	if (!cells)
		goto out;
	for (int c = 0; c < COL_COUNT; c++)
		width[c] = strlen(col_header[c]);
	for (size_t i = 0; i < r->n; i++) {
		char **row = cells + i * COL_COUNT;

		if (row_cells(&r->results[i], i ? &r->results[i - 1] : NULL, row) < 0)
			goto out;
		for (int c = 0; c < COL_COUNT; c++) {
			size_t w = esc_utf8_width(row[c]);

			if (w > width[c])
				width[c] = w;
		}
		if (report_answered(&r->results[i]))
			answered++;
	}

	if (table_write_domain(f, r, color) < 0)
		goto out;
	if (r->n == 0 && r->discovery)
		goto tail;
	table_fit(r, width, shown, max);
	write_row(f, col_header, width, shown, NULL);
	for (size_t i = 0; i < r->n; i++) {
		enum mp_status st = r->results[i].status;
		const char *sc = NULL;

		if (color)
			sc = st == MP_OK ? ANSI_GREEN : status_is_failure(st) ? ANSI_RED : NULL;
		table_cut_row(cells + i * COL_COUNT, width);
		write_row(f, (const char *const *)(cells + i * COL_COUNT), width, shown, sc);
	}
tail:
	if (write_details(f, r, color, max) < 0 || write_tls_versions(f, r, color, max) < 0 ||
	    write_logins(f, r, color, max) < 0 || write_checks(f, r, color, max) < 0 ||
	    write_recommended(f, r, max) < 0 || write_verdicts(f, r, color, max) < 0)
		goto out;
	fprintf(f, "\n%zu endpoint%s probed, %zu answered, %" PRId64 " ms%s\n", r->n,
	        r->n == 1 ? "" : "s", answered, r->duration_ms,
	        r->interrupted ? " (interrupted: results are incomplete)" : "");
	rc = ferror(f) ? -1 : 0;
out:
	for (size_t i = 0; cells && i < r->n * COL_COUNT; i++)
		free(cells[i]);
	free(cells);
	return rc;
}

/* The entries of one transcript, escaped for a terminal. */
static void write_entries(FILE *f, const struct transcript *tr)
{
	for (size_t i = 0; i < tr->n; i++) {
		const struct transcript_entry *e = &tr->e[i];
		char dir = e->dir == TR_CLIENT || e->dir == TR_SERVER ? e->dir : TR_NOTE;

		fprintf(f, "[%6" PRId64 " ms] %c: ", e->at_ms, dir);
		if (e->text)
			esc_term_write(f, e->text, e->len);
		fputc('\n', f);
	}
	if (tr->truncated)
		fputs("[ transcript truncated ]\n", f);
}

void report_write_transcript(FILE *f, const struct probe_result *res)
{
	char *desc = endpoint_desc(&res->ep, true);
	const char *name = desc ? desc : protocol_name(res->ep.proto);

	fprintf(f, "--- %s ---\n", name);
	write_entries(f, &res->transcript);
	/* Each login ran on a connection of its own. */
	for (size_t k = 0; res->auth_results && k < res->nauth; k++) {
		if (!res->auth_results[k].attempt)
			continue;
		fprintf(f, "--- %s: login with %s ---\n", name, res->auth_results[k].mechanism);
		write_entries(f, &res->auth_results[k].transcript);
	}
	free(desc);
}
