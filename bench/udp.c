/*
 * udp: datagrams of -s bytes echoed over -c sockets, each with at most
 * -j in flight, for -d seconds after -W of warm-up; datagrams per
 * second, round-trip percentiles, and what was lost.
 *
 * A datagram starts with a head (its socket's sequence number and the
 * slot it occupies) and goes on with the pattern at an offset that
 * depends on both, so an answer can be matched to what was sent and
 * checked byte for byte.  Every socket is connected, so only the
 * target's answers reach it.  Sending and receiving go in batches
 * (sendmmsg, recvmmsg).
 *
 * UDP may drop datagrams, so a loss is not an error: a datagram whose
 * answer has not come within UDP_LOST_MS counts as lost and frees its
 * slot; an intact answer that comes after that counts as late.  Errors
 * are answers that differ from any datagram sent, more late answers
 * than lost datagrams (so some came twice), failed sends, and a run in
 * which nothing came back.
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cost.h"
#include "hist.h"
#include "load.h"
#include "msg.h"
#include "pattern.h"

#define UDP_HEAD	12	/* sequence number (8), slot (4) */
#define UDP_BATCH	64	/* datagrams per sendmmsg or recvmmsg */
#define UDP_LOST_MS	1000	/* no answer by then: lost (a server that
				   forks per datagram needs most of it) */
#define UDP_SCAN_MS	10	/* how often to look for lost ones */

struct udp_slot {
	uint64_t	 us_seq;
	uint64_t	 us_sent;	/* ns; 0: the slot is free */
};

struct udp_sock {
	int		 u_fd;
	unsigned	 u_idx;		/* socket number, for the pattern */
	uint64_t	 u_seq;		/* the next datagram's number */
	struct udp_slot	*u_slots;	/* lo_parallel of them */
	unsigned	*u_free;	/* free slots, a stack */
	unsigned	 u_nfree;
	bool		 u_full;	/* the last send found no room */
};

struct udp_run {
	const struct load_opts	*ur_o;
	struct udp_sock		*ur_socks;
	struct hist		*ur_hist;
	unsigned char		*ur_buf;	/* UDP_BATCH datagrams, +1 byte each */
	struct mmsghdr		 ur_msgs[UDP_BATCH];
	struct iovec		 ur_iov[UDP_BATCH];
	uint64_t		 ur_t_meas, ur_t_end;
	bool			 ur_sending;
	uint64_t		 ur_sent, ur_answered, ur_lost;	/* in the window */
	uint64_t		 ur_late, ur_lost_all, ur_errors;
};

/* Where the pattern part of datagram seq on socket idx starts. */
static uint64_t
udp_offset(unsigned idx, uint64_t seq)
{
	return pattern_seed(idx) + seq * 131;
}

