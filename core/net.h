/* net.h - name resolution and TCP connect with deadlines. */
#ifndef MP_NET_H
#define MP_NET_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "core/status.h"

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* numeric form, without port */
};

/* Resolves host (name or numeric, IPv6 without brackets) for TCP port.
 * family: AF_UNSPEC, AF_INET or AF_INET6. Fills up to max addresses.
 * Returns MP_OK or MP_ERR_DNS (err says why: no such host, timeout...).
 * Uses getaddrinfo_a so the deadline is honoured. */
enum mp_status net_resolve(const char *host, uint16_t port, int family, int64_t deadline,
                           struct net_addr *out, size_t max, size_t *n, struct mp_error *err);

/* Parses a numeric address only (no DNS). Returns 0 or -1. */
int net_parse_numeric(const char *host, uint16_t port, struct net_addr *out);

/* Non-blocking connect, waiting with poll() until deadline. src (may be NULL)
 * is bound first (e.g. 127.0.0.2). On success *fd is a connected socket.
 * Returns MP_OK, MP_ERR_REFUSED, MP_ERR_UNREACHABLE, MP_ERR_CONNECT_TIMEOUT or
 * MP_ERR_NETWORK, with a message naming the address. */
enum mp_status net_connect(const struct net_addr *addr, const struct net_addr *src,
                           int64_t deadline, int *fd, struct mp_error *err);

/* "ipv4", "ipv6", or NULL when text is not a numeric address. */
const char *net_family_name(const char *text);

#endif
