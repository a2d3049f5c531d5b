/*
 * The metrics and health endpoint: HTTP/1.0 and 1.1 on the [metrics]
 * sockets, served by the master in its own event loop.
 *
 *	GET /metrics	200, the Prometheus text format
 *	GET /health	200 "ok", or 503 and a one-word reason
 *	other paths	404; other methods 405 (with Allow); a bad request
 *			400, 414, 431 or 505 (http.h)
 *	HEAD		the same heads, without a body
 *
 * One request per connection, answered with "Connection: close" and a
 * graceful close (half-close, then wait a little for the client's).
 * Nothing a client does can hold the master up: sockets never block,
 * a connection has METRICS_TIMEOUT_MS from its accept to have sent its
 * request and taken the answer, and at most METRICS_MAX_CONNS are open:
 * one more evicts the oldest (answered ones first), so slow or idle
 * clients cannot lock real scrapers out.
 */
#ifndef ECHOD_METRICS_H
#define ECHOD_METRICS_H

#include <stdint.h>

#include "event.h"
#include "listen.h"
#include "prom.h"

#define METRICS_MAX_CONNS	64
#define METRICS_TIMEOUT_MS	5000	/* from accept to the last byte sent */
#define METRICS_LINGER_MS	1000	/* then for the client to close */

/* Where the answers come from: the master. */
struct metrics_source {
	/* Append the body of /metrics to pb (pb_failed: answer 500). */
	void		 (*ms_render)(void *arg, struct prom_buf *pb);
	/* NULL while echod serves, else the one-word reason of a 503. */
	const char	*(*ms_health)(void *arg);
	void		*ms_arg;
};

struct metrics;

/* An endpoint in 'loop' with no socket yet.  NULL on ENOMEM. */
struct metrics	*metrics_open(struct event_loop *loop,
		    const struct metrics_source *src);

/*
 * Watch the LISTEN_METRICS sockets of 'set' (and stop watching the ones
 * taken before): at start and after a reload changed the set.  The set
 * keeps owning them.  0, or -1 with errno when one could not be watched
 * (the others are).
 */
int		 metrics_listen(struct metrics *, const struct listen_set *set);

/*
 * After each turn of the loop: close connections past their time, free
 * the ones closed in the turn, resume accepting after a pause.  Returns
 * when it wants to run next (ms on the loop's clock), or UINT64_MAX.
 */
uint64_t	 metrics_tick(struct metrics *);

/* Close every connection, stop watching the sockets, free everything. */
void		 metrics_close(struct metrics *);

/*
 * In a child just forked from the master: close the connections'
 * descriptors, so the child holds no client's connection open, and free
 * the child's copy of the endpoint, without touching the loop (shared
 * with the parent) or the sockets.  The endpoint is gone in the child.
 */
void		 metrics_close_in_child(struct metrics *);

#endif
