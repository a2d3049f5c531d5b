/*
 * echod's series.  Counters of the workers are read from shared memory
 * by offset, so a new one is a row in worker_counters[] below.
 */
#include "autoconf.h"

#include <sys/wait.h>

#include <stddef.h>

#include "conn.h"
#include "stats.h"
#include "udp_guard.h"

/* A counter of struct worker_stats exported as one series. */
static const struct {
	const char	*name;
	const char	*help;
	size_t		 offset;
} worker_counters[] = {
	{ "echod_connections_accepted_total",
	    "TCP connections admitted and served.",
	    offsetof(struct worker_stats, ws_accepted) },
	{ "echod_received_bytes_total",
	    "Bytes read from TCP clients.",
	    offsetof(struct worker_stats, ws_bytes_in) },
	{ "echod_echoed_bytes_total",
	    "Bytes echoed back to TCP clients.",
	    offsetof(struct worker_stats, ws_bytes_out) },
	{ "echod_accept_pauses_total",
	    "Times a worker paused accepting because descriptors or memory "
	    "ran out.",
	    offsetof(struct worker_stats, ws_accept_pauses) },
	{ "echod_udp_datagrams_received_total",
	    "UDP datagrams received.",
	    offsetof(struct worker_stats, ws_udp_received) },
	{ "echod_udp_datagrams_echoed_total",
	    "UDP datagrams answered.",
	    offsetof(struct worker_stats, ws_udp_echoed) },
	{ "echod_udp_received_bytes_total",
	    "Payload bytes of UDP datagrams received.",
	    offsetof(struct worker_stats, ws_udp_bytes_in) },
	{ "echod_udp_echoed_bytes_total",
	    "Payload bytes of UDP answers sent.",
	    offsetof(struct worker_stats, ws_udp_bytes_out) },
};

static const char *const exit_labels[STATS_EXIT_N] = {
	[STATS_EXIT_CLEAN] = "clean",
	[STATS_EXIT_ERROR] = "error",
	[STATS_EXIT_SIGNAL] = "signal",
};

enum stats_exit
stats_exit_cause(int status)
{
	if (WIFSIGNALED(status))
		return STATS_EXIT_SIGNAL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return STATS_EXIT_CLEAN;
	return STATS_EXIT_ERROR;
}

static size_t
ended_offset(enum conn_end e)
{
	return offsetof(struct worker_stats, ws_ended) +
	    (size_t)e * sizeof(_Atomic uint64_t);
}

static void
stats_render_ends(struct prom_buf *pb, struct shared *sh)
{
	enum conn_end	 e;
	int		 r;

	prom_family(pb, "echod_connections_refused_total", "counter",
	    "TCP connections closed at once instead of served, by reason.");
	for (e = 0; e < END_N; e++)
		if (END_IS_REFUSAL(e))
			prom_sample(pb, "echod_connections_refused_total",
			    "reason", conn_end_label(e),
			    shared_sum(sh, ended_offset(e)));
	prom_family(pb, "echod_connections_closed_total", "counter",
	    "TCP connections served and then closed, by reason.");
	for (e = 0; e < END_N; e++)
		if (!END_IS_REFUSAL(e))
			prom_sample(pb, "echod_connections_closed_total",
			    "reason", conn_end_label(e),
			    shared_sum(sh, ended_offset(e)));
	prom_family(pb, "echod_proxy_refused_total", "counter",
	    "Connections on [proxy] sockets refused because of their PROXY "
	    "header (all are in echod_connections_refused_total{reason="
	    "\"proxy\"}), by reason.");
	for (r = 1; r < PROXY_REFUSED_N; r++)
		prom_sample(pb, "echod_proxy_refused_total", "reason",
		    conn_proxy_label(r), shared_sum(sh,
		    offsetof(struct worker_stats, ws_proxy) +
		    (size_t)r * sizeof(_Atomic uint64_t)));
	prom_family(pb, "echod_udp_datagrams_dropped_total", "counter",
	    "UDP datagrams not answered, by reason (the guards, the rate "
	    "limit, a full send buffer...).");
	for (r = 1; r < UDP_NVERDICTS; r++)
		prom_sample(pb, "echod_udp_datagrams_dropped_total", "reason",
		    udp_guard_label((enum udp_verdict)r), shared_sum(sh,
		    offsetof(struct worker_stats, ws_udp_dropped) +
		    (size_t)r * sizeof(_Atomic uint64_t)));
}

void
stats_render(struct prom_buf *pb, const struct stats_master *sm,
    struct shared *sh)
{
	size_t	 i;

