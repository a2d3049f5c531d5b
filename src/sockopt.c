/*
 * Socket options of listening and accepted sockets.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>

#include "sockopt.h"

int
sockopt_set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

int
sockopt_get_int(int fd, int level, int name)
{
	int		 v = -1;
	socklen_t	 len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) == -1)
		return -1;
	return v;
}

int
sockopt_prepare_bind(int fd, int family)
{
	if (sockopt_set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1)
		return -1;
	if (family == AF_INET6 &&
	    sockopt_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) == -1)
		return -1;
	return 0;
}

/*
 * Deliver no multicast datagram to a socket that joined no group (by
 * default Linux delivers those of every group the host joined, such as
 * all-hosts).  The guard refuses them anyway, so an older kernel without
 * the option is no reason to fail.
 */
static void
sockopt_no_multicast(int fd, int level, int name)
{
	(void)sockopt_set_int(fd, level, name, 0);
}

static bool
is_tcp_ip(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	return (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
	    sockopt_get_int(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM;
}

int
sockopt_set_stream(int fd, const struct echod_config *cfg)
{
	if (!is_tcp_ip(fd))
		return 0;
	if (sockopt_set_int(fd, SOL_SOCKET, SO_KEEPALIVE, cfg->keepalive)
	    == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1) == -1 ||
	    sockopt_set_int(fd, SOL_SOCKET, SO_OOBINLINE, 1) == -1)
		return -1;
	if (!cfg->keepalive)
		return 0;
	if (sockopt_set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE,
	    (int)cfg->keepalive_idle_s) == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL,
	    (int)cfg->keepalive_interval_s) == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_KEEPCNT,
	    (int)cfg->keepalive_count) == -1)
		return -1;
	return 0;
}

bool
sockopt_has_stream(int fd, const struct echod_config *cfg)
{
	if (sockopt_get_int(fd, SOL_SOCKET, SO_KEEPALIVE) != cfg->keepalive ||
	    sockopt_get_int(fd, IPPROTO_TCP, TCP_NODELAY) != 1 ||
	    sockopt_get_int(fd, SOL_SOCKET, SO_OOBINLINE) != 1)
		return false;
	if (!cfg->keepalive)
		return true;
	return sockopt_get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) ==
	    (int)cfg->keepalive_idle_s &&
	    sockopt_get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL) ==
	    (int)cfg->keepalive_interval_s &&
	    sockopt_get_int(fd, IPPROTO_TCP, TCP_KEEPCNT) ==
	    (int)cfg->keepalive_count;
}

int
sockopt_set_dgram(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 v6only;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	/*
	 * Linux refuses to send to an address it routes as broadcast unless
	 * SO_BROADCAST is on (EACCES): a last line behind the guard, for
	 * broadcast addresses it does not know of.
	 */
	if (sockopt_set_int(fd, SOL_SOCKET, SO_BROADCAST, 0) == -1)
		return -1;
	if (ss.ss_family == AF_INET6) {
		if (sockopt_set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
		    == -1 || (v6only = sockopt_get_int(fd, IPPROTO_IPV6,
		    IPV6_V6ONLY)) == -1)
			return -1;
		sockopt_no_multicast(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL);
		if (v6only)
			return 0;
		/*
		 * Dual-stack (systemd's ListenDatagram=7 by default): with
		 * IP_PKTINFO too, an IPv4 datagram says that it is one and
		 * brings ipi_spec_dst (udp_guard_arrival()).
		 */
	}
	if (sockopt_set_int(fd, IPPROTO_IP, IP_PKTINFO, 1) == -1)
		return -1;
	sockopt_no_multicast(fd, IPPROTO_IP, IP_MULTICAST_ALL);
	return 0;
}
