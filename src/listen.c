/*
 * Listening sockets: socket activation or our own bind().
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "listen.h"
#include "sockopt.h"

static const char *const kind_names[LISTEN_KINDS] = {
	[LISTEN_ECHO] = "echo",
	[LISTEN_UDP] = "udp",
	[LISTEN_METRICS] = "metrics",
	[LISTEN_PROXY] = "proxy",
};

const char *
listen_kind_name(enum listen_kind kind)
{
	return kind_names[kind];
}

/* The config's addresses for a kind. */
static const struct listen_list *
listen_list_of(const struct echod_config *cfg, enum listen_kind kind)
{
	switch (kind) {
	case LISTEN_ECHO:
		return &cfg->listen;
	case LISTEN_UDP:
		return &cfg->udp_listen;
	case LISTEN_METRICS:
		return &cfg->metrics_listen;
	case LISTEN_PROXY:
	default:
		return &cfg->proxy_listen;
	}
}

/* The options a kind's socket needs, from cfg. */
static int
listen_set_options(const struct listener *l, const struct echod_config *cfg,
    char *err, size_t errlen)
{
	int	 rc = 0;

	switch (l->l_kind) {
	case LISTEN_ECHO:
	case LISTEN_PROXY:
		rc = sockopt_set_stream(l->l_fd, cfg);
		break;
	case LISTEN_UDP:
		rc = sockopt_set_dgram(l->l_fd);
		break;
	case LISTEN_METRICS:
	case LISTEN_KINDS:
		break;
	}
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "%s socket %s: cannot set socket options: %s",
	    kind_names[l->l_kind], l->l_name, strerror(errno));
	return -1;
}

static int
listen_bind(struct listener *l, enum listen_kind kind,
    const struct listen_addr *la, const struct echod_config *cfg, char *err,
    size_t errlen)
{
	int	 fd, family = la->la_addr.ss_family;
	int	 type = kind == LISTEN_UDP ? SOCK_DGRAM : SOCK_STREAM;

	l->l_kind = kind;
	l->l_addr = *la;
	snprintf(l->l_name, sizeof(l->l_name), "%s", la->la_text);
	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (sockopt_prepare_bind(fd, family) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&la->la_addr, la->la_len) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, (int)cfg->backlog) == -1)
		goto fail;
	l->l_fd = fd;
	if (listen_set_options(l, cfg, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	return 0;
fail:
	if (kind == LISTEN_ECHO)
		snprintf(err, errlen, "cannot listen on %s: %s", la->la_text,
		    strerror(errno));
	else
		snprintf(err, errlen, "cannot %s on %s ([%s] listen): %s",
		    type == SOCK_DGRAM ? "bind" : "listen", la->la_text,
		    kind_names[kind], strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/* What a socket systemd passed is for, or -1 (err says why). */
static int
listen_classify(int fd, const char *name, char *err, size_t errlen)
{
	enum listen_kind kind;

	if (strcmp(name, "metrics") == 0 || strcmp(name, "proxy") == 0) {
		kind = name[0] == 'm' ? LISTEN_METRICS : LISTEN_PROXY;
		if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0)
			return (int)kind;
		snprintf(err, errlen, "file descriptor %d passed by systemd "
		    "as \"%s\" is not a listening TCP socket; check its "
		    ".socket unit (ListenStream=, Accept=no)", fd, name);
		return -1;
	}
	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
		return LISTEN_ECHO;
	if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_DGRAM, -1, 0) > 0)
		return LISTEN_UDP;
	snprintf(err, errlen, "file descriptor %d passed by systemd is not "
	    "a listening stream socket or a UDP socket; check the .socket "
	    "unit (ListenStream= or ListenDatagram=, Accept=no)", fd);
	return -1;
}

static int
listen_passed(int n, char **names, const struct echod_config *cfg,
    struct listen_set *set, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct listener		*l;
	int			 i, fd, flags, kind;

	if (n > LISTEN_MAX) {
		snprintf(err, errlen, "systemd passed %d sockets; echod takes "
		    "at most %d", n, LISTEN_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if ((kind = listen_classify(fd, names && names[i] ? names[i] :
		    "", err, errlen)) == -1)
			return -1;
		l = &set->ls[i];
		l->l_fd = fd;
		l->l_kind = (enum listen_kind)kind;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			addr_format((struct sockaddr *)&ss, l->l_name,
			    sizeof(l->l_name));
	}
	for (i = 0; i < n; i++) {
		l = &set->ls[i];
		if ((flags = fcntl(l->l_fd, F_GETFL)) == -1 ||
		    fcntl(l->l_fd, F_SETFL, flags | O_NONBLOCK) == -1) {
			snprintf(err, errlen, "passed socket %d: %s", l->l_fd,
			    strerror(errno));
			return -1;
		}
		if (listen_set_options(l, cfg, err, errlen) == -1)
			return -1;
	}
	set->n = (size_t)n;
	set->passed = true;
	return 0;
}

int
listen_acquire(const struct echod_config *cfg, struct listen_set *set,
    char *err, size_t errlen)
{
	const char		*pid = getenv("LISTEN_PID");
	const char		*fds = getenv("LISTEN_FDS");
	const struct listen_list *ll;
	char			 env[96], **names = NULL;
	size_t			 i;
	int			 n, rc, kind;

	memset(set, 0, sizeof(*set));
	snprintf(env, sizeof(env), "LISTEN_PID=%.32s LISTEN_FDS=%.32s",
	    pid ? pid : "(unset)", fds ? fds : "(unset)");
	/* Unset LISTEN_* so the workers do not try to take them again. */
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		snprintf(err, errlen, "invalid socket activation environment "
		    "(%s): %s", env, strerror(-n));
		return -1;
	}
	if (n > 0) {
		rc = listen_passed(n, names, cfg, set, err, errlen);
		for (i = 0; names != NULL && names[i] != NULL; i++)
			free(names[i]);
		free(names);
		return rc;
	}
	free(names);

	for (kind = 0; kind < LISTEN_KINDS; kind++) {
		ll = listen_list_of(cfg, (enum listen_kind)kind);
		for (i = 0; i < ll->ll_n; i++) {
			if (listen_bind(&set->ls[set->n],
			    (enum listen_kind)kind, &ll->ll_addr[i], cfg, err,
			    errlen) == -1) {
				listen_close(set);
				return -1;
			}
			set->n++;
		}
	}
	return 0;
}

