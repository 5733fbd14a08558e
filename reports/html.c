/* html.c - the HTML report: one self-contained page (no script, no external
 * style, font or image; a Content-Security-Policy that allows none), for a
 * CLI run (--format html) and, body by body, for a status page of several
 * runs (mailprobe serve):
 *
 *   title and state; per target host a grid (rows: protocol and path,
 *   columns: mode and port) whose cells link to #ep-N; the recommended
 *   endpoint per protocol; the policy verdicts that are not OK; the
 *   findings; one <details id="ep-N"> per endpoint.
 *
 * The writer decides nothing. Every string that came from a server or the
 * command line goes through put_text(): made valid UTF-8 with controls
 * shown as text (esc_term_dup: C0, C1, DEL and the bidi overrides become
 * \xHH), then the markup characters become entities. Status words carry
 * the meaning; colour only repeats it.
 */
#include "reports/report.h"
#include "reports/escape.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Room for an endpoint URL plus " via TYPE://HOST:PORT". */
#define HTML_URL_MAX 640

/* The page's style: a grid that scrolls sideways when the window is
 * narrow, and two columns of capabilities that wrap into one. */
/* Prefix of the endpoints' element ids ("ep" -> "ep-3"): a status page
 * holding several runs gives each its own (report_write_html_run). Set for
 * the length of one body, per thread, since the exporter renders runs in
 * several threads at once. */
static _Thread_local const char *id_prefix = "ep";

static const char html_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;padding:8px;max-width:1400px;"
    "color:#111;background:#fff}\n"
    "h1{font-size:1.4em;margin:.3em 0}h2{font-size:1.2em;margin:1em 0 .3em}"
    "h3{font-size:1.05em;margin:.8em 0 .2em}h4{font-size:1em;margin:.6em 0 .2em}\n"
    ".scroll{overflow-x:auto;max-width:100%}\n"
    "table{border-collapse:collapse;margin:4px 0}\n"
    "th,td{border:1px solid #888;padding:3px 6px;text-align:left;vertical-align:top;"
    "overflow-wrap:break-word}\n"
    "td.cell{min-width:9em}td.cell a{display:block;color:inherit;text-decoration:none}\n"
    "td.cell a+a{border-top:1px dashed #888;margin-top:3px;padding-top:3px}\n"
    "td.cell span{display:block}.st{font-weight:bold}td.cell>.col{display:none}\n"
    ".ok{background:#d9f2d9}.warn{background:#fcefc7}.fail{background:#f7d4d4}"
    ".skip{background:#e8e8e8}.none{color:#666}\n"
    ".state{padding:0 .3em;border:1px solid #888}\n"
    ".cols{display:flex;flex-wrap:wrap;gap:4px 16px}.cols>div{flex:1 1 18em;min-width:0}\n"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:4px;"
    "margin:2px 0}\n"
    "details{border:1px solid #888;margin:6px 0;padding:2px 6px}"
    "details[open]{padding-bottom:6px}\n"
    "summary{cursor:pointer;overflow-wrap:anywhere}details:target{outline:2px solid #36c}\n"
    /* a grid cell links to #ep-N: the target opens (no script needed) */
    "details:target::details-content{content-visibility:visible;display:block}\n"
    "dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:1px 10px;margin:2px 0}"
    "dl.kv dt{font-weight:bold}dl.kv dd{margin:0;overflow-wrap:anywhere}\n"
    "ul{margin:2px 0;padding-left:1.4em}\n"
    "@media (max-width:600px){body{padding:4px}dl.kv{grid-template-columns:1fr}"
    "dl.kv dd{margin-left:1em}\n"
    /* The grid as a list: a protocol, then the cells it has, each named. */
    "table.grid,table.grid tbody,table.grid tr,table.grid th,table.grid td{display:block}"
    "table.grid thead,table.grid td.none{display:none}table.grid tr{margin-bottom:6px}"
    "table.grid td.cell>.col{display:block;font-style:italic}\n"
    /* Verdicts and findings: one block per row, its fields one below the other. */
    ".rows thead{display:none}.rows,.rows tbody,.rows tr,.rows td{display:block}"
    ".rows tr{border:1px solid #888;margin-bottom:4px}.rows td{border:0}}\n";

/* ---- escaping ---- */

