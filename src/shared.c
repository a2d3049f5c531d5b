/*
 * The master/worker shared area.
 */
#include "autoconf.h"

#include <sys/mman.h>

#include <stddef.h>

#include "shared.h"

struct shared *
shared_create(void)
{
	struct shared	*sh;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return sh == MAP_FAILED ? NULL : sh;
}

uint32_t
shared_total_conns(struct shared *sh)
{
	uint32_t	 i, n, total = 0;

	n = atomic_load_explicit(&sh->sh_slots, memory_order_relaxed);
	for (i = 0; i < n && i < ECHOD_MAX_SLOTS; i++)
		total += atomic_load_explicit(&sh->sh_stats[i].ws_conns,
		    memory_order_relaxed);
	return total;
}
