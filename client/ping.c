/*
 * Ping mode.  One message is in flight at a time; one that gets no reply
 * within the timeout counts as lost and the next goes out, and if its
 * echo still turns up later it is checked and reported as late.  The
 * bytes come back in order, so the offset in the echoed stream tells
 * which message they belong to.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "msg.h"
#include "ping.h"

struct ping {
	int			 p_fd;
	const struct client_opts *p_opts;
	const char		*p_peer;
	uint64_t		 p_size;
	char			*p_tx;		/* the message being sent */
	char			*p_expect;	/* p_expect_seq's bytes */
	uint64_t		 p_expect_seq;

	uint64_t		 p_seq;		/* last one started, from 1 */
	uint64_t		 p_tx_off;	/* bytes of it sent */
	bool			 p_answered;	/* replied to, or given up */
	uint64_t		 p_sent_at;
	uint64_t		 p_next_send;
	uint64_t		 p_tx_bytes;
	uint64_t		 p_rx_bytes;
	bool			 p_rx_bad;	/* reply being read differs */
	uint64_t		 p_rx_bad_at;

	uint64_t		 p_transmitted;
	uint64_t		 p_received;	/* intact and in time */
	uint64_t		 p_corrupted;
	uint64_t		 p_timeouts;
	uint64_t		 p_rtt_min, p_rtt_max;	/* microseconds */
	double			 p_rtt_sum, p_rtt_sumsq;
	uint64_t		 p_start;
};

void
ping_fill(char *buf, uint64_t size, uint64_t seq)
{
	static const char	 alpha[] =
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	char			 head[48];
	uint64_t		 i, hlen;
	int			 n;

	n = snprintf(head, sizeof(head), "echo-client seq=%llu ",
	    (unsigned long long)seq);
	hlen = (uint64_t)n < size ? (uint64_t)n : size;
	memcpy(buf, head, hlen);
	for (i = hlen; i < size; i++)
		buf[i] = alpha[(i + seq) % (sizeof(alpha) - 1)];
	if (size > 1)
		buf[size - 1] = '\n';
}

double
ping_sqrt(double x)
{
	double	 r, next;
	int	 i;

	if (x <= 0)
		return 0;
	r = x > 1 ? x : 1;
	for (i = 0; i < 200; i++) {
		next = (r + x / r) / 2;
		if (next >= r)
			break;
		r = next;
	}
	return r;
}

static void
ping_reply(struct ping *p, uint64_t seq, uint64_t now)
{
	unsigned long long	 s = seq, at = p->p_rx_bad_at;
	uint64_t		 rtt;

	if (seq != p->p_seq || p->p_answered) {
		if (!p->p_opts->co_quiet)
			msg_out("seq=%llu: late reply, already counted as "
			    "lost%s", s, p->p_rx_bad ? "; and it differs from "
			    "what was sent" : "");
		return;
	}
	p->p_answered = true;
	if (p->p_rx_bad) {
		p->p_corrupted++;
		msg_out("seq=%llu: reply differs from what was sent, "
		    "from byte %llu on", s, at);
		return;
	}
	rtt = now - p->p_sent_at;
	p->p_received++;
	if (p->p_received == 1 || rtt < p->p_rtt_min)
		p->p_rtt_min = rtt;
	if (rtt > p->p_rtt_max)
		p->p_rtt_max = rtt;
	p->p_rtt_sum += (double)rtt;
	p->p_rtt_sumsq += (double)rtt * (double)rtt;
	if (!p->p_opts->co_quiet)
		msg_out("%llu bytes from %s: seq=%llu time=%.3f ms",
		    (unsigned long long)p->p_size, p->p_peer, s,
		    (double)rtt / 1000);
}

/* Check echoed bytes.  Returns 0, or -1 if more came back than was sent. */
static int
ping_consume(struct ping *p, const char *data, size_t n, uint64_t now)
{
	uint64_t	 seq, pos, take, i;

	if (p->p_rx_bytes + n > p->p_tx_bytes) {
		msg_warnx("%s sent back %llu bytes more than it was sent; it "
		    "is not an echo server", p->p_peer,
		    (unsigned long long)(p->p_rx_bytes + n - p->p_tx_bytes));
		return -1;
	}
	while (n > 0) {
		seq = p->p_rx_bytes / p->p_size + 1;
		pos = p->p_rx_bytes % p->p_size;
		take = p->p_size - pos < n ? p->p_size - pos : n;
		if (p->p_expect_seq != seq) {
			ping_fill(p->p_expect, p->p_size, seq);
			p->p_expect_seq = seq;
		}
		if (pos == 0)
			p->p_rx_bad = false;
		if (!p->p_rx_bad &&
		    memcmp(data, p->p_expect + pos, take) != 0) {
			for (i = 0; data[i] == p->p_expect[pos + i]; i++)
				continue;
			p->p_rx_bad = true;
			p->p_rx_bad_at = pos + i;
		}
		p->p_rx_bytes += take;
		data += take;
		n -= take;
		if (pos + take == p->p_size)
			ping_reply(p, seq, now);
	}
	return 0;
}

