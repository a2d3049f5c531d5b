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

#include "accept.h"
#include "conn.h"
#include "log.h"
#include "proxy.h"
#include "worker.h"

#define ECHO_BUDGET	(256 * 1024)	/* bytes read per turn: fairness */
#define LINGER_QUIET_MS	100		/* silence before a lingering close */

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
	[END_REFUSED_PROXY] = { "proxy", "PROXY header refused" },
	[END_CLIENT] = { "client", "closed by client" },
	[END_IDLE] = { "idle_timeout", "idle timeout" },
	[END_ERROR] = { "error", "error" },
	[END_DRAIN] = { "drain", "echod is stopping" },
};

static void	conn_on_event(struct event_loop *, struct event *, unsigned);
static void	conn_echo(struct worker *, struct conn *);

const char *
conn_end_label(enum conn_end why)
{
	return conn_ends[why].label;
}

const char *
conn_proxy_label(int reason)
{
	switch (reason) {
	case PROXY_REFUSED_UNTRUSTED:
		return "untrusted";
	case PROXY_REFUSED_TIMEOUT:
		return "timeout";
	case PROXY_REFUSED_CLOSED:
		return "closed";
	default:
		return proxy_reason_label((enum proxy_reason)reason);
	}
}

static const char *
conn_proxy_text(int reason)
{
	switch (reason) {
	case PROXY_REFUSED_UNTRUSTED:
		return "the peer is not in [proxy] trusted";
	case PROXY_REFUSED_TIMEOUT:
		return "no complete PROXY header within [proxy] timeout";
	case PROXY_REFUSED_CLOSED:
		return "closed before a complete PROXY header";
	default:
		return proxy_reason_text((enum proxy_reason)reason);
	}
}

/* The list a connection is on in its state. */
static struct timer_list *
conn_list(struct worker *w, const struct conn *c)
{
	switch (c->c_state) {
	case CONN_HEADER:
		return &w->w_header;
	case CONN_ECHO:
		return &w->w_idle;
	default:
		return &w->w_ending;
	}
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
	if (w->w_pipes.pp_cap > 0)
		c->c_echo.e_pool = &w->w_pipes;
	w->w_nconns++;
	conn_publish(w);
	return c;
}

/* An admitted connection starts echoing; 'via' is the balancer. */
static void
conn_serve(struct worker *w, struct conn *c, const struct sockaddr *peer,
    const struct sockaddr *via)
{
	char	 addr[72], vaddr[72], fields[200];

	c->c_state = CONN_ECHO;
	stat_add(&w->w_stats->ws_accepted, 1);
	timer_touch(&w->w_idle, &c->c_timer, w->w_loop.el_now);
	if (!w->w_cfg->log_connections)
		return;
	addr_format(peer, addr, sizeof(addr));
	if ((c->c_peer = strdup(addr)) == NULL)
		return;
	if (via == NULL) {
		snprintf(fields, sizeof(fields), "REMOTE_ADDR=%s", addr);
		log_event(LOG_INFO, NULL, fields, "connection from %s", addr);
		return;
	}
	addr_format(via, vaddr, sizeof(vaddr));
	c->c_via = strdup(vaddr);
	snprintf(fields, sizeof(fields), "REMOTE_ADDR=%s\nPROXY_ADDR=%s",
	    addr, vaddr);
	log_event(LOG_INFO, NULL, fields, "connection from %s (via %s)", addr,
	    vaddr);
}

/*
 * A new socket is writable, and a small echo fits its buffer: watching
 * writability from the start would cost a wake-up for every ACK that
 * frees space.  It is watched from the first write that falls short.
 */
static int
conn_watch(struct worker *w, struct conn *c)
{
	if (event_add(&w->w_loop, &c->c_ev, EV_WANT_STREAM | EV_EDGE) == -1)
		return -1;
	c->c_echo.e_flags |= ECHO_WRITABLE;
	return 0;
}

/* A write fell short: from now on the loop says when it can go on. */
static int
conn_watch_out(struct worker *w, struct conn *c)
{
	if ((c->c_flags & CONN_WATCH_OUT) ||
	    (c->c_echo.e_flags & ECHO_WRITABLE))
		return 0;
	if (event_mod(&w->w_loop, &c->c_ev, EV_WANT_ALL | EV_EDGE) == -1)
		return -1;
	c->c_flags |= CONN_WATCH_OUT;
	return 0;
}

