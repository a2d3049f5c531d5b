/*
 * Worker process: accept, echo, time out idle connections, drain.
 */
#include "autoconf.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "event.h"
#include "log.h"
#include "sig.h"
#include "timer.h"
#include "worker.h"

/* epoll data below this value are not connection pointers. */
#define EV_LISTENER	1	/* + index: 1..ECHOD_MAX_LISTEN */
#define EV_SIGNAL	100
#define EV_LIFELINE	101
#define EV_MAX_TAG	4096

#define MAX_EVENTS	256
#define ACCEPT_BATCH	64		/* accepts per listener wake-up */
#define ECHO_BUDGET	(256 * 1024)	/* bytes read per turn: fairness */
#define ACCEPT_PAUSE_MS	500		/* after EMFILE and friends */
#define BURST_QUIET_MS	2000		/* a burst ends after this calm: */
					/* longer than ACCEPT_PAUSE_MS */
#define DRAIN_QUIET_MS	100		/* idle this long: close on stop */
#define DRAIN_TICK_MS	50

/* Log the first event of a burst and a count when it is over. */
struct burst {
	const char	*what;
	uint64_t	 last;
	unsigned	 count;
};

struct worker {
	const struct worker_args *args;
	const struct echod_config *cfg;
	struct worker_stats	*stats;		/* our slot, shared */
	int			 ep;
	int			 sigfd;
	unsigned		 nconns;
	struct idle_list	 idle;
	struct conn		*busy_head, *busy_tail;
	int			 listen_fds[ECHOD_MAX_LISTEN];
	size_t			 nlisten;
	bool			 listening;	/* listeners are in epoll */
	uint64_t		 accept_resume;	/* 0: not paused */
	bool			 stopping;	/* SIGTERM: drain, deadline */
	bool			 retiring;	/* SIGUSR1: drain, no deadline */
	uint64_t		 deadline;
	uint64_t		 next_drain_tick;
	bool			 opts_inherited; /* seen on a new socket */
	struct burst		 limit_burst, source_burst, fd_burst, err_burst;
	uint64_t		 now;
};

static void
burst_hit(struct burst *b, uint64_t now, const char *detail)
{
	if (b->count++ == 0)
		log_warnx("%s: %s", b->what, detail);
	b->last = now;
}

static void
burst_check(struct burst *b, uint64_t now)
{
	if (b->count > 0 && now - b->last >= BURST_QUIET_MS) {
		if (b->count > 1)
			log_warnx("%s: %u times in the last burst", b->what,
			    b->count);
		b->count = 0;
	}
}

/* Publish the count at once: other workers check the total on accept. */
static void
worker_publish(struct worker *w)
{
	atomic_store_explicit(&w->stats->ws_conns, w->nconns,
	    memory_order_relaxed);
}

static void
worker_close(struct worker *w, struct conn *c, const char *why)
{
	if (c->c_peer != NULL)
		log_event(LOG_INFO, NULL, NULL, "connection from %s closed: "
		    "%s (%llu bytes echoed)", c->c_peer, why,
		    (unsigned long long)c->c_bytes);
	else
		log_debug("connection %d closed: %s", c->c_fd, why);
	idle_remove(&c->c_idle);
	if (c->c_flags & CONN_COUNTED)
		shared_ip_remove(w->args->shared, w->args->slot, c->c_src);
	close(c->c_fd);
	c->c_fd = -1;
	w->nconns--;
	worker_publish(w);
	/* A busy-listed one is freed when the busy loop reaches it. */
	if (!(c->c_flags & CONN_BUSY))
		conn_free(c);
	/* A freed descriptor ends an EMFILE pause early. */
	if (w->accept_resume != 0)
		w->accept_resume = w->now;
}

