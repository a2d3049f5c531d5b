/*
 * The echo data path of one stream: read into a bounded ring buffer,
 * write it back, with back-pressure.  No knowledge of workers or
 * epoll: it is driven by what the event loop last reported, so it can be
 * tested over a socketpair.
 *
 * The socket is watched edge-triggered for reading and writing once;
 * e_flags remembers what the kernel last said is possible, so nothing
 * is re-armed per event.
 */
#ifndef ECHOD_ECHO_H
#define ECHOD_ECHO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ECHO_READABLE	0x01
#define ECHO_WRITABLE	0x02
#define ECHO_EOF	0x04	/* read returned 0: the peer half-closed */
#define ECHO_FIN_IN	0x08	/* the FIN has arrived: no edge will follow */
#define ECHO_URGENT	0x10	/* urgent data: reads stop short at the mark */

struct echo {
	struct buf	 e_buf;
	uint32_t	 e_flags;
	uint64_t	 e_in;		/* bytes read */
	uint64_t	 e_out;		/* bytes written back */
};

enum echo_result {
	ECHO_WAIT,	/* nothing more to do until the next event */
	ECHO_AGAIN,	/* budget used up: call again soon */
	ECHO_DONE,	/* the peer half-closed and got everything back */
	ECHO_ERROR,	/* a read or write failed: errno says why */
};

/* Note what the event loop reported (EV_* bits of event.h). */
void		 echo_note(struct echo *, unsigned what);

/*
 * Move data on fd: read while the buffer has room, write while the
 * socket takes it, until neither can progress or 'budget' bytes were
 * read.  The buffer (bufsize bytes) is allocated when data comes and
 * released when it drains, so an idle stream holds no memory.  *moved
 * gets the bytes read plus written.
 */
enum echo_result echo_run(struct echo *, int fd, uint32_t bufsize,
		    size_t budget, size_t *moved);

/*
 * Write what is buffered, never reading more: for a stream being ended.
 * Returns ECHO_DONE once the buffer is empty, ECHO_WAIT while the socket
 * is full, ECHO_ERROR on failure.
 */
enum echo_result echo_flush(struct echo *, int fd);

/*
 * Read and throw away what the peer sends, until the socket is empty:
 * for a stream we have half-closed.  Returns ECHO_DONE at the peer's
 * FIN, ECHO_WAIT when nothing is left to read, ECHO_ERROR on failure.
 */
enum echo_result echo_discard(struct echo *, int fd);

/* Free the buffer. */
void		 echo_release(struct echo *);

#endif
