/* fuzz_proxy.c - proxy_handshake() (core/proxy.c) against a proxy scripted
 * by the fuzzer input: SOCKS4, SOCKS4a, SOCKS5 (RFC 1928, RFC 1929), SOCKS5h
 * and HTTP CONNECT (RFC 9110 section 9.3.6).
 *
 * Input: d[0] picks the proxy type (low 3 bits, modulo 5), credentials (bits
 * 3 and 4), the target host (bits 5-6: name, IPv4, IPv6, 255-byte name) and
 * the family of our own resolution (bit 7); d[1] bytes per read (low 4 bits)
 * and EOF at the end (bit 4). The rest are the proxy's replies, separated by
 * FUZZ_SEP: reply i is released after the client's (i+1)-th write.
 * Checks: the status is a proxy status with a printable message that never
 * holds the password, and after success exactly the handshake's bytes were
 * consumed, so the first byte left belongs to the mail server.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/net.h"
#include "core/proxy.h"

#define PROXY_HEADER 2
#define TARGET_PORT  2525
/* Part of the password; a message holding it leaks the password (unless the
 * proxy's own reply carried it). */
#define PW_MARK "S3CR3T"

/* Bytes a correct client consumes for a successful handshake of type t over
 * the replies in d[0..n), or (size_t)-1 when they cannot be a success. */
static size_t expected_consumed(enum proxy_type t, const uint8_t *d, size_t n)
{
	size_t pos = 0;

	switch (t) {
	case PROXY_SOCKS4:
	case PROXY_SOCKS4A:
		return 8;
	case PROXY_SOCKS5:
	case PROXY_SOCKS5H:
		/* Method selection, RFC 1929 status when user/password was chosen,
		 * then VER REP RSV ATYP BND.ADDR BND.PORT (RFC 1928 section 6). */
		if (n < 2)
			return (size_t)-1;
		pos = d[1] == 0x02 ? 4 : 2;
		if (pos + 5 > n)
			return (size_t)-1;
		switch (d[pos + 3]) {
		case 0x01:
			return pos + 4 + 4 + 2;
		case 0x04:
			return pos + 4 + 16 + 2;
		case 0x03:
			return pos + 4 + 1 + d[pos + 4] + 2;
		default:
			return (size_t)-1;
		}
	case PROXY_HTTP:
		/* Status line, header fields, and the empty line (RFC 9112 section 2.1). */
		for (bool first = true;; first = false) {
			const uint8_t *nl = pos < n ? memchr(d + pos, '\n', n - pos) : NULL;
			size_t len;

			if (!nl)
				return (size_t)-1;
			len = (size_t)(nl - (d + pos));
			pos += len + 1;
			if (!first && (len == 0 || (len == 1 && d[pos - 2] == '\r')))
				return pos;
		}
	default:
		return (size_t)-1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {"mail.example.org", "192.0.2.25", "2001:db8::25", NULL};
	struct fuzz_chunk chunks[FUZZ_MAX_CHUNKS];
	struct proxy_spec p;
	struct net_addr target;
	struct mp_error err;
	struct stream *s = NULL;
	char longname[MP_MAX_PROXY_HOST + 1];
	const char *host = NULL;
	const struct net_addr *tp = NULL;
	uint8_t *flat = NULL;
	size_t nchunks, total = 0, released = 0, consumed, want;
	enum mp_status st;

	if (size < PROXY_HEADER || size > FUZZ_MAX_INPUT)
		return 0;
	memset(&p, 0, sizeof(p));
	p.type = (enum proxy_type)((data[0] & 7) % PROXY_TYPE_COUNT);
	snprintf(p.host, sizeof(p.host), "127.0.0.1");
	p.port = 1080;
	if (data[0] & 0x08) {
		snprintf(p.user, sizeof(p.user), "alice");
		p.has_user = true;
	}
	if (data[0] & 0x10) {
		snprintf(p.pass, sizeof(p.pass), "pw-" PW_MARK "-%c", '!');
		p.has_pass = true;
	}
	host = hosts[(data[0] >> 5) & 3];
	if (!host) {
		memset(longname, 'a', sizeof(longname) - 5);
		memcpy(longname + sizeof(longname) - 5, ".org", 5);
		host = longname;
	}
	/* We resolve for socks4 and socks5: a numeric host parses, a name is
	 * given an address of the family bit 7 asks for. */
	if (net_parse_numeric(host, TARGET_PORT, &target) == 0) {
		tp = &target;
	} else {
		FUZZ_CHECK(net_parse_numeric(data[0] & 0x80 ? "2001:db8::25" : "192.0.2.25",
		                             TARGET_PORT, &target) == 0,
		           "net_parse_numeric failed");
		tp = proxy_resolves_remotely(p.type) ? NULL : &target;
	}

	nchunks = fuzz_split(data + PROXY_HEADER, size - PROXY_HEADER, chunks, FUZZ_MAX_CHUNKS);
	flat = malloc(size);
	s = stream_mem_new(data[1] & 0x0f);
	FUZZ_CHECK(flat && s, "out of memory");
	for (size_t i = 0; i < nchunks; i++) {
		stream_mem_add(s, (unsigned)i + 1, chunks[i].p, chunks[i].len);
		if (chunks[i].len)
			memcpy(flat + total, chunks[i].p, chunks[i].len);
		total += chunks[i].len;
	}
	if (data[1] & 0x10)
		stream_mem_close_after(s, (unsigned)nchunks);

	st = proxy_handshake(&p, s, host, TARGET_PORT, tp, deadline_in(FUZZ_DEADLINE_MS), &err);

	FUZZ_CHECK(st == MP_OK || (st >= MP_ERR_PROXY_UNREACHABLE && st <= MP_ERR_PROXY_PROTOCOL),
	           "%s handshake returned %s (%s)", proxy_type_name(p.type), mp_status_name(st),
	           err.msg);
	FUZZ_CHECK(err.code == st, "status %s but err.code %s", mp_status_name(st),
	           mp_status_name(err.code));
	FUZZ_CHECK(strnlen(err.msg, sizeof(err.msg)) < sizeof(err.msg), "message not terminated");
	FUZZ_CHECK(st == MP_OK || err.msg[0], "%s without a message", mp_status_name(st));
	FUZZ_CHECK(fuzz_printable_ascii(err.msg), "message carries raw proxy bytes: \"%s\"",
	           err.msg);
	FUZZ_CHECK(!strstr(err.msg, PW_MARK) || memmem(data, size, PW_MARK, strlen(PW_MARK)),
	           "message shows the password: \"%s\"", err.msg);
	if (st == MP_OK) {
		for (size_t i = 0; i < nchunks; i++)
			if (i + 1 <= stream_mem_writes(s))
				released += chunks[i].len;
		consumed = released - stream_pending(s);
		want = expected_consumed(p.type, flat, total);
		FUZZ_CHECK(consumed == want,
		           "%s handshake succeeded after consuming %zu bytes, expected %zu",
		           proxy_type_name(p.type), consumed, want);
	}
	stream_close(s);
	free(flat);
	return 0;
}
