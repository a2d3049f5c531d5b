/*
 * The event loop: epoll behind a handler dispatch.
 *
 * Every object a loop watches starts with a struct event, whose handler
 * is called with what happened.  There is one dispatch and no tag
 * ranges: a new kind of socket brings its own handler.  epoll's bits
 * stay inside event.c.
 */
#ifndef ECHOD_EVENT_H
#define ECHOD_EVENT_H

#include <stdbool.h>
#include <stdint.h>

/* What happened, as given to a handler. */
#define EV_READ		0x01	/* readable (or an error to read) */
#define EV_WRITE	0x02	/* writable */
#define EV_PEER_CLOSED	0x04	/* the peer shut down its side: no edge */
				/* will follow for the rest of the input */
#define EV_URGENT	0x08	/* TCP urgent data arrived */
#define EV_ERROR	0x10	/* error or hang-up on the descriptor */

/* How to watch, for event_add(). */
#define EV_WANT_READ	0x0100
#define EV_WANT_WRITE	0x0200
#define EV_WANT_ALL	0x0400	/* read, write, peer closed, urgent */
#define EV_WANT_STREAM	0x2000	/* read, peer closed, urgent: writes are */
				/* assumed possible until one falls short */
#define EV_EDGE		0x0800	/* report changes only (EPOLLET) */
#define EV_EXCLUSIVE	0x1000	/* wake one of the loops sharing the fd */

struct event_loop;
struct event;

typedef void	event_handler(struct event_loop *, struct event *,
		    unsigned what);

/* The first member of every object a loop watches. */
struct event {
	event_handler	*ev_handler;
	int		 ev_fd;
	bool		 ev_added;	/* in the loop's set */
};

struct event_loop {
	int		 el_fd;		/* the epoll instance */
	void		*el_owner;	/* for handlers: the worker */
	uint64_t	 el_now;	/* ms, monotonic: when the last */
					/* wait returned */
};

/* Open a loop (close-on-exec) and set el_now.  0, or -1 with errno. */
int	event_loop_open(struct event_loop *, void *owner);
void	event_loop_close(struct event_loop *);

/* Fill in an event: handler and descriptor; not yet watched. */
void	event_set(struct event *, int fd, event_handler *);

/*
 * Watch ev->ev_fd with 'how' (EV_WANT_* | EV_EDGE | EV_EXCLUSIVE).
 * 0 (also when the fd is in the set already, with its old 'how'), or -1
 * with errno.
 */
int	event_add(struct event_loop *, struct event *, unsigned how);

/* Change what is watched (the same 'how' as event_add).  0, or -1. */
int	event_mod(struct event_loop *, struct event *, unsigned how);

/*
 * Stop watching.  Events for ev already fetched in the current dispatch
 * are dropped, so the caller may retire the object at once; it must
 * keep the memory until event_dispatch() returns.  Harmless when not
 * added.  0, or -1 with errno, and then ev is still watched.
 */
int	event_del(struct event_loop *, struct event *);

/*
 * The descriptor is about to be closed (close() removes it from the
 * set): drop its pending events as event_del() does, without a syscall.
 */
void	event_forget(struct event *);

/*
 * Wait up to timeout_ms (-1: forever), set el_now, and call the handler
 * of each event.  Returns the number of events, 0 on timeout or EINTR, -1 with
 * errno on failure.
 */
int	event_dispatch(struct event_loop *, int timeout_ms);

#endif
