/* proxy.c - SOCKS4, SOCKS4a, SOCKS5 (RFC 1928, RFC 1929) and HTTP CONNECT
 * (RFC 9110 section 9.3.6) handshakes over a stream connected to the proxy.
 *
 * Every reply is read exactly as long as it is, so the first byte left in the
 * stream belongs to the mail server. The password is written to the proxy
 * and wiped from our buffers; it never appears in a message.
 */
#include "core/proxy.h"
#include "core/deadline.h"
#include "core/limits.h"
#include "core/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define SOCKS4_VERSION         0x04
#define SOCKS4_REPLY_VERSION   0x00
#define SOCKS4_REPLY_LEN       8
#define SOCKS4_GRANTED         0x5a
#define SOCKS5_VERSION         0x05
#define SOCKS5_AUTH_VERSION    0x01
#define SOCKS_CMD_CONNECT      0x01
#define SOCKS5_METHOD_NONE     0x00
#define SOCKS5_METHOD_USERPASS 0x02
#define SOCKS5_METHOD_REFUSED  0xff
#define SOCKS5_ATYP_IPV4       0x01
#define SOCKS5_ATYP_DOMAIN     0x03
#define SOCKS5_ATYP_IPV6       0x04
#define SOCKS5_REPLY_OK        0x00

/* Largest request we build: SOCKS4a with a user id and a host name. */
#define SOCKS_REQ_MAX (8 + MP_MAX_PROXY_USER + 1 + MP_MAX_PROXY_HOST + 1)
/* base64 of "user:password" (RFC 7617), NUL included. */
#define BASIC_B64_MAX (((MP_MAX_PROXY_USER + 1 + MP_MAX_PROXY_PASS + 2) / 3) * 4 + 1)
#define HTTP_REQ_MAX  (2 * (MP_MAX_PROXY_HOST + 16) + BASIC_B64_MAX + 128)
/* Characters of server text quoted in a message. */
#define QUOTE_MAX 100

/* Copies untrusted bytes into out as printable ASCII: '"' and '\' and bytes
 * outside 0x20..0x7e become escapes, and more than QUOTE_MAX input bytes end
 * in "...". Returns out. */
static char *quote(const char *in, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	size_t i;

	for (i = 0; i < len && i < QUOTE_MAX && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	if (i < len && o + 4 <= outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Turns a read or write failure of the stream into a proxy status: a timeout
 * is MP_ERR_PROXY_TIMEOUT, everything else a broken handshake. */
static enum mp_status io_failure(struct mp_error *err, const char *proto, const char *stage)
{
	char below[MP_MAX_ERROR];

	snprintf(below, sizeof(below), "%s", err->msg);
	switch (err->code) {
	case MP_ERR_TIMEOUT:
		return mp_error_set(err, MP_ERR_PROXY_TIMEOUT,
		                    "%s proxy did not answer before the deadline (%s)", proto,
		                    stage);
	case MP_ERR_INTERNAL:
		return MP_ERR_INTERNAL;
	case MP_ERR_CLOSED:
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "%s proxy closed the connection during the handshake (%s)",
		                    proto, stage);
	default:
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "%s proxy connection failed during the handshake (%s): %s",
		                    proto, stage, below);
	}
}

/* Writes a whole request; a failure becomes a proxy status. */
static enum mp_status send_all(struct stream *s, const void *buf, size_t len, int64_t deadline,
                               const char *proto, const char *stage, struct mp_error *err)
{
	if (stream_write(s, buf, len, deadline, err) != 0)
		return io_failure(err, proto, stage);
	return MP_OK;
}

/* Reads exactly len bytes, never more. EOF before that is a protocol error. */
static enum mp_status read_exact(struct stream *s, void *buf, size_t len, int64_t deadline,
                                 const char *proto, const char *stage, struct mp_error *err)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = stream_read(s, (char *)buf + got, len - got, deadline, err);

		if (n < 0)
			return io_failure(err, proto, stage);
		if (n == 0)
			return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
			                    "%s proxy closed the connection during the handshake "
			                    "(%s: %zu of %zu bytes received)",
			                    proto, stage, got, len);
		got += (size_t)n;
	}
	return MP_OK;
}

