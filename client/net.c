/*
 * Resolving and connecting.  Every address of the host is tried in turn
 * with a non-blocking connect and poll(2), so a deadline bounds each
 * attempt and a signal cannot make us call connect(2) twice.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "msg.h"
#include "net.h"
#include "parse.h"

static int
net_exit_code(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return CLIENT_EXIT_REFUSED;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
		return CLIENT_EXIT_UNREACHABLE;
	case ETIMEDOUT:
		return CLIENT_EXIT_TIMEOUT;
	case ECONNRESET:
		return CLIENT_EXIT_RESET;
	case EPIPE:
		return CLIENT_EXIT_PIPE;
	default:
		return CLIENT_EXIT_FAILURE;
	}
}

int
net_pending_error(int fd)
{
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

int
net_fail(int err, const char *peer, uint64_t sent, uint64_t echoed)
{
	unsigned long long	 s = sent, e = echoed;

	switch (err) {
	case ECONNRESET:
		msg_warnx("connection reset by %s (%llu of %llu bytes "
		    "echoed)", peer, e, s);
		break;
	case EPIPE:
		msg_warnx("broken pipe: %s closed the connection while we "
		    "were still sending (%llu of %llu bytes echoed)", peer, e,
		    s);
		break;
	case ETIMEDOUT:
		msg_warnx("connection to %s timed out: the server stopped "
		    "answering (%llu of %llu bytes echoed)", peer, e, s);
		break;
	default:
		errno = err;
		msg_warn("connection to %s failed (%llu of %llu bytes echoed)",
		    peer, e, s);
		break;
	}
	return net_exit_code(err);
}

/*
 * Short keepalive probes, and the same bound on unacknowledged data
 * (TCP_USER_TIMEOUT): keepalive alone does nothing while we retransmit.
 */
static void
net_keepalive(int fd)
{
	int	 on = 1, idle = CLIENT_KEEPIDLE, intvl = CLIENT_KEEPINTVL;
	int	 cnt = CLIENT_KEEPCNT;
	unsigned user = (CLIENT_KEEPIDLE + CLIENT_KEEPINTVL *
		     CLIENT_KEEPCNT) * 1000;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle))
	    == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl))
	    == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user))
	    == -1)
		msg_warn("cannot enable keepalive; a dead server may go "
		    "unnoticed while idle");
}

/*
 * Wait for a non-blocking connect to finish.  Returns 0 when connected,
 * else the errno value why not: ETIMEDOUT when our deadline passed first
 * (*ours set), EINTR on a stop signal.
 */
static int
net_wait_connected(int fd, const char *addr, uint64_t deadline,
    bool *ours)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };
	uint64_t	 start = clock_now_us(), now;
	int		 n;

	for (;;) {
		/* A signal that came before poll() would not interrupt it. */
		if (client_stop_signal)
			return EINTR;
		now = clock_now_us();
		n = poll(&pfd, 1, clock_poll_timeout(deadline, now));
		if (n == -1 && errno != EINTR)
			return errno;
		if (n == -1) {
			if (client_stop_signal)
				return EINTR;
			if (client_want_status) {
				client_want_status = 0;
				msg_warnx("still connecting to %s (%.1fs so "
				    "far)", addr,
				    (double)(clock_now_us() - start) / 1e6);
			}
			/* The handshake goes on in the kernel; wait more. */
			continue;
		}
		if (n == 0) {
			*ours = true;
			return ETIMEDOUT;
		}
		return net_pending_error(fd);
	}
}

/* One address.  Returns a connected socket, or -1 with *err set. */
static int
net_try(const struct client_opts *o, const struct addrinfo *ai,
    const char *addr, int *err, bool *ours)
{
	uint64_t	 deadline = 0;
	int		 fd;

	*ours = false;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		*err = errno;
		return -1;
	}
	if (o->co_keepalive)
		net_keepalive(fd);
	if (o->co_timeout_ms != 0)
		deadline = clock_now_us() + o->co_timeout_ms * 1000;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	/*
	 * EINTR cannot happen on a non-blocking socket, but if it did the
	 * handshake would still be under way: calling connect again would
	 * fail with EALREADY, so wait for it like for EINPROGRESS.
	 */
	if (errno != EINPROGRESS && errno != EINTR)
		*err = errno;
	else if ((*err = net_wait_connected(fd, addr, deadline, ours)) == 0)
		return fd;
	close(fd);
	return -1;
}

