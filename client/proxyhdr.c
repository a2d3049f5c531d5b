/*
 * The PROXY header --proxy sends.  v1 is a text line, v2 a binary
 * block; both as HAProxy's send-proxy and send-proxy-v2 write them for
 * a TCP connection.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "msg.h"
#include "net.h"
#include "parse.h"
#include "proxyhdr.h"

static const uint8_t v2_signature[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V2_PROXY_TCP	0x21	/* version 2, command PROXY */
#define V2_TCP4		0x11
#define V2_TCP6		0x21

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t
proxyhdr_build(int version, const struct sockaddr *src,
    const struct sockaddr *dst, uint8_t *buf)
{
	const struct sockaddr_in	*s4, *d4;
	const struct sockaddr_in6	*s6, *d6;
	char				 sa[INET6_ADDRSTRLEN];
	char				 da[INET6_ADDRSTRLEN];
	size_t				 alen;
	int				 n;

	if (src->sa_family != dst->sa_family ||
	    (src->sa_family != AF_INET && src->sa_family != AF_INET6))
		return 0;
	s4 = (const struct sockaddr_in *)(const void *)src;
	d4 = (const struct sockaddr_in *)(const void *)dst;
	s6 = (const struct sockaddr_in6 *)(const void *)src;
	d6 = (const struct sockaddr_in6 *)(const void *)dst;
	if (version == 1) {
		if (src->sa_family == AF_INET) {
			inet_ntop(AF_INET, &s4->sin_addr, sa, sizeof(sa));
			inet_ntop(AF_INET, &d4->sin_addr, da, sizeof(da));
			n = snprintf((char *)buf, PROXYHDR_MAX,
			    "PROXY TCP4 %s %s %u %u\r\n", sa, da,
			    ntohs(s4->sin_port), ntohs(d4->sin_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, sa, sizeof(sa));
			inet_ntop(AF_INET6, &d6->sin6_addr, da, sizeof(da));
			n = snprintf((char *)buf, PROXYHDR_MAX,
			    "PROXY TCP6 %s %s %u %u\r\n", sa, da,
			    ntohs(s6->sin6_port), ntohs(d6->sin6_port));
		}
		/* Two full IPv6 addresses and ports come to 104 bytes. */
		return n > 0 && n < PROXYHDR_MAX ? (size_t)n : 0;
	}
	memcpy(buf, v2_signature, sizeof(v2_signature));
	buf[12] = V2_PROXY_TCP;
	if (src->sa_family == AF_INET) {
		buf[13] = V2_TCP4;
		alen = 4;
		memcpy(buf + 16, &s4->sin_addr, alen);
		memcpy(buf + 16 + alen, &d4->sin_addr, alen);
		memcpy(buf + 16 + 2 * alen, &s4->sin_port, 2);
		memcpy(buf + 18 + 2 * alen, &d4->sin_port, 2);
	} else {
		buf[13] = V2_TCP6;
		alen = 16;
		memcpy(buf + 16, &s6->sin6_addr, alen);
		memcpy(buf + 16 + alen, &d6->sin6_addr, alen);
		memcpy(buf + 16 + 2 * alen, &s6->sin6_port, 2);
		memcpy(buf + 18 + 2 * alen, &d6->sin6_port, 2);
	}
	put16(buf + 14, (uint16_t)(2 * alen + 4));
	return 16 + 2 * alen + 4;
}

int
proxyhdr_send(int fd, const struct client_opts *o, const char *peer)
{
	struct sockaddr_storage	 src, dst;
	socklen_t		 slen = sizeof(src), dlen = sizeof(dst);
	struct pollfd		 pfd = { .fd = fd, .events = POLLOUT };
	uint8_t			 hdr[PROXYHDR_MAX];
	uint64_t		 deadline = 0;
	size_t			 len, off = 0;
	char			 client[64];
	ssize_t			 n;

	if (o->co_proxy_src_set)
		memcpy(&src, &o->co_proxy_src, sizeof(src));
	else if (getsockname(fd, (struct sockaddr *)&src, &slen) == -1) {
		msg_warn("getsockname");
		return CLIENT_EXIT_FAILURE;
	}
	if (getpeername(fd, (struct sockaddr *)&dst, &dlen) == -1)
		return net_fail(errno, peer, 0, 0);
	if ((len = proxyhdr_build(o->co_proxy, (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, hdr)) == 0) {
		msg_warnx("cannot name an %s client in a PROXY header for a "
		    "connection over %s", src.ss_family == AF_INET ? "IPv4" :
		    "IPv6", dst.ss_family == AF_INET ? "IPv4" : "IPv6");
		return CLIENT_EXIT_FAILURE;
	}
	addr_format((struct sockaddr *)&src, client, sizeof(client));
	if (o->co_timeout_ms != 0)
		deadline = clock_now_us() + o->co_timeout_ms * 1000;
	while (off < len) {
		n = send(fd, hdr + off, len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return net_fail(errno, peer, 0, 0);
		n = poll(&pfd, 1, clock_poll_timeout(deadline,
		    clock_now_us()));
		if (n == 0) {
			msg_warnx("timed out sending the PROXY header to %s",
			    peer);
			return CLIENT_EXIT_TIMEOUT;
		}
	}
	msg_note("sent a PROXY v%d header naming %s as the client",
	    o->co_proxy, client);
	return 0;
}
