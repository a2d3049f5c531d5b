/*
 * Listening sockets: taken from systemd (socket activation) or bound
 * from the config's listen addresses.
 */
#ifndef ECHOD_LISTEN_H
#define ECHOD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct listener {
	int			 l_fd;
	char			 l_name[72];	/* "127.0.0.1:7007" */
	struct listen_addr	 l_addr;	/* bound ones only */
};

struct listen_set {
	struct listener		 ls[ECHOD_MAX_LISTEN];
	size_t			 n;
	bool			 passed;	/* from systemd */
};

/*
 * Take the sockets systemd passed (checking that each is a listening
 * stream socket), or else bind every address in cfg->listen.  Sets the
 * config's socket options on them; accepted sockets inherit those.
 * Returns 0, or -1 with the reason in err and nothing left open.
 */
int	listen_acquire(const struct echod_config *, struct listen_set *,
	    char *err, size_t errlen);

/*
 * Reload from 'old' to 'cfg': make *set match cfg, keeping sockets whose
 * address stays (with cfg's backlog and options), binding new ones and
 * closing the ones that went.  Passed sockets are kept and only get
 * cfg's options.  Returns 0, or -1 with err, and then every socket is
 * as it was: new ones closed, kept ones back to old's settings.
 */
int	listen_update(struct listen_set *, const struct echod_config *old,
	    const struct echod_config *cfg, char *err, size_t errlen);

void	listen_close(struct listen_set *);
/* Close the sockets echod bound itself; passed ones stay open. */
void	listen_close_bound(struct listen_set *);

#endif
