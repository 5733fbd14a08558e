/* fuzz_serverhello.c - the server's first answer to a hand-built ClientHello
 * (core/tlsprobe.c, --enumerate-tls): tlsprobe_parse() on the input itself
 * and on its prefixes, tlsprobe_hello_exchange() over the in-memory stream
 * with the input as the server's answer, and tlsprobe_judge() for every
 * version.
 *
 * Input: d[0] flags, then the server's bytes.
 *   d[0] & 0x07  the version offered to the exchange (modulo 5: SSLv3 .. TLS 1.3)
 *   d[0] & 0x18  bytes per read of the exchange: whole input, 1, 5 or 64
 *   d[0] & 0x20  EOF after the input, else a silent server (reads time out)
 *
 * Invariants, besides memory safety (the parser gets an exact-size heap copy):
 *  - the kind is in range; a malformed answer says why, in printable ASCII;
 *  - compared with a model written here from RFC 5246 6.2.1 / 7.4.1.3 and
 *    RFC 8446 4.2.1 (records gathered, lengths walked): a ServerHello verdict
 *    only for a complete, well-formed ServerHello, and every such one gets
 *    it, with the model's legacy version, selected version and cipher; an
 *    alert's two bytes are in the input;
 *  - a verdict, once given on a prefix, is the verdict on the whole input
 *    (the exchange stops at the first one, so it must not change later);
 *    only the reason of "malformed" may differ (plaintext is a guess);
 *  - the exchange wrote one ClientHello record and ends with the verdict of
 *    tlsprobe_parse() on what it could read, or closed / timeout without one;
 *  - tlsprobe_judge() says "accepted" only for a ServerHello whose selected
 *    version is the one offered (so its two bytes are in the ServerHello,
 *    RFC 5246 7.4.1.3, RFC 8446 4.2.1); its detail is printable.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/stream.h"
#include "core/tlsprobe.h"

#define SFLAG_VERSION_MASK 0x07
#define SFLAG_READ_SHIFT   3
#define SFLAG_READ_MASK    0x03
#define SFLAG_EOF          0x20

/* Inputs up to this size have every prefix parsed; longer ones a sample. */
#define ALL_PREFIXES_MAX 600
#define PREFIX_SAMPLES   24
/* TLS record header: type, version, length (RFC 5246 6.2.1). */
#define RECORD_HEADER 5
#define CT_HANDSHAKE  22

/* Bytes per read of the exchange, selected by the flags. */
static const size_t read_sizes[4] = {0, 1, 5, 64};

/* What an independent reading of the input (RFC 5246 6.2.1 and 7.4.1.3,
 * RFC 8446 4.1.3 and 4.2.1) expects, written here from the RFCs. */
struct hello_model {
	bool complete;   /* leading valid handshake records hold a whole message */
	bool wellformed; /* ... and it is a ServerHello whose lengths add up */
	int legacy_version, version, cipher;
};

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Reads the ServerHello body b[0..n) into m; false when a length lies. */
static bool model_body(const uint8_t *b, size_t n, struct hello_model *m)
{
	size_t off, sid, ext_end;
	bool seen = false;

	if (n < 38 || b[34] > 32 || n < 35 + (size_t)b[34] + 3)
		return false;
	sid = b[34];
	m->legacy_version = m->version = (int)be16(b);
	m->cipher = (int)be16(b + 35 + sid);
	off = 35 + sid + 3;
	if (off == n)
		return true;
	if (n - off < 2 || be16(b + off) != n - off - 2)
		return false;
	ext_end = n;
	off += 2;
	while (off < ext_end) {
		size_t type, len;

		if (ext_end - off < 4)
			return false;
		type = be16(b + off);
		len = be16(b + off + 2);
		off += 4;
		if (len > ext_end - off)
			return false;
		if (type == 43) { /* supported_versions, RFC 8446 4.2.1 */
			if (seen || len != 2)
				return false;
			seen = true;
			m->version = (int)be16(b + off);
		}
		off += len;
	}
	return true;
}

