/*
 * Socket options, in one place: what listening sockets get (and accepted
 * ones inherit), and the check that they did.
 */
#ifndef ECHOD_SOCKOPT_H
#define ECHOD_SOCKOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* setsockopt()/getsockopt() of one int.  0 or -1 (errno); get: -1. */
int	sockopt_set_int(int fd, int level, int name, int value);
int	sockopt_get_int(int fd, int level, int name);

/*
 * Before bind(): SO_REUSEADDR, and IPV6_V6ONLY on IPv6 so [::] does not
 * also take the IPv4 port.  0, or -1 with errno.
 */
int	sockopt_prepare_bind(int fd, int family);

/*
 * The options of echo connections: TCP_NODELAY, SO_OOBINLINE (urgent
 * bytes stay in the stream and are echoed) and keepalive per the
 * config.  Set on listeners, whose accepted sockets inherit them on
 * Linux.  Sockets other than TCP over IP are left alone.  0, or -1 with
 * errno.
 */
int	sockopt_set_stream(int fd, const struct echod_config *);

/*
 * UDP echo sockets: report each datagram's destination address and
 * arrival interface (IP_PKTINFO, IPV6_RECVPKTINFO; both on a dual-stack
 * IPv6 socket), so the answer leaves from the address the request was
 * sent to; SO_BROADCAST off and no multicast delivered.  0, or -1 with
 * errno.
 */
int	sockopt_set_dgram(int fd);

/* Whether an accepted socket carries every option sockopt_set_stream()
 * sets, with the config's values. */
bool	sockopt_has_stream(int fd, const struct echod_config *);

#endif
