/*
 * The HTTP side of the metrics endpoint: accept, read a request head
 * with http_parse(), answer, close gracefully.
 *
 * Every connection shares one deadline from its accept and, once
 * answered, one lingering time, so two lists in order of those events
 * are enough: their heads expire first and are the first evicted.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "timer.h"

#define METRICS_ACCEPT_BATCH	16	/* accepts per wake-up: the master */
					/* has other work */
#define METRICS_PAUSE_MS	500	/* after EMFILE and friends */
#define METRICS_DRAIN_MAX	(2 * 1024 * 1024)	/* bytes dropped while */
							/* lingering, at most */

enum mc_state {
	MC_READ,	/* reading the request head */
	MC_WRITE,	/* writing the answer */
	MC_LINGER,	/* half-closed: waiting for the client's close */
	MC_CLOSED,	/* freed after this turn of the loop */
};

struct metrics_conn {
	struct event		 mc_ev;		/* first: the loop's handle */
	struct metrics		*mc_m;
	enum mc_state		 mc_state;
	struct timer_node	 mc_timer;	/* in the list of its state */
	struct http_parser	 mc_parser;
	char			*mc_out;	/* the answer */
	size_t			 mc_outlen, mc_outoff;
	size_t			 mc_inlen;	/* of mc_in; then bytes dropped */
	char			 mc_in[HTTP_MAX_REQUEST];
};

struct metrics_listener {
	struct event		 ml_ev;		/* first: the loop's handle */
	struct metrics		*ml_m;
};

struct metrics {
	struct event_loop	*m_loop;
	struct metrics_source	 m_src;
	struct metrics_listener	 m_l[LISTEN_MAX];
	size_t			 m_nl;
	uint64_t		 m_resume_at;	/* accept paused until; 0: not */
	unsigned		 m_nconns;	/* not closed */
	struct timer_list	 m_active;	/* MC_READ, MC_WRITE: by accept */
	struct timer_list	 m_linger;	/* MC_LINGER: by half-close */
	struct timer_list	 m_closed;	/* MC_CLOSED */
	struct log_burst	 m_burst;
};

static void	metrics_on_conn(struct event_loop *, struct event *, unsigned);
static void	metrics_on_accept(struct event_loop *, struct event *,
		    unsigned);

static struct metrics_conn *
conn_of(struct timer_node *n)
{
	return (struct metrics_conn *)(void *)((char *)n -
	    offsetof(struct metrics_conn, mc_timer));
}

static struct timer_list *
list_of(struct metrics *m, enum mc_state state)
{
	switch (state) {
	case MC_READ:
	case MC_WRITE:
		return &m->m_active;
	case MC_LINGER:
		return &m->m_linger;
	case MC_CLOSED:
		break;
	}
	return &m->m_closed;
}

struct metrics *
metrics_open(struct event_loop *loop, const struct metrics_source *src)
{
	struct metrics	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->m_loop = loop;
	m->m_src = *src;
	timer_list_init(&m->m_active);
	timer_list_init(&m->m_linger);
	timer_list_init(&m->m_closed);
	m->m_burst.lb_what = "metrics accept paused";
	return m;
}

/*
 * The one teardown.  Unread input makes close() send a reset: only
 * clients past their time, evicted or flooding us get one.
 */
static void
metrics_conn_close(struct metrics_conn *c, const char *why)
{
	struct metrics	*m = c->mc_m;

	if (c->mc_state == MC_CLOSED)
		return;
	if (why != NULL)
		log_debug("metrics connection %d closed: %s", c->mc_ev.ev_fd,
		    why);
	timer_remove(list_of(m, c->mc_state), &c->mc_timer);
	event_forget(&c->mc_ev);
	close(c->mc_ev.ev_fd);
	free(c->mc_out);
	c->mc_out = NULL;
	c->mc_state = MC_CLOSED;
	m->m_nconns--;
	/* Events for it may still be pending in this turn. */
	timer_touch(&m->m_closed, &c->mc_timer, m->m_loop->el_now);
}

static void
metrics_free_closed(struct metrics *m)
{
	struct timer_node	*n;

	while ((n = timer_oldest(&m->m_closed)) != NULL) {
		timer_remove(&m->m_closed, n);
		free(conn_of(n));
	}
}

