/*
 * Listening sockets: taken from systemd (socket activation) or bound
 * from the config's listen addresses, each of one kind.
 */
#ifndef ECHOD_LISTEN_H
#define ECHOD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

enum listen_kind {
	LISTEN_ECHO,		/* TCP echo: [server] listen */
	LISTEN_UDP,		/* UDP echo: [udp] listen */
	LISTEN_METRICS,		/* HTTP metrics and health: [metrics] */
	LISTEN_PROXY,		/* TCP echo behind a PROXY header: [proxy] */
	LISTEN_KINDS
};

#define LISTEN_MAX	(ECHOD_MAX_LISTEN * LISTEN_KINDS)

struct listener {
	int			 l_fd;
	enum listen_kind	 l_kind;
	char			 l_name[72];	/* "127.0.0.1:7007" */
	struct listen_addr	 l_addr;	/* bound ones only */
};

struct listen_set {
	struct listener		 ls[LISTEN_MAX];
	size_t			 n;
	bool			 passed;	/* from systemd */
};

/* "echo", "udp", "metrics" or "proxy". */
const char *listen_kind_name(enum listen_kind);

/*
 * Take the sockets systemd passed, or else bind every address the config
 * lists for each kind.  Passed sockets are told apart by their
 * FileDescriptorName= ("metrics", "proxy") or else by type (stream: echo,
 * datagram: UDP echo); each is checked to be what its kind needs.  When
 * systemd passes sockets, echod binds none itself.  Sets each kind's
 * socket options (accepted sockets inherit them).  Returns 0, or -1 with
 * the reason in err and nothing left open.
 */
int	listen_acquire(const struct echod_config *, struct listen_set *,
	    char *err, size_t errlen);

/*
 * Reload from 'old' to 'cfg': make *set match cfg, keeping sockets whose
 * kind and address stay (with cfg's backlog and options), binding new
 * ones and closing the ones that went.  Passed sockets are kept and only
 * get cfg's options.  Returns 0, or -1 with err, and then every socket
 * is as it was: new ones closed, kept ones back to old's settings.
 */
int	listen_update(struct listen_set *, const struct echod_config *old,
	    const struct echod_config *cfg, char *err, size_t errlen);

void	listen_close(struct listen_set *);
/*
 * A stop begins: close the serving sockets echod bound itself, so new
 * clients are refused.  Passed ones stay open (they queue for the next
 * start), and so do metrics sockets (health checks follow the stop).
 */
void	listen_close_bound(struct listen_set *);
/* How many sockets of a kind the set holds. */
size_t	listen_count(const struct listen_set *, enum listen_kind);

#endif
