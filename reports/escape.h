/* escape.h - making untrusted (server-supplied) text safe to output.
 *
 * Two policies, one per sink:
 * - JSON: the result is valid UTF-8 (RFC 3629). Valid sequences pass
 *   unchanged; every byte that is not part of one, and NUL (which a C string
 *   cannot carry), becomes the four characters \xHH, so nothing is dropped
 *   silently. Control characters are left to cJSON, which writes \u00XX.
 * - Terminal: as above, and every control character (C0, DEL, C1, and the
 *   Unicode bidirectional/line-separator format characters) becomes a visible
 *   escape (\n, \r, \t, \xHH per byte), so no escape sequence reaches the
 *   terminal.
 * Both escapes write at most ESC_MAX_GROWTH bytes per input byte.
 */
#ifndef MP_ESCAPE_H
#define MP_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Upper bound of output bytes per input byte, for both policies. */
#define ESC_MAX_GROWTH 4

/* A malloc'd, NUL-terminated, valid UTF-8 copy of s[0..len) (JSON policy).
 * s may be NULL when len is 0. Returns NULL when out of memory. */
char *esc_json_dup(const char *s, size_t len);
/* A malloc'd, NUL-terminated copy of s[0..len) safe for a terminal. */
char *esc_term_dup(const char *s, size_t len);
/* Writes s[0..len) to f, escaped for a terminal. Returns 0, or -1 on a write
 * error. Does not allocate. */
int esc_term_write(FILE *f, const char *s, size_t len);
/* Number of code points in a valid UTF-8 string (its width in a table). */
size_t esc_utf8_width(const char *s);
/* Shortens the valid UTF-8 string s in place to at most max code points,
 * ending with "..." when something was cut (max >= 3). Returns s. */
char *esc_utf8_truncate(char *s, size_t max);

/* Where esc_markup_write() puts text: HTML text (also safe inside a quoted
 * attribute value), XML character data, an XML attribute value, or XML
 * character data that must stay on one line. */
enum esc_markup_sink { ESC_HTML, ESC_XML_TEXT, ESC_XML_ATTR, ESC_XML_LINE };
/* Writes the valid UTF-8 string s for sink: the markup characters & < > " '
 * as entities; tab, LF and CR as character references in an XML attribute
 * (they survive attribute normalisation), as \xHH on one line; other C0
 * controls, and the noncharacters HTML calls a parse error (U+FDD0..U+FDEF,
 * U+xFFFE, U+xFFFF; in XML only U+FFFE and U+FFFF, which XML 1.0 excludes),
 * as \xHH per byte. Does not allocate. */
void esc_markup_write(FILE *f, const char *s, enum esc_markup_sink sink);

#endif
