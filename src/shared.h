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

/* How a connection ended: refused at admission, or closed later. */
enum conn_end {
	END_REFUSED_LIMIT,	/* max_connections reached */
	END_REFUSED_PER_IP,	/* max_connections_per_ip reached */
	END_REFUSED_UNCOUNTED,	/* the per-source count was unavailable */
	END_REFUSED_MEMORY,	/* no memory for the connection */
	END_REFUSED_ERROR,	/* could not be watched (epoll) */
	END_CLIENT,		/* the client closed */
	END_IDLE,		/* idle_timeout */
	END_ERROR,		/* reset, broken pipe, ... */
	END_DRAIN,		/* ended by a stop */
	END_N
};

#define END_IS_REFUSAL(e)	((e) < END_CLIENT)

/*
 * One worker's counters.  Only that worker writes them (plain loads and
 * stores, no read-modify-write across processes); the master and the
 * other workers read them.
 */
struct worker_stats {
	_Atomic uint32_t	 ws_conns;	/* open connections */
	_Atomic uint64_t	 ws_accepted;	/* admitted */
	_Atomic uint64_t	 ws_ended[END_N];
	_Atomic uint64_t	 ws_bytes_in;	/* read from clients */
	_Atomic uint64_t	 ws_bytes_out;	/* echoed */
	_Atomic uint64_t	 ws_accept_pauses;
};

/* Add to a counter only this process writes. */
static inline void
stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

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
	struct worker_stats	 sh_gone;	/* of workers that exited; */
						/* the master writes it */
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
/*
 * Master: add the counters of slot 'slot' (its worker is gone) to
 * sh_gone, so totals survive crashes and reloads, counted once.
 */
void		 shared_fold_slot(struct shared *, uint32_t slot);
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
