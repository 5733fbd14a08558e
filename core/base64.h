/* base64.h - base64 (RFC 4648 section 4) over wolfCrypt's coder.
 *
 * Decoding is strict, because its input is untrusted server data: the
 * standard alphabet only, no whitespace, length a multiple of 4, padding
 * only at the end. wolfCrypt's own decoder is lenient, so input is checked
 * here before it is handed over.
 */
#ifndef MP_BASE64_H
#define MP_BASE64_H

#include <stddef.h>
#include <stdbool.h>

/* Encodes data[0..len) without line breaks into a new NUL-terminated string
 * ("" for len 0). Returns NULL when out of memory. Caller frees (wipe first
 * when data was secret). */
char *b64_encode(const void *data, size_t len);

/* True when text[0..len) is strict, padded base64 (the empty string is). */
bool b64_valid(const char *text, size_t len);

/* Decodes text[0..len) (untrusted) into a new buffer *out of *outlen bytes,
 * followed by a NUL that *outlen does not count, so text can be parsed in
 * place. Returns 0, or -1 when the input is not strict base64 (see b64_valid)
 * or memory runs out; then *out is NULL. */
int b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen);

/* The value of one hexadecimal digit (base16, RFC 4648 section 8, either
 * case), or -1 when c is not one. */
int hex_digit_value(int c);

#endif
