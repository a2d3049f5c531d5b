/*
 * The master/worker shared area: connection counts per worker and per
 * source address.
 */
#include "autoconf.h"

#include <sys/mman.h>

#include <stddef.h>
#include <string.h>

#include "shared.h"

#define IPTAB_MASK	(IPTAB_SIZE - 1)

struct shared *
shared_create(void)
{
	struct shared	*sh;
	void		*ip;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return NULL;
	ip = mmap(NULL, sizeof(struct ip_table) * ECHOD_MAX_SLOTS,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);
	if (ip == MAP_FAILED) {
		munmap(sh, sizeof(*sh));
		return NULL;
	}
	sh->sh_ip = ip;
	return sh;
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

static void
fold(_Atomic uint64_t *to, _Atomic uint64_t *from)
{
	stat_add(to, atomic_load_explicit(from, memory_order_relaxed));
	atomic_store_explicit(from, 0, memory_order_relaxed);
}

void
shared_fold_slot(struct shared *sh, uint32_t slot)
{
	struct worker_stats	*from = &sh->sh_stats[slot], *to = &sh->sh_gone;
	size_t			 i;

	fold(&to->ws_accepted, &from->ws_accepted);
	for (i = 0; i < END_N; i++)
		fold(&to->ws_ended[i], &from->ws_ended[i]);
	fold(&to->ws_bytes_in, &from->ws_bytes_in);
	fold(&to->ws_bytes_out, &from->ws_bytes_out);
	fold(&to->ws_accept_pauses, &from->ws_accept_pauses);
}

void
shared_clear_slot(struct shared *sh, uint32_t slot)
{
	struct ip_table	*t = &sh->sh_ip[slot];
	size_t		 i;

	atomic_store(&sh->sh_stats[slot].ws_conns, 0);
	/* Each table is whole pages: hand them back, they read as zero. */
	if (madvise(t, sizeof(*t), MADV_REMOVE) == 0)
		return;
	for (i = 0; i < IPTAB_SIZE; i++)
		atomic_store(&t->it_e[i].ie_count, 0);
}

static uint32_t
ip_hash(const uint8_t addr[16])
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */
	int		 i;

	for (i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h & IPTAB_MASK;
}

/* Index of addr in t, or -1.  Readers may race the writer: a miss then
 * only undercounts for a moment. */
static int
ip_find(struct ip_table *t, const uint8_t addr[16])
{
	uint32_t	 i = ip_hash(addr), n;

	for (n = 0; n < IPTAB_SIZE; n++, i = (i + 1) & IPTAB_MASK) {
		if (atomic_load_explicit(&t->it_e[i].ie_count,
		    memory_order_acquire) == 0)
			return -1;
		if (memcmp(t->it_e[i].ie_addr, addr, 16) == 0)
			return (int)i;
	}
	return -1;
}

uint32_t
shared_ip_count(struct shared *sh, const uint8_t addr[16])
{
	uint32_t	 i, n, total = 0;
	int		 k;

	n = atomic_load_explicit(&sh->sh_slots, memory_order_relaxed);
	for (i = 0; i < n && i < ECHOD_MAX_SLOTS; i++)
		if ((k = ip_find(&sh->sh_ip[i], addr)) != -1)
			total += atomic_load_explicit(
			    &sh->sh_ip[i].it_e[k].ie_count,
			    memory_order_relaxed);
	return total;
}

int
shared_ip_add(struct shared *sh, uint32_t slot, const uint8_t addr[16])
{
	struct ip_table	*t = &sh->sh_ip[slot];
	uint32_t	 i, n;
	int		 k;

	if ((k = ip_find(t, addr)) != -1) {
		atomic_fetch_add(&t->it_e[k].ie_count, 1);
		return 0;
	}
	i = ip_hash(addr);
	for (n = 0; n < IPTAB_SIZE; n++, i = (i + 1) & IPTAB_MASK)
		if (atomic_load(&t->it_e[i].ie_count) == 0) {
			/* Key first, then the count that makes it visible. */
			memcpy(t->it_e[i].ie_addr, addr, 16);
			atomic_store_explicit(&t->it_e[i].ie_count, 1,
			    memory_order_release);
			return 0;
		}
	return -1;
}

void
shared_ip_remove(struct shared *sh, uint32_t slot, const uint8_t addr[16])
{
	struct ip_table	*t = &sh->sh_ip[slot];
	uint32_t	 i, j, home;
	int		 k;

	if ((k = ip_find(t, addr)) == -1)
		return;
	i = (uint32_t)k;
	if (atomic_fetch_sub(&t->it_e[i].ie_count, 1) > 1)
		return;
	/*
	 * Backward-shift deletion keeps every probe chain unbroken without
	 * tombstones: move later entries of the run into the hole when
	 * their home position allows it.
	 */
	for (j = (i + 1) & IPTAB_MASK;
	    atomic_load(&t->it_e[j].ie_count) != 0;
	    j = (j + 1) & IPTAB_MASK) {
		home = ip_hash(t->it_e[j].ie_addr);
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		memcpy(t->it_e[i].ie_addr, t->it_e[j].ie_addr, 16);
		atomic_store(&t->it_e[i].ie_count,
		    atomic_load(&t->it_e[j].ie_count));
		atomic_store(&t->it_e[j].ie_count, 0);
		i = j;
	}
}
