/* test_tlsprobe.c - the hand-built ClientHello, the ServerHello / alert
 * parser (well-formed, truncated and hostile records), the verdicts, the
 * exchange over scripted streams, and the concurrent enumeration driven by a
 * fake open(). Real servers are in test_tls.c and tests/integration.
 *
 * ClientHellos are checked by an independent walker written here from RFC
 * 8446 4.1.2 / RFC 5246 7.4.1.2, not by the parser under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/stream.h"
#include "core/tls.h"
#include "core/tlsprobe.h"

/* ---- an independent ClientHello walker ---- */

struct ch {
	int record_version;
	int client_version;
	unsigned char random[32];
	unsigned suites[256];
	size_t nsuites;
	bool has_extensions;
	char sni[300];
	bool supported_versions;
	unsigned versions[8];
	size_t nversions;
	bool key_share;
	unsigned char key[32];
	bool ec_point_formats;
	bool groups;
	bool sigalgs;
};

static unsigned be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Walks one record holding a ClientHello; fails the test on any length that
 * does not add up. */
static void walk_hello(const unsigned char *b, size_t len, struct ch *out)
{
	size_t off, end, ext_end;
	size_t rec_len, hs_len;

	memset(out, 0, sizeof(*out));
	assert_true(len >= 5 + 4 + 2 + 32 + 1);
	assert_int_equal(b[0], 22);
	out->record_version = (int)be16(b + 1);
	rec_len = be16(b + 3);
	assert_int_equal(rec_len, len - 5);
	assert_true(rec_len <= 16384);
	assert_int_equal(b[5], 1);
	hs_len = (size_t)b[6] << 16 | (size_t)b[7] << 8 | b[8];
	assert_int_equal(hs_len, rec_len - 4);
	off = 9;
	end = len;
	out->client_version = (int)be16(b + off);
	off += 2;
	memcpy(out->random, b + off, 32);
	off += 32;
	assert_true(b[off] <= 32);
	off += 1 + b[off];
	assert_true(off + 2 <= end);
	{
		size_t n = be16(b + off);

		off += 2;
		assert_int_equal(n % 2, 0);
		assert_true(n >= 2 && off + n <= end);
		for (size_t i = 0; i < n; i += 2)
			out->suites[out->nsuites++] = be16(b + off + i);
		off += n;
	}
	assert_true(off + 2 <= end);
	assert_int_equal(b[off], 1);     /* one compression method */
	assert_int_equal(b[off + 1], 0); /* null */
	off += 2;
	if (off == end)
		return;
	out->has_extensions = true;
	assert_true(off + 2 <= end);
	ext_end = off + 2 + be16(b + off);
	assert_int_equal(ext_end, end);
	off += 2;
	while (off < ext_end) {
		unsigned type, elen;

		assert_true(off + 4 <= ext_end);
		type = be16(b + off);
		elen = be16(b + off + 2);
		off += 4;
		assert_true(off + elen <= ext_end);
		if (type == 0) {
			/* server_name_list: one host_name entry */
			size_t nlen;

			assert_int_equal(be16(b + off), elen - 2);
			assert_int_equal(b[off + 2], 0);
			nlen = be16(b + off + 3);
			assert_int_equal(nlen, elen - 5);
			assert_true(nlen < sizeof(out->sni));
			memcpy(out->sni, b + off + 5, nlen);
			out->sni[nlen] = '\0';
		} else if (type == 43) {
			out->supported_versions = true;
			assert_int_equal(b[off], elen - 1);
			for (unsigned i = 1; i < elen; i += 2)
				out->versions[out->nversions++] = be16(b + off + i);
		} else if (type == 51) {
			out->key_share = true;
			assert_int_equal(be16(b + off), elen - 2);
			assert_int_equal(be16(b + off + 2), 0x001d);
			assert_int_equal(be16(b + off + 4), 32);
			memcpy(out->key, b + off + 6, 32);
		} else if (type == 13) {
			out->sigalgs = true;
			assert_int_equal(be16(b + off), elen - 2);
		} else if (type == 11) {
			out->ec_point_formats = true;
		} else if (type == 10) {
			out->groups = true;
			assert_int_equal(be16(b + off), elen - 2);
		}
		off += elen;
	}
}

static bool has_suite(const struct ch *c, unsigned id)
{
	for (size_t i = 0; i < c->nsuites; i++)
		if (c->suites[i] == id)
			return true;
	return false;
}

static void fill_pattern(unsigned char *b, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed + 7 * i);
}

/* ---- ClientHello builder ---- */