/* The answer to a request, head and body, in c->mc_out. */
static int
metrics_answer(struct metrics_conn *c, enum http_result r,
    const struct http_request *req)
{
	struct metrics	*m = c->mc_m;
	struct prom_buf	 pb;
	const char	*type = "text/plain; charset=utf-8", *reason;
	char		 head[HTTP_HEAD_MAX], text[64];
	const char	*body;
	size_t		 bodylen;
	int		 status, hlen;

	prom_init(&pb);
	if (r == HTTP_ERROR) {
		status = req->hr_status;
		reason = http_reason(status);
		snprintf(text, sizeof(text), "%s\n", reason ? reason : "error");
		body = text;
	} else if (http_path_is(req, "/metrics")) {
		m->m_src.ms_render(m->m_src.ms_arg, &pb);
		if (pb.pb_failed) {
			status = 500;
			body = "Internal Server Error\n";
		} else {
			status = 200;
			type = PROM_CONTENT_TYPE;
			body = pb.pb_data != NULL ? pb.pb_data : "";
		}
	} else if (http_path_is(req, "/health")) {
		reason = m->m_src.ms_health(m->m_src.ms_arg);
		status = reason == NULL ? 200 : 503;
		snprintf(text, sizeof(text), "%s\n", reason ? reason : "ok");
		body = text;
	} else {
		status = 404;
		body = "Not Found\n";
	}
	bodylen = strlen(body);
	hlen = http_format_head(head, sizeof(head), status, type, bodylen);
	if (r == HTTP_DONE && req->hr_method == HTTP_HEAD)
		bodylen = 0;
	if (hlen < 0 || (c->mc_out = malloc((size_t)hlen + bodylen)) == NULL) {
		prom_free(&pb);
		return -1;
	}
	memcpy(c->mc_out, head, (size_t)hlen);
	memcpy(c->mc_out + hlen, body, bodylen);
	c->mc_outlen = (size_t)hlen + bodylen;
	c->mc_outoff = 0;
	prom_free(&pb);
	return 0;
}

/* Read the head; answer once it is whole or refused. */
static void
metrics_read(struct metrics_conn *c)
{
	struct http_request	 req;
	enum http_result	 r = HTTP_MORE;
	ssize_t			 n;

	while (r == HTTP_MORE) {
		if (c->mc_inlen == sizeof(c->mc_in)) {
			/* http_parse() decides by this size; never reached. */
			metrics_conn_close(c, "request head too long");
			return;
		}
		n = read(c->mc_ev.ev_fd, c->mc_in + c->mc_inlen,
		    sizeof(c->mc_in) - c->mc_inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			metrics_conn_close(c, n == 0 ? "closed by the client "
			    "before its request" : strerror(errno));
			return;
		}
		c->mc_inlen += (size_t)n;
		r = http_parse(&c->mc_parser, c->mc_in, c->mc_inlen, &req);
	}
	if (metrics_answer(c, r, &req) == -1) {
		metrics_conn_close(c, "out of memory");
		return;
	}
	c->mc_state = MC_WRITE;
}

/* Drop what the client still sends, until its close. */
static void
metrics_linger(struct metrics_conn *c)
{
	static char	 sink[16384];
	ssize_t		 n;

	for (;;) {
		n = read(c->mc_ev.ev_fd, sink, sizeof(sink));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			metrics_conn_close(c, NULL);
			return;
		}
		/* The budget bounds the master's time on one client. */
		c->mc_inlen += (size_t)n;
		if (c->mc_inlen > METRICS_DRAIN_MAX) {
			metrics_conn_close(c, "too much input after the "
			    "request");
			return;
		}
	}
}

static void
metrics_write(struct metrics_conn *c)
{
	struct metrics	*m = c->mc_m;
	ssize_t		 n;

	while (c->mc_outoff < c->mc_outlen) {
		n = send(c->mc_ev.ev_fd, c->mc_out + c->mc_outoff,
		    c->mc_outlen - c->mc_outoff, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			metrics_conn_close(c, strerror(errno));
			return;
		}
		c->mc_outoff += (size_t)n;
	}
	/*
	 * All of it is with the kernel.  Half-close and wait for the
	 * client's close: closing with its input unread would answer with
	 * a reset, which may destroy the answer before it is read.
	 */
	free(c->mc_out);
	c->mc_out = NULL;
	if (shutdown(c->mc_ev.ev_fd, SHUT_WR) == -1) {
		metrics_conn_close(c, strerror(errno));
		return;
	}
	timer_remove(&m->m_active, &c->mc_timer);
	c->mc_state = MC_LINGER;
	c->mc_inlen = 0;
	timer_touch(&m->m_linger, &c->mc_timer, m->m_loop->el_now);
}

static void
metrics_step(struct metrics_conn *c)
{
	if (c->mc_state == MC_READ)
		metrics_read(c);
	if (c->mc_state == MC_WRITE)
		metrics_write(c);
	if (c->mc_state == MC_LINGER)
		metrics_linger(c);
}

static void
metrics_on_conn(struct event_loop *loop, struct event *ev, unsigned what)
{
	(void)loop;
	(void)what;
	metrics_step((struct metrics_conn *)ev);
}

/* Make room for one more: the oldest answered one, else the oldest. */
static void
metrics_evict(struct metrics *m)
{
	struct timer_node	*n;

	if ((n = timer_oldest(&m->m_linger)) == NULL)
		n = timer_oldest(&m->m_active);
	if (n != NULL)
		metrics_conn_close(conn_of(n), "evicted: too many metrics "
		    "connections");
}

static void
metrics_unwatch(struct metrics *m)
{
	size_t	 i;

	for (i = 0; i < m->m_nl; i++)
		(void)event_del(m->m_loop, &m->m_l[i].ml_ev);
}

