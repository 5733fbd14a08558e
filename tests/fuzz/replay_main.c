/* replay_main.c - runs a fuzz target's LLVMFuzzerTestOneInput on every file
 * of the given corpus directories (or files), without libFuzzer, so that the
 * ordinary test suite (gcc, and ASan+UBSan in the sanitizer build) replays
 * the seeds and every crash ever found.
 *
 * Usage: fuzzreplay_<target> DIR|FILE...
 * Exits 0 when every input ran, 1 when a path cannot be read or a directory
 * holds no input at all; a broken invariant aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input file replayed (libFuzzer's inputs are far smaller). */
#define REPLAY_MAX_FILE (1024 * 1024)

/* Reads path and runs it; returns 0, or -1 when it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf = NULL;
	size_t n = 0;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || st.st_size > REPLAY_MAX_FILE) {
		fprintf(stderr, "replay: %s: unreadable or larger than %d bytes\n", path,
		        REPLAY_MAX_FILE);
		goto out;
	}
	n = (size_t)st.st_size;
	/* Exactly n bytes, so that ASan sees a read past the input. */
	buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != n) {
		fprintf(stderr, "replay: %s: cannot read %zu bytes\n", path, n);
		goto out;
	}
	LLVMFuzzerTestOneInput(buf, n);
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* Orders directory entries by name, so runs are reproducible. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Keeps regular-looking entries, skipping "." files (.gitkeep, editors'). */
static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Replays every file of dir; *count is increased per input. Returns 0 or -1. */
static int replay_dir(const char *dir, size_t *count)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, not_hidden, by_name);
	int rc = 0;

	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) >=
		    (int)sizeof(path)) {
			rc = -1;
		} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) != 0)
				rc = -1;
			else
				(*count)++;
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

int main(int argc, char **argv)
{
	size_t total = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		size_t count = 0;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) != 0)
				rc = 1;
		} else if (replay_file(argv[i]) == 0) {
			count = 1;
		} else {
			rc = 1;
		}
		printf("replay: %s: %zu inputs\n", argv[i], count);
		total += count;
	}
	printf("replay: %zu inputs in all, no invariant broken\n", total);
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		rc = 1;
	}
	return rc;
}
