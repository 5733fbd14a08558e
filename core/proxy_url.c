/* proxy_url.c - proxy URLs in curl's conventions, and proxy type names.
 *
 * scheme://[user[:password]@]host[:port][/]
 * The password is secret: no message built here ever quotes it, nor any part
 * of the URL that could contain it.
 */
#include "core/proxy.h"
#include "core/base64.h"
#include "core/limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KNOWN_SCHEMES "socks4://, socks4a://, socks5://, socks5h:// or http://"
/* Longest scheme we quote back in an error message. */
#define MAX_SCHEME_QUOTED 16
/* Digits in a port number (65535). */
#define MAX_PORT_DIGITS 5

struct scheme {
	const char *name;
	enum proxy_type type;
	uint16_t default_port;
};

static const struct scheme schemes[] = {
    {"socks4", PROXY_SOCKS4, 1080}, {"socks4a", PROXY_SOCKS4A, 1080},
    {"socks5", PROXY_SOCKS5, 1080}, {"socks5h", PROXY_SOCKS5H, 1080},
    {"http", PROXY_HTTP, 3128},
};

static const char *const type_names[PROXY_TYPE_COUNT] = {
    [PROXY_SOCKS4] = "socks4",   [PROXY_SOCKS4A] = "socks4a", [PROXY_SOCKS5] = "socks5",
    [PROXY_SOCKS5H] = "socks5h", [PROXY_HTTP] = "http",
};

const char *proxy_type_name(enum proxy_type t)
{
	if ((unsigned)t >= PROXY_TYPE_COUNT)
		return "unknown";
	return type_names[t];
}

bool proxy_resolves_remotely(enum proxy_type t)
{
	return t == PROXY_SOCKS4A || t == PROXY_SOCKS5H || t == PROXY_HTTP;
}

/* Percent-decodes src[0..len) (RFC 3986 section 2.1) into out, at most max
 * bytes plus a NUL. what names the field ("user name", "password"); the input
 * itself is never quoted. Returns 0, or -1 with err set. */
static int pct_decode(const char *src, size_t len, char *out, size_t max, const char *what,
                      struct mp_error *err)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '%') {
			int hi = len - i >= 3 ? hex_digit_value(src[i + 1]) : -1;
			int lo = len - i >= 3 ? hex_digit_value(src[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				mp_error_set(err, MP_ERR_INTERNAL,
				             "malformed percent-encoding in the proxy %s: '%%' "
				             "must be followed by two hex digits",
				             what);
				return -1;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
			if (c == '\0') {
				mp_error_set(err, MP_ERR_INTERNAL,
				             "the proxy %s contains a NUL byte (%%00)", what);
				return -1;
			}
		}
		if (o >= max) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "the proxy %s is longer than %d bytes (RFC 1929 limit)", what,
			             (int)max);
			return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Finds the scheme before "://". Returns 0 with *sc set and *rest after
 * "://", or -1 with err set (quoting the scheme only when it is one). */
static int parse_scheme(const char *url, const struct scheme **sc, const char **rest,
                        struct mp_error *err)
{
	const char *sep = strstr(url, "://");
	size_t len, i;

	if (!sep) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "proxy URL has no scheme: it must start with " KNOWN_SCHEMES);
		return -1;
	}
	len = (size_t)(sep - url);
	for (i = 0; i < len; i++) {
		char c = url[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';

		/* RFC 3986 section 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
		if (!alpha && !(i > 0 && other))
			break;
	}
	if (len == 0 || i < len || len > MAX_SCHEME_QUOTED) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "proxy URL has no valid scheme: it must start with " KNOWN_SCHEMES);
		return -1;
	}
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].name) == len && strncasecmp(url, schemes[i].name, len) == 0) {
			*sc = &schemes[i];
			*rest = sep + 3;
			return 0;
		}
	}
	mp_error_set(err, MP_ERR_INTERNAL, "unknown proxy scheme \"%.*s\": use " KNOWN_SCHEMES,
	             (int)len, url);
	return -1;
}

/* Parses user[:password] from ui[0..len). */
static int parse_userinfo(const char *ui, size_t len, struct proxy_spec *out, struct mp_error *err)
{
	const char *colon = memchr(ui, ':', len);
	size_t ulen = colon ? (size_t)(colon - ui) : len;

	if (ulen == 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "empty proxy user name before '@'");
		return -1;
	}
	if (pct_decode(ui, ulen, out->user, MP_MAX_PROXY_USER, "user name", err) != 0)
		return -1;
	out->has_user = true;
	if (colon) {
		if (pct_decode(colon + 1, len - ulen - 1, out->pass, MP_MAX_PROXY_PASS, "password",
		               err) != 0)
			return -1;
		out->has_pass = true;
	}
	return 0;
}

/* An IPv6 literal from inside brackets, with an optional zone id written
 * "%25zone" (RFC 6874). Stored without brackets, the zone as "%zone". */
static int parse_ipv6_host(const char *h, size_t len, struct proxy_spec *out, struct mp_error *err)
{
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	const char *zone = memchr(h, '%', len);
	size_t alen = zone ? (size_t)(zone - h) : len;

	if (alen == 0 || alen >= sizeof(addr)) {
		mp_error_set(err, MP_ERR_INTERNAL, "proxy host in brackets is not an IPv6 address");
		return -1;
	}
	memcpy(addr, h, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET6, addr, &a6) != 1) {
		mp_error_set(err, MP_ERR_INTERNAL, "proxy host [%s] is not an IPv6 address", addr);
		return -1;
	}
	memcpy(out->host, addr, alen + 1);
	if (zone) {
		size_t zlen = len - alen;

		if (zlen <= 3 || strncmp(zone, "%25", 3) != 0) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "IPv6 zone id in the proxy host must be written %%25zone");
			return -1;
		}
		if (alen + zlen - 2 >= sizeof(out->host)) {
			mp_error_set(err, MP_ERR_INTERNAL, "proxy host is too long");
			return -1;
		}
		for (size_t i = 3; i < zlen; i++) {
			char c = zone[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
				mp_error_set(err, MP_ERR_INTERNAL,
				             "IPv6 zone id in the proxy host has an invalid "
				             "character");
				return -1;
			}
		}
		out->host[alen] = '%';
		memcpy(out->host + alen + 1, zone + 3, zlen - 3);
		out->host[alen + zlen - 2] = '\0';
	}
	return 0;
}

