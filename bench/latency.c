/*
 * latency: -r messages per second in total, of -s bytes, spread over
 * -c connections on a fixed schedule.  Each message is timed from the
 * moment it was due, not from when it could be sent, so a server that
 * stalls is charged for every message it held up (no coordinated
 * omission).  The schedule starts once every connection has echoed
 * one message: a server that forks per connection may take seconds to
 * start its children, and that is what rate measures, not latency.
 * Once every echo has come, the connections are reset: none is left in
 * TIME_WAIT to weigh on the next run.
 */
#include "autoconf.h"

#include <sys/epoll.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cost.h"
#include "flow.h"
#include "hist.h"
#include "load.h"
#include "msg.h"
#include "pool.h"

#define LAT_QUEUE	1024		/* messages in flight per connection */

/* The messages in flight on one connection, oldest first. */
struct lat_queue {
	uint64_t	 lq_due[LAT_QUEUE];	/* scheduled send times */
	unsigned	 lq_head, lq_len;
	uint64_t	 lq_done;		/* messages echoed */
};

struct lat_run {
	const struct load_opts	*lr_o;
	struct pool		 lr_pool;
	struct lat_queue	*lr_queues;	/* one per flow of the pool */
	struct hist		*lr_hist;
	uint64_t		 lr_t_meas;	/* due before it: warm-up */
	uint64_t		 lr_bytes;	/* echoed of those due after */
};

/* After a read: time every message now complete from its scheduled send. */
static void
lat_got(struct flow *f, void *arg)
{
	struct lat_run		*r = arg;
	struct lat_queue	*q = &r->lr_queues[f - r->lr_pool.p_flows];
	uint64_t		 now = load_now_ns(), due;

	while (q->lq_len > 0 &&
	    (q->lq_done + 1) * r->lr_o->lo_size <= f->fl_rcvd) {
		due = q->lq_due[q->lq_head];
		if (due >= r->lr_t_meas) {
			hist_add(r->lr_hist, now - due);
			r->lr_bytes += r->lr_o->lo_size;
		}
		q->lq_head = (q->lq_head + 1) % LAT_QUEUE;
		q->lq_len--;
		q->lq_done++;
	}
}

/*
 * One message on every connection, and wait for all the echoes.  The
 * number that failed (closed), or all of them if the time ran out.
 */
static uint64_t
lat_prime(const struct load_opts *o, struct pool *p)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct flow		*f;
	uint64_t		 deadline, failed = 0;
	unsigned		 i, left = 0;
	int			 k, j;

	for (i = 0; i < p->p_n; i++) {
		f = &p->p_flows[i];
		f->fl_want += o->lo_size;
		if (flow_send(f) == -1) {
			flow_close(f);
			failed++;
		} else
			left++;
	}
	deadline = load_now_ns() + (uint64_t)(o->lo_timeout * NS);
	while (left > 0) {
		k = epoll_wait(p->p_ep, evs, MAX_EVENTS,
		    load_ms_until(load_now_ns(), deadline));
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			msg_warnx("latency: %u connections did not echo a first "
			    "message within %.0f s", left, o->lo_timeout);
			return p->p_n;
		}
		for (j = 0; j < k; j++) {
			f = evs[j].data.ptr;
			if (f->fl_fd == -1 || f->fl_rcvd == f->fl_want)
				continue;
			if (flow_serve(f, evs[j].events, NULL, NULL) == -1) {
				flow_close(f);
				failed++;
				left--;
			} else if (f->fl_rcvd == f->fl_want)
				left--;
		}
	}
	return failed;
}

