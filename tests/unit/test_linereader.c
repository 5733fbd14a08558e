/* Unit tests: the line reader over scripted memory streams. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/linereader.h"
#include "core/stream.h"

static enum mp_status read_one(struct linereader *lr, char *buf, size_t bufsz, size_t *len,
                               struct mp_error *err)
{
	return lr_read_line(lr, deadline_in(1000), buf, bufsz, len, err);
}

static void test_crlf_and_bare_lf(void **state)
{
	struct stream *s = stream_mem_new(0);
	struct linereader lr;
	struct mp_error err;
	char buf[64];
	size_t len = 0;

	(void)state;
	stream_mem_add_str(s, 0, "220 hello\r\nsecond\nthird\r\n");
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "220 hello");
	assert_int_equal(len, 9);
	assert_false(lr.bare_lf);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "second");
	assert_true(lr.bare_lf);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "third");
	/* Nothing more: a silent server is a timeout, not EOF. */
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_ERR_TIMEOUT);
	stream_close(s);
}

static void test_trickle_one_byte_at_a_time(void **state)
{
	struct stream *s = stream_mem_new(1);
	struct linereader lr;
	struct mp_error err;
	char buf[64];
	size_t len = 0;

	(void)state;
	stream_mem_add_str(s, 0, "+OK ready\r\n");
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "+OK ready");
	stream_close(s);
}

static void test_line_too_long(void **state)
{
	struct stream *s = stream_mem_new(0);
	struct linereader lr;
	struct mp_error err;
	char buf[64];
	size_t len = 0;
	size_t big = MP_MAX_LINE * 3;
	char *data = malloc(big);

	(void)state;
	memset(data, 'A', big);
	stream_mem_add(s, 0, data, big);
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_ERR_LINE_TOO_LONG);
	assert_non_null(strstr(err.msg, "longer than"));
	free(data);
	stream_close(s);
}

static void test_line_truncated_into_small_buffer(void **state)
{
	struct stream *s = stream_mem_new(0);
	struct linereader lr;
	struct mp_error err;
	char buf[8];
	size_t len = 0;

	(void)state;
	stream_mem_add_str(s, 0, "0123456789abcdef\r\nnext\r\n");
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "0123456");
	assert_int_equal(len, 16);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "next");
	stream_close(s);
}

static void test_eof_mid_line_is_closed(void **state)
{
	struct stream *s = stream_mem_new(0);
	struct linereader lr;
	struct mp_error err;
	char buf[64];
	size_t len = 0;

	(void)state;
	stream_mem_add_str(s, 0, "220-partial");
	stream_mem_close_after(s, 0);
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_ERR_CLOSED);
	stream_close(s);
}

static void test_nul_is_flagged(void **state)
{
	struct stream *s = stream_mem_new(0);
	struct linereader lr;
	struct mp_error err;
	char buf[64];
	size_t len = 0;

	(void)state;
	stream_mem_add(s, 0, "22\0 x\r\n", 7);
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_int_equal(len, 5);
	assert_true(lr.had_nul);
	stream_close(s);
}

static void test_read_bytes_and_pending(void **state)
{
	struct stream *s = stream_mem_new(0);
	struct linereader lr;
	struct mp_error err;
	char buf[64];
	char lit[6] = {0};
	size_t len = 0;

	(void)state;
	stream_mem_add_str(s, 0, "* X {5}\r\nab\r\ncdrest\r\n");
	stream_mem_add_str(s, 1, "later\r\n");
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "* X {5}");
	assert_int_equal(lr_read_bytes(&lr, deadline_in(1000), lit, 5, &err), MP_OK);
	assert_memory_equal(lit, "ab\r\ncd", 5);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "drest");
	/* The second chunk is not readable until the client writes. */
	assert_int_equal(lr_pending(&lr), 0);
	assert_int_equal(stream_write(s, "x", 1, deadline_in(100), &err), 0);
	assert_int_equal(lr_pending(&lr), 7);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_string_equal(buf, "later");
	assert_string_equal(stream_mem_written(s, NULL), "x");
	stream_close(s);
}

static void test_discard_reports_buffered_bytes(void **state)
{
	struct stream *s = stream_mem_new(0);
	struct linereader lr;
	struct mp_error err;
	char buf[64];
	size_t len = 0;

	(void)state;
	stream_mem_add_str(s, 0, "220 go ahead\r\n250 injected\r\n");
	lr_init(&lr, s);
	assert_int_equal(read_one(&lr, buf, sizeof(buf), &len, &err), MP_OK);
	assert_int_equal(lr_pending(&lr), strlen("250 injected\r\n"));
	assert_int_equal(lr_discard(&lr), strlen("250 injected\r\n"));
	assert_int_equal(lr_pending(&lr), 0);
	stream_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crlf_and_bare_lf),
	    cmocka_unit_test(test_trickle_one_byte_at_a_time),
	    cmocka_unit_test(test_line_too_long),
	    cmocka_unit_test(test_line_truncated_into_small_buffer),
	    cmocka_unit_test(test_eof_mid_line_is_closed),
	    cmocka_unit_test(test_nul_is_flagged),
	    cmocka_unit_test(test_read_bytes_and_pending),
	    cmocka_unit_test(test_discard_reports_buffered_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
