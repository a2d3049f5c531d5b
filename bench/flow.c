/*
 * One connection's verified flow of pattern bytes.
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "msg.h"
#include "pattern.h"

/* Shared by every flow: each recv() is checked before the next. */
static unsigned char	 rbuf[IO_CHUNK];

int
flow_connect(struct flow *f, const struct load_opts *o, uint64_t idx,
    bool nodelay)
{
	struct sockaddr_in	 sin;
	int			 one = 1;

	memset(f, 0, sizeof(*f));
	f->fl_idx = idx;
	f->fl_seed = pattern_seed(idx);
	f->fl_t0 = load_now_ns();
	f->fl_fd = socket(o->lo_dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (f->fl_fd == -1)
		goto fail;
	if (nodelay)
		(void)setsockopt(f->fl_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (o->lo_nsrc > 0) {
		/* Pick the port at connect(): the 4-tuple, not the address. */
		(void)setsockopt(f->fl_fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
		    &one, sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(ntohl(o->lo_src.s_addr) +
		    (uint32_t)(idx % o->lo_nsrc));
		if (bind(f->fl_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			goto fail;
	}
	if (connect(f->fl_fd, (struct sockaddr *)&o->lo_dst,
	    o->lo_dstlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		f->fl_connecting = true;
	}
	return 0;
fail:
	msg_warn("connection %" PRIu64 ": connect", idx);
	flow_close(f);
	return -1;
}

int
flow_connected(struct flow *f)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (getsockopt(f->fl_fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		msg_warnx("connection %" PRIu64 ": connect: %s", f->fl_idx,
		    strerror(err));
		return -1;
	}
	f->fl_connecting = false;
	return 0;
}

int
flow_send(struct flow *f)
{
	uint64_t	 len;
	ssize_t		 n;

	while (f->fl_sent < f->fl_want) {
		len = f->fl_want - f->fl_sent;
		n = send(f->fl_fd, pattern_at(f->fl_seed + f->fl_sent),
		    len < IO_CHUNK ? (size_t)len : IO_CHUNK, MSG_NOSIGNAL);
		if (n > 0) {
			f->fl_sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		msg_warn("connection %" PRIu64 ": send", f->fl_idx);
		return -1;
	}
	return 0;
}

ssize_t
flow_recv(struct flow *f)
{
	ssize_t	 n;

	for (;;) {
		n = recv(f->fl_fd, rbuf, sizeof(rbuf), 0);
		if (n > 0)
			break;
		if (n == 0) {
			msg_warnx("connection %" PRIu64 ": the server closed "
			    "it with %" PRIu64 " bytes not echoed", f->fl_idx,
			    f->fl_sent - f->fl_rcvd);
			return -1;
		}
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR) {
			msg_warn("connection %" PRIu64 ": recv", f->fl_idx);
			return -1;
		}
	}
	if (f->fl_rcvd + (uint64_t)n > f->fl_sent ||
	    pattern_check(f->fl_seed + f->fl_rcvd, rbuf, (size_t)n) == -1) {
		msg_warnx("connection %" PRIu64 ": echoed data differs from "
		    "what was sent at offset %" PRIu64, f->fl_idx, f->fl_rcvd);
		return -1;
	}
	f->fl_rcvd += (uint64_t)n;
	return n;
}

int
flow_serve(struct flow *f, uint32_t events,
    void (*got)(struct flow *, void *), void *arg)
{
	ssize_t	 n;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		/* Until the socket is empty, or no edge comes again. */
		while ((n = flow_recv(f)) > 0)
			if (got != NULL)
				got(f, arg);
		if (n == -1)
			return -1;
	}
	if (events & (EPOLLOUT | EPOLLERR))
		return flow_send(f);
	return 0;
}

void
flow_close(struct flow *f)
{
	if (f->fl_fd != -1)
		close(f->fl_fd);
	f->fl_fd = -1;
}

void
flow_reset(struct flow *f)
{
	struct linger	 l = { .l_onoff = 1, .l_linger = 0 };

	if (f->fl_fd != -1)
		(void)setsockopt(f->fl_fd, SOL_SOCKET, SO_LINGER, &l,
		    sizeof(l));
	flow_close(f);
}
