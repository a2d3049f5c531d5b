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

static int
set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

/*
 * Options that accepted sockets inherit from their listener on Linux,
 * set once here instead of once per connection.
 */
static int
listen_set_options(int fd, const struct echod_config *cfg, const char *name,
    char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		goto fail;
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		return 0;	/* e.g. a passed AF_UNIX socket */
	if (set_int(fd, SOL_SOCKET, SO_KEEPALIVE, cfg->keepalive) == -1 ||
	    set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1) == -1)
		goto fail;
	if (cfg->keepalive &&
	    (set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE,
	    (int)cfg->keepalive_idle_s) == -1 ||
	    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL,
	    (int)cfg->keepalive_interval_s) == -1 ||
	    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT,
	    (int)cfg->keepalive_count) == -1))
		goto fail;
	return 0;
fail:
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
	if (set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1)
		goto fail;
	/* [::] must not also take the IPv4 port that 0.0.0.0 wants. */
	if (family == AF_INET6 && set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)
	    == -1)
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

int
listen_update(struct listen_set *set, const struct echod_config *cfg,
    char *err, size_t errlen)
{
	struct listen_set	 next = { .n = 0 };
	struct listener		*old;
	bool			 kept[ECHOD_MAX_LISTEN] = { false };
	size_t			 i;

	if (set->passed) {
		for (i = 0; i < set->n; i++)
			if (listen_set_options(set->ls[i].l_fd, cfg,
			    set->ls[i].l_name, err, errlen) == -1)
				return -1;
		return 0;
	}
	for (i = 0; i < cfg->nlisten; i++) {
		if ((old = listen_find(set, &cfg->listen[i])) != NULL) {
			next.ls[i] = *old;
			kept[old - set->ls] = true;
			/* listen() again only changes the backlog. */
			if (listen(old->l_fd, (int)cfg->backlog) == -1) {
				snprintf(err, errlen, "%s: cannot change the "
				    "backlog: %s", old->l_name, strerror(errno));
				goto fail;
			}
			if (listen_set_options(old->l_fd, cfg, old->l_name,
			    err, errlen) == -1)
				goto fail;
		} else if (listen_bind(&next.ls[i], &cfg->listen[i], cfg,
		    err, errlen) == -1)
			goto fail;
		next.n = i + 1;
	}
	for (i = 0; i < set->n; i++)
		if (!kept[i])
			close(set->ls[i].l_fd);
	*set = next;
	return 0;
fail:
	/* Close only what this call opened. */
	for (i = 0; i < next.n; i++)
		if (listen_find(set, &next.ls[i].l_addr) == NULL)
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
