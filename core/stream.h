/* stream.h - a byte stream with deadlines: TCP socket, TLS, proxy tunnel, or
 * an in-memory script for tests.
 *
 * Streams stack: a TLS stream reads and writes through the stream below it
 * and owns it. Closing the top closes the whole stack.
 * Every call takes an absolute deadline (deadline.h) and waits with poll().
 */
#ifndef MP_STREAM_H
#define MP_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>
#include "core/status.h"

struct stream;

struct stream_ops {
	const char *name;
	/* Reads up to len bytes. Returns >0 bytes read, 0 on orderly EOF, or -1
	 * with err set: MP_ERR_TIMEOUT when the deadline passed, MP_ERR_NETWORK
	 * (reset and other socket errors), MP_ERR_TLS (TLS layer). */
	ssize_t (*read)(struct stream *s, void *buf, size_t len, int64_t deadline,
	                struct mp_error *err);
	/* Writes all len bytes. Returns 0, or -1 with err set (MP_ERR_TIMEOUT,
	 * MP_ERR_CLOSED, MP_ERR_NETWORK, MP_ERR_TLS). */
	int (*write)(struct stream *s, const void *buf, size_t len, int64_t deadline,
	             struct mp_error *err);
	/* Bytes this layer (and the layers below) already hold that read() would
	 * return without waiting on the network. */
	size_t (*pending)(struct stream *s);
	/* Frees this layer and every layer below. */
	void (*close)(struct stream *s);
};

struct stream {
	const struct stream_ops *ops;
	void *ctx;            /* the layer's own state */
	struct stream *lower; /* the layer below, or NULL */
	int fd;               /* the socket at the bottom of the stack, or -1 */
};

ssize_t stream_read(struct stream *s, void *buf, size_t len, int64_t deadline,
                    struct mp_error *err);
int stream_write(struct stream *s, const void *buf, size_t len, int64_t deadline,
                 struct mp_error *err);
size_t stream_pending(struct stream *s);
/* Closes the stack; NULL is accepted. */
void stream_close(struct stream *s);

/* A stream over a connected socket; takes ownership of fd (sets O_NONBLOCK). */
struct stream *stream_fd_new(int fd);

/* ---- In-memory scripted stream, for unit tests and fuzzing ----
 * The "server" side is a list of chunks. Each chunk becomes readable once the
 * client has made at least `after_writes` write() calls. A read with nothing
 * readable returns MP_ERR_TIMEOUT at once (a silent server), or 0 (EOF) after
 * stream_mem_close_after() has been reached. Each read returns at most
 * `max_read` bytes (1 trickles a byte at a time). Client writes are recorded. */
struct stream *stream_mem_new(size_t max_read);
/* Queues server bytes that become readable after `after_writes` client writes. */
void stream_mem_add(struct stream *s, unsigned after_writes, const void *data, size_t len);
void stream_mem_add_str(struct stream *s, unsigned after_writes, const char *data);
/* After all queued data is read and `after_writes` writes were made, reads return EOF. */
void stream_mem_close_after(struct stream *s, unsigned after_writes);
/* Everything the client wrote, NUL-terminated; *len set if not NULL. */
const char *stream_mem_written(struct stream *s, size_t *len);
/* Number of write() calls the client made. */
unsigned stream_mem_writes(struct stream *s);

#endif