static void test_hello_tls12(void **state)
{
	unsigned char buf[1024], rnd[32], key[32];
	struct ch c;
	size_t len = 0;

	(void)state;
	fill_pattern(rnd, 32, 1);
	fill_pattern(key, 32, 99);
	assert_int_equal(
	    tlsprobe_build_hello(buf, sizeof(buf), MP_TLS_V1_2, "mail.test", rnd, key, &len), 0);
	walk_hello(buf, len, &c);
	assert_int_equal(c.record_version, MP_TLS_V1_0);
	assert_int_equal(c.client_version, MP_TLS_V1_2);
	assert_memory_equal(c.random, rnd, 32);
	assert_string_equal(c.sni, "mail.test");
	assert_true(c.groups);
	assert_true(c.ec_point_formats);
	assert_true(c.sigalgs);
	assert_false(c.supported_versions);
	assert_false(c.key_share);
	/* A broad list: modern and legacy suites, no TLS 1.3 ones. */
	assert_true(c.nsuites >= 30);
	assert_true(has_suite(&c, 0xC02F));
	assert_true(has_suite(&c, 0xC013));
	assert_true(has_suite(&c, 0x002F));
	assert_true(has_suite(&c, 0x000A));
	assert_true(has_suite(&c, 0x00FF));
	assert_false(has_suite(&c, 0x1301));
	/* Never TLS_FALLBACK_SCSV (RFC 7507): it would make a server refuse
	 * an older version it does speak. */
	assert_false(has_suite(&c, 0x5600));
}

static void test_hello_tls13(void **state)
{
	unsigned char buf[1024], rnd[32], key[32];
	struct ch c;
	size_t len = 0;

	(void)state;
	fill_pattern(rnd, 32, 5);
	fill_pattern(key, 32, 200);
	assert_int_equal(
	    tlsprobe_build_hello(buf, sizeof(buf), MP_TLS_V1_3, "mx.example.org.", rnd, key, &len),
	    0);
	walk_hello(buf, len, &c);
	/* RFC 8446 4.1.2 / 4.2.1: legacy_version 1.2, the real one in the extension. */
	assert_int_equal(c.client_version, MP_TLS_V1_2);
	assert_true(c.supported_versions);
	assert_int_equal(c.nversions, 1);
	assert_int_equal(c.versions[0], MP_TLS_V1_3);
	assert_true(c.key_share);
	assert_memory_equal(c.key, key, 32);
	assert_true(has_suite(&c, 0x1301));
	assert_true(has_suite(&c, 0x1302));
	assert_true(has_suite(&c, 0x1303));
	/* The trailing dot of an absolute name is not sent (RFC 6066 3). */
	assert_string_equal(c.sni, "mx.example.org");
}

static void test_hello_ssl3_and_tls10(void **state)
{
	unsigned char buf[1024], rnd[32] = {0}, key[32] = {0};
	struct ch c;
	size_t len = 0;

	(void)state;
	assert_int_equal(
	    tlsprobe_build_hello(buf, sizeof(buf), MP_SSL_V3, "mail.test", rnd, key, &len), 0);
	walk_hello(buf, len, &c);
	assert_int_equal(c.record_version, MP_SSL_V3);
	assert_int_equal(c.client_version, MP_SSL_V3);
	/* SSLv3 has no extensions: old servers choke on them. */
	assert_false(c.has_extensions);
	assert_string_equal(c.sni, "");
	assert_true(has_suite(&c, 0x00FF));

	assert_int_equal(
	    tlsprobe_build_hello(buf, sizeof(buf), MP_TLS_V1_0, "mail.test", rnd, key, &len), 0);
	walk_hello(buf, len, &c);
	assert_int_equal(c.record_version, MP_TLS_V1_0);
	assert_int_equal(c.client_version, MP_TLS_V1_0);
	assert_string_equal(c.sni, "mail.test");
	assert_true(has_suite(&c, 0xC013));
	/* RFC 5246 7.4.1.4.1: no signature_algorithms before TLS 1.2 */
	assert_false(c.sigalgs);
	assert_true(c.groups);
}

/* No SNI for address literals, empty or overlong names. */
static void test_hello_sni_rules(void **state)
{
	static const char *const no_sni[] = {"127.0.0.1", "::1", "fe80::1%eth0", "", NULL};
	unsigned char buf[1024], rnd[32] = {0}, key[32] = {0};
	char longname[300];
	struct ch c;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(no_sni) / sizeof(no_sni[0]); i++) {
		assert_int_equal(
		    tlsprobe_build_hello(buf, sizeof(buf), MP_TLS_V1_2, no_sni[i], rnd, key, &len),
		    0);
		walk_hello(buf, len, &c);
		assert_true(c.has_extensions);
		assert_string_equal(c.sni, "");
	}
	memset(longname, 'a', 256);
	longname[256] = '\0';
	assert_int_equal(
	    tlsprobe_build_hello(buf, sizeof(buf), MP_TLS_V1_2, longname, rnd, key, &len), 0);
	walk_hello(buf, len, &c);
	assert_string_equal(c.sni, "");
	longname[255] = '\0';
	assert_int_equal(
	    tlsprobe_build_hello(buf, sizeof(buf), MP_TLS_V1_2, longname, rnd, key, &len), 0);
	walk_hello(buf, len, &c);
	assert_int_equal(strlen(c.sni), 255);
}