static void
ping_start_next(struct ping *p, uint64_t now)
{
	p->p_seq++;
	ping_fill(p->p_tx, p->p_size, p->p_seq);
	p->p_tx_off = 0;
	p->p_answered = false;
	p->p_sent_at = now;
	p->p_next_send = now + p->p_opts->co_interval_ms * 1000;
	p->p_transmitted++;
}

static void
ping_rtt_text(const struct ping *p, char *buf, size_t len)
{
	double	 n = (double)p->p_received, avg, var;

	avg = p->p_rtt_sum / n;
	var = p->p_rtt_sumsq / n - avg * avg;
	snprintf(buf, len, "%.3f/%.3f/%.3f/%.3f ms",
	    (double)p->p_rtt_min / 1000, avg / 1000,
	    (double)p->p_rtt_max / 1000, ping_sqrt(var) / 1000);
}

static unsigned
ping_loss_pct(const struct ping *p)
{
	if (p->p_transmitted == 0)
		return 0;
	return (unsigned)((p->p_transmitted - p->p_received) * 100 /
	    p->p_transmitted);
}

static void
ping_status(const struct ping *p)
{
	char	 rtt[128];

	if (p->p_received == 0) {
		msg_warnx("%llu/%llu replies, %u%% loss",
		    (unsigned long long)p->p_received,
		    (unsigned long long)p->p_transmitted, ping_loss_pct(p));
		return;
	}
	ping_rtt_text(p, rtt, sizeof(rtt));
	msg_warnx("%llu/%llu replies, %u%% loss, min/avg/max/stddev = %s",
	    (unsigned long long)p->p_received,
	    (unsigned long long)p->p_transmitted, ping_loss_pct(p), rtt);
}

/*
 * Print the summary and return the exit code: 'code' if the run failed,
 * else the verdict on the replies.  As in stream mode, an output error
 * turns only success into a failure; a more specific one stays.
 */
static int
ping_summary(struct ping *p, int code, uint64_t now)
{
	char	 rtt[128], corrupt[64] = "";

	if (p->p_corrupted > 0)
		snprintf(corrupt, sizeof(corrupt), ", %llu corrupted",
		    (unsigned long long)p->p_corrupted);
	msg_out("--- %s echo statistics ---", p->p_opts->co_host);
	msg_out("%llu messages sent, %llu received%s, %u%% loss, "
	    "time %llums", (unsigned long long)p->p_transmitted,
	    (unsigned long long)p->p_received, corrupt, ping_loss_pct(p),
	    (unsigned long long)((now - p->p_start) / 1000));
	if (p->p_received > 0) {
		ping_rtt_text(p, rtt, sizeof(rtt));
		msg_out("rtt min/avg/max/stddev = %s", rtt);
	}
	if (code != CLIENT_EXIT_OK)
		return code;
	if (p->p_transmitted > 0 && p->p_received == p->p_transmitted)
		return msg_out_failed() ? CLIENT_EXIT_FAILURE : CLIENT_EXIT_OK;
	if (p->p_transmitted > 0 && p->p_timeouts == p->p_transmitted)
		return CLIENT_EXIT_TIMEOUT;
	return CLIENT_EXIT_FAILURE;
}

static bool
ping_more(const struct ping *p)
{
	return p->p_opts->co_count == 0 || p->p_seq < p->p_opts->co_count;
}