/* Gathers the first handshake message from the leading handshake records
 * of p[0..n) and judges it. */
static void model_input(const uint8_t *p, size_t n, struct hello_model *m)
{
	static uint8_t hs[MP_TLSPROBE_MAX_HELLO + 4];
	size_t off = 0, got = 0, body = 0;

	memset(m, 0, sizeof(*m));
	while (n - off >= RECORD_HEADER && p[off] == CT_HANDSHAKE && p[off + 1] == 3) {
		size_t rlen = be16(p + off + 3);
		size_t avail = n - off - RECORD_HEADER;
		size_t take = rlen < avail ? rlen : avail;

		/* A verdict needs the message, not the rest of its record. */
		if (rlen == 0 || rlen > MP_TLS_MAX_RECORD)
			return;
		for (size_t i = 0; i < take && got < sizeof(hs); i++)
			hs[got++] = p[off + RECORD_HEADER + i];
		off += RECORD_HEADER + take;
		if (got < 4) {
			if (take < rlen)
				return;
			continue;
		}
		body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
		if (hs[0] != 2 || body > MP_TLSPROBE_MAX_HELLO)
			return;
		if (got >= 4 + body) {
			m->complete = true;
			m->wellformed = model_body(hs + 4, body, m);
			return;
		}
		if (take < rlen)
			return;
	}
}

/* A ServerHello verdict agrees with the model, and the model's well-formed
 * ServerHello gets that verdict. */
static void check_model(const struct tlsprobe_reply *r, const uint8_t *p, size_t n)
{
	struct hello_model m;

	model_input(p, n, &m);
	if (r->kind == TLSPROBE_SERVER_HELLO)
		FUZZ_CHECK(m.complete && m.wellformed,
		           "ServerHello verdict on what is not one (complete %d)", m.complete);
	if (!m.complete)
		return;
	FUZZ_CHECK(m.wellformed == (r->kind == TLSPROBE_SERVER_HELLO),
	           "a %s ServerHello got kind %d: %s", m.wellformed ? "well-formed" : "malformed",
	           (int)r->kind, r->why);
	if (!m.wellformed)
		return;
	FUZZ_CHECK(r->legacy_version == m.legacy_version && r->version == m.version &&
	               r->cipher == m.cipher,
	           "ServerHello read as 0x%04x/0x%04x cipher 0x%04x, not 0x%04x/0x%04x cipher "
	           "0x%04x",
	           (unsigned)r->legacy_version, (unsigned)r->version, (unsigned)r->cipher,
	           (unsigned)m.legacy_version, (unsigned)m.version, (unsigned)m.cipher);
}

/* Checks one reply on its own against the bytes it was parsed from. */
static void check_reply(const struct tlsprobe_reply *r, enum tlsprobe_kind k, const uint8_t *p,
                        size_t n)
{
	FUZZ_CHECK(k == r->kind, "returned kind %d but stored %d", (int)k, (int)r->kind);
	FUZZ_CHECK((unsigned)k <= TLSPROBE_MALFORMED, "kind %d out of range", (int)k);
	FUZZ_CHECK(strnlen(r->why, sizeof(r->why)) < sizeof(r->why), "why not terminated");
	FUZZ_CHECK(fuzz_printable_ascii(r->why), "why carries raw bytes: \"%s\"", r->why);
	FUZZ_CHECK(k != TLSPROBE_MALFORMED || r->why[0], "malformed without a reason");
	FUZZ_CHECK(!r->plaintext || k == TLSPROBE_MALFORMED, "plaintext but kind %d", (int)k);
	check_model(r, p, n);
	if (k == TLSPROBE_ALERT) {
		uint8_t a[2] = {(uint8_t)r->alert_level, (uint8_t)r->alert_desc};

		FUZZ_CHECK(r->alert_level >= 0 && r->alert_level <= 255 && r->alert_desc >= 0 &&
		               r->alert_desc <= 255 && memmem(p, n, a, 2),
		           "alert %d/%d is not in the input", r->alert_level, r->alert_desc);
	}
}

