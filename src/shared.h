/*
 * Memory shared between the master and its workers (an anonymous
 * MAP_SHARED mapping made before the first fork).
 *
 * Each worker writes only its own slot, so a worker that crashes can
 * leave nothing inconsistent behind: the master clears the slot before
 * reusing it, and totals are sums over the live slots.
 */
#ifndef ECHOD_SHARED_H
#define ECHOD_SHARED_H

#include <stdatomic.h>
#include <stdint.h>

#include "echod.h"

struct worker_stats {
	_Atomic uint32_t	 ws_conns;	/* open connections */
	_Atomic uint32_t	 ws_pad;
	_Atomic uint64_t	 ws_accepted;	/* since start */
};

struct shared {
	_Atomic uint32_t	 sh_slots;	/* slots in use: [0, sh_slots) */
	struct worker_stats	 sh_stats[ECHOD_MAX_SLOTS];
};

/* Map the shared area, zeroed.  NULL with errno on failure. */
struct shared	*shared_create(void);
/* Open connections of the whole daemon: the sum over the used slots. */
uint32_t	 shared_total_conns(struct shared *);

#endif
