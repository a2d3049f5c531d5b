/*
 * Latency histogram and its report.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "hist.h"
#include "load.h"

#define HIST_SUB_BITS	5		/* 32 sub-buckets: ~3% resolution */
#define HIST_SUB	(1U << HIST_SUB_BITS)
#define HIST_N		((64 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t	 h_count[HIST_N];
	uint64_t	 h_n;
	uint64_t	 h_max;
};

static unsigned
hist_index(uint64_t v)
{
	unsigned	 e;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return (e - HIST_SUB_BITS) * HIST_SUB +
	    (unsigned)(v >> (e - HIST_SUB_BITS));
}

/* The highest value that lands in bucket idx. */
static uint64_t
hist_upper(unsigned idx)
{
	unsigned	 e, m;

	if (idx < 2 * HIST_SUB)
		return idx;
	e = idx / HIST_SUB + HIST_SUB_BITS - 1;
	m = idx - (e - HIST_SUB_BITS) * HIST_SUB;
	return (((uint64_t)m + 1) << (e - HIST_SUB_BITS)) - 1;
}

struct hist *
hist_new(void)
{
	return load_calloc(1, sizeof(struct hist));
}

void
hist_free(struct hist *h)
{
	free(h);
}

void
hist_add(struct hist *h, uint64_t v)
{
	h->h_count[hist_index(v)]++;
	h->h_n++;
	if (v > h->h_max)
		h->h_max = v;
}

static uint64_t
hist_pct(const struct hist *h, double p)
{
	uint64_t	 want, seen = 0, up;
	unsigned	 i;

	if (h->h_n == 0)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)h->h_n + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_N; i++) {
		seen += h->h_count[i];
		if (seen >= want) {
			up = hist_upper(i);
			return up < h->h_max ? up : h->h_max;
		}
	}
	return h->h_max;
}

void
hist_print(const struct hist *h, bool kv)
{
	double	 p50, p95, p99, p999, max;

	p50 = (double)hist_pct(h, 50) / 1000;
	p95 = (double)hist_pct(h, 95) / 1000;
	p99 = (double)hist_pct(h, 99) / 1000;
	p999 = (double)hist_pct(h, 99.9) / 1000;
	max = (double)h->h_max / 1000;
	if (kv)
		printf(" lat_n=%" PRIu64 " p50_us=%.1f p95_us=%.1f p99_us=%.1f "
		    "p999_us=%.1f max_us=%.1f", h->h_n, p50, p95, p99, p999,
		    max);
	else
		printf("  latency over %" PRIu64 ": p50 %.1f us, p95 %.1f us, "
		    "p99 %.1f us, p99.9 %.1f us, max %.1f us\n", h->h_n, p50,
		    p95, p99, p999, max);
}
