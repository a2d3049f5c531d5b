/*
 * One client connection: echo with a bounded buffer and back-pressure.
 *
 * The socket is registered edge-triggered for reading and writing once;
 * c_flags remembers what the kernel last said is possible, so no
 * epoll_ctl() is needed per event.
 */
#ifndef ECHOD_CONN_H
#define ECHOD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "timer.h"

#define CONN_READABLE	0x01
#define CONN_WRITABLE	0x02
#define CONN_EOF	0x04	/* the client half-closed */
#define CONN_BUSY	0x08	/* on the worker's busy list */
#define CONN_RDHUP	0x10	/* the FIN has arrived: no edge will follow */
#define CONN_COUNTED	0x20	/* counted in the per-source table */

struct conn {
	int		 c_fd;
	uint32_t	 c_flags;
	struct buf	 c_buf;
	struct idle_node c_idle;
	struct conn	*c_busy_next;
	char		*c_peer;	/* only when connections are logged */
	uint8_t		 c_src[16];	/* source, for max_connections_per_ip */
	uint64_t	 c_bytes;	/* echoed so far */
};

enum conn_result {
	CONN_WAIT,	/* nothing more to do until the next event */
	CONN_AGAIN,	/* budget used up; call conn_echo() again soon */
	CONN_DONE,	/* close it: *why says why */
};

/* A connection for an accepted socket, or NULL (ENOMEM). */
struct conn	*conn_new(int fd);
/* Note an epoll event mask. */
void		 conn_on_events(struct conn *, uint32_t events);
/*
 * Move data: read while there is room, write while the socket takes it,
 * until neither can progress or 'budget' bytes were read.  *moved gets
 * the bytes read plus written.  A full buffer stops reading
 * (back-pressure); an empty one is released.
 */
enum conn_result conn_echo(struct conn *, uint32_t bufsize, size_t budget,
		    size_t *moved, const char **why);
/* Close the socket (unless c_fd is -1) and free everything. */
void		 conn_free(struct conn *);

#endif