static int
metrics_watch(struct metrics *m)
{
	size_t	 i;
	int	 rc = 0, saved = 0;

	for (i = 0; i < m->m_nl; i++)
		if (!m->m_l[i].ml_ev.ev_added && event_add(m->m_loop,
		    &m->m_l[i].ml_ev, EV_WANT_READ) == -1) {
			saved = errno;
			rc = -1;
		}
	errno = saved;
	return rc;
}

static void
metrics_accept_one(struct metrics *m, int fd)
{
	struct metrics_conn	*c;

	if (m->m_nconns >= METRICS_MAX_CONNS)
		metrics_evict(m);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->mc_m = m;
	c->mc_state = MC_READ;
	http_parser_init(&c->mc_parser);
	event_set(&c->mc_ev, fd, metrics_on_conn);
	if (event_add(m->m_loop, &c->mc_ev, EV_WANT_ALL | EV_EDGE) == -1) {
		close(fd);
		free(c);
		return;
	}
	m->m_nconns++;
	timer_touch(&m->m_active, &c->mc_timer, m->m_loop->el_now);
	/* The request is often there already. */
	metrics_step(c);
}

static void
metrics_on_accept(struct event_loop *loop, struct event *ev, unsigned what)
{
	struct metrics	*m = ((struct metrics_listener *)ev)->ml_m;
	int		 fd, i;

	(void)what;
	for (i = 0; i < METRICS_ACCEPT_BATCH; i++) {
		fd = accept4(ev->ev_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd != -1) {
			metrics_accept_one(m, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Level-triggered: it would wake us at once again. */
			log_burst(&m->m_burst, loop->el_now, "cannot accept "
			    "a metrics connection: %s; pausing for %d ms",
			    strerror(errno), METRICS_PAUSE_MS);
			metrics_unwatch(m);
			m->m_resume_at = loop->el_now + METRICS_PAUSE_MS;
			return;
		default:
			/* ECONNABORTED, EINTR, network errors: next. */
			break;
		}
	}
}

int
metrics_listen(struct metrics *m, const struct listen_set *set)
{
	size_t	 i;

	metrics_unwatch(m);
	m->m_nl = 0;
	for (i = 0; i < set->n; i++) {
		if (set->ls[i].l_kind != LISTEN_METRICS)
			continue;
		m->m_l[m->m_nl].ml_m = m;
		event_set(&m->m_l[m->m_nl].ml_ev, set->ls[i].l_fd,
		    metrics_on_accept);
		m->m_nl++;
	}
	return m->m_resume_at != 0 ? 0 : metrics_watch(m);
}

static uint64_t
metrics_expire(struct metrics *m, struct timer_list *l, uint64_t after,
    const char *why)
{
	struct timer_node	*n;

	while ((n = timer_oldest(l)) != NULL) {
		if (n->tn_last + after > m->m_loop->el_now)
			return n->tn_last + after;
		metrics_conn_close(conn_of(n), why);
	}
	return UINT64_MAX;
}

uint64_t
metrics_tick(struct metrics *m)
{
	uint64_t	 next, t, now = m->m_loop->el_now;

	metrics_free_closed(m);
	if (m->m_resume_at != 0 && m->m_resume_at <= now) {
		m->m_resume_at = 0;
		if (metrics_watch(m) == -1) {
			log_burst(&m->m_burst, now, "cannot watch a metrics "
			    "socket: %s; retrying in %d ms", strerror(errno),
			    METRICS_PAUSE_MS);
			m->m_resume_at = now + METRICS_PAUSE_MS;
		}
	}
	next = metrics_expire(m, &m->m_active, METRICS_TIMEOUT_MS,
	    "no whole request or answer taken in time");
	if ((t = metrics_expire(m, &m->m_linger, METRICS_LINGER_MS, NULL)) <
	    next)
		next = t;
	/* Expiry closed some: free them now, no event can name them. */
	metrics_free_closed(m);
	if (m->m_resume_at != 0 && m->m_resume_at < next)
		next = m->m_resume_at;
	if ((t = log_burst_tick(&m->m_burst, now)) < next)
		next = t;
	return next;
}

static void
metrics_close_list(struct timer_list *l)
{
	struct timer_node	*n;

	while ((n = timer_oldest(l)) != NULL)
		metrics_conn_close(conn_of(n), NULL);
}

void
metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_close_list(&m->m_active);
	metrics_close_list(&m->m_linger);
	metrics_free_closed(m);
	metrics_unwatch(m);
	free(m);
}

static void
metrics_forget_list(struct timer_list *l)
{
	struct timer_node	*n;
	struct metrics_conn	*c;

	while ((n = timer_oldest(l)) != NULL) {
		timer_remove(l, n);
		c = conn_of(n);
		if (c->mc_state != MC_CLOSED)
			close(c->mc_ev.ev_fd);
		free(c->mc_out);
		free(c);
	}
}

void
metrics_close_in_child(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_forget_list(&m->m_active);
	metrics_forget_list(&m->m_linger);
	metrics_forget_list(&m->m_closed);
	free(m);
}
