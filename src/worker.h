/*
 * A worker process: one epoll loop serving many connections.
 */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <stdint.h>

#include "config.h"
#include "listen.h"
#include "shared.h"

struct worker_args {
	const struct echod_config *cfg;
	const struct listen_set	*listeners;
	unsigned		 index;		/* "worker N" in logs */
	unsigned		 gen;		/* configuration generation */
	uint32_t		 slot;		/* in the master's table */
	struct shared		*shared;	/* stats of every worker */
	int			 lifeline_fd;	/* EOF: the master is gone */
	int			 ready_fd;	/* the slot goes here once serving */
	int			 master_fds[3];	/* to close; -1 for none */
};

/*
 * Run a worker in a freshly forked child; never returns.  Exit status 0
 * after a drain, 1 when it could not set itself up.
 *
 * Signals: SIGTERM stops it (close the listening sockets, close idle
 * connections, finish the others within shutdown_timeout); SIGUSR1
 * retires it after a reload (stop accepting, let every connection end
 * by itself).
 */
void	worker_run(const struct worker_args *) __attribute__((noreturn));

#endif
