/* fuzz_common.c - helpers shared by the fuzz targets (see fuzz_common.h). */
#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/deadline.h"
#include "core/stream.h"
#include "probe/dialects/auth.h"

/* Flag byte of a dialect input (data[0]). */
#define DFLAG_READ_MASK      0x03 /* bytes per read: whole chunks, 1, 3 or 17 */
#define DFLAG_EOF            0x04 /* EOF after the last chunk, else a silent server */
#define DFLAG_FORCE_STARTTLS 0x08 /* STARTTLS even when not advertised */
#define DFLAG_QUIT_ALWAYS    0x10 /* QUIT / LOGOUT after a failed step too */
#define DFLAG_STARTTLS_MODE  0x20 /* endpoint mode starttls, else plain */
#define DFLAG_AUTH           0x40 /* data[1] is an auth byte: log in before quit */

/* Auth byte (data[1] when DFLAG_AUTH is set). */
#define AFLAG_METHOD_MASK 0x07 /* SASL mechanism, modulo AUTH_IMAP_LOGIN (enum auth_method) */
#define AFLAG_RFC_NONCE   0x80 /* SCRAM: the RFC 5802 / 7677 client nonce, else random */

/* Test credentials of the authenticate step: RFC 5802 section 5's user and
 * password (so the RFC exchanges verify) and an RFC 6750 bearer token. */
#define AUTH_TEST_USER         "user"
#define AUTH_TEST_PASS         "pencil"
#define AUTH_TEST_TOKEN        "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
#define AUTH_TEST_NONCE_SHA1   "fyko+d2lbbFgONRv9qkxdawL"
#define AUTH_TEST_NONCE_SHA256 "rOprNGfwEbeRWgbNEkqO"
/* Most secrets tracked in one login: the four above and the responses. */
#define AUTH_MAX_TRACKED 32
/* Shortest response word that is tracked as a secret. */
#define AUTH_MIN_TRACKED 4

/* Bytes per read selected by DFLAG_READ_MASK. */
static const size_t read_sizes[4] = {0, 1, 3, 17};

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: fuzz invariant broken: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

size_t fuzz_split(const uint8_t *data, size_t size, struct fuzz_chunk *out, size_t max)
{
	size_t n = 0;

	while (n + 1 < max) {
		const uint8_t *sep = size ? memmem(data, size, FUZZ_SEP, FUZZ_SEP_LEN) : NULL;

		if (!sep)
			break;
		out[n].p = data;
		out[n].len = (size_t)(sep - data);
		n++;
		size -= (size_t)(sep - data) + FUZZ_SEP_LEN;
		data = sep + FUZZ_SEP_LEN;
	}
	out[n].p = data;
	out[n].len = size;
	return n + 1;
}

size_t fuzz_utf8_next(const unsigned char *s, size_t left, uint32_t *cp)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xBF;
	size_t need;
	uint32_t c;

	/* RFC 3629 section 4, the UTF8-octets grammar, spelled out. */
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		need = 1;
		c = b & 0x1Fu;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 2;
		c = b & 0x0Fu;
		lo = b == 0xE0 ? 0xA0 : 0x80;
		hi = b == 0xED ? 0x9F : 0xBF;
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 3;
		c = b & 0x07u;
		lo = b == 0xF0 ? 0x90 : 0x80;
		hi = b == 0xF4 ? 0x8F : 0xBF;
	} else {
		return 0;
	}
	if (left <= need)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
		c = (c << 6) | (s[i] & 0x3Fu);
	}
	*cp = c;
	return need + 1;
}

bool fuzz_utf8_valid(const char *s, size_t len, size_t *ncp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;

	while (i < len) {
		uint32_t cp = 0;
		size_t step = fuzz_utf8_next(p + i, len - i, &cp);

		if (step == 0)
			return false;
		i += step;
		n++;
	}
	if (ncp)
		*ncp = n;
	return true;
}

bool fuzz_printable_ascii(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	return true;
}

char *fuzz_strndup(const void *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		fuzz_fail(__FILE__, __LINE__, "out of memory");
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* Checks one capability or mechanism list: bounded, each entry once. */
static void check_list(const struct strlist *l, const char *name, bool upper)
{
	FUZZ_CHECK(l->n <= MP_MAX_CAPS, "%s holds %zu entries (limit %d)", name, l->n, MP_MAX_CAPS);
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->v[i]);

		FUZZ_CHECK(len <= MP_MAX_CAP_LEN, "%s[%zu] is %zu bytes long", name, i, len);
		for (size_t k = 0; upper && k < len; k++)
			FUZZ_CHECK(l->v[i][k] < 'a' || l->v[i][k] > 'z',
			           "%s[%zu] \"%s\" is not upper-cased", name, i, l->v[i]);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(strcasecmp(l->v[i], l->v[k]) != 0,
			           "%s holds \"%s\" twice (entries %zu and %zu)", name, l->v[i], k,
			           i);
	}
}

