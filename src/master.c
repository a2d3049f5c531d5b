/*
 * Master process: worker supervision, reload and shutdown.
 *
 * Signals arrive through a signalfd, in an event loop with the pipe on
 * which workers report that they serve and the metrics endpoint.  Every
 * deadline (respawn back-off, drain delay, shutdown, status, watchdog,
 * metrics connections) is the loop's timeout.
 *
 * The metrics endpoint is served here rather than in a worker or a
 * process of its own: the master already reads every worker's counters
 * and knows the state of each worker, of reloads and of a stop, and it
 * outlives every worker, so /health can follow a stop to its end.  Its
 * sockets never block and its work per wake-up is bounded (metrics.h),
 * so a scraper cannot delay supervision by more than one answer.
 *
 * A live upgrade (SIGUSR2, or SIGHUP once the program on disk was
 * replaced) execs the installed program in this very process, after a
 * check of it that runs in a child the loop does not wait for.  The new
 * program adopts everything the hand-over lists (handover.h) and goes on
 * as after a reload: a new generation of workers, the old one retired.
 * If it cannot, it execs this program back, which resumes as it was.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "handover.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "notify.h"
#include "proto.h"
#include "sig.h"
#include "stats.h"
#include "timer.h"
#include "udp_rate.h"
#include "upgrade.h"
#include "worker.h"

#define QUICK_DEATH_MS		10000	/* dying younger than this ... */
#define QUICK_DEATHS		5	/* ... this many times: back off */
#define BACKOFF_MAX_MS		60000
#define STATUS_EVERY_MS		2000

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

static struct worker_slot *
master_slot_by_pid(struct master *m, pid_t pid)
{
	size_t	 i;

	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state != SLOT_FREE &&
		    m->slots[i].ws_pid == pid)
			return &m->slots[i];
	return NULL;
}

static struct worker_slot *
master_slot_free(struct master *m)
{
	size_t	 i;

	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state == SLOT_FREE)
			return &m->slots[i];
	return NULL;
}

static unsigned
master_count(struct master *m, enum slot_state state)
{
	unsigned	 i, n = 0;

	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		n += m->slots[i].ws_state == state;
	return n;
}

/* Distinct sources a worker may have to count: all it can hold. */
static uint32_t
master_sources(const struct echod_config *cfg)
{
	return cfg->max_connections_per_ip ? cfg->max_connections : 0;
}

/*
 * Give the slots the next generation will take (the free ones in order,
 * counting those waiting for a respawn, which a reload frees) per-source
 * tables for 'cfg' before committing to it: growing them is what can
 * fail, and a generation that cannot start must not replace one that
 * serves.
 */
static int
master_prepare(struct master *m, const struct echod_config *cfg, char *err,
    size_t errlen)
{
	unsigned	 i, n = 0;

	for (i = 0; i < ECHOD_MAX_SLOTS && n < cfg->workers; i++) {
		if (m->slots[i].ws_state != SLOT_FREE &&
		    m->slots[i].ws_state != SLOT_WAITING)
			continue;
		if (shared_ip_prepare(m->shared, i, master_sources(cfg), err,
		    errlen) == -1)
			return -1;
		n++;
	}
	return 0;
}

/*
 * The UDP rate table of a generation with 'cfg' and 'udp_sockets' UDP
 * sockets: the running one when it fits (the networks keep what they
 * used), a new one when the size, rate or burst changed, or none.  0 with
 * *next set (NULL: none), or -1 with err.  Nothing changes until
 * master_rate_commit().
 */
static int
master_rate_prepare(struct master *m, const struct echod_config *cfg,
    size_t udp_sockets, struct udp_rate **next, char *err, size_t errlen)
{
	*next = NULL;
	if (!udp_rate_wanted(cfg, udp_sockets))
		return 0;
	if (udp_rate_matches(m->rate, cfg)) {
		*next = m->rate;
		return 0;
	}
	if ((*next = udp_rate_create(cfg, err, errlen)) == NULL)
		return -1;
	log_debug("UDP rate limit: %u datagrams/s per network, burst %u, in "
	    "a table of %u networks (%zu KiB)", cfg->udp_rate_limit,
	    cfg->udp_rate_burst, cfg->udp_rate_table_size,
	    udp_rate_bytes(*next) >> 10);
	return 0;
}

/* What master_rate_prepare() gave becomes the running table. */
static void
master_rate_commit(struct master *m, struct udp_rate *next)
{
	if (next != m->rate)
		udp_rate_free(m->rate);
	m->rate = next;
}

/* A reload that failed after master_rate_prepare(). */
static void
master_rate_abandon(struct master *m, struct udp_rate *next)
{
	if (next != m->rate)
		udp_rate_free(next);
}

/* Fork one worker into slot s (its index and generation already set). */
static void
master_spawn(struct master *m, struct worker_slot *s)
{
	uint32_t		 slot = (uint32_t)(s - m->slots);
	struct worker_args	 a = {
		.wa_cfg = &m->cfg,
		.wa_listeners = m->listeners,
		.wa_shared = m->shared,
		.wa_rate = udp_rate_table(m->rate),
		.wa_fds = {
			.wf_lifeline = m->lifeline[0],
			.wf_ready = m->ready[1],
			.wf_master = { m->sigfd, m->lifeline[1], m->ready[0],
			    m->loop.el_fd, udp_rate_fd(m->rate),
			    m->check.uc_out },
		},
		.wa_index = s->ws_index,
		.wa_gen = s->ws_gen,
		.wa_slot = slot,
	};
	char			 err[160];
	pid_t			 pid;

	if (shared_ip_prepare(m->shared, slot, master_sources(&m->cfg), err,
	    sizeof(err)) == -1) {
		log_warnx("cannot start worker %u: %s; retrying in 1s",
		    s->ws_index, err);
		goto retry;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("cannot fork worker %u; retrying in 1s", s->ws_index);
		goto retry;
	case 0:
		metrics_close_in_child(m->metrics);
		m->metrics = NULL;
		worker_run(&a);
		/* NOTREACHED */
	default:
		s->ws_state = SLOT_RUNNING;
		s->ws_pid = pid;
		s->ws_started = m->loop.el_now;
		s->ws_ready = false;
		log_debug("worker %u started (pid %ld)", s->ws_index,
		    (long)pid);
	}
	return;
retry:
	s->ws_state = SLOT_WAITING;
	s->ws_respawn_at = m->loop.el_now + 1000;
}

/* Start a full generation of workers; the caller checked for room. */
static void
master_spawn_generation(struct master *m)
{
	struct worker_slot	*s;
	unsigned		 i;

	m->gen++;
	m->ready_sent = false;
	for (i = 0; i < m->cfg.workers; i++) {
		s = master_slot_free(m);
		s->ws_gen = m->gen;
		s->ws_index = i;
		s->ws_quick_deaths = 0;
		master_spawn(m, s);
	}
}