static struct listener *
listen_find(struct listen_set *set, enum listen_kind kind,
    const struct listen_addr *la)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		if (set->ls[i].l_kind == kind &&
		    set->ls[i].l_addr.la_len == la->la_len &&
		    memcmp(&set->ls[i].l_addr.la_addr, &la->la_addr,
		    la->la_len) == 0)
			return &set->ls[i];
	return NULL;
}

/* Backlog and options of a kept socket, from cfg. */
static int
listen_apply(struct listener *l, const struct echod_config *cfg, bool passed,
    char *err, size_t errlen)
{
	/* listen() again only changes the backlog. */
	if (!passed && l->l_kind != LISTEN_UDP &&
	    listen(l->l_fd, (int)cfg->backlog) == -1) {
		snprintf(err, errlen, "%s: cannot change the backlog: %s",
		    l->l_name, strerror(errno));
		return -1;
	}
	return listen_set_options(l, cfg, err, errlen);
}

/* Whether l of the next set was in *set before. */
static bool
listen_was_kept(struct listen_set *set, const struct listener *l)
{
	return set->passed || listen_find(set, l->l_kind, &l->l_addr) != NULL;
}

int
listen_update(struct listen_set *set, const struct echod_config *old,
    const struct echod_config *cfg, char *err, size_t errlen)
{
	static struct listen_set next;	/* large: keep it off the stack */
	const struct listen_list *ll;
	struct listener		*l;
	bool			 kept[LISTEN_MAX] = { false };
	char			 ignored[128];
	size_t			 i, applied = 0;
	int			 kind;

	/*
	 * Bind what is new first: binding is what fails in practice
	 * (address in use), and until it succeeded nothing running was
	 * touched.  Sockets from systemd are all kept.
	 */
	memset(&next, 0, sizeof(next));
	if (set->passed)
		next = *set;
	else
		for (kind = 0; kind < LISTEN_KINDS; kind++) {
			ll = listen_list_of(cfg, (enum listen_kind)kind);
			for (i = 0; i < ll->ll_n; i++) {
				l = listen_find(set, (enum listen_kind)kind,
				    &ll->ll_addr[i]);
				if (l != NULL) {
					next.ls[next.n] = *l;
					kept[l - set->ls] = true;
				} else if (listen_bind(&next.ls[next.n],
				    (enum listen_kind)kind, &ll->ll_addr[i],
				    cfg, err, errlen) == -1)
					goto fail;
				next.n++;
			}
		}
	for (i = 0; i < next.n; i++) {
		if (!listen_was_kept(set, &next.ls[i]))
			continue;	/* new: bound with cfg already */
		if (listen_apply(&next.ls[i], cfg, set->passed, err, errlen)
		    == -1)
			goto undo;
		applied = i + 1;
	}
	for (i = 0; i < set->n; i++)
		if (!set->passed && !kept[i])
			close(set->ls[i].l_fd);
	*set = next;
	return 0;
undo:
	/* Put back what the running configuration had set. */
	for (i = 0; i < applied; i++)
		if (listen_was_kept(set, &next.ls[i]))
			(void)listen_apply(&next.ls[i], old, set->passed,
			    ignored, sizeof(ignored));
fail:
	/* Close only what this call opened. */
	for (i = 0; i < next.n; i++)
		if (!listen_was_kept(set, &next.ls[i]))
			close(next.ls[i].l_fd);
	return -1;
}

void
listen_close(struct listen_set *set)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		close(set->ls[i].l_fd);
	set->n = 0;
}

void
listen_close_bound(struct listen_set *set)
{
	size_t	 i, n = 0;

	if (set->passed)
		return;
	for (i = 0; i < set->n; i++) {
		if (set->ls[i].l_kind == LISTEN_METRICS)
			set->ls[n++] = set->ls[i];
		else
			close(set->ls[i].l_fd);
	}
	set->n = n;
}

size_t
listen_count(const struct listen_set *set, enum listen_kind kind)
{
	size_t	 i, n = 0;

	for (i = 0; i < set->n; i++)
		n += set->ls[i].l_kind == kind;
	return n;
}