static void
worker_listen_add(struct worker *w)
{
	size_t	 i;

	for (i = 0; i < w->nlisten; i++)
		/* EPOLLEXCLUSIVE: one connection wakes one worker. */
		if (event_add(w->ep, w->listen_fds[i],
		    EPOLLIN | EPOLLEXCLUSIVE, EV_LISTENER + i) == -1)
			fatal("epoll_ctl(listener)");
	w->listening = true;
	w->accept_resume = 0;
}

static void
worker_listen_pause(struct worker *w)
{
	size_t	 i;

	for (i = 0; i < w->nlisten; i++)
		(void)event_del(w->ep, w->listen_fds[i]);
	w->listening = false;
	w->accept_resume = w->now + ACCEPT_PAUSE_MS;
}

static void
worker_listen_close(struct worker *w)
{
	size_t	 i;

	/*
	 * close() alone would leave the listener in our epoll set: the
	 * master and the other workers share its file description, and
	 * epoll forgets a file only when its last descriptor goes.  Still
	 * registered with EPOLLEXCLUSIVE, a draining worker would take the
	 * wake-ups for connections it no longer accepts.
	 */
	for (i = 0; i < w->nlisten; i++) {
		if (w->listening)
			(void)event_del(w->ep, w->listen_fds[i]);
		close(w->listen_fds[i]);
	}
	w->nlisten = 0;
	w->listening = false;
	w->accept_resume = 0;
}

static int
get_int(int fd, int level, int name)
{
	int		 v = -1;
	socklen_t	 len = sizeof(v);

	(void)getsockopt(fd, level, name, &v, &len);
	return v;
}

static void
set_int(int fd, int level, int name, int v)
{
	(void)setsockopt(fd, level, name, &v, sizeof(v));
}

/*
 * Linux gives accepted sockets their listener's keepalive and nodelay
 * options, which the master set, so normally nothing is set here.  But
 * a connection queued before the master set them (the one that made
 * systemd start us) carries the old values: until one connection shows
 * the inherited values right, check each and set what is missing.
 */
static void
worker_socket_options(struct worker *w, int fd, int family)
{
	const struct echod_config *cfg = w->cfg;

	if (w->opts_inherited || (family != AF_INET && family != AF_INET6))
		return;
	if (get_int(fd, SOL_SOCKET, SO_KEEPALIVE) == cfg->keepalive &&
	    get_int(fd, IPPROTO_TCP, TCP_NODELAY) == 1 &&
	    (!cfg->keepalive ||
	    (get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) ==
	    (int)cfg->keepalive_idle_s &&
	    get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL) ==
	    (int)cfg->keepalive_interval_s &&
	    get_int(fd, IPPROTO_TCP, TCP_KEEPCNT) ==
	    (int)cfg->keepalive_count))) {
		w->opts_inherited = true;
		return;
	}
	set_int(fd, SOL_SOCKET, SO_KEEPALIVE, cfg->keepalive);
	set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (cfg->keepalive) {
		set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE,
		    (int)cfg->keepalive_idle_s);
		set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL,
		    (int)cfg->keepalive_interval_s);
		set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)cfg->keepalive_count);
	}
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
 * the last place may both refuse but never both admit.  Returns true
 * when the connection may stay (and was counted).
 */
static bool
worker_source_admit(struct worker *w, struct conn *c,
    const struct sockaddr *sa)
{
	struct shared	*sh = w->args->shared;
	char		 peer[72], detail[200];

	if (w->cfg->max_connections_per_ip == 0 ||
	    source_key(sa, c->c_src) == -1)
		return true;
	if (shared_ip_add(sh, w->args->slot, c->c_src) == 0) {
		if (shared_ip_count(sh, c->c_src) <=
		    w->cfg->max_connections_per_ip) {
			c->c_flags |= CONN_COUNTED;
			return true;
		}
		shared_ip_remove(sh, w->args->slot, c->c_src);
	}
	addr_format(sa, peer, sizeof(peer));
	snprintf(detail, sizeof(detail), "%u connections from one address "
	    "(%s); closing new ones at once", w->cfg->max_connections_per_ip,
	    peer);
	burst_hit(&w->source_burst, w->now, detail);
	return false;
}