/* What the client wrote is whole CRLF-terminated lines, one per write: no
 * server byte can add a line to our commands. */
static void check_written(const char *w, size_t wlen, unsigned writes)
{
	unsigned lines = 0;

	for (size_t i = 0; i < wlen; i++) {
		if (w[i] == '\r') {
			FUZZ_CHECK(i + 1 < wlen && w[i + 1] == '\n',
			           "client wrote a CR not followed by LF at byte %zu", i);
		} else if (w[i] == '\n') {
			FUZZ_CHECK(i > 0 && w[i - 1] == '\r', "client wrote a bare LF at byte %zu",
			           i);
			lines++;
		} else {
			FUZZ_CHECK((unsigned char)w[i] >= 0x20 && (unsigned char)w[i] < 0x7f,
			           "client wrote byte 0x%02x", (unsigned char)w[i]);
		}
	}
	FUZZ_CHECK(lines == writes, "client made %u writes but wrote %u lines", writes, lines);
}

void fuzz_check_session(const struct session *s, enum mp_status st, const char *written,
                        size_t wlen)
{
	const struct probe_result *r = s->res;

	FUZZ_CHECK((unsigned)st < MP_STATUS_COUNT, "status %d out of range", (int)st);
	FUZZ_CHECK(st != MP_ERR_INTERNAL, "server bytes caused an internal error: %s", s->err.msg);
	FUZZ_CHECK(strnlen(s->err.msg, sizeof(s->err.msg)) < sizeof(s->err.msg),
	           "error message not terminated");
	FUZZ_CHECK(st == MP_OK || s->err.msg[0], "status %s without a message", mp_status_name(st));
	FUZZ_CHECK(fuzz_printable_ascii(s->err.msg),
	           "error message carries unescaped server bytes: \"%s\"", s->err.msg);
	FUZZ_CHECK(!r->greeting || strlen(r->greeting) <= MP_MAX_GREETING, "greeting of %zu bytes",
	           strlen(r->greeting));
	check_list(&r->caps_before, "caps_before", false);
	check_list(&r->caps_after, "caps_after", false);
	check_list(&r->auth_before, "auth_before", true);
	check_list(&r->auth_after, "auth_after", true);
	if (!s->tls_active)
		FUZZ_CHECK(r->caps_after.n == 0 && r->auth_after.n == 0,
		           "after-TLS lists filled before TLS");
	FUZZ_CHECK(r->nfindings <= MP_MAX_FINDINGS, "%zu findings", r->nfindings);
	for (size_t i = 0; i < r->nfindings; i++) {
		FUZZ_CHECK(r->findings[i].code, "finding %zu has no code", i);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(r->findings[i].code, r->findings[k].code) != 0,
			           "finding %s recorded twice", r->findings[i].code);
	}
	FUZZ_CHECK(r->transcript.n <= MP_MAX_TRANSCRIPT_LINES, "transcript of %zu lines",
	           r->transcript.n);
	FUZZ_CHECK(r->transcript.bytes <= MP_MAX_TRANSCRIPT_BYTES, "transcript of %zu bytes",
	           r->transcript.bytes);
	if (r->apop_timestamp) {
		size_t len = strlen(r->apop_timestamp);

		FUZZ_CHECK(len >= 3 && r->apop_timestamp[0] == '<' &&
		               r->apop_timestamp[len - 1] == '>' && strchr(r->apop_timestamp, '@'),
		           "APOP timestamp \"%s\" is not <...@...>", r->apop_timestamp);
	}
	check_written(written, wlen, stream_mem_writes(s->stream));
}

/* What session_start_tls() does before the handshake: drop what the server
 * sent after the go-ahead (buffered, or already in the stream). */
static void fake_start_tls(struct session *s)
{
	char junk[4096];
	size_t total = lr_discard(&s->lr);
	struct mp_error ignored;

	while (total < MP_MAX_REPLY_BYTES) {
		ssize_t n = stream_read(s->stream, junk, sizeof(junk), mono_ms(), &ignored);

		if (n <= 0)
			break;
		total += (size_t)n;
	}
	s->tls_active = true;
}

