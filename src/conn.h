/*
 * One client connection in a worker, from admission to teardown.
 *
 * States: HEADER (on a PROXY socket, waiting for the PROXY header that
 * names the client), ECHO (serving), ENDING (a stop ends it: what is buffered is
 * still written, nothing more is echoed), LINGER (half-closed by us:
 * input is read and thrown away until the client has everything), and
 * CLOSED (torn down; freed once the current turn of the loop is over,
 * because events for it may still be pending).  conn_close() is the
 * one teardown for every state.
 */
#ifndef ECHOD_CONN_H
#define ECHOD_CONN_H

#include <sys/socket.h>

#include <stdint.h>

#include "echo.h"
#include "event.h"
#include "shared.h"
#include "timer.h"

struct worker;

enum conn_state {
	CONN_HEADER,
	CONN_ECHO,
	CONN_ENDING,
	CONN_LINGER,
	CONN_CLOSED,
};

#define CONN_BUSY	0x01	/* on the worker's busy list */
#define CONN_COUNTED	0x02	/* holds a place in the per-source table */
#define CONN_WATCH_OUT	0x04	/* writability watched too (EPOLLOUT) */

struct conn {
	struct event	 c_ev;		/* first: the loop's handle */
	enum conn_state	 c_state;
	uint32_t	 c_flags;
	struct echo	 c_echo;
	struct timer_node c_timer;	/* in w_header, w_idle, w_ending or */
					/* w_closed, by state */
	struct conn	*c_busy_next;
	char		*c_peer;	/* only when connections are logged */
	char		*c_via;		/* the balancer, behind PROXY: ditto */
	uint8_t		 c_src[16];	/* source, for max_connections_per_ip */
};

/*
 * A connection for an accepted socket, counted in the worker's open
 * connections at once (admission checks the total after).  NULL when
 * out of memory: the caller closes fd.
 */
struct conn	*conn_new(struct worker *, int fd);
/*
 * Start serving an admitted connection: watch it, log it.  0, or -1
 * with errno (the caller then closes it with END_REFUSED_ERROR).
 */
int		 conn_start(struct worker *, struct conn *,
		    const struct sockaddr *peer);
/*
 * A connection on a PROXY socket from a trusted balancer: watch it and
 * wait, up to [proxy] timeout, for the header that names the client.
 * Admission by source then uses that client.  0, or -1 with errno (the
 * caller then closes it with END_REFUSED_ERROR).
 */
int		 conn_start_proxied(struct worker *, struct conn *);
/* Refuse a PROXY connection: PROXY_R_* or PROXY_REFUSED_* says why. */
void		 conn_refuse_proxy(struct worker *, struct conn *, int reason);
/*
 * The one teardown: release descriptor, list membership, per-source
 * place, buffer and counters, and log why.  'detail' (may be NULL)
 * adds to the reason, e.g. strerror() for END_ERROR.  Harmless on a
 * closed connection.
 */
void		 conn_close(struct worker *, struct conn *, enum conn_end,
		    const char *detail);
/*
 * End gracefully: write what is buffered (echo no more), half-close,
 * then linger, reading and dropping input, until the client has
 * acknowledged everything, nothing is unread and it has been quiet for
 * LINGER_QUIET_MS, or it sends its FIN,
 * or the stop's lingering time is over (conn_drain()).
 */
void		 conn_end(struct worker *, struct conn *);

/* Give connections that used up their read budget another turn. */
void		 conn_run_busy(struct worker *);
/* Close connections idle for idle_timeout, and those whose PROXY header
 * is late.  Returns the next expiry (ms), or UINT64_MAX. */
uint64_t	 conn_expire_idle(struct worker *);
/*
 * During a stop: end connections quiet for drain_idle with nothing
 * buffered, end every one once shutdown_timeout has passed, close the
 * ended ones the client is done with, and close what still lingers
 * WORKER_LINGER_MS after shutdown_timeout.
 */
void		 conn_drain(struct worker *);
/* Free what conn_close() retired in this turn of the loop. */
void		 conn_free_closed(struct worker *);

/* "max_connections", ...: the metrics label of an end. */
const char	*conn_end_label(enum conn_end);
/* "untrusted", "timeout", "v1_syntax", ...: of a PROXY refusal. */
const char	*conn_proxy_label(int reason);

#endif