static void
worker_accept_one(struct worker *w, int fd, const struct sockaddr *sa)
{
	struct conn	*c;
	char		 peer[72];

	/*
	 * max_connections is for the whole daemon: take our place in the
	 * shared count first, then check the total, so that workers racing
	 * for the last place can both refuse but never both admit.
	 */
	w->nconns++;
	worker_publish(w);
	if (shared_total_conns(w->args->shared) > w->cfg->max_connections) {
		burst_hit(&w->limit_burst, w->now, "connection limit reached; "
		    "closing new connections at once");
		goto refuse;
	}
	worker_socket_options(w, fd, sa->sa_family);
	if ((c = conn_new(fd)) == NULL) {
		burst_hit(&w->err_burst, w->now, "out of memory for a "
		    "new connection");
		goto refuse;
	}
	if (!worker_source_admit(w, c, sa)) {
		c->c_fd = -1;
		conn_free(c);
		goto refuse;
	}
	if (event_add(w->ep, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	    (uint64_t)(uintptr_t)c) == -1) {
		log_warn("epoll_ctl(connection)");
		if (c->c_flags & CONN_COUNTED)
			shared_ip_remove(w->args->shared, w->args->slot,
			    c->c_src);
		c->c_fd = -1;
		conn_free(c);
		goto refuse;
	}
	if (w->cfg->log_connections) {
		addr_format(sa, peer, sizeof(peer));
		c->c_peer = strdup(peer);
		if (c->c_peer != NULL) {
			char field[96];

			snprintf(field, sizeof(field), "REMOTE_ADDR=%s", peer);
			log_event(LOG_INFO, NULL, field, "connection from %s",
			    peer);
		}
	}
	idle_touch(&w->idle, &c->c_idle, w->now);
	return;
refuse:
	close(fd);
	w->nconns--;
	worker_publish(w);
}

/*
 * EPOLLEXCLUSIVE wakes the waiter at the head of the listener's queue, so
 * one worker would take nearly every connection.  Re-adding the listener
 * moves this worker to the tail: the next connection wakes another.
 */
static void
worker_listen_rotate(struct worker *w, size_t idx)
{
	if (w->cfg->workers < 2)
		return;
	(void)event_del(w->ep, w->listen_fds[idx]);
	if (event_add(w->ep, w->listen_fds[idx], EPOLLIN | EPOLLEXCLUSIVE,
	    EV_LISTENER + idx) == -1)
		fatal("epoll_ctl(listener)");
}

static void
worker_accept(struct worker *w, size_t idx)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 detail[128];
	int			 i, fd, lfd = w->listen_fds[idx];

	for (i = 0; i < ACCEPT_BATCH && w->listening; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			worker_accept_one(w, fd, (struct sockaddr *)&ss);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			if (i > 0)
				worker_listen_rotate(w, idx);
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
			snprintf(detail, sizeof(detail), "%s; retrying every "
			    "%d ms", strerror(errno), ACCEPT_PAUSE_MS);
			burst_hit(&w->fd_burst, w->now, detail);
			worker_listen_pause(w);
			return;
		default:
			burst_hit(&w->err_burst, w->now, strerror(errno));
			worker_listen_pause(w);
			return;
		}
	}
}

static void
worker_busy_push(struct worker *w, struct conn *c)
{
	if (c->c_flags & CONN_BUSY)
		return;
	c->c_flags |= CONN_BUSY;
	c->c_busy_next = NULL;
	if (w->busy_tail != NULL)
		w->busy_tail->c_busy_next = c;
	else
		w->busy_head = c;
	w->busy_tail = c;
}