/* One pass of the loop.  Returns -1 to go on, else an exit code. */
static int
ping_step(struct ping *p)
{
	static char	 rx[64 * 1024];
	struct pollfd	 pfd = { .fd = p->p_fd, .events = POLLIN };
	uint64_t	 now = clock_now_us(), deadline = 0;
	ssize_t		 n;
	int		 err;
	char		 dur[32];

	if (!p->p_answered && p->p_opts->co_timeout_ms != 0 &&
	    now >= p->p_sent_at + p->p_opts->co_timeout_ms * 1000) {
		p->p_answered = true;
		p->p_timeouts++;
		msg_out("seq=%llu: no reply within %s",
		    (unsigned long long)p->p_seq, msg_duration(
		    p->p_opts->co_timeout_ms, dur, sizeof(dur)));
	}
	if (p->p_answered && !ping_more(p))
		return CLIENT_EXIT_OK;
	if (p->p_answered && p->p_tx_off == p->p_size) {
		if (now >= p->p_next_send)
			ping_start_next(p, now);
		else
			deadline = p->p_next_send;
	}
	if (!p->p_answered && p->p_opts->co_timeout_ms != 0)
		deadline = clock_earliest(deadline,
		    p->p_sent_at + p->p_opts->co_timeout_ms * 1000);
	if (p->p_tx_off < p->p_size)
		pfd.events |= POLLOUT;

	if (poll(&pfd, 1, clock_poll_timeout(deadline, now)) == -1) {
		if (errno == EINTR)
			return -1;
		msg_warn("poll");
		return CLIENT_EXIT_FAILURE;
	}
	now = clock_now_us();
	if (pfd.revents & POLLERR && (err = net_pending_error(p->p_fd)) != 0)
		return net_fail(err, p->p_peer, p->p_tx_bytes, p->p_rx_bytes);
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
		n = recv(p->p_fd, rx, sizeof(rx), 0);
		if (n == 0) {
			msg_warnx("server terminated prematurely: %s closed "
			    "the connection after %llu of %llu bytes came back",
			    p->p_peer, (unsigned long long)p->p_rx_bytes,
			    (unsigned long long)p->p_tx_bytes);
			return CLIENT_EXIT_CLOSED;
		}
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return net_fail(errno, p->p_peer, p->p_tx_bytes,
			    p->p_rx_bytes);
		if (n > 0 && ping_consume(p, rx, (size_t)n, now) == -1)
			return CLIENT_EXIT_FAILURE;
	}
	if (pfd.revents & POLLOUT) {
		n = send(p->p_fd, p->p_tx + p->p_tx_off,
		    p->p_size - p->p_tx_off, MSG_NOSIGNAL);
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return net_fail(errno, p->p_peer, p->p_tx_bytes,
			    p->p_rx_bytes);
		if (n > 0) {
			p->p_tx_off += (uint64_t)n;
			p->p_tx_bytes += (uint64_t)n;
		}
	}
	return -1;
}

int
ping_run(int fd, const struct client_opts *o,
    const struct net_peer *peer)
{
	struct ping	 ping, *p = &ping;
	int		 code = -1, one = 1;

	memset(p, 0, sizeof(*p));
	p->p_fd = fd;
	p->p_opts = o;
	p->p_peer = peer->np_addr;
	p->p_size = o->co_size;
	p->p_tx_off = p->p_size;
	p->p_answered = true;
	p->p_tx = malloc(p->p_size);
	p->p_expect = malloc(p->p_size);
	if (p->p_tx == NULL || p->p_expect == NULL) {
		msg_warn("ping buffers");
		code = CLIENT_EXIT_FAILURE;
		goto done;
	}
	/*
	 * A message larger than one segment must not wait for the ACK of
	 * the rest (Nagle), or the round trip would include a delayed ACK.
	 */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		msg_warn("TCP_NODELAY; round-trip times may be too long");
	p->p_start = p->p_next_send = clock_now_us();
	if (!o->co_quiet && msg_out("ECHO %s (%s): %llu bytes per "
	    "message, connected in %.3f ms", o->co_host, peer->np_addr,
	    (unsigned long long)p->p_size,
	    (double)peer->np_connect_us / 1000) == -1)
		code = CLIENT_EXIT_FAILURE;

	while (code == -1 && !client_stop_signal) {
		code = ping_step(p);
		/* The output is what ping mode is for: stop, as stream mode. */
		if (msg_out_failed())
			code = CLIENT_EXIT_FAILURE;
		if (client_want_status) {
			client_want_status = 0;
			ping_status(p);
		}
	}
	/* A message still on its way when stopped is neither lost nor in. */
	if (client_stop_signal && code == -1 && !p->p_answered)
		p->p_transmitted--;
	code = ping_summary(p, code == -1 ? CLIENT_EXIT_OK : code,
	    clock_now_us());
done:
	free(p->p_tx);
	free(p->p_expect);
	return code;
}
