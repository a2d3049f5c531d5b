/*
 * Name resolution, connecting with a deadline, and turning socket
 * errors into messages and exit codes.
 */
#ifndef ECHO_CLIENT_NET_H
#define ECHO_CLIENT_NET_H

#include <stdint.h>

#include "client.h"

struct net_peer {
	char		 np_addr[64];	/* "192.0.2.1:7" or "[2001:db8::1]:7" */
	uint64_t	 np_connect_us;	/* how long the handshake took */
};

/*
 * Resolve o->co_host and connect to each of its addresses in turn, each
 * attempt bounded by o->co_timeout_ms (0: the kernel's own limit).  A
 * SIGQUIT while connecting prints progress and the wait goes on; connect
 * is never restarted.
 *
 * Returns a connected, non-blocking socket and fills *peer.  Returns -1
 * after saying why on stderr, with *code set to a CLIENT_EXIT_* value, or
 * with *code = -1 if a stop signal (client_stop_signal) interrupted.
 */
int	net_connect(const struct client_opts *, struct net_peer *, int *code);

/*
 * UDP: resolve o->co_host and connect a datagram socket to the first of
 * its addresses that has a route.  Returns the non-blocking socket and
 * fills *peer (np_connect_us 0), or -1 after saying why on stderr, with
 * *code set to a CLIENT_EXIT_* value.
 */
int	net_udp_open(const struct client_opts *, struct net_peer *, int *code);

/*
 * Report the socket error 'err' (an errno value) that ended the
 * connection to peer after 'sent' bytes, of which 'echoed' came back,
 * and return the exit code for it.
 */
int	net_fail(int err, const char *peer, uint64_t sent, uint64_t echoed);

/*
 * The pending error of socket fd (SO_ERROR), which also clears it:
 * 0 if there is none.
 */
int	net_pending_error(int fd);

#endif
