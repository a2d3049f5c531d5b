/*
 * Unit tests: the UDP address guards, on made-up addresses for every
 * rule and family, then on what the kernel reports for real datagrams
 * sent over loopback and to this host's broadcast addresses.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "udp_guard.h"
#include "tap.h"

static struct sockaddr_storage
sa(const char *host, unsigned port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (void *)&ss;
	struct sockaddr_in6	*sin6 = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	} else {
		diag("bad address in test: %s", host);
		abort();
	}
	return ss;
}

/* An arrival on interface 2 (not a loopback); spec_dst as the kernel
 * sets it for unicast unless spec says otherwise ("" = same, "0" =
 * unknown). */
static struct udp_arrival
arr(const char *dst, const char *spec)
{
	struct udp_arrival	 a;

	memset(&a, 0, sizeof(a));
	a.ua_ifindex = 2;
	if (inet_pton(AF_INET, dst, &a.ua_dst4) == 1) {
		a.ua_family = AF_INET;
		if (spec[0] == '\0')
			a.ua_spec_dst = a.ua_dst4;
		else if (strcmp(spec, "0") != 0)
			inet_pton(AF_INET, spec, &a.ua_spec_dst);
	} else if (inet_pton(AF_INET6, dst, &a.ua_dst6) == 1) {
		a.ua_family = AF_INET6;
	} else {
		diag("bad address in test: %s", dst);
		abort();
	}
	return a;
}

/* Check one datagram; print the guard's reason on a mismatch. */
static void
expect(const char *src, unsigned port, const char *dst, const char *spec,
    bool loopback, const struct udp_ifaces *ifs, unsigned min_port,
    enum udp_verdict want, const char *what)
{
	struct sockaddr_storage	 s = sa(src, port);
	struct udp_arrival	 a = arr(dst, spec);
	const char		*why = NULL;
	enum udp_verdict	 v;

	v = udp_guard_check((struct sockaddr *)&s, &a, loopback, ifs,
	    min_port, &why);
	if (!ok(v == want, "%s: %s:%u -> %s is %s", what, src, port, dst,
	    udp_guard_label(want)))
		diag("got %s (%s)", udp_guard_label(v), why);
}

static void
test_labels(void)
{
	static const char *const labels[UDP_NVERDICTS] = {
		"pass", "source_port", "source_address", "destination", "rate",
		"truncated", "send_buffer_full", "send_error",
	};
	int	 i;

	for (i = 0; i < UDP_NVERDICTS; i++) {
		is_str(udp_guard_label((enum udp_verdict)i), labels[i],
		    "label %d is %s", i, labels[i]);
		ok(strlen(udp_guard_text((enum udp_verdict)i)) > 5,
		    "verdict %s has a text: %s", labels[i],
		    udp_guard_text((enum udp_verdict)i));
	}
	is_str(udp_guard_label((enum udp_verdict)UDP_NVERDICTS), "unknown",
	    "a label out of range is unknown");
	is_str(udp_guard_text((enum udp_verdict)-1), "unknown",
	    "a text out of range is unknown");
}

static void
test_ports(void)
{
	static const unsigned low[] = { 1, 7, 9, 13, 19, 37, 53, 123, 1023 };
	size_t	 i;

	expect("198.51.100.7", 40000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "an ordinary IPv4 client");
	expect("2001:db8::7", 40000, "2001:db8::10", "", false, NULL, 1024,
	    UDP_PASS, "an ordinary IPv6 client");
	expect("198.51.100.7", 1024, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "port 1024 exactly");
	expect("2001:db8::7", 1024, "2001:db8::10", "", false, NULL, 1024,
	    UDP_PASS, "port 1024 exactly");
	expect("198.51.100.7", 65535, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "port 65535");
	for (i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		expect("198.51.100.7", low[i], "192.0.2.10", "", false, NULL,
		    1024, UDP_DROP_SOURCE_PORT, "a low port");
		expect("2001:db8::7", low[i], "2001:db8::10", "", false, NULL,
		    1024, UDP_DROP_SOURCE_PORT, "a low port");
		expect("198.51.100.7", low[i], "192.0.2.10", "", false, NULL,
		    0, UDP_PASS, "min_source_port 0");
		expect("2001:db8::7", low[i], "2001:db8::10", "", false, NULL,
		    0, UDP_PASS, "min_source_port 0");
	}
	expect("198.51.100.7", 0, "192.0.2.10", "", false, NULL, 0,
	    UDP_DROP_SOURCE_PORT, "port 0 even with min_source_port 0");
	expect("2001:db8::7", 0, "2001:db8::10", "", false, NULL, 0,
	    UDP_DROP_SOURCE_PORT, "port 0 even with min_source_port 0");
	expect("198.51.100.7", 5000, "192.0.2.10", "", false, NULL, 5001,
	    UDP_DROP_SOURCE_PORT, "a floor above 1024");
	expect("224.0.0.1", 7, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_PORT, "the port is checked first");
}

