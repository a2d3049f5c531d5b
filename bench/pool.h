/*
 * A pool of flows and one epoll set to wait on them: each registered
 * flow's event carries the flow itself in data.ptr.
 */
#ifndef ECHO_LOAD_POOL_H
#define ECHO_LOAD_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "load.h"

struct pool {
	struct flow	*p_flows;	/* p_n of them */
	unsigned	 p_n;
	int		 p_ep;		/* the epoll set */
};

/*
 * n closed flows and an empty epoll set.  Exits with LOAD_EXIT_USAGE
 * when it cannot make them.
 */
void	pool_init(struct pool *, unsigned n);

/*
 * Connect every flow of the pool, numbered first, first + 1, ..., with at
 * most o->lo_parallel connects in flight and o->lo_timeout for them all;
 * then watch each for events (0: leave them out of the set).  0, or -1
 * after a warning with every flow closed by a reset.
 */
int	pool_connect(struct pool *, const struct load_opts *o, uint64_t first,
	    bool nodelay, uint32_t events);

/* Add f to the set, or take it out. */
void	pool_watch(struct pool *, struct flow *f, uint32_t events);
void	pool_unwatch(struct pool *, struct flow *f);

/* Bytes echoed and verified over every flow. */
uint64_t	pool_verified(const struct pool *);

/* Close every flow and the set. */
void	pool_free(struct pool *);

/*
 * Close every flow with a reset (SO_LINGER 0), so none is left in
 * TIME_WAIT for the next run, and the set.
 */
void	pool_free_reset(struct pool *);

#endif
