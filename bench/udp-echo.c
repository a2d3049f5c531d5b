/*
 * udp-echo: a bare recvmmsg/sendmmsg UDP echo loop.
 *
 * A REFERENCE for bench/run, not a product: no guards, no rate limit,
 * no logging.  It stands for the most a single process gets from the
 * kernel's batch calls, so the table can show what echod's UDP echo
 * adds or costs.
 *
 * usage: udp-echo PORT   (listens on 127.0.0.1)
 *
 * One blocking socket: take up to BATCH datagrams once at least one
 * has come, send each back to where it came from, repeat.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH		64
#define DGRAM_MAX	65536

static unsigned char		 bufs[BATCH][DGRAM_MAX];
static struct sockaddr_storage	 from[BATCH];
static struct iovec		 iov[BATCH];
static struct mmsghdr		 msgs[BATCH];

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	int			 fd, n, done, k, i;

	if (argc != 2) {
		fprintf(stderr, "usage: udp-echo PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("udp-echo");
		return 1;
	}
	for (;;) {
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = DGRAM_MAX;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			perror("udp-echo: recvmmsg");
			return 1;
		}
		/* The same headers, each now sized to what came. */
		for (i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		for (done = 0; done < n; done += k) {
			k = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
			if (k == -1) {
				if (errno == EINTR) {
					k = 0;
					continue;
				}
				/* A peer gone (ICMP): skip its datagram. */
				k = 1;
			}
		}
	}
}
