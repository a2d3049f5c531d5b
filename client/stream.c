/*
 * Stream mode.  stdin and stdout stay blocking: they may be a terminal
 * shared with the shell, and O_NONBLOCK would change it for the shell
 * too.  poll(2) says when one read or write can make progress.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "msg.h"
#include "stream.h"

#define STREAM_BUF	(64 * 1024)

/* Bytes read from one side and not yet written to the other. */
struct pending {
	char	 p_data[STREAM_BUF];
	size_t	 p_off;		/* first byte not yet written */
	size_t	 p_len;		/* end of the data */
};

struct stream {
	int			 s_fd;
	const struct client_opts *s_opts;
	const char		*s_peer;
	struct pending		 s_up;		/* stdin -> server */
	struct pending		 s_down;	/* server -> stdout */
	bool			 s_in_eof;	/* stdin has ended */
	bool			 s_shut;	/* we sent our FIN */
	bool			 s_srv_eof;	/* the server sent its FIN */
	uint64_t		 s_sent;
	uint64_t		 s_echoed;
	uint64_t		 s_wait_since;	/* waiting for a reply since */
};

enum { PFD_IN, PFD_OUT, PFD_SOCK, PFD_N };

static bool
pending_empty(const struct pending *p)
{
	return p->p_off == p->p_len;
}

static size_t
pending_space(struct pending *p)
{
	/* Slide the unwritten rest to the front so reads stay large. */
	if (p->p_off > 0) {
		memmove(p->p_data, p->p_data + p->p_off, p->p_len - p->p_off);
		p->p_len -= p->p_off;
		p->p_off = 0;
	}
	return sizeof(p->p_data) - p->p_len;
}

static int
stream_read_input(struct stream *s)
{
	ssize_t	 n;

	n = read(STDIN_FILENO, s->s_up.p_data + s->s_up.p_len,
	    pending_space(&s->s_up));
	if (n > 0) {
		s->s_up.p_len += (size_t)n;
		return 0;
	}
	if (n == 0) {
		s->s_in_eof = true;
		return 0;
	}
	if (errno == EINTR || errno == EAGAIN)
		return 0;
	msg_warn("reading standard input");
	return -1;
}

/* stdout carries the echo only; every remark goes to stderr. */
static int
stream_write_output(struct stream *s)
{
	struct pending	*p = &s->s_down;
	ssize_t		 n;

	n = write(STDOUT_FILENO, p->p_data + p->p_off, p->p_len - p->p_off);
	if (n >= 0) {
		p->p_off += (size_t)n;
		if (pending_empty(p))
			p->p_off = p->p_len = 0;
		return 0;
	}
	if (errno == EINTR || errno == EAGAIN)
		return 0;
	msg_warn("writing standard output");
	return -1;
}

/* Returns 0, or an exit code after reporting why. */
static int
stream_send(struct stream *s)
{
	struct pending	*p = &s->s_up;
	ssize_t		 n;

	n = send(s->s_fd, p->p_data + p->p_off, p->p_len - p->p_off,
	    MSG_NOSIGNAL);
	if (n >= 0) {
		p->p_off += (size_t)n;
		s->s_sent += (uint64_t)n;
		if (pending_empty(p))
			p->p_off = p->p_len = 0;
		return 0;
	}
	if (errno == EINTR || errno == EAGAIN)
		return 0;
	return net_fail(errno, s->s_peer, s->s_sent, s->s_echoed);
}

static int
stream_recv(struct stream *s, uint64_t now)
{
	struct pending	*p = &s->s_down;
	ssize_t		 n;

	n = recv(s->s_fd, p->p_data + p->p_len, pending_space(p), 0);
	if (n > 0) {
		p->p_len += (size_t)n;
		s->s_echoed += (uint64_t)n;
		s->s_wait_since = now;
		return 0;
	}
	if (n == 0) {
		s->s_srv_eof = true;
		return 0;
	}
	if (errno == EINTR || errno == EAGAIN)
		return 0;
	return net_fail(errno, s->s_peer, s->s_sent, s->s_echoed);
}