static void
master_signal_all(struct master *m, int sig)
{
	size_t	 i;

	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state == SLOT_RUNNING ||
		    m->slots[i].ws_state == SLOT_RETIRING)
			(void)kill(m->slots[i].ws_pid, sig);
}

/*
 * How long to wait before respawning slot s.  A worker that keeps dying
 * young (a crash loop: bad environment, a bug hit at once) is respawned
 * after 1 s, doubling to 60 s, instead of in a fork storm.  One that
 * lived QUICK_DEATH_MS or more starts the count afresh.
 */
static uint64_t
master_backoff(struct master *m, struct worker_slot *s)
{
	unsigned	 n;

	if (m->loop.el_now - s->ws_started >= QUICK_DEATH_MS)
		s->ws_quick_deaths = 0;
	n = ++s->ws_quick_deaths;
	if (n < QUICK_DEATHS)
		return 0;
	n -= QUICK_DEATHS;
	return n >= 6 ? BACKOFF_MAX_MS : 1000ULL << n;
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)%s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "changed state (0x%x)", status);
}

static void
master_reap(struct master *m)
{
	struct worker_slot	*s;
	char			 how[96], fields[128];
	uint64_t		 delay;
	pid_t			 pid;
	int			 status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;		/* 0: none left; ECHILD: no children */
		if (upgrade_check_reaped(&m->check, pid, status))
			continue;
		if ((s = master_slot_by_pid(m, pid)) == NULL)
			continue;
		/* Its connections died with it: forget their counts. */
		shared_fold_slot(m->shared, (uint32_t)(s - m->slots));
		shared_clear_slot(m->shared, (uint32_t)(s - m->slots));
		m->stats.sm_exits[stats_exit_cause(status)]++;
		describe_status(status, how, sizeof(how));
		snprintf(fields, sizeof(fields), "WORKER_PID=%ld\n"
		    "WORKER_INDEX=%u\nEXIT_STATUS=%d", (long)pid, s->ws_index,
		    status);
		if (m->phase == PHASE_STOP || s->ws_state == SLOT_RETIRING) {
			log_event(WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
			    LOG_DEBUG : LOG_WARNING, MSGID_WORKER_DIED, fields,
			    "worker %u (pid %ld, generation %u) %s",
			    s->ws_index, (long)pid, s->ws_gen, how);
			s->ws_state = SLOT_FREE;
			continue;
		}
		delay = master_backoff(m, s);
		if (delay == 0)
			log_event(LOG_ERR, MSGID_WORKER_DIED, fields,
			    "worker %u (pid %ld) %s; respawning", s->ws_index,
			    (long)pid, how);
		else
			log_event(LOG_ERR, MSGID_WORKER_DIED, fields,
			    "worker %u (pid %ld) %s; it keeps dying (%u times "
			    "in a row within %d s of starting): respawning in "
			    "%llu ms", s->ws_index, (long)pid, how,
			    s->ws_quick_deaths, QUICK_DEATH_MS / 1000,
			    (unsigned long long)delay);
		s->ws_state = SLOT_WAITING;
		s->ws_respawn_at = m->loop.el_now + delay;
	}
}

static void
master_respawn_due(struct master *m)
{
	size_t	 i;

	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state == SLOT_WAITING &&
		    m->slots[i].ws_respawn_at <= m->loop.el_now) {
			master_spawn(m, &m->slots[i]);
			if (m->slots[i].ws_state == SLOT_RUNNING)
				m->stats.sm_restarts++;
		}
}

static unsigned
master_connections(struct master *m)
{
	return shared_total_conns(m->shared);
}

/* "12.5 MiB/s": bytes per second, short. */
static void
format_bytes_rate(double rate, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB" };
	size_t	 u = 0;

	while (rate >= 1024 && u < sizeof(units) / sizeof(units[0]) - 1) {
		rate /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s/s" : "%.1f %s/s", rate, units[u]);
}

/*
 * "2 workers, 3 connections, 10.5 accepted/s, 1.2 MiB/s echoed; echod
 * 0.1.0": the rates over the last STATUS_EVERY_MS x (STATS_RATE_SAMPLES
 * - 1), and the version that runs (which a live upgrade changes).
 */
static void
master_format_status(struct master *m, char *buf, size_t len)
{
	unsigned	 retiring = master_count(m, SLOT_RETIRING);
	char		 echoed[32];

	format_bytes_rate(m->echoed_rate, echoed, sizeof(echoed));
	snprintf(buf, len, "%s%u workers, %u connections, %.1f accepted/s, "
	    "%s echoed", m->phase == PHASE_DRAIN ? "Stopping, health check "
	    "failing: " : m->phase == PHASE_STOP ? "Stopping: " : "",
	    master_count(m, SLOT_RUNNING), master_connections(m),
	    m->accepted_rate, echoed);
	if (retiring)
		snprintf(buf + strlen(buf), len - strlen(buf),
		    "; %u old workers draining", retiring);
	snprintf(buf + strlen(buf), len - strlen(buf), "; echod %s",
	    echod_version);
}

/* Read the "worker serves" reports queued in the pipe. */
static void
master_read_ready(struct master *m)
{
	struct worker_ready	 msg;

	while (read(m->ready[0], &msg, sizeof(msg)) == sizeof(msg))
		if (msg.wr_slot < ECHOD_MAX_SLOTS)
			m->slots[msg.wr_slot].ws_ready = true;
}

/* Read "worker serves" reports; send READY=1 once a generation serves. */
static void
master_on_ready(struct master *m)
{
	size_t			 i;
	bool			 all = true;
	char			 fields[192];

	master_read_ready(m);
	if (m->ready_sent)
		return;
	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state == SLOT_RUNNING &&
		    m->slots[i].ws_gen == m->gen && !m->slots[i].ws_ready)
			all = false;
	if (!all)
		return;
	m->ready_sent = true;
	m->served = true;
	master_format_status(m, m->status, sizeof(m->status));
	notify_ready(m->status);
	snprintf(fields, sizeof(fields), "WORKERS=%u\nGENERATION=%u",
	    m->cfg.workers, m->gen);
	if (m->gen == 1) {
		char	 addrs[LISTEN_MAX * 80] = "";
		size_t	 j;

		for (j = 0; j < m->listeners->n; j++) {
			const struct listener *l = &m->listeners->ls[j];

			/* Echo sockets plain, others with their kind. */
			snprintf(addrs + strlen(addrs),
			    sizeof(addrs) - strlen(addrs), "%s%s%s%s",
			    j ? ", " : "", l->l_kind == LISTEN_ECHO ? "" :
			    listen_kind_name(l->l_kind),
			    l->l_kind == LISTEN_ECHO ? "" : " ", l->l_name);
		}
		log_event(LOG_NOTICE, MSGID_STARTED, fields,
		    "echod %s started: %u workers serving on %s%s",
		    echod_version, m->cfg.workers, addrs,
		    m->listeners->passed ? " (from systemd)" : "");
	} else if (m->upgraded_from[0] != '\0') {
		snprintf(fields + strlen(fields), sizeof(fields) -
		    strlen(fields), "\nOLD_VERSION=%s\nNEW_VERSION=%s",
		    m->upgraded_from, echod_version);
		log_event(LOG_NOTICE, MSGID_UPGRADED, fields,
		    "upgraded from echod %s to echod %s: %u new workers "
		    "serving, the old ones finish their connections",
		    m->upgraded_from, echod_version, m->cfg.workers);
		m->upgraded_from[0] = '\0';
	} else if (m->reloading)
		log_event(LOG_NOTICE, MSGID_RELOADED, fields,
		    "configuration reloaded from %s: %u new workers serving",
		    m->cfg_path, m->cfg.workers);
	m->reloading = false;
}

