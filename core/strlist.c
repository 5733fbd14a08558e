/* strlist.c - a bounded list of owned strings. */
#include "core/strlist.h"
#include "core/limits.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int strlist_add(struct strlist *l, const char *s, size_t len)
{
	char **nv = NULL;
	char *copy = NULL;

	if (l->n >= MP_MAX_CAPS) {
		l->truncated = true;
		return -1;
	}
	if (len > MP_MAX_CAP_LEN)
		len = MP_MAX_CAP_LEN;
	copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -1;
	}
	l->v = nv;
	l->v[l->n++] = copy;
	return 0;
}

int strlist_add_str(struct strlist *l, const char *s)
{
	return strlist_add(l, s, strlen(s));
}

bool strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return true;
	return false;
}

void strlist_clear(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->truncated = false;
}
