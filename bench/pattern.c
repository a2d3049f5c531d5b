/*
 * The data pattern.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "pattern.h"

/* Prime, so stream offsets never line up with buffer sizes. */
#define PAT_LEN		262139
_Static_assert(IO_CHUNK <= PAT_LEN, "pattern_at() promises IO_CHUNK bytes");

static unsigned char	*pat;

void
pattern_init(void)
{
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	size_t		 i;

	/* Twice the period: any run up to PAT_LEN bytes is contiguous. */
	pat = load_calloc(2, PAT_LEN);
	for (i = 0; i < PAT_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pat[i] = pat[i + PAT_LEN] = (unsigned char)(x >> 24);
	}
}

const unsigned char *
pattern_at(uint64_t off)
{
	return pat + off % PAT_LEN;
}

uint64_t
pattern_seed(uint64_t idx)
{
	return idx * 7919 + 1;
}

int
pattern_check(uint64_t off, const unsigned char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		k = n < PAT_LEN ? n : PAT_LEN;
		if (memcmp(p, pattern_at(off), k) != 0)
			return -1;
		off += k;
		p += k;
		n -= k;
	}
	return 0;
}
