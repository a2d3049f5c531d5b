/*
 * Accepting connections in a worker: its listeners in the event loop,
 * accept batches, back-pressure when descriptors run out, and admission
 * (max_connections, max_connections_per_ip) before a connection is
 * served.
 */
#ifndef ECHOD_ACCEPT_H
#define ECHOD_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "echod.h"
#include "event.h"
#include "listen.h"
#include "log.h"
#include "shared.h"

struct worker;
struct conn;

struct accept_listener {
	struct event	 al_ev;		/* first: the loop's handle */
	unsigned	 al_index;	/* in the listen set */
	enum listen_kind al_kind;	/* LISTEN_ECHO or LISTEN_PROXY */
};

struct accept_state {
	struct accept_listener	 as_l[ECHOD_MAX_LISTEN * 2];
	size_t			 as_n;		/* 0 once closed */
	uint64_t		 as_resume_at;	/* paused until; 0: not */
	bool			 as_opts_seen;	/* inherited options seen */
	struct log_burst	 as_limit_burst, as_source_burst,
				 as_fd_burst, as_err_burst, as_proxy_burst;
};

/*
 * Take the worker's listeners into its loop.  A listener that cannot be
 * added is retried after a pause, never fatal.
 */
void		 accept_start(struct worker *);
/* Close the listeners for good (stop, retirement). */
void		 accept_close(struct worker *);
/*
 * max_connections_per_ip for a connection whose client is 'sa' (from
 * accept, or from its PROXY header): take its place in the shared count.
 * 0, or -1 with *why to close it with.
 */
int		 accept_admit_source(struct worker *, struct conn *,
		    const struct sockaddr *sa, enum conn_end *why);
/* A connection closed: a paused accept may resume at once. */
void		 accept_fd_freed(struct worker *);
/* Resume accepting when a pause is over; log the end of bursts.
 * Returns the next time (ms) this wants to run, or UINT64_MAX. */
uint64_t	 accept_tick(struct worker *);

#endif
