/* table.c - the human report: a table, findings, recommendations, and
 * transcripts for a terminal.
 *
 * Every string that may have come from a server goes through the terminal
 * escape (escape.h) before it is printed, so no control character or escape
 * sequence reaches the terminal; the only ESC bytes written are our own
 * colours, and only when asked for.
 */
#include "report.h"
#include "escape.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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
static int row_cells(const struct probe_result *res, char **cell)
{
	bool tls_up = res->tls_used && res->tls.done;

	cell[COL_PROTO] = dup_str(protocol_name(res->ep.proto));
	cell[COL_ENDPOINT] = host_port(res->ep.host, res->ep.port);
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

/* Writes one row, padding every column but the last to its width. */
static void write_row(FILE *f, const char *const *cell, const size_t *width,
                      const char *status_color)
{
	for (int c = 0; c < COL_COUNT; c++) {
		size_t w = esc_utf8_width(cell[c]);

		if (c == COL_STATUS && status_color)
			fprintf(f, "%s%s%s", status_color, cell[c], ANSI_RESET);
		else
			fputs(cell[c], f);
		if (c + 1 < COL_COUNT)
			fprintf(f, "%*s", (int)(width[c] - w + TABLE_GAP), "");
	}
	fputc('\n', f);
}

/* Under the table: each endpoint that failed or has findings, with its
 * error and "! finding" lines. */
static int write_details(FILE *f, const struct run_report *r, bool color)
{
	bool any = false;

	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->results[i];
		const char *err = res->error[0] ? res->error : NULL;
		char *desc = NULL;

		if (!err && res->status != MP_OK)
			err = mp_status_describe(res->status);
		if (!err && res->nfindings == 0)
			continue;
		desc = endpoint_desc(&res->ep, true);
		if (!desc)
			return -1;
		fputs(any ? "" : "\n", f);
		any = true;
		fputs(desc, f);
		free(desc);
		if (err) {
			fputs(": ", f);
			if (color && status_is_failure(res->status))
				fputs(ANSI_RED, f);
			esc_term_write(f, err, strlen(err));
			if (color && status_is_failure(res->status))
				fputs(ANSI_RESET, f);
		}
		fputc('\n', f);
		for (size_t k = 0; k < res->nfindings && k < MP_MAX_FINDINGS; k++) {
			const char *msg = res->findings[k].message;

			fprintf(f, "  %s! ", color ? ANSI_YELLOW : "");
			esc_term_write(f, msg, strnlen(msg, sizeof(res->findings[k].message)));
			fprintf(f, "%s\n", color ? ANSI_RESET : "");
		}
		if (res->findings_truncated)
			fputs("  ! (more findings were not recorded)\n", f);
	}
	return 0;
}

/* "Recommended:" and one line per probed protocol. */
static int write_recommended(FILE *f, const struct run_report *r)
{
	bool probed[PROTO_COUNT] = {false};
	bool any = false;

	for (size_t i = 0; i < r->n; i++)
		if ((unsigned)r->results[i].ep.proto < PROTO_COUNT)
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
		free(desc);
	}
	return 0;
}

int report_write_table(FILE *f, const struct run_report *r, bool color)
{
	char **cells = NULL;
	size_t width[COL_COUNT], answered = 0;
	int rc = -1;

	cells = calloc(r->n ? r->n * COL_COUNT : 1, sizeof(*cells));
	if (!cells)
		goto out;
	for (int c = 0; c < COL_COUNT; c++)
		width[c] = strlen(col_header[c]);
	for (size_t i = 0; i < r->n; i++) {
		char **row = cells + i * COL_COUNT;

		if (row_cells(&r->results[i], row) < 0)
			goto out;
		for (int c = 0; c < COL_COUNT; c++) {
			size_t w = esc_utf8_width(row[c]);

			if (w > width[c])
				width[c] = w;
		}
		if (report_answered(&r->results[i]))
			answered++;
	}

	write_row(f, col_header, width, NULL);
	for (size_t i = 0; i < r->n; i++) {
		enum mp_status st = r->results[i].status;
		const char *sc = NULL;

		if (color)
			sc = st == MP_OK ? ANSI_GREEN : status_is_failure(st) ? ANSI_RED : NULL;
		write_row(f, (const char *const *)(cells + i * COL_COUNT), width, sc);
	}
	if (write_details(f, r, color) < 0 || write_recommended(f, r) < 0)
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

void report_write_transcript(FILE *f, const struct probe_result *res)
{
	const struct transcript *tr = &res->transcript;
	char *desc = endpoint_desc(&res->ep, true);

	fprintf(f, "--- %s ---\n", desc ? desc : protocol_name(res->ep.proto));
	free(desc);
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
