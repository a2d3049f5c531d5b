/*
 * UDP mode (-u): datagrams to an echo service.
 */
#ifndef ECHO_CLIENT_UDP_H
#define ECHO_CLIENT_UDP_H

#include "client.h"
#include "net.h"

/*
 * The largest payload of a datagram to peer: 65507 bytes over IPv4,
 * 65527 over IPv6 (the 16-bit lengths of the headers).
 */
uint64_t udp_max_payload(int family);

/*
 * Ping mode over UDP, like ping(8): a datagram of o->co_size bytes every
 * o->co_interval_ms (0: the next once the last is answered or lost),
 * o->co_count of them (0: until SIGINT or SIGTERM), each carrying its
 * sequence number and checked byte for byte when it comes back.  A
 * datagram not answered within o->co_timeout_ms (0: never) is lost; an
 * answer that comes later is reported as late, a second one as a
 * duplicate.  Prints a line per answer or loss (only the summary with
 * o->co_quiet) and a summary on stdout.
 *
 * Returns CLIENT_EXIT_OK when every datagram came back intact in time;
 * when none did, CLIENT_EXIT_REFUSED if the host said nothing listens
 * (ICMP port unreachable), CLIENT_EXIT_UNREACHABLE if it could not be
 * reached, CLIENT_EXIT_TIMEOUT otherwise; CLIENT_EXIT_FAILURE for any
 * other mix of loss and corruption.  fd is a connected UDP socket; it is
 * not closed.
 */
int	udp_ping(int fd, const struct client_opts *, const struct net_peer *);

/*
 * One-shot mode: standard input, read to its end, goes out as one
 * datagram; its echo is written to standard output and must be the same
 * bytes.  Returns CLIENT_EXIT_OK, CLIENT_EXIT_TIMEOUT when no answer
 * came within o->co_timeout_ms, CLIENT_EXIT_REFUSED or
 * CLIENT_EXIT_UNREACHABLE for an ICMP error, CLIENT_EXIT_FAILURE for an
 * input too large for one datagram, an answer that differs, or an I/O
 * error.
 */
int	udp_once(int fd, const struct client_opts *, const struct net_peer *);

#endif
