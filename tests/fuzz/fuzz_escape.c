/* fuzz_escape.c - the escapes of untrusted text (reports/escape.c).
 *
 * Input: d[0] is the width esc_utf8_truncate() cuts to; the rest is the
 * untrusted text. Checks the policies escape.h promises: JSON output is valid
 * UTF-8 without NUL and equal to the input when the input already was valid
 * UTF-8 without NUL; terminal output is valid UTF-8 with no control character
 * (C0, DEL, C1, bidi and line-separator format characters) and is what
 * esc_term_write() writes; no output grows past ESC_MAX_GROWTH bytes per input
 * byte; truncation keeps a prefix and the width it promises.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/escape.h"

/* The terminal policy's control characters (escape.h). */
static bool term_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Checks one escaped copy of len input bytes; returns its code points. */
static size_t check_escaped(const char *out, size_t len, bool term)
{
	const unsigned char *p = (const unsigned char *)out;
	size_t olen = strlen(out), i = 0, ncp = 0;

	FUZZ_CHECK(olen <= len * ESC_MAX_GROWTH, "%s escape made %zu bytes of %zu",
	           term ? "terminal" : "JSON", olen, len);
	while (i < olen) {
		uint32_t cp = 0;
		size_t step = fuzz_utf8_next(p + i, olen - i, &cp);

		FUZZ_CHECK(step > 0, "%s escape left invalid UTF-8 at byte %zu (0x%02x)",
		           term ? "terminal" : "JSON", i, p[i]);
		FUZZ_CHECK(!term || !term_control(cp),
		           "terminal escape let control character U+%04X through at byte %zu",
		           (unsigned)cp, i);
		i += step;
		ncp++;
	}
	return ncp;
}

/* esc_utf8_truncate on a copy of the valid UTF-8 string s of ncp code points. */
static void check_truncate(const char *s, size_t ncp, size_t max)
{
	char *t = fuzz_strndup(s, strlen(s));
	size_t slen = strlen(s), tlen, tcp = 0;

	FUZZ_CHECK(esc_utf8_truncate(t, max) == t, "truncate returned another pointer");
	tlen = strlen(t);
	FUZZ_CHECK(fuzz_utf8_valid(t, tlen, &tcp), "truncate to %zu made invalid UTF-8", max);
	FUZZ_CHECK(esc_utf8_width(t) == tcp, "width %zu, but %zu code points", esc_utf8_width(t),
	           tcp);
	if (ncp <= max) {
		FUZZ_CHECK(strcmp(s, t) == 0, "truncate to %zu changed a string of width %zu", max,
		           ncp);
	} else {
		size_t keep = max >= 3 ? tlen - 3 : tlen;

		FUZZ_CHECK(tcp <= max, "truncate to %zu left width %zu", max, tcp);
		FUZZ_CHECK(keep <= slen && memcmp(s, t, keep) == 0,
		           "truncate did not keep a prefix");
		FUZZ_CHECK(max < 3 || strcmp(t + tlen - 3, "...") == 0,
		           "truncate to %zu did not end in \"...\"", max);
	}
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;
	size_t len, ncp_in = 0, ncp_json, ncp_term, mlen = 0;
	char *json = NULL, *term = NULL, *mem = NULL;
	FILE *f = NULL;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	len = size - 1;

	json = esc_json_dup(len ? in : NULL, len);
	FUZZ_CHECK(json, "esc_json_dup failed");
	ncp_json = check_escaped(json, len, false);
	FUZZ_CHECK(esc_utf8_width(json) == ncp_json, "width %zu of %zu code points",
	           esc_utf8_width(json), ncp_json);
	if (fuzz_utf8_valid(in, len, &ncp_in) && !memchr(in, '\0', len))
		FUZZ_CHECK(strlen(json) == len && memcmp(json, in, len) == 0,
		           "JSON escape changed valid UTF-8");

	term = esc_term_dup(in, len);
	FUZZ_CHECK(term, "esc_term_dup failed");
	ncp_term = check_escaped(term, len, true);

	f = open_memstream(&mem, &mlen);
	FUZZ_CHECK(f, "open_memstream failed");
	FUZZ_CHECK(esc_term_write(f, in, len) == 0, "esc_term_write failed");
	FUZZ_CHECK(fclose(f) == 0, "fclose failed");
	FUZZ_CHECK(mlen == strlen(term) && memcmp(mem, term, mlen) == 0,
	           "esc_term_write wrote other bytes than esc_term_dup made");

	check_truncate(json, ncp_json, data[0]);
	check_truncate(term, ncp_term, data[0] % 40);

	free(mem);
	free(term);
	free(json);
	return 0;
}
