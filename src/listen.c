/*
 * Listening sockets: socket activation or our own bind().
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "listen.h"
#include "sockopt.h"

static int
listen_set_options(int fd, const struct echod_config *cfg, const char *name,
    char *err, size_t errlen)
{
	if (sockopt_set_stream(fd, cfg) == 0)
		return 0;
	snprintf(err, errlen, "%s: cannot set socket options: %s", name,
	    strerror(errno));
	return -1;
}

static int
listen_bind(struct listener *l, const struct listen_addr *la,
    const struct echod_config *cfg, char *err, size_t errlen)
{
	int	 fd, family = la->la_addr.ss_family;

	l->l_addr = *la;
	snprintf(l->l_name, sizeof(l->l_name), "%s", la->la_text);
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (sockopt_prepare_bind(fd, family) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&la->la_addr, la->la_len) == -1)
		goto fail;
	if (listen(fd, (int)cfg->backlog) == -1)
		goto fail;
	if (listen_set_options(fd, cfg, l->l_name, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	l->l_fd = fd;
	return 0;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", la->la_text,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static int
listen_passed(int n, const struct echod_config *cfg, struct listen_set *set,
    char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 i, fd, flags;

	if (n > ECHOD_MAX_LISTEN) {
		snprintf(err, errlen, "systemd passed %d sockets; echod takes "
		    "at most %d", n, ECHOD_MAX_LISTEN);
		return -1;
	}
	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			snprintf(err, errlen, "file descriptor %d passed by "
			    "systemd is not a listening stream socket; check "
			    "the .socket unit (ListenStream=, Accept=no)", fd);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		struct listener *l = &set->ls[i];

		fd = SD_LISTEN_FDS_START + i;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			addr_format((struct sockaddr *)&ss, l->l_name,
			    sizeof(l->l_name));
		if ((flags = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
			snprintf(err, errlen, "passed socket %d: %s", fd,
			    strerror(errno));
			return -1;
		}
		if (listen_set_options(fd, cfg, l->l_name, err, errlen) == -1)
			return -1;
		l->l_fd = fd;
	}
	set->n = (size_t)n;
	set->passed = true;
	return 0;
}

int
listen_acquire(const struct echod_config *cfg, struct listen_set *set,
    char *err, size_t errlen)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char		 env[96];
	size_t		 i;
	int		 n;

	memset(set, 0, sizeof(*set));
	snprintf(env, sizeof(env), "LISTEN_PID=%.32s LISTEN_FDS=%.32s",
	    pid ? pid : "(unset)", fds ? fds : "(unset)");
	/* Unset LISTEN_* so the workers do not try to take them again. */
	n = sd_listen_fds(1);
	if (n < 0) {
		snprintf(err, errlen, "invalid socket activation environment "
		    "(%s): %s", env, strerror(-n));
		return -1;
	}
	if (n > 0)
		return listen_passed(n, cfg, set, err, errlen);

	for (i = 0; i < cfg->nlisten; i++) {
		if (listen_bind(&set->ls[i], &cfg->listen[i], cfg, err,
		    errlen) == -1) {
			set->n = i;
			listen_close(set);
			return -1;
		}
	}
	set->n = cfg->nlisten;
	return 0;
}

static struct listener *
listen_find(struct listen_set *set, const struct listen_addr *la)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		if (set->ls[i].l_addr.la_len == la->la_len &&
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
	if (!passed && listen(l->l_fd, (int)cfg->backlog) == -1) {
		snprintf(err, errlen, "%s: cannot change the backlog: %s",
		    l->l_name, strerror(errno));
		return -1;
	}
	return listen_set_options(l->l_fd, cfg, l->l_name, err, errlen);
}

int
listen_update(struct listen_set *set, const struct echod_config *old,
    const struct echod_config *cfg, char *err, size_t errlen)
{
	struct listen_set	 next = { .n = 0, .passed = set->passed };
	struct listener		*l;
	bool			 kept[ECHOD_MAX_LISTEN] = { false };
	char			 ignored[128];
	size_t			 i, applied = 0;

	/*
	 * Bind what is new first: binding is what fails in practice
	 * (address in use), and until it succeeded nothing running was
	 * touched.  Sockets from systemd are all kept.
	 */
	if (set->passed)
		next = *set;
	else
		for (i = 0; i < cfg->nlisten; i++) {
			if ((l = listen_find(set, &cfg->listen[i])) != NULL) {
				next.ls[i] = *l;
				kept[l - set->ls] = true;
			} else if (listen_bind(&next.ls[i], &cfg->listen[i],
			    cfg, err, errlen) == -1)
				goto fail;
			next.n = i + 1;
		}
	for (i = 0; i < next.n; i++) {
		if (!set->passed && listen_find(set, &next.ls[i].l_addr) == NULL)
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
		if (set->passed || listen_find(set, &next.ls[i].l_addr) != NULL)
			(void)listen_apply(&next.ls[i], old, set->passed,
			    ignored, sizeof(ignored));
fail:
	/* Close only what this call opened. */
	for (i = 0; i < next.n && !set->passed; i++)
		if (listen_find(set, &next.ls[i].l_addr) == NULL)
			close(next.ls[i].l_fd);
	return -1;
}

void
listen_close_bound(struct listen_set *set)
{
	if (!set->passed)
		listen_close(set);
}

void
listen_close(struct listen_set *set)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		close(set->ls[i].l_fd);
	set->n = 0;
}