/* The address to ask for when we resolve the name ourselves (socks4,
 * socks5): target, or host itself when it is numeric. */
static enum mp_status own_target(const char *host, uint16_t port, const struct net_addr *target,
                                 struct net_addr *tmp, const struct net_addr **out,
                                 struct mp_error *err)
{
	if (target) {
		*out = target;
		return MP_OK;
	}
	if (net_parse_numeric(host, port, tmp) != 0)
		return mp_error_set(err, MP_ERR_INTERNAL,
		                    "%s was not resolved before the proxy handshake", host);
	*out = tmp;
	return MP_OK;
}

/* Checks a target host name we send to the proxy: not empty, at most
 * MP_MAX_PROXY_HOST bytes, no spaces or control bytes. */
static enum mp_status check_host(const char *host, struct mp_error *err)
{
	size_t len = strnlen(host, MP_MAX_PROXY_HOST + 1);

	if (len == 0)
		return mp_error_set(err, MP_ERR_INTERNAL, "empty target host for the proxy");
	if (len > MP_MAX_PROXY_HOST)
		return mp_error_set(err, MP_ERR_INTERNAL,
		                    "target host name is longer than %d bytes, which a proxy "
		                    "request cannot carry",
		                    MP_MAX_PROXY_HOST);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= 0x20 || c == 0x7f)
			return mp_error_set(err, MP_ERR_INTERNAL,
			                    "target host name has a byte (0x%02x) a proxy request "
			                    "cannot carry",
			                    c);
	}
	return MP_OK;
}

/* ---- SOCKS4 and SOCKS4a ---- */

/* Status and name of a SOCKS4 reply code (CD) other than "granted". */
static enum mp_status socks4_reply_status(unsigned cd, const char **name)
{
	switch (cd) {
	case 0x5b:
		*name = "request rejected or failed";
		return MP_ERR_PROXY_REFUSED;
	case 0x5c:
		*name = "request rejected because the proxy cannot reach identd on the client";
		return MP_ERR_PROXY_AUTH_FAILED;
	case 0x5d:
		*name = "request rejected because identd reports a different user id";
		return MP_ERR_PROXY_AUTH_FAILED;
	default:
		*name = "unknown reply code";
		return MP_ERR_PROXY_PROTOCOL;
	}
}

/* SOCKS4 CONNECT: VN=4 CD=1 DSTPORT DSTIP USERID NUL; SOCKS4a puts 0.0.0.1 in
 * DSTIP and appends the host name and NUL. The reply is VN=0 CD DSTPORT DSTIP. */
static enum mp_status socks4(const struct proxy_spec *p, struct stream *s, const char *host,
                             uint16_t port, const struct net_addr *target, int64_t deadline,
                             struct mp_error *err)
{
	const char *proto = p->type == PROXY_SOCKS4A ? "SOCKS4a" : "SOCKS4";
	unsigned char req[SOCKS_REQ_MAX];
	unsigned char reply[SOCKS4_REPLY_LEN];
	struct net_addr tmp;
	const struct net_addr *dst = NULL;
	struct in_addr ip4;
	bool send_name = false;
	size_t n = 0, ulen;
	enum mp_status st;
	const char *name = NULL;

