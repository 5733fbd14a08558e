/* Unit tests: the targets reader (-i FILE) and the plan over it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/engine/plan.h"
#include "probe/engine/targets.h"

/* A reader over the bytes of s (through a temporary file). */
static struct target_reader *reader_of(const char *s, size_t len, FILE **keep)
{
	struct target_reader *r = malloc(sizeof(*r));
	FILE *f = tmpfile();

	assert_non_null(r);
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, len, f), len);
	fflush(f);
	rewind(f);
	targets_open_fd(r, fileno(f));
	*keep = f;
	return r;
}

static void test_lines_comments_blanks(void **state)
{
	static const char in[] = "# comment\n\n  127.0.0.1  \r\n\t# indented comment\n"
	                         "smtps://[::1]:465\r\n   \nlast-without-newline";
	struct target_item it;
	struct mp_error err;
	FILE *f = NULL;
	struct target_reader *r = reader_of(in, sizeof(in) - 1, &f);

	(void)state;
	assert_int_equal(targets_next(r, &it, &err), 1);
	assert_string_equal(it.text, "127.0.0.1");
	assert_int_equal(it.line, 3);
	assert_int_equal(it.kind, TARGET_TEXT);
	assert_true(it.hash == target_hash("127.0.0.1", 9));
	assert_int_equal(targets_next(r, &it, &err), 1);
	assert_string_equal(it.text, "smtps://[::1]:465");
	assert_int_equal(it.line, 5);
	assert_int_equal(targets_next(r, &it, &err), 1);
	assert_string_equal(it.text, "last-without-newline");
	assert_int_equal(it.line, 7);
	assert_int_equal(targets_next(r, &it, &err), 0);
	assert_int_equal(targets_next(r, &it, &err), 0);
	targets_close(r);
	free(r);
	fclose(f);
}

static void test_long_and_binary_lines(void **state)
{
	size_t n = 3 * MP_MAX_TARGET_LINE + 100, len = 0;
	char *in = malloc(n + 64);
	struct target_item it;
	struct mp_error err;
	FILE *f = NULL;
	struct target_reader *r = NULL;

	(void)state;
	assert_non_null(in);
	memcpy(in, "a\x01\x00z\n", 5);
	len = 5;
	memset(in + len, 'x', n);
	len += n;
	in[len++] = '\n';
	memcpy(in + len, "127.0.0.1\n", 10);
	len += 10;
	r = reader_of(in, len, &f);
	assert_int_equal(targets_next(r, &it, &err), 1);
	assert_int_equal(it.kind, TARGET_BINARY);
	assert_int_equal(it.line, 1);
	assert_string_equal(it.text, "a??z");
	assert_int_equal(targets_next(r, &it, &err), 1);
	assert_int_equal(it.kind, TARGET_TOO_LONG);
	assert_int_equal(it.line, 2);
	assert_true(it.len < 100); /* only its start is quoted */
	assert_int_equal(targets_next(r, &it, &err), 1);
	assert_string_equal(it.text, "127.0.0.1");
	assert_int_equal(it.line, 3);
	assert_int_equal(targets_next(r, &it, &err), 0);
	targets_close(r);
	free(r);
	fclose(f);
	free(in);
}

static void test_directory_is_an_error(void **state)
{
	struct target_reader r;
	struct mp_error err;

	(void)state;
	assert_int_equal(targets_open(&r, "/", &err), -1);
	assert_non_null(strstr(err.msg, "is a directory"));
	assert_int_equal(targets_open(&r, "/nonexistent/targets", &err), -1);
}

/* The plan over a file: invalid lines become invalid endpoints naming their
 * line; duplicates are left out. */
static void test_plan_from_file(void **state)
{
	char path[] = "/tmp/mp_targetsXXXXXX";
	int fd = mkstemp(path);
	static const char in[] = "smtp://127.0.0.1:25\nbad host\n\nsmtp://127.0.0.1:25\n"
	                         "smtps://127.0.0.2\n";
	struct run_options opt;
	struct plan_iter *it = NULL;
	struct endpoint ep;
	struct mp_error err;
	char why[MP_MAX_ERROR];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, in, sizeof(in) - 1), (ssize_t)(sizeof(in) - 1));
	close(fd);
	memset(&opt, 0, sizeof(opt));
	opt.targets_file = path;
	it = plan_iter_new(&opt, &err);
	assert_non_null(it);
	assert_int_equal(plan_next(it, &ep, why, sizeof(why), &err), 1);
	assert_false(ep.invalid);
	assert_int_equal(ep.port, 25);
	assert_int_equal(plan_next(it, &ep, why, sizeof(why), &err), 1);
	assert_true(ep.invalid);
	assert_int_equal(ep.line, 2);
	assert_string_equal(ep.host, "bad host");
	assert_memory_equal(why, "line 2: ", 8);
	assert_int_equal(plan_next(it, &ep, why, sizeof(why), &err), 1);
	assert_string_equal(ep.host, "127.0.0.2");
	assert_int_equal(ep.port, 465);
	assert_int_equal(plan_next(it, &ep, why, sizeof(why), &err), 0);
	assert_int_equal(plan_count(it), 3);
	plan_iter_free(it);
	/* --allow-duplicates keeps the second smtp://127.0.0.1:25 */
	opt.allow_duplicates = true;
	it = plan_iter_new(&opt, &err);
	assert_non_null(it);
	while (plan_next(it, &ep, why, sizeof(why), &err) == 1)
		;
	assert_int_equal(plan_count(it), 4);
	plan_iter_free(it);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_comments_blanks),
	    cmocka_unit_test(test_long_and_binary_lines),
	    cmocka_unit_test(test_directory_is_an_error),
	    cmocka_unit_test(test_plan_from_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
