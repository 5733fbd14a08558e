/* fuzz_json_report.c - the reports (reports/json.c, table.c, summary.c) fed
 * with results whose server-supplied text comes from the fuzzer input.
 *
 * Input: d[0] flags (see RF_*), d[1] the status, d[2] protocol and mode,
 * d[3] the port; then text fields separated by FUZZ_SEP in the order of
 * enum field (list fields hold one entry per line). The JSON report must be
 * valid UTF-8 that cJSON parses back to the escaped server text; the table
 * and the transcript must reach a terminal without a control character
 * (colours aside); the proxy password appears nowhere.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/escape.h"
#include "reports/report.h"

#define RF_TWO        0x01 /* two results instead of one */
#define RF_COMPACT    0x02 /* JSON on one line */
#define RF_TRANSCRIPT 0x04 /* transcript in the JSON */
#define RF_TLS        0x08 /* a completed TLS handshake with a certificate */
#define RF_PROXY      0x10 /* reached through a proxy with credentials */
#define RF_COLOR      0x20 /* table with ANSI colours */
#define RF_APOP       0x40 /* an APOP timestamp */
#define RF_TRUNC      0x80 /* lists, findings and transcript marked truncated */

#define RF_HEADER 4
/* Part of the proxy password: found in a report, it is a leak (unless the
 * input itself holds it). */
#define PW_MARK "S3CR3T"

enum field {
	F_GREETING,
	F_CAPS_BEFORE,
	F_AUTH_BEFORE,
	F_CAPS_AFTER,
	F_AUTH_AFTER,
	F_ERROR,
	F_FINDINGS,
	F_TRANSCRIPT,
	F_SUBJECT,
	F_ISSUER,
	F_SAN,
	F_HOST,
	F_PROXY_USER,
	F_TLS_NAMES,
	F_VERIFY_ERROR,
	F_TARGET,
	F_COUNT
};

static const char *const finding_codes[] = {
    FINDING_AUTH_BEFORE_TLS,
    FINDING_STARTTLS_INJECTION,
    FINDING_EXPECTS_IMPLICIT_TLS,
    FINDING_NUL_IN_REPLY,
    FINDING_BARE_LF,
    FINDING_LIMIT_HIT,
    FINDING_CERT_UNVERIFIED,
    FINDING_LEGACY_TLS,
    FINDING_GREETING_REJECTED,
};

/* Copies c into the fixed buffer out of size outsz (cut, NUL-terminated). */
static void copy_fixed(char *out, size_t outsz, const struct fuzz_chunk *c)
{
	size_t n = c->len < outsz - 1 ? c->len : outsz - 1;

	if (n)
		memcpy(out, c->p, n);
	out[n] = '\0';
}

/* Calls fn for each '\n'-separated piece of c (at most max pieces). */
static size_t for_lines(const struct fuzz_chunk *c, size_t max,
                        void (*fn)(void *ctx, size_t i, const uint8_t *p, size_t len), void *ctx)
{
	const uint8_t *p = c->p;
	size_t left = c->len, i = 0;

	while (c->len && i < max) {
		const uint8_t *nl = left ? memchr(p, '\n', left) : NULL;
		size_t len = nl ? (size_t)(nl - p) : left;

		fn(ctx, i++, p, len);
		if (!nl)
			break;
		left -= len + 1;
		p = nl + 1;
	}
	return i;
}

static void add_to_list(void *ctx, size_t i, const uint8_t *p, size_t len)
{
	(void)i;
	strlist_add(ctx, (const char *)p, len);
}

static void add_finding(void *ctx, size_t i, const uint8_t *p, size_t len)
{
	struct probe_result *r = ctx;
	struct finding *f = &r->findings[r->nfindings];
	struct fuzz_chunk c = {p, len};
	char msg[MP_MAX_ERROR];

	copy_fixed(msg, sizeof(msg), &c);
	f->message = strdup(msg);
	if (!f->message)
		return;
	f->code = finding_codes[i % (sizeof(finding_codes) / sizeof(finding_codes[0]))];
	r->nfindings++;
}

static void add_transcript(void *ctx, size_t i, const uint8_t *p, size_t len)
{
	static const enum transcript_dir dirs[] = {TR_SERVER, TR_CLIENT, TR_NOTE};

	transcript_add(ctx, dirs[i % 3], (const char *)p, len);
}

