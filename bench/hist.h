/*
 * Latency histogram with HdrHistogram-style log-linear buckets: 32 per
 * power of two, about 3 % resolution, values in nanoseconds.
 */
#ifndef ECHO_LOAD_HIST_H
#define ECHO_LOAD_HIST_H

#include <stdbool.h>
#include <stdint.h>

struct hist;

/* A zeroed histogram; exits with LOAD_EXIT_USAGE when out of memory. */
struct hist	*hist_new(void);
void		 hist_free(struct hist *);
void		 hist_add(struct hist *, uint64_t v);

/*
 * Print n, p50, p95, p99, p99.9 and max in microseconds: with kv, as
 * " lat_n=... max_us=..." to end a key=value line; else as a line of
 * its own.
 */
void		 hist_print(const struct hist *, bool kv);

#endif
