/*
 * A worker process: one event loop serving many connections.
 *
 * struct worker is the serving state that the worker's parts share:
 * worker.c (the process, its loop, stop and retirement), accept.c
 * (listeners and admission), conn.c (connections) and udp.c (UDP
 * echo).
 */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "accept.h"
#include "event.h"
#include "log.h"
#include "pipes.h"
#include "proto.h"
#include "timer.h"
#include "udp.h"

struct conn;

enum worker_mode {
	WORKER_SERVING,
	WORKER_RETIRING,	/* no listeners nor UDP, no deadline */
	WORKER_STOPPING,	/* no listeners nor UDP, shutdown_timeout */
};

struct worker {
	struct event_loop	 w_loop;
	const struct worker_args *w_args;
	const struct echod_config *w_cfg;
	struct worker_stats	*w_stats;	/* our slot, shared */
	enum worker_mode	 w_mode;

	/* Connections, each in exactly one of these lists. */
	unsigned		 w_nconns;	/* not yet closed */
	struct timer_list	 w_header;	/* waiting for a PROXY header */
	struct timer_list	 w_idle;	/* echoing, by last activity */
	struct timer_list	 w_ending;	/* being ended gracefully */
	struct timer_list	 w_closed;	/* freed after this turn */
	struct conn		*w_busy_head, *w_busy_tail; /* echoing, budget used up */

	struct accept_state	 w_accept;
	struct pipe_pool	 w_pipes;	/* for splice(2) */
	struct udp_state	 w_udp;

	uint64_t		 w_stop_deadline;	/* shutdown_timeout */
	uint64_t		 w_next_tick;		/* drain checks */
	struct log_burst	 w_err_burst;
};

/* Run a worker in a freshly forked child; never returns. */
void	worker_run(const struct worker_args *) __attribute__((noreturn));

#endif
