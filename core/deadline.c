/* deadline.c - monotonic time and deadlines. */
#include "core/deadline.h"

#include <limits.h>
#include <time.h>

int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t deadline_in(int64_t ms_from_now)
{
	if (ms_from_now < 0)
		ms_from_now = 0;
	if (ms_from_now >= DEADLINE_NONE / 2)
		return DEADLINE_NONE;
	return mono_ms() + ms_from_now;
}

int deadline_left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == DEADLINE_NONE)
		return INT_MAX;
	left = deadline - mono_ms();
	if (left < 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

int deadline_expired(int64_t deadline)
{
	return deadline != DEADLINE_NONE && mono_ms() >= deadline;
}

int64_t deadline_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}