/*
 * max_connections is shared by all workers, so one worker may come to
 * hold all of them: raise the soft limit toward the hard one to fit,
 * before the workers that need it are forked.
 */
static void
master_fd_limit(const struct echod_config *cfg)
{
	struct rlimit	 rl;
	rlim_t		 want, need;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	need = (rlim_t)cfg->max_connections + WORKER_FD_OVERHEAD;
	/* Splice pipes get what is there; connections come first. */
	want = need + (cfg->splice ? 2 * WORKER_PIPES_MAX : 0);
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		log_warnx("open file limit %llu is below the %llu that "
		    "max_connections needs; a worker that reaches it pauses "
		    "accepting (raise LimitNOFILE= or ulimit -n)",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

static void
master_reload(struct master *m)
{
	struct echod_config	 next;
	struct config_errors	 errs;
	struct udp_rate		*rate;
	char			 err[256], fields[512];
	unsigned		 i;
	size_t			 udp;

	notify_reloading("Reloading configuration");
	log_info("reloading configuration from %s", m->cfg_path);
	if (config_load(m->cfg_path, &next, &errs) == -1) {
		for (i = 0; i < errs.n; i++) {
			snprintf(fields, sizeof(fields), "CONFIG_FILE=%s",
			    m->cfg_path);
			log_event(LOG_ERR, MSGID_RELOAD_FAILED, fields,
			    "reload failed: %s", errs.msg[i]);
		}
		if (errs.dropped)
			log_event(LOG_ERR, MSGID_RELOAD_FAILED, NULL,
			    "reload failed: %u more problems", errs.dropped);
		goto keep;
	}
	if (listen_count(m->listeners, LISTEN_PROXY) > 0 &&
	    next.proxy_ntrusted == 0 && m->listeners->passed) {
		log_event(LOG_ERR, MSGID_RELOAD_FAILED, NULL, "reload failed: "
		    "systemd passed a \"proxy\" socket but [proxy] trusted is "
		    "not set");
		goto keep;
	}
	/*
	 * Old workers keep their slots while they drain.  Count only the
	 * living: reap first, since a signal read together with this
	 * SIGHUP may report workers that have exited.
	 */
	master_reap(m);
	if (master_count(m, SLOT_FREE) + master_count(m, SLOT_WAITING) <
	    next.workers) {
		log_event(LOG_ERR, MSGID_RELOAD_FAILED, NULL, "reload failed: "
		    "too many old workers are still draining (%u)",
		    master_count(m, SLOT_RETIRING));
		goto keep;
	}
	if (master_prepare(m, &next, err, sizeof(err)) == -1) {
		log_event(LOG_ERR, MSGID_RELOAD_FAILED, NULL, "reload failed: "
		    "%s", err);
		goto keep;
	}
	/* Sockets from systemd stay; ours will follow [udp] listen. */
	udp = m->listeners->passed ? listen_count(m->listeners, LISTEN_UDP) :
	    next.udp_listen.ll_n;
	if (master_rate_prepare(m, &next, udp, &rate, err, sizeof(err))
	    == -1) {
		log_event(LOG_ERR, MSGID_RELOAD_FAILED, NULL, "reload failed: "
		    "%s", err);
		goto keep;
	}
	if (listen_update(m->listeners, &m->cfg, &next, err, sizeof(err))
	    == -1) {
		master_rate_abandon(m, rate);
		log_event(LOG_ERR, MSGID_RELOAD_FAILED, NULL,
		    "reload failed: %s", err);
		goto keep;
	}
	master_rate_commit(m, rate);
	for (i = 0; i < ECHOD_MAX_SLOTS; i++) {
		struct worker_slot *s = &m->slots[i];

		if (s->ws_state == SLOT_RUNNING) {
			s->ws_state = SLOT_RETIRING;
			(void)kill(s->ws_pid, WORKER_SIG_RETIRE);
		} else if (s->ws_state == SLOT_WAITING)
			s->ws_state = SLOT_FREE;
	}
	m->cfg = next;
	log_init(m->cfg.log_target, m->cfg.log_level, NULL);
	master_fd_limit(&m->cfg);
	if (metrics_listen(m->metrics, m->listeners) == -1)
		log_warn("cannot watch a metrics socket");
	m->reloading = true;
	m->stats.sm_reloads_ok++;
	m->stats.sm_last_reload_failed = false;
	master_spawn_generation(m);
	return;
keep:
	m->stats.sm_reloads_failed++;
	m->stats.sm_last_reload_failed = true;
	log_warnx("keeping the running configuration");
	master_format_status(m, m->status, sizeof(m->status));
	snprintf(err, sizeof(err), "%s (last reload failed)", m->status);
	notify_ready(err);
}

/* --- live upgrade ------------------------------------------------- */

/*
 * Slots a new generation can take: free ones, and those waiting for a
 * respawn (which a reload or an upgrade frees).
 */
static unsigned
master_room(struct master *m)
{
	return master_count(m, SLOT_FREE) + master_count(m, SLOT_WAITING);
}

/*
 * The descriptors a new program keeps: the listeners, the shared memory,
 * the newest UDP rate table, both pipes.  Returns how many ('fds' holds
 * LISTEN_MAX + 8).
 */
static size_t
master_passed_fds(struct master *m, int *fds)
{
	size_t	 i, n = 0;

	for (i = 0; i < m->listeners->n; i++)
		fds[n++] = m->listeners->ls[i].l_fd;
	fds[n++] = m->shared->sh_area_fd;
	fds[n++] = m->shared->sh_ip_fd;
	fds[n++] = udp_rate_fd(m->rate);
	fds[n++] = m->lifeline[0];
	fds[n++] = m->lifeline[1];
	fds[n++] = m->ready[0];
	fds[n++] = m->ready[1];
	return n;
}

static const enum handover_state slot_to_handover[] = {
	[SLOT_FREE] = HANDOVER_FREE,
	[SLOT_RUNNING] = HANDOVER_RUNNING,
	[SLOT_WAITING] = HANDOVER_WAITING,
	[SLOT_RETIRING] = HANDOVER_RETIRING,
};

/* What this master hands over, now. */
static void
master_handover(struct master *m, struct handover *h)
{
	const struct worker_slot	*s;
	size_t				 i;

	memset(h, 0, sizeof(*h));
	h->h_format = echod_handover_format;
	snprintf(h->h_version, sizeof(h->h_version), "%s", echod_version);
	snprintf(h->h_exe, sizeof(h->h_exe), "%s", m->exe.ue_path);
	snprintf(h->h_config, sizeof(h->h_config), "%s", m->cfg_path);
	h->h_started = m->stats.sm_start_time;
	h->h_gen = m->gen;
	h->h_served = m->served;
	h->h_log_journal = log_to_journal();
	h->h_log_level = m->cfg.log_level;
	h->h_listeners = *m->listeners;
	for (i = 0; i < ECHOD_MAX_SLOTS; i++) {
		s = &m->slots[i];
		h->h_slots[i] = (struct handover_slot){
			.hs_state = slot_to_handover[s->ws_state],
			.hs_pid = s->ws_pid,
			.hs_gen = s->ws_gen,
			.hs_index = s->ws_index,
			.hs_started = s->ws_started,
			.hs_respawn_at = s->ws_respawn_at,
			.hs_quick_deaths = s->ws_quick_deaths,
			.hs_ready = s->ws_ready,
		};
	}
	h->h_stats = m->stats;
	h->h_shared_fd = m->shared->sh_area_fd;
	h->h_sources_fd = m->shared->sh_ip_fd;
	h->h_shared_layout = SHARED_LAYOUT;
	h->h_shared_bytes = sizeof(struct shared_area);
	h->h_rate_fd = udp_rate_fd(m->rate);
	if (h->h_rate_fd != -1) {
		h->h_rate_bytes = udp_rate_bytes(m->rate);
		udp_rate_describe(m->rate, &h->h_rate_entries,
		    &h->h_rate_rate, &h->h_rate_burst);
		h->h_rate_layout = RATELIMIT_LAYOUT;
	}
	h->h_lifeline[0] = m->lifeline[0];
	h->h_lifeline[1] = m->lifeline[1];
	h->h_ready[0] = m->ready[0];
	h->h_ready[1] = m->ready[1];
	h->h_has_resume = true;
	h->h_resume = m->cfg;
}

/*
 * An upgrade did not happen: say why; the running program goes on.  One
 * that a SIGHUP asked for was a reload too: do that one at least, or an
 * edit of the file would wait for a program that may never take over.
 */
static void
master_upgrade_failed(struct master *m, const char *why, bool reloading)
{
	char	 status[sizeof(m->status) + 32], fields[PATH_MAX + 32];

	m->stats.sm_upgrades_failed++;
	snprintf(fields, sizeof(fields), "PROGRAM=%s", m->exe.ue_path);
	log_event(LOG_ERR, MSGID_UPGRADE_FAILED, fields, "upgrade to %s "
	    "failed: %s; echod %s goes on serving", m->exe.ue_path, why,
	    echod_version);
	master_format_status(m, m->status, sizeof(m->status));
	snprintf(status, sizeof(status), "%s (last upgrade failed)",
	    m->status);
	if (reloading)
		notify_ready(status);
	else
		notify_status(status);
	if (m->upgrade_hup) {
		m->upgrade_hup = false;
		log_notice("SIGHUP: reloading the configuration instead");
		master_reload(m);
	}
}

static void
master_on_check_event(struct event_loop *loop, struct event *ev,
    unsigned what)
{
	struct master	*m = loop->el_owner;

	(void)what;
	if (upgrade_check_read(&m->check))
		(void)event_del(loop, ev);
}

/* Forget the check, over or not. */
static void
master_check_end(struct master *m)
{
	(void)event_del(&m->loop, &m->check_ev);
	upgrade_check_end(&m->check);
	m->upgrading = false;
}

/*
 * SIGUSR2, or SIGHUP with the program replaced on disk: check the
 * installed program, in a child; master_upgrade_step() takes it from
 * there.  'trigger' says why, for the log.
 */
static void
master_upgrade(struct master *m, const char *trigger)
{
	static struct handover	 h;	/* large: keep it off the stack */
	char			 err[PATH_MAX + 128], status[PATH_MAX + 32];
	int			 fds[LISTEN_MAX + 8], hfd;
	size_t			 n;

	if (m->upgrading) {
		/* The newest program will be the one checked. */
		m->upgrade_again = true;
		log_notice("%s: an upgrade is under way; %s will be checked "
		    "again once it is done", trigger, m->exe.ue_path);
		return;
	}
	if (!m->served) {
		master_upgrade_failed(m, "echod is not serving yet", false);
		return;
	}
	master_reap(m);
	if (master_room(m) < m->cfg.workers) {
		snprintf(err, sizeof(err), "%u workers of older generations "
		    "are still draining, which leaves no room for a new "
		    "generation (at most %d workers in all): try again once "
		    "they have finished", master_count(m, SLOT_RETIRING),
		    ECHOD_MAX_SLOTS);
		master_upgrade_failed(m, err, false);
		return;
	}
	snprintf(status, sizeof(status), "Upgrading: checking %s",
	    m->exe.ue_path);
	notify_reloading(status);
	log_notice("%s: upgrading: checking %s", trigger, m->exe.ue_path);
	master_handover(m, &h);
	if ((hfd = handover_write(&h, err, sizeof(err))) == -1) {
		master_upgrade_failed(m, err, true);
		return;
	}
	n = master_passed_fds(m, fds);
	if (upgrade_check_start(&m->check, m->exe.ue_path, m->cfg_path, hfd,
	    fds, n, err, sizeof(err)) == -1) {
		close(hfd);
		master_upgrade_failed(m, err, true);
		return;
	}
	close(hfd);
	event_set(&m->check_ev, m->check.uc_out, master_on_check_event);
	if (event_add(&m->loop, &m->check_ev, EV_WANT_READ) == -1) {
		master_check_end(m);
		master_upgrade_failed(m, "cannot watch the check's output",
		    true);
		return;
	}
	m->upgrading = true;
	m->upgrade_again = false;
	m->check_deadline = m->loop.el_now + UPGRADE_CHECK_MS;
}

/*
 * The check passed: exec the checked program in this process.  Returns
 * only when that failed, with everything as it was.
 */
static void
master_upgrade_exec(struct master *m, const char *version, dev_t dev,
    ino_t ino)
{
	static struct handover	 h;
	char			 err[PATH_MAX + 128], fields[160];
	int			 fds[LISTEN_MAX + 8], hfd;
	size_t			 n;

	/* An exact table: no zombie, no report left in the pipe. */
	master_reap(m);
	master_read_ready(m);
	if (master_room(m) < m->cfg.workers) {
		master_upgrade_failed(m, "workers died and were respawned "
		    "meanwhile: no room for a new generation", true);
		return;
	}
	master_handover(m, &h);
	if ((hfd = handover_write(&h, err, sizeof(err))) == -1) {
		master_upgrade_failed(m, err, true);
		return;
	}
	n = master_passed_fds(m, fds);
	fds[n++] = hfd;
	if (upgrade_inherit(fds, n, true) == -1) {
		snprintf(err, sizeof(err), "cannot pass the descriptors on: %s",
		    strerror(errno));
		close(hfd);
		master_upgrade_failed(m, err, true);
		return;
	}
	snprintf(fields, sizeof(fields), "OLD_VERSION=%s\nNEW_VERSION=%s",
	    echod_version, version);
	log_event(LOG_NOTICE, NULL, fields, "upgrading from echod %s to "
	    "echod %s: executing %s", echod_version, version, m->exe.ue_path);
	(void)upgrade_exec(m->exe.ue_path, dev, ino, m->cfg_path, hfd, err,
	    sizeof(err));
	(void)upgrade_inherit(fds, n, false);
	close(hfd);
	master_upgrade_failed(m, err, true);
}

/* Each turn while a check runs: act on its end, or on its timeout. */
static void
master_upgrade_step(struct master *m)
{
	char		 err[PATH_MAX + UPGRADE_OUTPUT_MAX + 256];
	char		 version[HANDOVER_VERSION_LEN];
	dev_t		 dev = m->check.uc_dev;
	ino_t		 ino = m->check.uc_ino;
	int		 rc;

	if (!upgrade_check_done(&m->check)) {
		if (m->loop.el_now < m->check_deadline)
			return;
		master_check_end(m);
		snprintf(err, sizeof(err), "%s gave no answer within %d s",
		    UPGRADE_CHECK_OPTION, UPGRADE_CHECK_MS / 1000);
		master_upgrade_failed(m, err, true);
		return;
	}
	rc = upgrade_check_result(&m->check, version, sizeof(version), err,
	    sizeof(err));
	master_check_end(m);
	if (m->upgrade_again) {
		master_upgrade(m, "upgrade requested again");
		return;
	}
	if (rc == -1) {
		master_upgrade_failed(m, err, true);
		return;
	}
	if (!upgrade_file_is(m->exe.ue_path, dev, ino)) {
		/* Replaced again while it was checked: check the newest. */
		master_upgrade(m, "the program changed during its check");
		return;
	}
	master_upgrade_exec(m, version, dev, ino);
}

/*
 * The stop proper: close the listeners we bound and tell every worker
 * to drain.  From here on the master only waits for them, until
 * shutdown_timeout and the workers' lingering time have passed.
 */
static void
master_stop_serving(struct master *m)
{
	size_t	 i;

	m->phase = PHASE_STOP;
	m->stop_deadline = m->loop.el_now + m->cfg.shutdown_timeout_ms +
	    MASTER_KILL_GRACE_MS;
	notify_stopping("Stopping: draining connections");
	log_event(LOG_NOTICE, m->cfg.drain_delay_ms ? NULL : MSGID_STOPPING,
	    NULL, "stopping: draining %u connections (at most %llu ms)",
	    master_connections(m),
	    (unsigned long long)m->cfg.shutdown_timeout_ms);
	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state == SLOT_WAITING)
			m->slots[i].ws_state = SLOT_FREE;
	/*
	 * Sockets we bound ourselves go at once, so new clients are refused
	 * instead of queueing for a service that is going away (workers
	 * close their copies on WORKER_SIG_STOP).  Sockets from systemd stay
	 * open: they queue connections for the next start, as intended.
	 * Metrics sockets stay too: health checks follow the stop.
	 */
	listen_close_bound(m->listeners);
	master_signal_all(m, WORKER_SIG_STOP);
}

/*
 * SIGTERM or SIGINT.  With drain_delay, /health says "draining" at once
 * while everything goes on serving, so that load balancers polling it
 * take echod out before its listeners close; the stop proper follows
 * when the delay is over, or at a second signal.
 */
static void
master_stop(struct master *m)
{
	char	 status[96];

	if (m->phase == PHASE_STOP)
		return;
	if (m->upgrading) {
		master_check_end(m);
		m->upgrade_hup = false;
		master_upgrade_failed(m, "abandoned: echod is stopping", false);
	}
	if (m->phase == PHASE_SERVE && m->cfg.drain_delay_ms > 0) {
		m->phase = PHASE_DRAIN;
		m->drain_end = m->loop.el_now + m->cfg.drain_delay_ms;
		snprintf(status, sizeof(status), "Stopping: health check "
		    "failing, still serving for %llu ms (drain_delay)",
		    (unsigned long long)m->cfg.drain_delay_ms);
		notify_stopping(status);
		log_event(LOG_NOTICE, MSGID_STOPPING, NULL, "stopping: "
		    "/health says draining; still serving for %llu ms "
		    "(drain_delay), then draining %u connections",
		    (unsigned long long)m->cfg.drain_delay_ms,
		    master_connections(m));
		return;
	}
	if (m->phase == PHASE_DRAIN)
		log_notice("stopping at once: a second stop signal cut "
		    "drain_delay short");
	master_stop_serving(m);
}

/* Past the drain deadline: SIGKILL whatever is left and reap it. */
static void
master_kill_stragglers(struct master *m)
{
	unsigned	 n = master_count(m, SLOT_RUNNING) +
			    master_count(m, SLOT_RETIRING);

	log_warnx("%u workers still busy after shutdown_timeout; killing "
	    "them", n);
	master_signal_all(m, SIGKILL);
	while (master_count(m, SLOT_RUNNING) + master_count(m, SLOT_RETIRING)
	    > 0) {
		int	 status;
		pid_t	 pid = waitpid(-1, &status, 0);
		struct worker_slot *s;

		if (pid == -1 && errno == EINTR)
			continue;
		if (pid == -1)
			break;
		(void)upgrade_check_reaped(&m->check, pid, status);
		if ((s = master_slot_by_pid(m, pid)) != NULL) {
			shared_fold_slot(m->shared, (uint32_t)(s - m->slots));
			m->stats.sm_exits[stats_exit_cause(status)]++;
			s->ws_state = SLOT_FREE;
		}
	}
}

static void
master_on_signals(struct master *m)
{
	int	 sig;

	while ((sig = sig_read(m->sigfd)) != 0) {
		switch (sig) {
		case SIGCHLD:
			master_reap(m);
			break;
		case SIGHUP:
			if (m->phase != PHASE_SERVE)
				break;
			/* A package replaced the program: upgrade. */
			if (m->upgrading || upgrade_exe_replaced(&m->exe)) {
				m->upgrade_hup = true;
				master_upgrade(m, "SIGHUP with a new program "
				    "installed");
			} else
				master_reload(m);
			break;
		case SIGUSR2:
			if (m->phase == PHASE_SERVE)
				master_upgrade(m, "SIGUSR2");
			else
				log_warnx("SIGUSR2: echod is stopping; not "
				    "upgrading");
			break;
		case SIGTERM:
		case SIGINT:
			master_stop(m);
			break;
		default:
			break;
		}
	}
}

static void
master_on_signal_event(struct event_loop *loop, struct event *ev,
    unsigned what)
{
	(void)ev;
	(void)what;
	master_on_signals(loop->el_owner);
}

static void
master_on_ready_event(struct event_loop *loop, struct event *ev,
    unsigned what)
{
	(void)ev;
	(void)what;
	master_on_ready(loop->el_owner);
}

static int
master_timeout(struct master *m)
{
	uint64_t	 next = m->next_status;
	size_t		 i;

	if (m->watchdog_ms && m->next_watchdog < next)
		next = m->next_watchdog;
	if (m->phase == PHASE_DRAIN && m->drain_end < next)
		next = m->drain_end;
	if (m->phase == PHASE_STOP && m->stop_deadline < next)
		next = m->stop_deadline;
	if (m->metrics_next < next)
		next = m->metrics_next;
	if (m->upgrading && m->check_deadline < next)
		next = m->check_deadline;
	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state == SLOT_WAITING &&
		    m->slots[i].ws_respawn_at < next)
			next = m->slots[i].ws_respawn_at;
	return next <= m->loop.el_now ? 0 : (int)(next - m->loop.el_now);
}

