/*
 * Connections: admission into the loop, echo, graceful end, teardown.
 */
#include "autoconf.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "worker.h"

#define ECHO_BUDGET	(256 * 1024)	/* bytes read per turn: fairness */

static const struct {
	const char	*label;		/* metrics */
	const char	*text;		/* logs */
} conn_ends[END_N] = {
	[END_REFUSED_LIMIT] = { "max_connections", "max_connections reached" },
	[END_REFUSED_PER_IP] = { "max_connections_per_ip",
	    "max_connections_per_ip reached" },
	[END_REFUSED_UNCOUNTED] = { "per_ip_unavailable",
	    "per-source count unavailable" },
	[END_REFUSED_MEMORY] = { "out_of_memory", "out of memory" },
	[END_REFUSED_ERROR] = { "error", "cannot watch it" },
	[END_CLIENT] = { "client", "closed by client" },
	[END_IDLE] = { "idle_timeout", "idle timeout" },
	[END_ERROR] = { "error", "error" },
	[END_DRAIN] = { "drain", "echod is stopping" },
};

static void	conn_on_event(struct event_loop *, struct event *, unsigned);

const char *
conn_end_label(enum conn_end why)
{
	return conn_ends[why].label;
}

static struct conn *
conn_of(struct timer_node *n)
{
	return (struct conn *)(void *)((char *)n - offsetof(struct conn,
	    c_timer));
}

/* Publish the count at once: other workers check the total on accept. */
static void
conn_publish(struct worker *w)
{
	atomic_store_explicit(&w->w_stats->ws_conns, w->w_nconns,
	    memory_order_relaxed);
}

struct conn *
conn_new(struct worker *w, int fd)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	event_set(&c->c_ev, fd, conn_on_event);
	c->c_state = CONN_ECHO;
	w->w_nconns++;
	conn_publish(w);
	return c;
}

int
conn_start(struct worker *w, struct conn *c, const struct sockaddr *peer)
{
	char	 addr[72], field[96];

	if (event_add(&w->w_loop, &c->c_ev, EV_WANT_ALL | EV_EDGE) == -1)
		return -1;
	stat_add(&w->w_stats->ws_accepted, 1);
	timer_touch(&w->w_idle, &c->c_timer, w->w_loop.el_now);
	if (w->w_cfg->log_connections) {
		addr_format(peer, addr, sizeof(addr));
		if ((c->c_peer = strdup(addr)) != NULL) {
			snprintf(field, sizeof(field), "REMOTE_ADDR=%s", addr);
			log_event(LOG_INFO, NULL, field, "connection from %s",
			    addr);
		}
	}
	return 0;
}

