/* linereader.c - the one buffered line reader. */
#include "core/linereader.h"

#include <string.h>

void lr_init(struct linereader *lr, struct stream *s)
{
	memset(lr, 0, sizeof(*lr));
	lr->s = s;
}

void lr_set_stream(struct linereader *lr, struct stream *s)
{
	lr->s = s;
}

/* Moves buffered bytes to the front so there is room to read more. */
static void lr_compact(struct linereader *lr)
{
	if (lr->start == 0)
		return;
	memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
	lr->end -= lr->start;
	lr->start = 0;
}

/* Reads more bytes into the buffer. Returns MP_OK or an error status. */
static enum mp_status lr_fill(struct linereader *lr, int64_t deadline, struct mp_error *err)
{
	ssize_t n;

	lr_compact(lr);
	n = stream_read(lr->s, lr->buf + lr->end, MP_MAX_LINE - lr->end, deadline, err);
	if (n > 0) {
		lr->end += (size_t)n;
		return MP_OK;
	}
	if (n == 0)
		return mp_error_set(err, MP_ERR_CLOSED, "server closed the connection");
	return err ? err->code : MP_ERR_NETWORK;
}

enum mp_status lr_read_line(struct linereader *lr, int64_t deadline, char *out, size_t outsz,
                            size_t *len, struct mp_error *err)
{
	size_t scanned = 0;

	for (;;) {
		char *nl =
		    memchr(lr->buf + lr->start + scanned, '\n', lr->end - lr->start - scanned);
		enum mp_status st;

		if (nl) {
			size_t linelen = (size_t)(nl - (lr->buf + lr->start));
			size_t copy;

			lr->bare_lf = !(linelen > 0 && nl[-1] == '\r');
			if (!lr->bare_lf)
				linelen--;
			lr->had_nul = memchr(lr->buf + lr->start, '\0', linelen) != NULL;
			copy = linelen < outsz ? linelen : (outsz ? outsz - 1 : 0);
			if (outsz) {
				memcpy(out, lr->buf + lr->start, copy);
				out[copy] = '\0';
			}
			if (len)
				*len = linelen;
			lr->start = (size_t)(nl - lr->buf) + 1;
			if (lr->start == lr->end)
				lr->start = lr->end = 0;
			return MP_OK;
		}
		scanned = lr->end - lr->start;
		if (scanned >= MP_MAX_LINE)
			return mp_error_set(err, MP_ERR_LINE_TOO_LONG,
			                    "server sent a line longer than %d bytes", MP_MAX_LINE);
		st = lr_fill(lr, deadline, err);
		if (st != MP_OK)
			return st;
	}
}

enum mp_status lr_read_bytes(struct linereader *lr, int64_t deadline, char *out, size_t n,
                             struct mp_error *err)
{
	while (n > 0) {
		size_t have = lr->end - lr->start;
		enum mp_status st;

		if (have > 0) {
			size_t take = have < n ? have : n;

			if (out) {
				memcpy(out, lr->buf + lr->start, take);
				out += take;
			}
			lr->start += take;
			n -= take;
			if (lr->start == lr->end)
				lr->start = lr->end = 0;
			continue;
		}
		st = lr_fill(lr, deadline, err);
		if (st != MP_OK)
			return st;
	}
	return MP_OK;
}

size_t lr_pending(struct linereader *lr)
{
	return (lr->end - lr->start) + (lr->s ? stream_pending(lr->s) : 0);
}

size_t lr_discard(struct linereader *lr)
{
	size_t n = lr->end - lr->start;

	lr->start = lr->end = 0;
	return n;
}