static void
master_periodic(struct master *m)
{
	char	 status[sizeof(m->status)];

	if (m->watchdog_ms && m->loop.el_now >= m->next_watchdog) {
		notify_watchdog();
		m->next_watchdog = m->loop.el_now + m->watchdog_ms / 2;
	}
	if (m->loop.el_now >= m->next_status) {
		stats_rate_sample(&m->status_rate, m->shared, m->loop.el_now,
		    &m->accepted_rate, &m->echoed_rate);
		master_format_status(m, status, sizeof(status));
		if (m->ready_sent && strcmp(status, m->status) != 0) {
			memcpy(m->status, status, sizeof(status));
			notify_status(m->status);
		}
		m->next_status = m->loop.el_now + STATUS_EVERY_MS;
	}
}

/* /health: NULL while echod serves, else why not. */
static const char *
master_health(void *arg)
{
	struct master	*m = arg;

	switch (m->phase) {
	case PHASE_DRAIN:
		return "draining";
	case PHASE_STOP:
		return "stopping";
	case PHASE_SERVE:
		break;
	}
	if (!m->served)
		return "starting";
	/*
	 * A worker not ready yet (respawned, or of a reload's new
	 * generation) accepts within milliseconds: the listen queue holds
	 * its clients meanwhile.  Only slots waiting out a respawn back-off
	 * leave nobody to accept.
	 */
	if (master_count(m, SLOT_RUNNING) == 0)
		return "no-workers";
	return NULL;
}

