/*
 * The echo path of one stream.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "echo.h"
#include "event.h"

#define DISCARD_CHUNK	16384

void
echo_note(struct echo *e, unsigned what)
{
	/* Errors and hang-ups surface through the next read or write. */
	if (what & (EV_READ | EV_PEER_CLOSED | EV_ERROR | EV_URGENT))
		e->e_flags |= ECHO_READABLE;
	if (what & (EV_PEER_CLOSED | EV_ERROR))
		e->e_flags |= ECHO_FIN_IN;
	if (what & EV_URGENT)
		e->e_flags |= ECHO_URGENT;
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

enum echo_result
echo_run(struct echo *e, int fd, uint32_t bufsize, size_t budget,
    size_t *moved)
{
	size_t	 read_total = 0;
	ssize_t	 n;
	bool	 progress;

	*moved = 0;
	do {
		progress = false;
		if ((e->e_flags & (ECHO_READABLE | ECHO_EOF)) ==
		    ECHO_READABLE && !buf_full(&e->e_buf)) {
			if ((n = echo_read(e, fd, bufsize)) == -1)
				return ECHO_ERROR;
			read_total += (size_t)n;
			*moved += (size_t)n;
			progress = n > 0;
		}
		if ((e->e_flags & ECHO_WRITABLE) && !buf_empty(&e->e_buf)) {
			if ((n = echo_write(e, fd)) == -1)
				return ECHO_ERROR;
			*moved += (size_t)n;
			progress = progress || n > 0;
		}
		if ((e->e_flags & ECHO_EOF) && buf_empty(&e->e_buf))
			return ECHO_DONE;
		if (read_total >= budget)
			return ECHO_AGAIN;
	} while (progress);

	if (buf_empty(&e->e_buf))
		buf_release(&e->e_buf);
	return ECHO_WAIT;
}

enum echo_result
echo_flush(struct echo *e, int fd)
{
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
echo_release(struct echo *e)
{
	buf_release(&e->e_buf);
}
