/*
 * bulk: stream both ways on -c connections for -d seconds, after -W of
 * warm-up; Gbit/s each way over the measured time, then wait until
 * every byte sent has come back, and reset the connections.
 */
#include "autoconf.h"

#include <sys/epoll.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "cost.h"
#include "flow.h"
#include "load.h"
#include "msg.h"
#include "pool.h"

/* Bytes sent and received so far over every flow. */
static void
bulk_count(const struct pool *p, uint64_t *sent, uint64_t *rcvd)
{
	unsigned	 i;

	*sent = *rcvd = 0;
	for (i = 0; i < p->p_n; i++) {
		*sent += p->p_flows[i].fl_sent;
		*rcvd += p->p_flows[i].fl_rcvd;
	}
}

int
load_bulk(const struct load_opts *o)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct pool		 p;
	struct cost		 c;
	struct flow		*f;
	uint64_t		 t0, t_meas, t_end, t_drain, now, errors = 0;
	uint64_t		 s0 = 0, r0 = 0, s1 = 0, r1 = 0, verified;
	unsigned		 i, open, dead = 0;
	int			 k, j, next_ms;
	enum { WARM, MEASURE, DRAIN } phase = WARM;
	double			 secs, out_gbps, in_gbps;

	cost_init(&c, o);
	pool_init(&p, o->lo_conns);
	if (pool_connect(&p, o, 0, false, EPOLLIN | EPOLLOUT | EPOLLET) ==
	    -1) {
		pool_free(&p);
		cost_free(&c);
		if (o->lo_kv)
			printf("workload=bulk conns=%u errors=%u\n",
			    o->lo_conns, o->lo_conns);
		return LOAD_EXIT_ERRORS;
	}
	for (i = 0; i < p.p_n; i++)
		p.p_flows[i].fl_want = UINT64_MAX;
	t0 = load_now_ns();
	t_meas = t0 + (uint64_t)(o->lo_warmup * NS);
	t_end = t_meas + (uint64_t)(o->lo_duration * NS);
	t_drain = UINT64_MAX;
	open = p.p_n;
	while (open > dead) {
		now = load_now_ns();
		if (phase == WARM && now >= t_meas) {
			cost_mark(&c, false);
			bulk_count(&p, &s0, &r0);
			phase = MEASURE;
		}
		if (phase == MEASURE && now >= t_end) {
			cost_mark(&c, true);
			bulk_count(&p, &s1, &r1);
			/* Stop sending; what was sent must still come back. */
			for (i = 0; i < p.p_n; i++)
				p.p_flows[i].fl_want = p.p_flows[i].fl_sent;
			t_end = now;
			phase = DRAIN;
			t_drain = now + (uint64_t)(o->lo_timeout * NS);
		}
		if (phase == DRAIN) {
			for (open = 0, i = 0; i < p.p_n; i++) {
				f = &p.p_flows[i];
				if (f->fl_fd != -1 && f->fl_rcvd < f->fl_sent)
					open++;
			}
			if (open == 0)
				break;
			dead = 0;
			if (now >= t_drain) {
				msg_warnx("bulk: %u connections still owe "
				    "echoed bytes after %.0f s", open,
				    o->lo_timeout);
				errors += open;
				break;
			}
		}
		next_ms = load_ms_until(now, phase == WARM ? t_meas :
		    phase == MEASURE ? t_end : t_drain);
		k = epoll_wait(p.p_ep, evs, MAX_EVENTS, next_ms);
		if (k == -1 && errno == EINTR)
			continue;
		for (j = 0; j < k; j++) {
			f = evs[j].data.ptr;
			if (f->fl_fd != -1 &&
			    flow_serve(f, evs[j].events, NULL, NULL) == -1) {
				flow_close(f);
				errors++;
				dead++;
			}
		}
	}
	verified = pool_verified(&p);
	/* Every byte is back: leave no TIME_WAIT to weigh on the next run. */
	pool_free_reset(&p);
	secs = (double)(t_end - t_meas) / NS;
	if (phase != DRAIN || secs <= 0) {
		msg_warnx("bulk: the run ended before it was measured");
		errors++;
		secs = 1;
	}
	out_gbps = (double)(s1 - s0) * 8 / secs / 1e9;
	in_gbps = (double)(r1 - r0) * 8 / secs / 1e9;
	if (o->lo_kv)
		printf("workload=bulk conns=%u secs=%.2f out_gbps=%.3f "
		    "in_gbps=%.3f verified_bytes=%" PRIu64 " errors=%" PRIu64,
		    o->lo_conns, secs, out_gbps, in_gbps, verified, errors);
	else
		printf("bulk: %u connections, %.2f s measured: out %.2f Gbit/s, "
		    "in %.2f Gbit/s; %" PRIu64 " bytes echoed and verified; "
		    "%" PRIu64 " errors\n", o->lo_conns, secs, out_gbps,
		    in_gbps, verified, errors);
	/* The server read what was sent in the window and wrote what came. */
	cost_print(&c, s1 - s0, r1 - r0, o->lo_kv);
	if (o->lo_kv)
		printf("\n");
	cost_free(&c);
	return errors ? LOAD_EXIT_ERRORS : LOAD_EXIT_OK;
}
