/*
 * Master process: the live upgrade.
 *
 * A live upgrade (SIGUSR2, or SIGHUP once the program on disk was
 * replaced) execs the installed program in this very process, after a
 * check of it that runs in a child the loop does not wait for.  The new
 * program adopts everything the hand-over lists (handover.h) and goes on
 * as after a reload: a new generation of workers, the old one retired.
 * If it cannot, it execs this program back, which resumes as it was.
 *
 * The supervision it hands over and takes over is master.c's; the state
 * both share is in master_priv.h.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "handover.h"
#include "log.h"
#include "master.h"
#include "master_priv.h"
#include "notify.h"
#include "proto.h"
#include "shared.h"
#include "stats.h"
#include "udp_rate.h"
#include "upgrade.h"

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

void
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

void
master_check_end(struct master *m)
{
	(void)event_del(&m->loop, &m->check_ev);
	upgrade_check_end(&m->check);
	m->upgrading = false;
}

void
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

void
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

void
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

void
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

void
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