static void
master_render(void *arg, struct prom_buf *pb)
{
	struct master	*m = arg;

	m->stats.sm_running = master_count(m, SLOT_RUNNING);
	m->stats.sm_retiring = master_count(m, SLOT_RETIRING);
	m->stats.sm_waiting = master_count(m, SLOT_WAITING);
	stats_render(pb, &m->stats, m->shared);
}

/*
 * A take-over cannot go on.  Before it committed, nothing of the old
 * program was changed: exec it back, and it resumes.  A rollback that
 * cannot resume has no way back.
 */
static void __attribute__((noreturn))
master_cannot(struct master *m, const char *why)
{
	const struct master_takeover	*t = m->takeover;
	const struct handover		*h = t->mt_handover;
	char				 reason[1024];

	if (t->mt_refused != NULL)
		fatalx("cannot resume echod %s after a failed upgrade: %s",
		    echod_version, why);
	snprintf(reason, sizeof(reason), "echod %s could not take over: %s",
	    echod_version, why);
	log_warnx("%s; going back to echod %s", reason, h->h_version);
	upgrade_rollback(t->mt_fallback, t->mt_handover_fd, h->h_exe,
	    m->cfg_path, reason);
	fatal("cannot go back to echod %s either", h->h_version);
}

static const enum slot_state handover_to_slot[] = {
	[HANDOVER_FREE] = SLOT_FREE,
	[HANDOVER_RUNNING] = SLOT_RUNNING,
	[HANDOVER_WAITING] = SLOT_WAITING,
	[HANDOVER_RETIRING] = SLOT_RETIRING,
};