/* Runs one step and checks the session after it. With FUZZ_VERBOSE set in
 * the environment, says how each step ended (for triage of a replay). */
static enum mp_status step(struct session *s, const char *name,
                           enum mp_status (*fn)(struct session *))
{
	enum mp_status st = fn(s);
	size_t wlen = 0;
	const char *w = stream_mem_written(s->stream, &wlen);

	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "  %s: %s %s\n", name, mp_status_name(st), s->err.msg);
	fuzz_check_session(s, st, w, wlen);
	return st;
}

/* Strings that must never be recorded in a login: the password, the token,
 * their base64 forms, and every word the client sent that decodes to
 * something holding one of them (PLAIN, LOGIN, XOAUTH2 responses). */
struct tracked {
	char *v[AUTH_MAX_TRACKED];
	size_t n;
};

static void track(struct tracked *t, char *s)
{
	FUZZ_CHECK(s, "out of memory");
	if (t->n < AUTH_MAX_TRACKED)
		t->v[t->n++] = s;
	else
		free(s);
}

/* Adds each space-separated word of the client lines w[0..wlen) that is
 * base64 of something holding the password or the token. */
static void track_responses(struct tracked *t, const char *w, size_t wlen)
{
	size_t i = 0;

	while (i < wlen) {
		size_t j = i, dlen = 0;
		unsigned char *dec = NULL;

		while (j < wlen && w[j] != ' ' && w[j] != '\r' && w[j] != '\n')
			j++;
		if (j - i >= AUTH_MIN_TRACKED && b64_decode(w + i, j - i, &dec, &dlen) == 0) {
			if (memmem(dec, dlen, AUTH_TEST_PASS, strlen(AUTH_TEST_PASS)) ||
			    memmem(dec, dlen, AUTH_TEST_TOKEN, strlen(AUTH_TEST_TOKEN)))
				track(t, fuzz_strndup(w + i, j - i));
			free(dec);
		}
		i = j + 1;
	}
}

/* Fails when text (len bytes, what = where it is) holds a tracked secret. */
static void check_no_secret(const struct tracked *t, const char *text, size_t len, const char *what)
{
	for (size_t i = 0; i < t->n; i++)
		FUZZ_CHECK(!memmem(text, len, t->v[i], strlen(t->v[i])),
		           "%s \"%.*s\" contains the secret \"%s\"", what, (int)len, text, t->v[i]);
}

/* Runs the dialect's authenticate step (auth.h) with one SASL mechanism and
 * the test credentials, then checks that no secret reached the transcript
 * (entries from tr_from on: the server may say anything before we log in),
 * the error or the reply. Not out.detail: it may quote a server error that
 * holds a secret the mechanism never sent, and auth_attempt() withholds it. */
static enum mp_status run_auth(struct session *s, const struct dialect *d, uint8_t abyte)
{
	struct auth_config ac = {.user = AUTH_TEST_USER,
	                         .password = AUTH_TEST_PASS,
	                         .token = AUTH_TEST_TOKEN,
	                         .allow_plaintext = true,
	                         .insecure = true};
	enum auth_method m = (enum auth_method)((abyte & AFLAG_METHOD_MASK) % AUTH_IMAP_LOGIN);
	struct auth_request req = {.method = m, .cfg = &ac};
	const struct transcript *tr = &s->res->transcript;
	struct auth_outcome out;
	struct tracked t = {.n = 0};
	size_t tr_from = tr->n, w_from = 0, wlen = 0;
	const char *w = NULL;
	enum mp_status st;

