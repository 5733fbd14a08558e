/* transcript.c - a bounded record of a conversation. */
#include "core/transcript.h"
#include "core/deadline.h"
#include "core/limits.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void transcript_init(struct transcript *t, int64_t t0)
{
	memset(t, 0, sizeof(*t));
	t->t0 = t0;
}

void transcript_add(struct transcript *t, enum transcript_dir dir, const char *text, size_t len)
{
	struct transcript_entry *e;
	char *copy = NULL;

	if (t->n >= MP_MAX_TRANSCRIPT_LINES || t->bytes + len > MP_MAX_TRANSCRIPT_BYTES) {
		t->truncated = true;
		return;
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct transcript_entry *ne = realloc(t->e, ncap * sizeof(*ne));

		if (!ne)
			return;
		t->e = ne;
		t->cap = ncap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	e = &t->e[t->n++];
	e->dir = (char)dir;
	e->at_ms = mono_ms() - t->t0;
	e->text = copy;
	e->len = len;
	t->bytes += len;
}

void transcript_note(struct transcript *t, const char *fmt, ...)
{
	char buf[MP_MAX_ERROR];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	transcript_add(t, TR_NOTE, buf, (size_t)n);
}

void transcript_free(struct transcript *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].text);
	free(t->e);
	t->e = NULL;
	t->n = t->cap = 0;
	t->bytes = 0;
}