	req[n++] = SOCKS4_VERSION;
	req[n++] = SOCKS_CMD_CONNECT;
	req[n++] = (unsigned char)(port >> 8);
	req[n++] = (unsigned char)(port & 0xff);
	if (p->type == PROXY_SOCKS4A && inet_pton(AF_INET, host, &ip4) != 1) {
		st = check_host(host, err);
		if (st != MP_OK)
			return st;
		/* 0.0.0.x with x != 0 tells the proxy to resolve the name. */
		memcpy(req + n, "\0\0\0\1", 4);
		send_name = true;
	} else if (p->type == PROXY_SOCKS4A) {
		memcpy(req + n, &ip4, 4);
	} else {
		st = own_target(host, port, target, &tmp, &dst, err);
		if (st != MP_OK)
			return st;
		if (dst->ss.ss_family != AF_INET)
			return mp_error_set(err, MP_ERR_PROXY_TARGET_UNREACHABLE,
			                    "SOCKS4 cannot connect to the IPv6 address %s: use "
			                    "socks4a://, socks5:// or socks5h://",
			                    dst->text);
		memcpy(req + n, &((const struct sockaddr_in *)&dst->ss)->sin_addr, 4);
	}
	n += 4;
	ulen = p->has_user ? strnlen(p->user, MP_MAX_PROXY_USER + 1) : 0;
	if (ulen > MP_MAX_PROXY_USER)
		return mp_error_set(err, MP_ERR_INTERNAL, "SOCKS4 user id is too long");
	memcpy(req + n, p->user, ulen);
	n += ulen;
	req[n++] = '\0';
	if (send_name) {
		size_t hlen = strlen(host);

		memcpy(req + n, host, hlen);
		n += hlen;
		req[n++] = '\0';
	}
	st = send_all(s, req, n, deadline, proto, "sending the connect request", err);
	if (st != MP_OK)
		return st;
	st = read_exact(s, reply, 2, deadline, proto, "connect reply", err);
	if (st != MP_OK)
		return st;
	if (reply[0] != SOCKS4_REPLY_VERSION)
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "%s reply has version %u, expected 0: is this a %s proxy?",
		                    proto, reply[0], proto);
	if (reply[1] != SOCKS4_GRANTED) {
		st = socks4_reply_status(reply[1], &name);
		return mp_error_set(err, st, "%s reply 0x%02x: %s (target %s:%u)", proto, reply[1],
		                    name, host, (unsigned)port);
	}
	return read_exact(s, reply + 2, sizeof(reply) - 2, deadline, proto, "connect reply", err);
}

/* ---- SOCKS5 ---- */

/* Status and name of a SOCKS5 reply code REP (RFC 1928 section 6). The
 * target's failures (0x03-0x06) are not the proxy's fault. */
static enum mp_status socks5_reply_status(unsigned rep, const char **name)
{
	switch (rep) {
	case 0x01:
		*name = "general failure";
		return MP_ERR_PROXY_REFUSED;
	case 0x02:
		*name = "connection not allowed by ruleset";
		return MP_ERR_PROXY_REFUSED;
	case 0x03:
		*name = "network unreachable";
		return MP_ERR_PROXY_TARGET_UNREACHABLE;
	case 0x04:
		*name = "host unreachable";
		return MP_ERR_PROXY_TARGET_UNREACHABLE;
	case 0x05:
		*name = "connection refused";
		return MP_ERR_PROXY_TARGET_UNREACHABLE;
	case 0x06:
		*name = "TTL expired";
		return MP_ERR_PROXY_TARGET_UNREACHABLE;
	case 0x07:
		*name = "command not supported";
		return MP_ERR_PROXY_REFUSED;
	case 0x08:
		*name = "address type not supported";
		return MP_ERR_PROXY_REFUSED;
	default:
		*name = "unassigned reply code";
		return MP_ERR_PROXY_PROTOCOL;
	}
}

/* Method selection (RFC 1928 section 3): offer "no authentication" and, with
 * a user name, "username/password". *method gets the proxy's choice. */
