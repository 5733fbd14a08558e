/* tlsprobe.c - which TLS versions a server accepts: a hand-built
 * ClientHello, a parser for the server's first answer, and the concurrent
 * attempts of --enumerate-tls (see tlsprobe.h for why SSLv3 and TLS 1.0 are
 * asked by hand and TLS 1.1-1.3 through wolfSSL).
 */
#include "core/tlsprobe.h"
#include "core/deadline.h"
#include "core/helper_runner.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* Room for our ClientHello: ~60 suites, extensions and a 255-byte SNI. */
#define TLSPROBE_MAX_CLIENT_HELLO 1024
/* Bytes of the server's first answer kept during a wolfSSL attempt, to tell
 * "chose another version" from "alert" when the handshake fails. */
#define TLSPROBE_CAPTURE 1024

/* TLSPlaintext content types (RFC 8446 5.1, RFC 5246 6.2.1). */
#define CT_CHANGE_CIPHER_SPEC 20
#define CT_ALERT              21
#define CT_HANDSHAKE          22
#define CT_APPLICATION_DATA   23
/* Handshake types (RFC 8446 4). */
#define HS_CLIENT_HELLO 1
#define HS_SERVER_HELLO 2
/* Extensions (IANA TLS ExtensionType Values). */
#define EXT_SERVER_NAME          0
#define EXT_SUPPORTED_GROUPS     10
#define EXT_EC_POINT_FORMATS     11
#define EXT_SIGNATURE_ALGORITHMS 13
#define EXT_EXTENDED_MS          23
#define EXT_SUPPORTED_VERSIONS   43
#define EXT_KEY_SHARE            51
#define GROUP_X25519             0x001d

static const int probe_versions[TLSPROBE_NVERSIONS] = {
    [TLSPROBE_SSL3] = MP_SSL_V3,    [TLSPROBE_TLS10] = MP_TLS_V1_0, [TLSPROBE_TLS11] = MP_TLS_V1_1,
    [TLSPROBE_TLS12] = MP_TLS_V1_2, [TLSPROBE_TLS13] = MP_TLS_V1_3,
};

/* The suites we offer, with their IANA names (TLS Cipher Suites registry).
 * Broad on purpose: legacy ones let an old server find one it knows. */
