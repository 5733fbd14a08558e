/* targets.c - targets from a file or standard input, and the shard hash. */
#include "probe/engine/targets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FNV_PRIME 0x100000001b3ULL

uint64_t target_hash_feed(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* splitmix64's finaliser: spreads FNV's low bits, which N divides. */
uint64_t target_hash_finish(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

uint64_t target_hash(const char *s, size_t len)
{
	return target_hash_finish(target_hash_feed(TARGET_HASH_INIT, s, len));
}

bool target_in_shard(uint64_t h, unsigned index, unsigned count)
{
	return count <= 1 || h % count == index;
}

int target_parse_shard(const char *s, unsigned *index, unsigned *count, struct mp_error *err)
{
	char *end = NULL;
	unsigned long i, n;

	errno = 0;
	i = strtoul(s, &end, 10);
	if (errno || end == s || *end != '/' || s[0] == '-' || s[0] == '+')
		goto bad;
	s = end + 1;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || n < 1 || n > MP_MAX_SHARDS ||
	    i >= n)
		goto bad;
	*index = (unsigned)i;
	*count = (unsigned)n;
	return 0;
bad:
	mp_error_set(err, MP_ERR_INTERNAL,
	             "--shard expects I/N with 0 <= I < N <= %d (e.g. 0/4 for the first "
	             "of four shards)",
	             MP_MAX_SHARDS);
	return -1;
}

int targets_open(struct target_reader *r, const char *path, struct mp_error *err)
{
	struct stat st;
	int fd;

	if (strcmp(path, "-") == 0) {
		targets_open_fd(r, STDIN_FILENO);
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "-i: cannot read %.200s: %s", path,
		             strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		mp_error_set(err, MP_ERR_INTERNAL,
		             "-i: %.200s is a directory: give a file with one target per line",
		             path);
		return -1;
	}
	targets_open_fd(r, fd);
	r->own_fd = true;
	return 0;
}

void targets_open_fd(struct target_reader *r, int fd)
{
	r->fd = fd;
	r->own_fd = false;
	r->eof = false;
	r->pos = r->len = 0;
	r->line = 0;
	r->text[0] = '\0';
}

void targets_close(struct target_reader *r)
{
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->own_fd = false;
}

/* Refills the buffer. Returns 1, 0 at the end, -1 on error. */
static int refill(struct target_reader *r, struct mp_error *err)
{
	ssize_t got;

	if (r->eof)
		return 0;
	do
		got = read(r->fd, r->buf, sizeof(r->buf));
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "-i: read error at line %lu: %s", r->line + 1,
		             strerror(errno));
		return -1;
	}
	r->pos = 0;
	r->len = (size_t)got;
	if (got == 0)
		r->eof = true;
	return got > 0;
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Replaces every byte that is not printable ASCII with '?', keeping at most
 * MP_TARGET_QUOTE bytes ("..." marks a cut). */
static size_t make_printable(char *s, size_t len)
{
	bool cut = len > MP_TARGET_QUOTE;

	if (cut)
		len = MP_TARGET_QUOTE;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			s[i] = '?';
	if (cut) {
		memcpy(s + len, "...", 3);
		len += 3;
	}
	s[len] = '\0';
	return len;
}

int targets_next(struct target_reader *r, struct target_item *it, struct mp_error *err)
{
	for (;;) {
		size_t kept = 0, total = 0;
		uint64_t raw = TARGET_HASH_INIT;
		bool pending_cr = false, any = false;
		int first = -1; /* first non-blank byte */

		/* One line: bytes up to '\n' or the end of the input. */
		for (;;) {
			unsigned char c;

			if (r->pos >= r->len) {
				int rc = refill(r, err);

				if (rc < 0)
					return -1;
				if (rc == 0)
					break;
			}
			any = true;
			c = (unsigned char)r->buf[r->pos++];
			if (c == '\n')
				break;
			if (pending_cr)
				raw = target_hash_feed(raw, "\r", 1);
			pending_cr = c == '\r';
			if (!pending_cr)
				raw = target_hash_feed(raw, (const char *)&c, 1);
			if (first < 0 && !is_blank(c))
				first = c;
			if (kept < MP_MAX_TARGET_LINE)
				r->text[kept++] = (char)c;
			total++;
		}
		if (!any)
			return 0;
		r->line++;
		if (first < 0 || first == '#')
			continue;
		it->line = r->line;
		if (total > MP_MAX_TARGET_LINE) {
			it->kind = TARGET_TOO_LONG;
			it->hash = target_hash_finish(raw);
			it->len = make_printable(r->text, kept);
			it->text = r->text;
			return 1;
		}
		/* Trimmed text. */
		{
			size_t a = 0, b = kept;

			while (a < b && is_blank((unsigned char)r->text[a]))
				a++;
			while (b > a && is_blank((unsigned char)r->text[b - 1]))
				b--;
			memmove(r->text, r->text + a, b - a);
			kept = b - a;
			r->text[kept] = '\0';
		}
		it->hash = target_hash(r->text, kept);
		it->kind = TARGET_TEXT;
		for (size_t i = 0; i < kept; i++)
			if ((unsigned char)r->text[i] < 0x20 || (unsigned char)r->text[i] == 0x7f)
				it->kind = TARGET_BINARY;
		if (it->kind == TARGET_BINARY)
			kept = make_printable(r->text, kept);
		it->text = r->text;
		it->len = kept;
		return 1;
	}
}
