/*
 * A pool of flows: connecting many at once, and their epoll set.
 */
#include "autoconf.h"

#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "msg.h"
#include "pool.h"

static int
pool_epoll(void)
{
	int	 ep;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "epoll_create1");
	return ep;
}

static void
pool_ctl(int ep, int op, struct flow *f, uint32_t events)
{
	struct epoll_event	 ev;

	ev.events = events;
	ev.data.ptr = f;
	if (epoll_ctl(ep, op, f->fl_fd, &ev) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "epoll_ctl");
}

void
pool_init(struct pool *p, unsigned n)
{
	unsigned	 i;

	p->p_flows = load_calloc(n, sizeof(*p->p_flows));
	p->p_n = n;
	for (i = 0; i < n; i++)
		p->p_flows[i].fl_fd = -1;
	p->p_ep = pool_epoll();
}

int
pool_connect(struct pool *p, const struct load_opts *o, uint64_t first,
    bool nodelay, uint32_t events)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct flow		*f;
	uint64_t		 deadline;
	unsigned		 next = 0, done = 0, inflight = 0, i;
	int			 ep, k, j;

	/* A set of its own: the pool's may be edge-triggered. */
	ep = pool_epoll();
	deadline = load_now_ns() + (uint64_t)(o->lo_timeout * NS);
	while (done < p->p_n) {
		while (next < p->p_n && inflight < o->lo_parallel) {
			f = &p->p_flows[next];
			if (flow_connect(f, o, first + next, nodelay) == -1)
				goto fail;
			if (f->fl_connecting) {
				pool_ctl(ep, EPOLL_CTL_ADD, f, EPOLLOUT);
				inflight++;
			} else
				done++;
			next++;
		}
		if (inflight == 0)
			continue;
		k = epoll_wait(ep, evs, MAX_EVENTS, load_ms_until(load_now_ns(),
		    deadline));
		if (k == -1 && errno == EINTR)
			continue;
		if (k == 0) {
			msg_warnx("timed out with %u of %u connections open",
			    done, p->p_n);
			goto fail;
		}
		for (j = 0; j < k; j++) {
			f = evs[j].data.ptr;
			if (flow_connected(f) == -1)
				goto fail;
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, f->fl_fd, NULL);
			inflight--;
			done++;
		}
	}
	close(ep);
	if (events != 0)
		for (i = 0; i < p->p_n; i++)
			pool_watch(p, &p->p_flows[i], events);
	return 0;
fail:
	close(ep);
	/* They carried nothing: leave no TIME_WAIT behind for the next run. */
	for (i = 0; i < p->p_n; i++)
		flow_reset(&p->p_flows[i]);
	return -1;
}

void
pool_watch(struct pool *p, struct flow *f, uint32_t events)
{
	pool_ctl(p->p_ep, EPOLL_CTL_ADD, f, events);
}

void
pool_unwatch(struct pool *p, struct flow *f)
{
	(void)epoll_ctl(p->p_ep, EPOLL_CTL_DEL, f->fl_fd, NULL);
}

uint64_t
pool_verified(const struct pool *p)
{
	uint64_t	 sum = 0;
	unsigned	 i;

	for (i = 0; i < p->p_n; i++)
		sum += p->p_flows[i].fl_rcvd;
	return sum;
}

void
pool_free(struct pool *p)
{
	unsigned	 i;

	for (i = 0; i < p->p_n; i++)
		flow_close(&p->p_flows[i]);
	close(p->p_ep);
	free(p->p_flows);
}

void
pool_free_reset(struct pool *p)
{
	unsigned	 i;

	for (i = 0; i < p->p_n; i++)
		flow_reset(&p->p_flows[i]);
	pool_free(p);
}