static bool
stream_input_done(const struct stream *s)
{
	return s->s_in_eof && pending_empty(&s->s_up);
}

/* The server's EOF has come and its echo is out: judge the exchange. */
static int
stream_finish(const struct stream *s)
{
	unsigned long long	 sent = s->s_sent, echoed = s->s_echoed;

	if (!stream_input_done(s)) {
		msg_warnx("server terminated prematurely: %s closed the "
		    "connection before our input ended (%llu of %llu bytes "
		    "echoed)", s->s_peer, echoed, sent);
		return CLIENT_EXIT_CLOSED;
	}
	if (echoed < sent) {
		msg_warnx("server terminated prematurely: %s closed the "
		    "connection after echoing %llu of %llu bytes", s->s_peer,
		    echoed, sent);
		return CLIENT_EXIT_CLOSED;
	}
	if (echoed > sent) {
		/* Our PROXY header, echoed by a socket that does not
		 * expect one, is the likely surplus. */
		msg_warnx("%s sent %llu bytes more than it was sent; it is "
		    "not an echo server%s", s->s_peer, echoed - sent,
		    s->s_opts->co_proxy != 0 ? ", or not a PROXY socket (it "
		    "echoed the --proxy header)" : "");
		return CLIENT_EXIT_FAILURE;
	}
	return CLIENT_EXIT_OK;
}

static int
stream_timed_out(const struct stream *s)
{
	char	 dur[32];

	msg_duration(s->s_opts->co_timeout_ms, dur, sizeof(dur));
	if (s->s_shut && s->s_echoed == s->s_sent)
		msg_warnx("timed out: all %llu bytes came back, but %s did "
		    "not close the connection within %s",
		    (unsigned long long)s->s_sent, s->s_peer, dur);
	else
		msg_warnx("timed out: no reply from %s for %s (%llu of %llu "
		    "bytes echoed)", s->s_peer, dur,
		    (unsigned long long)s->s_echoed,
		    (unsigned long long)s->s_sent);
	return CLIENT_EXIT_TIMEOUT;
}

static void
stream_status(const struct stream *s, uint64_t now)
{
	const char	*state;

	if (s->s_srv_eof)
		state = "the server has closed; writing out the rest";
	else if (s->s_shut)
		state = "input ended; waiting for the rest of the echo";
	else
		state = "copying";
	if (s->s_wait_since != 0)
		msg_warnx("%s: %llu bytes sent, %llu echoed; %s (no reply "
		    "for %.1fs)", s->s_peer, (unsigned long long)s->s_sent,
		    (unsigned long long)s->s_echoed, state,
		    (double)(now - s->s_wait_since) / 1e6);
	else
		msg_warnx("%s: %llu bytes sent, %llu echoed; %s", s->s_peer,
		    (unsigned long long)s->s_sent,
		    (unsigned long long)s->s_echoed, state);
}

/*
 * Fill the poll set for what can make progress now, and return the
 * deadline of the reply timeout (0: none).
 */