int
conn_start(struct worker *w, struct conn *c, const struct sockaddr *peer)
{
	if (conn_watch(w, c) == -1)
		return -1;
	conn_serve(w, c, peer, NULL);
	return 0;
}

int
conn_start_proxied(struct worker *w, struct conn *c)
{
	if (conn_watch(w, c) == -1)
		return -1;
	c->c_state = CONN_HEADER;
	timer_touch(&w->w_header, &c->c_timer, w->w_loop.el_now);
	return 0;
}

void
conn_refuse_proxy(struct worker *w, struct conn *c, int reason)
{
	char	 peer[72] = "?";
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(c->c_ev.ev_fd, (struct sockaddr *)&ss, &len) == 0) {
		addr_unmap(&ss);
		addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
	}
	log_burst(&w->w_accept.as_proxy_burst, w->w_loop.el_now, "from %s: "
	    "%s; closing such connections at once", peer,
	    conn_proxy_text(reason));
	stat_add(&w->w_stats->ws_proxy[reason], 1);
	conn_close(w, c, END_REFUSED_PROXY, conn_proxy_label(reason));
}

/*
 * Read the PROXY header, never a byte more: peek at what has come, and
 * once the parser has a whole header, consume exactly its length.  The
 * client's first bytes, if they came in the same segment, stay in the
 * socket and are echoed next.
 */
static void
conn_read_header(struct worker *w, struct conn *c)
{
	struct proxy_header	 h;
	struct sockaddr_storage	 peer;
	socklen_t		 len = sizeof(peer);
	uint8_t			 buf[PROXY_MAX_LEN];
	int			 fd = c->c_ev.ev_fd;
	enum conn_end		 why;
	ssize_t			 n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	while (n == -1 && errno == EINTR);
	if (n == 0) {
		conn_refuse_proxy(w, c, PROXY_REFUSED_CLOSED);
		return;
	}
	if (n == -1) {
		if (errno == EAGAIN)
			c->c_echo.e_flags &= ~ECHO_READABLE;
		else
			conn_close(w, c, END_ERROR, strerror(errno));
		return;
	}
	switch (proxy_parse(buf, (size_t)n, &h)) {
	case PROXY_NEED_MORE:
		/*
		 * The rest comes with the next edge, unless the FIN is in:
		 * then no edge follows, and the peek would find these same
		 * bytes until the timeout.
		 */
		if (c->c_echo.e_flags & ECHO_FIN_IN)
			conn_refuse_proxy(w, c, PROXY_REFUSED_CLOSED);
		else
			c->c_echo.e_flags &= ~ECHO_READABLE;
		return;
	case PROXY_INVALID:
		conn_refuse_proxy(w, c, h.ph_reason);
		return;
	case PROXY_DONE:
		break;
	}
	if (recv(fd, buf, h.ph_len, 0) != (ssize_t)h.ph_len ||
	    getpeername(fd, (struct sockaddr *)&peer, &len) == -1) {
		conn_close(w, c, END_ERROR, strerror(errno));
		return;
	}
	addr_unmap(&peer);
	addr_unmap(&h.ph_src);
	stat_add(&w->w_stats->ws_bytes_in, h.ph_len);
	timer_remove(&w->w_header, &c->c_timer);
	/* LOCAL and UNKNOWN (health checks): the connection's own peer. */
	if (h.ph_local)
		memcpy(&h.ph_src, &peer, sizeof(peer));
	if (accept_admit_source(w, c, (struct sockaddr *)&h.ph_src, &why)
	    == -1) {
		conn_close(w, c, why, NULL);
		return;
	}
	conn_serve(w, c, (struct sockaddr *)&h.ph_src,
	    (struct sockaddr *)&peer);
	conn_echo(w, c);
}

