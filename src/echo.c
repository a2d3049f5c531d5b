/*
 * The echo path of one stream.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "echo.h"
#include "event.h"
#include "pipes.h"

#define DISCARD_CHUNK	16384
#define STREAM_READ	(16 * 1024)	/* a read this big: it streams */
#define SPLICE_FLAGS	(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

static bool	echo_has_data(const struct echo *);

void
echo_note(struct echo *e, unsigned what)
{
	/* Errors and hang-ups surface through the next read or write. */
	if (what & (EV_READ | EV_PEER_CLOSED | EV_ERROR | EV_URGENT))
		e->e_flags |= ECHO_READABLE;
	if (what & (EV_PEER_CLOSED | EV_ERROR))
		e->e_flags |= ECHO_FIN_IN;
	if (what & EV_URGENT)
		e->e_flags |= ECHO_URGENT | ECHO_URGENT_SEEN;
	if (what & (EV_WRITE | EV_ERROR))
		e->e_flags |= ECHO_WRITABLE;
}

/* Read once.  Returns bytes read, 0 when nothing was, -1 on error. */
static ssize_t
echo_read(struct echo *e, int fd, uint32_t bufsize)
{
	struct iovec	 iov[2];
	size_t		 want;
	ssize_t		 n;
	int		 cnt;

	if (buf_reserve(&e->e_buf, bufsize) == -1)
		return -1;
	cnt = buf_space(&e->e_buf, iov);
	want = iov[0].iov_len + (cnt == 2 ? iov[1].iov_len : 0);
	do
		n = readv(fd, iov, cnt);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		buf_produce(&e->e_buf, (size_t)n);
		e->e_in += (uint64_t)n;
		/* Big reads, or a full buffer: the peer streams. */
		if ((size_t)n >= STREAM_READ || (size_t)n == bufsize)
			e->e_flags |= ECHO_STREAMING;
		/*
		 * A short read drained the socket: wait for the next edge
		 * instead of paying for a read that says EAGAIN.  Two
		 * cases where no edge would come: the FIN is in (read on
		 * until 0), and urgent data, where TCP ends a read short
		 * at the urgent mark with more data behind it.
		 */
		if ((size_t)n < want &&
		    !(e->e_flags & (ECHO_FIN_IN | ECHO_URGENT)))
			e->e_flags &= ~ECHO_READABLE;
		return n;
	}
	if (n == 0) {
		e->e_flags |= ECHO_EOF;
		e->e_flags &= ~(ECHO_READABLE | ECHO_URGENT);
		return 0;
	}
	if (errno == EAGAIN) {
		e->e_flags &= ~(ECHO_READABLE | ECHO_URGENT);
		return 0;
	}
	return -1;
}

/* Write once.  Returns bytes written, 0 when none could be, -1 on error. */
static ssize_t
echo_write(struct echo *e, int fd)
{
	struct iovec	 iov[2];
	struct msghdr	 msg = { .msg_iov = iov };
	size_t		 want;
	ssize_t		 n;

	msg.msg_iovlen = (size_t)buf_data(&e->e_buf, iov);
	want = iov[0].iov_len + (msg.msg_iovlen == 2 ? iov[1].iov_len : 0);
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n >= 0) {
		buf_consume(&e->e_buf, (size_t)n);
		e->e_out += (uint64_t)n;
		if ((size_t)n < want)
			e->e_flags &= ~ECHO_WRITABLE;	/* socket buffer full */
		return n;
	}
	if (errno == EAGAIN) {
		e->e_flags &= ~ECHO_WRITABLE;
		return 0;
	}
	return -1;
}

/*
 * Socket to pipe.  Returns bytes moved, 0 when none could be, -1 on
 * error.  EOF sets ECHO_EOF.  A short count says nothing here (a pipe
 * fills by pages, not bytes), so only EAGAIN with an empty pipe means
 * the socket is drained; with data in the pipe it may mean the pipe is
 * full, and readable stays set for the next turn.
 */
static ssize_t
echo_splice_in(struct echo *e, int fd, uint32_t room)
{
	ssize_t	 n;

	do
		n = splice(fd, NULL, e->e_pipe[1], NULL, room, SPLICE_FLAGS);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		e->e_piped += (uint32_t)n;
		e->e_in += (uint64_t)n;
		return n;
	}
	if (n == 0) {
		e->e_flags |= ECHO_EOF;
		e->e_flags &= ~ECHO_READABLE;
		return 0;
	}
	if (errno == EAGAIN) {
		if (e->e_piped == 0)
			e->e_flags &= ~ECHO_READABLE;
		return 0;
	}
	return -1;
}

/* Pipe to socket.  Returns bytes moved, 0 when none could be, -1. */
static ssize_t
echo_splice_out(struct echo *e, int fd)
{
	ssize_t	 n;

	do
		n = splice(e->e_pipe[0], NULL, fd, NULL, e->e_piped,
		    SPLICE_FLAGS);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		e->e_piped -= (uint32_t)n;
		e->e_out += (uint64_t)n;
		return n;
	}
	if (n == -1 && errno == EAGAIN) {
		e->e_flags &= ~ECHO_WRITABLE;
		return 0;
	}
	if (n == 0)
		errno = EPIPE;
	return -1;
}

