/*
 * Accepting and admitting connections in a worker.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "accept.h"
#include "conn.h"
#include "sockopt.h"
#include "worker.h"

#define ACCEPT_BATCH	64	/* accepts per listener wake-up */
#define ACCEPT_PAUSE_MS	500	/* after EMFILE and friends; shorter */
				/* than LOG_BURST_QUIET_MS */

static void	accept_on_event(struct event_loop *, struct event *,
		    unsigned);

static void
accept_pause(struct worker *w)
{
	struct accept_state	*as = &w->w_accept;
	size_t			 i;

	for (i = 0; i < as->as_n; i++)
		(void)event_del(&w->w_loop, &as->as_l[i].al_ev);
	as->as_resume_at = w->w_loop.el_now + ACCEPT_PAUSE_MS;
	stat_add(&w->w_stats->ws_accept_pauses, 1);
}

/* Add every listener not in the loop yet; pause on failure. */
static void
accept_watch(struct worker *w)
{
	struct accept_state	*as = &w->w_accept;
	struct accept_listener	*al;
	size_t			 i;

	as->as_resume_at = 0;
	for (i = 0; i < as->as_n; i++) {
		al = &as->as_l[i];
		/* EXCLUSIVE: one connection wakes one worker. */
		if (!al->al_ev.ev_added && event_add(&w->w_loop, &al->al_ev,
		    EV_WANT_READ | EV_EXCLUSIVE) == -1) {
			log_burst(&as->as_err_burst, w->w_loop.el_now,
			    "cannot watch listener %zu: %s; retrying every "
			    "%d ms", i,
			    strerror(errno), ACCEPT_PAUSE_MS);
			accept_pause(w);
			return;
		}
	}
}

void
accept_start(struct worker *w)
{
	struct accept_state	*as = &w->w_accept;
	const struct listen_set	*ls = w->w_args->wa_listeners;
	struct accept_listener	*al;
	size_t			 i;

	as->as_limit_burst.lb_what = "max_connections";
	as->as_source_burst.lb_what = "max_connections_per_ip";
	as->as_fd_burst.lb_what = "accept paused";
	as->as_err_burst.lb_what = "accept failed";
	as->as_proxy_burst.lb_what = "PROXY header refused";
	as->as_n = 0;
	for (i = 0; i < ls->n; i++) {
		if (ls->ls[i].l_kind != LISTEN_ECHO &&
		    ls->ls[i].l_kind != LISTEN_PROXY)
			continue;
		al = &as->as_l[as->as_n++];
		event_set(&al->al_ev, ls->ls[i].l_fd, accept_on_event);
		al->al_index = (unsigned)i;
		al->al_kind = ls->ls[i].l_kind;
	}
	accept_watch(w);
}

void
accept_close(struct worker *w)
{
	struct accept_state	*as = &w->w_accept;
	size_t			 i;

	/*
	 * close() alone would leave a listener in our epoll set: the
	 * master and the other workers share its file description, and
	 * epoll forgets a file only when its last descriptor goes.  Still
	 * registered with EPOLLEXCLUSIVE, a draining worker would take
	 * wake-ups for connections it no longer accepts.
	 */
	for (i = 0; i < as->as_n; i++) {
		(void)event_del(&w->w_loop, &as->as_l[i].al_ev);
		close(as->as_l[i].al_ev.ev_fd);
	}
	as->as_n = 0;
	as->as_resume_at = 0;
}

void
accept_fd_freed(struct worker *w)
{
	/* A freed descriptor ends an EMFILE pause early. */
	if (w->w_accept.as_resume_at != 0)
		w->w_accept.as_resume_at = w->w_loop.el_now;
}

uint64_t
accept_tick(struct worker *w)
{
	struct accept_state	*as = &w->w_accept;
	uint64_t		 next, t;

	if (as->as_resume_at != 0 && as->as_resume_at <= w->w_loop.el_now)
		accept_watch(w);
	next = as->as_resume_at != 0 ? as->as_resume_at : UINT64_MAX;
	if ((t = log_burst_tick(&as->as_limit_burst, w->w_loop.el_now)) < next)
		next = t;
	if ((t = log_burst_tick(&as->as_source_burst, w->w_loop.el_now)) < next)
		next = t;
	if ((t = log_burst_tick(&as->as_fd_burst, w->w_loop.el_now)) < next)
		next = t;
	if ((t = log_burst_tick(&as->as_err_burst, w->w_loop.el_now)) < next)
		next = t;
	if ((t = log_burst_tick(&as->as_proxy_burst, w->w_loop.el_now)) < next)
		next = t;
	return next;
}

/* The source address as 16 bytes (IPv4 v4-mapped); -1 if not IP. */
static int
source_key(const struct sockaddr *sa, uint8_t key[16])
{
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
		return 0;
	}
	return -1;
}

/*
 * max_connections_per_ip: one source may not take the whole service.
 * The place is taken first and checked after, so two workers racing for
 * the last place may both refuse but never both admit.  Returns 0 when
 * the connection may stay (and holds its place), or why not.
 */
