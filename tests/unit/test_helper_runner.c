/* Unit tests: the helper runner (core/helper_runner.c): every job runs
 * exactly once, on the caller's thread and the extra ones; held jobs wait
 * for helper_run_more or the finish; settled ones never run; a stop flag or
 * a cancel keeps jobs from starting; the interrupt shuts a job's socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/deadline.h"
#include "core/helper_runner.h"

struct jobs {
	pthread_mutex_t lock;
	int runs[HR_MAX_JOBS];
	int order[HR_MAX_JOBS];
	int n;
	int sv[2]; /* job 0 of the interrupt test blocks on sv[0] */
	bool cancel;
};

static void job(void *arg, size_t k, volatile int *fd_slot)
{
	struct jobs *j = arg;

	(void)fd_slot;
	pthread_mutex_lock(&j->lock);
	j->runs[k]++;
	j->order[j->n++] = (int)k;
	pthread_mutex_unlock(&j->lock);
}

static bool cancelled(void *arg)
{
	return ((struct jobs *)arg)->cancel;
}

static struct helper_spec spec_of(struct jobs *j, size_t n)
{
	struct helper_spec s;

	memset(&s, 0, sizeof(s));
	s.njobs = n;
	s.run = job;
	s.arg = j;
	s.cancelled = cancelled;
	s.deadline = DEADLINE_NONE;
	return s;
}

static void test_every_job_once(void **state)
{
	for (size_t threads = 0; threads <= 6; threads += 3) {
		struct jobs j;
		struct helper_spec s;
		struct helper_run *r = NULL;

		(void)state;
		memset(&j, 0, sizeof(j));
		pthread_mutex_init(&j.lock, NULL);
		s = spec_of(&j, 8);
		r = helper_run_new(&s);
		assert_non_null(r);
		assert_true(helper_run_start(r, threads) <= threads);
		helper_run_finish(r);
		helper_run_free(r);
		for (int k = 0; k < 8; k++)
			assert_int_equal(j.runs[k], 1);
		assert_int_equal(j.n, 8);
		pthread_mutex_destroy(&j.lock);
	}
}

static void test_held_and_settled(void **state)
{
	struct jobs j;
	struct helper_spec s;
	struct helper_run *r = NULL;

	(void)state;
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.lock, NULL);
	s = spec_of(&j, 4);
	s.held = 1u << 0;
	r = helper_run_new(&s);
	assert_non_null(r);
	assert_true(helper_run_settle(r, 3));
	/* the threads run jobs 1 and 2, never the held 0 or the settled 3 */
	helper_run_start(r, 4);
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&j.lock);
		int n = j.n;
		pthread_mutex_unlock(&j.lock);
		if (n >= 2)
			break;
		poll(NULL, 0, 5);
	}
	pthread_mutex_lock(&j.lock);
	assert_int_equal(j.runs[0], 0);
	pthread_mutex_unlock(&j.lock);
	helper_run_finish(r); /* runs the held job here */
	assert_false(helper_run_settle(r, 0));
	helper_run_free(r);
	assert_int_equal(j.runs[0], 1);
	assert_int_equal(j.runs[1], 1);
	assert_int_equal(j.runs[2], 1);
	assert_int_equal(j.runs[3], 0);
	pthread_mutex_destroy(&j.lock);
}

static void test_stop_and_cancel(void **state)
{
	volatile sig_atomic_t stop = 1;
	struct jobs j;
	struct helper_spec s;
	struct helper_run *r = NULL;

	(void)state;
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.lock, NULL);
	s = spec_of(&j, 3);
	r = helper_run_new(&s);
	helper_run_stop_on(r, &stop);
	helper_run_finish(r);
	helper_run_free(r);
	assert_int_equal(j.n, 0);
	j.cancel = true;
	s = spec_of(&j, 3);
	r = helper_run_new(&s);
	helper_run_start(r, 2);
	helper_run_finish(r);
	helper_run_free(r);
	assert_int_equal(j.n, 0);
	/* past the deadline nothing starts either */
	j.cancel = false;
	s = spec_of(&j, 3);
	s.deadline = deadline_in(-1);
	r = helper_run_new(&s);
	helper_run_finish(r);
	helper_run_free(r);
	assert_int_equal(j.n, 0);
	pthread_mutex_destroy(&j.lock);
}

/* A job blocked reading its socket returns once the interrupt shut it. */
static void blocking_job(void *arg, size_t k, volatile int *fd_slot)
{
	struct jobs *j = arg;
	char c;

	(void)k;
	*fd_slot = j->sv[0];
	pthread_mutex_lock(&j->lock);
	j->n++;
	pthread_mutex_unlock(&j->lock);
	assert_int_equal(read(j->sv[0], &c, 1), 0); /* EOF after shutdown */
	*fd_slot = -1;
}

static void *interrupter(void *arg)
{
	void **a = arg;
	struct jobs *j = a[0];

	for (int i = 0; i < 400; i++) {
		pthread_mutex_lock(&j->lock);
		int n = j->n;
		pthread_mutex_unlock(&j->lock);
		if (n > 0)
			break;
		poll(NULL, 0, 5);
	}
	poll(NULL, 0, 20);
	helper_run_interrupt(a[1]);
	return NULL;
}

static void test_interrupt(void **state)
{
	struct jobs j;
	struct helper_spec s;
	struct helper_run *r = NULL;
	pthread_t t;
	void *a[2];

	(void)state;
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.lock, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, j.sv), 0);
	s = spec_of(&j, 1);
	s.run = blocking_job;
	r = helper_run_new(&s);
	a[0] = &j;
	a[1] = r;
	assert_int_equal(pthread_create(&t, NULL, interrupter, a), 0);
	helper_run_finish(r); /* returns only once the interrupt shut the socket */
	pthread_join(t, NULL);
	helper_run_free(r);
	close(j.sv[0]);
	close(j.sv[1]);
	pthread_mutex_destroy(&j.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_job_once),
	    cmocka_unit_test(test_held_and_settled),
	    cmocka_unit_test(test_stop_and_cancel),
	    cmocka_unit_test(test_interrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
