/* fuzz_common.h - helpers shared by the fuzz targets: splitting an input into
 * scripted server chunks, invariant checks that abort (so libFuzzer and the
 * replay driver both see a crash), and a UTF-8 validator.
 *
 * Every target defines LLVMFuzzerTestOneInput (libFuzzer's entry point);
 * replay_main.c calls it for each file of a corpus when built without
 * libFuzzer.
 */
#ifndef MP_FUZZ_COMMON_H
#define MP_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/dialects/dialect.h"

/* Separates server chunks in an input: chunk i becomes readable after the
 * client's i-th write (the dictionaries in dict/ name it too). */
#define FUZZ_SEP     "%%\n"
#define FUZZ_SEP_LEN 3
/* Most chunks taken from one input; the rest of the input is the last one. */
#define FUZZ_MAX_CHUNKS 64
/* Budget of one simulated probe or handshake. The in-memory stream never
 * waits, so it is never used up; a real deadline all the same. */
#define FUZZ_DEADLINE_MS 10000
/* Longest input a target looks at (libFuzzer's -max_len should be below). */
#define FUZZ_MAX_INPUT (256 * 1024)

struct fuzz_chunk {
	const uint8_t *p;
	size_t len;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken invariant on stderr and aborts. */
void fuzz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* Aborts with a message when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
	} while (0)

/* Splits data at every FUZZ_SEP into at most max chunks (the last chunk keeps
 * the rest). Returns the number of chunks (at least 1, maybe empty). */
size_t fuzz_split(const uint8_t *data, size_t size, struct fuzz_chunk *out, size_t max);

/* True when s[0..len) is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF); *ncp gets the code points if not NULL. */
bool fuzz_utf8_valid(const char *s, size_t len, size_t *ncp);

/* Decodes the valid UTF-8 sequence at s (left > 0 bytes); returns its length
 * (0 when invalid) and the code point in *cp. */
size_t fuzz_utf8_next(const unsigned char *s, size_t left, uint32_t *cp);

/* True when every byte of the NUL-terminated s is printable ASCII. */
bool fuzz_printable_ascii(const char *s);

/* A malloc'd NUL-terminated copy of p[0..len) (embedded NULs kept); aborts
 * when out of memory. */
char *fuzz_strndup(const void *p, size_t len);

/* Checks what a dialect left in a session and its result: bounded lists,
 * escaped error messages, no command injection into what the client wrote.
 * st is the status of the last step. */
void fuzz_check_session(const struct session *s, enum mp_status st, const char *written,
                        size_t wlen);

/* Drives dialect d through greeting, capabilities, STARTTLS, capabilities
 * again, optionally a login (the authenticate step with one SASL mechanism
 * and test credentials) and quit, over an in-memory server scripted by data:
 * data[0] is a flag byte (see fuzz_common.c), with DFLAG_AUTH data[1] the
 * auth byte, the rest the server chunks. */
void fuzz_run_dialect(const struct dialect *d, const uint8_t *data, size_t size);

#endif
