/* linereader.h - the one buffered line reader, on top of any stream.
 *
 * Lines end in LF (CRLF or bare LF); the terminator is stripped. A line longer
 * than MP_MAX_LINE is an error (MP_ERR_LINE_TOO_LONG), never a buffer growth.
 */
#ifndef MP_LINEREADER_H
#define MP_LINEREADER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "core/limits.h"
#include "core/status.h"
#include "core/stream.h"

struct linereader {
	struct stream *s;
	char buf[MP_MAX_LINE + 1];
	size_t start, end; /* buffered bytes are buf[start..end) */
	bool had_nul;      /* the last line returned contained a NUL byte */
	bool bare_lf;      /* the last line ended in LF without CR */
};

void lr_init(struct linereader *lr, struct stream *s);
/* Points the reader at a new stream (e.g. after TLS was pushed). The buffer
 * must be empty (call lr_discard first). */
void lr_set_stream(struct linereader *lr, struct stream *s);

/* Reads one line into out (NUL-terminated, at most outsz-1 bytes; a longer
 * line that still fits MP_MAX_LINE is truncated in out, *len gives the full
 * length). Returns MP_OK, MP_ERR_TIMEOUT, MP_ERR_CLOSED (EOF, also mid-line),
 * MP_ERR_LINE_TOO_LONG, MP_ERR_NETWORK or MP_ERR_TLS; err gets the message. */
enum mp_status lr_read_line(struct linereader *lr, int64_t deadline, char *out, size_t outsz,
                            size_t *len, struct mp_error *err);
/* Reads exactly n bytes (an IMAP literal) into out (may be NULL to skip them). */
enum mp_status lr_read_bytes(struct linereader *lr, int64_t deadline, char *out, size_t n,
                             struct mp_error *err);
/* Bytes buffered here plus bytes the stream holds: data that arrived and was
 * not yet consumed. */
size_t lr_pending(struct linereader *lr);
/* Drops what is buffered here; returns how many bytes were dropped. */
size_t lr_discard(struct linereader *lr);

#endif