/*
 * Take what the old program handed over: its pipes, its memory, its
 * workers (still our children), its counters.  Nothing of it changes
 * yet.
 */
static void
master_adopt(struct master *m, const struct handover *h)
{
	const struct handover_slot	*hs;
	char				 err[256];
	size_t				 i;

	if (m->takeover->mt_refused == NULL &&
	    master_can_adopt(h, &m->cfg, err, sizeof(err)) == -1)
		master_cannot(m, err);
	m->lifeline[0] = h->h_lifeline[0];
	m->lifeline[1] = h->h_lifeline[1];
	m->ready[0] = h->h_ready[0];
	m->ready[1] = h->h_ready[1];
	if ((m->shared = shared_attach(h->h_shared_fd, h->h_sources_fd, err,
	    sizeof(err))) == NULL)
		master_cannot(m, err);
	if (h->h_rate_fd != -1 && h->h_rate_layout == RATELIMIT_LAYOUT &&
	    (m->rate = udp_rate_attach(h->h_rate_fd, h->h_rate_bytes,
	    h->h_rate_entries, h->h_rate_rate, h->h_rate_burst, err,
	    sizeof(err))) == NULL) {
		if (m->takeover->mt_refused != NULL)
			master_cannot(m, err);
		log_warnx("%s; the new workers get a new one", err);
	}
	for (i = 0; i < ECHOD_MAX_SLOTS; i++) {
		hs = &h->h_slots[i];
		m->slots[i] = (struct worker_slot){
			.ws_state = handover_to_slot[hs->hs_state],
			.ws_pid = hs->hs_pid,
			.ws_gen = hs->hs_gen,
			.ws_index = hs->hs_index,
			.ws_started = hs->hs_started,
			.ws_respawn_at = hs->hs_respawn_at,
			.ws_quick_deaths = hs->hs_quick_deaths,
			.ws_ready = hs->hs_ready,
		};
	}
	m->gen = h->h_gen;
	m->served = h->h_served;
	m->stats = h->h_stats;
	m->stats.sm_start_time = h->h_started;
}

