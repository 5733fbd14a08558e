/* stream.c - the stream dispatch functions and the TCP socket stream. */
#include "core/stream.h"
#include "core/deadline.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

ssize_t stream_read(struct stream *s, void *buf, size_t len, int64_t deadline, struct mp_error *err)
{
	return s->ops->read(s, buf, len, deadline, err);
}

int stream_write(struct stream *s, const void *buf, size_t len, int64_t deadline,
                 struct mp_error *err)
{
	return s->ops->write(s, buf, len, deadline, err);
}

size_t stream_pending(struct stream *s)
{
	return s->ops->pending ? s->ops->pending(s) : 0;
}

void stream_close(struct stream *s)
{
	if (s)
		s->ops->close(s);
}

/* Waits until fd is ready for events or the deadline passes.
 * Returns 1 ready, 0 timeout, -1 error (errno set). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int rc;

	for (;;) {
		rc = poll(&pfd, 1, deadline_left_ms(deadline));
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
		if (deadline_expired(deadline))
			return 0;
	}
}

/* Acknowledges at once instead of delaying the ACK (Linux delays it up to
 * 40 ms). A server that writes its reply in pieces with Nagle's algorithm
 * on (Postfix after a TLS 1.3 handshake: session tickets, then the greeting)
 * otherwise waits for that ACK before sending the rest. Quick-ACK mode is
 * not sticky, so it is renewed after every read. */
static void quick_ack(int fd)
{
#ifdef TCP_QUICKACK
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
	(void)fd;
#endif
}

static ssize_t fd_read(struct stream *s, void *buf, size_t len, int64_t deadline,
                       struct mp_error *err)
{
	for (;;) {
		ssize_t n = recv(s->fd, buf, len, 0);
		int rc;

		if (n > 0)
			quick_ack(s->fd);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			mp_error_set(err, errno == ECONNRESET ? MP_ERR_NETWORK : MP_ERR_NETWORK,
			             "read failed: %s",
			             errno == ECONNRESET ? "connection reset by peer"
			                                 : strerror(errno));
			return -1;
		}
		rc = wait_fd(s->fd, POLLIN, deadline);
		if (rc == 0) {
			mp_error_set(err, MP_ERR_TIMEOUT, "no data before the deadline");
			return -1;
		}
		if (rc < 0) {
			mp_error_set(err, MP_ERR_NETWORK, "poll failed: %s", strerror(errno));
			return -1;
		}
	}
}

static int fd_write(struct stream *s, const void *buf, size_t len, int64_t deadline,
                    struct mp_error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
		int rc;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == EPIPE)
				mp_error_set(err, MP_ERR_CLOSED, "server closed the connection");
			else
				mp_error_set(err, MP_ERR_NETWORK, "write failed: %s",
				             errno == ECONNRESET ? "connection reset by peer"
				                                 : strerror(errno));
			return -1;
		}
		rc = wait_fd(s->fd, POLLOUT, deadline);
		if (rc == 0) {
			mp_error_set(err, MP_ERR_TIMEOUT, "could not send before the deadline");
			return -1;
		}
		if (rc < 0) {
			mp_error_set(err, MP_ERR_NETWORK, "poll failed: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static size_t fd_pending(struct stream *s)
{
	(void)s;
	return 0;
}

static void fd_close(struct stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static const struct stream_ops fd_ops = {
    .name = "tcp",
    .read = fd_read,
    .write = fd_write,
    .pending = fd_pending,
    .close = fd_close,
};

struct stream *stream_fd_new(int fd)
{
	struct stream *s = calloc(1, sizeof(*s));
	int flags;

	if (!s)
		return NULL;
	flags = fcntl(fd, F_GETFL, 0);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	s->ops = &fd_ops;
	s->fd = fd;
	return s;
}