static void test_hello_errors(void **state)
{
	unsigned char buf[1024], rnd[32] = {0}, key[32] = {0};
	size_t len = 0, need = 0;

	(void)state;
	assert_int_equal(tlsprobe_build_hello(buf, sizeof(buf), 0x0305, NULL, rnd, key, &len), -1);
	assert_int_equal(tlsprobe_build_hello(buf, sizeof(buf), 0x0200, NULL, rnd, key, &len), -1);
	assert_int_equal(
	    tlsprobe_build_hello(buf, sizeof(buf), MP_TLS_V1_3, "mail.test", rnd, key, &need), 0);
	/* Every buffer shorter than the hello is refused, never overrun. */
	for (size_t size = 0; size < need; size++) {
		unsigned char *small = malloc(size ? size : 1);

		assert_non_null(small);
		assert_int_equal(
		    tlsprobe_build_hello(small, size, MP_TLS_V1_3, "mail.test", rnd, key, &len),
		    -1);
		free(small);
	}
}

/* ---- server answers ---- */

/* A record of type with fragment frag[0..n). */
static size_t put_record(unsigned char *out, int type, int version, const unsigned char *frag,
                         size_t n)
{
	out[0] = (unsigned char)type;
	out[1] = (unsigned char)(version >> 8);
	out[2] = (unsigned char)version;
	out[3] = (unsigned char)(n >> 8);
	out[4] = (unsigned char)n;
	memcpy(out + 5, frag, n);
	return 5 + n;
}

/* A ServerHello handshake message (type, 24-bit length, body). ext may be
 * NULL for none; ext_len counts its bytes (the 2-byte list length is added). */
static size_t put_server_hello(unsigned char *out, int version, const unsigned char *random,
                               unsigned sid_len, int cipher, const unsigned char *ext,
                               size_t ext_len)
{
	size_t o = 4;

	out[o++] = (unsigned char)(version >> 8);
	out[o++] = (unsigned char)version;
	if (random)
		memcpy(out + o, random, 32);
	else
		fill_pattern(out + o, 32, 42);
	o += 32;
	out[o++] = (unsigned char)sid_len;
	memset(out + o, 0xAB, sid_len);
	o += sid_len;
	out[o++] = (unsigned char)(cipher >> 8);
	out[o++] = (unsigned char)cipher;
	out[o++] = 0;
	if (ext) {
		out[o++] = (unsigned char)(ext_len >> 8);
		out[o++] = (unsigned char)ext_len;
		memcpy(out + o, ext, ext_len);
		o += ext_len;
	}
	out[0] = 2;
	out[1] = (unsigned char)((o - 4) >> 16);
	out[2] = (unsigned char)((o - 4) >> 8);
	out[3] = (unsigned char)(o - 4);
	return o;
}

/* supported_versions selecting v, after a renegotiation_info extension. */
static const unsigned char ext_sv13[] = {0xff, 0x01, 0x00, 0x01, 0x00, 0x00,
                                         0x2b, 0x00, 0x02, 0x03, 0x04};

static void test_parse_tls12_hello(void **state)
{
	unsigned char hs[256], wire[512];
	struct tlsprobe_reply r;
	size_t n = put_server_hello(hs, MP_TLS_V1_2, NULL, 32, 0xC02F, NULL, 0);
	size_t len = put_record(wire, 22, MP_TLS_V1_2, hs, n);

	(void)state;
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_SERVER_HELLO);
	assert_int_equal(r.kind, TLSPROBE_SERVER_HELLO);
	assert_int_equal(r.version, MP_TLS_V1_2);
	assert_int_equal(r.legacy_version, MP_TLS_V1_2);
	assert_int_equal(r.cipher, 0xC02F);
	assert_false(r.hello_retry);
	/* Every shorter prefix asks for more, never a wrong verdict. */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(tlsprobe_parse(wire, i, &r), TLSPROBE_NEED_MORE);
	/* Bytes after the ServerHello (the rest of the flight) do not matter. */
	memset(wire + len, 0x16, 40);
	assert_int_equal(tlsprobe_parse(wire, len + 40, &r), TLSPROBE_SERVER_HELLO);
}

static void test_parse_tls13_hello_and_hrr(void **state)
{
	static const unsigned char hrr[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11,
	                                      0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	                                      0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E,
	                                      0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
	unsigned char hs[256], wire[512];
	struct tlsprobe_reply r;
	size_t n, len;

	(void)state;
	n = put_server_hello(hs, MP_TLS_V1_2, NULL, 32, 0x1301, ext_sv13, sizeof(ext_sv13));
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_SERVER_HELLO);
	assert_int_equal(r.version, MP_TLS_V1_3);
	assert_int_equal(r.legacy_version, MP_TLS_V1_2);
	assert_int_equal(r.cipher, 0x1301);
	assert_false(r.hello_retry);

	n = put_server_hello(hs, MP_TLS_V1_2, hrr, 0, 0x1302, ext_sv13, sizeof(ext_sv13));
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_SERVER_HELLO);
	assert_true(r.hello_retry);
	assert_int_equal(r.version, MP_TLS_V1_3);
}