/*
 * Take a pipe when a streaming connection's buffer has drained; give it
 * back when it has.  Splicing stops for good once urgent data came:
 * splice() cannot read past an urgent mark.
 */
static void
echo_choose_path(struct echo *e, uint64_t now)
{
	if (e->e_flags & ECHO_PIPED) {
		if (e->e_piped == 0 && (e->e_flags & ECHO_URGENT_SEEN)) {
			pipe_pool_put(e->e_pool, e->e_pipe, true, now);
			e->e_flags &= ~(ECHO_PIPED | ECHO_STREAMING);
		}
		return;
	}
	if ((e->e_flags & (ECHO_STREAMING | ECHO_URGENT_SEEN)) ==
	    ECHO_STREAMING && e->e_pool != NULL && buf_empty(&e->e_buf)) {
		e->e_flags &= ~ECHO_STREAMING;
		if (pipe_pool_get(e->e_pool, e->e_pipe, now) == 0) {
			e->e_flags |= ECHO_PIPED;
			e->e_piped = 0;
			buf_release(&e->e_buf);
		}
	}
}

static bool
echo_has_room(const struct echo *e)
{
	if (e->e_flags & ECHO_PIPED)
		return e->e_piped < e->e_pool->pp_size &&
		    !(e->e_flags & ECHO_URGENT_SEEN);
	return !buf_full(&e->e_buf);
}

bool
echo_pending(const struct echo *e)
{
	return echo_has_data(e);
}

static bool
echo_has_data(const struct echo *e)
{
	return (e->e_flags & ECHO_PIPED) ? e->e_piped > 0 :
	    !buf_empty(&e->e_buf);
}

enum echo_result
echo_run(struct echo *e, int fd, uint32_t bufsize, size_t budget,
    size_t *moved, uint64_t now)
{
	size_t	 read_total = 0;
	ssize_t	 n;
	bool	 progress;

	*moved = 0;
	do {
		progress = false;
		echo_choose_path(e, now);
		if ((e->e_flags & (ECHO_READABLE | ECHO_EOF)) ==
		    ECHO_READABLE && echo_has_room(e)) {
			n = (e->e_flags & ECHO_PIPED) ? echo_splice_in(e, fd,
			    e->e_pool->pp_size - e->e_piped) :
			    echo_read(e, fd, bufsize);
			if (n == -1)
				return ECHO_ERROR;
			read_total += (size_t)n;
			*moved += (size_t)n;
			progress = n > 0;
		}
		if ((e->e_flags & ECHO_WRITABLE) && echo_has_data(e)) {
			n = (e->e_flags & ECHO_PIPED) ? echo_splice_out(e, fd) :
			    echo_write(e, fd);
			if (n == -1)
				return ECHO_ERROR;
			*moved += (size_t)n;
			progress = progress || n > 0;
		}
		if ((e->e_flags & ECHO_EOF) && !echo_has_data(e))
			return ECHO_DONE;
		if (read_total >= budget)
			return ECHO_AGAIN;
	} while (progress);

	/* Drained: hold no memory and no pipe while waiting. */
	if (!echo_has_data(e)) {
		buf_release(&e->e_buf);
		if (e->e_flags & ECHO_PIPED) {
			pipe_pool_put(e->e_pool, e->e_pipe, true, now);
			/* It streamed: take a pipe again when it does. */
			e->e_flags = (e->e_flags & ~ECHO_PIPED) |
			    ECHO_STREAMING;
		}
	}
	return ECHO_WAIT;
}

enum echo_result
echo_flush(struct echo *e, int fd)
{
	while ((e->e_flags & ECHO_PIPED) && e->e_piped > 0) {
		if (!(e->e_flags & ECHO_WRITABLE))
			return ECHO_WAIT;
		if (echo_splice_out(e, fd) == -1)
			return ECHO_ERROR;
	}
	while (!buf_empty(&e->e_buf)) {
		if (!(e->e_flags & ECHO_WRITABLE))
			return ECHO_WAIT;
		if (echo_write(e, fd) == -1)
			return ECHO_ERROR;
	}
	buf_release(&e->e_buf);
	return ECHO_DONE;
}

enum echo_result
echo_discard(struct echo *e, int fd)
{
	char	 sink[DISCARD_CHUNK];
	ssize_t	 n;

	for (;;) {
		n = read(fd, sink, sizeof(sink));
		if (n > 0) {
			e->e_in += (uint64_t)n;
			continue;
		}
		if (n == 0) {
			e->e_flags |= ECHO_EOF;
			return ECHO_DONE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			e->e_flags &= ~(ECHO_READABLE | ECHO_URGENT);
			return ECHO_WAIT;
		}
		return ECHO_ERROR;
	}
}

void
echo_release(struct echo *e, uint64_t now)
{
	buf_release(&e->e_buf);
	if (e->e_flags & ECHO_PIPED) {
		pipe_pool_put(e->e_pool, e->e_pipe, e->e_piped == 0, now);
		e->e_flags &= ~ECHO_PIPED;
		e->e_piped = 0;
	}
}