int
load_latency(const struct load_opts *o)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct lat_run		 r;
	struct cost		 c;
	struct pool		*p = &r.lr_pool;
	struct flow		*f;
	struct lat_queue	*q;
	uint64_t		 t0, t_end, now, next, k_msg = 0;
	uint64_t		 errors = 0, overruns = 0, verified, owed;
	uint64_t		 deadline;
	struct timespec		 wait;
	double			 period;
	unsigned		 i;
	int			 k, j;

	cost_init(&c, o);
	pool_init(p, o->lo_conns);
	if (pool_connect(p, o, 0, true, EPOLLIN | EPOLLOUT | EPOLLET) == -1) {
		pool_free(p);
		cost_free(&c);
		/* Not one message could be sent: each connection failed. */
		if (o->lo_kv)
			printf("workload=latency conns=%u errors=%u\n",
			    o->lo_conns, o->lo_conns);
		return LOAD_EXIT_ERRORS;
	}
	if ((errors = lat_prime(o, p)) == p->p_n) {
		pool_free_reset(p);
		cost_free(&c);
		if (o->lo_kv)
			printf("workload=latency conns=%u errors=%u\n",
			    o->lo_conns, o->lo_conns);
		return LOAD_EXIT_ERRORS;
	}
	r.lr_o = o;
	r.lr_bytes = 0;
	r.lr_queues = load_calloc(p->p_n, sizeof(*r.lr_queues));
	/* The first message of each is echoed: the queues count on from it. */
	for (i = 0; i < p->p_n; i++)
		r.lr_queues[i].lq_done = 1;
	r.lr_hist = hist_new();
	period = 1e9 / o->lo_rate;
	t0 = load_now_ns();
	r.lr_t_meas = t0 + (uint64_t)(o->lo_warmup * NS);
	t_end = r.lr_t_meas + (uint64_t)(o->lo_duration * NS);
	deadline = t_end + (uint64_t)(o->lo_timeout * NS);
	for (;;) {
		now = load_now_ns();
		if (now >= r.lr_t_meas)
			cost_mark(&c, false);
		if (now >= t_end)
			cost_mark(&c, true);
		/* Send what is due: message k goes to connection k % C. */
		while ((next = t0 + (uint64_t)((double)k_msg * period)) <= now &&
		    next < t_end) {
			f = &p->p_flows[k_msg % p->p_n];
			q = &r.lr_queues[k_msg % p->p_n];
			k_msg++;
			if (f->fl_fd == -1)
				continue;
			if (q->lq_len == LAT_QUEUE) {
				overruns++;
				continue;
			}
			q->lq_due[(q->lq_head + q->lq_len) % LAT_QUEUE] = next;
			q->lq_len++;
			f->fl_want += o->lo_size;
			if (flow_send(f) == -1) {
				flow_close(f);
				errors++;
			}
		}
		if (next >= t_end) {
			for (owed = 0, i = 0; i < p->p_n; i++)
				if (p->p_flows[i].fl_fd != -1)
					owed += r.lr_queues[i].lq_len;
			if (owed == 0)
				break;
			if (now >= deadline) {
				msg_warnx("latency: %" PRIu64 " messages not "
				    "echoed within %.0f s", owed, o->lo_timeout);
				errors += owed;
				break;
			}
			next = deadline;
		}
		/* A timeout in ns: sends stay on schedule, not in 1 ms bursts. */
		wait.tv_sec = (time_t)((next - now) / NS);
		wait.tv_nsec = (long)((next - now) % NS);
		k = epoll_pwait2(p->p_ep, evs, MAX_EVENTS, &wait, NULL);
		if (k == -1 && errno == EINTR)
			continue;
		for (j = 0; j < k; j++) {
			f = evs[j].data.ptr;
			if (f->fl_fd != -1 &&
			    flow_serve(f, evs[j].events, lat_got, &r) == -1) {
				flow_close(f);
				errors++;
			}
		}
	}
	verified = pool_verified(p);
	pool_free_reset(p);
	if (overruns > 0) {
		msg_warnx("latency: %" PRIu64 " messages not sent: %u already "
		    "in flight on their connection", overruns, LAT_QUEUE);
		errors += overruns;
	}
	if (o->lo_kv) {
		printf("workload=latency conns=%u rate=%.0f size=%zu "
		    "verified_bytes=%" PRIu64 " errors=%" PRIu64, o->lo_conns,
		    o->lo_rate, o->lo_size, verified, errors);
		hist_print(r.lr_hist, true);
		cost_print(&c, r.lr_bytes, r.lr_bytes, true);
		printf("\n");
	} else {
		printf("latency: %u connections, %.0f messages/s of %zu bytes, "
		    "%.2f s measured; %" PRIu64 " bytes verified; %" PRIu64
		    " errors\n", o->lo_conns, o->lo_rate, o->lo_size,
		    o->lo_duration, verified, errors);
		hist_print(r.lr_hist, false);
		cost_print(&c, r.lr_bytes, r.lr_bytes, false);
	}
	cost_free(&c);
	free(r.lr_queues);
	hist_free(r.lr_hist);
	return errors ? LOAD_EXIT_ERRORS : LOAD_EXIT_OK;
}
