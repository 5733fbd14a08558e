/* targets.h - targets from a file or standard input (-i FILE, -i -), one per
 * line, read through a bounded buffer: a line longer than
 * MP_MAX_TARGET_LINE is read through without being held; and the stable
 * hash that --shard I/N divides targets by.
 *
 * Lines are counted from 1, every line (blank ones and comments too). Blank
 * lines and lines whose first non-blank character is '#' are skipped. The
 * text of a line is untrusted: it may hold any byte.
 */
#ifndef MP_TARGETS_H
#define MP_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/status.h"

enum target_kind {
	TARGET_TEXT,     /* text holds the trimmed line */
	TARGET_TOO_LONG, /* longer than MP_MAX_TARGET_LINE: text holds its start */
	TARGET_BINARY,   /* holds a control byte (NUL included): text made printable */
};

/* One line that names a target (or tries to). */
struct target_item {
	enum target_kind kind;
	const char *text; /* NUL-terminated, valid until the next call */
	size_t len;
	unsigned long line;
	uint64_t hash; /* target_hash() of the trimmed text (raw line when too long) */
};

struct target_reader {
	int fd;
	bool own_fd;
	bool eof;
	size_t pos, len;
	unsigned long line;
	char buf[MP_TARGET_READ_CHUNK];
	char text[MP_MAX_TARGET_LINE + 1];
};

/* Opens path ("-" = standard input). A directory, or a file that cannot be
 * opened, is an error (err names the file and why). Returns 0 or -1. */
int targets_open(struct target_reader *r, const char *path, struct mp_error *err);
/* Reads from fd (not closed by targets_close). */
void targets_open_fd(struct target_reader *r, int fd);
/* The next line that is neither blank nor a comment. Returns 1 with *it, 0
 * at the end of the input, -1 on a read error (err). */
int targets_next(struct target_reader *r, struct target_item *it, struct mp_error *err);
void targets_close(struct target_reader *r);

/* A stable 64-bit hash of s[0..len): FNV-1a with a splitmix64 finaliser,
 * the same on every machine and run. */
uint64_t target_hash(const char *s, size_t len);
/* Streaming form: start with TARGET_HASH_INIT, feed bytes, then finish. */
#define TARGET_HASH_INIT 0xcbf29ce484222325ULL
uint64_t target_hash_feed(uint64_t h, const char *s, size_t len);
uint64_t target_hash_finish(uint64_t h);
/* True when a target of hash h belongs to shard index of count (0 <= index
 * < count); with count 0 or 1 every target does. */
bool target_in_shard(uint64_t h, unsigned index, unsigned count);
/* Parses "I/N" (0 <= I < N <= MP_MAX_SHARDS). Returns 0 or -1 with err. */
int target_parse_shard(const char *s, unsigned *index, unsigned *count, struct mp_error *err);

#endif