/* A ServerHello split over three records, one cut inside its header. */
static void test_parse_fragmented_hello(void **state)
{
	unsigned char hs[256], wire[512];
	struct tlsprobe_reply r;
	size_t n = put_server_hello(hs, MP_TLS_V1_0, NULL, 0, 0xC013, NULL, 0);
	size_t len = 0;

	(void)state;
	len += put_record(wire + len, 22, MP_TLS_V1_0, hs, 2);
	len += put_record(wire + len, 22, MP_TLS_V1_0, hs + 2, 20);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_NEED_MORE);
	len += put_record(wire + len, 22, MP_TLS_V1_0, hs + 22, n - 22);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_SERVER_HELLO);
	assert_int_equal(r.version, MP_TLS_V1_0);
	assert_int_equal(r.cipher, 0xC013);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(tlsprobe_parse(wire, i, &r), TLSPROBE_NEED_MORE);
}

static void test_parse_alerts(void **state)
{
	static const unsigned char fatal70[] = {2, 70};
	static const unsigned char one[] = {2};
	unsigned char wire[64];
	struct tlsprobe_reply r;
	size_t len = put_record(wire, 21, MP_TLS_V1_0, fatal70, 2);

	(void)state;
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_ALERT);
	assert_int_equal(r.alert_level, 2);
	assert_int_equal(r.alert_desc, 70);
	assert_string_equal(tlsprobe_alert_name(r.alert_desc), "protocol_version");
	assert_int_equal(tlsprobe_parse(wire, len - 1, &r), TLSPROBE_NEED_MORE);
	/* An SSLv3 server answers with record version 3.0. */
	len = put_record(wire, 21, MP_SSL_V3, fatal70, 2);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_ALERT);
	/* An alert record of one byte lies about what it holds. */
	len = put_record(wire, 21, MP_TLS_V1_2, one, 1);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);
	print_message("1-byte alert: %s\n", r.why);
	assert_null(tlsprobe_alert_name(255));
	assert_string_equal(tlsprobe_alert_name(40), "handshake_failure");
}

/* Each hostile answer is MALFORMED with a reason, and nothing is read past
 * the bytes given (ASan, in the sanitizer build, would say so). */
static void test_parse_hostile(void **state)
{
	unsigned char hs[256], wire[512], *exact = NULL;
	struct tlsprobe_reply r;
	size_t n, len;

	(void)state;
	/* record length beyond 2^14 */
	wire[0] = 22;
	wire[1] = 3;
	wire[2] = 3;
	wire[3] = 0x40;
	wire[4] = 0x01;
	assert_int_equal(tlsprobe_parse(wire, 5, &r), TLSPROBE_MALFORMED);
	assert_non_null(strstr(r.why, "2^14"));

	/* a handshake body length that lies (16 MiB) */
	n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0xC02F, NULL, 0);
	hs[1] = 0xff;
	hs[2] = 0xff;
	hs[3] = 0xff;
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);

	/* a body length shorter than the ServerHello's own fields */
	n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0xC02F, NULL, 0);
	hs[3] = 10;
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);
	assert_non_null(strstr(r.why, "too short"));

	/* a session id longer than 32 */
	n = put_server_hello(hs, MP_TLS_V1_2, NULL, 33, 0xC02F, NULL, 0);
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);

	/* an extensions length that does not match the bytes left */
	n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0x1301, ext_sv13, sizeof(ext_sv13));
	hs[n - sizeof(ext_sv13) - 1] += 1;
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);

	/* an extension whose length runs past the message */
	{
		static const unsigned char ext[] = {0x2b, 0x00, 0x09, 0x03, 0x04};

		n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0x1301, ext, sizeof(ext));
		len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
		assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);
	}
	/* supported_versions of the wrong size, and twice */
	{
		static const unsigned char bad[] = {0x00, 0x2b, 0x00, 0x03, 0x03, 0x04, 0x00};
		static const unsigned char twice[] = {0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
		                                      0x00, 0x2b, 0x00, 0x02, 0x03, 0x03};

		n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0x1301, bad, sizeof(bad));
		len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
		assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);
		n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0x1301, twice, sizeof(twice));
		len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
		assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);
	}
	/* a Certificate before any ServerHello */
	n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0xC02F, NULL, 0);
	hs[0] = 11;
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);

	/* zero-length handshake record, ChangeCipherSpec, application data */
	len = put_record(wire, 22, MP_TLS_V1_2, hs, 0);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);
	len = put_record(wire, 20, MP_TLS_V1_2, (const unsigned char *)"\x01", 1);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);
	len = put_record(wire, 23, MP_TLS_V1_2, (const unsigned char *)"abc", 3);
	assert_int_equal(tlsprobe_parse(wire, len, &r), TLSPROBE_MALFORMED);

	/* not SSL 3 / TLS record versions, and SSLv2-style answers */
	len = put_record(wire, 22, 0x0202, hs, 4);
	assert_int_equal(tlsprobe_parse(wire, 2, &r), TLSPROBE_MALFORMED);
	wire[0] = 0x80;
	wire[1] = 0x2e;
	assert_int_equal(tlsprobe_parse(wire, 2, &r), TLSPROBE_MALFORMED);
	assert_false(r.plaintext);

	/* a mail server greeting instead of TLS */
	assert_int_equal(tlsprobe_parse((const unsigned char *)"220 mx ESMTP\r\n", 14, &r),
	                 TLSPROBE_MALFORMED);
	assert_true(r.plaintext);

	/* nothing yet */
	assert_int_equal(tlsprobe_parse(wire, 0, &r), TLSPROBE_NEED_MORE);

	/* A complete hello in a buffer of exactly its size (ASan checks the end). */
	n = put_server_hello(hs, MP_TLS_V1_2, NULL, 0, 0x1301, ext_sv13, sizeof(ext_sv13));
	len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	exact = malloc(len);
	assert_non_null(exact);
	memcpy(exact, wire, len);
	assert_int_equal(tlsprobe_parse(exact, len, &r), TLSPROBE_SERVER_HELLO);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(tlsprobe_parse(exact, i, &r), TLSPROBE_NEED_MORE);
	free(exact);
}

