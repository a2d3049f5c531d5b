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
};

/*
 * Connections per source address, one open-addressing table per worker
 * slot.  Only the worker in that slot writes it; others read it to sum a
 * source's connections across the daemon.  An entry is in use while its
 * count is non-zero.
 */
#define IPTAB_SIZE	16384	/* distinct sources one worker tracks */

struct ip_entry {
	uint8_t			 ie_addr[16];	/* IPv6, or v4-mapped */
	_Atomic uint32_t	 ie_count;
};

struct ip_table {
	struct ip_entry		 it_e[IPTAB_SIZE];
};

struct shared {
	_Atomic uint32_t	 sh_slots;	/* slots in use: [0, sh_slots) */
	struct worker_stats	 sh_stats[ECHOD_MAX_SLOTS];
	struct ip_table		*sh_ip;		/* ECHOD_MAX_SLOTS tables */
};

/*
 * Map the shared area, zeroed.  The per-source tables are reserved, not
 * committed: a page costs memory only once a worker touches it.  NULL
 * with errno on failure.
 */
struct shared	*shared_create(void);
/* Open connections of the whole daemon: the sum over the used slots. */
uint32_t	 shared_total_conns(struct shared *);
/* Forget everything slot 'slot' recorded (its worker is gone). */
void		 shared_clear_slot(struct shared *, uint32_t slot);

/* Connections from 'addr' across all workers. */
uint32_t	 shared_ip_count(struct shared *, const uint8_t addr[16]);
/* Slot 'slot' gained one from addr: 0, or -1 when its table is full. */
int		 shared_ip_add(struct shared *, uint32_t slot,
		    const uint8_t addr[16]);
/* Slot 'slot' lost one from addr. */
void		 shared_ip_remove(struct shared *, uint32_t slot,
		    const uint8_t addr[16]);

#endif