static void
worker_echo(struct worker *w, struct conn *c)
{
	const char	*why = NULL;
	size_t		 moved;

	switch (conn_echo(c, (uint32_t)w->cfg->buffer_size, ECHO_BUDGET,
	    &moved, &why)) {
	case CONN_DONE:
		worker_close(w, c, why);
		return;
	case CONN_AGAIN:
		worker_busy_push(w, c);
		break;
	case CONN_WAIT:
		break;
	}
	if (moved > 0)
		idle_touch(&w->idle, &c->c_idle, w->now);
}

/* Give connections that used up their budget another turn. */
static void
worker_run_busy(struct worker *w)
{
	struct conn	*c, *list = w->busy_head;

	w->busy_head = w->busy_tail = NULL;
	while ((c = list) != NULL) {
		list = c->c_busy_next;
		c->c_flags &= ~CONN_BUSY;
		if (c->c_fd == -1) {		/* closed while listed */
			conn_free(c);
			continue;
		}
		worker_echo(w, c);
	}
}

static struct conn *
idle_conn(struct idle_node *n)
{
	return (struct conn *)((char *)n - offsetof(struct conn, c_idle));
}

static void
worker_expire_idle(struct worker *w)
{
	struct idle_node	*n;

	if (w->cfg->idle_timeout_ms == 0)
		return;
	while ((n = idle_oldest(&w->idle)) != NULL &&
	    n->in_last + w->cfg->idle_timeout_ms <= w->now)
		worker_close(w, idle_conn(n), "idle timeout");
}

/*
 * While stopping, close connections that are quiet: nothing moved for a
 * moment, nothing buffered, nothing waiting in the socket.  Busy ones
 * keep being served until they go quiet or the deadline passes.
 */
static void
worker_close_quiet(struct worker *w)
{
	struct idle_node	*n, *next;
	struct conn		*c;
	int			 pending;

	for (n = idle_oldest(&w->idle); n != NULL; n = next) {
		next = idle_next(&w->idle, n);
		if (n->in_last + DRAIN_QUIET_MS > w->now)
			break;
		c = idle_conn(n);
		if (!buf_empty(&c->c_buf) || (c->c_flags & CONN_BUSY))
			continue;
		if (ioctl(c->c_fd, FIONREAD, &pending) == 0 && pending > 0)
			continue;
		worker_close(w, c, "echod is stopping");
	}
	w->next_drain_tick = w->now + DRAIN_TICK_MS;
}

static void
worker_stop(struct worker *w, bool with_deadline)
{
	if (!w->stopping && !w->retiring)
		worker_listen_close(w);
	if (with_deadline && !w->stopping) {
		w->stopping = true;
		w->deadline = w->now + w->cfg->shutdown_timeout_ms;
		log_debug("stopping: %u connections to drain within %llu ms",
		    w->nconns, (unsigned long long)w->cfg->shutdown_timeout_ms);
		/* After this batch of events: they may name connections. */
		w->next_drain_tick = w->now;
	} else if (!with_deadline && !w->stopping) {
		w->retiring = true;
		log_debug("retiring: %u connections left to finish",
		    w->nconns);
	}
}

static void
worker_on_signal(struct worker *w)
{
	int	 sig;

	while ((sig = sig_read(w->sigfd)) != 0) {
		if (sig == SIGTERM)
			worker_stop(w, true);
		else if (sig == SIGUSR1)
			worker_stop(w, false);
	}
}

static int
worker_timeout(struct worker *w)
{
	uint64_t		 next = UINT64_MAX;
	struct idle_node	*n;

	if (w->busy_head != NULL)
		return 0;
	if (w->cfg->idle_timeout_ms != 0 &&
	    (n = idle_oldest(&w->idle)) != NULL)
		next = n->in_last + w->cfg->idle_timeout_ms;
	if (w->accept_resume != 0 && w->accept_resume < next)
		next = w->accept_resume;
	if (w->stopping) {
		if (w->deadline < next)
			next = w->deadline;
		if (w->next_drain_tick < next)
			next = w->next_drain_tick;
	}
	if (w->limit_burst.count || w->source_burst.count ||
	    w->fd_burst.count || w->err_burst.count)
		if (w->now + BURST_QUIET_MS < next)
			next = w->now + BURST_QUIET_MS;
	if (next == UINT64_MAX)
		return -1;
	return next <= w->now ? 0 : (int)(next - w->now > 60000 ? 60000 :
	    next - w->now);
}

