/*
 * The contract between the master and its workers, in one place.
 *
 * Spawn: the master forks; the child drops the master's metrics
 * connections (metrics_close_in_child()) and calls worker_run() with a
 * struct worker_args and never returns.  It inherits every descriptor of
 * the master, closes the master's own (wa_fds.wf_master) and the metrics
 * listeners first, and keeps: the listening and UDP sockets, the
 * lifeline's read end, the ready pipe's write end (closed once written),
 * the shared area and the UDP rate table of its generation (wa_rate).
 *
 * UDP: every worker of the serving generation reads every UDP socket
 * (udp.h).  The rate table is shared by that generation's workers: the
 * master maps it before forking them (udp_rate.h), passes the same one
 * on when a reload changes none of its settings, and a new one when it
 * does; it unmaps an old one in itself only, workers keep theirs until
 * they exit.
 *
 * Ready: once it serves, a worker writes one struct worker_ready to the
 * ready pipe.  The master sends READY=1 when every worker of the newest
 * generation has.
 *
 * Signals, master to worker:
 *	WORKER_SIG_STOP    graceful stop: close the listeners and stop
 *			   reading UDP (nothing to drain); end quiet
 *			   connections gracefully after drain_idle; end the
 *			   rest at shutdown_timeout; exit at the latest
 *			   WORKER_LINGER_MS after that.
 *	WORKER_SIG_RETIRE  after a reload: close the listeners and stop
 *			   reading UDP at once (the new generation answers,
 *			   with its rate table); let every connection end by
 *			   itself (no deadline); exit when none is left.
 * Workers ignore SIGINT and SIGHUP (a terminal sends those to the whole
 * process group; the master decides).
 *
 * Lifeline: the master holds the write end of a pipe; EOF on a worker's
 * read end means the master is gone and the worker exits at once.
 *
 * Exit status: ECHOD_EXIT_OK after a stop or retirement, anything else
 * is a failure the master logs and respawns (with back-off).  The master
 * SIGKILLs workers still alive MASTER_KILL_GRACE_MS after
 * shutdown_timeout, counted from WORKER_SIG_STOP (which comes only once
 * drain_delay is over).
 */
#ifndef ECHOD_PROTO_H
#define ECHOD_PROTO_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "listen.h"
#include "ratelimit.h"
#include "shared.h"

#define WORKER_SIG_STOP		SIGTERM
#define WORKER_SIG_RETIRE	SIGUSR1

/* After shutdown_timeout: how long ended connections may linger. */
#define WORKER_LINGER_MS	1000
/* After shutdown_timeout: when the master's SIGKILL comes. */
#define MASTER_KILL_GRACE_MS	(WORKER_LINGER_MS + 1000)

/*
 * Descriptors: a worker needs max_connections for connections (one
 * worker may come to hold all), WORKER_FD_OVERHEAD for everything else,
 * and two for each splice pipe, of which it uses at most
 * WORKER_PIPES_MAX and only what the open file limit leaves over.  The
 * master raises the limit for all of it before forking.
 */
#define WORKER_FD_OVERHEAD	64
#define WORKER_PIPES_MAX	256

struct worker_ready {
	uint32_t	 wr_slot;	/* the master's slot of the worker */
};

struct worker_fds {
	int		 wf_lifeline;	/* read end: EOF, the master is gone */
	int		 wf_ready;	/* write end of the ready pipe */
	int		 wf_master[6];	/* the master's: signalfd, lifeline */
					/* write end, ready read end, epoll, */
					/* UDP rate memfd, upgrade check's */
					/* output; -1: none */
};

struct worker_args {
	const struct echod_config *wa_cfg;
	const struct listen_set	*wa_listeners;
	struct shared		*wa_shared;
	struct ratelimit	*wa_rate;	/* UDP rate table; NULL: */
						/* no limit (or no UDP) */
	struct worker_fds	 wa_fds;
	unsigned		 wa_index;	/* "worker N" in logs */
	unsigned		 wa_gen;	/* configuration generation */
	uint32_t		 wa_slot;	/* in the master's table */
};

#endif
