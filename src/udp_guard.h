/*
 * The address guards of UDP echo: decide from addresses alone whether a
 * datagram may be answered.  Answering a datagram sends a copy to its
 * source, so a forged source turns an echo service into a reflector;
 * these checks refuse every source and destination a real client cannot
 * have.  Nothing here logs, allocates or reads the configuration.
 *
 * Typical use by a worker, per datagram read with recvmsg():
 *
 *	udp_guard_arrival(&msg, &arr);
 *	v = udp_guard_check(src, &arr,
 *	    udp_guard_ifaces_loopback(&ifs, arr.ua_ifindex), &ifs,
 *	    min_source_port, &why);
 *
 * with 'ifs' refreshed by udp_guard_ifaces_load() now and then.
 */
#ifndef ECHOD_UDP_GUARD_H
#define ECHOD_UDP_GUARD_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * Why a datagram is not answered.  The values and labels are stable:
 * metrics count drops per label.  Only the first three come from
 * udp_guard_check(); the others are decided by the rate table
 * (ratelimit.h) and by the worker that reads and answers (udp.c), and
 * are here so that one enum names every reason.
 */
enum udp_verdict {
	UDP_PASS = 0,		/* "pass": answer it */
	UDP_DROP_SOURCE_PORT,	/* "source_port" */
	UDP_DROP_SOURCE_ADDRESS,/* "source_address" */
	UDP_DROP_DESTINATION,	/* "destination" */
	UDP_DROP_RATE,		/* "rate" */
	UDP_DROP_TRUNCATED,	/* "truncated": larger than the buffer */
	UDP_DROP_SEND_FULL,	/* "send_buffer_full": the answer would block */
	UDP_DROP_SEND_ERROR,	/* "send_error": the answer could not go */
};
#define UDP_NVERDICTS	8

/* The short label of v ("source_port"...), or "unknown". */
const char	*udp_guard_label(enum udp_verdict v);
/* A sentence fragment for operators ("source port below
 * min_source_port"...), or "unknown". */
const char	*udp_guard_text(enum udp_verdict v);

/*
 * Where a datagram arrived, as IP_PKTINFO (IPv4) or IPV6_PKTINFO (IPv6)
 * report it.
 */
struct udp_arrival {
	sa_family_t	 ua_family;	/* AF_INET or AF_INET6 */
	unsigned int	 ua_ifindex;	/* arrival interface; 0: unknown */
	union {
		struct in_addr	 ua_dst4;	/* the header's destination */
		struct in6_addr	 ua_dst6;
	};
	/*
	 * IPv4 only: ipi_spec_dst, the local address the kernel would
	 * answer from.  It equals ua_dst4 exactly when the route of the
	 * datagram was local unicast; for a broadcast (also a directed
	 * one we do not know of) or multicast it is another address.
	 * INADDR_ANY: unknown, that check is skipped.
	 */
	struct in_addr	 ua_spec_dst;
};

/*
 * Fill *arr from the control messages of a datagram received on a
 * socket with IP_PKTINFO or IPV6_RECVPKTINFO set.  0 on success, -1 when
 * msg carries neither (arr is then zeroed, family AF_UNSPEC).
 *
 * A dual-stack IPv6 socket (IPV6_V6ONLY off) with IP_PKTINFO set as well
 * reports an IPv4 datagram both ways; IP_PKTINFO wins, since it carries
 * ipi_spec_dst and only an IPv4 datagram has it: arr is then AF_INET
 * while the source is ::ffff:a.b.c.d (see udp_guard_unmap()).
 */
int		 udp_guard_arrival(const struct msghdr *msg,
		    struct udp_arrival *arr);

/*
 * On a dual-stack IPv6 socket, IPv4 clients have IPv4-mapped sources
 * (::ffff:a.b.c.d).  When src is such a source and arr says the datagram
 * came over IPv4 (AF_INET, from IP_PKTINFO), write the IPv4 source (same
 * port) to *out and return true: the guard and the rate table are to
 * judge the IPv4 datagram it is, while the answer goes to src as it is.
 * Otherwise return false and leave *out alone: an IPv6 datagram whose
 * source only looks mapped stays IPv6, and udp_guard_check() refuses it.
 */
bool		 udp_guard_unmap(const struct sockaddr *src,
		    const struct udp_arrival *arr, struct sockaddr_in *out);

/*
 * What the guard knows about the host's interfaces: the IPv4 broadcast
 * addresses (those set on interfaces, and the last address of every
 * prefix shorter than /31, which Linux routes as broadcast; the limited
 * broadcast is always known) and which interfaces are loopbacks.  Plain data: a worker loads it at start and again now
 * and then (interfaces come and go); a test fills it by hand.
 */
#define UDP_GUARD_MAX_BCAST	64
#define UDP_GUARD_MAX_LOOP	8

struct udp_ifaces {
	size_t		 ui_nbcast;
	struct in_addr	 ui_bcast[UDP_GUARD_MAX_BCAST];
	size_t		 ui_nloop;
	unsigned int	 ui_loop[UDP_GUARD_MAX_LOOP];	/* ifindexes */
	bool		 ui_truncated;	/* more than fit were found */
};

/*
 * Read the interfaces with getifaddrs(3) into *ifs.  0 on success, -1
 * with errno on failure (then *ifs is left empty: no broadcast known,
 * only ifindex 1 counts as loopback).  Addresses beyond the array sizes
 * are left out and ui_truncated is set.
 */
int		 udp_guard_ifaces_load(struct udp_ifaces *ifs);

/*
 * Whether ifindex is a loopback interface: listed in ifs (NULL: none
 * listed), or 1, the index Linux gives the loopback device of every
 * network namespace, so that an empty or stale list still knows "lo".
 */
bool		 udp_guard_ifaces_loopback(const struct udp_ifaces *ifs,
		    unsigned int ifindex);

/*
 * Decide whether a datagram from src that arrived as arr may be
 * answered.  loopback_if: it arrived on a loopback interface.  ifs: the
 * broadcast addresses known (NULL: none).  min_source_port: source ports
 * below it are refused (0 refuses none but port 0, which no socket can
 * send from and no reply can go to).
 *
 * A loopback source is answered only when it arrived on a loopback
 * interface.  Linux reports the interface of the destination address for
 * traffic between two addresses of the host, so a local client that
 * binds 127.0.0.1 and sends to a non-loopback address of the host is
 * refused, like a forged loopback source from outside; local clients
 * send to a loopback address or from a non-loopback one.
 *
 * Returns UDP_PASS, or the first guard that fails in this order:
 * UDP_DROP_SOURCE_PORT, UDP_DROP_SOURCE_ADDRESS, UDP_DROP_DESTINATION.
 * When why is not NULL, *why receives a static string naming the exact
 * cause ("multicast source", "directed broadcast destination"...), for
 * debug logs and tests.  A src of another family than AF_INET/AF_INET6
 * is a bad source address; an arr whose family differs from src's (or
 * arr NULL) is a bad destination: the guard cannot vouch for it.
 */
enum udp_verdict udp_guard_check(const struct sockaddr *src,
		    const struct udp_arrival *arr, bool loopback_if,
		    const struct udp_ifaces *ifs,
		    unsigned int min_source_port, const char **why);

#endif
