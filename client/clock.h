/*
 * Monotonic time in microseconds, and poll(2) timeouts from deadlines.
 */
#ifndef ECHO_CLIENT_CLOCK_H
#define ECHO_CLIENT_CLOCK_H

#include <limits.h>
#include <stdint.h>
#include <time.h>

/* Microseconds on CLOCK_MONOTONIC; never 0, so 0 can mean "no deadline". */
static inline uint64_t
clock_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000 + 1;
}

/*
 * The poll(2) timeout until 'deadline' (0: none, -1), rounded up to a
 * whole millisecond so poll does not wake just before the deadline.
 */
static inline int
clock_poll_timeout(uint64_t deadline, uint64_t now)
{
	uint64_t	 ms;

	if (deadline == 0)
		return -1;
	if (deadline <= now)
		return 0;
	ms = (deadline - now + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The earlier of two deadlines, where 0 means none. */
static inline uint64_t
clock_earliest(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

#endif