static void
test_sources4(void)
{
	struct udp_ifaces	 ifs;

	memset(&ifs, 0, sizeof(ifs));
	ifs.ui_nbcast = 2;
	inet_pton(AF_INET, "192.0.2.255", &ifs.ui_bcast[0]);
	inet_pton(AF_INET, "10.1.255.255", &ifs.ui_bcast[1]);

	expect("0.0.0.0", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "unspecified");
	expect("0.1.2.3", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "0.0.0.0/8");
	expect("127.0.0.1", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "loopback from outside");
	expect("127.200.1.1", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "127/8 from outside");
	expect("127.0.0.1", 4000, "127.0.0.1", "", true, NULL, 1024,
	    UDP_PASS, "loopback on a loopback interface");
	expect("127.0.0.2", 4000, "127.0.0.1", "", true, NULL, 1024,
	    UDP_PASS, "127/8 on a loopback interface");
	expect("224.0.0.1", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "multicast");
	expect("239.255.255.255", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "multicast");
	expect("224.0.0.1", 4000, "127.0.0.1", "", true, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "multicast also on loopback");
	expect("255.255.255.255", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "limited broadcast");
	expect("192.0.2.255", 4000, "192.0.2.10", "", false, &ifs, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "an interface's broadcast");
	expect("10.1.255.255", 4000, "192.0.2.10", "", false, &ifs, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "another interface's broadcast");
	expect("192.0.2.255", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "x.x.x.255 when no broadcast is known");
	expect("198.51.100.255", 4000, "192.0.2.10", "", false, &ifs, 1024,
	    UDP_PASS, ".255 of a network that is not ours");
	/* Class E: answered, see udp_guard.c. */
	expect("240.0.0.1", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "class E is unicast");
	expect("255.1.2.3", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "255/8 but the limited broadcast is unicast");
	expect("1.0.0.0", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "just above 0/8");
	expect("223.255.255.255", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "just below 224/4");
	expect("126.255.255.255", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "just below 127/8");
	expect("128.0.0.0", 4000, "192.0.2.10", "", false, NULL, 1024,
	    UDP_PASS, "just above 127/8");
}

