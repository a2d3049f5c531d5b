/*
 * Unit tests: UDP echo (udp.c) in an event loop of its own, over real
 * sockets on loopback: payloads echoed byte for byte from the address
 * they were sent to, dual-stack sockets, each drop counted by reason
 * (guards, rate, truncation, a full send buffer, a broadcast source the
 * kernel refuses), and the sockets closed at a stop.
 */
#include "autoconf.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "ratelimit.h"
#include "sockopt.h"
#include "timer.h"
#include "udp.h"
#include "worker.h"
#include "tap.h"

struct fix {
	struct worker		 w;
	struct worker_args	 a;
	struct listen_set	 ls;
	struct echod_config	 cfg;
	struct worker_stats	 st;
	void			*rlmem;
};

static struct sockaddr_storage
sa(const char *host, unsigned port, socklen_t *len)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (void *)&ss;
	struct sockaddr_in6	*sin6 = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else {
		diag("bad address in test: %s", host);
		abort();
	}
	return ss;
}

static unsigned
port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ?
	    ((const struct sockaddr_in *)(const void *)ss)->sin_port :
	    ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
}

static void
fix_init(struct fix *f)
{
	memset(f, 0, sizeof(*f));
	config_defaults(&f->cfg);
	f->cfg.workers = 1;
	f->a.wa_cfg = &f->cfg;
	f->a.wa_listeners = &f->ls;
}

/*
 * A UDP socket of the worker on addr, port 0; dual: an IPv6 socket that
 * takes IPv4 too.  Returns its port, or 0.
 */
static unsigned
fix_socket(struct fix *f, const char *addr, bool dual)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd;

	ss = sa(addr, 0, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return 0;
	if (ss.ss_family == AF_INET6)
		sockopt_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? 0 : 1);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    sockopt_set_dgram(fd) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		diag("socket on %s: %s", addr, strerror(errno));
		close(fd);
		return 0;
	}
	f->ls.ls[f->ls.n].l_fd = fd;
	f->ls.ls[f->ls.n].l_kind = LISTEN_UDP;
	snprintf(f->ls.ls[f->ls.n].l_name, sizeof(f->ls.ls[0].l_name), "%s",
	    addr);
	f->ls.n++;
	return port_of(&ss);
}

/* Start the worker's UDP; rate 0: no table. */
static bool
fix_start(struct fix *f, size_t datagram_max, uint32_t rate, uint32_t burst)
{
	size_t	 size;

	if (rate > 0) {
		size = ratelimit_size(64);
		f->rlmem = aligned_alloc(64, (size + 63) / 64 * 64);
		f->a.wa_rate = ratelimit_init(f->rlmem, 64, rate, burst);
		f->cfg.udp_rate_limit = rate;
		f->cfg.udp_rate_burst = burst;
	}
	f->w.w_args = &f->a;
	f->w.w_cfg = &f->cfg;
	f->w.w_stats = &f->st;
	f->w.w_mode = WORKER_SERVING;
	if (event_loop_open(&f->w.w_loop, &f->w) == -1)
		return false;
	return udp_open(&f->w, datagram_max) == 0;
}

static void
fix_stop(struct fix *f)
{
	udp_close(&f->w);
	event_loop_close(&f->w.w_loop);
	free(f->rlmem);
	f->rlmem = NULL;
}

static uint64_t
received(struct fix *f)
{
	return atomic_load(&f->st.ws_udp_received);
}

static uint64_t
dropped(struct fix *f, enum udp_verdict v)
{
	return atomic_load(&f->st.ws_udp_dropped[v]);
}

/* Run the loop until 'n' more datagrams were read (at most 2 s). */
static bool
fix_serve(struct fix *f, uint64_t n)
{
	uint64_t	 want = received(f) + n;
	uint64_t	 end = timer_now_ms() + 2000;

	while (received(f) < want && timer_now_ms() < end)
		if (event_dispatch(&f->w.w_loop, 50) == -1)
			return false;
	return received(f) >= want;
}