void
conn_close(struct worker *w, struct conn *c, enum conn_end why,
    const char *detail)
{
	char	 field[96], reason[160];

	if (c->c_state == CONN_CLOSED)
		return;
	/* An error's text is the reason itself. */
	snprintf(reason, sizeof(reason), "%s%s%s",
	    why == END_ERROR && detail != NULL ? "" : conn_ends[why].text,
	    why != END_ERROR && detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");
	if (c->c_peer != NULL) {
		snprintf(field, sizeof(field), "REMOTE_ADDR=%s", c->c_peer);
		log_event(LOG_INFO, NULL, field, "connection from %s closed: "
		    "%s (%llu bytes echoed)", c->c_peer, reason,
		    (unsigned long long)c->c_echo.e_out);
	} else
		log_debug("connection %d closed: %s (%llu bytes echoed)",
		    c->c_ev.ev_fd, reason,
		    (unsigned long long)c->c_echo.e_out);
	timer_remove(c->c_state == CONN_ECHO ? &w->w_idle : &w->w_ending,
	    &c->c_timer);
	if (c->c_flags & CONN_COUNTED)
		shared_ip_remove(w->w_args->wa_shared, w->w_args->wa_slot,
		    c->c_src);
	event_forget(&c->c_ev);
	close(c->c_ev.ev_fd);
	echo_release(&c->c_echo);
	stat_add(&w->w_stats->ws_ended[why], 1);
	w->w_nconns--;
	conn_publish(w);
	c->c_state = CONN_CLOSED;
	/* Events for it may still be pending in this turn. */
	timer_touch(&w->w_closed, &c->c_timer, w->w_loop.el_now);
	accept_fd_freed(w);
}

void
conn_free_closed(struct worker *w)
{
	struct timer_node	*n;
	struct conn		*c;

	while ((n = timer_oldest(&w->w_closed)) != NULL) {
		timer_remove(&w->w_closed, n);
		c = conn_of(n);
		free(c->c_peer);
		free(c);
	}
}

static void
conn_busy_push(struct worker *w, struct conn *c)
{
	if (c->c_flags & CONN_BUSY)
		return;
	c->c_flags |= CONN_BUSY;
	c->c_busy_next = NULL;
	if (w->w_busy_tail != NULL)
		w->w_busy_tail->c_busy_next = c;
	else
		w->w_busy_head = c;
	w->w_busy_tail = c;
}

static void
conn_echo(struct worker *w, struct conn *c)
{
	struct worker_stats	*st = w->w_stats;
	uint64_t		 in = c->c_echo.e_in, out = c->c_echo.e_out;
	size_t			 moved;
	enum echo_result	 r;

	r = echo_run(&c->c_echo, c->c_ev.ev_fd,
	    (uint32_t)w->w_cfg->buffer_size, ECHO_BUDGET, &moved);
	stat_add(&st->ws_bytes_in, c->c_echo.e_in - in);
	stat_add(&st->ws_bytes_out, c->c_echo.e_out - out);
	switch (r) {
	case ECHO_DONE:
		conn_close(w, c, END_CLIENT, NULL);
		return;
	case ECHO_ERROR:
		conn_close(w, c, END_ERROR, strerror(errno));
		return;
	case ECHO_AGAIN:
		conn_busy_push(w, c);
		break;
	case ECHO_WAIT:
		break;
	}
	if (moved > 0)
		timer_touch(&w->w_idle, &c->c_timer, w->w_loop.el_now);
}

static int
conn_queued(int fd, unsigned long req)
{
	int	 n;

	return ioctl(fd, req, &n) == -1 ? -1 : n;
}

/*
 * A connection being ended: write out what is buffered, then
 * half-close, then read and drop input until the client has
 * acknowledged everything we sent (nothing in our send queue, nothing
 * unread) or sent its FIN.  Closing earlier, with input unread or
 * arriving later, would make the kernel answer with a reset and throw
 * away echoed data the client has not read yet.
 */
static void
conn_step_end(struct worker *w, struct conn *c)
{
	struct echo		*e = &c->c_echo;
	int			 fd = c->c_ev.ev_fd;
	uint64_t		 in = e->e_in, out = e->e_out;
	enum echo_result	 r = ECHO_WAIT;

	if (c->c_state == CONN_ENDING) {
		r = echo_flush(e, fd);
		stat_add(&w->w_stats->ws_bytes_out, e->e_out - out);
		if (r == ECHO_DONE) {
			if (shutdown(fd, SHUT_WR) == -1) {
				conn_close(w, c, END_ERROR, strerror(errno));
				return;
			}
			c->c_state = CONN_LINGER;
		}
	}
	if (r != ECHO_ERROR && (e->e_flags & ECHO_READABLE))
		r = echo_discard(e, fd);
	stat_add(&w->w_stats->ws_bytes_in, e->e_in - in);
	if (r == ECHO_ERROR) {
		conn_close(w, c, END_ERROR, strerror(errno));
		return;
	}
	if (c->c_state != CONN_LINGER)
		return;
	if ((e->e_flags & ECHO_EOF) ||
	    (conn_queued(fd, SIOCOUTQ) == 0 && conn_queued(fd, SIOCINQ) == 0))
		conn_close(w, c, END_DRAIN, NULL);
}

void
conn_end(struct worker *w, struct conn *c)
{
	if (c->c_state != CONN_ECHO)
		return;
	timer_remove(&w->w_idle, &c->c_timer);
	c->c_state = CONN_ENDING;
	timer_touch(&w->w_ending, &c->c_timer, w->w_loop.el_now);
	conn_step_end(w, c);
}

static void
conn_on_event(struct event_loop *loop, struct event *ev, unsigned what)
{
	struct conn	*c = (struct conn *)ev;
	struct worker	*w = loop->el_owner;

	echo_note(&c->c_echo, what);
	switch (c->c_state) {
	case CONN_ECHO:
		/* A busy one gets its turn after this batch. */
		if (!(c->c_flags & CONN_BUSY))
			conn_echo(w, c);
		break;
	case CONN_ENDING:
	case CONN_LINGER:
		conn_step_end(w, c);
		break;
	case CONN_CLOSED:
		break;
	}
}

void
conn_run_busy(struct worker *w)
{
	struct conn	*c, *list = w->w_busy_head;

	w->w_busy_head = w->w_busy_tail = NULL;
	while ((c = list) != NULL) {
		list = c->c_busy_next;
		c->c_flags &= ~CONN_BUSY;
		if (c->c_state == CONN_ECHO)
			conn_echo(w, c);
	}
}

uint64_t
conn_expire_idle(struct worker *w)
{
	uint64_t		 timeout = w->w_cfg->idle_timeout_ms;
	struct timer_node	*n;

	if (timeout == 0)
		return UINT64_MAX;
	while ((n = timer_oldest(&w->w_idle)) != NULL) {
		if (n->tn_last + timeout > w->w_loop.el_now)
			return n->tn_last + timeout;
		conn_close(w, conn_of(n), END_IDLE, NULL);
	}
	return UINT64_MAX;
}

void
conn_drain(struct worker *w)
{
	uint64_t		 quiet = w->w_cfg->drain_idle_ms;
	bool			 all = w->w_loop.el_now >= w->w_stop_deadline;
	struct timer_node	*n, *next;
	struct conn		*c;

	for (n = timer_oldest(&w->w_idle); n != NULL; n = next) {
		next = timer_next(&w->w_idle, n);
		c = conn_of(n);
		if (!all) {
			if (quiet == 0 || n->tn_last + quiet > w->w_loop.el_now)
				break;
			/* Quiet, but with data on its way: not idle. */
			if (!buf_empty(&c->c_echo.e_buf) ||
			    (c->c_flags & CONN_BUSY) ||
			    conn_queued(c->c_ev.ev_fd, SIOCINQ) != 0)
				continue;
		}
		conn_end(w, c);
	}
	for (n = timer_oldest(&w->w_ending); n != NULL; n = next) {
		next = timer_next(&w->w_ending, n);
		c = conn_of(n);
		if (w->w_loop.el_now >= w->w_stop_deadline + WORKER_LINGER_MS)
			conn_close(w, c, END_DRAIN, "lingered too long");
		else
			conn_step_end(w, c);
	}
}
