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
#define ECHO_URGENT_SEEN 0x20	/* ever: never splice (it stops at marks) */
#define ECHO_STREAMING	0x40	/* big reads: splice once the buffer drains */
#define ECHO_PIPED	0x80	/* e_pipe holds a borrowed pipe */

struct pipe_pool;

/*
 * Two ways to move the data: through e_buf (copying, for small
 * exchanges: one read and one write, no other syscall), or, once a
 * connection streams, through a pipe borrowed from e_pool with splice(2),
 * which copies nothing to user space.  Bytes are never in both: the
 * switch happens only when the one in use is empty, so order holds.
 */
struct echo {
	struct buf	 e_buf;
	uint32_t	 e_flags;
	uint32_t	 e_piped;	/* bytes in the pipe */
	int		 e_pipe[2];	/* with ECHO_PIPED */
	struct pipe_pool *e_pool;	/* NULL: never splice */
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
 * Move data on fd: read while the buffer (or pipe) has room, write while
 * the socket takes it, until neither can progress or 'budget' bytes were
 * read.  The buffer (bufsize bytes) is allocated when data comes and
 * released when it drains, and so is a pipe, so an idle stream holds no
 * memory and no descriptor.  *moved gets the bytes read plus written.
 * 'now' (ms) is for the pipe pool.
 */
enum echo_result echo_run(struct echo *, int fd, uint32_t bufsize,
		    size_t budget, size_t *moved, uint64_t now);

/*
 * Write what is buffered (or piped), never reading more: for a stream
 * being ended.
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

/* Whether echod holds bytes of this stream not yet written back. */
bool		 echo_pending(const struct echo *);

/* Free the buffer and give back the pipe. */
void		 echo_release(struct echo *, uint64_t now);

#endif
