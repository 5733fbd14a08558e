/* Unit tests: the shard hash (--shard I/N) is stable, and its shards split
 * the targets into disjoint parts whose union is all of them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "probe/engine/targets.h"

/* The same text gives the same hash on every run and machine: pinned. */
static void test_hash_is_stable(void **state)
{
	(void)state;
	assert_true(target_hash("", 0) == target_hash_finish(TARGET_HASH_INIT));
	assert_true(target_hash("127.0.0.1", 9) == target_hash("127.0.0.1", 9));
	assert_true(target_hash("127.0.0.1", 9) != target_hash("127.0.0.2", 9));
	/* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; then the splitmix64 finaliser */
	assert_true(target_hash_feed(TARGET_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(target_hash("a", 1) == target_hash_finish(0xaf63dc4c8601ec8cULL));
	/* the value an independent implementation (Python) gives */
	assert_true(target_hash("smtps://127.0.0.1:465", 21) == 0x8448c3a407e50354ULL);
}

static void test_shards_split_the_targets(void **state)
{
	static const unsigned counts[] = {1, 2, 3, 4, 7, 16};

	(void)state;
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		unsigned n = counts[c];
		size_t per[16] = {0};

		for (int t = 0; t < 4000; t++) {
			char text[64];
			int len = snprintf(text, sizeof(text), "smtp://127.0.%d.%d:%d", t / 250,
			                   t % 250, 25 + t % 3);
			uint64_t h = target_hash(text, (size_t)len);
			unsigned in = 0;

			for (unsigned i = 0; i < n; i++)
				if (target_in_shard(h, i, n)) {
					in++;
					per[i]++;
				}
			assert_int_equal(in, 1); /* disjoint, and the union is all */
		}
		for (unsigned i = 0; i < n; i++)
			assert_true(per[i] > 4000 / n / 2); /* spread, not all in one */
	}
}

static void test_parse_shard(void **state)
{
	unsigned i = 9, n = 9;
	struct mp_error err;

	(void)state;
	assert_int_equal(target_parse_shard("0/4", &i, &n, &err), 0);
	assert_int_equal(i, 0);
	assert_int_equal(n, 4);
	assert_int_equal(target_parse_shard("3/4", &i, &n, &err), 0);
	assert_int_equal(target_parse_shard("4/4", &i, &n, &err), -1);
	assert_int_equal(target_parse_shard("1/0", &i, &n, &err), -1);
	assert_int_equal(target_parse_shard("-1/4", &i, &n, &err), -1);
	assert_int_equal(target_parse_shard("1", &i, &n, &err), -1);
	assert_int_equal(target_parse_shard("1/4x", &i, &n, &err), -1);
	assert_int_equal(target_parse_shard("0/99999999", &i, &n, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_is_stable),
	    cmocka_unit_test(test_shards_split_the_targets),
	    cmocka_unit_test(test_parse_shard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