	prom_family(pb, "echod_build_info", "gauge",
	    "Always 1; the version of echod as a label.");
	prom_sample(pb, "echod_build_info", "version", echod_version, 1);
	prom_family(pb, "echod_start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the Unix epoch; "
	    "counters start from 0 then (a live upgrade keeps both).");
	prom_sample_double(pb, "echod_start_time_seconds", NULL, NULL,
	    sm->sm_start_time);

	prom_family(pb, "echod_workers", "gauge",
	    "Worker processes: running (the current generation), retiring "
	    "(an older one finishing its connections after a reload), "
	    "respawn_pending (dead, waiting to be replaced).");
	prom_sample(pb, "echod_workers", "state", "running", sm->sm_running);
	prom_sample(pb, "echod_workers", "state", "retiring",
	    sm->sm_retiring);
	prom_sample(pb, "echod_workers", "state", "respawn_pending",
	    sm->sm_waiting);
	prom_family(pb, "echod_worker_exits_total", "counter",
	    "Worker processes that ended: clean (exit status 0, after a "
	    "stop or a reload), error (another exit status), signal "
	    "(killed).");
	for (i = 0; i < STATS_EXIT_N; i++)
		prom_sample(pb, "echod_worker_exits_total", "cause",
		    exit_labels[i], sm->sm_exits[i]);
	prom_family(pb, "echod_worker_restarts_total", "counter",
	    "Workers started to replace one that died.");
	prom_sample(pb, "echod_worker_restarts_total", NULL, NULL,
	    sm->sm_restarts);
	prom_family(pb, "echod_reloads_total", "counter",
	    "Configuration reloads (SIGHUP), by result.");
	prom_sample(pb, "echod_reloads_total", "result", "ok",
	    sm->sm_reloads_ok);
	prom_sample(pb, "echod_reloads_total", "result", "failed",
	    sm->sm_reloads_failed);
	prom_family(pb, "echod_upgrades_total", "counter",
	    "Live upgrades (SIGUSR2, or SIGHUP once the program on disk was "
	    "replaced), by result: ok (the installed program took over), "
	    "failed (refused or rolled back; the running one went on).");
	prom_sample(pb, "echod_upgrades_total", "result", "ok",
	    sm->sm_upgrades_ok);
	prom_sample(pb, "echod_upgrades_total", "result", "failed",
	    sm->sm_upgrades_failed);
	prom_family(pb, "echod_last_reload_successful", "gauge",
	    "0 if the last reload failed (echod runs on the configuration "
	    "before it), else 1.");
	prom_sample(pb, "echod_last_reload_successful", NULL, NULL,
	    sm->sm_last_reload_failed ? 0 : 1);

	prom_family(pb, "echod_connections_open", "gauge",
	    "TCP connections open now.");
	prom_sample(pb, "echod_connections_open", NULL, NULL,
	    shared_total_conns(sh));
	for (i = 0; i < sizeof(worker_counters) / sizeof(worker_counters[0]);
	    i++) {
		prom_family(pb, worker_counters[i].name, "counter",
		    worker_counters[i].help);
		prom_sample(pb, worker_counters[i].name, NULL, NULL,
		    shared_sum(sh, worker_counters[i].offset));
	}
	stats_render_ends(pb, sh);
}

void
stats_rate_sample(struct stats_rate *r, struct shared *sh, uint64_t now,
    double *accepted_per_s, double *echoed_per_s)
{
	unsigned	 cur = r->sr_n % STATS_RATE_SAMPLES, old;
	double		 secs;

	r->sr_s[cur].at = now;
	r->sr_s[cur].accepted = shared_sum(sh,
	    offsetof(struct worker_stats, ws_accepted));
	r->sr_s[cur].echoed = shared_sum(sh,
	    offsetof(struct worker_stats, ws_bytes_out));
	r->sr_n++;
	*accepted_per_s = *echoed_per_s = 0;
	if (r->sr_n < 2)
		return;
	/* The oldest kept: the next to be overwritten, or the first. */
	old = r->sr_n < STATS_RATE_SAMPLES ? 0 : r->sr_n % STATS_RATE_SAMPLES;
	if (r->sr_s[cur].at <= r->sr_s[old].at)
		return;
	secs = (double)(r->sr_s[cur].at - r->sr_s[old].at) / 1000;
	*accepted_per_s = (double)(r->sr_s[cur].accepted -
	    r->sr_s[old].accepted) / secs;
	*echoed_per_s = (double)(r->sr_s[cur].echoed -
	    r->sr_s[old].echoed) / secs;
}