static void
test_sources6(void)
{
	expect("ff02::1", 4000, "2001:db8::10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "multicast");
	expect("ff0e::1:3", 4000, "2001:db8::10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "global multicast");
	expect("::", 4000, "2001:db8::10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "unspecified");
	expect("::ffff:192.0.2.7", 4000, "2001:db8::10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "IPv4-mapped");
	expect("::ffff:127.0.0.1", 4000, "::1", "", true, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "IPv4-mapped also on loopback");
	expect("::192.0.2.7", 4000, "2001:db8::10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "IPv4-compatible");
	expect("::1", 4000, "2001:db8::10", "", false, NULL, 1024,
	    UDP_DROP_SOURCE_ADDRESS, "loopback from outside");
	expect("::1", 4000, "::1", "", true, NULL, 1024,
	    UDP_PASS, "loopback on a loopback interface");
	expect("fe80::1", 4000, "fe80::2", "", false, NULL, 1024,
	    UDP_PASS, "link-local");
	expect("64:ff9b::c000:207", 4000, "2001:db8::10", "", false, NULL,
	    1024, UDP_PASS, "NAT64 (an IPv4 host behind a translator)");
	expect("::ffff:0:c000:207", 4000, "2001:db8::10", "", false, NULL,
	    1024, UDP_PASS, "IPv4-translated (SIIT) is not IPv4-mapped");
	expect("fd00::2", 4000, "fd00::1", "", false, NULL, 1024,
	    UDP_PASS, "unique local");
}

static void
test_destinations(void)
{
	struct udp_ifaces	 ifs;
	struct sockaddr_storage	 s;
	struct sockaddr_un	 un;
	struct udp_arrival	 a;
	const char		*why;

	memset(&ifs, 0, sizeof(ifs));
	ifs.ui_nbcast = 1;
	inet_pton(AF_INET, "192.0.2.255", &ifs.ui_bcast[0]);

	expect("198.51.100.7", 4000, "224.0.0.1", "192.0.2.10", false, NULL,
	    1024, UDP_DROP_DESTINATION, "multicast");
	expect("198.51.100.7", 4000, "239.1.2.3", "0", false, NULL,
	    1024, UDP_DROP_DESTINATION, "multicast, spec_dst unknown");
	expect("198.51.100.7", 4000, "255.255.255.255", "0", false, NULL,
	    1024, UDP_DROP_DESTINATION, "limited broadcast");
	expect("198.51.100.7", 4000, "192.0.2.255", "0", false, &ifs,
	    1024, UDP_DROP_DESTINATION, "a known directed broadcast");
	expect("198.51.100.7", 4000, "10.9.255.255", "10.9.0.1", false, &ifs,
	    1024, UDP_DROP_DESTINATION,
	    "a broadcast the list misses but the kernel routed as one");
	expect("198.51.100.7", 4000, "10.9.255.255", "0", false, &ifs,
	    1024, UDP_PASS, "what nobody can tell is a broadcast");
	expect("198.51.100.7", 4000, "0.0.0.0", "0", false, NULL,
	    1024, UDP_DROP_DESTINATION, "unspecified");
	expect("198.51.100.7", 4000, "192.0.2.10", "0", false, &ifs,
	    1024, UDP_PASS, "unicast, spec_dst unknown");
	expect("2001:db8::7", 4000, "ff02::1", "", false, NULL,
	    1024, UDP_DROP_DESTINATION, "all-nodes multicast");
	expect("2001:db8::7", 4000, "ff05::1:3", "", false, NULL,
	    1024, UDP_DROP_DESTINATION, "site multicast");
	expect("2001:db8::7", 4000, "::", "", false, NULL,
	    1024, UDP_DROP_DESTINATION, "unspecified");

	s = sa("198.51.100.7", 4000);
	is_int(udp_guard_check((struct sockaddr *)&s, NULL, false, NULL, 1024,
	    &why), UDP_DROP_DESTINATION, "no arrival: destination");
	like(why, "unknown", "... because the destination is unknown");
	a = arr("2001:db8::10", "");
	is_int(udp_guard_check((struct sockaddr *)&s, &a, false, NULL, 1024,
	    NULL), UDP_DROP_DESTINATION, "an IPv6 arrival of an IPv4 source");

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	is_int(udp_guard_check((struct sockaddr *)&un, &a, false, NULL, 0,
	    &why), UDP_DROP_SOURCE_ADDRESS, "an AF_UNIX source");
	like(why, "family", "... because of its family");

	s = sa("198.51.100.7", 4000);
	a = arr("192.0.2.10", "");
	is_int(udp_guard_check((struct sockaddr *)&s, &a, false, NULL, 1024,
	    &why), UDP_PASS, "pass");
	is_str(why, "answered", "why says answered on a pass");
	s = sa("127.0.0.1", 4000);
	udp_guard_check((struct sockaddr *)&s, &a, false, NULL, 1024, &why);
	like(why, "loopback", "why names the loopback rule");
	s = sa("198.51.100.7", 4000);
	a = arr("192.0.2.255", "0");
	udp_guard_check((struct sockaddr *)&s, &a, false, &ifs, 1024, &why);
	like(why, "directed broadcast destination", "why names the rule");
}

static void
test_ifaces(void)
{
	struct udp_ifaces	 ifs;
	struct ifaddrs		*list, *ifa;
	size_t			 i;
	bool			 found;

	ok(udp_guard_ifaces_loopback(NULL, 1), "ifindex 1 is loopback");
	ok(!udp_guard_ifaces_loopback(NULL, 2), "ifindex 2 is not, unlisted");
	memset(&ifs, 0, sizeof(ifs));
	ifs.ui_nloop = 1;
	ifs.ui_loop[0] = 7;
	ok(udp_guard_ifaces_loopback(&ifs, 7), "a listed index is loopback");
	ok(udp_guard_ifaces_loopback(&ifs, 1), "1 still is");
	ok(!udp_guard_ifaces_loopback(&ifs, 8), "an unlisted one is not");

	memset(&ifs, 0xa5, sizeof(ifs));
	is_int(udp_guard_ifaces_load(&ifs), 0, "load the interfaces");
	found = false;
	for (i = 0; i < ifs.ui_nloop; i++)
		found |= ifs.ui_loop[i] == if_nametoindex("lo");
	ok(found || if_nametoindex("lo") == 0, "lo is listed as loopback");
	ok(!ifs.ui_truncated, "nothing left out on this host");

	/* Cross-check with getifaddrs() read here. */
	if (getifaddrs(&list) == -1) {
		ok(false, "getifaddrs: %s", strerror(errno));
		return;
	}
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
		struct sockaddr_in	*b;

		if (ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != AF_INET ||
		    !(ifa->ifa_flags & IFF_BROADCAST) ||
		    ifa->ifa_broadaddr == NULL)
			continue;
		b = (void *)ifa->ifa_broadaddr;
		found = false;
		for (i = 0; i < ifs.ui_nbcast; i++)
			found |= ifs.ui_bcast[i].s_addr == b->sin_addr.s_addr;
		ok(found || b->sin_addr.s_addr == 0,
		    "broadcast of %s (%s) is listed", ifa->ifa_name,
		    inet_ntoa(b->sin_addr));
	}
	freeifaddrs(list);
	for (i = 0; i < ifs.ui_nbcast; i++)
		ok(ifs.ui_bcast[i].s_addr != htonl(INADDR_BROADCAST) &&
		    ifs.ui_bcast[i].s_addr != 0,
		    "listed broadcast %zu is a directed one", i);
}

static void
test_arrival_parse(void)
{
	union {
		char		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(int))];
		struct cmsghdr	 align;
	}			 u;
	struct msghdr		 msg;
	struct cmsghdr		*cm;
	struct udp_arrival	 a;
	struct in6_pktinfo	 pi6;
	int			 ttl = 64;

	memset(&msg, 0, sizeof(msg));
	is_int(udp_guard_arrival(&msg, &a), -1, "no control message: -1");
	is_int(a.ua_family, AF_UNSPEC, "... and family AF_UNSPEC");

	/* Another message first, then the pktinfo. */
	memset(&u, 0, sizeof(u));
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_HOPLIMIT;
	cm->cmsg_len = CMSG_LEN(sizeof(ttl));
	memcpy(CMSG_DATA(cm), &ttl, sizeof(ttl));
	cm = CMSG_NXTHDR(&msg, cm);
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi6));
	memset(&pi6, 0, sizeof(pi6));
	inet_pton(AF_INET6, "2001:db8::10", &pi6.ipi6_addr);
	pi6.ipi6_ifindex = 3;
	memcpy(CMSG_DATA(cm), &pi6, sizeof(pi6));
	msg.msg_controllen = (size_t)((char *)cm - u.buf) +
	    CMSG_SPACE(sizeof(pi6));
	is_int(udp_guard_arrival(&msg, &a), 0, "IPV6_PKTINFO after another");
	is_int(a.ua_family, AF_INET6, "... IPv6");
	is_int(a.ua_ifindex, 3, "... its interface");
	ok(memcmp(&a.ua_dst6, &pi6.ipi6_addr, 16) == 0, "... its destination");

	cm->cmsg_len = CMSG_LEN(sizeof(pi6) - 1);
	is_int(udp_guard_arrival(&msg, &a), -1, "a short pktinfo is ignored");
}