/* Writes s[0..len) (untrusted, any bytes) as HTML text, also safe inside a
 * quoted attribute value. Returns 0, or -1 when out of memory. */
static int put_textn(FILE *f, const char *s, size_t len)
{
	char *u = esc_term_dup(s ? s : "", s ? len : 0);

	if (!u)
		return -1;
	esc_markup_write(f, u, ESC_HTML);
	free(u);
	return 0;
}

/* put_textn for a NUL-terminated string (NULL writes nothing). */
static int put_text(FILE *f, const char *s)
{
	return put_textn(f, s, s ? strlen(s) : 0);
}

int report_html_text(FILE *f, const char *s)
{
	return put_text(f, s);
}

/* Writes s (lines joined by '\n') as escaped lines, for a <pre>. */
static int put_lines(FILE *f, const char *s)
{
	int rc = 0;

	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		rc |= put_textn(f, s, len);
		fputc('\n', f);
		s = nl ? nl + 1 : NULL;
	}
	return rc;
}

/* ---- names and classes (trusted ASCII unless said otherwise) ---- */

/* The colour class of a result: ok, warn (it answered, then a step
 * failed), skip, or fail (it did not answer). */
static const char *status_class(const struct probe_result *res)
{
	if (res->status == MP_OK)
		return "ok";
	if (res->status == MP_ERR_SKIPPED)
		return "skip";
	return report_answered(res) ? "warn" : "fail";
}

/* The colour class of a policy state. */
static const char *pstate_class(enum pstate s)
{
	return s == PSTATE_OK ? "ok" : s == PSTATE_WARNING ? "warn" : "fail";
}

/* Writes the endpoint name of result i, escaped. */
static int put_endpoint(FILE *f, const struct run_report *r, size_t i)
{
	char name[HTML_URL_MAX];

	report_endpoint_name(&r->results[i].ep, name, sizeof(name));
	return put_text(f, name);
}

/* Writes a link to the details of result i, named by its endpoint. */
static int put_endpoint_link(FILE *f, const struct run_report *r, size_t i)
{
	int rc;

	fprintf(f, "<a href=\"#%s-%zu\">", id_prefix, i);
	rc = put_endpoint(f, r, i);
	fputs("</a>", f);
	return rc;
}

/* A duration in ms, or "-" when the stage was not reached. */
static void put_ms(FILE *f, int64_t ms)
{
	if (ms < 0)
		fputs("-", f);
	else
		fprintf(f, "%" PRId64 " ms", ms);
}

/* Days left of a certificate, as words. */
static void put_days(FILE *f, long days)
{
	if (days < 0)
		fprintf(f, "expired %ld day%s ago", -days, days == -1 ? "" : "s");
	else
		fprintf(f, "%ld day%s left", days, days == 1 ? "" : "s");
}

static bool tls_up(const struct probe_result *res)
{
	return res->tls_used && res->tls.done;
}

/* The auth mechanisms the grid shows: after TLS, else before. */
static const struct strlist *shown_auth(const struct probe_result *res)
{
	return res->auth_after.n ? &res->auth_after : &res->auth_before;
}

/* Writes the items of l separated by spaces, escaped; none_text when
 * empty. */
static int put_words(FILE *f, const struct strlist *l, const char *none_text)
{
	int rc = 0;

	if (!l->n)
		fputs(none_text, f);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputc(' ', f);
		rc |= put_text(f, l->v[i]);
	}
	return rc;
}

/* The worst verdict state of result i (PSTATE_OK when none is worse). */
static enum pstate endpoint_state(const struct run_report *r, size_t i)
{
	enum pstate s = PSTATE_OK;

	for (size_t k = 0; r->verdicts && k < r->nverdicts; k++)
		if (r->verdicts[k].endpoint == (int)i && r->verdicts[k].state > s)
			s = r->verdicts[k].state;
	return s;
}

static bool policy_active(const struct run_report *r)
{
	return r->opt && r->opt->policy.active;
}

/* ---- the grid of one host ---- */

/* A grid row (protocol, path) and column (mode, port). */
struct grid_row {
	enum protocol proto;
	const struct proxy_spec *proxy;
};
struct grid_col {
	enum sec_mode mode;
	uint16_t port;
};

static int cmp_col(const void *a, const void *b)
{
	const struct grid_col *x = a, *y = b;

	if (x->mode != y->mode)
		return (int)x->mode - (int)y->mode;
	return (int)x->port - (int)y->port;
}