static void
worker_setup(struct worker *w, const struct worker_args *a)
{
	char		 role[32];
	size_t		 i;

	memset(w, 0, sizeof(*w));
	w->args = a;
	w->cfg = a->cfg;
	w->stats = &a->shared->sh_stats[a->slot];
	snprintf(role, sizeof(role), "worker %u", a->index);
	log_set_role(role);
	for (i = 0; i < 3; i++)
		if (a->master_fds[i] != -1)
			close(a->master_fds[i]);
	if ((w->sigfd = sig_worker_init()) == -1)
		fatal("worker signal set-up");
	/* Belt and braces with the lifeline pipe. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if ((w->ep = event_open()) == -1)
		fatal("epoll_create1");
	if (event_add(w->ep, w->sigfd, EPOLLIN, EV_SIGNAL) == -1 ||
	    event_add(w->ep, a->lifeline_fd, EPOLLIN, EV_LIFELINE) == -1)
		fatal("epoll_ctl");

	for (i = 0; i < a->listeners->n; i++)
		w->listen_fds[i] = a->listeners->ls[i].l_fd;
	w->nlisten = a->listeners->n;
	idle_init(&w->idle);
	w->limit_burst.what = "max_connections";
	w->source_burst.what = "max_connections_per_ip";
	w->fd_burst.what = "accept paused";
	w->err_burst.what = "accept failed";
	w->now = timer_now_ms();
	worker_listen_add(w);
}

void
worker_run(const struct worker_args *a)
{
	struct worker		 w;
	struct epoll_event	 evs[MAX_EVENTS];
	uint64_t		 tag;
	uint32_t		 slot = a->slot;
	int			 i, n;

	worker_setup(&w, a);
	if (write(a->ready_fd, &slot, sizeof(slot)) != sizeof(slot))
		log_warn("cannot tell the master we are ready");
	close(a->ready_fd);
	log_debug("serving");

	for (;;) {
		if ((w.stopping || w.retiring) && w.nconns == 0)
			break;
		n = event_wait(w.ep, evs, MAX_EVENTS, worker_timeout(&w));
		if (n == -1)
			fatal("epoll_wait");
		w.now = timer_now_ms();
		for (i = 0; i < n; i++) {
			tag = evs[i].data.u64;
			if (tag >= EV_MAX_TAG) {
				struct conn *c = (void *)(uintptr_t)tag;

				conn_on_events(c, evs[i].events);
				if (!(c->c_flags & CONN_BUSY))
					worker_echo(&w, c);
			} else if (tag == EV_SIGNAL)
				worker_on_signal(&w);
			else if (tag == EV_LIFELINE) {
				log_warnx("the master process is gone; "
				    "exiting");
				_exit(ECHOD_EXIT_FAILURE);
			} else if (w.listening)
				worker_accept(&w, tag - EV_LISTENER);
		}
		worker_run_busy(&w);
		worker_expire_idle(&w);
		if (w.accept_resume != 0 && w.accept_resume <= w.now &&
		    !w.stopping && !w.retiring)
			worker_listen_add(&w);
		if (w.stopping) {
			if (w.now >= w.deadline) {
				log_notice("shutdown_timeout passed; closing "
				    "%u connections", w.nconns);
				break;
			}
			if (w.now >= w.next_drain_tick)
				worker_close_quiet(&w);
		}
		burst_check(&w.limit_burst, w.now);
		burst_check(&w.source_burst, w.now);
		burst_check(&w.fd_burst, w.now);
		burst_check(&w.err_burst, w.now);
	}
	_exit(ECHOD_EXIT_OK);
}
