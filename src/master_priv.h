/*
 * The master's state, private to its two halves: master.c (supervising
 * the workers: spawn, reap, respawn, reload, stop, status, metrics) and
 * master_upgrade.c (the live upgrade: the hand-over, the check, the exec,
 * the take-over and the rollback).  Only those two files include this
 * header; everything else goes through master.h.
 */
#ifndef ECHOD_MASTER_PRIV_H
#define ECHOD_MASTER_PRIV_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "echod.h"
#include "event.h"
#include "handover.h"
#include "listen.h"
#include "master.h"
#include "stats.h"
#include "upgrade.h"

struct metrics;
struct shared;
struct udp_rate;

/* Where the daemon is in its life. */
enum master_phase {
	PHASE_SERVE,
	PHASE_DRAIN,		/* SIGTERM seen: /health fails, still serving */
				/* for drain_delay */
	PHASE_STOP,		/* listeners closed, workers draining */
};

enum slot_state {
	SLOT_FREE,
	SLOT_RUNNING,		/* current generation */
	SLOT_WAITING,		/* current generation, respawn pending */
	SLOT_RETIRING,		/* older generation, draining */
};

struct worker_slot {
	enum slot_state	 ws_state;
	pid_t		 ws_pid;
	unsigned	 ws_gen;
	unsigned	 ws_index;	/* "worker N" within its generation */
	uint64_t	 ws_started;
	uint64_t	 ws_respawn_at;
	unsigned	 ws_quick_deaths;	/* in a row, young */
	bool		 ws_ready;
};

struct master {
	struct event_loop	 loop;
	struct event		 sig_ev;	/* the signalfd */
	struct event		 ready_ev;	/* workers' ready pipe */
	struct event		 check_ev;	/* the upgrade check's output */
	struct metrics		*metrics;	/* the HTTP endpoint */
	uint64_t		 metrics_next;	/* when it wants a tick */
	const char		*cfg_path;
	struct echod_config	 cfg;
	struct listen_set	*listeners;
	struct worker_slot	 slots[ECHOD_MAX_SLOTS];
	struct shared		*shared;	/* per-slot stats */
	struct udp_rate		*rate;		/* this generation's; NULL: */
						/* no UDP or no limit */
	unsigned		 gen;
	int			 sigfd;
	int			 lifeline[2];	/* workers watch [0] */
	int			 ready[2];	/* workers write [1] */
	bool			 ready_sent;	/* READY=1 for this gen */
	bool			 served;	/* READY=1 sent once */
	bool			 reloading;
	enum master_phase	 phase;
	uint64_t		 drain_end;	/* PHASE_DRAIN until */
	uint64_t		 stop_deadline;	/* PHASE_STOP: SIGKILL at */
	struct stats_master	 stats;
	struct stats_rate	 status_rate;	/* for STATUS= */
	double			 accepted_rate;	/* per second, lately */
	double			 echoed_rate;	/* bytes per second */
	uint64_t		 watchdog_ms, next_watchdog;
	uint64_t		 next_status;
	char			 status[192];

	/* Live upgrade. */
	struct upgrade_exe	 exe;		/* the program we run */
	struct upgrade_check	 check;		/* of the installed one */
	bool			 upgrading;	/* check under way */
	bool			 upgrade_again;	/* asked again meanwhile */
	bool			 upgrade_hup;	/* a SIGHUP asked: reload */
						/* if it fails */
	uint64_t		 check_deadline;
	/* Took over from an older program: its version; "" if not. */
	char			 upgraded_from[HANDOVER_VERSION_LEN];
	/* Before the take-over commits: the way back. */
	const struct master_takeover *takeover;
};
/* master.c, for the upgrade. */

/* How many slots are in 'state'. */
unsigned	master_count(struct master *m, enum slot_state state);

/*
 * Give the slots the next generation will take (the free ones in order,
 * counting those waiting for a respawn, which a reload frees) per-source
 * tables for 'cfg' before committing to it: growing them is what can
 * fail, and a generation that cannot start must not replace one that
 * serves.  0, or -1 with err.
 */
int	master_prepare(struct master *m, const struct echod_config *cfg,
	    char *err, size_t errlen);

/*
 * The UDP rate table of a generation with 'cfg' and 'udp_sockets' UDP
 * sockets: the running one when it fits (the networks keep what they
 * used), a new one when the size, rate or burst changed, or none.  0 with
 * *next set (NULL: none), or -1 with err.  Nothing changes until
 * master_rate_commit().
 */
int	master_rate_prepare(struct master *m, const struct echod_config *cfg,
	    size_t udp_sockets, struct udp_rate **next, char *err,
	    size_t errlen);

/* What master_rate_prepare() gave becomes the running table. */
void	master_rate_commit(struct master *m, struct udp_rate *next);

/* A reload that failed after master_rate_prepare(). */
void	master_rate_abandon(struct master *m, struct udp_rate *next);

/*
 * Reap every child that exited: the upgrade check, or a worker, whose
 * slot is freed or waits for its respawn.
 */
void	master_reap(struct master *m);

/* Read the "worker serves" reports queued in the pipe. */
void	master_read_ready(struct master *m);

/*
 * "2 workers, 3 connections, 10.5 accepted/s, 1.2 MiB/s echoed; echod
 * 0.1.0": the rates over the last STATUS_EVERY_MS x (STATS_RATE_SAMPLES
 * - 1), and the version that runs (which a live upgrade changes).
 */
void	master_format_status(struct master *m, char *buf, size_t len);

/*
 * Load the configuration again and start a new generation with it; on
 * any failure, keep the running one and say why.
 */
void	master_reload(struct master *m);

/* master_upgrade.c, for the supervision. */

/*
 * SIGUSR2, or SIGHUP with the program replaced on disk: check the
 * installed program, in a child; master_upgrade_step() takes it from
 * there.  'trigger' says why, for the log.
 */
void	master_upgrade(struct master *m, const char *trigger);

/* Each turn while a check runs: act on its end, or on its timeout. */
void	master_upgrade_step(struct master *m);

/* Forget the check, over or not. */
void	master_check_end(struct master *m);

/*
 * An upgrade did not happen: say why; the running program goes on.  One
 * that a SIGHUP asked for was a reload too: do that one at least, or an
 * edit of the file would wait for a program that may never take over.
 */
void	master_upgrade_failed(struct master *m, const char *why,
	    bool reloading);

/*
 * Take what the old program handed over: its pipes, its memory, its
 * workers (still our children), its counters.  Nothing of it changes
 * yet.  Execs the old program back (or exits) if it cannot.
 */
void	master_adopt(struct master *m, const struct handover *h);

/*
 * An upgrade, in the new program: what a reload does, from the old
 * program's state to this one's configuration.  Every step that can
 * fail comes before any change, so a failure can still go back.
 */
void	master_take_over(struct master *m);

/*
 * A rollback, in the old program: the new one could not take over.
 * Everything is as it was before the exec; carry on.
 */
void	master_resume(struct master *m);

#endif
