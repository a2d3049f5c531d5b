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
 * Workers ignore SIGINT, SIGHUP and SIGUSR2 (a terminal sends those to
 * the whole process group; the master decides).
 *
 * Lifeline: the master holds the write end of a pipe; EOF on a worker's
 * read end means the master is gone and the worker exits at once.
 *
 * Exit status: ECHOD_EXIT_OK after a stop or retirement, anything else
 * is a failure the master logs and respawns (with back-off).  The master
 * SIGKILLs workers still alive MASTER_KILL_GRACE_MS after
 * shutdown_timeout, counted from WORKER_SIG_STOP (which comes only once
 * drain_delay is over).
 *
 * Live upgrade, master to the master it execs in its own process
 * (SIGUSR2, or SIGHUP once the program on disk was replaced; upgrade.h
 * for the process side, handover.h for the format):
 *  - Workers never notice: their parent keeps its PID, so their lifeline
 *    stays open (the new master holds the same write end), waitpid()
 *    keeps reaping them, and the area they write their counts and
 *    sources to is the one the new master maps again.  A worker does not
 *    exec and runs the code of the program that forked it until it
 *    exits.
 *  - Handed over (FD_CLOEXEC cleared for the exec, set again once the
 *    new master committed): every listener with its kind, name and
 *    bound address; the shared area's memfd and the per-source tables'
 *    memfd; the newest generation's UDP rate memfd; both ends of the
 *    lifeline and ready pipes; the hand-over's own memfd; the old
 *    program, opened, for a rollback.  Closed by the exec: the
 *    signalfd, the epoll instance, metrics connections (a scrape in
 *    flight at that instant gets no answer), the check's pipe.
 *  - In the hand-over's text: each slot in use (pid, generation, index,
 *    state, start time, respawn time, quick deaths, ready), the newest
 *    generation number, the master's counters and start time, the
 *    configuration file, the program's path, whether systemd passed the
 *    sockets, where and how the master logs, and its own configuration
 *    (read back only by the same program, in a rollback).
 *  - The new master reads the configuration file itself (the old one's
 *    struct echod_config is another build's), then does what a reload
 *    does: the workers of the newest generation get WORKER_SIG_RETIRE,
 *    those waiting for a respawn are forgotten, and a new generation
 *    starts with the new code.  Retiring workers of any program keep
 *    their connections until each ends (idle_timeout bounds a quiet
 *    one); the slots hold three generations of ECHOD_MAX_WORKERS, so an
 *    upgrade needs room as a reload does and is refused without it.
 *  - Until it commits (the first change to anything handed over), a new
 *    master that cannot take over (an unknown format, a configuration
 *    broken since the check, memory that will not map) execs the old
 *    program back with $ECHOD_HANDOVER_REFUSED; the old master resumes
 *    exactly as it was, with the workers it had, and logs why.
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
