/* escape.c - making untrusted (server-supplied) text safe to output. */
#include "reports/escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Most output bytes one escape step produces (a 4-byte sequence escaped as
 * four \xHH), plus room for the terminating NUL. */
#define ESC_STEP_MAX 17

/* Length of the valid UTF-8 sequence at p (RFC 3629 section 4: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if there is none there;
 * *cp gets the code point. */
static size_t utf8_decode(const unsigned char *p, size_t left, uint32_t *cp)
{
	unsigned char b = p[0], lo = 0x80, hi = 0xBF;
	size_t need;
	uint32_t c;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		need = 1;
		c = b & 0x1F;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 2;
		c = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0; /* overlong */
		else if (b == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 3;
		c = b & 0x07;
		if (b == 0xF0)
			lo = 0x90; /* overlong */
		else if (b == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (left < need + 1)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
		c = (c << 6) | (p[i] & 0x3F);
	}
	*cp = c;
	return need + 1;
}

/* Code points a terminal treats as controls or that reorder what is shown:
 * C0, DEL, C1 (ECMA-48: 0x9B is CSI), and the Unicode bidi embedding,
 * override and isolate characters and line/paragraph separators. */
static bool is_term_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Appends \xHH for each of the n bytes at p to out. */
static size_t put_hex(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 0x0F];
	}
	return o;
}

/* Escapes the character at p (left > 0 bytes remain) into out under the JSON
 * or terminal policy; *outlen gets the bytes written. Returns the input bytes
 * consumed (at least 1). */
static size_t esc_step(const unsigned char *p, size_t left, bool term, char *out, size_t *outlen)
{
	uint32_t cp = 0;
	size_t n = utf8_decode(p, left, &cp);

	if (n == 0 || cp == 0) {
		*outlen = put_hex(p, 1, out);
		return 1;
	}
	if (term && is_term_control(cp)) {
		if (cp == '\n' || cp == '\r' || cp == '\t') {
			out[0] = '\\';
			out[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
			*outlen = 2;
		} else {
			*outlen = put_hex(p, n, out);
		}
		return n;
	}
	memcpy(out, p, n);
	*outlen = n;
	return n;
}

/* A malloc'd escaped copy of s[0..len) under one policy. */
static char *esc_dup(const char *s, size_t len, bool term)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = NULL;
	size_t o = 0, i = 0, step;

	if (len > (SIZE_MAX - 1) / ESC_MAX_GROWTH)
		return NULL;
	out = malloc(len * ESC_MAX_GROWTH + 1);
	if (!out)
		return NULL;
	while (i < len) {
		i += esc_step(p + i, len - i, term, out + o, &step);
		o += step;
	}
	out[o] = '\0';
	return out;
}

char *esc_json_dup(const char *s, size_t len)
{
	return esc_dup(s, len, false);
}

char *esc_term_dup(const char *s, size_t len)
{
	return esc_dup(s, len, true);
}

int esc_term_write(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char buf[ESC_STEP_MAX];
	size_t i = 0, step;

	while (i < len) {
		i += esc_step(p + i, len - i, true, buf, &step);
		if (fwrite(buf, 1, step, f) != step)
			return -1;
	}
	return 0;
}

size_t esc_utf8_width(const char *s)
{
	size_t w = 0;

	/* Count every byte that does not continue a sequence (10xxxxxx). */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			w++;
	return w;
}

char *esc_utf8_truncate(char *s, size_t max)
{
	size_t w = 0, cut = 0, keep = max >= 3 ? max - 3 : max;
	unsigned char *p = (unsigned char *)s;
	size_t i;

	if (esc_utf8_width(s) <= max)
		return s;
	/* Find the byte offset where code point number `keep` starts. */
	for (i = 0; p[i]; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			if (w == keep)
				break;
			w++;
		}
	}
	cut = i;
	if (max >= 3) {
		memcpy(s + cut, "...", 4);
	} else {
		s[cut] = '\0';
	}
	return s;
}

/* Length of the noncharacter at p that sink escapes, or 0. */
static size_t markup_nonchar_len(const unsigned char *p, enum esc_markup_sink sink)
{
	if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
		return 3;
	if (sink != ESC_HTML)
		return 0;
	if (p[0] == 0xEF && p[1] == 0xB7 && p[2] >= 0x90 && p[2] <= 0xAF)
		return 3;
	if (p[0] >= 0xF0 && p[0] <= 0xF4 && (p[1] & 0x0F) == 0x0F && p[2] == 0xBF &&
	    (p[3] == 0xBE || p[3] == 0xBF))
		return 4;
	return 0;
}

void esc_markup_write(FILE *f, const char *s, enum esc_markup_sink sink)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		size_t nc = 0;

		switch (*p) {
		case '&':
			fputs("&amp;", f);
			continue;
		case '<':
			fputs("&lt;", f);
			continue;
		case '>':
			fputs("&gt;", f);
			continue;
		case '"':
			fputs("&quot;", f);
			continue;
		case '\'':
			fputs(sink == ESC_HTML ? "&#39;" : "&apos;", f);
			continue;
		case '\t':
		case '\n':
		case '\r':
			if (sink == ESC_XML_ATTR)
				fprintf(f, "&#%d;", *p);
			else if (sink == ESC_XML_LINE)
				fprintf(f, "\\x%02x", *p);
			else
				fputc(*p, f);
			continue;
		default:
			break;
		}
		if (*p < 0x20) {
			fprintf(f, "\\x%02x", *p);
			continue;
		}
		if (*p >= 0xEF)
			nc = markup_nonchar_len(p, sink);
		if (nc) {
			for (size_t i = 0; i < nc; i++)
				fprintf(f, "\\x%02x", p[i]);
			p += nc - 1;
		} else {
			fputc(*p, f);
		}
	}
}