/* Random and mutated input: every verdict is one of the four, every
 * MALFORMED one says why, and no byte past the input is read. */
static void test_parse_mutations(void **state)
{
	unsigned char hs[256], wire[512];
	size_t n = put_server_hello(hs, MP_TLS_V1_2, NULL, 16, 0x1301, ext_sv13, sizeof(ext_sv13));
	size_t len = put_record(wire, 22, MP_TLS_V1_2, hs, n);
	unsigned seed = 12345;
	unsigned kinds[4] = {0};

	(void)state;
	for (int round = 0; round < 20000; round++) {
		unsigned char m[512];
		size_t mlen = len;
		unsigned char *heap = NULL;
		struct tlsprobe_reply r;
		enum tlsprobe_kind k;

		memcpy(m, wire, len);
		for (int j = 0; j < 1 + round % 4; j++) {
			seed = seed * 1103515245u + 12345u;
			m[(seed >> 8) % len] = (unsigned char)(seed >> 20);
		}
		seed = seed * 1103515245u + 12345u;
		if (round % 3 == 0)
			mlen = (seed >> 8) % (len + 1);
		heap = malloc(mlen ? mlen : 1);
		assert_non_null(heap);
		memcpy(heap, m, mlen);
		k = tlsprobe_parse(heap, mlen, &r);
		free(heap);
		assert_true(k >= TLSPROBE_NEED_MORE && k <= TLSPROBE_MALFORMED);
		assert_int_equal(k, r.kind);
		if (k == TLSPROBE_MALFORMED)
			assert_true(strlen(r.why) > 0);
		kinds[k]++;
	}
	/* The mutations reached every verdict. */
	print_message("need_more %u hello %u alert %u malformed %u\n", kinds[0], kinds[1], kinds[2],
	              kinds[3]);
	assert_true(kinds[TLSPROBE_NEED_MORE] > 0 && kinds[TLSPROBE_SERVER_HELLO] > 0 &&
	            kinds[TLSPROBE_ALERT] > 0 && kinds[TLSPROBE_MALFORMED] > 0);
}

/* ---- verdicts ---- */