static void
net_report(const struct client_opts *o, const char *addr, int err,
    bool ours, bool last)
{
	char	 why[128], dur[32];

	if (err == ECONNREFUSED)
		snprintf(why, sizeof(why), "connection refused (nothing "
		    "listens there)");
	else if (err == ETIMEDOUT && ours)
		snprintf(why, sizeof(why), "timed out: no answer within %s",
		    msg_duration(o->co_timeout_ms, dur, sizeof(dur)));
	else if (err == ETIMEDOUT)
		snprintf(why, sizeof(why), "timed out: no answer from the "
		    "host");
	else
		snprintf(why, sizeof(why), "%s%s", strerror(err),
		    net_exit_code(err) == CLIENT_EXIT_UNREACHABLE ?
		    " (unreachable)" : "");
	if (last)
		msg_warnx("cannot connect to %s: %s", addr, why);
	else {
		msg_note("cannot connect to %s: %s", addr, why);
		msg_note("trying the next address of %s", o->co_host);
	}
}

int
net_connect(const struct client_opts *o, struct net_peer *peer,
    int *code)
{
	struct addrinfo		 hints, *res, *ai;
	uint64_t		 start;
	bool			 ours;
	int			 rc, fd = -1, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = o->co_family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(o->co_host, o->co_port, &hints, &res)) != 0) {
		if (rc == EAI_SYSTEM)
			msg_warn("cannot resolve '%s'", o->co_host);
		else
			msg_warnx("cannot resolve '%s': %s", o->co_host,
			    gai_strerror(rc));
		*code = rc == EAI_MEMORY ? CLIENT_EXIT_FAILURE :
		    CLIENT_EXIT_RESOLVE;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		addr_format(ai->ai_addr, peer->np_addr, sizeof(peer->np_addr));
		start = clock_now_us();
		fd = net_try(o, ai, peer->np_addr, &err, &ours);
		if (fd != -1) {
			peer->np_connect_us = clock_now_us() - start;
			break;
		}
		if (err == EINTR && client_stop_signal)
			break;
		net_report(o, peer->np_addr, err, ours, ai->ai_next == NULL);
	}
	freeaddrinfo(res);
	if (fd == -1)
		*code = err == EINTR && client_stop_signal ? -1 :
		    err == ETIMEDOUT ? CLIENT_EXIT_TIMEOUT : net_exit_code(err);
	return fd;
}

int
net_udp_open(const struct client_opts *o, struct net_peer *peer, int *code)
{
	struct addrinfo		 hints, *res, *ai;
	int			 rc, fd = -1, err = 0, buf = 1 << 20;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = o->co_family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(o->co_host, o->co_port, &hints, &res)) != 0) {
		if (rc == EAI_SYSTEM)
			msg_warn("cannot resolve '%s'", o->co_host);
		else
			msg_warnx("cannot resolve '%s': %s", o->co_host,
			    gai_strerror(rc));
		*code = rc == EAI_MEMORY ? CLIENT_EXIT_FAILURE :
		    CLIENT_EXIT_RESOLVE;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		addr_format(ai->ai_addr, peer->np_addr, sizeof(peer->np_addr));
		peer->np_connect_us = 0;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			net_report(o, peer->np_addr, err, false,
			    ai->ai_next == NULL);
			continue;
		}
		/* Room for a few 64 KiB answers while we are busy. */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		/* Connecting a datagram socket sends nothing: only a route
		 * is needed. */
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
		net_report(o, peer->np_addr, err, false, ai->ai_next == NULL);
	}
	freeaddrinfo(res);
	if (fd == -1)
		*code = net_exit_code(err);
	return fd;
}
