/*
 * One connection's flow: the pattern bytes sent on it and their echo,
 * checked byte for byte at the same stream offset.  Every failure is
 * said on stderr (msg_warn) with the connection's number, so callers
 * only count it.
 */
#ifndef ECHO_LOAD_FLOW_H
#define ECHO_LOAD_FLOW_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include "load.h"

struct flow {
	int		 fl_fd;		/* -1: closed */
	bool		 fl_connecting;	/* connect() still in progress */
	uint64_t	 fl_idx;	/* connection number, for messages */
	uint64_t	 fl_seed;	/* stream offset of its first byte */
	uint64_t	 fl_t0;		/* when the connect began (ns) */
	uint64_t	 fl_want;	/* to send in all; UINT64_MAX: no end */
	uint64_t	 fl_sent;
	uint64_t	 fl_rcvd;	/* echoed and verified */
};

/*
 * Open f as connection number idx to o's target: a non-blocking socket,
 * bound to one of o's source addresses if any, with TCP_NODELAY if
 * asked; nothing to send yet.  fl_connecting says whether connect() is
 * still in progress.  0, or -1 after a warning with f closed.
 */
int	flow_connect(struct flow *f, const struct load_opts *o, uint64_t idx,
	    bool nodelay);

/*
 * When a pending connect() signalled: 0 if it succeeded, else -1 after
 * a warning.
 */
int	flow_connected(struct flow *f);

/*
 * Send until fl_sent reaches fl_want or the socket is full.  0, or -1
 * after a warning.
 */
int	flow_send(struct flow *f);

/*
 * One recv(): the number of bytes that came and match what was sent;
 * 0 when nothing more has come yet; -1 after a warning when the data
 * differs, more came than was sent, the server closed, or recv failed.
 */
ssize_t	flow_recv(struct flow *f);

/*
 * Serve one epoll event of f, watched edge-triggered both ways: read
 * all that has come, calling got(f, arg) after each read if got is
 * given, then send what is due.  0, or -1 after a warning.
 */
int	flow_serve(struct flow *f, uint32_t events,
	    void (*got)(struct flow *, void *), void *arg);

/* Close it, if open (which also takes it out of any epoll set). */
void	flow_close(struct flow *f);

/* Close it with a reset (SO_LINGER 0), if open: no TIME_WAIT is left. */
void	flow_reset(struct flow *f);

#endif
