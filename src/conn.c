/*
 * The echo path of one connection.
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

struct conn *
conn_new(int fd)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_fd = fd;
	return c;
}

void
conn_on_events(struct conn *c, uint32_t events)
{
	/* Errors and hang-ups surface through the next read or write. */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->c_flags |= CONN_READABLE;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->c_flags |= CONN_RDHUP;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->c_flags |= CONN_WRITABLE;
}

/* Read once.  Returns bytes read, 0 when nothing was, -1 on error. */
static ssize_t
conn_read(struct conn *c, uint32_t bufsize)
{
	struct iovec	 iov[2];
	size_t		 want;
	ssize_t		 n;
	int		 cnt;

	if (buf_reserve(&c->c_buf, bufsize) == -1)
		return -1;
	cnt = buf_space(&c->c_buf, iov);
	want = iov[0].iov_len + (cnt == 2 ? iov[1].iov_len : 0);
	do
		n = readv(c->c_fd, iov, cnt);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		buf_produce(&c->c_buf, (size_t)n);
		/*
		 * A short read drained the socket: wait for the next edge
		 * instead of paying for a read that says EAGAIN.  Once the
		 * FIN is in, no edge will come: read on until 0.
		 */
		if ((size_t)n < want && !(c->c_flags & CONN_RDHUP))
			c->c_flags &= ~CONN_READABLE;
		return n;
	}
	if (n == 0) {
		c->c_flags |= CONN_EOF;
		c->c_flags &= ~CONN_READABLE;
		return 0;
	}
	if (errno == EAGAIN) {
		c->c_flags &= ~CONN_READABLE;
		return 0;
	}
	return -1;
}

/* Write once.  Returns bytes written, 0 when none could be, -1 on error. */
static ssize_t
conn_write(struct conn *c)
{
	struct iovec	 iov[2];
	struct msghdr	 msg = { .msg_iov = iov };
	size_t		 want;
	ssize_t		 n;

	msg.msg_iovlen = (size_t)buf_data(&c->c_buf, iov);
	want = iov[0].iov_len + (msg.msg_iovlen == 2 ? iov[1].iov_len : 0);
	do
		n = sendmsg(c->c_fd, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n >= 0) {
		buf_consume(&c->c_buf, (size_t)n);
		c->c_bytes += (uint64_t)n;
		if ((size_t)n < want)
			c->c_flags &= ~CONN_WRITABLE;	/* socket buffer full */
		return n;
	}
	if (errno == EAGAIN) {
		c->c_flags &= ~CONN_WRITABLE;
		return 0;
	}
	return -1;
}

enum conn_result
conn_echo(struct conn *c, uint32_t bufsize, size_t budget, size_t *moved,
    const char **why)
{
	size_t	 read_total = 0;
	ssize_t	 n;
	bool	 progress;

	*moved = 0;
	do {
		progress = false;
		if ((c->c_flags & (CONN_READABLE | CONN_EOF)) ==
		    CONN_READABLE && !buf_full(&c->c_buf)) {
			if ((n = conn_read(c, bufsize)) == -1)
				goto fail;
			read_total += (size_t)n;
			*moved += (size_t)n;
			progress = n > 0;
		}
		if ((c->c_flags & CONN_WRITABLE) && !buf_empty(&c->c_buf)) {
			if ((n = conn_write(c)) == -1)
				goto fail;
			*moved += (size_t)n;
			progress = progress || n > 0;
		}
		if ((c->c_flags & CONN_EOF) && buf_empty(&c->c_buf)) {
			*why = "closed by client";
			return CONN_DONE;
		}
		if (read_total >= budget)
			return CONN_AGAIN;
	} while (progress);

	if (buf_empty(&c->c_buf))
		buf_release(&c->c_buf);
	return CONN_WAIT;
fail:
	*why = strerror(errno);
	return CONN_DONE;
}

void
conn_free(struct conn *c)
{
	if (c->c_fd != -1)
		close(c->c_fd);
	buf_release(&c->c_buf);
	free(c->c_peer);
	free(c);
}