/*
 * A dual-stack socket with both options set reports an IPv4 datagram
 * with IPV6_PKTINFO (the mapped destination) first, then IP_PKTINFO.
 */
static void
test_arrival_dual(void)
{
	union {
		char		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr	 align;
	}			 u;
	struct msghdr		 msg;
	struct cmsghdr		*cm;
	struct udp_arrival	 a;
	struct in6_pktinfo	 pi6;
	struct in_pktinfo	 pi;
	struct sockaddr_storage	 src;
	struct sockaddr_in	 out;

	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi6));
	memset(&pi6, 0, sizeof(pi6));
	inet_pton(AF_INET6, "::ffff:192.0.2.10", &pi6.ipi6_addr);
	pi6.ipi6_ifindex = 4;
	memcpy(CMSG_DATA(cm), &pi6, sizeof(pi6));
	cm = CMSG_NXTHDR(&msg, cm);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	memset(&pi, 0, sizeof(pi));
	inet_pton(AF_INET, "192.0.2.10", &pi.ipi_addr);
	inet_pton(AF_INET, "192.0.2.10", &pi.ipi_spec_dst);
	pi.ipi_ifindex = 4;
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	is_int(udp_guard_arrival(&msg, &a), 0, "both pktinfos: 0");
	is_int(a.ua_family, AF_INET, "... IP_PKTINFO wins: IPv4");
	ok(a.ua_dst4.s_addr == pi.ipi_addr.s_addr &&
	    a.ua_spec_dst.s_addr == pi.ipi_spec_dst.s_addr &&
	    a.ua_ifindex == 4, "... with its destination, spec_dst, ifindex");

	src = sa("::ffff:198.51.100.7", 4000);
	ok(udp_guard_unmap((struct sockaddr *)&src, &a, &out),
	    "a mapped source of an IPv4 datagram is unmapped");
	is_str(inet_ntoa(out.sin_addr), "198.51.100.7", "... to its address");
	is_int(ntohs(out.sin_port), 4000, "... and port");
	is_int(udp_guard_check((struct sockaddr *)&out, &a, false, NULL, 1024,
	    NULL), UDP_PASS, "... and the guard answers it");
	is_int(udp_guard_check((struct sockaddr *)&src, &a, false, NULL, 1024,
	    NULL), UDP_DROP_SOURCE_ADDRESS, "left mapped, it is refused");

	/* Only IPV6_PKTINFO: an IPv6 datagram with a mapped source. */
	msg.msg_controllen = CMSG_SPACE(sizeof(pi6));
	is_int(udp_guard_arrival(&msg, &a), 0, "only IPV6_PKTINFO: 0");
	is_int(a.ua_family, AF_INET6, "... IPv6");
	memset(&out, 0x5a, sizeof(out));
	ok(!udp_guard_unmap((struct sockaddr *)&src, &a, &out) &&
	    out.sin_family == 0x5a5a, "an IPv6 datagram's mapped source is "
	    "not unmapped, and out is untouched");
	src = sa("2001:db8::1", 4000);
	a.ua_family = AF_INET;
	ok(!udp_guard_unmap((struct sockaddr *)&src, &a, &out),
	    "an unmapped IPv6 source is left alone");
	src = sa("198.51.100.7", 4000);
	ok(!udp_guard_unmap((struct sockaddr *)&src, &a, &out),
	    "an IPv4 source is left alone");
	ok(!udp_guard_unmap((struct sockaddr *)&src, NULL, &out),
	    "no arrival: left alone");
}