static enum mp_status socks5_greet(const struct proxy_spec *p, struct stream *s, int64_t deadline,
                                   unsigned char *method, struct mp_error *err)
{
	unsigned char req[4] = {SOCKS5_VERSION, 1, SOCKS5_METHOD_NONE, SOCKS5_METHOD_USERPASS};
	unsigned char reply[2];
	enum mp_status st;

	if (p->has_user)
		req[1] = 2;
	st = send_all(s, req, 2 + (size_t)req[1], deadline, "SOCKS5", "sending the greeting", err);
	if (st != MP_OK)
		return st;
	st = read_exact(s, reply, sizeof(reply), deadline, "SOCKS5", "method selection reply", err);
	if (st != MP_OK)
		return st;
	if (reply[0] != SOCKS5_VERSION)
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "SOCKS5 method selection reply has version %u, expected 5: is "
		                    "this a SOCKS5 proxy?",
		                    reply[0]);
	if (reply[1] == SOCKS5_METHOD_REFUSED) {
		if (p->has_user)
			return mp_error_set(err, MP_ERR_PROXY_AUTH_REQUIRED,
			                    "SOCKS5 proxy accepts none of the offered methods (no "
			                    "authentication, username/password): no acceptable "
			                    "methods");
		return mp_error_set(err, MP_ERR_PROXY_AUTH_REQUIRED,
		                    "SOCKS5 proxy requires authentication: no acceptable methods "
		                    "(give user:password@ in the proxy URL)");
	}
	if (reply[1] != SOCKS5_METHOD_NONE && !(reply[1] == SOCKS5_METHOD_USERPASS && p->has_user))
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "SOCKS5 proxy chose method 0x%02x, which was not offered",
		                    reply[1]);
	*method = reply[1];
	return MP_OK;
}

/* Username/password sub-negotiation (RFC 1929 section 2): VER=1 ULEN UNAME
 * PLEN PASSWD; the reply is VER=1 STATUS, 0 meaning success. */
static enum mp_status socks5_auth(const struct proxy_spec *p, struct stream *s, int64_t deadline,
                                  struct mp_error *err)
{
	unsigned char req[3 + MP_MAX_PROXY_USER + MP_MAX_PROXY_PASS];
	unsigned char reply[2];
	size_t ulen = strnlen(p->user, MP_MAX_PROXY_USER + 1);
	size_t plen = p->has_pass ? strnlen(p->pass, MP_MAX_PROXY_PASS + 1) : 0;
	char quoted[4 * QUOTE_MAX + 8];
	size_t n = 0;
	enum mp_status st;

	if (ulen > MP_MAX_PROXY_USER || plen > MP_MAX_PROXY_PASS)
		return mp_error_set(err, MP_ERR_INTERNAL,
		                    "SOCKS5 user name or password longer than %d bytes",
		                    MP_MAX_PROXY_USER);
	req[n++] = SOCKS5_AUTH_VERSION;
	req[n++] = (unsigned char)ulen;
	memcpy(req + n, p->user, ulen);
	n += ulen;
	req[n++] = (unsigned char)plen;
	memcpy(req + n, p->pass, plen);
	n += plen;
	st = send_all(s, req, n, deadline, "SOCKS5", "sending the user name and password", err);
	explicit_bzero(req, sizeof(req));
	if (st != MP_OK)
		return st;
	st =
	    read_exact(s, reply, sizeof(reply), deadline, "SOCKS5", "username/password reply", err);
	if (st != MP_OK)
		return st;
	if (reply[0] != SOCKS5_AUTH_VERSION)
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "SOCKS5 username/password reply has version %u, expected 1 "
		                    "(RFC 1929)",
		                    reply[0]);
	if (reply[1] != 0)
		return mp_error_set(err, MP_ERR_PROXY_AUTH_FAILED,
		                    "SOCKS5 proxy rejected the user name or password of user "
		                    "\"%s\" (status 0x%02x)",
		                    quote(p->user, ulen, quoted, sizeof(quoted)), reply[1]);
	return MP_OK;
}

/* CONNECT request (RFC 1928 section 4) and its reply (section 6), read to
 * its last byte: VER REP RSV ATYP BND.ADDR BND.PORT. */
static enum mp_status socks5_connect(const struct proxy_spec *p, struct stream *s, const char *host,
                                     uint16_t port, const struct net_addr *target, int64_t deadline,
                                     struct mp_error *err)
{
	unsigned char req[6 + 1 + MP_MAX_PROXY_HOST];
	unsigned char reply[4 + 1 + 255 + 2];
	struct net_addr tmp;
	const struct net_addr *dst = NULL;
	struct in_addr ip4;
	struct in6_addr ip6;
	size_t n = 0, alen;
	enum mp_status st;
	const char *name = NULL;

