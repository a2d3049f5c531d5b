/*
 * --proxy: the PROXY protocol header (HAProxy's doc/proxy-protocol.txt)
 * a load balancer puts in front of a connection's data, so that a
 * server's PROXY socket can be tried by hand.
 */
#ifndef ECHO_CLIENT_PROXYHDR_H
#define ECHO_CLIENT_PROXYHDR_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define PROXYHDR_MAX	108	/* v1 is at most 107 bytes; v2 here 52 */

/*
 * Write the header of 'version' (1: text, 2: binary, command PROXY over
 * TCP, no TLVs) that names src as the client and dst as the address it
 * connected to into buf, which has room for PROXYHDR_MAX bytes.  Both
 * addresses AF_INET, or both AF_INET6.  Returns the header's length, or
 * 0 when the families differ or are neither.
 */
size_t	proxyhdr_build(int version, const struct sockaddr *src,
	    const struct sockaddr *dst, uint8_t *buf);

/*
 * Send the header of o->co_proxy on the connected, non-blocking socket
 * fd, before any data: the client is o->co_proxy_src if set, else the
 * socket's own address; the destination its peer.  Waits at most
 * o->co_timeout_ms (0: as long as it takes) for room to send it.
 * Returns 0, or a CLIENT_EXIT_* code after saying why on stderr.
 */
int	proxyhdr_send(int fd, const struct client_opts *, const char *peer);

#endif
