/* base64.c - strict base64 over wolfCrypt (see base64.h). */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

char *b64_encode(const void *data, size_t len)
{
	char *out = NULL;
	word32 outlen;
	size_t need;

	if (len > UINT32_MAX / 2)
		return NULL;
	need = (len + 2) / 3 * 4;
	out = malloc(need + 1);
	if (!out)
		return NULL;
	if (len == 0) {
		out[0] = '\0';
		return out;
	}
	outlen = (word32)need + 1;
	if (Base64_Encode_NoNl(data, (word32)len, (byte *)out, &outlen) != 0 || outlen != need) {
		free(out);
		return NULL;
	}
	out[need] = '\0';
	return out;
}

/* One character of the RFC 4648 section 4 alphabet (not '='). */
static bool b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

bool b64_valid(const char *text, size_t len)
{
	size_t pad = 0;
	size_t i;

	if (len % 4 != 0)
		return false;
	if (len > 0 && text[len - 1] == '=')
		pad = (len > 1 && text[len - 2] == '=') ? 2 : 1;
	for (i = 0; i < len - pad; i++) {
		if (!b64_char((unsigned char)text[i]))
			return false;
	}
	return true;
}

int b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *buf = NULL;
	word32 n;
	size_t cap;

	*out = NULL;
	*outlen = 0;
	if (!b64_valid(text, len) || len > UINT32_MAX / 2)
		return -1;
	cap = len / 4 * 3;
	buf = malloc(cap + 1);
	if (!buf)
		return -1;
	n = (word32)cap;
	if (len > 0 && Base64_Decode((const byte *)text, (word32)len, buf, &n) != 0) {
		free(buf);
		return -1;
	}
	if (len == 0)
		n = 0;
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

int hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