	req[n++] = SOCKS5_VERSION;
	req[n++] = SOCKS_CMD_CONNECT;
	req[n++] = 0;
	if (p->type == PROXY_SOCKS5H && inet_pton(AF_INET, host, &ip4) == 1) {
		req[n++] = SOCKS5_ATYP_IPV4;
		memcpy(req + n, &ip4, 4);
		n += 4;
	} else if (p->type == PROXY_SOCKS5H && inet_pton(AF_INET6, host, &ip6) == 1) {
		req[n++] = SOCKS5_ATYP_IPV6;
		memcpy(req + n, &ip6, 16);
		n += 16;
	} else if (p->type == PROXY_SOCKS5H) {
		size_t hlen;

		st = check_host(host, err);
		if (st != MP_OK)
			return st;
		hlen = strlen(host);
		req[n++] = SOCKS5_ATYP_DOMAIN;
		req[n++] = (unsigned char)hlen;
		memcpy(req + n, host, hlen);
		n += hlen;
	} else {
		st = own_target(host, port, target, &tmp, &dst, err);
		if (st != MP_OK)
			return st;
		if (dst->ss.ss_family == AF_INET) {
			req[n++] = SOCKS5_ATYP_IPV4;
			memcpy(req + n, &((const struct sockaddr_in *)&dst->ss)->sin_addr, 4);
			n += 4;
		} else if (dst->ss.ss_family == AF_INET6) {
			req[n++] = SOCKS5_ATYP_IPV6;
			memcpy(req + n, &((const struct sockaddr_in6 *)&dst->ss)->sin6_addr, 16);
			n += 16;
		} else {
			return mp_error_set(err, MP_ERR_INTERNAL,
			                    "target address of unknown family");
		}
	}
	req[n++] = (unsigned char)(port >> 8);
	req[n++] = (unsigned char)(port & 0xff);
	st = send_all(s, req, n, deadline, "SOCKS5", "sending the connect request", err);
	if (st != MP_OK)
		return st;
	/* VER and REP first: a failing proxy may close right after them. */
	st = read_exact(s, reply, 2, deadline, "SOCKS5", "connect reply", err);
	if (st != MP_OK)
		return st;
	if (reply[0] != SOCKS5_VERSION)
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "SOCKS5 connect reply has version %u, expected 5", reply[0]);
	if (reply[1] != SOCKS5_REPLY_OK) {
		st = socks5_reply_status(reply[1], &name);
		return mp_error_set(err, st, "SOCKS5 reply 0x%02x: %s (target %s:%u)", reply[1],
		                    name, host, (unsigned)port);
	}
	st = read_exact(s, reply + 2, 3, deadline, "SOCKS5", "connect reply", err);
	if (st != MP_OK)
		return st;
	switch (reply[3]) {
	case SOCKS5_ATYP_IPV4:
		alen = 4 - 1; /* the first address byte is already read */
		break;
	case SOCKS5_ATYP_IPV6:
		alen = 16 - 1;
		break;
	case SOCKS5_ATYP_DOMAIN:
		alen = reply[4]; /* the length byte was read */
		break;
	default:
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "SOCKS5 connect reply has unknown address type 0x%02x",
		                    reply[3]);
	}
	return read_exact(s, reply + 5, alen + 2, deadline, "SOCKS5", "connect reply", err);
}

/* SOCKS5: method selection, the RFC 1929 sub-negotiation when the proxy
 * chose it, then CONNECT. */
static enum mp_status socks5(const struct proxy_spec *p, struct stream *s, const char *host,
                             uint16_t port, const struct net_addr *target, int64_t deadline,
                             struct mp_error *err)
{
	unsigned char method = SOCKS5_METHOD_REFUSED;
	enum mp_status st;

	st = socks5_greet(p, s, deadline, &method, err);
	if (st != MP_OK)
		return st;
	if (method == SOCKS5_METHOD_USERPASS) {
		st = socks5_auth(p, s, deadline, err);
		if (st != MP_OK)
			return st;
	}
	return socks5_connect(p, s, host, port, target, deadline, err);
}

/* ---- HTTP CONNECT ---- */

/* base64 (RFC 4648 section 4) of in[0..len) into out, NUL-terminated; out
 * must hold 4 * ((len + 2) / 3) + 1 bytes. */