static uint64_t
stream_prepare(struct stream *s, struct pollfd *pfd, uint64_t now)
{
	bool	 room_down = s->s_down.p_len < sizeof(s->s_down.p_data) ||
		     s->s_down.p_off > 0;
	bool	 waiting;

	pfd[PFD_IN].fd = -1;
	pfd[PFD_OUT].fd = -1;
	pfd[PFD_SOCK].fd = -1;
	pfd[PFD_IN].events = POLLIN;
	pfd[PFD_OUT].events = POLLOUT;
	pfd[PFD_SOCK].events = 0;

	if (!s->s_in_eof && !s->s_srv_eof &&
	    (s->s_up.p_len < sizeof(s->s_up.p_data) || s->s_up.p_off > 0))
		pfd[PFD_IN].fd = STDIN_FILENO;
	if (!pending_empty(&s->s_down))
		pfd[PFD_OUT].fd = STDOUT_FILENO;
	if (!s->s_srv_eof && room_down)
		pfd[PFD_SOCK].events |= POLLIN;
	if (!s->s_srv_eof && !pending_empty(&s->s_up))
		pfd[PFD_SOCK].events |= POLLOUT;
	/*
	 * With no events asked, poll still reports POLLHUP, which stays
	 * set: leave the socket out rather than spin until stdout drains.
	 */
	if (pfd[PFD_SOCK].events != 0)
		pfd[PFD_SOCK].fd = s->s_fd;

	/*
	 * The timeout runs only while we wait on the server: bytes of ours
	 * not echoed yet, or its EOF after ours.  Not while we hold back
	 * because stdout is slow.
	 */
	waiting = !s->s_srv_eof && room_down &&
	    (s->s_echoed < s->s_sent || s->s_shut);
	if (!waiting) {
		s->s_wait_since = 0;
		return 0;
	}
	if (s->s_wait_since == 0)
		s->s_wait_since = now;
	if (s->s_opts->co_timeout_ms == 0)
		return 0;
	return s->s_wait_since + s->s_opts->co_timeout_ms * 1000;
}

int
stream_run(int fd, const struct client_opts *o, const struct net_peer *peer)
{
	static struct stream	 st;	/* 128 KiB: not on the stack */
	struct stream		*s = &st;
	struct pollfd		 pfd[PFD_N];
	uint64_t		 now, deadline;
	int			 n, rc, err;

	memset(s, 0, sizeof(*s));
	s->s_fd = fd;
	s->s_opts = o;
	s->s_peer = peer->np_addr;

	for (;;) {
		now = clock_now_us();
		if (stream_input_done(s) && !s->s_shut && !s->s_srv_eof) {
			/* A reset that came first explains a failure best. */
			if (shutdown(fd, SHUT_WR) == -1) {
				err = net_pending_error(fd);
				return net_fail(err != 0 ? err : errno,
				    s->s_peer, s->s_sent, s->s_echoed);
			}
			s->s_shut = true;
		}
		if (s->s_srv_eof && pending_empty(&s->s_down))
			return stream_finish(s);
		deadline = stream_prepare(s, pfd, now);
		if (deadline != 0 && now >= deadline)
			return stream_timed_out(s);

		n = poll(pfd, PFD_N, clock_poll_timeout(deadline, now));
		if (n == -1 && errno != EINTR) {
			msg_warn("poll");
			return CLIENT_EXIT_FAILURE;
		}
		now = clock_now_us();
		if (client_want_status) {
			client_want_status = 0;
			stream_status(s, now);
		}
		if (n <= 0)
			continue;

		/* A reset or broken pipe beats any data still queued. */
		if (pfd[PFD_SOCK].revents & POLLERR &&
		    (err = net_pending_error(fd)) != 0)
			return net_fail(err, s->s_peer, s->s_sent, s->s_echoed);
		if (pfd[PFD_SOCK].revents & (POLLIN | POLLHUP | POLLERR) &&
		    pfd[PFD_SOCK].events & POLLIN &&
		    (rc = stream_recv(s, now)) != 0)
			return rc;
		if (pfd[PFD_SOCK].revents & POLLOUT && !s->s_srv_eof &&
		    (rc = stream_send(s)) != 0)
			return rc;
		if (pfd[PFD_OUT].revents & (POLLOUT | POLLERR | POLLHUP) &&
		    stream_write_output(s) == -1)
			return CLIENT_EXIT_FAILURE;
		if (pfd[PFD_OUT].revents & POLLNVAL) {
			msg_warnx("standard output is not open");
			return CLIENT_EXIT_FAILURE;
		}
		if (pfd[PFD_IN].revents & (POLLIN | POLLHUP | POLLERR) &&
		    !s->s_srv_eof && stream_read_input(s) == -1)
			return CLIENT_EXIT_FAILURE;
		if (pfd[PFD_IN].revents & POLLNVAL)
			s->s_in_eof = true;
	}
}
