/*
 * UDP mode.  Datagrams may be lost, duplicated or reordered, so each
 * carries its sequence number (ping mode) and several may be on their
 * way at once, as with ping(8).  The socket is connected: the kernel
 * drops datagrams from anyone but the server, and reports the server's
 * ICMP errors (port unreachable: nothing listens) on the next call.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "msg.h"
#include "ping.h"
#include "udp.h"

#define UDP_MAX4	65507
#define UDP_MAX6	65527
#define UDP_RING	4096	/* datagrams remembered, by sequence number */
#define UDP_HEAD	"echo-client seq="

enum dg_state { DG_FREE, DG_WAITING, DG_ANSWERED, DG_LOST };

struct dg {
	uint64_t	 d_seq;
	uint64_t	 d_sent_at;	/* us */
	enum dg_state	 d_state;
};

struct uping {
	int			 u_fd;
	const struct client_opts *u_opts;
	const char		*u_peer;
	uint64_t		 u_size;
	char			*u_tx;
	char			*u_expect;
	char			*u_rx;		/* one more byte than fits */
	struct dg		 u_ring[UDP_RING];
	uint64_t		 u_seq;		/* last sent, from 1 */
	uint64_t		 u_oldest;	/* none older is waiting */
	uint64_t		 u_waiting;
	uint64_t		 u_next_send;
	uint64_t		 u_start;

	uint64_t		 u_transmitted;
	uint64_t		 u_received;	/* intact and in time */
	uint64_t		 u_corrupted;
	uint64_t		 u_duplicates;
	uint64_t		 u_late;
	uint64_t		 u_lost;
	uint64_t		 u_refused;	/* ICMP port unreachable */
	uint64_t		 u_unreachable;	/* ICMP host/net unreachable */
	uint64_t		 u_rtt_min, u_rtt_max;
	double			 u_rtt_sum, u_rtt_sumsq;
};

uint64_t
udp_max_payload(int family)
{
	return family == AF_INET6 ? UDP_MAX6 : UDP_MAX4;
}

static int
udp_family(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return AF_UNSPEC;
	return ss.ss_family;
}

static bool
uping_more(const struct uping *u)
{
	return u->u_opts->co_count == 0 || u->u_seq < u->u_opts->co_count;
}

/* Give up on datagrams that have waited longer than the timeout. */
static void
uping_expire(struct uping *u, uint64_t now)
{
	uint64_t	 tmo = u->u_opts->co_timeout_ms * 1000;
	struct dg	*d;
	char		 dur[32];

	for (; u->u_oldest <= u->u_seq; u->u_oldest++) {
		d = &u->u_ring[u->u_oldest % UDP_RING];
		if (d->d_seq != u->u_oldest || d->d_state != DG_WAITING)
			continue;
		if (tmo == 0 || now < d->d_sent_at + tmo)
			return;
		d->d_state = DG_LOST;
		u->u_waiting--;
		u->u_lost++;
		msg_out("seq=%" PRIu64 ": no reply within %s", d->d_seq,
		    msg_duration(u->u_opts->co_timeout_ms, dur, sizeof(dur)));
	}
}

/* When the oldest waiting datagram will be given up on; 0: never. */
static uint64_t
uping_next_expiry(const struct uping *u)
{
	const struct dg	*d;

	if (u->u_waiting == 0 || u->u_opts->co_timeout_ms == 0)
		return 0;
	d = &u->u_ring[u->u_oldest % UDP_RING];
	return d->d_sent_at + u->u_opts->co_timeout_ms * 1000;
}

/* An ICMP error the kernel reported on the socket: counted, not fatal. */
static bool
uping_icmp(struct uping *u, int err)
{
	switch (err) {
	case ECONNREFUSED:
		u->u_refused++;
		msg_out("%s: port unreachable (nothing listens there)",
		    u->u_peer);
		return true;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		u->u_unreachable++;
		msg_out("%s: %s", u->u_peer, strerror(err));
		return true;
	default:
		return false;
	}
}

static int
uping_send(struct uping *u, uint64_t now)
{
	struct dg	*d;
	int		 tries;

	u->u_seq++;
	d = &u->u_ring[u->u_seq % UDP_RING];
	if (d->d_state == DG_WAITING) {
		/* UDP_RING on their way: the oldest cannot wait longer. */
		d->d_state = DG_LOST;
		u->u_waiting--;
		u->u_lost++;
	}
	ping_fill(u->u_tx, u->u_size, u->u_seq);
	/*
	 * A pending ICMP error (from an earlier datagram) fails one send:
	 * report it and send again.
	 */
	for (tries = 0; tries < 2; tries++) {
		if (send(u->u_fd, u->u_tx, u->u_size, 0) >= 0)
			break;
		if (!uping_icmp(u, errno))
			return net_fail(errno, u->u_peer, u->u_transmitted *
			    u->u_size, u->u_received * u->u_size);
	}
	d->d_seq = u->u_seq;
	d->d_sent_at = now;
	d->d_state = DG_WAITING;
	u->u_waiting++;
	u->u_transmitted++;
	u->u_next_send = now + u->u_opts->co_interval_ms * 1000;
	return -1;
}

