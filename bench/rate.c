/*
 * rate: connect, echo -s bytes, close, with -c connections at a time
 * for -d seconds; connections per second, and percentiles of the whole
 * cycle from the start of connect() to the last byte echoed.
 */
#include "autoconf.h"

#include <sys/epoll.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "cost.h"
#include "flow.h"
#include "hist.h"
#include "load.h"
#include "msg.h"
#include "pool.h"

/* Open f as connection seq, to echo one message. */
static int
rate_start(const struct load_opts *o, struct pool *p, struct flow *f,
    uint64_t seq)
{
	if (flow_connect(f, o, seq, true) == -1)
		return -1;
	f->fl_want = o->lo_size;
	pool_watch(p, f, EPOLLIN | EPOLLOUT | EPOLLET);
	return 0;
}

/* 1: echo complete, 0: more to do, -1: failed. */
static int
rate_step(struct flow *f, uint32_t events)
{
	ssize_t	 n;

	if (f->fl_connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return 0;
		if (flow_connected(f) == -1)
			return -1;
	}
	if (flow_send(f) == -1)
		return -1;
	while ((n = flow_recv(f)) > 0)
		if (f->fl_rcvd == f->fl_want)
			return 1;
	return (int)n;
}

int
load_rate(const struct load_opts *o)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct pool		 p;
	struct cost		 c;
	struct flow		*f;
	struct hist		*h;
	uint64_t		 t0, t_meas, t_end, now, seq = 0, done = 0;
	uint64_t		 errors = 0, deadline;
	unsigned		 i, active = 0;
	int			 k, j, r;
	bool			 in_window;

	cost_init(&c, o);
	pool_init(&p, o->lo_conns);
	h = hist_new();
	t0 = load_now_ns();
	t_meas = t0 + (uint64_t)(o->lo_warmup * NS);
	t_end = t_meas + (uint64_t)(o->lo_duration * NS);
	deadline = t_end + (uint64_t)(o->lo_timeout * NS);
	for (i = 0; i < p.p_n; i++) {
		if (rate_start(o, &p, &p.p_flows[i], seq++) == -1)
			errors++;
		else
			active++;
	}
	while (active > 0) {
		now = load_now_ns();
		if (now >= deadline) {
			msg_warnx("rate: %u connections still open %.0f s "
			    "after the end", active, o->lo_timeout);
			errors += active;
			break;
		}
		k = epoll_wait(p.p_ep, evs, MAX_EVENTS, load_ms_until(now,
		    now < t_end ? t_end : deadline));
		if (k == -1 && errno == EINTR)
			continue;
		now = load_now_ns();
		/* Here: the last connections may all end in this batch. */
		if (now >= t_meas)
			cost_mark(&c, false);
		if (now >= t_end)
			cost_mark(&c, true);
		for (j = 0; j < k; j++) {
			f = evs[j].data.ptr;
			if (f->fl_fd == -1)
				continue;
			r = rate_step(f, evs[j].events);
			if (r == 0)
				continue;
			flow_close(f);
			active--;
			in_window = f->fl_t0 >= t_meas && now <= t_end;
			if (r == -1)
				errors++;
			else if (in_window) {
				done++;
				hist_add(h, now - f->fl_t0);
			}
			if (now < t_end) {
				if (rate_start(o, &p, f, seq++) == -1)
					errors++;
				else
					active++;
			}
		}
	}
	pool_free(&p);
	if (done == 0) {
		msg_warnx("rate: no connection completed in the measured time");
		errors++;
	}
	if (o->lo_kv) {
		printf("workload=rate conns=%u secs=%.2f conns_per_s=%.1f "
		    "done=%" PRIu64 " errors=%" PRIu64, o->lo_conns,
		    o->lo_duration, (double)done / o->lo_duration, done, errors);
		hist_print(h, true);
		cost_print(&c, done * o->lo_size, done * o->lo_size, true);
		printf("\n");
	} else {
		printf("rate: %u at a time, %.2f s measured: %.0f connections/s "
		    "(%" PRIu64 " echoed %zu bytes and verified); %" PRIu64
		    " errors\n", o->lo_conns, o->lo_duration,
		    (double)done / o->lo_duration, done, o->lo_size, errors);
		hist_print(h, false);
		cost_print(&c, done * o->lo_size, done * o->lo_size, false);
	}
	cost_free(&c);
	hist_free(h);
	return errors ? LOAD_EXIT_ERRORS : LOAD_EXIT_OK;
}
