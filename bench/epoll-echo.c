/*
 * epoll-echo: a plain single-process epoll echo loop.
 *
 * A REFERENCE for bench/run, not a product: no config, no limits, no
 * timeouts, no logging.  It stands for what a few dozen lines of epoll
 * give, so the table can show what echod's design adds or costs.
 *
 * usage: epoll-echo [-s] PORT   (listens on 127.0.0.1; -s: splice)
 *
 * Level-triggered; each readable socket is read once into one shared
 * buffer and written straight back.  Bytes the socket would not take
 * wait in a per-connection heap copy, and reading stops until they are
 * gone.  An idle connection holds only its small struct.
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_SIZE	(128 * 1024)
#define MAX_EVENTS	256

struct ref_conn {
	int	 fd;
	char	*pend;		/* bytes the socket did not take yet */
	size_t	 off, len;
	int	 pipe[2];	/* -s: splice through it; -1 until data */
	size_t	 inpipe;
};

static char	 buf[BUF_SIZE];
static int	 use_splice;

static void
ref_close(struct ref_conn *c)
{
	if (c->pipe[0] != -1) {
		close(c->pipe[0]);
		close(c->pipe[1]);
	}
	close(c->fd);
	free(c->pend);
	free(c);
}

static void
ref_watch(int ep, struct ref_conn *c, uint32_t events)
{
	struct epoll_event	 ev = { .events = events, .data.ptr = c };

	(void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* 0: keep the connection, -1: close it. */
static int
ref_flush(int ep, struct ref_conn *c)
{
	ssize_t	 n;

	while (c->len > 0) {
		n = send(c->fd, c->pend + c->off, c->len, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		c->off += (size_t)n;
		c->len -= (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	ref_watch(ep, c, EPOLLIN);
	return 0;
}

static int
ref_echo(int ep, struct ref_conn *c)
{
	ssize_t	 n, w;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return n == -1 && errno == EAGAIN ? 0 : -1;
	w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w == -1 && errno != EAGAIN)
		return -1;
	if (w < 0)
		w = 0;
	if (w == n)
		return 0;
	if ((c->pend = malloc((size_t)(n - w))) == NULL)
		return -1;
	memcpy(c->pend, buf + w, (size_t)(n - w));
	c->off = 0;
	c->len = (size_t)(n - w);
	ref_watch(ep, c, EPOLLOUT);
	return 0;
}

/*
 * -s: socket to pipe to socket with splice(), no copy through user
 * space.  The pipe is made on first data and kept.
 */
static int
ref_splice(int ep, struct ref_conn *c, uint32_t events)
{
	ssize_t	 n;

	if (c->pipe[0] == -1) {
		if (pipe2(c->pipe, O_NONBLOCK) == -1)
			return -1;
		(void)fcntl(c->pipe[1], F_SETPIPE_SZ, 1024 * 1024);
	}
	if (c->inpipe == 0 || (events & EPOLLIN)) {
		n = splice(c->fd, NULL, c->pipe[1], NULL, 1024 * 1024,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0)
			return -1;
		if (n == -1 && errno != EAGAIN)
			return -1;
		if (n > 0)
			c->inpipe += (size_t)n;
	}
	while (c->inpipe > 0) {
		n = splice(c->pipe[0], NULL, c->fd, NULL, c->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		c->inpipe -= (size_t)n;
	}
	ref_watch(ep, c, c->inpipe > 0 ? EPOLLOUT : EPOLLIN);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct sockaddr_in	 sin;
	struct ref_conn		*c;
	int			 lfd, ep, fd, n, i, one = 1;

	if (argc == 3 && strcmp(argv[1], "-s") == 0) {
		use_splice = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: epoll-echo [-s] PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    (ep = epoll_create1(0)) == -1) {
		perror("epoll-echo");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	(void)epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		for (i = 0; i < n; i++) {
			if ((c = evs[i].data.ptr) == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					if ((c = calloc(1, sizeof(*c))) ==
					    NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->pipe[0] = c->pipe[1] = -1;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					(void)epoll_ctl(ep, EPOLL_CTL_ADD, fd,
					    &ev);
				}
				continue;
			}
			if ((use_splice ? ref_splice(ep, c, evs[i].events) :
			    c->pend != NULL ? ref_flush(ep, c) :
			    ref_echo(ep, c)) == -1)
				ref_close(c);
		}
	}
}
