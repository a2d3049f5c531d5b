/*
 * A thin epoll wrapper: nothing echo-specific.
 */
#ifndef ECHOD_EVENT_H
#define ECHOD_EVENT_H

#include <sys/epoll.h>

#include <stdint.h>

/* A new epoll instance (close-on-exec), or -1 with errno. */
int	event_open(void);
/* Watch fd for 'events'; 'data' comes back with each event.  0 or -1. */
int	event_add(int ep, int fd, uint32_t events, uint64_t data);
int	event_del(int ep, int fd);
/* Wait up to timeout_ms (-1: forever); EINTR reads as 0 events. */
int	event_wait(int ep, struct epoll_event *, int max, int timeout_ms);

#endif