void
conn_close(struct worker *w, struct conn *c, enum conn_end why,
    const char *detail)
{
	char	 field[192], reason[160];

	if (c->c_state == CONN_CLOSED)
		return;
	/* An error's text is the reason itself. */
	snprintf(reason, sizeof(reason), "%s%s%s",
	    why == END_ERROR && detail != NULL ? "" : conn_ends[why].text,
	    why != END_ERROR && detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");
	if (c->c_peer != NULL) {
		snprintf(field, sizeof(field), "REMOTE_ADDR=%s%s%s", c->c_peer,
		    c->c_via != NULL ? "\nPROXY_ADDR=" : "",
		    c->c_via != NULL ? c->c_via : "");
		log_event(LOG_INFO, NULL, field, "connection from %s closed: "
		    "%s (%llu bytes echoed)", c->c_peer, reason,
		    (unsigned long long)c->c_echo.e_out);
	} else
		log_debug("connection %d closed: %s (%llu bytes echoed)",
		    c->c_ev.ev_fd, reason,
		    (unsigned long long)c->c_echo.e_out);
	timer_remove(conn_list(w, c), &c->c_timer);
	if (c->c_flags & CONN_COUNTED)
		shared_ip_remove(w->w_args->wa_shared, w->w_args->wa_slot,
		    c->c_src);
	/* Counted before the close: a client that sees it may scrape. */
	stat_add(&w->w_stats->ws_ended[why], 1);
	event_forget(&c->c_ev);
	close(c->c_ev.ev_fd);
	echo_release(&c->c_echo, w->w_loop.el_now);
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
		free(c->c_via);
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
	    (uint32_t)w->w_cfg->buffer_size, ECHO_BUDGET, &moved,
	    w->w_loop.el_now);
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
	if (conn_watch_out(w, c) == -1) {
		conn_close(w, c, END_ERROR, strerror(errno));
		return;
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
		} else if (r == ECHO_WAIT && conn_watch_out(w, c) == -1) {
			conn_close(w, c, END_ERROR, strerror(errno));
			return;
		}
	}
	if (r != ECHO_ERROR && (e->e_flags & ECHO_READABLE))
		r = echo_discard(e, fd);
	stat_add(&w->w_stats->ws_bytes_in, e->e_in - in);
	if (r == ECHO_ERROR) {
		conn_close(w, c, END_ERROR, strerror(errno));
		return;
	}
	/* The client still talks: it may not have read all yet. */
	if (e->e_in != in)
		timer_touch(&w->w_ending, &c->c_timer, w->w_loop.el_now);
	if (c->c_state != CONN_LINGER)
		return;
	/*
	 * Close once the client has its FIN, or has acknowledged all we
	 * sent and sent nothing for a moment.  Closing while it still sends
	 * would answer its next segment with a reset, and a reset destroys
	 * what it has received but not yet read.
	 */
	if ((e->e_flags & ECHO_EOF) ||
	    (c->c_timer.tn_last + LINGER_QUIET_MS <= w->w_loop.el_now &&
	    conn_queued(fd, SIOCOUTQ) == 0 && conn_queued(fd, SIOCINQ) == 0))
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
	case CONN_HEADER:
		conn_read_header(w, c);
		break;
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
	uint64_t		 late = w->w_cfg->proxy_timeout_ms;
	uint64_t		 now = w->w_loop.el_now, next = UINT64_MAX;
	struct timer_node	*n;

	while ((n = timer_oldest(&w->w_header)) != NULL) {
		if (n->tn_last + late > now) {
			next = n->tn_last + late;
			break;
		}
		conn_refuse_proxy(w, conn_of(n), PROXY_REFUSED_TIMEOUT);
	}
	if (timeout == 0)
		return next;
	while ((n = timer_oldest(&w->w_idle)) != NULL) {
		if (n->tn_last + timeout > now)
			return n->tn_last + timeout < next ?
			    n->tn_last + timeout : next;
		conn_close(w, conn_of(n), END_IDLE, NULL);
	}
	return next;
}

void
conn_drain(struct worker *w)
{
	uint64_t		 quiet = w->w_cfg->drain_idle_ms;
	bool			 all;
	struct timer_node	*n, *next;
	struct conn		*c;

	all = w->w_loop.el_now >= w->w_stop_deadline;
	for (n = timer_oldest(&w->w_idle); n != NULL; n = next) {
		next = timer_next(&w->w_idle, n);
		c = conn_of(n);
		if (all) {
			conn_end(w, c);
			continue;
		}
		if (quiet == 0 || n->tn_last + quiet > w->w_loop.el_now)
			break;
		/* Quiet, but with data on its way: not idle. */
		if (echo_pending(&c->c_echo) || (c->c_flags & CONN_BUSY) ||
		    conn_queued(c->c_ev.ev_fd, SIOCINQ) != 0)
			continue;
		/*
		 * Nothing in flight either way: a plain close() is graceful
		 * here (its FIN follows everything the client has already
		 * acknowledged), and cheaper than half-close and linger.
		 */
		if (conn_queued(c->c_ev.ev_fd, SIOCOUTQ) == 0)
			conn_close(w, c, END_DRAIN, NULL);
		else
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
