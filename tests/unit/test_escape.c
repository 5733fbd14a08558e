/* test_escape.c - the JSON (valid UTF-8) and terminal escapes of
 * reports/escape.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/escape.h"

/* A string literal and its length (embedded NULs included). */
#define LIT(s) s, sizeof(s) - 1
/* Random inputs per property test, and their longest length. */
#define FUZZ_ROUNDS  2000
#define FUZZ_MAX_LEN 64

/* True when buf[0..len) is valid UTF-8, decided by glibc's iconv (an
 * implementation independent of escape.c). */
static bool iconv_valid_utf8(const char *buf, size_t len)
{
	iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
	char out[FUZZ_MAX_LEN * 4 * 4 + 16];
	char *in = (char *)buf, *op = out;
	size_t inleft = len, outleft = sizeof(out);
	size_t rc;

	assert_true(cd != (iconv_t)-1);
	assert_true(len * 4 <= sizeof(out));
	rc = iconv(cd, &in, &inleft, &op, &outleft);
	iconv_close(cd);
	return rc != (size_t)-1 && inleft == 0;
}

/* Escapes with the JSON policy and compares with want. */
static void check_json(const char *in, size_t len, const char *want)
{
	char *got = esc_json_dup(in, len);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Escapes with the terminal policy (both entry points) and compares. */
static void check_term(const char *in, size_t len, const char *want)
{
	char *got = esc_term_dup(in, len);
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_non_null(f);
	assert_int_equal(esc_term_write(f, in, len), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(memlen, strlen(want));
	assert_memory_equal(mem, want, memlen);
	free(mem);
	free(got);
}

static void test_valid_utf8_unchanged(void **state)
{
	/* 1-, 2-, 3- and 4-byte sequences, and the edges of each range. */
	static const char s[] = "mail.example \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
	                        "\xc2\xa0 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 "
	                        "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf";

	check_json(s, strlen(s), s);
	check_term(s, strlen(s), s);
	check_json(LIT(""), "");
	check_term(LIT(""), "");
	check_json(NULL, 0, "");
}

static void test_invalid_bytes_become_hex(void **state)
{
	/* lone continuation, bytes never valid, overlong forms */
	check_json(LIT("a\x80z"), "a\\x80z");
	check_json(LIT("\xff\xfe"), "\\xff\\xfe");
	check_json(LIT("\xc0\xaf"), "\\xc0\\xaf");
	check_json(LIT("\xc1\xbf"), "\\xc1\\xbf");
	check_json(LIT("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");
	check_json(LIT("\xf0\x80\x80\xaf"), "\\xf0\\x80\\x80\\xaf");
	/* UTF-16 surrogate, beyond U+10FFFF, 5-byte form */
	check_json(LIT("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	check_json(LIT("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
	check_json(LIT("\xf8\x88\x80\x80\x80"), "\\xf8\\x88\\x80\\x80\\x80");
	/* truncated sequences: each byte is kept, visibly, and what follows
	 * is decoded afresh */
	check_json(LIT("\xe2\x82"), "\\xe2\\x82");
	check_json(LIT("\xe2\x82"
	               "A"),
	           "\\xe2\\x82A");
	check_json(LIT("\xf0\x9f\x98"), "\\xf0\\x9f\\x98");
	check_json(LIT("\xe2\xe2\x82\xac"), "\\xe2\xe2\x82\xac");
	/* NUL cannot travel in a C string: it becomes \x00, not a cut */
	check_json(LIT("a\0b"), "a\\x00b");
	check_term(LIT("a\0b"), "a\\x00b");
	check_term(LIT("\xff"
	               "ok"),
	           "\\xffok");
}

static void test_json_keeps_controls_for_cjson(void **state)
{
	/* cJSON escapes these itself (\u001b, \r, \n); the UTF-8 pass must not
	 * double-escape them. */
	check_json(LIT("\x1b[31m\r\n\t\x7f"), "\x1b[31m\r\n\t\x7f");
}

static void test_term_escapes_controls(void **state)
{
	check_term(LIT("\x1b[2J\x1b]0;pwned\x07"), "\\x1b[2J\\x1b]0;pwned\\x07");
	check_term(LIT("220 ok\r\n"), "220 ok\\r\\n");
	check_term(LIT("a\tb"), "a\\tb");
	check_term(LIT("\x01\x1f\x7f"), "\\x01\\x1f\\x7f");
	/* C1 controls: raw 0x9b (8-bit CSI) is not UTF-8; U+009B is */
	check_term(LIT("\x9b"
	               "31m"),
	           "\\x9b31m");
	check_term(LIT("\xc2\x9b"
	               "31m"),
	           "\\xc2\\x9b31m");
	check_term(LIT("\xc2\x85"), "\\xc2\\x85");
	/* U+00A0 is printable and stays */
	check_term(LIT("\xc2\xa0"), "\xc2\xa0");
	/* bidi override / isolate and line separator */
	check_term(LIT("\xe2\x80\xae"
	               "evil"),
	           "\\xe2\\x80\\xaeevil");
	check_term(LIT("\xe2\x81\xa6"), "\\xe2\\x81\\xa6");
	check_term(LIT("\xe2\x80\xa8"), "\\xe2\\x80\\xa8");
	/* backslashes pass */
	check_term(LIT("a\\b"), "a\\b");
}

/* Deterministic xorshift32, so a failure is reproducible. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_random_input_properties(void **state)
{
	uint32_t seed = 0x2545F491u;
	/* bias towards bytes that make interesting sequences */
	static const unsigned char pool[] = {0x00, 0x07, 0x0a, 0x0d, 0x1b, 0x41, 0x5c, 0x7f,
	                                     0x80, 0x85, 0x9b, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf,
	                                     0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};

	for (int round = 0; round < FUZZ_ROUNDS; round++) {
		char in[FUZZ_MAX_LEN];
		size_t len = next_rand(&seed) % FUZZ_MAX_LEN;
		char *j = NULL, *t = NULL;

		for (size_t i = 0; i < len; i++) {
			uint32_t r = next_rand(&seed);

			in[i] = (char)(r & 1 ? pool[(r >> 1) % sizeof(pool)] : (r >> 8) & 0xff);
		}
		j = esc_json_dup(in, len);
		t = esc_term_dup(in, len);
		assert_non_null(j);
		assert_non_null(t);
		assert_true(strlen(j) <= len * ESC_MAX_GROWTH);
		assert_true(strlen(t) <= len * ESC_MAX_GROWTH);
		assert_true(iconv_valid_utf8(j, strlen(j)));
		assert_true(iconv_valid_utf8(t, strlen(t)));
		/* an input without NUL or invalid bytes is reproduced
		 * exactly by the JSON policy */
		if (!memchr(in, '\0', len) && iconv_valid_utf8(in, len)) {
			assert_int_equal(strlen(j), len);
			assert_memory_equal(j, in, len);
		}
		for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
			assert_true(*p >= 0x20 && *p != 0x7f);
			/* no C1: U+0080..U+009F is encoded as C2 80..C2 9F */
			if (*p == 0xc2)
				assert_true(p[1] < 0x80 || p[1] > 0x9f);
		}
		free(j);
		free(t);
	}
}

static void test_width_and_truncate(void **state)
{
	char a[] = "PLAIN LOGIN CRAM-MD5";
	char b[] = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	char c[] = "PLAIN";
	char d[] = "abcdef";

	assert_int_equal(esc_utf8_width("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 4);
	assert_int_equal(esc_utf8_width(""), 0);
	assert_string_equal(esc_utf8_truncate(a, 11), "PLAIN LO...");
	assert_int_equal(esc_utf8_width(a), 11);
	/* cut on a character boundary, never inside a sequence */
	assert_string_equal(esc_utf8_truncate(b, 4), "\xc3\xa9...");
	assert_string_equal(esc_utf8_truncate(c, 5), "PLAIN");
	assert_string_equal(esc_utf8_truncate(c, 10), "PLAIN");
	assert_string_equal(esc_utf8_truncate(d, 2), "ab");
}

/* esc_markup_write: one escaper for HTML and the XML sinks. */
static char *markup(const char *in, enum esc_markup_sink sink)
{
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);

	assert_non_null(f);
	esc_markup_write(f, in, sink);
	assert_int_equal(fclose(f), 0);
	return mem;
}

static void test_markup_sinks(void **state)
{
	/* "a&<>\"' \t\n\x01" then U+FDD0 (HTML only) and U+FFFE (both) */
	const char *in = "a&<>\"' \t\n\x01\xEF\xB7\x90\xEF\xBF\xBE";
	char *html = markup(in, ESC_HTML);
	char *text = markup(in, ESC_XML_TEXT);
	char *attr = markup(in, ESC_XML_ATTR);
	char *line = markup(in, ESC_XML_LINE);

	(void)state;
	assert_string_equal(html,
	                    "a&amp;&lt;&gt;&quot;&#39; \t\n\\x01\\xef\\xb7\\x90\\xef\\xbf\\xbe");
	assert_string_equal(text,
	                    "a&amp;&lt;&gt;&quot;&apos; \t\n\\x01\xEF\xB7\x90\\xef\\xbf\\xbe");
	assert_string_equal(attr,
	                    "a&amp;&lt;&gt;&quot;&apos; &#9;&#10;\\x01\xEF\xB7\x90\\xef\\xbf\\xbe");
	assert_string_equal(
	    line, "a&amp;&lt;&gt;&quot;&apos; \\x09\\x0a\\x01\xEF\xB7\x90\\xef\\xbf\\xbe");
	free(html);
	free(text);
	free(attr);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_utf8_unchanged),
	    cmocka_unit_test(test_invalid_bytes_become_hex),
	    cmocka_unit_test(test_json_keeps_controls_for_cjson),
	    cmocka_unit_test(test_term_escapes_controls),
	    cmocka_unit_test(test_random_input_properties),
	    cmocka_unit_test(test_width_and_truncate),
	    cmocka_unit_test(test_markup_sinks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
