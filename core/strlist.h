/* strlist.h - a bounded list of owned strings. */
#ifndef MP_STRLIST_H
#define MP_STRLIST_H

#include <stddef.h>
#include <stdbool.h>

struct strlist {
	char **v;
	size_t n;
	bool truncated; /* an add was refused because of MP_MAX_CAPS */
};

/* Appends a copy of the first len bytes of s (at most MP_MAX_CAP_LEN kept).
 * Returns 0, or -1 when the list is full (truncated is set) or out of memory. */
int strlist_add(struct strlist *l, const char *s, size_t len);
int strlist_add_str(struct strlist *l, const char *s);
/* True if the list holds s, compared case-insensitively. */
bool strlist_has(const struct strlist *l, const char *s);
void strlist_clear(struct strlist *l);

#endif
