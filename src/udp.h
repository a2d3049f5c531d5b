/*
 * UDP echo in a worker (RFC 862: "When a datagram is received, the data
 * from it is sent back in an answering datagram").
 *
 * Every worker reads every UDP socket, registered with EV_EXCLUSIVE and
 * level-triggered, so that a datagram wakes one worker and whatever one
 * leaves unread wakes it again.  A wake-up reads at most UDP_TURN
 * datagrams in recvmmsg() batches (fairness with the worker's TCP
 * connections), judges each with the address guards (udp_guard.h) and
 * the rate table (ratelimit.h), and answers those that pass with
 * sendmmsg(), from the address each was sent to.  An answer that would
 * block (a full send buffer) is dropped and counted: a worker never
 * waits on UDP.  Every datagram is counted in the worker's shared stats,
 * every drop by reason; drops are logged once per burst.
 */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "listen.h"
#include "log.h"
#include "udp_guard.h"

struct worker;
struct udp_batch;

#define UDP_BATCH	32	/* datagrams per recvmmsg() */
#define UDP_TURN	64	/* datagrams per wake-up of one socket */
/* Room for the largest datagram: 65,527 bytes over IPv6, 65,507 over
 * IPv4.  A larger one (an IPv6 jumbogram) is dropped, never cut. */
#define UDP_DATAGRAM_MAX 65536

struct udp_socket {
	struct event	 us_ev;		/* first: the loop's handle */
	int		 us_family;	/* of the socket: AF_INET(6) */
	uint16_t	 us_port;	/* its port, network order */
	uint64_t	 us_resume_at;	/* paused after an error; 0: not */
};

struct udp_state {
	struct udp_socket	 ud_s[LISTEN_MAX];
	size_t			 ud_n;		/* 0 once closed */
	struct udp_batch	*ud_batch;	/* NULL without sockets */
	struct udp_ifaces	 ud_ifs;	/* for the guard */
	uint64_t		 ud_ifs_at;	/* when loaded; 0: not yet */
	bool			 ud_ifs_failed;	/* said so once */
	struct log_burst	 ud_burst[UDP_NVERDICTS];
	struct log_burst	 ud_err_burst;
};

/*
 * Take the worker's UDP sockets into its loop, with buffers for
 * datagrams of up to UDP_DATAGRAM_MAX bytes.  A worker without UDP
 * sockets allocates nothing.  Never fatal: without memory for the
 * buffers it logs and serves no UDP.
 */
void		 udp_start(struct worker *);

/*
 * As udp_start(), with room for datagrams of up to 'datagram_max' bytes
 * (1 to UDP_DATAGRAM_MAX): a larger one is dropped as "truncated".  For
 * the unit tests, which have no larger datagram to send.  0, or -1 with
 * errno (ENOMEM, EINVAL).
 */
int		 udp_open(struct worker *, size_t datagram_max);

/*
 * Stop reading UDP for good (a stop or a retirement: there is nothing to
 * drain) and free the buffers.
 */
void		 udp_close(struct worker *);

/*
 * Resume sockets paused after an error and log the end of drop bursts.
 * Returns the next time (ms) this wants to run, or UINT64_MAX.
 */
uint64_t	 udp_tick(struct worker *);

#endif