static void test_judge(void **state)
{
	struct tlsprobe_reply r;
	struct tls_version_check chk;
	struct mp_error err;

	(void)state;
	mp_error_clear(&err);
	memset(&r, 0, sizeof(r));
	r.kind = TLSPROBE_SERVER_HELLO;
	r.version = MP_TLS_V1_0;
	r.cipher = 0xC013;
	tlsprobe_judge(MP_TLS_V1_0, MP_OK, &r, &err, &chk);
	assert_true(chk.accepted);
	assert_true(chk.conclusive);
	assert_int_equal(chk.version, MP_TLS_V1_0);
	assert_string_equal(chk.detail, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");

	r.version = MP_TLS_V1_2;
	r.cipher = 0x1234;
	tlsprobe_judge(MP_TLS_V1_0, MP_OK, &r, &err, &chk);
	assert_false(chk.accepted);
	assert_true(chk.conclusive);
	assert_string_equal(chk.detail, "server answered with TLSv1.2 instead");

	memset(&r, 0, sizeof(r));
	r.kind = TLSPROBE_ALERT;
	r.alert_level = 2;
	r.alert_desc = 70;
	tlsprobe_judge(MP_SSL_V3, MP_OK, &r, &err, &chk);
	assert_false(chk.accepted);
	assert_true(chk.conclusive);
	assert_string_equal(chk.detail, "server sent fatal alert protocol_version (70)");

	mp_error_set(&err, MP_ERR_CLOSED, "server closed the connection without answering");
	tlsprobe_judge(MP_SSL_V3, MP_ERR_CLOSED, NULL, &err, &chk);
	assert_false(chk.accepted);
	assert_true(chk.conclusive);
	assert_string_equal(chk.detail, "server closed the connection without answering");

	mp_error_set(&err, MP_ERR_TLS_TIMEOUT, "no answer");
	tlsprobe_judge(MP_TLS_V1_0, MP_ERR_TLS_TIMEOUT, NULL, &err, &chk);
	assert_false(chk.accepted);
	assert_false(chk.conclusive);
	assert_string_equal(chk.detail, "no verdict: no answer");

	memset(&r, 0, sizeof(r));
	r.kind = TLSPROBE_MALFORMED;
	snprintf(r.why, sizeof(r.why), "odd");
	tlsprobe_judge(MP_TLS_V1_0, MP_OK, &r, &err, &chk);
	assert_false(chk.accepted);
	assert_false(chk.conclusive);
	assert_string_equal(chk.detail, "unreadable answer: odd");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(tlsprobe_version_name(MP_SSL_V3), "SSLv3");
	assert_string_equal(tlsprobe_version_name(MP_TLS_V1_0), "TLSv1.0");
	assert_string_equal(tlsprobe_version_name(MP_TLS_V1_3), "TLSv1.3");
	assert_null(tlsprobe_version_name(0x0305));
	for (int i = 0; i < TLSPROBE_NVERSIONS; i++)
		assert_non_null(tlsprobe_version_name(tlsprobe_version_at(i)));
	assert_true(tlsprobe_version_at(TLSPROBE_SSL3) < tlsprobe_version_at(TLSPROBE_TLS13));
	assert_int_equal(tlsprobe_version_at(TLSPROBE_NVERSIONS), 0);
}

/* ---- the exchange over a scripted stream ---- */

static void test_exchange_scripted(void **state)
{
	unsigned char hs[256], wire[512];
	struct stream *m = stream_mem_new(1); /* the answer trickles in byte by byte */
	struct tlsprobe_reply r;
	struct mp_error err;
	struct ch c;
	const char *written = NULL;
	size_t n = put_server_hello(hs, MP_TLS_V1_0, NULL, 32, 0x002F, NULL, 0);
	size_t len = put_record(wire, 22, MP_TLS_V1_0, hs, n);
	size_t wlen = 0;

	(void)state;
	mp_error_clear(&err);
	assert_non_null(m);
	stream_mem_add(m, 1, wire, len);
	assert_int_equal(
	    tlsprobe_hello_exchange(m, MP_TLS_V1_0, "mail.test", deadline_in(2000), &r, &err),
	    MP_OK);
	assert_int_equal(r.kind, TLSPROBE_SERVER_HELLO);
	assert_int_equal(r.version, MP_TLS_V1_0);
	assert_int_equal(r.cipher, 0x002F);
	written = stream_mem_written(m, &wlen);
	assert_int_equal(stream_mem_writes(m), 1);
	walk_hello((const unsigned char *)written, wlen, &c);
	assert_int_equal(c.client_version, MP_TLS_V1_0);
	assert_string_equal(c.sni, "mail.test");
	stream_close(m);
}

static void test_exchange_silent_closed_and_endless(void **state)
{
	struct tlsprobe_reply r;
	struct mp_error err;
	struct stream *m = NULL;
	unsigned char *flood = NULL;
	size_t len = 0;

	(void)state;
	mp_error_clear(&err);
	/* silent: the scripted stream times out at once */
	m = stream_mem_new(0);
	assert_int_equal(tlsprobe_hello_exchange(m, MP_SSL_V3, NULL, deadline_in(2000), &r, &err),
	                 MP_ERR_TLS_TIMEOUT);
	stream_close(m);
	/* hangs up at once */
	m = stream_mem_new(0);
	stream_mem_close_after(m, 1);
	assert_int_equal(tlsprobe_hello_exchange(m, MP_SSL_V3, NULL, deadline_in(2000), &r, &err),
	                 MP_ERR_CLOSED);
	assert_non_null(strstr(err.msg, "without answering"));
	stream_close(m);
	/* hangs up inside a record */
	m = stream_mem_new(0);
	stream_mem_add(m, 1, "\x16\x03\x01\x00\x30\x02", 6);
	stream_mem_close_after(m, 1);
	assert_int_equal(tlsprobe_hello_exchange(m, MP_TLS_V1_0, NULL, deadline_in(2000), &r, &err),
	                 MP_ERR_CLOSED);
	assert_non_null(strstr(err.msg, "6 bytes"));
	stream_close(m);
	/* one-byte handshake fragments that never complete a ServerHello of
	 * 8000 bytes: the exchange stops at MP_TLSPROBE_MAX_REPLY. */
	flood = malloc(6 * 8004);
	assert_non_null(flood);
	{
		unsigned char head[4] = {2, 0, 0x1f, 0x40};

		for (size_t i = 0; i < 8004; i++) {
			unsigned char b = i < 4 ? head[i] : 0;

			len += put_record(flood + len, 22, MP_TLS_V1_0, &b, 1);
		}
	}
	m = stream_mem_new(0);
	stream_mem_add(m, 1, flood, len);
	assert_int_equal(tlsprobe_hello_exchange(m, MP_TLS_V1_0, NULL, deadline_in(2000), &r, &err),
	                 MP_OK);
	assert_int_equal(r.kind, TLSPROBE_MALFORMED);
	print_message("flood: %s\n", r.why);
	assert_non_null(strstr(r.why, "first"));
	stream_close(m);
	free(flood);
}

/* ---- enumeration with a fake open() ---- */

/* Scripted answers per attempt; counts open/close calls. */
struct fake {
	pthread_mutex_t lock;
	int opens[TLSPROBE_NVERSIONS];
	int closes[TLSPROBE_NVERSIONS];
	bool fail_open[TLSPROBE_NVERSIONS];
	int accept_version; /* raw ServerHello for this one (SSLv3/TLS 1.0) */
	int other_version;  /* a ServerHello with this version for every other */
};

static enum mp_status fake_open(void *arg, int index, volatile int *fd_slot, int64_t deadline,
                                struct stream **out, struct mp_error *err)
{
	struct fake *f = arg;
	int v = tlsprobe_version_at(index);
	unsigned char hs[256], wire[512];
	struct stream *m = NULL;
	size_t n, len;

	(void)deadline;
	(void)fd_slot; /* an in-memory stream has no socket */
	pthread_mutex_lock(&f->lock);
	f->opens[index]++;
	pthread_mutex_unlock(&f->lock);
	if (f->fail_open[index])
		return mp_error_set(err, MP_ERR_STARTTLS_REFUSED, "454 TLS not available");
	m = stream_mem_new(0);
	if (!m)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	if (v == f->accept_version) {
		n = put_server_hello(hs, v, NULL, 0, 0xC014, NULL, 0);
		len = put_record(wire, 22, v, hs, n);
	} else if (v == MP_SSL_V3) {
		static const unsigned char alert[] = {2, 40};

		len = put_record(wire, 21, MP_SSL_V3, alert, 2);
	} else {
		n = put_server_hello(hs, f->other_version, NULL, 0, 0xC02F, NULL, 0);
		len = put_record(wire, 22, f->other_version, hs, n);
	}
	stream_mem_add(m, 1, wire, len);
	stream_mem_close_after(m, 1);
	*out = m;
	return MP_OK;
}

static void fake_close(void *arg, int index, volatile int *fd_slot, struct stream *s)
{
	struct fake *f = arg;

	(void)fd_slot;
	pthread_mutex_lock(&f->lock);
	f->closes[index]++;
	pthread_mutex_unlock(&f->lock);
	stream_close(s);
}

static void run_fake_known(int threads, struct tls_version_check out[TLSPROBE_NVERSIONS],
                           struct fake *f, int defer, const struct tls_version_check *known)
{
	struct tls_config cfg = {0};
	struct mp_error err;
	struct tls_ctx *ctx = NULL;
	struct tlsprobe_target t;
	struct tlsprobe_run *run = NULL;

	mp_error_clear(&err);
	ctx = tls_ctx_new(&cfg, &err);
	assert_non_null(ctx);
	memset(&t, 0, sizeof(t));
	t.open = fake_open;
	t.close = fake_close;
	t.arg = f;
	t.tls = ctx;
	t.sni = "mail.test";
	t.tls_timeout_ms = 2000;
	t.deadline = deadline_in(5000);
	t.defer_version = defer;
	run = tlsprobe_enum_start(&t, threads);
	assert_non_null(run);
	if (known)
		tlsprobe_enum_known(run, known);
	tlsprobe_enum_finish(run, out);
	tls_ctx_free(ctx);
}

static void run_fake(int threads, struct tls_version_check out[TLSPROBE_NVERSIONS], struct fake *f)
{
	run_fake_known(threads, out, f, 0, NULL);
}

static void test_enumerate_fake(void **state)
{
	struct tls_version_check a[TLSPROBE_NVERSIONS], b[TLSPROBE_NVERSIONS];
	struct fake f;

	(void)state;
	for (int threads = 0; threads <= TLSPROBE_NVERSIONS; threads += TLSPROBE_NVERSIONS) {
		struct tls_version_check *out = threads ? b : a;

		memset(&f, 0, sizeof(f));
		pthread_mutex_init(&f.lock, NULL);
		f.accept_version = MP_TLS_V1_0;
		f.other_version = 0x0305; /* a version nobody speaks */
		f.fail_open[TLSPROBE_TLS13] = true;
		run_fake(threads, out, &f);
		for (int i = 0; i < TLSPROBE_NVERSIONS; i++) {
			assert_int_equal(f.opens[i], 1);
			/* every stream opened was closed through close() */
			assert_int_equal(f.closes[i], i == TLSPROBE_TLS13 ? 0 : 1);
			assert_int_equal(out[i].version, tlsprobe_version_at(i));
			print_message("threads %d %s: %s%s\n", threads,
			              tlsprobe_version_name(out[i].version),
			              out[i].accepted ? "accepted " : "", out[i].detail);
		}
		pthread_mutex_destroy(&f.lock);
	}
	for (int k = 0; k < 2; k++) {
		struct tls_version_check *out = k ? b : a;

		assert_false(out[TLSPROBE_SSL3].accepted);
		assert_string_equal(out[TLSPROBE_SSL3].detail,
		                    "server sent fatal alert handshake_failure (40)");
		assert_true(out[TLSPROBE_TLS10].accepted);
		assert_string_equal(out[TLSPROBE_TLS10].detail,
		                    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA");
		/* wolfSSL saw a ServerHello with another version: refused, and
		 * the version it got is named (from the captured first bytes). */
		assert_false(out[TLSPROBE_TLS11].accepted);
		assert_true(out[TLSPROBE_TLS11].conclusive);
		assert_string_equal(out[TLSPROBE_TLS11].detail,
		                    "server answered with 0x0305 instead");
		assert_string_equal(out[TLSPROBE_TLS12].detail,
		                    "server answered with 0x0305 instead");
		/* the connection could not be made ready: no verdict */
		assert_false(out[TLSPROBE_TLS13].accepted);
		assert_false(out[TLSPROBE_TLS13].conclusive);
		assert_string_equal(out[TLSPROBE_TLS13].detail,
		                    "no verdict: 454 TLS not available");
	}
	/* Threads or not, the same verdicts. */
	assert_memory_equal(a, b, sizeof(a));
}

/* wolfSSL's attempt against a ServerHello for the version it asked for
 * (which then breaks off): "accepted", with the failure explained. */
static void test_enumerate_fake_accepts_then_fails(void **state)
{
	struct tls_version_check out[TLSPROBE_NVERSIONS];
	struct fake f;

	(void)state;
	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	f.accept_version = MP_SSL_V3;
	f.other_version = MP_TLS_V1_2;
	run_fake(2, out, &f);
	pthread_mutex_destroy(&f.lock);
	print_message("TLSv1.2: %s\n", out[TLSPROBE_TLS12].detail);
	assert_true(out[TLSPROBE_SSL3].accepted);
	assert_true(out[TLSPROBE_TLS12].accepted);
	assert_non_null(strstr(out[TLSPROBE_TLS12].detail,
	                       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256; the handshake then failed"));
	assert_false(out[TLSPROBE_TLS11].accepted);
	assert_string_equal(out[TLSPROBE_TLS11].detail, "server answered with TLSv1.2 instead");
	assert_string_equal(out[TLSPROBE_TLS10].detail, "server answered with TLSv1.2 instead");
}

/* A deferred version whose verdict is already known is not asked again;
 * a verdict for an attempt already under way is ignored. */
static void test_enumerate_deferred(void **state)
{
	struct tls_version_check out[TLSPROBE_NVERSIONS], known;
	struct fake f;

	(void)state;
	memset(&known, 0, sizeof(known));
	known.version = MP_TLS_V1_3;
	known.accepted = known.conclusive = true;
	snprintf(known.detail, sizeof(known.detail), "TLS_AES_128_GCM_SHA256 (the probe's own)");
	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	f.accept_version = MP_TLS_V1_0;
	f.other_version = MP_TLS_V1_0;
	run_fake_known(TLSPROBE_NVERSIONS, out, &f, MP_TLS_V1_3, &known);
	assert_int_equal(f.opens[TLSPROBE_TLS13], 0);
	assert_int_equal(f.opens[TLSPROBE_TLS12], 1);
	assert_memory_equal(&out[TLSPROBE_TLS13], &known, sizeof(known));
	assert_true(out[TLSPROBE_TLS10].accepted);
	pthread_mutex_destroy(&f.lock);
	/* known for 1.2, which threads may have started already (the helper
	 * runner's threads pull the attempts): the attempt's own verdict
	 * stands if it started, else the one given; either way 1.2 is asked
	 * at most once, and the deferred 1.3 is asked in tlsprobe_enum_finish. */
	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	f.accept_version = MP_TLS_V1_0;
	f.other_version = MP_TLS_V1_0;
	known.version = MP_TLS_V1_2;
	run_fake_known(TLSPROBE_NVERSIONS, out, &f, MP_TLS_V1_3, &known);
	pthread_mutex_destroy(&f.lock);
	assert_int_equal(f.opens[TLSPROBE_TLS13], 1);
	assert_true(f.opens[TLSPROBE_TLS12] <= 1);
	if (f.opens[TLSPROBE_TLS12] == 1) {
		assert_false(out[TLSPROBE_TLS12].accepted);
		assert_string_equal(out[TLSPROBE_TLS12].detail,
		                    "server answered with TLSv1.0 instead");
	} else {
		assert_memory_equal(&out[TLSPROBE_TLS12], &known, sizeof(known));
	}
	assert_false(out[TLSPROBE_TLS13].accepted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_tls12),
	    cmocka_unit_test(test_hello_tls13),
	    cmocka_unit_test(test_hello_ssl3_and_tls10),
	    cmocka_unit_test(test_hello_sni_rules),
	    cmocka_unit_test(test_hello_errors),
	    cmocka_unit_test(test_parse_tls12_hello),
	    cmocka_unit_test(test_parse_tls13_hello_and_hrr),
	    cmocka_unit_test(test_parse_fragmented_hello),
	    cmocka_unit_test(test_parse_alerts),
	    cmocka_unit_test(test_parse_hostile),
	    cmocka_unit_test(test_parse_mutations),
	    cmocka_unit_test(test_judge),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_exchange_scripted),
	    cmocka_unit_test(test_exchange_silent_closed_and_endless),
	    cmocka_unit_test(test_enumerate_fake),
	    cmocka_unit_test(test_enumerate_fake_accepts_then_fails),
	    cmocka_unit_test(test_enumerate_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