/* Fails unless two replies say the same. */
static void check_same(const struct tlsprobe_reply *a, const struct tlsprobe_reply *b,
                       const char *what)
{
	FUZZ_CHECK(a->kind == b->kind && a->legacy_version == b->legacy_version &&
	               a->version == b->version && a->cipher == b->cipher &&
	               a->hello_retry == b->hello_retry && a->plaintext == b->plaintext &&
	               a->alert_level == b->alert_level && a->alert_desc == b->alert_desc &&
	               strcmp(a->why, b->why) == 0,
	           "%s: kind %d version 0x%04x cipher 0x%04x alert %d/%d \"%s\" vs kind %d "
	           "version 0x%04x cipher 0x%04x alert %d/%d \"%s\"",
	           what, (int)a->kind, (unsigned)a->version, (unsigned)a->cipher, a->alert_level,
	           a->alert_desc, a->why, (int)b->kind, (unsigned)b->version, (unsigned)b->cipher,
	           b->alert_level, b->alert_desc, b->why);
}

/* Parses the prefix p[0..n) from an exact-size heap copy (so ASan sees any
 * read past it) and checks the reply on its own. */
static enum tlsprobe_kind parse_exact(const uint8_t *p, size_t n, struct tlsprobe_reply *r)
{
	uint8_t *copy = malloc(n ? n : 1);
	enum tlsprobe_kind k;

	FUZZ_CHECK(copy, "out of memory");
	if (n)
		memcpy(copy, p, n);
	k = tlsprobe_parse(copy, n, r);
	free(copy);
	check_reply(r, k, p, n);
	return k;
}

/* A verdict given on a prefix is the verdict on the whole input. */
static void check_prefixes(const uint8_t *p, size_t n, const struct tlsprobe_reply *full)
{
	size_t steps = n <= ALL_PREFIXES_MAX ? n : PREFIX_SAMPLES;

	for (size_t i = 0; i < steps; i++) {
		size_t len = n <= ALL_PREFIXES_MAX ? i : (n / PREFIX_SAMPLES) * i + i % 7;
		struct tlsprobe_reply r;

		if (len >= n)
			continue;
		if (parse_exact(p, len, &r) == TLSPROBE_NEED_MORE)
			continue;
		/* "Malformed" may be refined (plaintext or not is a guess from
		 * the first 16 bytes); any other verdict is final. */
		if (r.kind == TLSPROBE_MALFORMED)
			FUZZ_CHECK(full->kind == TLSPROBE_MALFORMED,
			           "malformed on %zu bytes (%s) but kind %d on %zu", len, r.why,
			           (int)full->kind, n);
		else
			check_same(&r, full, "verdict on a prefix changed later");
	}
}

/* Checks what tlsprobe_judge() makes of an exchange for each version. r
 * passed check_reply(), so a version it selects is in the ServerHello. */
static void check_judge(enum mp_status st, const struct tlsprobe_reply *r,
                        const struct mp_error *err)
{
	for (int i = 0; i < TLSPROBE_NVERSIONS; i++) {
		int v = tlsprobe_version_at(i);
		struct tls_version_check chk;

		tlsprobe_judge(v, st, r, err, &chk);
		FUZZ_CHECK(chk.version == v, "judge recorded version 0x%04x for 0x%04x",
		           (unsigned)chk.version, (unsigned)v);
		FUZZ_CHECK(strnlen(chk.detail, sizeof(chk.detail)) < sizeof(chk.detail),
		           "detail not terminated");
		FUZZ_CHECK(fuzz_printable_ascii(chk.detail), "detail carries raw bytes: \"%s\"",
		           chk.detail);
		FUZZ_CHECK(chk.detail[0], "judge gave no detail for 0x%04x", (unsigned)v);
		if (!chk.accepted)
			continue;
		FUZZ_CHECK(r && r->kind == TLSPROBE_SERVER_HELLO && r->version == v,
		           "0x%04x accepted without a ServerHello selecting it", (unsigned)v);
		FUZZ_CHECK(chk.conclusive, "accepted but not conclusive");
	}
}

