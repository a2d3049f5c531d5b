/*
 * Stream mode: standard input to the server, its echo to standard output.
 */
#ifndef ECHO_CLIENT_STREAM_H
#define ECHO_CLIENT_STREAM_H

#include "client.h"
#include "net.h"

/*
 * Copy stdin to the connected socket fd and the echo to stdout until
 * stdin ends and the server has sent everything back and closed.  Waits
 * on stdin, stdout and the socket at once, so a server that closes or
 * resets is noticed at once, and reads while it writes, so input larger
 * than the socket buffers cannot deadlock.  At end of input it half-closes
 * (shutdown SHUT_WR) and reads on until the server's EOF.
 *
 * Returns a CLIENT_EXIT_* code after saying why on stderr if not 0.
 * Does not close fd.
 */
int	stream_run(int fd, const struct client_opts *, const struct net_peer *);

#endif
