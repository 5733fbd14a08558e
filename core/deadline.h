/* deadline.h - monotonic time and deadlines.
 *
 * A deadline is an absolute time in milliseconds on CLOCK_MONOTONIC.
 * 0 is never a valid deadline value from deadline_in(); use DEADLINE_NONE
 * for "no deadline" (only in tests: production code always has one).
 */
#ifndef MP_DEADLINE_H
#define MP_DEADLINE_H

#include <stdint.h>

#define DEADLINE_NONE INT64_MAX

/* Milliseconds on the monotonic clock. */
int64_t mono_ms(void);
/* Absolute deadline ms_from_now milliseconds from now. */
int64_t deadline_in(int64_t ms_from_now);
/* Milliseconds left until the deadline, never negative; capped at INT32_MAX
 * so it can be passed to poll(). */
int deadline_left_ms(int64_t deadline);
/* True once the deadline has passed. */
int deadline_expired(int64_t deadline);
/* The earlier of two deadlines. */
int64_t deadline_min(int64_t a, int64_t b);

#endif