/* The exchange over a scripted server: one ClientHello out, the verdict of
 * what could be read back. */
static void check_exchange(int version, uint8_t flags, const uint8_t *p, size_t n)
{
	struct stream *m =
	    stream_mem_new(read_sizes[(flags >> SFLAG_READ_SHIFT) & SFLAG_READ_MASK]);
	size_t readable = n < MP_TLSPROBE_MAX_REPLY ? n : MP_TLSPROBE_MAX_REPLY;
	struct tlsprobe_reply got, want;
	struct mp_error err;
	const unsigned char *w = NULL;
	size_t wlen = 0;
	enum tlsprobe_kind k;
	enum mp_status st;

	FUZZ_CHECK(m, "out of memory");
	mp_error_clear(&err);
	stream_mem_add(m, 1, p, n);
	if (flags & SFLAG_EOF)
		stream_mem_close_after(m, 1);
	st = tlsprobe_hello_exchange(m, version, "mail.example.org", deadline_in(FUZZ_DEADLINE_MS),
	                             &got, &err);
	w = (const unsigned char *)stream_mem_written(m, &wlen);
	FUZZ_CHECK(stream_mem_writes(m) == 1 && wlen > RECORD_HEADER && w[0] == CT_HANDSHAKE &&
	               ((size_t)w[3] << 8 | w[4]) == wlen - RECORD_HEADER,
	           "the client wrote %u times, %zu bytes, not one ClientHello record",
	           stream_mem_writes(m), wlen);
	FUZZ_CHECK(fuzz_printable_ascii(err.msg), "error carries raw bytes: \"%s\"", err.msg);
	k = parse_exact(p, readable, &want);
	if (k != TLSPROBE_NEED_MORE) {
		FUZZ_CHECK(st == MP_OK, "verdict %d in the input but status %s: %s", (int)k,
		           mp_status_name(st), err.msg);
		if (want.kind == TLSPROBE_MALFORMED)
			FUZZ_CHECK(got.kind == TLSPROBE_MALFORMED,
			           "exchange gave kind %d where the parser says malformed: %s",
			           (int)got.kind, want.why);
		else
			check_same(&got, &want, "exchange and parser disagree");
	} else if (n >= MP_TLSPROBE_MAX_REPLY) {
		FUZZ_CHECK(st == MP_OK && got.kind == TLSPROBE_MALFORMED,
		           "no verdict in %d bytes but status %s kind %d", MP_TLSPROBE_MAX_REPLY,
		           mp_status_name(st), (int)got.kind);
	} else {
		enum mp_status end = flags & SFLAG_EOF ? MP_ERR_CLOSED : MP_ERR_TLS_TIMEOUT;

		FUZZ_CHECK(st == end && err.msg[0] && got.kind == TLSPROBE_NEED_MORE,
		           "an incomplete answer ended with %s kind %d (expected %s): %s",
		           mp_status_name(st), (int)got.kind, mp_status_name(end), err.msg);
	}
	check_judge(st, &got, &err);
	stream_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsprobe_reply full;
	const uint8_t *p = data + 1;
	size_t n;
	uint8_t flags;
	int version;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	flags = data[0];
	n = size - 1;
	version = tlsprobe_version_at((flags & SFLAG_VERSION_MASK) % TLSPROBE_NVERSIONS);

	parse_exact(p, n, &full);
	check_prefixes(p, n, &full);
	check_judge(MP_OK, &full, NULL);
	check_exchange(version, flags, p, n);
	return 0;
}
