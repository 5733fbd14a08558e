/* transcript.h - a bounded record of a conversation.
 *
 * Entries are stored as given (raw server bytes included); escaping for a
 * terminal or JSON is the reports' job. Secrets never enter: callers record a
 * redacted form (see session_send_redacted).
 */
#ifndef MP_TRANSCRIPT_H
#define MP_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum transcript_dir { TR_CLIENT = 'C', TR_SERVER = 'S', TR_NOTE = '*' };

struct transcript_entry {
	char dir;      /* enum transcript_dir */
	int64_t at_ms; /* ms since the probe started */
	char *text;
	size_t len;
};

struct transcript {
	struct transcript_entry *e;
	size_t n, cap;
	size_t bytes;
	bool truncated; /* MP_MAX_TRANSCRIPT_BYTES or _LINES was hit */
	int64_t t0;     /* mono_ms() when the probe started */
};

void transcript_init(struct transcript *t, int64_t t0);
void transcript_add(struct transcript *t, enum transcript_dir dir, const char *text, size_t len);
void transcript_note(struct transcript *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void transcript_free(struct transcript *t);

#endif
