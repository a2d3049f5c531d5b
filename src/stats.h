/*
 * What echod reports about itself: the series of the /metrics endpoint
 * (totals over the workers' shared counters plus the master's own) and
 * the rates of the STATUS= line.  The master is the only caller.
 */
#ifndef ECHOD_STATS_H
#define ECHOD_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "prom.h"
#include "shared.h"

/* How a worker ended, from its wait status. */
enum stats_exit {
	STATS_EXIT_CLEAN,	/* exit status 0: a stop or a retirement */
	STATS_EXIT_ERROR,	/* any other exit status */
	STATS_EXIT_SIGNAL,	/* killed by a signal */
	STATS_EXIT_N
};

/* The master's own counters, and gauges it fills in before rendering. */
struct stats_master {
	uint64_t	 sm_exits[STATS_EXIT_N];
	uint64_t	 sm_restarts;		/* replacements forked */
	uint64_t	 sm_reloads_ok, sm_reloads_failed;
	bool		 sm_last_reload_failed;
	uint64_t	 sm_upgrades_ok;	/* programs exec'd in place */
	uint64_t	 sm_upgrades_failed;	/* refused or rolled back */
	double		 sm_start_time;		/* Unix time, seconds */
	unsigned	 sm_running;		/* current generation */
	unsigned	 sm_retiring;		/* older ones, draining */
	unsigned	 sm_waiting;		/* respawn pending */
};

/*
 * Samples of two counters, for rates over the last few seconds.  Zero
 * it before use.
 */
#define STATS_RATE_SAMPLES	6

struct stats_rate {
	struct {
		uint64_t	 at;		/* ms, monotonic */
		uint64_t	 accepted;
		uint64_t	 echoed;
	}		 sr_s[STATS_RATE_SAMPLES];
	unsigned	 sr_n;			/* samples taken, ever */
};

/* The cause of a worker's end from its waitpid() status. */
enum stats_exit	 stats_exit_cause(int status);

/*
 * Append every series to pb: the master's counters and gauges from *sm,
 * the workers' totals from sh (shared_sum()).  The caller checks
 * pb->pb_failed.
 */
void	stats_render(struct prom_buf *pb, const struct stats_master *sm,
	    struct shared *sh);

/*
 * Take a sample of the daemon's totals at 'now' (ms), the oldest being
 * dropped once STATS_RATE_SAMPLES are kept, and set the rates since the
 * oldest sample kept: connections accepted and bytes echoed per second.
 * Both are 0 until two samples were taken.
 */
void	stats_rate_sample(struct stats_rate *, struct shared *, uint64_t now,
	    double *accepted_per_s, double *echoed_per_s);

#endif
