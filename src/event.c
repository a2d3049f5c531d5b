/*
 * epoll, thinly wrapped.
 */
#include "autoconf.h"

#include <errno.h>
#include <stddef.h>

#include "event.h"

int
event_open(void)
{
	return epoll_create1(EPOLL_CLOEXEC);
}

int
event_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event	 ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int
event_del(int ep, int fd)
{
	return epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

int
event_wait(int ep, struct epoll_event *evs, int max, int timeout_ms)
{
	int	 n = epoll_wait(ep, evs, max, timeout_ms);

	return n == -1 && errno == EINTR ? 0 : n;
}