static void set_tls_name(void *ctx, size_t i, const uint8_t *p, size_t len)
{
	struct tls_info *ti = ctx;
	struct fuzz_chunk c = {p, len};

	if (i == 0)
		copy_fixed(ti->version, sizeof(ti->version), &c);
	else if (i == 1)
		copy_fixed(ti->cipher, sizeof(ti->cipher), &c);
	else
		copy_fixed(ti->group, sizeof(ti->group), &c);
}

/* Fills r from the fields; which (0 or 1) varies status and mode. */
static void build_result(struct probe_result *r, const uint8_t *d, const struct fuzz_chunk *f,
                         const struct proxy_spec *proxy, int which)
{
	struct endpoint ep;
	struct cert_info *leaf = NULL;

	memset(&ep, 0, sizeof(ep));
	ep.proto = (enum protocol)(d[2] % PROTO_COUNT);
	ep.mode = (enum sec_mode)((d[2] / PROTO_COUNT + (unsigned)which) % MODE_COUNT);
	ep.port = (uint16_t)(1 + d[3] * 257u + (unsigned)which);
	copy_fixed(ep.host, sizeof(ep.host), &f[F_HOST]);
	ep.proxy = d[0] & RF_PROXY ? proxy : NULL;
	result_init(r, &ep);
	r->status = (enum mp_status)((d[1] + (unsigned)which * 7) % MP_STATUS_COUNT);
	r->t.total = d[1];
	r->t.greeting = which ? -1 : d[3];
	if (f[F_GREETING].len || which == 0)
		r->greeting = fuzz_strndup(f[F_GREETING].p, f[F_GREETING].len);
	for_lines(&f[F_CAPS_BEFORE], MP_MAX_CAPS + 1, add_to_list, &r->caps_before);
	for_lines(&f[F_AUTH_BEFORE], MP_MAX_CAPS + 1, add_to_list, &r->auth_before);
	for_lines(&f[F_CAPS_AFTER], MP_MAX_CAPS + 1, add_to_list, &r->caps_after);
	for_lines(&f[F_AUTH_AFTER], MP_MAX_CAPS + 1, add_to_list, &r->auth_after);
	copy_fixed(r->error, sizeof(r->error), &f[F_ERROR]);
	for_lines(&f[F_FINDINGS], MP_MAX_FINDINGS, add_finding, r);
	r->findings_truncated = d[0] & RF_TRUNC;
	for_lines(&f[F_TRANSCRIPT], MP_MAX_TRANSCRIPT_LINES + 1, add_transcript, &r->transcript);
	r->transcript.truncated |= (d[0] & RF_TRUNC) != 0;
	r->starttls_offered = d[1] & 1;
	r->ehlo_refused = d[1] & 2;
	if (d[0] & RF_APOP)
		r->apop_timestamp = fuzz_strndup(f[F_GREETING].p, f[F_GREETING].len);
	if (d[0] & RF_TLS) {
		r->tls_used = true;
		r->tls.done = true;
		r->tls.sni_sent = d[1] & 4;
		r->tls.verified = d[1] & 8;
		r->tls.hostname_matched = d[1] & 16;
		for_lines(&f[F_TLS_NAMES], 3, set_tls_name, &r->tls);
		copy_fixed(r->tls.verify_error, sizeof(r->tls.verify_error), &f[F_VERIFY_ERROR]);
		r->tls.chain_len = 1 + which;
		for (int i = 0; i < r->tls.chain_len; i++) {
			leaf = &r->tls.chain[i];
			leaf->subject = fuzz_strndup(f[F_SUBJECT].p, f[F_SUBJECT].len);
			leaf->issuer = fuzz_strndup(f[F_ISSUER].p, f[F_ISSUER].len);
			leaf->serial = fuzz_strndup("0a1b", 4);
			for_lines(&f[F_SAN], MP_MAX_CAPS, add_to_list, &leaf->san);
			leaf->not_before = fuzz_strndup("2024-01-01T00:00:00Z", 20);
			if (d[1] & 32)
				leaf->not_after = fuzz_strndup("2034-01-01T00:00:00Z", 20);
			leaf->days_left = (long)d[3] - 128;
			leaf->key_type = fuzz_strndup(f[F_TLS_NAMES].p, f[F_TLS_NAMES].len);
			leaf->key_bits = d[3];
			leaf->sig_alg = fuzz_strndup(f[F_ISSUER].p, f[F_ISSUER].len);
		}
	}
}

/* Terminal output: valid UTF-8, and no control character but '\n' and, with
 * colours, our own "ESC [ digits m" sequences. */
