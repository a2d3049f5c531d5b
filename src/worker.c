/*
 * Worker process: the event loop, stop and retirement.
 */
#include "autoconf.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "sig.h"
#include "worker.h"

#define DRAIN_TICK_MS	20	/* checks of quiet and ending connections */
#define MAX_WAIT_MS	60000

/* The worker's signalfd and lifeline in its loop. */
struct worker_source {
	struct event	 ws_ev;		/* first: the loop's handle */
};

static void
worker_stop(struct worker *w, enum worker_mode mode)
{
	if (w->w_mode == WORKER_STOPPING ||
	    (w->w_mode == WORKER_RETIRING && mode == WORKER_RETIRING))
		return;
	if (w->w_mode == WORKER_SERVING) {
		accept_close(w);
		/* Nothing to drain; retiring, only the new generation
		 * (and its rate table) answers from now on. */
		udp_close(w);
	}
	w->w_mode = mode;
	if (mode == WORKER_RETIRING) {
		log_debug("retiring: %u connections left to finish",
		    w->w_nconns);
		return;
	}
	w->w_stop_deadline = w->w_loop.el_now + w->w_cfg->shutdown_timeout_ms;
	/* After this batch of events: they may name connections. */
	w->w_next_tick = w->w_loop.el_now;
	log_debug("stopping: %u connections to drain within %llu ms",
	    w->w_nconns, (unsigned long long)w->w_cfg->shutdown_timeout_ms);
}

static void
worker_on_signal(struct event_loop *loop, struct event *ev, unsigned what)
{
	struct worker	*w = loop->el_owner;
	int		 sig;

	(void)what;
	while ((sig = sig_read(ev->ev_fd)) != 0) {
		if (sig == WORKER_SIG_STOP)
			worker_stop(w, WORKER_STOPPING);
		else if (sig == WORKER_SIG_RETIRE)
			worker_stop(w, WORKER_RETIRING);
	}
}

static void
worker_on_lifeline(struct event_loop *loop, struct event *ev,
    unsigned what)
{
	(void)loop;
	(void)ev;
	(void)what;
	log_warnx("the master process is gone; exiting");
	_exit(ECHOD_EXIT_FAILURE);
}

/* Run what is due; returns how long the loop may sleep (ms, -1: ever). */
static int
worker_timers(struct worker *w)
{
	uint64_t	 next, t;

	conn_run_busy(w);
	next = conn_expire_idle(w);
	if ((t = accept_tick(w)) < next)
		next = t;
	if ((t = udp_tick(w)) < next)
		next = t;
	if (w->w_mode == WORKER_STOPPING) {
		if (w->w_loop.el_now >= w->w_next_tick) {
			conn_drain(w);
			w->w_next_tick = w->w_loop.el_now + DRAIN_TICK_MS;
		}
		if (w->w_next_tick < next)
			next = w->w_next_tick;
	}
	if ((t = log_burst_tick(&w->w_err_burst, w->w_loop.el_now)) < next)
		next = t;
	if ((t = pipe_pool_trim(&w->w_pipes, w->w_loop.el_now)) < next)
		next = t;
	/*
	 * A timer ended the last connection of a worker that is leaving
	 * (an idle timeout while retiring): nothing would wake the wait.
	 */
	if (w->w_busy_head != NULL ||
	    (w->w_mode != WORKER_SERVING && w->w_nconns == 0))
		return 0;
	if (next == UINT64_MAX)
		return -1;
	if (next <= w->w_loop.el_now)
		return 0;
	return next - w->w_loop.el_now > MAX_WAIT_MS ? MAX_WAIT_MS :
	    (int)(next - w->w_loop.el_now);
}

