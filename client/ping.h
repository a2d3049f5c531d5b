/*
 * Ping mode: numbered messages, their round-trip times and a summary.
 */
#ifndef ECHO_CLIENT_PING_H
#define ECHO_CLIENT_PING_H

#include "client.h"
#include "net.h"

/*
 * Send o->co_count messages (0: until SIGINT or SIGTERM) of o->co_size
 * bytes over the connected socket fd, one at a time, o->co_interval_ms
 * apart.  Each carries its sequence number, and its echo is checked byte
 * for byte.  Prints a line per reply (unless o->co_quiet) and a ping(8)
 * style summary on stdout.
 *
 * Returns CLIENT_EXIT_OK if every message came back intact within
 * o->co_timeout_ms; CLIENT_EXIT_TIMEOUT if none came back in time and
 * none came back wrong; CLIENT_EXIT_FAILURE on any other loss or
 * corruption; the connection's CLIENT_EXIT_* code if it failed.  Does not
 * close fd.
 */
int	ping_run(int fd, const struct client_opts *, const struct net_peer *);

/*
 * Message 'seq' of 'size' bytes: a printable line that names its
 * sequence number ("echo-client seq=N ", as far as size allows), so a
 * capture shows which message it is, and whose filler shifts with the
 * number, so a reply to the wrong message is caught whatever the size.
 * UDP mode sends the same.
 */
void	ping_fill(char *buf, uint64_t size, uint64_t seq);

/* sqrt by Newton's method: libm would be the client's only other need. */
double	ping_sqrt(double x);

#endif