static void check_terminal(const char *what, const char *out, size_t len, bool color)
{
	const unsigned char *p = (const unsigned char *)out;
	size_t i = 0;

	while (i < len) {
		uint32_t cp = 0;
		size_t step = fuzz_utf8_next(p + i, len - i, &cp);

		FUZZ_CHECK(step > 0, "%s: invalid UTF-8 at byte %zu (0x%02x)", what, i, p[i]);
		if (cp == 0x1b && color) {
			size_t k = i + 1;

			FUZZ_CHECK(k < len && p[k] == '[', "%s: ESC not starting a CSI", what);
			for (k++; k < len && p[k] >= '0' && p[k] <= '9'; k++)
				;
			FUZZ_CHECK(k < len && p[k] == 'm', "%s: ESC sequence is not a colour",
			           what);
			i = k + 1;
			continue;
		}
		FUZZ_CHECK(cp == '\n' ||
		               !(cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e ||
		                 cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
		                 (cp >= 0x2066 && cp <= 0x2069)),
		           "%s: control character U+%04X at byte %zu", what, (unsigned)cp, i);
		i += step;
	}
}

/* A JSON string value equal to the JSON escape of s (or null for NULL). */
static void check_json_text(const cJSON *item, const char *s, const char *name)
{
	char *esc = NULL;

	if (!s) {
		FUZZ_CHECK(cJSON_IsNull(item), "%s should be null", name);
		return;
	}
	FUZZ_CHECK(cJSON_IsString(item), "%s is not a string", name);
	esc = esc_json_dup(s, strlen(s));
	FUZZ_CHECK(esc, "out of memory");
	FUZZ_CHECK(strcmp(esc, item->valuestring) == 0, "%s came back as other text", name);
	free(esc);
}

/* A JSON array equal to the list l, escaped (or null when !present). */
static void check_json_list(const cJSON *item, const struct strlist *l, bool present,
                            const char *name)
{
	if (!present) {
		FUZZ_CHECK(cJSON_IsNull(item), "%s should be null", name);
		return;
	}
	FUZZ_CHECK(cJSON_IsArray(item), "%s is not an array", name);
	FUZZ_CHECK((size_t)cJSON_GetArraySize(item) == l->n, "%s has %d entries, not %zu", name,
	           cJSON_GetArraySize(item), l->n);
	for (size_t i = 0; i < l->n; i++)
		check_json_text(cJSON_GetArrayItem(item, (int)i), l->v[i], name);
}

/* Writes the JSON report, parses it back and compares it with the results. */
static void check_json(const struct run_report *rr, bool leak_check)
{
	const struct probe_result *r = &rr->results[0];
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cJSON *root = NULL, *res = NULL, *caps = NULL, *auth = NULL;
	bool tls_up = r->tls_used && r->tls.done;

	FUZZ_CHECK(f, "open_memstream failed");
	FUZZ_CHECK(report_write_json(f, rr) == 0, "report_write_json failed");
	FUZZ_CHECK(fclose(f) == 0, "fclose failed");
	FUZZ_CHECK(strlen(out) == len, "JSON report holds a NUL byte");
	FUZZ_CHECK(fuzz_utf8_valid(out, len, NULL), "JSON report is not valid UTF-8");
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((unsigned char)out[i] >= 0x20 || out[i] == '\n' || out[i] == '\t',
		           "JSON report holds raw byte 0x%02x", (unsigned char)out[i]);
	FUZZ_CHECK(!leak_check || !strstr(out, PW_MARK), "JSON report shows the password");

	root = cJSON_ParseWithLength(out, len);
	FUZZ_CHECK(root, "cJSON cannot parse the JSON report");
	res = cJSON_GetObjectItemCaseSensitive(root, "results");
	FUZZ_CHECK(cJSON_IsArray(res) && (size_t)cJSON_GetArraySize(res) == rr->n,
	           "results is not an array of %zu", rr->n);
	res = cJSON_GetArrayItem(res, 0);
	check_json_text(cJSON_GetObjectItemCaseSensitive(res, "greeting"), r->greeting, "greeting");
	check_json_text(cJSON_GetObjectItemCaseSensitive(res, "host"), r->ep.host, "host");
	check_json_text(cJSON_GetObjectItemCaseSensitive(res, "status"), mp_status_name(r->status),
	                "status");
	caps = cJSON_GetObjectItemCaseSensitive(res, "capabilities");
	auth = cJSON_GetObjectItemCaseSensitive(res, "auth_mechanisms");
	check_json_list(cJSON_GetObjectItemCaseSensitive(caps, "before_tls"), &r->caps_before,
	                r->ep.mode != MODE_TLS, "capabilities.before_tls");
	check_json_list(cJSON_GetObjectItemCaseSensitive(caps, "after_tls"), &r->caps_after, tls_up,
	                "capabilities.after_tls");
	check_json_list(cJSON_GetObjectItemCaseSensitive(auth, "before_tls"), &r->auth_before,
	                r->ep.mode != MODE_TLS, "auth_mechanisms.before_tls");
	check_json_list(cJSON_GetObjectItemCaseSensitive(auth, "after_tls"), &r->auth_after, tls_up,
	                "auth_mechanisms.after_tls");
	cJSON_Delete(root);
	free(out);
}