/*
 * Which datagram a reply answers: the number it names, or, when the
 * datagrams are too small to name it, the oldest waiting one it equals.
 */
static bool
uping_match(struct uping *u, const char *data, size_t n, uint64_t *seq)
{
	const size_t	 hl = sizeof(UDP_HEAD) - 1;
	char		 num[24];
	uint64_t	 s, v = 0;
	size_t		 i;
	struct dg	*d;

	if (n > hl && memcmp(data, UDP_HEAD, hl) == 0) {
		for (i = hl; i < n && i - hl < sizeof(num) - 1 &&
		    data[i] >= '0' && data[i] <= '9'; i++)
			v = v * 10 + (uint64_t)(data[i] - '0');
		if (i < n && data[i] == ' ' && i > hl) {
			*seq = v;
			return v >= 1 && v <= u->u_seq &&
			    u->u_seq - v < UDP_RING &&
			    u->u_ring[v % UDP_RING].d_seq == v;
		}
	}
	for (s = u->u_oldest; s <= u->u_seq && s > 0; s++) {
		d = &u->u_ring[s % UDP_RING];
		if (d->d_seq != s || d->d_state != DG_WAITING ||
		    n != u->u_size)
			continue;
		ping_fill(u->u_expect, u->u_size, s);
		if (memcmp(data, u->u_expect, n) == 0) {
			*seq = s;
			return true;
		}
	}
	return false;
}

static void
uping_reply(struct uping *u, const char *data, size_t n, uint64_t now)
{
	struct dg	*d;
	uint64_t	 seq, rtt, at;
	bool		 same;

	if (!uping_match(u, data, n, &seq)) {
		msg_out("%zu bytes from %s that answer no datagram sent",
		    n, u->u_peer);
		return;
	}
	d = &u->u_ring[seq % UDP_RING];
	ping_fill(u->u_expect, u->u_size, seq);
	same = n == u->u_size && memcmp(data, u->u_expect, n) == 0;
	rtt = now - d->d_sent_at;
	switch (d->d_state) {
	case DG_WAITING:
		d->d_state = DG_ANSWERED;
		u->u_waiting--;
		if (!same) {
			for (at = 0; at < n && at < u->u_size &&
			    data[at] == u->u_expect[at]; at++)
				continue;
			u->u_corrupted++;
			msg_out("seq=%" PRIu64 ": reply differs from "
			    "what was sent (%zu bytes back, from byte %"
			    PRIu64 " on)", seq, n, at);
			return;
		}
		u->u_received++;
		if (u->u_received == 1 || rtt < u->u_rtt_min)
			u->u_rtt_min = rtt;
		if (rtt > u->u_rtt_max)
			u->u_rtt_max = rtt;
		u->u_rtt_sum += (double)rtt;
		u->u_rtt_sumsq += (double)rtt * (double)rtt;
		if (!u->u_opts->co_quiet)
			msg_out("%zu bytes from %s: seq=%" PRIu64 " time="
			    "%.3f ms", n, u->u_peer, seq, (double)rtt / 1000);
		return;
	case DG_ANSWERED:
		u->u_duplicates++;
		if (!u->u_opts->co_quiet)
			msg_out("%zu bytes from %s: seq=%" PRIu64 " time="
			    "%.3f ms (DUP!)", n, u->u_peer, seq,
			    (double)rtt / 1000);
		return;
	case DG_LOST:
	default:
		u->u_late++;
		if (!u->u_opts->co_quiet)
			msg_out("seq=%" PRIu64 ": late reply after %.3f "
			    "ms, already counted as lost%s", seq,
			    (double)rtt / 1000, same ? "" :
			    "; and it differs from what was sent");
		return;
	}
}