/*
 * The take-over is done: nothing will go back to the old program, so
 * let go of the way back, and close again on exec what was passed.
 */
static void
master_commit_takeover(struct master *m)
{
	const struct master_takeover	*t = m->takeover;
	const struct handover		*h = t->mt_handover;
	int				 fds[LISTEN_MAX + 8];
	size_t				 n;

	if (t->mt_fallback != -1)
		close(t->mt_fallback);
	close(t->mt_handover_fd);
	/* A table handed over that could not be adopted. */
	if (h->h_rate_fd != -1 && udp_rate_fd(m->rate) != h->h_rate_fd)
		close(h->h_rate_fd);
	n = master_passed_fds(m, fds);
	if (upgrade_inherit(fds, n, false) == -1)
		log_warn("cannot mark the descriptors handed over "
		    "close-on-exec");
	m->takeover = NULL;
}

/*
 * An upgrade, in the new program: what a reload does, from the old
 * program's state to this one's configuration.  Every step that can
 * fail comes before any change, so a failure can still go back.
 */
static void
master_take_over(struct master *m)
{
	const struct handover	*h = m->takeover->mt_handover;
	struct udp_rate		*rate;
	char			 err[256];
	size_t			 i, udp;

	if (master_prepare(m, &m->cfg, err, sizeof(err)) == -1)
		master_cannot(m, err);
	udp = m->listeners->passed ? listen_count(m->listeners, LISTEN_UDP) :
	    m->cfg.udp_listen.ll_n;
	if (master_rate_prepare(m, &m->cfg, udp, &rate, err, sizeof(err))
	    == -1)
		master_cannot(m, err);
	/*
	 * The old program's configuration is not ours to read: the kept
	 * sockets take this one's options, and on failure are left so.
	 */
	if (listen_update(m->listeners, &m->cfg, &m->cfg, err, sizeof(err))
	    == -1) {
		master_rate_abandon(m, rate);
		master_cannot(m, err);
	}
	/* Committed from here on. */
	master_rate_commit(m, rate);
	master_commit_takeover(m);
	for (i = 0; i < ECHOD_MAX_SLOTS; i++) {
		struct worker_slot *s = &m->slots[i];

		if (s->ws_state == SLOT_RUNNING) {
			s->ws_state = SLOT_RETIRING;
			(void)kill(s->ws_pid, WORKER_SIG_RETIRE);
		} else if (s->ws_state == SLOT_WAITING)
			s->ws_state = SLOT_FREE;
	}
	m->stats.sm_upgrades_ok++;
	snprintf(m->upgraded_from, sizeof(m->upgraded_from), "%s",
	    h->h_version);
	log_info("took over from echod %s: %u workers of generation %u and "
	    "older retire, generation %u starts", h->h_version,
	    master_count(m, SLOT_RETIRING), h->h_gen, h->h_gen + 1);
}

/*
 * A rollback, in the old program: the new one could not take over.
 * Everything is as it was before the exec; carry on.
 */
static void
master_resume(struct master *m)
{
	const char	*why = m->takeover->mt_refused;
	char		 status[sizeof(m->status) + 32];
	size_t		 i;

	master_commit_takeover(m);
	m->stats.sm_upgrades_failed++;
	log_event(LOG_ERR, MSGID_UPGRADE_FAILED, NULL, "upgrade failed: %s; "
	    "echod %s went back to work", why, echod_version);
	m->ready_sent = m->served;
	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		if (m->slots[i].ws_state == SLOT_RUNNING &&
		    m->slots[i].ws_gen == m->gen && !m->slots[i].ws_ready)
			m->ready_sent = false;
	master_format_status(m, m->status, sizeof(m->status));
	snprintf(status, sizeof(status), "%s (last upgrade failed)",
	    m->status);
	if (m->ready_sent)
		notify_ready(status);
}

static void
master_init(struct master *m, const char *path, const struct echod_config *cfg,
    struct listen_set *listeners, const struct master_takeover *t)
{
	const struct metrics_source src = {
		.ms_render = master_render,
		.ms_health = master_health,
		.ms_arg = m,
	};
	struct timespec	 ts;
	char		 err[256];

	memset(m, 0, sizeof(*m));
	m->check.uc_out = -1;
	m->cfg_path = path;
	m->cfg = *cfg;
	m->listeners = listeners;
	m->takeover = t;
	if (t != NULL)
		master_adopt(m, t->mt_handover);
	else {
		/* Both ends of ready non-blocking: nobody may wait on it. */
		if (pipe2(m->lifeline, O_CLOEXEC) == -1 ||
		    pipe2(m->ready, O_CLOEXEC | O_NONBLOCK) == -1)
			fatal("pipe2");
		if ((m->shared = shared_create()) == NULL)
			fatal("cannot make the memory shared with workers");
		clock_gettime(CLOCK_REALTIME, &ts);
		m->stats.sm_start_time = (double)ts.tv_sec +
		    (double)ts.tv_nsec / 1e9;
	}
	if (upgrade_exe_self(&m->exe, t != NULL &&
	    t->mt_handover->h_exe[0] != '\0' ? t->mt_handover->h_exe : NULL,
	    err, sizeof(err)) == -1)
		log_warnx("cannot tell which program runs (%s): SIGHUP will "
		    "not notice an upgrade", err);
	m->sigfd = sig_master_fd();
	if (event_loop_open(&m->loop, m) == -1)
		fatal("epoll_create1");
	event_set(&m->sig_ev, m->sigfd, master_on_signal_event);
	event_set(&m->ready_ev, m->ready[0], master_on_ready_event);
	if (event_add(&m->loop, &m->sig_ev, EV_WANT_READ) == -1 ||
	    event_add(&m->loop, &m->ready_ev, EV_WANT_READ) == -1)
		fatal("epoll_ctl");
	if ((m->metrics = metrics_open(&m->loop, &src)) == NULL)
		fatal("metrics endpoint");
	m->metrics_next = UINT64_MAX;
	m->watchdog_ms = notify_watchdog_usec() / 1000;
	m->next_watchdog = m->loop.el_now;
	m->next_status = m->loop.el_now + STATUS_EVERY_MS;
}