static void base64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tbl[(v >> 18) & 0x3f];
		out[o++] = tbl[(v >> 12) & 0x3f];
		out[o++] = i + 1 < len ? tbl[(v >> 6) & 0x3f] : '=';
		out[o++] = i + 2 < len ? tbl[v & 0x3f] : '=';
	}
	out[o] = '\0';
}

/* Builds the CONNECT request into req. Returns its length, or 0 when it does
 * not fit (which the limits rule out). */
static size_t http_build_request(const struct proxy_spec *p, const char *host, uint16_t port,
                                 char *req, size_t reqsz)
{
	unsigned char cred[MP_MAX_PROXY_USER + 1 + MP_MAX_PROXY_PASS];
	char b64[BASIC_B64_MAX];
	const char *lb = strchr(host, ':') ? "[" : "";
	const char *rb = *lb ? "]" : "";
	size_t ulen, plen;
	int n;

	if (p->has_user) {
		/* RFC 7617 section 2: Basic credentials are base64(user ":" password). */
		ulen = strnlen(p->user, MP_MAX_PROXY_USER);
		plen = p->has_pass ? strnlen(p->pass, MP_MAX_PROXY_PASS) : 0;
		memcpy(cred, p->user, ulen);
		cred[ulen] = ':';
		memcpy(cred + ulen + 1, p->pass, plen);
		base64_encode(cred, ulen + 1 + plen, b64);
		explicit_bzero(cred, sizeof(cred));
		n = snprintf(req, reqsz,
		             "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n"
		             "Proxy-Authorization: Basic %s\r\n\r\n",
		             lb, host, rb, (unsigned)port, lb, host, rb, (unsigned)port, b64);
		explicit_bzero(b64, sizeof(b64));
	} else {
		n = snprintf(req, reqsz, "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n\r\n",
		             lb, host, rb, (unsigned)port, lb, host, rb, (unsigned)port);
	}
	if (n < 0 || (size_t)n >= reqsz)
		return 0;
	return (size_t)n;
}

/* Reads one header line byte by byte up to its LF, so that not a byte past the
 * header is consumed. A line, CR LF included, may be linesz bytes long; *total
 * counts header bytes against MP_MAX_PROXY_HEADER. Stores the line without
 * CR LF (it may hold NULs: *len is its length). */
static enum mp_status http_read_line(struct stream *s, char *line, size_t linesz, size_t *len,
                                     size_t *total, int64_t deadline, struct mp_error *err)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r;

		if (*total >= MP_MAX_PROXY_HEADER)
			return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
			                    "HTTP proxy reply header is longer than %d bytes",
			                    MP_MAX_PROXY_HEADER);
		r = stream_read(s, &c, 1, deadline, err);
		if (r < 0)
			return io_failure(err, "HTTP", "reading the reply header");
		if (r == 0)
			return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
			                    "HTTP proxy closed the connection during the handshake "
			                    "(after %zu bytes of the reply header)",
			                    *total);
		(*total)++;
		if (c == '\n')
			break;
		if (n + 1 >= linesz)
			return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
			                    "HTTP proxy reply has a header line longer than %zu "
			                    "bytes",
			                    linesz);
		line[n++] = c;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	*len = n;
	return MP_OK;
}

/* Parses "HTTP/x.y SSS reason" (RFC 9112 section 4). Returns the status code,
 * or -1 when the line is not a status line. */
