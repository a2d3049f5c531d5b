/*
 * The master process: spawns, reaps and respawns workers, reloads the
 * configuration, replaces its own program (a live upgrade) and shuts the
 * service down.  It does no I/O on connections.
 */
#ifndef ECHOD_MASTER_H
#define ECHOD_MASTER_H

#include <stddef.h>

#include "config.h"
#include "handover.h"
#include "listen.h"

/*
 * What a program exec'd in place of a master got (upgrade.h): the
 * hand-over, read, and its descriptors.
 */
struct master_takeover {
	const struct handover	*mt_handover;
	int			 mt_handover_fd;
	int			 mt_fallback;	/* the old program, or -1 */
	/*
	 * NULL: an upgrade, the new program takes over.  Else a rollback
	 * to the old program, which resumes as it was; why the new one
	 * could not take over.
	 */
	const char		*mt_refused;
};

/*
 * Whether a master with 'cfg' can adopt what 'h' hands over: the shared
 * memory's layout is this program's, every listener is a socket of its
 * kind, and the slots hold a new generation beside the workers that stay.
 * 0, or -1 with the reason in err.  Touches nothing.
 */
int	master_can_adopt(const struct handover *h,
	    const struct echod_config *cfg, char *err, size_t errlen);

/*
 * Run until SIGTERM or SIGINT.  'cfg' and 'listeners' become the
 * master's.  'takeover' is NULL for a fresh start; else the master
 * adopts the workers, memory and sockets handed over (listeners is then
 * the hand-over's set), and, should that fail before anything changed,
 * execs the old program back (upgrade_rollback()).  Returns the process
 * exit status: 0 after a clean stop.
 */
int	master_run(const char *config_path, const struct echod_config *cfg,
	    struct listen_set *listeners,
	    const struct master_takeover *takeover);

#endif