/* A client socket of dst's family, bound to 'from' ("" = any). */
static int
client(const char *dst, const char *from, unsigned from_port)
{
	struct sockaddr_storage	 ss, b;
	socklen_t		 len, blen;
	int			 fd, on = 1;

	ss = sa(dst, 0, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (from[0] != '\0' || from_port != 0) {
		b = sa(from[0] ? from : ss.ss_family == AF_INET ? "0.0.0.0" :
		    "::", from_port, &blen);
		if (bind(fd, (struct sockaddr *)&b, blen) == -1) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * Send len bytes from fd to dst:port (from the IPv4 address 'spoof', if
 * not NULL: fd must have IP_TRANSPARENT), serve, and read what came back
 * within the turn (the answer is on loopback by then).  Returns the
 * reply's length, or -1 for none; its source in *from.
 */
static ssize_t
exchange_from(struct fix *f, int fd, const char *spoof, const char *dst,
    unsigned port, const unsigned char *data, size_t len,
    unsigned char *reply, size_t rlen, struct sockaddr_storage *from)
{
	union {
		char		 buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr	 align;
	}			 u;
	struct sockaddr_storage	 to, dummy;
	socklen_t		 tl, fl = sizeof(*from);
	struct pollfd		 pfd = { .fd = fd, .events = POLLIN };
	struct in_pktinfo	 pi;
	struct msghdr		 msg;
	struct iovec		 iov = { .iov_base = (void *)data,
				    .iov_len = len };
	struct cmsghdr		*cm;

	to = sa(dst, port, &tl);
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &to;
	msg.msg_namelen = tl;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (spoof != NULL) {
		memset(&u, 0, sizeof(u));
		memset(&pi, 0, sizeof(pi));
		inet_pton(AF_INET, spoof, &pi.ipi_spec_dst);
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	if (sendmsg(fd, &msg, 0) != (ssize_t)len) {
		diag("sendmsg %s:%u: %s", dst, port, strerror(errno));
		return -1;
	}
	if (!fix_serve(f, 1)) {
		diag("echod did not read the datagram");
		return -1;
	}
	if (poll(&pfd, 1, 0) != 1)
		return -1;
	return recvfrom(fd, reply, rlen, 0,
	    (struct sockaddr *)(from ? from : &dummy), &fl);
}

static ssize_t
exchange(struct fix *f, int fd, const char *dst, unsigned port,
    const unsigned char *data, size_t len, unsigned char *reply,
    size_t rlen, struct sockaddr_storage *from)
{
	return exchange_from(f, fd, NULL, dst, port, data, len, reply, rlen,
	    from);
}

static unsigned char	 payload[UDP_DATAGRAM_MAX], reply[UDP_DATAGRAM_MAX];

static void
test_payloads(void)
{
	static const size_t	 sizes4[] = { 0, 1, 1400, 9000, 65507 };
	static const size_t	 sizes6[] = { 0, 1, 1400, 9000, 65527 };
	struct fix		 f;
	struct sockaddr_storage	 from;
	unsigned		 p4, p6;
	uint64_t		 bytes = 0;
	size_t			 i;
	ssize_t			 n;
	int			 c4, c6;

	fix_init(&f);
	p4 = fix_socket(&f, "127.0.0.1", false);
	p6 = fix_socket(&f, "::1", false);
	if (!ok(p4 != 0 && fix_start(&f, UDP_DATAGRAM_MAX, 0, 0),
	    "a worker with an IPv4 UDP socket"))
		return;
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 7 + i / 251);
	c4 = client("127.0.0.1", "", 0);
	for (i = 0; i < sizeof(sizes4) / sizeof(sizes4[0]); i++) {
		memset(reply, 0, sizeof(reply));
		n = exchange(&f, c4, "127.0.0.1", p4, payload, sizes4[i],
		    reply, sizeof(reply), &from);
		ok(n == (ssize_t)sizes4[i] && memcmp(reply, payload,
		    sizes4[i]) == 0 && port_of(&from) == p4,
		    "IPv4: %zu bytes echoed byte for byte, from port %u",
		    sizes4[i], p4);
		bytes += sizes4[i];
	}
	close(c4);
	if (p6 != 0 && (c6 = client("::1", "", 0)) != -1) {
		for (i = 0; i < sizeof(sizes6) / sizeof(sizes6[0]); i++) {
			memset(reply, 0, sizeof(reply));
			n = exchange(&f, c6, "::1", p6, payload, sizes6[i],
			    reply, sizeof(reply), &from);
			ok(n == (ssize_t)sizes6[i] && memcmp(reply, payload,
			    sizes6[i]) == 0 && port_of(&from) == p6,
			    "IPv6: %zu bytes echoed byte for byte",
			    sizes6[i]);
			bytes += sizes6[i];
		}
		close(c6);
	} else
		ok(true, "IPv6 # SKIP no IPv6 loopback here");
	is_int(atomic_load(&f.st.ws_udp_received), p6 ? 10 : 5,
	    "every datagram counted as received");
	is_int(atomic_load(&f.st.ws_udp_echoed), p6 ? 10 : 5,
	    "... and as answered");
	is_int(atomic_load(&f.st.ws_udp_bytes_in), bytes, "bytes in counted");
	is_int(atomic_load(&f.st.ws_udp_bytes_out), bytes,
	    "bytes out counted");
	fix_stop(&f);
}

/* The answer's source is the request's destination. */
static void
test_source_address(void)
{
	struct fix		 f;
	struct sockaddr_storage	 from;
	char			 a[INET6_ADDRSTRLEN];
	unsigned		 p4, pd;
	ssize_t			 n;
	int			 c;

	fix_init(&f);
	p4 = fix_socket(&f, "0.0.0.0", false);
	pd = fix_socket(&f, "::", true);
	if (!ok(p4 != 0 && fix_start(&f, UDP_DATAGRAM_MAX, 0, 0),
	    "a worker with wildcard sockets"))
		return;
	c = client("127.0.0.1", "127.0.0.1", 0);
	n = exchange(&f, c, "127.0.0.2", p4, payload, 10, reply,
	    sizeof(reply), &from);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, a,
	    sizeof(a));
	ok(n == 10 && strcmp(a, "127.0.0.2") == 0, "0.0.0.0: a datagram to "
	    "127.0.0.2 is answered from 127.0.0.2, not %s", n == 10 ? a :
	    "(none)");
	if (pd == 0) {
		ok(true, "dual-stack # SKIP no IPv6 here");
		close(c);
		fix_stop(&f);
		return;
	}
	n = exchange(&f, c, "127.0.0.3", pd, payload, 10, reply,
	    sizeof(reply), &from);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, a,
	    sizeof(a));
	ok(n == 10 && from.ss_family == AF_INET && strcmp(a, "127.0.0.3") ==
	    0, "dual-stack [::]: an IPv4 client's datagram to 127.0.0.3 is "
	    "answered over IPv4 from 127.0.0.3 (%s)", n == 10 ? a : "none");
	close(c);
	c = client("::1", "", 0);
	n = exchange(&f, c, "::1", pd, payload, 10, reply, sizeof(reply),
	    &from);
	ok(n == 10 && from.ss_family == AF_INET6, "dual-stack [::]: an IPv6 "
	    "client is answered");
	close(c);
	is_int(atomic_load(&f.st.ws_udp_echoed), 3, "three answers counted");
	fix_stop(&f);
}

static void
test_guards(void)
{
	struct fix		 f;
	unsigned		 p4, pd, own;
	ssize_t			 n;
	int			 c, on = 1;

	fix_init(&f);
	p4 = fix_socket(&f, "127.0.0.1", false);
	pd = fix_socket(&f, "::", true);
	own = fix_socket(&f, "127.0.0.1", false);
	if (!ok(p4 != 0 && own != 0 && fix_start(&f, UDP_DATAGRAM_MAX, 0, 0),
	    "a worker for the guards"))
		return;

	/* Ephemeral ports lie below 65000 (ip_local_port_range). */
	f.cfg.udp_min_source_port = 65000;
	c = client("127.0.0.1", "", 0);
	n = exchange(&f, c, "127.0.0.1", p4, payload, 5, reply,
	    sizeof(reply), NULL);
	ok(n == -1 && dropped(&f, UDP_DROP_SOURCE_PORT) == 1,
	    "a source port below min_source_port: no answer, counted as "
	    "source_port");
	if (pd != 0) {
		n = exchange(&f, c, "127.0.0.1", pd, payload, 5, reply,
		    sizeof(reply), NULL);
		ok(n == -1 && dropped(&f, UDP_DROP_SOURCE_PORT) == 2,
		    "... also for an IPv4 client of a dual-stack socket");
	}
	f.cfg.udp_min_source_port = 1024;
	n = exchange(&f, c, "127.0.0.1", p4, payload, 5, reply,
	    sizeof(reply), NULL);
	ok(n == 5, "min_source_port back at 1024: answered");
	close(c);

	/* A client on another address with the port of our other socket. */
	if ((c = client("127.0.0.1", "127.0.0.9", own)) == -1)
		ok(true, "own port # SKIP cannot bind 127.0.0.9:%u", own);
	else {
		n = exchange(&f, c, "127.0.0.1", p4, payload, 5, reply,
		    sizeof(reply), NULL);
		ok(n == -1 && dropped(&f, UDP_DROP_SOURCE_PORT) ==
		    (pd ? 3 : 2), "a source port of one of our UDP sockets "
		    "(an echo loop): no answer, source_port");
		close(c);
	}

	/* 127.255.255.255 is lo's broadcast (the local routing table). */
	c = client("127.0.0.1", "", 0);
	setsockopt(c, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
	if (pd != 0) {
		n = exchange(&f, c, "127.255.255.255", pd, payload, 5, reply,
		    sizeof(reply), NULL);
		ok(n == -1 && dropped(&f, UDP_DROP_DESTINATION) == 1,
		    "a datagram to a broadcast address (dual-stack socket): no "
		    "answer, destination");
	}
	close(c);

	/*
	 * A broadcast source no interface lists (lo has no IFF_BROADCAST):
	 * the guard lets it by, the kernel refuses to send to it without
	 * SO_BROADCAST.  Sending from it takes IP_TRANSPARENT (root).
	 */
	c = client("127.0.0.1", "", 0);
	if (setsockopt(c, IPPROTO_IP, IP_TRANSPARENT, &on, sizeof(on)) == -1)
		ok(true, "broadcast source # SKIP IP_TRANSPARENT: %s",
		    strerror(errno));
	else {
		n = exchange_from(&f, c, "127.255.255.255", "127.0.0.1", p4,
		    payload, 5, reply, sizeof(reply), NULL);
		ok(n == -1 && dropped(&f, UDP_DROP_SOURCE_ADDRESS) == 1,
		    "a source that is lo's broadcast address: no answer (EACCES"
		    "), counted as source_address");
	}
	close(c);
	is_int(atomic_load(&f.st.ws_udp_dropped[UDP_DROP_SEND_ERROR]), 0,
	    "no send error counted");
	fix_stop(&f);
}

static void
test_rate(void)
{
	struct fix		 f;
	unsigned		 p4, pd;
	ssize_t			 n;
	int			 c, c2, i, answered = 0;

	fix_init(&f);
	p4 = fix_socket(&f, "0.0.0.0", false);
	pd = fix_socket(&f, "::", true);
	/* 1 per second, burst 5: nothing refills during the test. */
	if (!ok(p4 != 0 && fix_start(&f, UDP_DATAGRAM_MAX, 1, 5),
	    "a worker with a rate table (1/s, burst 5)"))
		return;
	c = client("127.0.0.1", "127.0.0.1", 0);
	for (i = 0; i < 20; i++)
		answered += exchange(&f, c, "127.0.0.1", p4, payload, 8, reply,
		    sizeof(reply), NULL) == 8;
	ok(answered >= 5 && answered <= 6, "a flood of 20 from 127.0.0.1: %d "
	    "answered (the burst)", answered);
	ok(dropped(&f, UDP_DROP_RATE) == (uint64_t)(20 - answered),
	    "... the rest counted as rate");
	c2 = client("127.0.0.1", "127.0.0.77", 0);
	n = exchange(&f, c2, "127.0.0.1", p4, payload, 8, reply,
	    sizeof(reply), NULL);
	ok(n == -1, "127.0.0.77 is in the same /24: refused too");
	close(c2);
	c2 = client("127.0.0.1", "127.0.1.1", 0);
	for (i = 0, answered = 0; i < 5; i++)
		answered += exchange(&f, c2, "127.0.1.1", p4, payload, 8,
		    reply, sizeof(reply), NULL) == 8;
	is_int(answered, 5, "another /24 (127.0.1.0/24) has its full burst");
	close(c2);
	if (pd != 0) {
		n = exchange(&f, c, "127.0.0.1", pd, payload, 8, reply,
		    sizeof(reply), NULL);
		ok(n == -1, "127.0.0.1 through the dual-stack socket is the "
		    "same network (keyed as IPv4): refused");
		c2 = client("127.0.0.1", "127.0.2.1", 0);
		n = exchange(&f, c2, "127.0.2.1", pd, payload, 8, reply,
		    sizeof(reply), NULL);
		ok(n == 8, "a fresh /24 through the dual-stack socket: "
		    "answered");
		close(c2);
	}
	close(c);
	fix_stop(&f);
}

static void
test_truncated(void)
{
	struct fix	 f;
	unsigned	 p4;
	ssize_t		 n;
	int		 c;

	fix_init(&f);
	p4 = fix_socket(&f, "127.0.0.1", false);
	if (!ok(p4 != 0 && fix_start(&f, 1000, 0, 0),
	    "a worker with room for 1000-byte datagrams"))
		return;
	c = client("127.0.0.1", "", 0);
	n = exchange(&f, c, "127.0.0.1", p4, payload, 1001, reply,
	    sizeof(reply), NULL);
	ok(n == -1 && dropped(&f, UDP_DROP_TRUNCATED) == 1,
	    "1001 bytes: no answer (never a cut echo), counted as truncated");
	n = exchange(&f, c, "127.0.0.1", p4, payload, 1000, reply,
	    sizeof(reply), NULL);
	ok(n == 1000 && memcmp(reply, payload, 1000) == 0,
	    "1000 bytes: echoed whole");
	close(c);
	fix_stop(&f);
}

/*
 * In a network namespace of our own (root), lo with a 1500-byte MTU:
 * false if it cannot be had.  Everything after runs in it.
 */
static bool
netns_small_mtu(void)
{
	struct ifreq	 ifr;
	int		 s;
	bool		 r;

	if (unshare(CLONE_NEWNET) == -1)
		return false;
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ifr.ifr_mtu = 1500;
	r = ioctl(s, SIOCSIFMTU, &ifr) == 0 && ioctl(s, SIOCGIFFLAGS, &ifr) ==
	    0;
	ifr.ifr_flags |= IFF_UP;
	r = r && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
	close(s);
	return r;
}

/*
 * A send buffer too small for a 64 KiB answer in 1500-byte fragments:
 * they cannot all be charged to the socket (ENOBUFS), so the answer is
 * dropped and counted, and the worker goes on at once.  On lo's usual
 * 64 KiB MTU one fragment always fits, hence the namespace.
 */
static void
test_send_full(void)
{
	struct fix	 f;
	unsigned	 p4;
	ssize_t		 n;
	int		 c;

	if (!netns_small_mtu()) {
		ok(true, "send buffer full # SKIP no network namespace of our "
		    "own (%s)", strerror(errno));
		return;
	}
	fix_init(&f);
	p4 = fix_socket(&f, "127.0.0.1", false);
	sockopt_set_int(f.ls.ls[0].l_fd, SOL_SOCKET, SO_SNDBUF, 4096);
	if (!ok(p4 != 0 && fix_start(&f, UDP_DATAGRAM_MAX, 0, 0),
	    "a worker whose socket has a 4 KiB send buffer"))
		return;
	c = client("127.0.0.1", "", 0);
	n = exchange(&f, c, "127.0.0.1", p4, payload, 65507, reply,
	    sizeof(reply), NULL);
	ok(n == -1 && dropped(&f, UDP_DROP_SEND_FULL) == 1,
	    "a 65507-byte answer that does not fit: dropped, counted as "
	    "send_buffer_full");
	n = exchange(&f, c, "127.0.0.1", p4, payload, 100, reply,
	    sizeof(reply), NULL);
	ok(n == 100, "a small one right after: answered");
	close(c);
	fix_stop(&f);
}

static void
test_close(void)
{
	struct fix	 f;
	unsigned	 p4;
	int		 fd, c;

	fix_init(&f);
	p4 = fix_socket(&f, "127.0.0.1", false);
	if (!ok(p4 != 0 && fix_start(&f, UDP_DATAGRAM_MAX, 0, 0),
	    "a worker for the stop"))
		return;
	fd = f.ls.ls[0].l_fd;
	udp_close(&f.w);
	ok(fcntl(fd, F_GETFD) == -1 && errno == EBADF,
	    "udp_close() closes the worker's copy of the socket");
	is_int(f.w.w_udp.ud_n, 0, "... and forgets it");
	ok(f.w.w_udp.ud_batch == NULL, "... and frees the buffers");
	is_int(event_dispatch(&f.w.w_loop, 0), 0, "... and the loop watches "
	    "nothing of it");
	c = client("127.0.0.1", "", 0);
	close(c);
	fix_stop(&f);

	/* No UDP socket: nothing allocated. */
	fix_init(&f);
	ok(fix_start(&f, UDP_DATAGRAM_MAX, 0, 0) && f.w.w_udp.ud_batch ==
	    NULL, "a worker without UDP sockets allocates nothing");
	fix_stop(&f);
	ok(udp_open(&f.w, 0) == -1 && errno == EINVAL, "udp_open(0): EINVAL");
}

int
main(void)
{
	log_init(LOG_TARGET_STDERR, LOG_DEBUG, "t-udp");
	test_payloads();
	test_source_address();
	test_guards();
	test_rate();
	test_truncated();
	test_close();
	test_send_full();	/* last: it moves to a namespace of its own */
	return done_testing();
}