/* A host name or IPv4 address: letters, digits, '-', '.', '_'. */
static int parse_name_host(const char *h, size_t len, struct proxy_spec *out, struct mp_error *err)
{
	if (len > MP_MAX_PROXY_HOST) {
		mp_error_set(err, MP_ERR_INTERNAL, "proxy host name is longer than %d bytes",
		             MP_MAX_PROXY_HOST);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_')) {
			if (c > 0x20 && c < 0x7f)
				mp_error_set(err, MP_ERR_INTERNAL,
				             "proxy host name has an invalid character '%c'", c);
			else
				mp_error_set(err, MP_ERR_INTERNAL,
				             "proxy host name has an invalid byte 0x%02x", c);
			return -1;
		}
	}
	memcpy(out->host, h, len);
	out->host[len] = '\0';
	return 0;
}

/* Parses the decimal port p[0..len), 1..65535. */
static int parse_port(const char *p, size_t len, uint16_t *port, struct mp_error *err)
{
	char digits[MAX_PORT_DIGITS + 1];
	char *end = NULL;
	long v;

	if (len == 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "empty proxy port after ':'");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9') {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "proxy port must be a number from 1 to 65535");
			return -1;
		}
	}
	while (len > 1 && *p == '0') {
		p++;
		len--;
	}
	if (len > MAX_PORT_DIGITS) {
		mp_error_set(err, MP_ERR_INTERNAL, "proxy port must be from 1 to 65535");
		return -1;
	}
	memcpy(digits, p, len);
	digits[len] = '\0';
	v = strtol(digits, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535) {
		mp_error_set(err, MP_ERR_INTERNAL, "proxy port must be from 1 to 65535");
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* Parses host[:port] or [v6][:port] from hp[0..len). */
static int parse_hostport(const char *hp, size_t len, struct proxy_spec *out, struct mp_error *err)
{
	const char *after;

	if (len > 0 && hp[0] == '[') {
		const char *close = memchr(hp, ']', len);

		if (!close) {
			mp_error_set(err, MP_ERR_INTERNAL, "proxy host has '[' without ']'");
			return -1;
		}
		if (parse_ipv6_host(hp + 1, (size_t)(close - hp - 1), out, err) != 0)
			return -1;
		after = close + 1;
	} else {
		const char *colon = memchr(hp, ':', len);
		size_t hlen = colon ? (size_t)(colon - hp) : len;

		if (colon && memchr(colon + 1, ':', len - hlen - 1)) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "proxy host has several ':': write an IPv6 address in "
			             "brackets, e.g. socks5://[::1]:1080");
			return -1;
		}
		if (hlen == 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "proxy URL has no host");
			return -1;
		}
		if (parse_name_host(hp, hlen, out, err) != 0)
			return -1;
		after = hp + hlen;
	}
	if (after == hp + len)
		return 0;
	if (*after != ':') {
		mp_error_set(err, MP_ERR_INTERNAL, "unexpected text after ']' in the proxy host");
		return -1;
	}
	return parse_port(after + 1, (size_t)(hp + len - after - 1), &out->port, err);
}

int proxy_parse_url(const char *url, struct proxy_spec *out, struct mp_error *err)
{
	const struct scheme *sc = NULL;
	const char *rest = NULL, *auth_end, *at;

	memset(out, 0, sizeof(*out));
	if (!url || !*url) {
		mp_error_set(err, MP_ERR_INTERNAL, "empty proxy URL");
		goto fail;
	}
	if (parse_scheme(url, &sc, &rest, err) != 0)
		goto fail;
	out->type = sc->type;
	out->port = sc->default_port;
	/* RFC 3986 section 3.2: the authority ends at the first '/', '?' or '#'. */
	auth_end = rest + strcspn(rest, "/?#");
	if (*auth_end != '\0' && strcmp(auth_end, "/") != 0) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "proxy URL may not have a path, query or fragment (only a trailing "
		             "'/'); write '/', '?', '#' in a user name or password as %%2F, %%3F, "
		             "%%23");
		goto fail;
	}
	at = memrchr(rest, '@', (size_t)(auth_end - rest));
	if (at) {
		if (parse_userinfo(rest, (size_t)(at - rest), out, err) != 0)
			goto fail;
		rest = at + 1;
	}
	if (rest == auth_end) {
		mp_error_set(err, MP_ERR_INTERNAL, "proxy URL has no host");
		goto fail;
	}
	if (parse_hostport(rest, (size_t)(auth_end - rest), out, err) != 0)
		goto fail;
	if ((out->type == PROXY_SOCKS4 || out->type == PROXY_SOCKS4A) && out->has_pass) {
		mp_error_set(err, MP_ERR_INTERNAL, "%s proxies take a user id but no password",
		             sc->name);
		goto fail;
	}
	return 0;
fail:
	explicit_bzero(out, sizeof(*out));
	return -1;
}