/* The grid of the host of result first: its rows (protocol order, then
 * direct before proxies in order of appearance) and columns (mode, then
 * port). rows and cols hold room for r->n entries each. */
static void plan_grid(const struct run_report *r, size_t first, struct grid_row *rows,
                      size_t *nrows, struct grid_col *cols, size_t *ncols)
{
	const char *host = r->results[first].ep.host;

	*nrows = *ncols = 0;
	for (int p = 0; p < PROTO_COUNT; p++) {
		for (size_t i = first; i < r->n; i++) {
			const struct endpoint *ep = &r->results[i].ep;
			bool seen = false;

			if ((int)ep->proto != p || strcmp(ep->host, host) != 0)
				continue;
			for (size_t k = 0; k < *nrows && !seen; k++)
				seen = rows[k].proto == ep->proto && rows[k].proxy == ep->proxy;
			if (seen)
				continue;
			/* Direct first: it goes before the proxied rows of p. */
			if (!ep->proxy) {
				size_t k = *nrows;

				while (k > 0 && rows[k - 1].proto == ep->proto) {
					rows[k] = rows[k - 1];
					k--;
				}
				rows[k] = (struct grid_row){ep->proto, NULL};
			} else {
				rows[*nrows] = (struct grid_row){ep->proto, ep->proxy};
			}
			(*nrows)++;
		}
	}
	for (size_t i = first; i < r->n; i++) {
		const struct endpoint *ep = &r->results[i].ep;
		bool seen = false;

		if (strcmp(ep->host, host) != 0)
			continue;
		for (size_t k = 0; k < *ncols && !seen; k++)
			seen = cols[k].mode == ep->mode && cols[k].port == ep->port;
		if (!seen)
			cols[(*ncols)++] = (struct grid_col){ep->mode, ep->port};
	}
	qsort(cols, *ncols, sizeof(*cols), cmp_col);
}

/* True when result res sits in grid row row, column col of host. */
static bool in_cell(const struct probe_result *res, const char *host, const struct grid_row *row,
                    const struct grid_col *col)
{
	const struct endpoint *ep = &res->ep;

	return ep->proto == row->proto && ep->proxy == row->proxy && ep->mode == col->mode &&
	       ep->port == col->port && strcmp(ep->host, host) == 0;
}

/* One endpoint inside a grid cell: status word, TLS version, auth
 * mechanisms, certificate days left, time, and the policy state when it is
 * not OK; all a link to its details. */
static int put_cell_entry(FILE *f, const struct run_report *r, size_t i)
{
	const struct probe_result *res = &r->results[i];
	enum pstate ps = endpoint_state(r, i);
	int rc = 0;

	fprintf(f, "<a href=\"#%s-%zu\"><span class=\"st\">%s</span>", id_prefix, i,
	        mp_status_name(res->status));
	fputs("<span>", f);
	if (tls_up(res) && res->tls.version[0])
		rc |= put_textn(f, res->tls.version,
		                strnlen(res->tls.version, sizeof(res->tls.version)));
	else
		fputs(res->ep.mode == MODE_PLAIN ? "no TLS" : "TLS -", f);
	fputs("</span><span>auth: ", f);
	rc |= put_words(f, shown_auth(res), "none");
	fputs("</span>", f);
	if (tls_up(res) && res->tls.chain_len > 0) {
		fputs("<span>cert ", f);
		put_days(f, res->tls.chain[0].days_left);
		fputs("</span>", f);
	}
	fputs("<span>", f);
	put_ms(f, res->t.total);
	fputs("</span>", f);
	if (policy_active(r) && ps != PSTATE_OK)
		fprintf(f, "<span>policy: %s</span>", pstate_name(ps));
	fputs("</a>", f);
	return rc;
}

