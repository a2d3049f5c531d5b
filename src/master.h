/*
 * The master process: spawns, reaps and respawns workers, reloads the
 * configuration and shuts the service down.  It does no I/O on
 * connections.
 */
#ifndef ECHOD_MASTER_H
#define ECHOD_MASTER_H

#include "config.h"
#include "listen.h"

/*
 * Run until SIGTERM or SIGINT.  'cfg' and 'listeners' become the
 * master's.  Returns the process exit status: 0 after a clean stop.
 */
int	master_run(const char *config_path, const struct echod_config *cfg,
	    struct listen_set *listeners);

#endif