/*
 * Real datagrams: a socket bound to the wildcard address with pktinfo on
 * receives what 'tx' sends to dst; the guard judges it.
 */
struct rx {
	int	 fd;
	int	 family;
	int	 port;
};

static int
rx_open(struct rx *r, int family)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 on = 1;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	r->family = family;
	if ((r->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (family == AF_INET)
		setsockopt(r->fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	else {
		setsockopt(r->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		setsockopt(r->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
		    sizeof(on));
	}
	if (bind(r->fd, (struct sockaddr *)&ss, family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == -1 ||
	    getsockname(r->fd, (struct sockaddr *)&ss, &len) == -1) {
		close(r->fd);
		return -1;
	}
	r->port = family == AF_INET ?
	    ntohs(((struct sockaddr_in *)&ss)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/*
 * Send one datagram from 'from' ("" = any) to dst, receive it, judge it.
 * -1 when it could not be sent here (no route: skip), else the verdict.
 */
static int
rx_judge(struct rx *r, const char *from, const char *dst,
    const struct udp_ifaces *ifs, struct udp_arrival *a, const char **why)
{
	union {
		char		 buf[256];
		struct cmsghdr	 align;
	}			 u;
	struct sockaddr_storage	 to, src, bnd;
	struct pollfd		 pfd;
	struct msghdr		 msg;
	struct iovec		 iov;
	char			 data[16];
	int			 tx, on = 1;
	socklen_t		 sl;

	to = sa(dst, (unsigned)r->port);
	sl = r->family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	if ((tx = socket(r->family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(tx, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
	if (from[0] != '\0') {
		bnd = sa(from, 0);
		if (bind(tx, (struct sockaddr *)&bnd, sl) == -1) {
			close(tx);
			return -1;
		}
	}
	if (sendto(tx, "x", 1, 0, (struct sockaddr *)&to, sl) != 1) {
		diag("send to %s: %s", dst, strerror(errno));
		close(tx);
		return -1;
	}
	close(tx);

	pfd.fd = r->fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 2000) != 1) {
		diag("nothing arrived from a send to %s", dst);
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = data;
	iov.iov_len = sizeof(data);
	msg.msg_name = &src;
	msg.msg_namelen = sizeof(src);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	if (recvmsg(r->fd, &msg, 0) != 1)
		return -1;
	if (udp_guard_arrival(&msg, a) == -1) {
		diag("no pktinfo on a datagram to %s", dst);
		return UDP_NVERDICTS;
	}
	return (int)udp_guard_check((struct sockaddr *)&src, a,
	    udp_guard_ifaces_loopback(ifs, a->ua_ifindex), ifs, 1024, why);
}

static void
judge(struct rx *r, const char *from, const char *dst,
    const struct udp_ifaces *ifs, enum udp_verdict want, const char *what)
{
	struct udp_arrival	 a;
	const char		*why = "";
	int			 v;

	v = rx_judge(r, from, dst, ifs, &a, &why);
	if (v == -1) {
		ok(true, "%s (to %s) # SKIP cannot send it here", what, dst);
		return;
	}
	if (want == UDP_DROP_DESTINATION && a.ua_family == AF_INET &&
	    a.ua_spec_dst.s_addr == a.ua_dst4.s_addr) {
		ok(true, "%s (to %s) # SKIP this kernel routes it as unicast",
		    what, dst);
		return;
	}
	if (!ok(v == (int)want, "%s: a real datagram to %s is %s", what, dst,
	    udp_guard_label(want)))
		diag("got %s (%s), arrived on ifindex %u",
		    v < UDP_NVERDICTS ? udp_guard_label(v) : "no pktinfo",
		    why, a.ua_ifindex);
}

/* A non-loopback IPv4 address of an interface that is up, as text. */
static int
local_addr4(char *buf, size_t len)
{
	struct ifaddrs	*list, *ifa;
	int		 r = -1;

	if (getifaddrs(&list) == -1)
		return -1;
	for (ifa = list; ifa != NULL && r == -1; ifa = ifa->ifa_next)
		if (ifa->ifa_addr != NULL &&
		    ifa->ifa_addr->sa_family == AF_INET &&
		    (ifa->ifa_flags & IFF_UP) &&
		    !(ifa->ifa_flags & IFF_LOOPBACK) &&
		    inet_ntop(AF_INET,
		    &((struct sockaddr_in *)(void *)ifa->ifa_addr)->sin_addr,
		    buf, (socklen_t)len) != NULL)
			r = 0;
	freeifaddrs(list);
	return r;
}

static void
test_real(void)
{
	struct udp_ifaces	 ifs;
	struct udp_arrival	 a;
	struct rx		 r4, r6;
	const char		*why = "";
	char			 b[INET_ADDRSTRLEN];
	size_t			 i;

	udp_guard_ifaces_load(&ifs);
	if (!ok(rx_open(&r4, AF_INET) == 0, "IPv4 socket with IP_PKTINFO"))
		return;
	judge(&r4, "", "127.0.0.1", &ifs, UDP_PASS, "loopback client");
	is_int(rx_judge(&r4, "", "127.0.0.1", &ifs, &a, &why), UDP_PASS,
	    "loopback again, to look at the arrival");
	is_int(a.ua_family, AF_INET, "... pktinfo says IPv4");
	ok(udp_guard_ifaces_loopback(&ifs, a.ua_ifindex),
	    "... on a loopback interface (ifindex %u)", a.ua_ifindex);
	ok(a.ua_spec_dst.s_addr == a.ua_dst4.s_addr,
	    "... spec_dst is the destination for unicast");
	judge(&r4, "", "127.255.255.255", &ifs, UDP_DROP_DESTINATION,
	    "loopback broadcast");
	judge(&r4, "", "255.255.255.255", &ifs, UDP_DROP_DESTINATION,
	    "limited broadcast");
	judge(&r4, "", "224.0.0.1", &ifs, UDP_DROP_DESTINATION,
	    "all-hosts multicast");
	for (i = 0; i < ifs.ui_nbcast; i++) {
		inet_ntop(AF_INET, &ifs.ui_bcast[i], b, sizeof(b));
		judge(&r4, "", b, &ifs, UDP_DROP_DESTINATION,
		    "an interface's directed broadcast");
		/* The kernel alone must catch it too. */
		judge(&r4, "", b, NULL, UDP_DROP_DESTINATION,
		    "the same with no broadcast list");
	}
	/*
	 * A local client bound to 127.0.0.1 that sends to a non-loopback
	 * address of this host: Linux reports that address's interface,
	 * not lo, so the guard cannot tell it from a forged loopback source
	 * and refuses it (documented in udp_guard.h).
	 */
	if (local_addr4(b, sizeof(b)) == 0)
		judge(&r4, "127.0.0.1", b, &ifs, UDP_DROP_SOURCE_ADDRESS,
		    "loopback source to a non-loopback address of ours");
	else
		ok(true, "loopback source to a non-loopback address # SKIP "
		    "no such address here");
	close(r4.fd);

	if (rx_open(&r6, AF_INET6) == -1) {
		ok(true, "IPv6 # SKIP no IPv6 socket here");
		return;
	}
	judge(&r6, "", "::1", &ifs, UDP_PASS, "IPv6 loopback client");
	is_int(rx_judge(&r6, "", "::1", &ifs, &a, &why), UDP_PASS,
	    "IPv6 loopback again, to look at the arrival");
	is_int(a.ua_family, AF_INET6, "... pktinfo says IPv6");
	ok(udp_guard_ifaces_loopback(&ifs, a.ua_ifindex),
	    "... on a loopback interface (ifindex %u)", a.ua_ifindex);
	close(r6.fd);
}

/*
 * A real dual-stack socket (IPV6_V6ONLY off, both pktinfo options on):
 * an IPv4 datagram comes from a mapped source with IP_PKTINFO, and
 * unmapped it is judged as the IPv4 datagram it is.
 */
static void
test_real_dual(void)
{
	union {
		char		 buf[256];
		struct cmsghdr	 align;
	}			 u;
	struct sockaddr_storage	 ss, src;
	struct sockaddr_in	 to, out;
	struct udp_arrival	 a;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct pollfd		 pfd;
	socklen_t		 len = sizeof(ss);
	char			 data[8], b[INET6_ADDRSTRLEN];
	int			 fd, tx, on = 1, off = 0;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET6;
	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) ==
	    -1 || bind(fd, (struct sockaddr *)&ss,
	    sizeof(struct sockaddr_in6)) == -1) {
		ok(true, "dual-stack socket # SKIP %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	ok(setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) == 0,
	    "IP_PKTINFO can be set on a dual-stack IPv6 socket");
	getsockname(fd, (struct sockaddr *)&ss, &len);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ok(sendto(tx, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) == 1,
	    "an IPv4 datagram sent to it");
	close(tx);
	pfd.fd = fd;
	pfd.events = POLLIN;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = data;
	iov.iov_len = sizeof(data);
	msg.msg_name = &src;
	msg.msg_namelen = sizeof(src);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	if (!ok(poll(&pfd, 1, 2000) == 1 && recvmsg(fd, &msg, 0) == 1,
	    "... arrives")) {
		close(fd);
		return;
	}
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&src)->sin6_addr, b,
	    sizeof(b));
	is_str(b, "::ffff:127.0.0.1", "... from a mapped source");
	is_int(udp_guard_arrival(&msg, &a), 0, "... with pktinfo");
	is_int(a.ua_family, AF_INET, "... that says IPv4 (IP_PKTINFO)");
	ok(a.ua_spec_dst.s_addr == htonl(INADDR_LOOPBACK),
	    "... with spec_dst 127.0.0.1");
	ok(udp_guard_unmap((struct sockaddr *)&src, &a, &out),
	    "... unmapped");
	is_int(udp_guard_check((struct sockaddr *)&out, &a,
	    udp_guard_ifaces_loopback(NULL, a.ua_ifindex), NULL, 1024, NULL),
	    UDP_PASS, "... and answered as IPv4");
	close(fd);
}

int
main(void)
{
	test_labels();
	test_ports();
	test_sources4();
	test_sources6();
	test_destinations();
	test_ifaces();
	test_arrival_parse();
	test_arrival_dual();
	test_real();
	test_real_dual();
	return done_testing();
}
