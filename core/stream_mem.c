/* stream_mem.c - an in-memory scripted stream for unit tests and fuzzing. */
#include "core/stream.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct mem_chunk {
	unsigned after_writes;
	char *data;
	size_t len, off;
};

struct mem_ctx {
	struct mem_chunk *chunks;
	size_t nchunks, cur;
	size_t max_read;
	bool closes;
	unsigned close_after;
	unsigned writes;
	char *written;
	size_t wlen;
};

static ssize_t mem_read(struct stream *s, void *buf, size_t len, int64_t deadline,
                        struct mp_error *err)
{
	struct mem_ctx *m = s->ctx;
	struct mem_chunk *c;
	size_t n;

	(void)deadline;
	while (m->cur < m->nchunks && m->chunks[m->cur].off == m->chunks[m->cur].len)
		m->cur++;
	if (m->cur == m->nchunks || m->chunks[m->cur].after_writes > m->writes) {
		if (m->cur == m->nchunks && m->closes && m->writes >= m->close_after)
			return 0;
		mp_error_set(err, MP_ERR_TIMEOUT, "no data before the deadline");
		return -1;
	}
	c = &m->chunks[m->cur];
	n = c->len - c->off;
	if (n > len)
		n = len;
	if (m->max_read && n > m->max_read)
		n = m->max_read;
	memcpy(buf, c->data + c->off, n);
	c->off += n;
	return (ssize_t)n;
}

static int mem_write(struct stream *s, const void *buf, size_t len, int64_t deadline,
                     struct mp_error *err)
{
	struct mem_ctx *m = s->ctx;
	char *nw = realloc(m->written, m->wlen + len + 1);

	(void)deadline;
	if (!nw) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return -1;
	}
	m->written = nw;
	memcpy(m->written + m->wlen, buf, len);
	m->wlen += len;
	m->written[m->wlen] = '\0';
	m->writes++;
	return 0;
}

static size_t mem_pending(struct stream *s)
{
	struct mem_ctx *m = s->ctx;
	size_t total = 0;

	for (size_t i = m->cur; i < m->nchunks; i++) {
		if (m->chunks[i].after_writes > m->writes)
			break;
		total += m->chunks[i].len - m->chunks[i].off;
	}
	return total;
}

static void mem_close(struct stream *s)
{
	struct mem_ctx *m = s->ctx;

	for (size_t i = 0; i < m->nchunks; i++)
		free(m->chunks[i].data);
	free(m->chunks);
	free(m->written);
	free(m);
	free(s);
}

static const struct stream_ops mem_ops = {
    .name = "mem",
    .read = mem_read,
    .write = mem_write,
    .pending = mem_pending,
    .close = mem_close,
};

struct stream *stream_mem_new(size_t max_read)
{
	struct stream *s = calloc(1, sizeof(*s));
	struct mem_ctx *m = calloc(1, sizeof(*m));

	if (!s || !m) {
		free(s);
		free(m);
		return NULL;
	}
	m->max_read = max_read;
	s->ops = &mem_ops;
	s->ctx = m;
	s->fd = -1;
	return s;
}

void stream_mem_add(struct stream *s, unsigned after_writes, const void *data, size_t len)
{
	struct mem_ctx *m = s->ctx;
	struct mem_chunk *nc = realloc(m->chunks, (m->nchunks + 1) * sizeof(*nc));
	char *copy = malloc(len ? len : 1);

	if (!nc || !copy) {
		free(copy);
		if (nc)
			m->chunks = nc;
		return;
	}
	m->chunks = nc;
	memcpy(copy, data, len);
	m->chunks[m->nchunks++] = (struct mem_chunk){after_writes, copy, len, 0};
}

void stream_mem_add_str(struct stream *s, unsigned after_writes, const char *data)
{
	stream_mem_add(s, after_writes, data, strlen(data));
}

void stream_mem_close_after(struct stream *s, unsigned after_writes)
{
	struct mem_ctx *m = s->ctx;

	m->closes = true;
	m->close_after = after_writes;
}

const char *stream_mem_written(struct stream *s, size_t *len)
{
	struct mem_ctx *m = s->ctx;

	if (len)
		*len = m->wlen;
	return m->written ? m->written : "";
}

unsigned stream_mem_writes(struct stream *s)
{
	return ((struct mem_ctx *)s->ctx)->writes;
}