/* Read every reply there is.  -1 to go on, else an exit code. */
static int
uping_receive(struct uping *u)
{
	ssize_t	 n;

	for (;;) {
		n = recv(u->u_fd, u->u_rx, u->u_size + 1, MSG_TRUNC);
		if (n >= 0) {
			uping_reply(u, u->u_rx, (size_t)n, clock_now_us());
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			return -1;
		if (!uping_icmp(u, errno))
			return net_fail(errno, u->u_peer, u->u_transmitted *
			    u->u_size, u->u_received * u->u_size);
	}
}

static void
uping_rtt_text(const struct uping *u, char *buf, size_t len)
{
	double	 n = (double)u->u_received, avg, var;

	avg = u->u_rtt_sum / n;
	var = u->u_rtt_sumsq / n - avg * avg;
	snprintf(buf, len, "%.3f/%.3f/%.3f/%.3f ms",
	    (double)u->u_rtt_min / 1000, avg / 1000,
	    (double)u->u_rtt_max / 1000, ping_sqrt(var) / 1000);
}

static unsigned
uping_loss_pct(const struct uping *u)
{
	if (u->u_transmitted == 0)
		return 0;
	return (unsigned)((u->u_transmitted - u->u_received) * 100 /
	    u->u_transmitted);
}

static void
uping_status(const struct uping *u)
{
	char	 rtt[128] = "", text[160] = "";

	if (u->u_received > 0) {
		uping_rtt_text(u, rtt, sizeof(rtt));
		snprintf(text, sizeof(text), ", min/avg/max/stddev = %s", rtt);
	}
	msg_warnx("%" PRIu64 "/%" PRIu64 " replies, %u%% loss, %" PRIu64
	    " waiting%s", u->u_received, u->u_transmitted, uping_loss_pct(u),
	    u->u_waiting, text);
}

static int
uping_summary(struct uping *u, int code, uint64_t now)
{
	char	 rtt[128], extra[128] = "";
	size_t	 off = 0;

	if (u->u_duplicates > 0)
		off += (size_t)snprintf(extra + off, sizeof(extra) - off,
		    ", +%" PRIu64 " duplicates", u->u_duplicates);
	if (u->u_corrupted > 0 && off < sizeof(extra))
		snprintf(extra + off, sizeof(extra) - off, ", %" PRIu64
		    " corrupted", u->u_corrupted);
	msg_out("--- %s echo statistics ---", u->u_opts->co_host);
	msg_out("%" PRIu64 " datagrams sent, %" PRIu64 " received%s, "
	    "%u%% loss, time %" PRIu64 "ms", u->u_transmitted, u->u_received,
	    extra, uping_loss_pct(u), (now - u->u_start) / 1000);
	if (u->u_received > 0) {
		uping_rtt_text(u, rtt, sizeof(rtt));
		msg_out("rtt min/avg/max/stddev = %s", rtt);
	}
	if (code != CLIENT_EXIT_OK)
		return code;
	if (u->u_transmitted > 0 && u->u_received == u->u_transmitted &&
	    u->u_corrupted == 0)
		return msg_out_failed() ? CLIENT_EXIT_FAILURE : CLIENT_EXIT_OK;
	if (u->u_transmitted > 0 && u->u_received == 0 &&
	    u->u_corrupted == 0) {
		if (u->u_refused > 0)
			return CLIENT_EXIT_REFUSED;
		if (u->u_unreachable > 0)
			return CLIENT_EXIT_UNREACHABLE;
		return CLIENT_EXIT_TIMEOUT;
	}
	return CLIENT_EXIT_FAILURE;
}

/* One pass of the loop.  -1 to go on, else an exit code. */
static int
uping_step(struct uping *u)
{
	struct pollfd	 pfd = { .fd = u->u_fd, .events = POLLIN };
	uint64_t	 now = clock_now_us(), deadline = 0;
	bool		 may_send;

	uping_expire(u, now);
	if (!uping_more(u) && u->u_waiting == 0)
		return CLIENT_EXIT_OK;
	/* -i 0: the next once the last is answered or lost. */
	may_send = uping_more(u) && (u->u_opts->co_interval_ms > 0 ||
	    u->u_waiting == 0);
	if (may_send && now >= u->u_next_send)
		return uping_send(u, now);
	if (may_send)
		deadline = u->u_next_send;
	deadline = clock_earliest(deadline, uping_next_expiry(u));
	if (poll(&pfd, 1, clock_poll_timeout(deadline, now)) == -1) {
		if (errno == EINTR)
			return -1;
		msg_warn("poll");
		return CLIENT_EXIT_FAILURE;
	}
	if (pfd.revents & (POLLIN | POLLERR))
		return uping_receive(u);
	return -1;
}

int
udp_ping(int fd, const struct client_opts *o, const struct net_peer *peer)
{
	struct uping	*u;
	int		 code = -1;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		msg_warn("ping state");
		return CLIENT_EXIT_FAILURE;
	}
	u->u_fd = fd;
	u->u_opts = o;
	u->u_peer = peer->np_addr;
	u->u_size = o->co_size;
	u->u_oldest = 1;
	u->u_tx = malloc(u->u_size);
	u->u_expect = malloc(u->u_size);
	u->u_rx = malloc(u->u_size + 1);
	if (u->u_tx == NULL || u->u_expect == NULL || u->u_rx == NULL) {
		msg_warn("ping buffers");
		code = CLIENT_EXIT_FAILURE;
		goto done;
	}
	u->u_start = u->u_next_send = clock_now_us();
	if (!o->co_quiet && msg_out("ECHO %s (%s): %" PRIu64 " bytes per "
	    "datagram, UDP", o->co_host, peer->np_addr, u->u_size) == -1)
		code = CLIENT_EXIT_FAILURE;

	while (code == -1 && !client_stop_signal) {
		code = uping_step(u);
		if (msg_out_failed())
			code = CLIENT_EXIT_FAILURE;
		if (client_want_status) {
			client_want_status = 0;
			uping_status(u);
		}
	}
	/* Datagrams still on their way when stopped: neither lost nor in. */
	if (client_stop_signal && code == -1)
		u->u_transmitted -= u->u_waiting;
	code = uping_summary(u, code == -1 ? CLIENT_EXIT_OK : code,
	    clock_now_us());
done:
	free(u->u_tx);
	free(u->u_expect);
	free(u->u_rx);
	free(u);
	return code;
}

