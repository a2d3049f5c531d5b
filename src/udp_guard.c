/*
 * The address guards of UDP echo.
 *
 * Compared with OpenBSD inetd's dg_badinput() (usr.sbin/inetd/inetd.c,
 * rev. 1.165), the guard
 * - takes the port floor from the configuration instead of fixing it at
 *   1024 plus NFS's 2049, and refuses port 0 even when the floor is 0;
 * - refuses 127/8 and ::1 only when they did not arrive on a loopback
 *   interface: it knows the arrival interface (IP_PKTINFO), so local
 *   clients keep working and a forged loopback source from outside (which
 *   Linux lets in with route_localnet=1) is still refused;
 * - refuses the limited broadcast 255.255.255.255 but answers the rest of
 *   240/4 (and so 255/8), which dg_badinput() drops whole: Linux routes
 *   class E as unicast, some private networks use it, and a reply to it
 *   reaches one host at most, so it can neither reflect nor amplify;
 * - also checks the destination, which dg_badinput() does not see: a
 *   datagram sent to a broadcast or multicast address reached many hosts,
 *   and every echo service among them would answer;
 * - reads the broadcast addresses from a list the caller refreshes now and
 *   then, instead of calling getifaddrs() for every datagram.
 * Like dg_badinput() it refuses multicast, 0/8, the broadcast address of
 * any local interface, ::, and IPv4-mapped and IPv4-compatible IPv6
 * sources.
 *
 * Linux already drops most of these in its input path (martian sources,
 * IPv6 multicast or loopback sources from outside); the guard does not
 * rely on it because sysctls (route_localnet, accept_local) and raw
 * injection can let them through, and a mistake here makes a reflector.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdint.h>
#include <string.h>

#include "udp_guard.h"

/* Linux gives the loopback device this index in every namespace. */
#define LOOPBACK_IFINDEX	1

static const struct {
	const char	*label;
	const char	*text;
} verdicts[UDP_NVERDICTS] = {
	[UDP_PASS] = { "pass", "answered" },
	[UDP_DROP_SOURCE_PORT] = { "source_port",
	    "source port below min_source_port" },
	[UDP_DROP_SOURCE_ADDRESS] = { "source_address",
	    "source address that cannot be a client" },
	[UDP_DROP_DESTINATION] = { "destination",
	    "not sent to one of our addresses alone" },
	[UDP_DROP_RATE] = { "rate", "over the rate limit of its network" },
	[UDP_DROP_TRUNCATED] = { "truncated",
	    "larger than the receive buffer" },
	[UDP_DROP_SEND_FULL] = { "send_buffer_full",
	    "the socket's send buffer was full" },
	[UDP_DROP_SEND_ERROR] = { "send_error",
	    "the answer could not be sent" },
};

const char *
udp_guard_label(enum udp_verdict v)
{
	if ((unsigned)v >= UDP_NVERDICTS)
		return "unknown";
	return verdicts[v].label;
}

const char *
udp_guard_text(enum udp_verdict v)
{
	if ((unsigned)v >= UDP_NVERDICTS)
		return "unknown";
	return verdicts[v].text;
}

int
udp_guard_arrival(const struct msghdr *msg, struct udp_arrival *arr)
{
	struct cmsghdr		*cm;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;

	memset(arr, 0, sizeof(*arr));
	arr->ua_family = AF_UNSPEC;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)msg); cm != NULL;
	    cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(pi))) {
			/* CMSG_DATA need not be aligned for the struct. */
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			memset(arr, 0, sizeof(*arr));
			arr->ua_family = AF_INET;
			arr->ua_ifindex = (unsigned int)pi.ipi_ifindex;
			arr->ua_dst4 = pi.ipi_addr;
			arr->ua_spec_dst = pi.ipi_spec_dst;
			return 0;
		}
		/* Linux puts IPV6_PKTINFO first: look on for IP_PKTINFO. */
		if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(pi6))) {
			memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
			arr->ua_family = AF_INET6;
			arr->ua_ifindex = pi6.ipi6_ifindex;
			arr->ua_dst6 = pi6.ipi6_addr;
		}
	}
	return arr->ua_family == AF_UNSPEC ? -1 : 0;
}

bool
udp_guard_unmap(const struct sockaddr *src, const struct udp_arrival *arr,
    struct sockaddr_in *out)
{
	const struct sockaddr_in6	*sin6 = (const void *)src;

