/*
 * The event loop on epoll.
 */
#include "autoconf.h"

#include <sys/epoll.h>

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#include "event.h"
#include "timer.h"

#define EVENT_BATCH	256

int
event_loop_open(struct event_loop *loop, void *owner)
{
	loop->el_owner = owner;
	loop->el_now = timer_now_ms();
	loop->el_fd = epoll_create1(EPOLL_CLOEXEC);
	return loop->el_fd == -1 ? -1 : 0;
}

void
event_loop_close(struct event_loop *loop)
{
	if (loop->el_fd != -1)
		close(loop->el_fd);
	loop->el_fd = -1;
}

void
event_set(struct event *ev, int fd, event_handler *handler)
{
	ev->ev_handler = handler;
	ev->ev_fd = fd;
	ev->ev_added = false;
}

static uint32_t
event_bits(unsigned how)
{
	uint32_t	 e = 0;

	if (how & EV_WANT_READ)
		e |= EPOLLIN;
	if (how & EV_WANT_WRITE)
		e |= EPOLLOUT;
	if (how & EV_WANT_ALL)
		e |= EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI;
	if (how & EV_WANT_STREAM)
		e |= EPOLLIN | EPOLLRDHUP | EPOLLPRI;
	if (how & EV_EDGE)
		e |= EPOLLET;
	if (how & EV_EXCLUSIVE)
		e |= EPOLLEXCLUSIVE;
	return e;
}

int
event_mod(struct event_loop *loop, struct event *ev, unsigned how)
{
	struct epoll_event	 ee = { .events = event_bits(how),
				    .data.ptr = ev };

	/* MOD reports what is ready now: no edge is lost. */
	return epoll_ctl(loop->el_fd, EPOLL_CTL_MOD, ev->ev_fd, &ee);
}

int
event_add(struct event_loop *loop, struct event *ev, unsigned how)
{
	struct epoll_event	 ee = { .events = event_bits(how),
				    .data.ptr = ev };

	if (epoll_ctl(loop->el_fd, EPOLL_CTL_ADD, ev->ev_fd, &ee) == -1) {
		/* Still registered from before (a DEL failed): so be it. */
		if (errno != EEXIST)
			return -1;
	}
	ev->ev_added = true;
	return 0;
}

int
event_del(struct event_loop *loop, struct event *ev)
{
	if (!ev->ev_added)
		return 0;
	/* A failed DEL leaves the registration, and so the flag. */
	if (epoll_ctl(loop->el_fd, EPOLL_CTL_DEL, ev->ev_fd, NULL) == -1 &&
	    errno != ENOENT && errno != EBADF)
		return -1;
	ev->ev_added = false;
	return 0;
}

void
event_forget(struct event *ev)
{
	ev->ev_added = false;
}

static unsigned
event_what(uint32_t e)
{
	unsigned	 what = 0;

	if (e & EPOLLIN)
		what |= EV_READ;
	if (e & EPOLLOUT)
		what |= EV_WRITE;
	if (e & EPOLLRDHUP)
		what |= EV_PEER_CLOSED;
	if (e & EPOLLPRI)
		what |= EV_URGENT;
	if (e & (EPOLLERR | EPOLLHUP))
		what |= EV_ERROR;
	return what;
}

int
event_dispatch(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event	 evs[EVENT_BATCH];
	struct event		*ev;
	int			 i, n;

	n = epoll_wait(loop->el_fd, evs, EVENT_BATCH, timeout_ms);
	loop->el_now = timer_now_ms();
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		ev = evs[i].data.ptr;
		/* Retired by an earlier handler of this batch. */
		if (!ev->ev_added)
			continue;
		ev->ev_handler(loop, ev, event_what(evs[i].events));
	}
	return n;
}
