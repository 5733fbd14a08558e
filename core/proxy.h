/* proxy.h - SOCKS4, SOCKS4a, SOCKS5 (RFC 1928/1929) and HTTP CONNECT tunnels
 * over an already connected stream.
 */
#ifndef MP_PROXY_H
#define MP_PROXY_H

#include <stdint.h>
#include <stdbool.h>
#include "core/status.h"
#include "core/stream.h"

enum proxy_type {
	PROXY_SOCKS4,
	PROXY_SOCKS4A, /* the proxy resolves the target name */
	PROXY_SOCKS5,  /* we resolve the target name */
	PROXY_SOCKS5H, /* the proxy resolves the target name */
	PROXY_HTTP,    /* HTTP CONNECT */
	PROXY_TYPE_COUNT
};

struct proxy_spec {
	enum proxy_type type;
	char host[256]; /* name or address, IPv6 without brackets */
	uint16_t port;
	char user[256]; /* "" when none */
	char pass[256]; /* "" when none; never printed or reported */
	bool has_user;
	bool has_pass;
};

struct net_addr;

/* "socks4", "socks4a", "socks5", "socks5h", "http" */
const char *proxy_type_name(enum proxy_type t);
/* True when the proxy, not we, resolves the target name (socks4a, socks5h, http). */
bool proxy_resolves_remotely(enum proxy_type t);

/* Parses a proxy URL in curl's conventions: scheme://[user[:password]@]host[:port]
 * with percent-decoding and [IPv6] literals; the port defaults to 1080 for
 * SOCKS and 3128 for http. Returns 0, or -1 with err->msg saying what is wrong. */
int proxy_parse_url(const char *url, struct proxy_spec *out, struct mp_error *err);

/* Runs the proxy handshake over s, which is connected to the proxy, so that s
 * then carries bytes to host:port. target is the resolved address of host when
 * the proxy does not resolve it (socks4, socks5), else NULL.
 * Returns MP_OK or one of the MP_ERR_PROXY_* statuses (or MP_ERR_TIMEOUT as
 * MP_ERR_PROXY_TIMEOUT), with err->msg naming the reply (e.g. "SOCKS5 reply
 * 0x05: connection refused by destination"). The password never appears in
 * err. */
enum mp_status proxy_handshake(const struct proxy_spec *p, struct stream *s, const char *host,
                               uint16_t port, const struct net_addr *target, int64_t deadline,
                               struct mp_error *err);

#endif