	if ((abyte & AFLAG_RFC_NONCE) && (m == AUTH_SCRAM_SHA_1 || m == AUTH_SCRAM_SHA_256))
		req.scram_nonce =
		    m == AUTH_SCRAM_SHA_256 ? AUTH_TEST_NONCE_SHA256 : AUTH_TEST_NONCE_SHA1;
	stream_mem_written(s->stream, &w_from);
	memset(&out, 0, sizeof(out));
	st = d->authenticate(s, &req, &out);
	w = stream_mem_written(s->stream, &wlen);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "  authenticate %s: %s %s (reply \"%s\", detail \"%s\")\n",
		        auth_method_name(m), mp_status_name(st), s->err.msg, out.reply, out.detail);
	fuzz_check_session(s, st, w, wlen);
	FUZZ_CHECK(st != MP_OK || out.verdict <= AUTH_V_TEMPFAIL, "verdict %d out of range",
	           (int)out.verdict);
	FUZZ_CHECK(fuzz_printable_ascii(out.reply) && fuzz_printable_ascii(out.detail),
	           "reply \"%s\" or detail \"%s\" carries raw bytes", out.reply, out.detail);

	track(&t, fuzz_strndup(AUTH_TEST_PASS, strlen(AUTH_TEST_PASS)));
	track(&t, fuzz_strndup(AUTH_TEST_TOKEN, strlen(AUTH_TEST_TOKEN)));
	track(&t, b64_encode(AUTH_TEST_PASS, strlen(AUTH_TEST_PASS)));
	track(&t, b64_encode(AUTH_TEST_TOKEN, strlen(AUTH_TEST_TOKEN)));
	track_responses(&t, w + w_from, wlen - w_from);
	check_no_secret(&t, s->err.msg, strlen(s->err.msg), "error message");
	check_no_secret(&t, out.reply, strlen(out.reply), "reply");
	for (size_t i = 0; i < tr->n; i++) {
		if (tr->e[i].text && (i >= tr_from || tr->e[i].dir == TR_CLIENT))
			check_no_secret(&t, tr->e[i].text, tr->e[i].len, "transcript entry");
	}
	for (size_t i = 0; i < t.n; i++)
		free(t.v[i]);
	return st;
}

void fuzz_run_dialect(const struct dialect *d, const uint8_t *data, size_t size)
{
	struct fuzz_chunk chunks[FUZZ_MAX_CHUNKS];
	struct endpoint ep;
	struct probe_config cfg;
	struct probe_result res;
	struct session s;
	struct stream *m = NULL;
	size_t nchunks, wlen = 0;
	const char *w = NULL;
	uint8_t flags, abyte = 0;
	enum mp_status st;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return;
	flags = data[0];
	data++;
	size--;
	if (flags & DFLAG_AUTH) {
		if (size < 1)
			return;
		abyte = data[0];
		data++;
		size--;
	}
	nchunks = fuzz_split(data, size, chunks, FUZZ_MAX_CHUNKS);

	memset(&ep, 0, sizeof(ep));
	ep.proto = d->proto;
	ep.mode = flags & DFLAG_STARTTLS_MODE ? MODE_STARTTLS : MODE_PLAIN;
	snprintf(ep.host, sizeof(ep.host), "mail.example.org");
	ep.port = d->port_plain;
	memset(&cfg, 0, sizeof(cfg));
	cfg.connect_timeout_ms = FUZZ_DEADLINE_MS;
	cfg.greeting_timeout_ms = FUZZ_DEADLINE_MS;
	cfg.command_timeout_ms = FUZZ_DEADLINE_MS;
	cfg.tls_timeout_ms = FUZZ_DEADLINE_MS;
	cfg.ehlo_name = "probe.example";
	cfg.transcript = true;
	result_init(&res, &ep);

	m = stream_mem_new(read_sizes[flags & DFLAG_READ_MASK]);
	FUZZ_CHECK(m, "out of memory");
	for (size_t i = 0; i < nchunks; i++)
		stream_mem_add(m, (unsigned)i, chunks[i].p, chunks[i].len);
	if (flags & DFLAG_EOF)
		stream_mem_close_after(m, (unsigned)(nchunks - 1));
	session_init(&s, &ep, &cfg, &res, m, deadline_in(FUZZ_DEADLINE_MS));

	st = step(&s, "greeting", d->greeting);
	if (st == MP_OK)
		st = step(&s, "capabilities", d->capabilities);
	if (st == MP_OK && (res.starttls_offered || (flags & DFLAG_FORCE_STARTTLS))) {
		st = step(&s, "starttls", d->starttls);
		if (st == MP_OK) {
			fake_start_tls(&s);
			st = step(&s, "capabilities after TLS", d->capabilities);
		}
	}
	if (st == MP_OK && (flags & DFLAG_AUTH))
		st = run_auth(&s, d, abyte);
	if (st != MP_OK)
		result_fail(&res, st, s.err.msg);
	if (st == MP_OK || (flags & DFLAG_QUIT_ALWAYS)) {
		struct mp_error before = s.err;

		d->quit(&s);
		w = stream_mem_written(s.stream, &wlen);
		fuzz_check_session(&s, st, w, wlen);
		/* dialect.h: quit is best effort and keeps the earlier error. */
		FUZZ_CHECK(s.err.code == before.code && strcmp(s.err.msg, before.msg) == 0,
		           "quit changed the error from \"%s\" to \"%s\"", before.msg, s.err.msg);
	}
	session_close(&s);
	result_free(&res);
}