	if (src->sa_family != AF_INET6 || arr == NULL ||
	    arr->ua_family != AF_INET ||
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return false;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = sin6->sin6_port;
	memcpy(&out->sin_addr, &sin6->sin6_addr.s6_addr[12],
	    sizeof(out->sin_addr));
	return true;
}

static void
ifaces_add_loop(struct udp_ifaces *ifs, unsigned int index)
{
	size_t	 i;

	for (i = 0; i < ifs->ui_nloop; i++)
		if (ifs->ui_loop[i] == index)
			return;
	if (ifs->ui_nloop == UDP_GUARD_MAX_LOOP) {
		ifs->ui_truncated = true;
		return;
	}
	ifs->ui_loop[ifs->ui_nloop++] = index;
}

static void
ifaces_add_bcast(struct udp_ifaces *ifs, struct in_addr a)
{
	size_t	 i;

	/* 0.0.0.0 is what an address without a broadcast reports. */
	if (a.s_addr == htonl(INADDR_ANY) ||
	    a.s_addr == htonl(INADDR_BROADCAST))
		return;
	for (i = 0; i < ifs->ui_nbcast; i++)
		if (ifs->ui_bcast[i].s_addr == a.s_addr)
			return;
	if (ifs->ui_nbcast == UDP_GUARD_MAX_BCAST) {
		ifs->ui_truncated = true;
		return;
	}
	ifs->ui_bcast[ifs->ui_nbcast++] = a;
}

int
udp_guard_ifaces_load(struct udp_ifaces *ifs)
{
	struct ifaddrs		*list, *ifa;
	const struct sockaddr_ll *ll;
	const struct sockaddr_in *sin, *local;
	struct in_addr		 last;
	in_addr_t		 mask;

	memset(ifs, 0, sizeof(*ifs));
	if (getifaddrs(&list) == -1)
		return -1;
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL)
			continue;
		/*
		 * Linux lists each link once as AF_PACKET, with its index:
		 * no if_nametoindex() call per interface.
		 */
		if (ifa->ifa_addr->sa_family == AF_PACKET &&
		    (ifa->ifa_flags & IFF_LOOPBACK)) {
			ll = (const void *)ifa->ifa_addr;
			ifaces_add_loop(ifs, (unsigned int)ll->sll_ifindex);
		}
		if (ifa->ifa_addr->sa_family != AF_INET)
			continue;
		local = (const void *)ifa->ifa_addr;
		/*
		 * An address set without a broadcast ("ip addr add
		 * 10.0.0.1/24") has none, but glibc then reports the address
		 * itself as ifa_broadaddr: taken as a broadcast, it would
		 * make the host refuse every datagram sent to it.
		 */
		if ((ifa->ifa_flags & IFF_BROADCAST) &&
		    ifa->ifa_broadaddr != NULL &&
		    ifa->ifa_broadaddr->sa_family == AF_INET) {
			sin = (const void *)ifa->ifa_broadaddr;
			if (sin->sin_addr.s_addr != local->sin_addr.s_addr)
				ifaces_add_bcast(ifs, sin->sin_addr);
		}
		/*
		 * Linux routes the last address of every prefix shorter than
		 * /31 as broadcast, set or not (fib_add_ifaddr()).
		 */
		if (ifa->ifa_netmask != NULL &&
		    ifa->ifa_netmask->sa_family == AF_INET) {
			mask = ((const struct sockaddr_in *)(const void *)
			    ifa->ifa_netmask)->sin_addr.s_addr;
			if (ntohl(mask) < 0xfffffffeU) {
				last.s_addr = local->sin_addr.s_addr | ~mask;
				ifaces_add_bcast(ifs, last);
			}
		}
	}
	freeifaddrs(list);
	return 0;
}

bool
udp_guard_ifaces_loopback(const struct udp_ifaces *ifs, unsigned int ifindex)
{
	size_t	 i;

	if (ifindex == LOOPBACK_IFINDEX)
		return true;
	if (ifs == NULL)
		return false;
	for (i = 0; i < ifs->ui_nloop; i++)
		if (ifs->ui_loop[i] == ifindex)
			return true;
	return false;
}

static bool
is_bcast(const struct udp_ifaces *ifs, struct in_addr a)
{
	size_t	 i;

	if (a.s_addr == htonl(INADDR_BROADCAST))
		return true;
	if (ifs == NULL)
		return false;
	for (i = 0; i < ifs->ui_nbcast && i < UDP_GUARD_MAX_BCAST; i++)
		if (ifs->ui_bcast[i].s_addr == a.s_addr)
			return true;
	return false;
}