/* n bytes of v at p, least significant first. */
static void
udp_put(unsigned char *p, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
udp_get(const unsigned char *p, int n)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
udp_open(struct udp_run *r, struct udp_sock *u, unsigned idx)
{
	const struct load_opts	*o = r->ur_o;
	struct sockaddr_in	 sin;
	unsigned		 i;
	int			 bufsize;

	u->u_idx = idx;
	u->u_slots = load_calloc(o->lo_parallel, sizeof(*u->u_slots));
	u->u_free = load_calloc(o->lo_parallel, sizeof(*u->u_free));
	for (i = 0; i < o->lo_parallel; i++)
		u->u_free[i] = o->lo_parallel - 1 - i;
	u->u_nfree = o->lo_parallel;
	u->u_fd = socket(o->lo_dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (u->u_fd == -1)
		msg_fatal(LOAD_EXIT_USAGE, "socket");
	/* Room for every answer in flight, so no loss is ours. */
	bufsize = (int)(o->lo_parallel * (o->lo_size + 1024));
	if (setsockopt(u->u_fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize,
	    sizeof(bufsize)) == -1)
		(void)setsockopt(u->u_fd, SOL_SOCKET, SO_RCVBUF, &bufsize,
		    sizeof(bufsize));
	if (o->lo_nsrc > 0) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(ntohl(o->lo_src.s_addr) +
		    idx % o->lo_nsrc);
		if (bind(u->u_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			msg_fatal(LOAD_EXIT_USAGE, "bind %s",
			    inet_ntoa(sin.sin_addr));
	}
	if (connect(u->u_fd, (struct sockaddr *)&o->lo_dst, o->lo_dstlen) ==
	    -1)
		msg_fatal(LOAD_EXIT_USAGE, "connect");
}

/* Send into every free slot of u, a batch at a time, until none is free. */
static void
udp_send(struct udp_run *r, struct udp_sock *u, uint64_t now)
{
	const struct load_opts	*o = r->ur_o;
	struct udp_slot		*sl;
	unsigned char		*d;
	unsigned		 n, i, slot;
	int			 k;

	while (r->ur_sending && u->u_nfree > 0) {
		n = u->u_nfree < UDP_BATCH ? u->u_nfree : UDP_BATCH;
		for (i = 0; i < n; i++) {
			slot = u->u_free[u->u_nfree - 1 - i];
			d = r->ur_buf + i * (o->lo_size + 1);
			udp_put(d, u->u_seq + i, 8);
			udp_put(d + 8, slot, 4);
			memcpy(d + UDP_HEAD, pattern_at(udp_offset(u->u_idx,
			    u->u_seq + i)), o->lo_size - UDP_HEAD);
			r->ur_iov[i].iov_base = d;
			r->ur_iov[i].iov_len = o->lo_size;
			memset(&r->ur_msgs[i], 0, sizeof(r->ur_msgs[i]));
			r->ur_msgs[i].msg_hdr.msg_iov = &r->ur_iov[i];
			r->ur_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		k = sendmmsg(u->u_fd, r->ur_msgs, n, 0);
		if (k == -1) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				u->u_full = true;
				return;
			}
			if (errno == EINTR)
				continue;
			/* ECONNREFUSED: an ICMP error for an earlier one. */
			msg_warn("udp socket %u: sendmmsg", u->u_idx);
			r->ur_errors++;
			return;
		}
		for (i = 0; i < (unsigned)k; i++) {
			slot = u->u_free[--u->u_nfree];
			sl = &u->u_slots[slot];
			sl->us_seq = u->u_seq++;
			sl->us_sent = now;
			if (now >= r->ur_t_meas && now < r->ur_t_end)
				r->ur_sent++;
		}
		u->u_full = (unsigned)k < n;
		if (u->u_full)
			return;
	}
}

static void
udp_free_slot(struct udp_sock *u, unsigned slot)
{
	u->u_slots[slot].us_sent = 0;
	u->u_free[u->u_nfree++] = slot;
}

/* Check one answer of len bytes at d. */
static void
udp_answer(struct udp_run *r, struct udp_sock *u, const unsigned char *d,
    size_t len, bool trunc, uint64_t now)
{
	const struct load_opts	*o = r->ur_o;
	struct udp_slot		*sl;
	uint64_t		 seq;
	unsigned		 slot;

	seq = udp_get(d, 8);
	slot = (unsigned)udp_get(d + 8, 4);
	if (trunc || len != o->lo_size || seq >= u->u_seq ||
	    slot >= o->lo_parallel || pattern_check(udp_offset(u->u_idx, seq),
	    d + UDP_HEAD, len - UDP_HEAD) == -1) {
		msg_warnx("udp socket %u: an answer of %zu bytes%s is no "
		    "datagram sent", u->u_idx, len, trunc ? " (or more)" : "");
		r->ur_errors++;
		return;
	}
	sl = &u->u_slots[slot];
	if (sl->us_sent == 0 || sl->us_seq != seq) {
		r->ur_late++;
		return;
	}
	if (sl->us_sent >= r->ur_t_meas && sl->us_sent < r->ur_t_end)
		hist_add(r->ur_hist, now - sl->us_sent);
	if (now >= r->ur_t_meas && now < r->ur_t_end)
		r->ur_answered++;
	udp_free_slot(u, slot);
}

/* Take every answer waiting on u. */
static void
udp_recv(struct udp_run *r, struct udp_sock *u)
{
	const struct load_opts	*o = r->ur_o;
	uint64_t		 now;
	unsigned		 i;
	int			 k;

	for (;;) {
		for (i = 0; i < UDP_BATCH; i++) {
			r->ur_iov[i].iov_base = r->ur_buf + i * (o->lo_size + 1);
			/* One byte more, to see a longer answer. */
			r->ur_iov[i].iov_len = o->lo_size + 1;
			memset(&r->ur_msgs[i], 0, sizeof(r->ur_msgs[i]));
			r->ur_msgs[i].msg_hdr.msg_iov = &r->ur_iov[i];
			r->ur_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		k = recvmmsg(u->u_fd, r->ur_msgs, UDP_BATCH, MSG_DONTWAIT,
		    NULL);
		if (k == -1) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR)
				continue;
			msg_warn("udp socket %u: recvmmsg", u->u_idx);
			r->ur_errors++;
			return;
		}
		now = load_now_ns();
		for (i = 0; i < (unsigned)k; i++)
			udp_answer(r, u, r->ur_iov[i].iov_base,
			    r->ur_msgs[i].msg_len,
			    (r->ur_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    r->ur_msgs[i].msg_len > o->lo_size, now);
		if ((unsigned)k < UDP_BATCH)
			return;
	}
}

/* Free the slots whose answers are overdue; how many are still busy. */
static unsigned
udp_scan(struct udp_run *r, struct udp_sock *u, uint64_t now)
{
	const struct load_opts	*o = r->ur_o;
	struct udp_slot		*sl;
	unsigned		 i, busy = 0;

	for (i = 0; i < o->lo_parallel; i++) {
		sl = &u->u_slots[i];
		if (sl->us_sent == 0)
			continue;
		if (now - sl->us_sent < UDP_LOST_MS * 1000000ULL) {
			busy++;
			continue;
		}
		if (sl->us_sent >= r->ur_t_meas && sl->us_sent < r->ur_t_end)
			r->ur_lost++;
		r->ur_lost_all++;
		udp_free_slot(u, i);
	}
	return busy;
}

static void
udp_report(const struct udp_run *r, const struct cost *c, double secs)
{
	const struct load_opts	*o = r->ur_o;
	double			 rate, loss;
	uint64_t		 bytes;

	rate = (double)r->ur_answered / secs;
	loss = r->ur_sent ? 100.0 * (double)r->ur_lost / (double)r->ur_sent : 0;
	bytes = r->ur_answered * o->lo_size;
	if (o->lo_kv) {
		printf("workload=udp socks=%u size=%zu inflight=%u secs=%.2f "
		    "dgrams_per_s=%.1f sent=%" PRIu64 " answered=%" PRIu64
		    " lost=%" PRIu64 " loss_pct=%.3f late=%" PRIu64
		    " errors=%" PRIu64, o->lo_conns, o->lo_size,
		    o->lo_parallel, secs, rate, r->ur_sent, r->ur_answered,
		    r->ur_lost, loss, r->ur_late, r->ur_errors);
		hist_print(r->ur_hist, true);
		cost_print(c, bytes, bytes, true);
		printf("\n");
	} else {
		printf("udp: %u sockets, %u in flight on each, %zu-byte "
		    "datagrams, %.2f s measured: %.0f datagrams/s echoed and "
		    "verified; %" PRIu64 " of %" PRIu64 " lost (%.3f %%), "
		    "%" PRIu64 " late; %" PRIu64 " errors\n", o->lo_conns,
		    o->lo_parallel, o->lo_size, secs, rate, r->ur_lost,
		    r->ur_sent, loss, r->ur_late, r->ur_errors);
		hist_print(r->ur_hist, false);
		cost_print(c, bytes, bytes, false);
	}
}

int
load_udp(const struct load_opts *o)
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct udp_run		 r;
	struct udp_sock		*u;
	struct cost		 c;
	uint64_t		 t0, now, next_scan, wake;
	unsigned		 i, busy;
	int			 ep, k, j, ms;
	bool			 full;

	if (o->lo_size < UDP_HEAD + 4 || o->lo_size > UDP_MAX)
		msg_fatalx(LOAD_EXIT_USAGE, "-s: a datagram here is %d to %d "
		    "bytes", UDP_HEAD + 4, UDP_MAX);
	memset(&r, 0, sizeof(r));
	r.ur_o = o;
	r.ur_hist = hist_new();
	r.ur_buf = load_calloc(UDP_BATCH, o->lo_size + 1);
	r.ur_socks = load_calloc(o->lo_conns, sizeof(*r.ur_socks));
	cost_init(&c, o);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "epoll_create1");
	for (i = 0; i < o->lo_conns; i++) {
		u = &r.ur_socks[i];
		udp_open(&r, u, i);
		ev.events = EPOLLIN;
		ev.data.ptr = u;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, u->u_fd, &ev) == -1)
			msg_fatal(LOAD_EXIT_USAGE, "epoll_ctl");
	}
	t0 = load_now_ns();
	r.ur_t_meas = t0 + (uint64_t)(o->lo_warmup * NS);
	r.ur_t_end = r.ur_t_meas + (uint64_t)(o->lo_duration * NS);
	next_scan = t0 + UDP_SCAN_MS * 1000000ULL;
	r.ur_sending = true;
	for (i = 0; i < o->lo_conns; i++)
		udp_send(&r, &r.ur_socks[i], t0);
	for (;;) {
		now = load_now_ns();
		if (now >= r.ur_t_meas)
			cost_mark(&c, false);
		if (now >= r.ur_t_end) {
			cost_mark(&c, true);
			r.ur_sending = false;
		}
		if (now >= next_scan || !r.ur_sending) {
			for (busy = 0, i = 0; i < o->lo_conns; i++)
				busy += udp_scan(&r, &r.ur_socks[i], now);
			next_scan = now + UDP_SCAN_MS * 1000000ULL;
			/* Ends: every answer came or was lost. */
			if (!r.ur_sending && busy == 0)
				break;
		}
		for (full = false, i = 0; i < o->lo_conns; i++) {
			udp_send(&r, &r.ur_socks[i], now);
			full |= r.ur_socks[i].u_full;
		}
		/* Wake for the window's edges, the next scan, or a retry. */
		wake = next_scan;
		if (now < r.ur_t_meas && r.ur_t_meas < wake)
			wake = r.ur_t_meas;
		if (now < r.ur_t_end && r.ur_t_end < wake)
			wake = r.ur_t_end;
		ms = full ? 1 : load_ms_until(now, wake);
		k = epoll_wait(ep, evs, MAX_EVENTS, ms);
		if (k == -1 && errno == EINTR)
			continue;
		for (j = 0; j < k; j++) {
			u = evs[j].data.ptr;
			udp_recv(&r, u);
			udp_send(&r, u, load_now_ns());
		}
	}
	if (r.ur_late > r.ur_lost_all) {
		msg_warnx("udp: %" PRIu64 " late answers for %" PRIu64 " lost "
		    "datagrams: some came more than once", r.ur_late,
		    r.ur_lost_all);
		r.ur_errors += r.ur_late - r.ur_lost_all;
	}
	if (r.ur_answered == 0) {
		msg_warnx("udp: no datagram came back in the measured time");
		r.ur_errors++;
	}
	udp_report(&r, &c, o->lo_duration);
	for (i = 0; i < o->lo_conns; i++) {
		close(r.ur_socks[i].u_fd);
		free(r.ur_socks[i].u_slots);
		free(r.ur_socks[i].u_free);
	}
	close(ep);
	cost_free(&c);
	hist_free(r.ur_hist);
	free(r.ur_socks);
	free(r.ur_buf);
	return r.ur_errors ? LOAD_EXIT_ERRORS : LOAD_EXIT_OK;
}
