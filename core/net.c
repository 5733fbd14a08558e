/* net.c - name resolution and TCP connect with deadlines. */
#include "core/net.h"
#include "core/deadline.h"
#include "core/sanitizer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Fills out from a sockaddr (copying it and writing its numeric text). */
static void addr_from_sockaddr(struct net_addr *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (len > sizeof(out->ss))
		len = sizeof(out->ss);
	memcpy(&out->ss, sa, len);
	out->len = len;
	if (getnameinfo(sa, len, out->text, sizeof(out->text), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out->text, sizeof(out->text), "?");
}

int net_parse_numeric(const char *host, uint16_t port, struct net_addr *out)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		addr_from_sockaddr(out, (struct sockaddr *)&sin, sizeof(sin));
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		addr_from_sockaddr(out, (struct sockaddr *)&sin6, sizeof(sin6));
		return 0;
	}
	return -1;
}

enum mp_status net_resolve(const char *host, uint16_t port, int family, int64_t deadline,
                           struct net_addr *out, size_t max, size_t *n, struct mp_error *err)
{
	struct gaicb req;
	struct gaicb *list[1] = {&req};
	struct addrinfo hints;
	char service[8];
	int rc;

	*n = 0;
	if (max == 0)
		return mp_error_set(err, MP_ERR_INTERNAL, "no room for addresses");
	if (net_parse_numeric(host, port, &out[0]) == 0) {
		if (family != AF_UNSPEC && out[0].ss.ss_family != family)
			return mp_error_set(err, MP_ERR_DNS,
			                    "%s is not an address of the requested family", host);
		*n = 1;
		return MP_OK;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	memset(&req, 0, sizeof(req));
	req.ar_name = host;
	req.ar_service = service;
	req.ar_request = &hints;
#ifdef MP_TSAN
	/* sanitizer.h: no deadline in the ThreadSanitizer build */
	(void)list;
	rc = getaddrinfo(host, service, &hints, &req.ar_result);
#else
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0)
		return mp_error_set(err, MP_ERR_DNS, "cannot resolve %s: %s", host,
		                    gai_strerror(rc));
	for (;;) {
		int left = deadline_left_ms(deadline);
		struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
		const struct gaicb *wait[1] = {&req};

		rc = gai_error(&req);
		if (rc != EAI_INPROGRESS)
			break;
		if (left <= 0) {
			gai_cancel(&req);
			/* A request that cannot be cancelled is still running: wait for it,
			 * since req lives on our stack. glibc bounds it by the resolver's
			 * own timeouts. */
			while (gai_error(&req) == EAI_INPROGRESS) {
				struct timespec tick = {0, 10 * 1000000L};
				gai_suspend(wait, 1, &tick);
			}
			if (req.ar_result)
				freeaddrinfo(req.ar_result);
			return mp_error_set(err, MP_ERR_DNS, "resolving %s timed out", host);
		}
		gai_suspend(wait, 1, &ts);
	}
#endif
	if (rc != 0)
		return mp_error_set(err, MP_ERR_DNS, "cannot resolve %s: %s", host,
		                    rc == EAI_NONAME ? "no such host" : gai_strerror(rc));
	for (struct addrinfo *ai = req.ar_result; ai && *n < max; ai = ai->ai_next)
		addr_from_sockaddr(&out[(*n)++], ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(req.ar_result);
	if (*n == 0)
		return mp_error_set(err, MP_ERR_DNS, "cannot resolve %s: no addresses", host);
	return MP_OK;
}

/* Maps a connect errno to a status and message. */
static enum mp_status connect_error(int e, const struct net_addr *addr, struct mp_error *err)
{
	uint16_t port = addr->ss.ss_family == AF_INET6
	                    ? ntohs(((const struct sockaddr_in6 *)&addr->ss)->sin6_port)
	                    : ntohs(((const struct sockaddr_in *)&addr->ss)->sin_port);
	bool v6 = addr->ss.ss_family == AF_INET6;
	char where[96];

	snprintf(where, sizeof(where), "%s%s%s:%u", v6 ? "[" : "", addr->text, v6 ? "]" : "",
	         (unsigned)port);
	switch (e) {
	case ECONNREFUSED:
		return mp_error_set(err, MP_ERR_REFUSED,
		                    "connection to %s refused: nothing listens on that port",
		                    where);
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return mp_error_set(err, MP_ERR_UNREACHABLE, "%s is unreachable: %s", where,
		                    strerror(e));
	case ETIMEDOUT:
		return mp_error_set(err, MP_ERR_CONNECT_TIMEOUT, "connecting to %s timed out",
		                    where);
	default:
		return mp_error_set(err, MP_ERR_NETWORK, "connecting to %s failed: %s", where,
		                    strerror(e));
	}
}

enum mp_status net_connect(const struct net_addr *addr, const struct net_addr *src,
                           int64_t deadline, int *fd_out, struct mp_error *err)
{
	int fd = -1;
	int one = 1;
	enum mp_status st = MP_OK;

	*fd_out = -1;
	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		st = connect_error(errno, addr, err);
		goto out;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src && bind(fd, (const struct sockaddr *)&src->ss, src->len) != 0) {
		st = mp_error_set(err, MP_ERR_NETWORK, "cannot bind local address %s: %s",
		                  src->text, strerror(errno));
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t slen = sizeof(soerr);
		int rc;

		if (errno != EINPROGRESS) {
			st = connect_error(errno, addr, err);
			goto out;
		}
		do {
			rc = poll(&pfd, 1, deadline_left_ms(deadline));
		} while (rc < 0 && errno == EINTR && !deadline_expired(deadline));
		if (rc == 0 || (rc < 0 && errno == EINTR)) {
			st = connect_error(ETIMEDOUT, addr, err);
			goto out;
		}
		if (rc < 0) {
			st = connect_error(errno, addr, err);
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0)
			soerr = errno;
		if (soerr != 0) {
			st = connect_error(soerr, addr, err);
			goto out;
		}
	}
	*fd_out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return st;
}

const char *net_family_name(const char *text)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (!text || !text[0])
		return NULL;
	if (inet_pton(AF_INET, text, buf) == 1)
		return "ipv4";
	if (inet_pton(AF_INET6, text, buf) == 1)
		return "ipv6";
	return NULL;
}
