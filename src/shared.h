/*
 * Memory shared between the master and its workers, made before the
 * first fork: connection counts per worker slot and, per slot, a table
 * of connections per source address.
 *
 * Each worker writes only its own slot, so a worker that crashes can
 * leave nothing behind that outlives it: the master clears the slot when
 * it reaps the worker, and totals are sums over the slots.
 */
#ifndef ECHOD_SHARED_H
#define ECHOD_SHARED_H

#include <sys/types.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "echod.h"
#include "proxy.h"
#include "udp_guard.h"

/*
 * Why a connection on a PROXY socket was refused: the parser's reasons
 * (enum proxy_reason), then these.
 */
#define PROXY_REFUSED_UNTRUSTED	PROXY_R_COUNT		/* peer not trusted */
#define PROXY_REFUSED_TIMEOUT	(PROXY_R_COUNT + 1)	/* [proxy] timeout */
#define PROXY_REFUSED_CLOSED	(PROXY_R_COUNT + 2)	/* closed before */
#define PROXY_REFUSED_N		(PROXY_R_COUNT + 3)

/* How a connection ended: refused at admission, or closed later. */
enum conn_end {
	END_REFUSED_LIMIT,	/* max_connections reached */
	END_REFUSED_PER_IP,	/* max_connections_per_ip reached */
	END_REFUSED_UNCOUNTED,	/* the per-source count was unavailable */
	END_REFUSED_MEMORY,	/* no memory for the connection */
	END_REFUSED_ERROR,	/* could not be watched (epoll) */
	END_REFUSED_PROXY,	/* PROXY header refused: ws_proxy says why */
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
 *
 * Every member from ws_accepted to the end is a counter, an _Atomic
 * uint64_t that only grows: shared_fold_slot() folds them all and
 * shared_sum() adds any of them up.  A new counter goes at the end (and
 * into the metrics table of stats.c to be exported).
 */
struct worker_stats {
	_Atomic uint32_t	 ws_conns;	/* open connections: a gauge */
	_Atomic uint64_t	 ws_accepted;	/* admitted */
	_Atomic uint64_t	 ws_ended[END_N];
	_Atomic uint64_t	 ws_proxy[PROXY_REFUSED_N];	/* [0] unused */
	_Atomic uint64_t	 ws_bytes_in;	/* read from clients */
	_Atomic uint64_t	 ws_bytes_out;	/* echoed */
	_Atomic uint64_t	 ws_accept_pauses;
	/* UDP echo: datagrams and their payload bytes. */
	_Atomic uint64_t	 ws_udp_received;
	_Atomic uint64_t	 ws_udp_echoed;		/* answers sent */
	_Atomic uint64_t	 ws_udp_bytes_in;
	_Atomic uint64_t	 ws_udp_bytes_out;
	/* Not answered, by reason (udp_guard_label()); [UDP_PASS]: 0. */
	_Atomic uint64_t	 ws_udp_dropped[UDP_NVERDICTS];
};

/* Add to a counter only this process writes. */
static inline void
stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

/*
 * Where slot's per-source table lies in the memfd, and its seqlock.  The
 * table is an open-addressing hash of struct ip_entry.  Its one writer
 * (the slot's worker, or the master while no worker runs there) makes
 * is_seq odd while it changes entries, is_off or is_cap and even after;
 * a reader retries when is_seq was odd or changed while it read.
 */
struct ip_slot {
	_Atomic uint32_t	 is_seq;
	_Atomic uint32_t	 is_cap;	/* entries, a power of 2; 0: none */
	_Atomic uint64_t	 is_off;	/* bytes into the memfd */
	_Atomic int32_t		 is_writer;	/* pid of the last writer */
	uint32_t		 is_pad;
};

/*
 * The part every process sees: a memfd that the master maps MAP_SHARED
 * and its workers inherit mapped.  A master exec'd in place of another
 * (a live upgrade) maps the same file again, and so goes on reading the
 * counts of the workers it adopts.
 */
struct shared_area {
	_Atomic uint32_t	 sa_slots;	/* slots in use: [0, sa_slots) */
	_Atomic uint64_t	 sa_ip_size;	/* memfd bytes; only grows */
	uint64_t		 sa_seed[2];	/* hash key, set before forking */
	struct worker_stats	 sa_stats[ECHOD_MAX_SLOTS];
	struct worker_stats	 sa_gone;	/* of workers that exited; */
						/* the master writes it */
	struct ip_slot		 sa_ip[ECHOD_MAX_SLOTS];
};

/*
 * One process's handle.  Forked children inherit a private copy, so each
 * process maps the memfd (sh_ip_map) for itself and re-maps it once the
 * master has grown it past what it maps.  Single-threaded use only.
 */
struct shared {
	struct shared_area	*sh_area;
	int			 sh_area_fd;	/* its memfd */
	struct worker_stats	*sh_stats;	/* sh_area->sa_stats */
	struct worker_stats	*sh_gone;	/* &sh_area->sa_gone */
	int			 sh_ip_fd;	/* memfd of the per-source tables */
	unsigned char		*sh_ip_map;	/* NULL while sh_ip_len is 0 */
	size_t			 sh_ip_len;
	pid_t			 sh_pid;	/* this process, as a writer */
};

/*
 * What a program exec'd in place of another checks before it maps that
 * one's area as its own: SHARED_LAYOUT and sizeof(struct shared_area).
 * Change SHARED_LAYOUT with anything in this file or in shared.c's
 * tables that two builds would read differently at the same size (an
 * order of fields, a hash); a change of size shows by itself.
 */
#define SHARED_LAYOUT		2

/* shared_ip_count() could not read a table consistently. */
#define SHARED_IP_UNAVAILABLE	UINT32_MAX

/*
 * Make the shared area, zeroed, with no per-source tables yet.  NULL
 * with errno on failure.
 */
struct shared	*shared_create(void);
/*
 * Map the area of another program (a live upgrade): 'area_fd' and
 * 'sources_fd' are its two memfds, which the handle then owns.  The
 * caller checked the layout (SHARED_LAYOUT).  NULL with the reason in
 * err (and both descriptors left open) when they are not what they
 * should be or cannot be mapped.
 */
struct shared	*shared_attach(int area_fd, int sources_fd, char *err,
		    size_t errlen);
/*
 * A forked child that will write its slot's table says so first: the
 * table records its writer's pid for readers who find it mid-update.
 */
void		 shared_forked(struct shared *sh);
/* Unmap and close everything of 'sh' in this process; NULL is a no-op. */
void		 shared_free(struct shared *sh);

/*
 * Open connections of the whole daemon: the sum over the used slots.  A
 * caller that published its own count just before must fence first (see
 * shared_ip_count()).
 */
uint32_t	 shared_total_conns(struct shared *);
/*
 * Master: add the counters of slot 'slot' (its worker is gone) to
 * sh_gone and zero them, so totals survive crashes and reloads, counted
 * once.
 */
void		 shared_fold_slot(struct shared *, uint32_t slot);
/*
 * The daemon's total of one counter: 'offset' is offsetof(struct
 * worker_stats, member) of a counter (see struct worker_stats), summed
 * over the used slots and sh_gone.  Between a worker's death and
 * shared_fold_slot() its slot still holds its final counts and sh_gone
 * does not yet: each is counted once either way, so a total read by the
 * master (which folds) never goes down.
 */
uint64_t	 shared_sum(struct shared *, size_t offset);

/*
 * Master, before forking a worker into 'slot': clear the slot and give
 * it a per-source table that holds 'max_sources' distinct sources at a
 * load of at most 3/4 (0: no table needed), and count the slot in sums
 * from now on.  The slot's region is reused when big enough, else a new
 * one is appended to the memfd and the old one's memory released.  0, or
 * -1 with a message in 'err' (too many sources, or the memfd cannot grow
 * or be mapped): the slot is then cleared but keeps its old table.  No
 * worker may run in 'slot'.
 */
int		 shared_ip_prepare(struct shared *, uint32_t slot,
		    uint32_t max_sources, char *err, size_t errlen);
/*
 * Master, once the worker in 'slot' is gone: forget its connections and
 * sources, even when it died halfway through changing its table.
 */
void		 shared_clear_slot(struct shared *, uint32_t slot);

/*
 * Connections from 'addr' (IPv6, or v4-mapped) across all slots.  A full
 * fence comes first, so a place the caller took with shared_ip_add() just
 * before is ordered before the reads: of two workers racing for the last
 * place, at least one sees the other's.  SHARED_IP_UNAVAILABLE when a
 * table stayed mid-update for too long (its worker stopped or died
 * there) or could not be mapped: greater than any limit, so a caller
 * that compares refuses.
 */
uint32_t	 shared_ip_count(struct shared *, const uint8_t addr[16]);
/*
 * The worker in 'slot' gained a connection from 'addr': 0, or -1 with
 * *why set when its table cannot take one more source (full, which a
 * prepared table never is within max_sources, or absent).
 */
int		 shared_ip_add(struct shared *, uint32_t slot,
		    const uint8_t addr[16], const char **why);
/* The worker in 'slot' lost a connection from 'addr'. */
void		 shared_ip_remove(struct shared *, uint32_t slot,
		    const uint8_t addr[16]);

#endif