static int http_status_code(const char *line, size_t len)
{
	if (len < 12 || memcmp(line, "HTTP/", 5) != 0)
		return -1;
	if (line[5] < '0' || line[5] > '9' || line[6] != '.' || line[7] < '0' || line[7] > '9' ||
	    line[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	if (len > 12 && line[12] != ' ')
		return -1;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* Maps a non-2xx CONNECT reply to a status and message. 407 is the proxy's
 * "authenticate first" (RFC 9110 section 15.5.8); tinyproxy 1.11 answers
 * wrong credentials with 401 instead, so 401 counts as 407 here. */
static enum mp_status http_failure(const struct proxy_spec *p, const char *host, uint16_t port,
                                   int code, const char *status_line, struct mp_error *err)
{
	char user[4 * QUOTE_MAX + 8];

	if (code == 401)
		code = 407;
	if (code == 407 && p->has_user)
		return mp_error_set(err, MP_ERR_PROXY_AUTH_FAILED,
		                    "HTTP proxy rejected the credentials of user \"%s\": \"%s\"",
		                    quote(p->user, strlen(p->user), user, sizeof(user)),
		                    status_line);
	if (code == 407)
		return mp_error_set(err, MP_ERR_PROXY_AUTH_REQUIRED,
		                    "HTTP proxy requires authentication (give user:password@ in "
		                    "the proxy URL): \"%s\"",
		                    status_line);
	if (code == 403)
		return mp_error_set(err, MP_ERR_PROXY_REFUSED,
		                    "HTTP proxy refused CONNECT to %s:%u: \"%s\"", host,
		                    (unsigned)port, status_line);
	if (code == 502 || code == 503 || code == 504)
		return mp_error_set(err, MP_ERR_PROXY_TARGET_UNREACHABLE,
		                    "HTTP proxy could not reach %s:%u: \"%s\"", host,
		                    (unsigned)port, status_line);
	return mp_error_set(err, MP_ERR_PROXY_REFUSED,
	                    "HTTP proxy refused CONNECT to %s:%u: \"%s\"", host, (unsigned)port,
	                    status_line);
}

/* HTTP CONNECT: a 2xx status line means the tunnel is open once the header
 * (up to its blank line) has been read. */
static enum mp_status http_connect(const struct proxy_spec *p, struct stream *s, const char *host,
                                   uint16_t port, int64_t deadline, struct mp_error *err)
{
	char req[HTTP_REQ_MAX];
	char line[MP_MAX_LINE];
	char quoted[4 * QUOTE_MAX + 8];
	size_t reqlen, len = 0, total = 0;
	enum mp_status st;
	int code;

	st = check_host(host, err);
	if (st != MP_OK)
		return st;
	reqlen = http_build_request(p, host, port, req, sizeof(req));
	if (reqlen == 0)
		return mp_error_set(err, MP_ERR_INTERNAL, "HTTP CONNECT request too long");
	st = send_all(s, req, reqlen, deadline, "HTTP", "sending CONNECT", err);
	explicit_bzero(req, sizeof(req));
	if (st != MP_OK)
		return st;
	st = http_read_line(s, line, sizeof(line), &len, &total, deadline, err);
	if (st != MP_OK)
		return st;
	quote(line, len, quoted, sizeof(quoted));
	code = http_status_code(line, len);
	if (code < 0)
		return mp_error_set(err, MP_ERR_PROXY_PROTOCOL,
		                    "HTTP proxy reply is not a status line: \"%s\"", quoted);
	if (code < 200 || code > 299)
		return http_failure(p, host, port, code, quoted, err);
	/* The header ends with an empty line (RFC 9112 section 2.1). */
	for (;;) {
		st = http_read_line(s, line, sizeof(line), &len, &total, deadline, err);
		if (st != MP_OK)
			return st;
		if (len == 0)
			return MP_OK;
	}
}

enum mp_status proxy_handshake(const struct proxy_spec *p, struct stream *s, const char *host,
                               uint16_t port, const struct net_addr *target, int64_t deadline,
                               struct mp_error *err)
{
	struct mp_error local;

	if (!err)
		err = &local;
	mp_error_clear(err);
	if (!p || !s || !host)
		return mp_error_set(err, MP_ERR_INTERNAL, "proxy handshake without a proxy");
	switch (p->type) {
	case PROXY_SOCKS4:
	case PROXY_SOCKS4A:
		return socks4(p, s, host, port, target, deadline, err);
	case PROXY_SOCKS5:
	case PROXY_SOCKS5H:
		return socks5(p, s, host, port, target, deadline, err);
	case PROXY_HTTP:
		return http_connect(p, s, host, port, deadline, err);
	default:
		return mp_error_set(err, MP_ERR_INTERNAL, "unknown proxy type %d", (int)p->type);
	}
}