/* The grid of the host of result first. Returns 0 or -1. */
static int put_grid(FILE *f, const struct run_report *r, size_t first)
{
	const char *host = r->results[first].ep.host;
	struct grid_row *rows = calloc(r->n, sizeof(*rows));
	struct grid_col *cols = calloc(r->n, sizeof(*cols));
	size_t nrows = 0, ncols = 0;
	int rc = 0;

	if (!rows || !cols) {
		rc = -1;
		goto out;
	}
	plan_grid(r, first, rows, &nrows, cols, &ncols);
	fputs("<h2>", f);
	rc |= put_text(f, host);
	fputs("</h2>\n<div class=\"scroll\"><table class=\"grid\">\n<thead><tr><th>protocol</th>",
	      f);
	for (size_t c = 0; c < ncols; c++)
		fprintf(f, "<th>%s %u</th>", mode_name(cols[c].mode), (unsigned)cols[c].port);
	fputs("</tr></thead>\n<tbody>\n", f);
	for (size_t w = 0; w < nrows; w++) {
		fprintf(f, "<tr><th>%s", protocol_name(rows[w].proto));
		if (rows[w].proxy) {
			bool v6 = strchr(rows[w].proxy->host, ':') != NULL;

			fprintf(f, "<br>via %s://%s", proxy_type_name(rows[w].proxy->type),
			        v6 ? "[" : "");
			rc |= put_text(f, rows[w].proxy->host);
			fprintf(f, "%s:%u", v6 ? "]" : "", (unsigned)rows[w].proxy->port);
		}
		fputs("</th>", f);
		for (size_t c = 0; c < ncols; c++) {
			bool any = false;

			for (size_t i = first; i < r->n; i++) {
				if (!in_cell(&r->results[i], host, &rows[w], &cols[c]))
					continue;
				if (!any)
					fprintf(f,
					        "<td class=\"cell %s\"><span class=\"col\">%s "
					        "%u</span>",
					        status_class(&r->results[i]),
					        mode_name(cols[c].mode), (unsigned)cols[c].port);
				any = true;
				rc |= put_cell_entry(f, r, i);
			}
			fputs(any ? "</td>" : "<td class=\"none\">not probed</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);
out:
	free(rows);
	free(cols);
	return rc ? -1 : 0;
}

/* ---- run-level sections ---- */

/* The recommended endpoint per protocol that was probed, with its reason. */
static int put_recommended(FILE *f, const struct run_report *r)
{
	int rc = 0;

	if (!r->n)
		return 0;
	fputs("<h2>Recommended</h2>\n<ul>\n", f);
	for (int p = 0; p < PROTO_COUNT; p++) {
		int idx = r->recommended[p];
		bool probed = false;

		for (size_t i = 0; i < r->n && !probed; i++)
			probed = (int)r->results[i].ep.proto == p &&
			         report_client_endpoint(&r->results[i]);
		if (!probed)
			continue;
		fprintf(f, "<li>%s: ", protocol_name((enum protocol)p));
		if (idx < 0 || (size_t)idx >= r->n) {
			fputs("none works</li>\n", f);
			continue;
		}
		rc |= put_endpoint_link(f, r, (size_t)idx);
		if (r->recommend_reason[p][0]) {
			fputs(" (", f);
			rc |= put_text(f, r->recommend_reason[p]);
			fputc(')', f);
		}
		fputs("</li>\n", f);
	}
	fputs("</ul>\n", f);
	return rc;
}

/* The policy verdicts that are not OK (policy runs only). */
static int put_verdicts(FILE *f, const struct run_report *r)
{
	size_t shown = 0;
	int rc = 0;

	if (!policy_active(r))
		return 0;
	fprintf(f, "<h2>Policy: %s</h2>\n", pstate_name(r->state));
	for (size_t k = 0; r->verdicts && k < r->nverdicts; k++) {
		const struct verdict *v = &r->verdicts[k];

		if (v->state == PSTATE_OK)
			continue;
		if (!shown++)
			fputs("<div class=\"scroll\"><table class=\"verdicts rows\">\n<thead><tr>"
			      "<th>state</th><th>endpoint</th><th>rule</th><th>message</th>"
			      "</tr></thead>\n<tbody>\n",
			      f);
		fprintf(f, "<tr class=\"%s\"><td>%s</td><td>", pstate_class(v->state),
		        pstate_name(v->state));
		if (v->endpoint >= 0 && (size_t)v->endpoint < r->n)
			rc |= put_endpoint_link(f, r, (size_t)v->endpoint);
		else
			fputs("run", f);
		fputs("</td><td>", f);
		rc |= put_text(f, v->rule);
		fputs("</td><td>", f);
		rc |= put_text(f, v->message);
		fputs("</td></tr>\n", f);
	}
	if (shown)
		fputs("</tbody></table></div>\n", f);
	else
		fprintf(f, "<p>every rule passed (%zu verdicts)</p>\n", r->nverdicts);
	return rc;
}

/* Every finding of every endpoint. */
static int put_findings(FILE *f, const struct run_report *r)
{
	size_t shown = 0;
	int rc = 0;

	fputs("<h2>Findings</h2>\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->results[i];

		for (size_t k = 0; k < res->nfindings && k < MP_MAX_FINDINGS; k++) {
			if (!shown++)
				fputs("<div class=\"scroll\"><table class=\"findings "
				      "rows\">\n<thead><tr>"
				      "<th>endpoint</th><th>finding</th><th>message</th></tr>"
				      "</thead>\n<tbody>\n",
				      f);
			fputs("<tr><td>", f);
			rc |= put_endpoint_link(f, r, i);
			fputs("</td><td>", f);
			rc |= put_text(f, res->findings[k].code);
			fputs("</td><td>", f);
			rc |= put_text(f, res->findings[k].message);
			fputs("</td></tr>\n", f);
		}
	}
	fputs(shown ? "</tbody></table></div>\n" : "<p>none</p>\n", f);
	return rc;
}

/* ---- the details of one endpoint ---- */

/* A list of capabilities (or "none"). */
static int put_list(FILE *f, const struct strlist *l)
{
	int rc = 0;

	if (!l->n) {
		fputs("<p>none</p>\n", f);
		return 0;
	}
	fputs("<ul>", f);
	for (size_t i = 0; i < l->n; i++) {
		fputs("<li>", f);
		rc |= put_text(f, l->v[i]);
		fputs("</li>", f);
	}
	fputs(l->truncated ? "<li>(list truncated)</li></ul>\n" : "</ul>\n", f);
	return rc;
}

/* Capabilities and auth mechanisms before and after TLS, side by side. */
static int put_caps(FILE *f, const struct probe_result *res)
{
	int rc = 0;

	fputs("<div class=\"cols\"><div><h4>Before TLS</h4>\n", f);
	if (res->ep.mode == MODE_TLS) {
		fputs("<p>nothing (implicit TLS)</p>\n", f);
	} else {
		rc |= put_list(f, &res->caps_before);
		fputs("<p>auth: ", f);
		rc |= put_words(f, &res->auth_before, "none");
		fprintf(f, "</p>\n<p>STARTTLS offered: %s</p>\n",
		        res->starttls_offered ? "yes" : "no");
	}
	fputs("</div><div><h4>After TLS</h4>\n", f);
	if (!tls_up(res)) {
		fputs("<p>no TLS session</p>\n", f);
	} else {
		rc |= put_list(f, &res->caps_after);
		fputs("<p>auth: ", f);
		rc |= put_words(f, &res->auth_after, "none");
		fputs("</p>\n", f);
	}
	fputs("</div></div>\n", f);
	return rc;
}

/* The TLS session: version, cipher, group, verification, name match. */
static int put_tls(FILE *f, const struct probe_result *res)
{
	const struct tls_info *t = &res->tls;
	int rc = 0;

	if (t->peer_spoke_plaintext) {
		fputs("<p>the server answered in plaintext: <code>", f);
		rc |= put_textn(f, t->sniff, strnlen(t->sniff, sizeof(t->sniff)));
		fputs("</code></p>\n", f);
	}
	if (!tls_up(res))
		return rc;
	fputs("<h4>TLS</h4>\n<dl class=\"kv\"><dt>version</dt><dd>", f);
	rc |= put_textn(f, t->version, strnlen(t->version, sizeof(t->version)));
	fputs("</dd><dt>cipher</dt><dd>", f);
	rc |= put_textn(f, t->cipher, strnlen(t->cipher, sizeof(t->cipher)));
	fputs("</dd><dt>group</dt><dd>", f);
	if (t->group[0])
		rc |= put_textn(f, t->group, strnlen(t->group, sizeof(t->group)));
	else
		fputs("-", f);
	fprintf(f, "</dd><dt>SNI sent</dt><dd>%s</dd><dt>verified</dt><dd>%s",
	        t->sni_sent ? "yes" : "no", t->verified ? "yes" : "no");
	if (!t->verified && t->verify_error[0]) {
		fputs(": ", f);
		rc |= put_text(f, t->verify_error);
	}
	for (unsigned b = 0; b < TLS_VR_COUNT; b++) {
		const char *name = tls_verify_reason_name(1u << b);

		if ((t->verify_reasons & (1u << b)) && name)
			fprintf(f, " [%s]", name);
	}
	fprintf(f, "</dd><dt>name matches</dt><dd>%s</dd></dl>\n",
	        t->hostname_matched ? "yes" : "no");
	return rc;
}

/* The certificate chain, leaf first. */
static int put_chain(FILE *f, const struct probe_result *res)
{
	const struct tls_info *t = &res->tls;
	int rc = 0;

	if (!tls_up(res) || t->chain_len <= 0)
		return 0;
	fputs("<h4>Certificate chain</h4>\n<div class=\"scroll\"><table class=\"chain\">\n"
	      "<thead><tr><th>#</th><th>subject</th><th>issuer</th><th>names</th>"
	      "<th>not after</th><th>days left</th><th>key</th></tr></thead>\n<tbody>\n",
	      f);
	for (int i = 0; i < t->chain_len && i < MP_MAX_CHAIN; i++) {
		const struct cert_info *c = &t->chain[i];

		fprintf(f, "<tr><td>%d</td><td>", i);
		rc |= put_text(f, c->subject);
		fputs("</td><td>", f);
		rc |= put_text(f, c->issuer);
		fputs("</td><td>", f);
		rc |= put_words(f, &c->san, "-");
		fputs("</td><td>", f);
		rc |= put_text(f, c->not_after);
		fputs("</td><td>", f);
		put_days(f, c->days_left);
		fputs("</td><td>", f);
		rc |= put_text(f, c->key_type);
		if (c->key_bits > 0)
			fprintf(f, " %d", c->key_bits);
		if (c->self_signed)
			fputs(", self-signed", f);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);
	if (t->chain_truncated)
		fputs("<p>(chain truncated)</p>\n", f);
	return rc;
}

/* The TLS versions --enumerate-tls tried. */
static int put_tls_versions(FILE *f, const struct probe_result *res)
{
	int rc = 0;

	if (!res->tls_versions_done)
		return 0;
	fputs("<h4>TLS versions</h4>\n<table><tbody>\n", f);
	for (int i = 0; i < TLSPROBE_NVERSIONS; i++) {
		const struct tls_version_check *v = &res->tls_versions[i];
		const char *name = tlsprobe_version_name(tlsprobe_version_at(i));

		fprintf(f, "<tr><td>%s</td><td>%s</td><td>", name ? name : "?",
		        !v->conclusive ? "inconclusive"
		        : v->accepted  ? "accepted"
		                       : "refused");
		rc |= put_text(f, v->detail);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	return rc;
}

/* Milliseconds per stage. */
static void put_timings(FILE *f, const struct timings *t)
{
	static const char *const names[] = {
	    "resolve", "proxy connect", "proxy handshake", "connect", "greeting", "TLS", "total"};
	const int64_t v[] = {t->resolve, t->proxy_connect, t->proxy_handshake,
	                     t->connect, t->greeting,      t->tls,
	                     t->total};

	fputs("<h4>Timings</h4>\n<dl class=\"kv\">", f);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		fprintf(f, "<dt>%s</dt><dd>", names[i]);
		put_ms(f, v[i]);
		fputs("</dd>", f);
	}
	fputs("</dl>\n", f);
}

/* The findings of one endpoint. */
static int put_endpoint_findings(FILE *f, const struct probe_result *res)
{
	int rc = 0;

	if (!res->nfindings)
		return 0;
	fputs("<h4>Findings</h4>\n<ul>\n", f);
	for (size_t k = 0; k < res->nfindings && k < MP_MAX_FINDINGS; k++) {
		fputs("<li>", f);
		rc |= put_text(f, res->findings[k].code);
		fputs(": ", f);
		rc |= put_text(f, res->findings[k].message);
		fputs("</li>\n", f);
	}
	if (res->findings_truncated)
		fputs("<li>(more findings were dropped)</li>\n", f);
	fputs("</ul>\n", f);
	return rc;
}

/* The active checks of one endpoint: name, state, evidence (escaped as all
 * server text is). */
static int put_endpoint_checks(FILE *f, const struct probe_result *res)
{
	int rc = 0;

	if (!res->checks || !res->nchecks)
		return 0;
	fputs("<h4>Checks</h4>\n<ul>\n", f);
	for (size_t k = 0; k < res->nchecks && k < MP_MAX_CHECKS; k++) {
		const struct check_result *c = &res->checks[k];

		fputs("<li>", f);
		rc |= put_text(f, c->name);
		fputs(": <strong>", f);
		rc |= put_text(f, check_state_name(c->state));
		fputs("</strong>: ", f);
		rc |= put_text(f, c->evidence);
		fputs(" (", f);
		rc |= put_text(f, c->reference);
		fputs(")</li>\n", f);
	}
	fputs("</ul>\n", f);
	return rc;
}

/* The login results: mechanism, status, reply, detail, time (never a
 * password: the report holds none). */
static int put_logins(FILE *f, const struct probe_result *res)
{
	int rc = 0;

	if (!res->auth_planned)
		return 0;
	fputs("<h4>Logins</h4>\n", f);
	if (!res->nauth || !res->auth_results)
		fputs("<p>no method to try</p>\n", f);
	for (size_t k = 0; res->auth_results && k < res->nauth; k++) {
		const struct auth_result *a = &res->auth_results[k];

		if (!k)
			fputs("<div class=\"scroll\"><table class=\"logins\">\n<thead><tr>"
			      "<th>mechanism</th><th>status</th><th>reply</th><th>detail</th>"
			      "<th>time</th></tr></thead>\n<tbody>\n",
			      f);
		fprintf(f, "<tr class=\"%s\"><td>",
		        a->status == AUTH_ST_OK                                       ? "ok"
		        : a->status == AUTH_ST_REJECTED || a->status == AUTH_ST_ERROR ? "fail"
		                                                                      : "skip");
		rc |= put_text(f, a->mechanism);
		fprintf(f, "</td><td>%s</td><td>", auth_status_name(a->status));
		rc |= put_text(f, a->reply);
		fputs("</td><td>", f);
		rc |= put_text(f, a->detail);
		fputs("</td><td>", f);
		put_ms(f, a->time_ms);
		fputs("</td></tr>\n", f);
		if (k + 1 == res->nauth)
			fputs("</tbody></table></div>\n", f);
	}
	if (res->auth_unsupported.n) {
		fputs("<p>offered, not supported by mailprobe: ", f);
		rc |= put_words(f, &res->auth_unsupported, "");
		fputs("</p>\n", f);
	}
	return rc;
}

/* The entries of one transcript, in a <pre>. */
static int put_entries(FILE *f, const struct transcript *tr)
{
	int rc = 0;

	fputs("<pre>", f);
	for (size_t i = 0; i < tr->n; i++) {
		const struct transcript_entry *e = &tr->e[i];
		char dir = e->dir == TR_CLIENT || e->dir == TR_SERVER ? e->dir : TR_NOTE;

		fprintf(f, "[%6" PRId64 " ms] %c: ", e->at_ms, dir);
		if (e->text)
			rc |= put_textn(f, e->text, e->len);
		fputc('\n', f);
	}
	if (tr->truncated)
		fputs("[ transcript truncated ]\n", f);
	fputs("</pre>\n", f);
	return rc;
}

/* The transcripts (--transcript): the probe's, then each login's. */
static int put_transcripts(FILE *f, const struct run_report *r, const struct probe_result *res)
{
	int rc = 0;

	if (!r->opt || !r->opt->transcript)
		return 0;
	fputs("<h4>Transcript</h4>\n", f);
	rc |= put_entries(f, &res->transcript);
	for (size_t k = 0; res->auth_results && k < res->nauth; k++) {
		if (!res->auth_results[k].attempt)
			continue;
		fputs("<h4>Transcript of the login with ", f);
		rc |= put_text(f, res->auth_results[k].mechanism);
		fputs("</h4>\n", f);
		rc |= put_entries(f, &res->auth_results[k].transcript);
	}
	return rc;
}

/* The <details id="ep-i"> of result i. */
static int put_details(FILE *f, const struct run_report *r, size_t i)
{
	const struct probe_result *res = &r->results[i];
	int rc = 0;

	fprintf(f, "<details id=\"%s-%zu\"><summary><span class=\"st %s\">%s</span> ", id_prefix, i,
	        status_class(res), mp_status_name(res->status));
	rc |= put_endpoint(f, r, i);
	fputs("</summary>\n<dl class=\"kv\"><dt>status</dt><dd>", f);
	fprintf(f, "%s", mp_status_name(res->status));
	if (res->status != MP_OK) {
		fputs(": ", f);
		rc |= put_text(f, res->error[0] ? res->error : mp_status_describe(res->status));
	}
	fputs("</dd><dt>address</dt><dd>", f);
	if (res->address[0])
		rc |= put_textn(f, res->address, strnlen(res->address, sizeof(res->address)));
	else
		fputs("-", f);
	fputs("</dd>", f);
	if (res->ehlo_refused)
		fputs("<dt>EHLO</dt><dd>refused, HELO used</dd>", f);
	fputs("</dl>\n<h4>Greeting</h4>\n", f);
	if (res->greeting) {
		fputs("<pre>", f);
		rc |= put_lines(f, res->greeting);
		fputs("</pre>\n", f);
	} else {
		fputs("<p>none</p>\n", f);
	}
	rc |= put_caps(f, res);
	rc |= put_tls(f, res);
	rc |= put_chain(f, res);
	rc |= put_tls_versions(f, res);
	put_timings(f, &res->t);
	rc |= put_endpoint_findings(f, res);
	rc |= put_endpoint_checks(f, res);
	rc |= put_logins(f, res);
	rc |= put_transcripts(f, r, res);
	fputs("</details>\n", f);
	return rc;
}

/* ---- the page ---- */

int report_write_html_head(FILE *f, const char *title)
{
	int rc = 0;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>",
	      f);
	rc = put_text(f, title ? title : "mailprobe");
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", html_style);
	return rc || ferror(f) ? -1 : 0;
}

int report_write_html_tail(FILE *f)
{
	fputs("</body>\n</html>\n", f);
	return ferror(f) ? -1 : 0;
}

int report_write_html_run(FILE *f, const struct run_report *r, const char *heading, const char *ids)
{
	const char *saved = id_prefix;
	int rc;

	id_prefix = ids && *ids ? ids : "ep";
	rc = report_write_html_body(f, r, heading);
	id_prefix = saved;
	return rc;
}

int report_write_html_body(FILE *f, const struct run_report *r, const char *heading)
{
	size_t ok = 0, answered = 0, skipped = 0;
	int rc = 0;

	for (size_t i = 0; i < r->n; i++) {
		ok += r->results[i].status == MP_OK;
		skipped += r->results[i].status == MP_ERR_SKIPPED;
		answered += report_answered(&r->results[i]);
	}
	fputs("<div class=\"run\">\n<h1>", f);
	rc |= put_text(f, heading ? heading : "mailprobe");
	fprintf(f, ": <span class=\"state %s\">%s</span></h1>\n", pstate_class(r->state),
	        pstate_name(r->state));
	fputs("<p>started ", f);
	rc |= put_text(f, r->started_at[0] ? r->started_at : "-");
	fprintf(f, ", took %" PRId64 " ms; %zu endpoint%s: %zu ok, %zu answered, %zu failed",
	        r->duration_ms, r->n, r->n == 1 ? "" : "s", ok, answered, r->n - ok - skipped);
	if (skipped)
		fprintf(f, ", %zu skipped", skipped);
	fputs("</p>\n", f);
	if (r->interrupted)
		fputs("<p><strong>interrupted: results are incomplete</strong></p>\n", f);
	rc |= html_write_domain(f, r);
	for (size_t i = 0; i < r->n; i++) {
		bool first = true;

		for (size_t j = 0; j < i && first; j++)
			first = strcmp(r->results[j].ep.host, r->results[i].ep.host) != 0;
		if (first)
			rc |= put_grid(f, r, i);
	}
	rc |= put_recommended(f, r);
	rc |= put_verdicts(f, r);
	rc |= put_findings(f, r);
	if (r->n)
		fputs("<h2>Endpoints</h2>\n", f);
	for (size_t i = 0; i < r->n; i++)
		rc |= put_details(f, r, i);
	fputs("</div>\n", f);
	return rc || ferror(f) ? -1 : 0;
}

int report_write_html(FILE *f, const struct run_report *r)
{
	char title[64];
	int rc = 0;

	snprintf(title, sizeof(title), "mailprobe: %s", pstate_name(r->state));
	rc |= report_write_html_head(f, title);
	rc |= report_write_html_body(f, r, "mailprobe");
	rc |= report_write_html_tail(f);
	return rc ? -1 : 0;
}