int
master_can_adopt(const struct handover *h, const struct echod_config *cfg,
    char *err, size_t errlen)
{
	const struct listener	*l;
	struct stat		 st;
	socklen_t		 len;
	unsigned		 staying = 0;
	size_t			 i;
	int			 type;

	if (h->h_shared_layout != SHARED_LAYOUT ||
	    h->h_shared_bytes != sizeof(struct shared_area)) {
		snprintf(err, errlen, "echod %s lays its shared memory out "
		    "differently (layout %u of %llu bytes, this echod's is "
		    "layout %u of %zu bytes): its counters cannot be carried "
		    "over; restart echod instead", h->h_version,
		    h->h_shared_layout, (unsigned long long)h->h_shared_bytes,
		    SHARED_LAYOUT, sizeof(struct shared_area));
		return -1;
	}
	for (i = 0; i < h->h_listeners.n; i++) {
		l = &h->h_listeners.ls[i];
		len = sizeof(type);
		if (fstat(l->l_fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(l->l_fd, SOL_SOCKET, SO_TYPE, &type, &len) ==
		    -1 || type != (l->l_kind == LISTEN_UDP ? SOCK_DGRAM :
		    SOCK_STREAM)) {
			snprintf(err, errlen, "the %s socket %s (descriptor "
			    "%d) was not handed over",
			    listen_kind_name(l->l_kind), l->l_name, l->l_fd);
			return -1;
		}
	}
	for (i = 0; i < ECHOD_MAX_SLOTS; i++)
		staying += h->h_slots[i].hs_state == HANDOVER_RUNNING ||
		    h->h_slots[i].hs_state == HANDOVER_RETIRING;
	if (staying + cfg->workers > ECHOD_MAX_SLOTS) {
		snprintf(err, errlen, "%u workers of echod %s stay until "
		    "their connections end, which leaves no room for %u new "
		    "ones (at most %d in all)", staying, h->h_version,
		    cfg->workers, ECHOD_MAX_SLOTS);
		return -1;
	}
	if (listen_count(&h->h_listeners, LISTEN_PROXY) > 0 &&
	    cfg->proxy_ntrusted == 0 && h->h_listeners.passed) {
		snprintf(err, errlen, "systemd passed a \"proxy\" socket but "
		    "[proxy] trusted is not set");
		return -1;
	}
	return 0;
}

/*
 * At the end, what UDP echo did: every worker has exited, and its
 * counters are in its slot or, folded when it was reaped, in sh_gone.
 */
static void
master_udp_report(struct master *m)
{
	struct worker_stats	*st;
	uint64_t		 rx = 0, tx = 0, bytes = 0;
	uint64_t		 drop[UDP_NVERDICTS] = { 0 };
	char			 dropped[256] = "";
	size_t			 i, v, off = 0;
	int			 n;

	for (i = 0; i <= ECHOD_MAX_SLOTS; i++) {
		st = i < ECHOD_MAX_SLOTS ? &m->shared->sh_stats[i] :
		    m->shared->sh_gone;
		rx += atomic_load(&st->ws_udp_received);
		tx += atomic_load(&st->ws_udp_echoed);
		bytes += atomic_load(&st->ws_udp_bytes_out);
		for (v = 0; v < UDP_NVERDICTS; v++)
			drop[v] += atomic_load(&st->ws_udp_dropped[v]);
	}
	if (rx == 0)
		return;
	for (v = 1; v < UDP_NVERDICTS; v++) {
		if (drop[v] == 0)
			continue;
		n = snprintf(dropped + off, sizeof(dropped) - off, "%s%llu %s",
		    off ? ", " : "; not answered: ",
		    (unsigned long long)drop[v],
		    udp_guard_label((enum udp_verdict)v));
		if (n < 0 || (size_t)n >= sizeof(dropped) - off)
			break;
		off += (size_t)n;
	}
	log_info("UDP echo: %llu datagrams received, %llu answered (%llu "
	    "bytes)%s", (unsigned long long)rx, (unsigned long long)tx,
	    (unsigned long long)bytes, dropped);
}

int
master_run(const char *path, const struct echod_config *cfg,
    struct listen_set *listeners, const struct master_takeover *takeover)
{
	static struct master	 m;	/* large: keep it off the stack */
	struct udp_rate		*rate;
	char			 err[160];

	master_init(&m, path, cfg, listeners, takeover);
	if (takeover == NULL) {
		if (master_prepare(&m, &m.cfg, err, sizeof(err)) == -1 ||
		    master_rate_prepare(&m, &m.cfg, listen_count(listeners,
		    LISTEN_UDP), &rate, err, sizeof(err)) == -1)
			fatalx("cannot start the workers: %s", err);
		master_rate_commit(&m, rate);
	} else if (takeover->mt_refused == NULL)
		master_take_over(&m);
	else
		master_resume(&m);
	if (metrics_listen(m.metrics, m.listeners) == -1) {
		if (takeover == NULL)
			fatal("cannot watch a metrics socket");
		log_warn("cannot watch a metrics socket");
	}
	master_fd_limit(&m.cfg);
	if (takeover == NULL || takeover->mt_refused == NULL)
		master_spawn_generation(&m);
	/* Workers that died while the program changed. */
	if (takeover != NULL)
		master_reap(&m);

	for (;;) {
		if (event_dispatch(&m.loop, master_timeout(&m)) == -1)
			fatal("epoll_wait");
		/* Expire and free metrics connections of this turn. */
		m.metrics_next = metrics_tick(m.metrics);
		/* Watchdog and STATUS= go on while draining. */
		master_periodic(&m);
		if (m.upgrading)
			master_upgrade_step(&m);
		if (m.phase == PHASE_DRAIN && m.loop.el_now >= m.drain_end)
			master_stop_serving(&m);
		if (m.phase == PHASE_STOP) {
			if (master_count(&m, SLOT_RUNNING) +
			    master_count(&m, SLOT_RETIRING) == 0)
				break;
			if (m.loop.el_now >= m.stop_deadline) {
				master_kill_stragglers(&m);
				break;
			}
			continue;
		}
		master_respawn_due(&m);
	}
	metrics_close(m.metrics);
	listen_close(listeners);
	master_udp_report(&m);
	udp_rate_free(m.rate);
	log_event(LOG_NOTICE, MSGID_STOPPED, NULL, "stopped");
	return ECHOD_EXIT_OK;
}
