/* helper_runner.c - see helper_runner.h. */
#include "core/helper_runner.h"
#include "core/deadline.h"
#include "core/limits.h"
#include "core/sanitizer.h"
#include "core/threadmem.h"
#include "core/tls.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

enum hr_state { HR_WAITING, HR_HELD, HR_TAKEN };

struct helper_run {
	struct helper_spec spec;
	pthread_mutex_t lock;
	enum hr_state state[HR_MAX_JOBS]; /* guarded by lock */
	volatile int fds[HR_MAX_JOBS];
	pthread_t th[HR_MAX_JOBS];
	size_t nthreads; /* started; only the owner's thread changes it */
};

/* The stack size of the threads we start (as the engine's workers). */
#ifdef MP_ASAN
#define HR_STACK MP_WORKER_STACK_SANITIZER
#else
#define HR_STACK MP_WORKER_STACK
#endif

/* Takes the next job to run (held ones too when all), or false. */
static bool take(struct helper_run *r, bool all, size_t *k)
{
	bool got = false;

	if ((r->spec.stop && *r->spec.stop) ||
	    (r->spec.cancelled && r->spec.cancelled(r->spec.arg)))
		return false;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->spec.njobs && !got; i++) {
		if (r->state[i] == HR_WAITING || (all && r->state[i] == HR_HELD)) {
			r->state[i] = HR_TAKEN;
			*k = i;
			got = true;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return got;
}

static void loop(struct helper_run *r, bool all)
{
	size_t k;

	while (take(r, all, &k)) {
		if (deadline_expired(r->spec.deadline))
			continue;
		r->spec.run(r->spec.arg, k, &r->fds[k]);
		r->fds[k] = -1;
	}
}

static void *helper_thread(void *arg)
{
	threadmem_thread_start();
	loop(arg, false);
	tls_thread_cleanup();
	return NULL;
}

/* Starts up to n threads; returns how many. */
static size_t start_threads(struct helper_run *r, size_t n)
{
	size_t started = 0;
	pthread_attr_t attr;
	bool attr_ok = pthread_attr_init(&attr) == 0;

	if (attr_ok)
		pthread_attr_setstacksize(&attr, HR_STACK);
	while (started < n && r->nthreads < HR_MAX_JOBS) {
		if (pthread_create(&r->th[r->nthreads], attr_ok ? &attr : NULL, helper_thread, r) !=
		    0)
			break;
		r->nthreads++;
		started++;
	}
	if (attr_ok)
		pthread_attr_destroy(&attr);
	return started;
}

/* Jobs waiting to start (not held). */
static size_t waiting(struct helper_run *r)
{
	size_t n = 0;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->spec.njobs; i++)
		n += r->state[i] == HR_WAITING;
	pthread_mutex_unlock(&r->lock);
	return n;
}

struct helper_run *helper_run_new(const struct helper_spec *spec)
{
	struct helper_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->spec = *spec;
	if (r->spec.njobs > HR_MAX_JOBS)
		r->spec.njobs = HR_MAX_JOBS;
	pthread_mutex_init(&r->lock, NULL);
	for (size_t i = 0; i < HR_MAX_JOBS; i++) {
		r->fds[i] = -1;
		r->state[i] = (r->spec.held >> i) & 1u ? HR_HELD : HR_WAITING;
	}
	return r;
}

void helper_run_stop_on(struct helper_run *r, volatile sig_atomic_t *stop)
{
	if (r)
		r->spec.stop = stop;
}

size_t helper_run_start(struct helper_run *r, size_t threads)
{
	size_t want = r ? waiting(r) : 0;

	return want ? start_threads(r, threads < want ? threads : want) : 0;
}

size_t helper_run_more(struct helper_run *r, size_t threads)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->spec.njobs; i++)
		if (r->state[i] == HR_HELD)
			r->state[i] = HR_WAITING;
	pthread_mutex_unlock(&r->lock);
	return helper_run_start(r, threads);
}

bool helper_run_settle(struct helper_run *r, size_t k)
{
	bool settled = false;

	if (!r || k >= r->spec.njobs)
		return false;
	pthread_mutex_lock(&r->lock);
	if (r->state[k] != HR_TAKEN) {
		r->state[k] = HR_TAKEN;
		settled = true;
	}
	pthread_mutex_unlock(&r->lock);
	return settled;
}

void helper_run_finish(struct helper_run *r)
{
	if (!r)
		return;
	loop(r, true);
	for (size_t i = 0; i < r->nthreads; i++)
		pthread_join(r->th[i], NULL);
	r->nthreads = 0;
}

void helper_run_free(struct helper_run *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void helper_run_interrupt(struct helper_run *r)
{
	for (size_t k = 0; r && k < HR_MAX_JOBS; k++) {
		int fd = r->fds[k];

		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
}