int
accept_admit_source(struct worker *w, struct conn *c,
    const struct sockaddr *sa, enum conn_end *why)
{
	struct shared	*sh = w->w_args->wa_shared;
	uint32_t	 slot = w->w_args->wa_slot, n;
	const char	*reason;
	char		 peer[72];

	if (w->w_cfg->max_connections_per_ip == 0 ||
	    source_key(sa, c->c_src) == -1)
		return 0;
	/*
	 * A count that cannot be taken or read is logged apart from the
	 * limit (as_err_burst), so neither kind of burst hides the other.
	 */
	if (shared_ip_add(sh, slot, c->c_src, &reason) == -1) {
		addr_format(sa, peer, sizeof(peer));
		log_burst(&w->w_accept.as_err_burst, w->w_loop.el_now, "cannot "
		    "count the connection from %s for max_connections_per_ip: "
		    "%s; closed it", peer, reason);
		*why = END_REFUSED_UNCOUNTED;
		return -1;
	}
	c->c_flags |= CONN_COUNTED;
	if ((n = shared_ip_count(sh, c->c_src)) <=
	    w->w_cfg->max_connections_per_ip)
		return 0;
	addr_format(sa, peer, sizeof(peer));
	if (n == SHARED_IP_UNAVAILABLE) {
		/* Fail closed: an unknown count might be over the limit. */
		log_burst(&w->w_accept.as_err_burst, w->w_loop.el_now, "cannot "
		    "count the connection from %s for max_connections_per_ip: "
		    "a worker's table stayed mid-update (stopped, dead or "
		    "starved of CPU); closed it", peer);
		*why = END_REFUSED_UNCOUNTED;
		return -1;
	}
	log_burst(&w->w_accept.as_source_burst, w->w_loop.el_now,
	    "%u connections from one address (%s); closing new ones at once",
	    w->w_cfg->max_connections_per_ip, peer);
	*why = END_REFUSED_PER_IP;
	return -1;
}

static void
accept_one(struct worker *w, int fd, const struct sockaddr *sa,
    enum listen_kind kind)
{
	struct accept_state	*as = &w->w_accept;
	struct conn		*c;
	enum conn_end		 why;

	if ((c = conn_new(w, fd)) == NULL) {
		log_burst(&as->as_err_burst, w->w_loop.el_now,
		    "out of memory for a new connection");
		close(fd);
		stat_add(&w->w_stats->ws_ended[END_REFUSED_MEMORY], 1);
		return;
	}
	/*
	 * max_connections is for the whole daemon: conn_new() took our
	 * place in the shared count, the total is checked after, so that
	 * workers racing for the last place can both refuse but never both
	 * admit.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (shared_total_conns(w->w_args->wa_shared) >
	    w->w_cfg->max_connections) {
		log_burst(&as->as_limit_burst, w->w_loop.el_now,
		    "connection limit reached; closing new connections at "
		    "once");
		conn_close(w, c, END_REFUSED_LIMIT, NULL);
		return;
	}
	/*
	 * Accepted sockets inherit the listener's options, which the
	 * master set.  But a connection queued before it set them (the one
	 * that made systemd start us) carries the old values: until one
	 * connection shows them right, check each and set what is missing.
	 */
	if (!as->as_opts_seen) {
		if (sockopt_has_stream(fd, w->w_cfg))
			as->as_opts_seen = true;
		else
			(void)sockopt_set_stream(fd, w->w_cfg);
	}
	if (kind == LISTEN_PROXY) {
		/* Only a trusted balancer may say who the client is. */
		if (!cidr_match(w->w_cfg->proxy_trusted,
		    w->w_cfg->proxy_ntrusted, sa))
			conn_refuse_proxy(w, c, PROXY_REFUSED_UNTRUSTED);
		else if (conn_start_proxied(w, c) == -1) {
			log_burst(&as->as_err_burst, w->w_loop.el_now,
			    "epoll_ctl: %s", strerror(errno));
			conn_close(w, c, END_REFUSED_ERROR, strerror(errno));
		}
		return;
	}
	if (accept_admit_source(w, c, sa, &why) == -1) {
		conn_close(w, c, why, NULL);
		return;
	}
	if (conn_start(w, c, sa) == -1) {
		log_burst(&as->as_err_burst, w->w_loop.el_now, "epoll_ctl: %s",
		    strerror(errno));
		conn_close(w, c, END_REFUSED_ERROR, strerror(errno));
	}
}

/*
 * EPOLLEXCLUSIVE wakes the waiter at the head of the listener's queue,
 * so one worker would take nearly every connection.  Re-adding the
 * listener moves this worker to the tail: the next connection wakes
 * another.
 */
static void
accept_rotate(struct worker *w, struct accept_listener *al)
{
	if (w->w_cfg->workers < 2)
		return;
	(void)event_del(&w->w_loop, &al->al_ev);
	accept_watch(w);
}

static void
accept_on_event(struct event_loop *loop, struct event *ev, unsigned what)
{
	struct accept_listener	*al = (struct accept_listener *)ev;
	struct worker		*w = loop->el_owner;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 i, fd;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH && al->al_ev.ev_added; i++) {
		len = sizeof(ss);
		fd = accept4(al->al_ev.ev_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			/* An IPv4 peer of a dual-stack socket is IPv4. */
			addr_unmap(&ss);
			accept_one(w, fd, (struct sockaddr *)&ss, al->al_kind);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			if (i > 0)
				accept_rotate(w, al);
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		/* Network errors of the new connection (accept(2)). */
		case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN:
		case ENONET: case EHOSTUNREACH: case EOPNOTSUPP:
		case ENETUNREACH: case ETIMEDOUT: case ECONNRESET:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/*
			 * Back-pressure, not an error: keep serving what we
			 * have, stop accepting until a descriptor is freed
			 * or a moment has passed.
			 */
			log_burst(&w->w_accept.as_fd_burst, w->w_loop.el_now,
			    "%s; retrying every %d ms", strerror(errno),
			    ACCEPT_PAUSE_MS);
			accept_pause(w);
			return;
		default:
			log_burst(&w->w_accept.as_err_burst,
			    w->w_loop.el_now, "%s", strerror(errno));
			accept_pause(w);
			return;
		}
	}
}