static const char *
check_src4(struct in_addr a, bool loopback_if, const struct udp_ifaces *ifs)
{
	uint32_t	 h = ntohl(a.s_addr);

	if ((h >> 24) == 0)
		return "unspecified source (0.0.0.0/8)";
	if ((h >> 24) == 127 && !loopback_if)
		return "loopback source on a non-loopback interface";
	if ((h >> 28) == 0xe)
		return "multicast source";
	if (h == INADDR_BROADCAST)
		return "limited broadcast source";
	/* A reply to it would go to a whole local network. */
	if (is_bcast(ifs, a))
		return "directed broadcast source";
	return NULL;
}

static const char *
check_src6(const struct in6_addr *a, bool loopback_if)
{
	if (IN6_IS_ADDR_MULTICAST(a))
		return "multicast source";
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return "unspecified source (::)";
	if (IN6_IS_ADDR_LOOPBACK(a))
		return loopback_if ? NULL :
		    "loopback source on a non-loopback interface";
	/*
	 * IPv4 clients of a dual-stack socket reach the guard as IPv4
	 * (udp_guard_unmap()), never as ::ffff:a.b.c.d.  A mapped source
	 * here therefore came off the wire as such, and a stack may send
	 * the reply over IPv4, to an address no IPv4 filter saw
	 * (draft-cmetz-v6ops-v4mapped-api-harmful).
	 */
	if (IN6_IS_ADDR_V4MAPPED(a))
		return "IPv4-mapped source";
	/* Deprecated by RFC 4291 2.5.5.1; :: and ::1 are caught above. */
	if (IN6_IS_ADDR_V4COMPAT(a))
		return "IPv4-compatible source";
	return NULL;
}

static const char *
check_dst4(const struct udp_arrival *arr, const struct udp_ifaces *ifs)
{
	uint32_t	 h = ntohl(arr->ua_dst4.s_addr);

	if ((h >> 28) == 0xe)
		return "multicast destination";
	if (h == INADDR_BROADCAST)
		return "limited broadcast destination";
	if (is_bcast(ifs, arr->ua_dst4))
		return "directed broadcast destination";
	if ((h >> 24) == 0)
		return "unspecified destination (0.0.0.0/8)";
	/*
	 * The kernel's own verdict, which knows every broadcast route,
	 * also those of interfaces added since the list was loaded: it sets
	 * ipi_spec_dst to the destination itself only for local unicast.
	 */
	if (arr->ua_spec_dst.s_addr != htonl(INADDR_ANY) &&
	    arr->ua_spec_dst.s_addr != arr->ua_dst4.s_addr)
		return "broadcast destination (routed as such)";
	return NULL;
}

static const char *
check_dst6(const struct udp_arrival *arr)
{
	if (IN6_IS_ADDR_MULTICAST(&arr->ua_dst6))
		return "multicast destination";
	if (IN6_IS_ADDR_UNSPECIFIED(&arr->ua_dst6))
		return "unspecified destination (::)";
	return NULL;
}

enum udp_verdict
udp_guard_check(const struct sockaddr *src, const struct udp_arrival *arr,
    bool loopback_if, const struct udp_ifaces *ifs,
    unsigned int min_source_port, const char **why)
{
	const struct sockaddr_in	*sin = (const void *)src;
	const struct sockaddr_in6	*sin6 = (const void *)src;
	const char			*w = NULL;
	enum udp_verdict		 v = UDP_PASS;
	unsigned int			 port;

	switch (src->sa_family) {
	case AF_INET:
		port = ntohs(sin->sin_port);
		break;
	case AF_INET6:
		port = ntohs(sin6->sin6_port);
		break;
	default:
		v = UDP_DROP_SOURCE_ADDRESS;
		w = "source of an unknown address family";
		goto out;
	}

	/*
	 * Ports below 1024 belong to echo, discard, daytime, chargen, time,
	 * DNS, NTP...: answering them is how echo/chargen loops start.
	 */
	if (port == 0 || port < min_source_port) {
		v = UDP_DROP_SOURCE_PORT;
		w = port == 0 ? "source port 0" :
		    "source port below min_source_port";
		goto out;
	}

	w = src->sa_family == AF_INET ?
	    check_src4(sin->sin_addr, loopback_if, ifs) :
	    check_src6(&sin6->sin6_addr, loopback_if);
	if (w != NULL) {
		v = UDP_DROP_SOURCE_ADDRESS;
		goto out;
	}

	if (arr == NULL || arr->ua_family != src->sa_family) {
		v = UDP_DROP_DESTINATION;
		w = "destination unknown";
		goto out;
	}
	w = src->sa_family == AF_INET ? check_dst4(arr, ifs) : check_dst6(arr);
	if (w != NULL)
		v = UDP_DROP_DESTINATION;
out:
	if (why != NULL)
		*why = w != NULL ? w : "answered";
	return v;
}