/* Standard input to its end, at most max bytes: its length, or -1. */
static ssize_t
udp_read_input(char *buf, size_t max)
{
	size_t	 len = 0;
	ssize_t	 n;

	for (;;) {
		n = read(STDIN_FILENO, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR) {
			if (client_want_status) {
				client_want_status = 0;
				msg_warnx("reading standard input: %zu bytes "
				    "so far", len);
			}
			continue;
		}
		if (n == -1) {
			msg_warn("reading standard input");
			return -1;
		}
		if (n == 0)
			return (ssize_t)len;
		len += (size_t)n;
		if (len > max) {
			msg_warnx("standard input holds more than %zu bytes, "
			    "the most one UDP datagram carries here", max);
			return -1;
		}
	}
}

static int
udp_write_all(const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(STDOUT_FILENO, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			msg_warn("writing standard output");
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait for the one answer.  Its length, or -1 with *code set. */
static ssize_t
udp_await(int fd, const struct client_opts *o, const char *peer,
    char *buf, size_t size, size_t sent, uint64_t t0, int *code)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	uint64_t	 deadline = 0, now;
	ssize_t		 n;
	char		 dur[32];
	int		 r;

	if (o->co_timeout_ms != 0)
		deadline = t0 + o->co_timeout_ms * 1000;
	for (;;) {
		now = clock_now_us();
		r = poll(&pfd, 1, clock_poll_timeout(deadline, now));
		if (r == -1 && errno == EINTR) {
			if (client_want_status) {
				client_want_status = 0;
				msg_warnx("waiting for the echo of %zu bytes "
				    "from %s (%.1fs so far)", sent, peer,
				    (double)(clock_now_us() - t0) / 1e6);
			}
			continue;
		}
		if (r == -1) {
			msg_warn("poll");
			*code = CLIENT_EXIT_FAILURE;
			return -1;
		}
		if (r == 0) {
			msg_warnx("no reply from %s within %s", peer,
			    msg_duration(o->co_timeout_ms, dur, sizeof(dur)));
			*code = CLIENT_EXIT_TIMEOUT;
			return -1;
		}
		n = recv(fd, buf, size, MSG_TRUNC);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EINTR)
			continue;
		if (errno == ECONNREFUSED) {
			msg_warnx("%s: port unreachable (nothing listens "
			    "there)", peer);
			*code = CLIENT_EXIT_REFUSED;
			return -1;
		}
		*code = net_fail(errno, peer, sent, 0);
		return -1;
	}
}

int
udp_once(int fd, const struct client_opts *o, const struct net_peer *peer)
{
	size_t	 max = (size_t)udp_max_payload(udp_family(fd));
	char	*in = NULL, *out = NULL;
	ssize_t	 len, n;
	uint64_t t0;
	int	 code = CLIENT_EXIT_FAILURE;

	if ((in = malloc(max + 1)) == NULL ||
	    (out = malloc(max + 1)) == NULL) {
		msg_warn("datagram buffers");
		goto done;
	}
	if ((len = udp_read_input(in, max)) == -1)
		goto done;
	t0 = clock_now_us();
	if (send(fd, in, (size_t)len, 0) != len) {
		code = net_fail(errno, peer->np_addr, 0, 0);
		goto done;
	}
	if ((n = udp_await(fd, o, peer->np_addr, out, max + 1, (size_t)len,
	    t0, &code)) == -1)
		goto done;
	if (udp_write_all(out, (size_t)n < max + 1 ? (size_t)n : max + 1)
	    == -1)
		goto done;
	if (n != len || memcmp(in, out, (size_t)len) != 0) {
		msg_warnx("the answer from %s differs from what was sent (%zd "
		    "bytes back for %zd)", peer->np_addr, n, len);
		goto done;
	}
	msg_note("%zd bytes echoed by %s (UDP) in %.3f ms", len,
	    peer->np_addr, (double)(clock_now_us() - t0) / 1000);
	code = CLIENT_EXIT_OK;
done:
	free(in);
	free(out);
	return code;
}