/* Splice pipes: as many as the open file limit leaves over. */
static void
worker_pipes_init(struct worker *w)
{
	struct rlimit	 rl;
	rlim_t		 spare = 0, need;

	need = (rlim_t)w->w_cfg->max_connections + WORKER_FD_OVERHEAD;
	if (w->w_cfg->splice && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur > need)
		spare = (rl.rlim_cur - need) / 2;
	pipe_pool_init(&w->w_pipes, spare > WORKER_PIPES_MAX ?
	    WORKER_PIPES_MAX : (unsigned)spare, (uint32_t)w->w_cfg->buffer_size);
}

static void
worker_setup(struct worker *w, const struct worker_args *a,
    struct worker_source *sig, struct worker_source *lifeline)
{
	char		 role[32];
	size_t		 i;
	int		 sigfd;

	memset(w, 0, sizeof(*w));
	w->w_args = a;
	w->w_cfg = a->wa_cfg;
	w->w_stats = &a->wa_shared->sh_stats[a->wa_slot];
	shared_forked(a->wa_shared);
	w->w_mode = WORKER_SERVING;
	snprintf(role, sizeof(role), "worker %u", a->wa_index);
	log_set_role(role);
	for (i = 0; i < sizeof(a->wa_fds.wf_master) / sizeof(int); i++)
		if (a->wa_fds.wf_master[i] != -1)
			close(a->wa_fds.wf_master[i]);
	/* The master serves metrics; a worker must not hold them open. */
	for (i = 0; i < a->wa_listeners->n; i++)
		if (a->wa_listeners->ls[i].l_kind == LISTEN_METRICS)
			close(a->wa_listeners->ls[i].l_fd);
	if ((sigfd = sig_worker_init()) == -1)
		fatal("worker signal set-up");
	/* Belt and braces with the lifeline pipe. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (event_loop_open(&w->w_loop, w) == -1)
		fatal("epoll_create1");
	event_set(&sig->ws_ev, sigfd, worker_on_signal);
	event_set(&lifeline->ws_ev, a->wa_fds.wf_lifeline, worker_on_lifeline);
	if (event_add(&w->w_loop, &sig->ws_ev, EV_WANT_READ) == -1 ||
	    event_add(&w->w_loop, &lifeline->ws_ev, EV_WANT_READ) == -1)
		fatal("epoll_ctl");
	timer_list_init(&w->w_header);
	timer_list_init(&w->w_idle);
	timer_list_init(&w->w_ending);
	timer_list_init(&w->w_closed);
	w->w_err_burst.lb_what = "worker";
	worker_pipes_init(w);
	accept_start(w);
	udp_start(w);
}

/* Close what is left at the end of a stop, so the counters say why. */
static void
worker_close_all(struct worker *w)
{
	struct timer_node	*n;
	struct timer_list	*lists[] = {
		&w->w_header, &w->w_idle, &w->w_ending,
	};
	size_t			 i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		while ((n = timer_oldest(lists[i])) != NULL)
			conn_close(w, (struct conn *)(void *)((char *)n -
			    offsetof(struct conn, c_timer)), END_DRAIN,
			    "lingered too long");
}

void
worker_run(const struct worker_args *a)
{
	struct worker		 w;
	struct worker_source	 sig, lifeline;
	struct worker_ready	 ready = { .wr_slot = a->wa_slot };

	worker_setup(&w, a, &sig, &lifeline);
	if (write(a->wa_fds.wf_ready, &ready, sizeof(ready)) !=
	    sizeof(ready))
		log_warn("cannot tell the master we are ready");
	close(a->wa_fds.wf_ready);
	log_debug("serving");

	for (;;) {
		if (w.w_mode != WORKER_SERVING && w.w_nconns == 0)
			break;
		if (w.w_mode == WORKER_STOPPING &&
		    w.w_loop.el_now >= w.w_stop_deadline + WORKER_LINGER_MS) {
			log_notice("shutdown_timeout passed; closing %u "
			    "connections", w.w_nconns);
			worker_close_all(&w);
			break;
		}
		if (event_dispatch(&w.w_loop, worker_timers(&w)) == -1)
			fatal("epoll_wait");
		conn_free_closed(&w);
	}
	_exit(ECHOD_EXIT_OK);
}