static const struct {
	uint16_t id;
	const char *name;
} suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
    {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
    {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
    {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
    {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
    {0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
    {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
    {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
    {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"},
    {0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
    {0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
    {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
    {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
    {0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
    {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
    {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
    {0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
    {0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
    /* RFC 5746 3.3: signals secure renegotiation without an extension
     * (SSLv3 hellos carry none). */
    {0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
};

/* SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (RFC 8446 4.1.3). */
static const unsigned char hrr_random[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

int tlsprobe_version_at(int i)
{
	return i >= 0 && i < TLSPROBE_NVERSIONS ? probe_versions[i] : 0;
}

const char *tlsprobe_alert_name(int desc)
{
	static const struct {
		int desc;
		const char *name;
	} alerts[] = {
	    {0, "close_notify"},
	    {10, "unexpected_message"},
	    {20, "bad_record_mac"},
	    {21, "decryption_failed"},
	    {22, "record_overflow"},
	    {30, "decompression_failure"},
	    {40, "handshake_failure"},
	    {41, "no_certificate"},
	    {42, "bad_certificate"},
	    {43, "unsupported_certificate"},
	    {44, "certificate_revoked"},
	    {45, "certificate_expired"},
	    {46, "certificate_unknown"},
	    {47, "illegal_parameter"},
	    {48, "unknown_ca"},
	    {49, "access_denied"},
	    {50, "decode_error"},
	    {51, "decrypt_error"},
	    {60, "export_restriction"},
	    {70, "protocol_version"},
	    {71, "insufficient_security"},
	    {80, "internal_error"},
	    {86, "inappropriate_fallback"},
	    {90, "user_canceled"},
	    {100, "no_renegotiation"},
	    {109, "missing_extension"},
	    {110, "unsupported_extension"},
	    {112, "unrecognized_name"},
	    {113, "bad_certificate_status_response"},
	    {115, "unknown_psk_identity"},
	    {116, "certificate_required"},
	    {120, "no_application_protocol"},
	};

	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
		if (alerts[i].desc == desc)
			return alerts[i].name;
	return NULL;
}

/* IANA name of a suite we offer, NULL for any other. */
static const char *suite_name(int id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return suites[i].name;
	return NULL;
}

/* ---- ClientHello ---- */

/* A bounded output buffer; a write past its end sets over and is dropped. */
struct wbuf {
	unsigned char *p;
	size_t size;
	size_t len;
	bool over;
};

static void put8(struct wbuf *w, unsigned v)
{
	if (w->len >= w->size) {
		w->over = true;
		return;
	}
	w->p[w->len++] = (unsigned char)(v & 0xff);
}

static void put16(struct wbuf *w, unsigned v)
{
	put8(w, v >> 8);
	put8(w, v);
}

static void put_bytes(struct wbuf *w, const void *data, size_t n)
{
	if (n > w->size - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

/* Reserves a length field of `bytes` (2 or 3) bytes; returns its offset. */
static size_t len_open(struct wbuf *w, int bytes)
{
	size_t at = w->len;

	for (int i = 0; i < bytes; i++)
		put8(w, 0);
	return at;
}

/* Fills the length field at `at` with the number of bytes written after it. */
static void len_close(struct wbuf *w, size_t at, int bytes)
{
	size_t n;

	if (w->over)
		return;
	n = w->len - at - (size_t)bytes;
	if (n >> (8 * bytes)) {
		w->over = true;
		return;
	}
	for (int i = bytes - 1; i >= 0; i--) {
		w->p[at + (size_t)i] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
}

/* The SNI host name (RFC 6066 3): no address literals, no trailing dot. */
static size_t sni_len(const char *sni)
{
	unsigned char addr[16];
	size_t len = sni ? strlen(sni) : 0;

	if (len && sni[len - 1] == '.')
		len--;
	if (len == 0 || len > 255 || strchr(sni, ':') || inet_pton(AF_INET, sni, addr) == 1)
		return 0;
	return len;
}

/* The extensions of a TLS (not SSLv3) ClientHello. */
static void put_extensions(struct wbuf *w, int version, const char *sni,
                           const unsigned char key_share[32])
{
	static const uint16_t groups[] = {0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0100, 0x0101};
	/* RFC 8446 4.2.3 SignatureScheme values, SHA-1 ones last for old servers. */
	static const uint16_t sigalgs[] = {0x0403, 0x0503, 0x0603, 0x0807, 0x0808,
	                                   0x0804, 0x0805, 0x0806, 0x0401, 0x0501,
	                                   0x0601, 0x0402, 0x0201, 0x0203, 0x0202};
	size_t n = sni_len(sni);
	size_t all, ext, list;

	all = len_open(w, 2);
	if (n) {
		put16(w, EXT_SERVER_NAME);
		ext = len_open(w, 2);
		list = len_open(w, 2);
		put8(w, 0); /* host_name */
		put16(w, (unsigned)n);
		put_bytes(w, sni, n);
		len_close(w, list, 2);
		len_close(w, ext, 2);
	}
	put16(w, EXT_SUPPORTED_GROUPS);
	ext = len_open(w, 2);
	list = len_open(w, 2);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		put16(w, groups[i]);
	len_close(w, list, 2);
	len_close(w, ext, 2);
	/* RFC 8422 5.1.2: uncompressed points only. */
	put16(w, EXT_EC_POINT_FORMATS);
	put16(w, 2);
	put8(w, 1);
	put8(w, 0);
	/* RFC 5246 7.4.1.4.1: not to be offered with versions before 1.2. */
	if (version >= MP_TLS_V1_2) {
		put16(w, EXT_SIGNATURE_ALGORITHMS);
		ext = len_open(w, 2);
		list = len_open(w, 2);
		for (size_t i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++)
			put16(w, sigalgs[i]);
		len_close(w, list, 2);
		len_close(w, ext, 2);
	}
	put16(w, EXT_EXTENDED_MS);
	put16(w, 0);
	if (version == MP_TLS_V1_3) {
		/* RFC 8446 4.2.1: only 1.3, so "accepted" means 1.3 itself. */
		put16(w, EXT_SUPPORTED_VERSIONS);
		put16(w, 3);
		put8(w, 2);
		put16(w, MP_TLS_V1_3);
		/* RFC 8446 4.2.8: one X25519 share (any 32 bytes are a key). */
		put16(w, EXT_KEY_SHARE);
		ext = len_open(w, 2);
		list = len_open(w, 2);
		put16(w, GROUP_X25519);
		put16(w, 32);
		put_bytes(w, key_share, 32);
		len_close(w, list, 2);
		len_close(w, ext, 2);
	}
	len_close(w, all, 2);
}

int tlsprobe_build_hello(unsigned char *buf, size_t size, int version, const char *sni,
                         const unsigned char random[32], const unsigned char key_share[32],
                         size_t *len)
{
	struct wbuf w = {.p = buf, .size = size};
	size_t rec, hs, cs;

	if (!tlsprobe_version_name(version) || !buf)
		return -1;
	/* Record version: 3.0 for SSLv3, else 3.1, which every TLS server
	 * takes (RFC 8446 5.1 "legacy_record_version"). */
	put8(&w, CT_HANDSHAKE);
	put16(&w, version == MP_SSL_V3 ? MP_SSL_V3 : MP_TLS_V1_0);
	rec = len_open(&w, 2);
	put8(&w, HS_CLIENT_HELLO);
	hs = len_open(&w, 3);
	/* RFC 8446 4.1.2: a 1.3 hello says 1.2 here and 1.3 in supported_versions. */
	put16(&w, version == MP_TLS_V1_3 ? MP_TLS_V1_2 : (unsigned)version);
	put_bytes(&w, random, 32);
	put8(&w, 0); /* empty session id */
	cs = len_open(&w, 2);
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (version == MP_TLS_V1_3 || suites[i].id >> 8 != 0x13)
			put16(&w, suites[i].id);
	len_close(&w, cs, 2);
	put8(&w, 1); /* compression methods: null only */
	put8(&w, 0);
	if (version != MP_SSL_V3)
		put_extensions(&w, version, sni, key_share);
	len_close(&w, hs, 3);
	len_close(&w, rec, 2);
	if (w.over)
		return -1;
	*len = w.len;
	return 0;
}

/* ---- The server's first answer ---- */

static enum tlsprobe_kind malformed(struct tlsprobe_reply *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets a MALFORMED verdict with a reason. */
static enum tlsprobe_kind malformed(struct tlsprobe_reply *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	out->kind = TLSPROBE_MALFORMED;
	return out->kind;
}

/* A bounded reader over untrusted bytes; a read past the end sets short_. */
struct rbuf {
	const unsigned char *p;
	size_t len;
	size_t off;
	bool short_;
};

static unsigned get8(struct rbuf *r)
{
	if (r->off >= r->len) {
		r->short_ = true;
		return 0;
	}
	return r->p[r->off++];
}

static unsigned get16(struct rbuf *r)
{
	unsigned hi = get8(r);

	return (hi << 8) | get8(r);
}

/* Skips n bytes; returns where they start, or NULL when fewer are left. */
static const unsigned char *get_bytes(struct rbuf *r, size_t n)
{
	const unsigned char *at = r->p + r->off;

	if (n > r->len - r->off) {
		r->short_ = true;
		r->off = r->len;
		return NULL;
	}
	r->off += n;
	return at;
}

/* Parses a complete ServerHello body (RFC 8446 4.1.3, RFC 5246 7.4.1.3). */
static enum tlsprobe_kind parse_server_hello(const unsigned char *body, size_t n,
                                             struct tlsprobe_reply *out)
{
	struct rbuf r = {.p = body, .len = n};
	const unsigned char *random = NULL;
	unsigned sid_len, ext_len;
	bool seen_versions = false;
	size_t ext_end;

	out->legacy_version = (int)get16(&r);
	random = get_bytes(&r, 32);
	sid_len = get8(&r);
	if (r.short_)
		return malformed(out, "ServerHello of %zu bytes is too short", n);
	if (sid_len > 32)
		return malformed(out, "ServerHello session id of %u bytes (at most 32)", sid_len);
	get_bytes(&r, sid_len);
	out->cipher = (int)get16(&r);
	get8(&r); /* compression method */
	if (r.short_)
		return malformed(out, "ServerHello of %zu bytes is too short", n);
	out->hello_retry = memcmp(random, hrr_random, sizeof(hrr_random)) == 0;
	out->version = out->legacy_version;
	if (r.off == n) {
		out->kind = TLSPROBE_SERVER_HELLO;
		return out->kind;
	}
	ext_len = get16(&r);
	if (r.short_ || ext_len != n - r.off)
		return malformed(out,
		                 "ServerHello extensions length %u does not match the %zu "
		                 "bytes left",
		                 ext_len, r.short_ ? (size_t)0 : n - r.off);
	ext_end = r.off + ext_len;
	while (r.off < ext_end) {
		unsigned type = get16(&r);
		unsigned len = get16(&r);
		struct rbuf data = {.p = r.p + r.off, .len = len};

		if (r.short_ || !get_bytes(&r, len))
			return malformed(out, "ServerHello extension %u runs past the message",
			                 type);
		if (type != EXT_SUPPORTED_VERSIONS)
			continue;
		/* RFC 8446 4.2.1: the server's selected_version is two bytes. */
		if (seen_versions)
			return malformed(out, "ServerHello repeats supported_versions");
		if (len != 2)
			return malformed(
			    out, "ServerHello supported_versions of %u bytes (2 expected)", len);
		seen_versions = true;
		out->version = (int)get16(&data);
	}
	out->kind = TLSPROBE_SERVER_HELLO;
	return out->kind;
}

/* True if the bytes look like a line of text (a mail server's greeting). */
static bool looks_like_text(const unsigned char *buf, size_t len)
{
	size_t n = len < 16 ? len : 16;

	for (size_t i = 0; i < n; i++)
		if (!(isprint(buf[i]) || buf[i] == '\r' || buf[i] == '\n' || buf[i] == '\t'))
			return false;
	return n > 0;
}

enum tlsprobe_kind tlsprobe_parse(const unsigned char *buf, size_t len, struct tlsprobe_reply *out)
{
	/* The first handshake message, gathered from as many records as it spans. */
	unsigned char hs[MP_TLSPROBE_MAX_HELLO + 4];
	size_t hs_len = 0;
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	out->kind = TLSPROBE_NEED_MORE;
	out->alert_level = -1;
	out->alert_desc = -1;
	if (len > 0 && (buf[0] < CT_CHANGE_CIPHER_SPEC || buf[0] > CT_APPLICATION_DATA)) {
		if (looks_like_text(buf, len)) {
			out->plaintext = true;
			return malformed(out, "the server answered in plaintext, not TLS");
		}
		return malformed(out, "not a TLS record (first byte 0x%02x)", buf[0]);
	}
	while (off < len) {
		size_t left = len - off;
		unsigned type = buf[off];
		size_t rlen, avail;
		const unsigned char *frag = NULL;

		if (left >= 2 && buf[off + 1] != 3)
			return malformed(out, "record version %u.x is not SSL 3 / TLS",
			                 buf[off + 1]);
		if (left < 5)
			return out->kind;
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen > MP_TLS_MAX_RECORD)
			return malformed(out, "record length %zu exceeds 2^14", rlen);
		frag = buf + off + 5;
		avail = left - 5 < rlen ? left - 5 : rlen;
		switch (type) {
		case CT_ALERT:
			/* RFC 8446 6: level and description. */
			if (rlen < 2)
				return malformed(out, "alert record of %zu byte", rlen);
			if (avail < 2)
				return out->kind;
			out->alert_level = frag[0];
			out->alert_desc = frag[1];
			out->kind = TLSPROBE_ALERT;
			return out->kind;
		case CT_HANDSHAKE: {
			size_t room = sizeof(hs) - hs_len;
			size_t take = avail < room ? avail : room;

			/* RFC 8446 5.1: no zero-length handshake fragments. */
			if (rlen == 0)
				return malformed(out, "empty handshake record");
			memcpy(hs + hs_len, frag, take);
			hs_len += take;
			if (hs_len >= 4) {
				size_t body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];

				if (hs[0] != HS_SERVER_HELLO)
					return malformed(out,
					                 "first handshake message has type %u, "
					                 "not ServerHello",
					                 hs[0]);
				if (body > MP_TLSPROBE_MAX_HELLO)
					return malformed(out,
					                 "ServerHello of %zu bytes (at most %d)",
					                 body, MP_TLSPROBE_MAX_HELLO);
				if (hs_len >= 4 + body)
					return parse_server_hello(hs + 4, body, out);
			}
			break;
		}
		case CT_CHANGE_CIPHER_SPEC:
			return malformed(out, "ChangeCipherSpec before the ServerHello");
		default:
			return malformed(out, "application data before the ServerHello");
		}
		if (avail < rlen)
			return out->kind;
		off += 5 + rlen;
	}
	return out->kind;
}

/* Random bytes for the ClientHello (not secret: nothing is encrypted). */
static int fill_random(unsigned char *buf, size_t n)
{
	size_t got = 0;

	for (int tries = 0; got < n && tries < 16; tries++) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r > 0)
			got += (size_t)r;
		else if (r < 0 && errno != EINTR)
			return -1;
	}
	return got == n ? 0 : -1;
}

enum mp_status tlsprobe_hello_exchange(struct stream *s, int version, const char *sni,
                                       int64_t deadline, struct tlsprobe_reply *out,
                                       struct mp_error *err)
{
	unsigned char hello[TLSPROBE_MAX_CLIENT_HELLO];
	unsigned char rnd[64];
	unsigned char *buf = NULL;
	size_t hello_len = 0, have = 0;
	struct mp_error e;
	enum mp_status st = MP_OK;

	memset(out, 0, sizeof(*out));
	out->kind = TLSPROBE_NEED_MORE;
	mp_error_clear(&e);
	if (fill_random(rnd, sizeof(rnd)) != 0)
		return mp_error_set(err, MP_ERR_INTERNAL, "no random bytes: %s", strerror(errno));
	if (tlsprobe_build_hello(hello, sizeof(hello), version, sni, rnd, rnd + 32, &hello_len))
		return mp_error_set(err, MP_ERR_INTERNAL, "cannot build a ClientHello for 0x%04x",
		                    (unsigned)version);
	buf = malloc(MP_TLSPROBE_MAX_REPLY);
	if (!buf)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	if (stream_write(s, hello, hello_len, deadline, &e) != 0) {
		st = mp_error_set(err, e.code, "sending the ClientHello: %s", e.msg);
		goto out;
	}
	/* Each round reads at least one byte or ends: bounded by the buffer. */
	for (;;) {
		ssize_t n;

		if (tlsprobe_parse(buf, have, out) != TLSPROBE_NEED_MORE)
			break;
		if (have == MP_TLSPROBE_MAX_REPLY) {
			malformed(out, "no ServerHello or alert in the first %d bytes",
			          MP_TLSPROBE_MAX_REPLY);
			break;
		}
		n = stream_read(s, buf + have, MP_TLSPROBE_MAX_REPLY - have, deadline, &e);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n == 0 && have == 0)
			st = mp_error_set(err, MP_ERR_CLOSED,
			                  "server closed the connection without answering");
		else if (n == 0)
			st = mp_error_set(err, MP_ERR_CLOSED,
			                  "server closed the connection after %zu bytes of an "
			                  "incomplete answer",
			                  have);
		else if (e.code == MP_ERR_TIMEOUT)
			st = mp_error_set(err, MP_ERR_TLS_TIMEOUT,
			                  "no answer to the ClientHello before the deadline");
		else
			st = mp_error_set(err, e.code, "%s", e.msg);
		break;
	}
out:
	free(buf);
	return st;
}

/* "TLS_..." or "0xC013" for a suite. */
static void suite_text(int id, char *out, size_t size)
{
	const char *name = suite_name(id);

	if (name)
		snprintf(out, size, "%s", name);
	else
		snprintf(out, size, "0x%04X", (unsigned)id & 0xffff);
}

/* "TLSv1.2" or "0x0305" for a version. */
static void version_text(int v, char *out, size_t size)
{
	const char *name = tlsprobe_version_name(v);

	if (name)
		snprintf(out, size, "%s", name);
	else
		snprintf(out, size, "0x%04x", (unsigned)v & 0xffff);
}

void tlsprobe_judge(int version, enum mp_status st, const struct tlsprobe_reply *reply,
                    const struct mp_error *err, struct tls_version_check *chk)
{
	const char *msg = err && err->msg[0] ? err->msg : mp_status_describe(st);
	char cipher[64], v[16];

	memset(chk, 0, sizeof(*chk));
	chk->version = version;
	chk->conclusive = true;
	if (reply && reply->kind == TLSPROBE_SERVER_HELLO) {
		suite_text(reply->cipher, cipher, sizeof(cipher));
		if (reply->version == version) {
			chk->accepted = true;
			snprintf(chk->detail, sizeof(chk->detail), "%s%s",
			         reply->hello_retry ? "HelloRetryRequest, " : "", cipher);
		} else {
			version_text(reply->version, v, sizeof(v));
			snprintf(chk->detail, sizeof(chk->detail),
			         "server answered with %s instead", v);
		}
		return;
	}
	if (reply && reply->kind == TLSPROBE_ALERT) {
		const char *name = tlsprobe_alert_name(reply->alert_desc);

		snprintf(chk->detail, sizeof(chk->detail), "server sent %s alert %s (%d)",
		         reply->alert_level == 1 ? "warning" : "fatal", name ? name : "unknown",
		         reply->alert_desc);
		return;
	}
	if (reply && reply->kind == TLSPROBE_MALFORMED) {
		chk->conclusive = false;
		snprintf(chk->detail, sizeof(chk->detail), "unreadable answer: %s", reply->why);
		return;
	}
	switch (st) {
	case MP_ERR_CLOSED:
	case MP_ERR_NETWORK:
		/* Many servers hang up on a version they do not speak. */
		snprintf(chk->detail, sizeof(chk->detail), "%s", msg);
		return;
	default:
		chk->conclusive = false;
		snprintf(chk->detail, sizeof(chk->detail), "no verdict: %.240s", msg);
		return;
	}
}

/* ---- Enumeration ---- */

/* The attempts run through the helper runner (helper_runner.h): job k is
 * version index NVERSIONS - 1 - k, so the newest versions start first
 * (most servers answer those). */
struct tlsprobe_run {
	struct tlsprobe_target t;
	struct helper_run *hr;
	struct tls_version_check chk[TLSPROBE_NVERSIONS];
};

static int index_of_job(size_t k)
{
	return TLSPROBE_NVERSIONS - 1 - (int)k;
}

/* A wolfSSL handshake limited to one version; a failed one is judged from
 * the first bytes the server sent. */
static void try_with_wolfssl(const struct tlsprobe_target *t, int version, struct stream *s,
                             int64_t deadline, struct tls_version_check *chk)
{
	unsigned char first[TLSPROBE_CAPTURE];
	size_t first_len = 0;
	struct tlsprobe_reply reply;
	struct tls_info info;
	struct mp_error err;
	enum mp_status st;

	mp_error_clear(&err);
	st = tls_try_version(t->tls, version, s, t->sni, deadline, first, sizeof(first), &first_len,
	                     &info, &err);
	if (st == MP_OK) {
		memset(chk, 0, sizeof(*chk));
		chk->version = version;
		chk->accepted = chk->conclusive = true;
		snprintf(chk->detail, sizeof(chk->detail), "%s", info.cipher);
		return;
	}
	tlsprobe_parse(first, first_len, &reply);
	tlsprobe_judge(version, st, reply.kind == TLSPROBE_NEED_MORE ? NULL : &reply, &err, chk);
	/* The server chose this version, but our handshake did not finish. */
	if (chk->accepted) {
		size_t used = strlen(chk->detail);

		snprintf(chk->detail + used, sizeof(chk->detail) - used,
		         "; the handshake then failed: %s", err.msg);
	}
}

/* One attempt (helper_spec.run): a fresh connection, then the hello for
 * its version. */
static void run_attempt(void *arg, size_t k, volatile int *fd_slot)
{
	struct tlsprobe_run *run = arg;
	const struct tlsprobe_target *t = &run->t;
	int index = index_of_job(k);
	int version = probe_versions[index];
	struct tls_version_check *chk = &run->chk[index];
	struct stream *s = NULL;
	struct mp_error err;
	struct tlsprobe_reply reply;
	int64_t dl;
	enum mp_status st;

	mp_error_clear(&err);
	memset(chk, 0, sizeof(*chk));
	chk->version = version;
	st = t->open(t->arg, index, fd_slot, t->deadline, &s, &err);
	if (st != MP_OK) {
		snprintf(chk->detail, sizeof(chk->detail), "no verdict: %.240s",
		         err.msg[0] ? err.msg : mp_status_describe(st));
		return;
	}
	dl = deadline_min(t->deadline, deadline_in(t->tls_timeout_ms));
	if (version == MP_SSL_V3 || version == MP_TLS_V1_0) {
		st = tlsprobe_hello_exchange(s, version, t->sni, dl, &reply, &err);
		tlsprobe_judge(version, st, st == MP_OK ? &reply : NULL, &err, chk);
	} else {
		try_with_wolfssl(t, version, s, dl, chk);
	}
	t->close(t->arg, index, fd_slot, s);
}

struct tlsprobe_run *tlsprobe_enum_start(const struct tlsprobe_target *t, int threads)
{
	struct tlsprobe_run *run = calloc(1, sizeof(*run));
	struct helper_spec spec;

	if (!run)
		return NULL;
	run->t = *t;
	for (int i = 0; i < TLSPROBE_NVERSIONS; i++)
		run->chk[i].version = probe_versions[i];
	memset(&spec, 0, sizeof(spec));
	spec.njobs = TLSPROBE_NVERSIONS;
	spec.run = run_attempt;
	spec.arg = run;
	spec.deadline = DEADLINE_NONE; /* an attempt past it says so itself */
	for (size_t k = 0; k < TLSPROBE_NVERSIONS; k++)
		if (t->defer_version && probe_versions[index_of_job(k)] == t->defer_version)
			spec.held |= 1u << k;
	run->hr = helper_run_new(&spec);
	if (!run->hr) {
		free(run);
		return NULL;
	}
	helper_run_start(run->hr, threads > 0 ? (size_t)threads : 0);
	return run;
}

int tlsprobe_enum_more(struct tlsprobe_run *run, int threads)
{
	return run ? (int)helper_run_start(run->hr, threads > 0 ? (size_t)threads : 0) : 0;
}

void tlsprobe_enum_release(struct tlsprobe_run *run)
{
	if (run)
		helper_run_more(run->hr, 0);
}

void tlsprobe_enum_known(struct tlsprobe_run *run, const struct tls_version_check *chk)
{
	for (int i = 0; run && i < TLSPROBE_NVERSIONS; i++)
		if (probe_versions[i] == chk->version &&
		    helper_run_settle(run->hr, (size_t)(TLSPROBE_NVERSIONS - 1 - i)))
			run->chk[i] = *chk;
}

void tlsprobe_enum_interrupt(struct tlsprobe_run *run)
{
	if (run)
		helper_run_interrupt(run->hr);
}

void tlsprobe_enum_finish(struct tlsprobe_run *run,
                          struct tls_version_check out[TLSPROBE_NVERSIONS])
{
	if (!run)
		return;
	helper_run_finish(run->hr);
	for (int i = 0; out && i < TLSPROBE_NVERSIONS; i++)
		out[i] = run->chk[i];
	helper_run_free(run->hr);
	free(run);
}