/* Writes the table and the transcript and checks what a terminal gets. */
static void check_table(const struct run_report *rr, bool color, bool leak_check)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	FUZZ_CHECK(f, "open_memstream failed");
	FUZZ_CHECK(report_write_table(f, rr, color) == 0, "report_write_table failed");
	FUZZ_CHECK(fclose(f) == 0, "fclose failed");
	check_terminal("table", out, len, color);
	FUZZ_CHECK(!leak_check || !strstr(out, PW_MARK), "table shows the password");
	free(out);

	out = NULL;
	f = open_memstream(&out, &len);
	FUZZ_CHECK(f, "open_memstream failed");
	for (size_t i = 0; i < rr->n; i++)
		report_write_transcript(f, &rr->results[i]);
	FUZZ_CHECK(fclose(f) == 0, "fclose failed");
	check_terminal("transcript", out, len, false);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunk f[F_COUNT];
	struct probe_result results[2];
	struct run_options opt;
	struct run_report rr;
	char target[300];
	size_t nf;
	int code;
	bool leak_check;

	if (size < RF_HEADER || size > FUZZ_MAX_INPUT)
		return 0;
	memset(f, 0, sizeof(f));
	nf = fuzz_split(data + RF_HEADER, size - RF_HEADER, f, F_COUNT);
	for (size_t i = nf; i < F_COUNT; i++)
		f[i].p = data;
	leak_check = !memmem(data, size, PW_MARK, strlen(PW_MARK));

	memset(&opt, 0, sizeof(opt));
	opt.format = FORMAT_JSON;
	opt.compact = data[0] & RF_COMPACT;
	opt.transcript = data[0] & RF_TRANSCRIPT;
	opt.concurrency = MP_DEFAULT_CONCURRENCY;
	opt.overall_timeout_ms = MP_DEFAULT_OVERALL_TIMEOUT_MS;
	opt.probe.ehlo_name = "probe.example";
	copy_fixed(target, sizeof(target), &f[F_TARGET]);
	opt.targets[0] = target;
	opt.ntargets = 1;
	opt.nproxies = data[0] & RF_PROXY ? 1 : 0;
	opt.proxies[0].type = (enum proxy_type)(data[2] % PROXY_TYPE_COUNT);
	snprintf(opt.proxies[0].host, sizeof(opt.proxies[0].host), "127.0.0.1");
	opt.proxies[0].port = 1080;
	copy_fixed(opt.proxies[0].user, sizeof(opt.proxies[0].user), &f[F_PROXY_USER]);
	opt.proxies[0].has_user = true;
	snprintf(opt.proxies[0].pass, sizeof(opt.proxies[0].pass), "pw-" PW_MARK);
	opt.proxies[0].has_pass = true;

	memset(&rr, 0, sizeof(rr));
	rr.opt = &opt;
	rr.results = results;
	rr.n = data[0] & RF_TWO ? 2 : 1;
	for (size_t i = 0; i < rr.n; i++)
		build_result(&results[i], data, f, &opt.proxies[0], (int)i);
	snprintf(rr.started_at, sizeof(rr.started_at), "2025-01-01T00:00:00Z");
	rr.duration_ms = data[3];
	rr.interrupted = data[1] & 64;
	report_recommend(&rr);
	for (int p = 0; p < PROTO_COUNT; p++)
		FUZZ_CHECK(rr.recommended[p] < 0 ||
		               ((size_t)rr.recommended[p] < rr.n &&
		                results[rr.recommended[p]].status == MP_OK &&
		                results[rr.recommended[p]].ep.proto == (enum protocol)p),
		           "recommended[%d] = %d is not a working endpoint", p, rr.recommended[p]);
	code = report_exit_code(&rr);
	FUZZ_CHECK(code == MP_EXIT_OK || code == MP_EXIT_NONE_ANSWERED, "exit code %d", code);

	check_json(&rr, leak_check);
	check_table(&rr, data[0] & RF_COLOR, leak_check);

	for (size_t i = 0; i < rr.n; i++)
		result_free(&results[i]);
	return 0;
}
