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
 * The live upgrade is master_upgrade.c's; the state both share is in
 * master_priv.h.
 */
#include "autoconf.h"

#include <sys/resource.h>
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
#include "master_priv.h"
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

unsigned
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

int
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

int
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

void
master_rate_commit(struct master *m, struct udp_rate *next)
{
	if (next != m->rate)
		udp_rate_free(m->rate);
	m->rate = next;
}

void
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

void
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

void
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

void
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

void
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

