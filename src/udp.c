/*
 * UDP echo in a worker: read in batches, judge, answer in batches.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "ratelimit.h"
#include "udp.h"
#include "worker.h"

#define UDP_PAUSE_MS	500	/* after an unexpected error; shorter */
				/* than LOG_BURST_QUIET_MS */
#define UDP_IFACES_MS	10000	/* interfaces come and go: read again */
/* Room for IPV6_PKTINFO and IP_PKTINFO (dual-stack), and whatever else
 * a passed socket was set to report (timestamps...). */
#define UDP_CMSG_RX	256

union udp_cmsg_rx {
	struct cmsghdr	 align;
	char		 buf[UDP_CMSG_RX];
};

union udp_cmsg_tx {
	struct cmsghdr	 align;
	char		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

/* One batch: datagrams read, then the answers, which point into them. */
struct udp_batch {
	size_t			 ub_size;	/* bytes per datagram buffer */
	unsigned char		*ub_data;	/* UDP_BATCH buffers */
	struct mmsghdr		 ub_rx[UDP_BATCH];
	struct iovec		 ub_rx_iov[UDP_BATCH];
	struct sockaddr_storage	 ub_src[UDP_BATCH];
	union udp_cmsg_rx	 ub_rx_cmsg[UDP_BATCH];
	struct mmsghdr		 ub_tx[UDP_BATCH];
	struct iovec		 ub_tx_iov[UDP_BATCH];
	union udp_cmsg_tx	 ub_tx_cmsg[UDP_BATCH];
	struct udp_arrival	 ub_tx_arr[UDP_BATCH];	/* for messages */
};

/* log_burst() names, one per reason. */
static const char *const burst_names[UDP_NVERDICTS] = {
	[UDP_PASS] = "UDP",
	[UDP_DROP_SOURCE_PORT] = "UDP source_port",
	[UDP_DROP_SOURCE_ADDRESS] = "UDP source_address",
	[UDP_DROP_DESTINATION] = "UDP destination",
	[UDP_DROP_RATE] = "UDP rate_limit",
	[UDP_DROP_TRUNCATED] = "UDP truncated",
	[UDP_DROP_SEND_FULL] = "UDP send_buffer_full",
	[UDP_DROP_SEND_ERROR] = "UDP send_error",
};

static void	udp_on_event(struct event_loop *, struct event *, unsigned);

static const char *
udp_name(const struct udp_socket *us, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);

	if (getsockname(us->us_ev.ev_fd, (struct sockaddr *)&ss, &sl) == -1)
		snprintf(buf, len, "fd %d", us->us_ev.ev_fd);
	else
		addr_format((struct sockaddr *)&ss, buf, len);
	return buf;
}

static void
udp_pause(struct worker *w, struct udp_socket *us)
{
	(void)event_del(&w->w_loop, &us->us_ev);
	us->us_resume_at = w->w_loop.el_now + UDP_PAUSE_MS;
}

/* Add every socket not in the loop and not paused. */
static void
udp_watch(struct worker *w)
{
	struct udp_state	*ud = &w->w_udp;
	struct udp_socket	*us;
	char			 name[72];
	size_t			 i;

	for (i = 0; i < ud->ud_n; i++) {
		us = &ud->ud_s[i];
		if (us->us_ev.ev_added || us->us_resume_at != 0)
			continue;
		/* EXCLUSIVE: one datagram wakes one worker. */
		if (event_add(&w->w_loop, &us->us_ev, EV_WANT_READ |
		    EV_EXCLUSIVE) == -1) {
			log_burst(&ud->ud_err_burst, w->w_loop.el_now, "cannot "
			    "watch UDP socket %s: %s; retrying every %d ms",
			    udp_name(us, name, sizeof(name)), strerror(errno),
			    UDP_PAUSE_MS);
			udp_pause(w, us);
		}
	}
}

int
udp_open(struct worker *w, size_t datagram_max)
{
	struct udp_state	*ud = &w->w_udp;
	const struct listen_set	*ls = w->w_args->wa_listeners;
	struct udp_batch	*b;
	struct udp_socket	*us;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	size_t			 i, n;

	for (i = 0; i < UDP_NVERDICTS; i++)
		ud->ud_burst[i].lb_what = burst_names[i];
	ud->ud_err_burst.lb_what = "UDP";
	ud->ud_n = 0;
	if (datagram_max == 0 || datagram_max > UDP_DATAGRAM_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (listen_count(ls, LISTEN_UDP) == 0)
		return 0;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -1;
	b->ub_size = datagram_max;
	if ((b->ub_data = malloc(UDP_BATCH * datagram_max)) == NULL) {
		free(b);
		return -1;
	}
	for (i = 0; i < UDP_BATCH; i++) {
		b->ub_rx_iov[i].iov_base = b->ub_data + i * datagram_max;
		b->ub_rx_iov[i].iov_len = datagram_max;
	}
	ud->ud_batch = b;
	for (i = 0, n = 0; i < ls->n; i++) {
		if (ls->ls[i].l_kind != LISTEN_UDP)
			continue;
		sl = sizeof(ss);
		if (getsockname(ls->ls[i].l_fd, (struct sockaddr *)&ss, &sl)
		    == -1 || (ss.ss_family != AF_INET &&
		    ss.ss_family != AF_INET6)) {
			log_warnx("UDP socket %s: cannot tell its address; not "
			    "serving it", ls->ls[i].l_name);
			continue;
		}
		us = &ud->ud_s[n++];
		memset(us, 0, sizeof(*us));
		event_set(&us->us_ev, ls->ls[i].l_fd, udp_on_event);
		us->us_family = ss.ss_family;
		us->us_port = ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port;
	}
	ud->ud_n = n;
	udp_watch(w);
	return 0;
}

void
udp_start(struct worker *w)
{
	if (udp_open(w, UDP_DATAGRAM_MAX) == -1)
		log_warn("no memory for UDP buffers; not serving UDP");
}

void
udp_close(struct worker *w)
{
	struct udp_state	*ud = &w->w_udp;
	size_t			 i;

	/*
	 * As for listeners (accept_close()): the other workers share these
	 * sockets, so close() alone would leave them in our epoll set.
	 */
	for (i = 0; i < ud->ud_n; i++) {
		(void)event_del(&w->w_loop, &ud->ud_s[i].us_ev);
		close(ud->ud_s[i].us_ev.ev_fd);
	}
	ud->ud_n = 0;
	if (ud->ud_batch != NULL) {
		free(ud->ud_batch->ub_data);
		free(ud->ud_batch);
		ud->ud_batch = NULL;
	}
}

uint64_t
udp_tick(struct worker *w)
{
	struct udp_state	*ud = &w->w_udp;
	uint64_t		 next = UINT64_MAX, t, now = w->w_loop.el_now;
	bool			 resume = false;
	size_t			 i;

	for (i = 0; i < ud->ud_n; i++) {
		t = ud->ud_s[i].us_resume_at;
		if (t == 0)
			continue;
		if (t <= now) {
			ud->ud_s[i].us_resume_at = 0;
			resume = true;
		} else if (t < next)
			next = t;
	}
	if (resume)
		udp_watch(w);
	for (i = 0; i < UDP_NVERDICTS; i++)
		if ((t = log_burst_tick(&ud->ud_burst[i], now)) < next)
			next = t;
	if ((t = log_burst_tick(&ud->ud_err_burst, now)) < next)
		next = t;
	return next;
}

/*
 * Interfaces come and go: read them again now and then, on the first
 * datagram after UDP_IFACES_MS, so that an idle worker never wakes for
 * it.  Under systemd's sandbox (no AF_NETLINK, or a private network
 * namespace) the list is empty or not the host's; the guard then knows
 * the limited broadcast and lo only, and the kernel's own verdicts cover
 * the rest (ipi_spec_dst, and EACCES on sending to a broadcast).
 */
static void
udp_ifaces_refresh(struct worker *w)
{
	struct udp_state	*ud = &w->w_udp;

	if (ud->ud_ifs_at != 0 &&
	    w->w_loop.el_now - ud->ud_ifs_at < UDP_IFACES_MS)
		return;
	ud->ud_ifs_at = w->w_loop.el_now | 1;
	if (udp_guard_ifaces_load(&ud->ud_ifs) == -1) {
		if (!ud->ud_ifs_failed)
			log_debug("cannot list the network interfaces (%s); "
			    "the UDP guard knows the limited broadcast "
			    "address and lo only", strerror(errno));
		ud->ud_ifs_failed = true;
	} else if (ud->ud_ifs.ui_truncated && !ud->ud_ifs_failed) {
		log_debug("more interfaces than the UDP guard lists; the "
		    "kernel's verdicts cover the others");
		ud->ud_ifs_failed = true;
	}
}

/* The destination of a datagram, as text. */
static void
udp_arrival_text(const struct udp_arrival *arr, char *buf, size_t len)
{
	if (arr->ua_family == AF_INET)
		inet_ntop(AF_INET, &arr->ua_dst4, buf, (socklen_t)len);
	else if (arr->ua_family == AF_INET6)
		inet_ntop(AF_INET6, &arr->ua_dst6, buf, (socklen_t)len);
	else
		snprintf(buf, len, "an unknown address");
}

/*
 * Count 'n' datagrams not answered for v, and log the first of a burst
 * with 'why' (NULL: count only; rate drops are logged per network).
 */
static void
udp_drop(struct worker *w, enum udp_verdict v, unsigned n,
    const struct sockaddr *src, const struct udp_arrival *arr,
    const char *why)
{
	struct log_burst	*b = &w->w_udp.ud_burst[v];
	char			 from[72], to[INET6_ADDRSTRLEN];

	stat_add(&w->w_stats->ws_udp_dropped[v], n);
	if (why == NULL)
		return;
	/* Inside a burst only the count moves: spare the formatting. */
	if (b->lb_count > 0) {
		log_burst(b, w->w_loop.el_now, "%s", why);
		return;
	}
	addr_format(src, from, sizeof(from));
	udp_arrival_text(arr, to, sizeof(to));
	if (n == 1)
		log_burst(b, w->w_loop.el_now, "no answer to %s (sent to %s): "
		    "%s", from, to, why);
	else
		log_burst(b, w->w_loop.el_now, "no answer to %s (sent to %s) "
		    "and %u more: %s", from, to, n - 1, why);
}

/* Whether the source port is one of our UDP sockets' ports. */
static bool
udp_own_port(const struct udp_state *ud, const struct sockaddr *src)
{
	in_port_t	 port;
	size_t		 i;

	port = src->sa_family == AF_INET ?
	    ((const struct sockaddr_in *)(const void *)src)->sin_port :
	    ((const struct sockaddr_in6 *)(const void *)src)->sin6_port;
	for (i = 0; i < ud->ud_n; i++)
		if (ud->ud_s[i].us_port == port)
			return true;
	return false;
}

/* Guards, then the rate table.  *why: for the log, NULL not to log. */
static enum udp_verdict
udp_judge(struct worker *w, const struct sockaddr *src,
    const struct udp_arrival *arr, const char **why)
{
	struct udp_state	*ud = &w->w_udp;
	struct ratelimit	*rl = w->w_args->wa_rate;
	enum udp_verdict	 v;
	char			 net[RATELIMIT_NETWORK_LEN];

	/*
	 * Two echo services answering each other's port bounce one
	 * datagram for ever; ours above min_source_port (7007...) too,
	 * and so does a forged datagram from our own address and port.
	 */
	if ((src->sa_family == AF_INET || src->sa_family == AF_INET6) &&
	    udp_own_port(ud, src)) {
		*why = "source port of one of echod's UDP sockets (an echo "
		    "loop)";
		return UDP_DROP_SOURCE_PORT;
	}
	v = udp_guard_check(src, arr, udp_guard_ifaces_loopback(&ud->ud_ifs,
	    arr->ua_ifindex), &ud->ud_ifs, w->w_cfg->udp_min_source_port, why);
	if (v != UDP_PASS || rl == NULL)
		return v;
	*why = NULL;
	switch (ratelimit_take(rl, src, w->w_loop.el_now)) {
	case RATELIMIT_PASS:
		return UDP_PASS;
	case RATELIMIT_DROP_FIRST:
		if (ratelimit_network(src, net, sizeof(net)) == -1)
			snprintf(net, sizeof(net), "a network");
		log_burst(&ud->ud_burst[UDP_DROP_RATE], w->w_loop.el_now,
		    "%s sends more than %u datagrams/s (burst %u); its excess "
		    "goes unanswered", net, w->w_cfg->udp_rate_limit,
		    w->w_cfg->udp_rate_burst);
		return UDP_DROP_RATE;
	case RATELIMIT_DROP:
	default:
		return UDP_DROP_RATE;
	}
}

/*
 * Make answer k of the batch: the payload of datagram i back to its
 * source, from the address it was sent to.  On a wildcard socket the
 * kernel would otherwise pick the source address by route, and a
 * multi-homed host would answer from an address the client did not
 * talk to.  The interface is left to the route (asymmetric routing
 * works), except for a link-local address, which needs it.
 */
static void
udp_answer_prepare(struct udp_batch *b, unsigned k, unsigned i,
    const struct udp_socket *us, const struct udp_arrival *arr)
{
	struct msghdr		*rx = &b->ub_rx[i].msg_hdr;
	struct msghdr		*tx = &b->ub_tx[k].msg_hdr;
	struct cmsghdr		*cm;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;

	b->ub_tx_iov[k].iov_base = b->ub_rx_iov[i].iov_base;
	b->ub_tx_iov[k].iov_len = b->ub_rx[i].msg_len;
	memset(tx, 0, sizeof(*tx));
	tx->msg_name = rx->msg_name;
	tx->msg_namelen = rx->msg_namelen;
	tx->msg_iov = &b->ub_tx_iov[k];
	tx->msg_iovlen = 1;
	memset(&b->ub_tx_cmsg[k], 0, sizeof(b->ub_tx_cmsg[k]));
	tx->msg_control = b->ub_tx_cmsg[k].buf;
	b->ub_tx_arr[k] = *arr;
	cm = (struct cmsghdr *)(void *)b->ub_tx_cmsg[k].buf;
	if (us->us_family == AF_INET) {
		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = arr->ua_dst4;
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		tx->msg_controllen = CMSG_SPACE(sizeof(pi));
		return;
	}
	memset(&pi6, 0, sizeof(pi6));
	if (arr->ua_family == AF_INET) {
		/* An IPv4 client of a dual-stack socket: Linux sends to
		 * its mapped address over IPv4, from ::ffff:our-address. */
		pi6.ipi6_addr.s6_addr[10] = 0xff;
		pi6.ipi6_addr.s6_addr[11] = 0xff;
		memcpy(&pi6.ipi6_addr.s6_addr[12], &arr->ua_dst4, 4);
	} else {
		pi6.ipi6_addr = arr->ua_dst6;
		if (IN6_IS_ADDR_LINKLOCAL(&arr->ua_dst6))
			pi6.ipi6_ifindex = arr->ua_ifindex;
	}
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(cm), &pi6, sizeof(pi6));
	tx->msg_controllen = CMSG_SPACE(sizeof(pi6));
}

/* Send answers 0 to n - 1; never wait. */
static void
udp_answer_send(struct worker *w, struct udp_socket *us, unsigned n)
{
	struct udp_batch	*b = w->w_udp.ud_batch;
	struct msghdr		*m;
	uint64_t		 echoed = 0, bytes = 0;
	unsigned		 i = 0, j;
	int			 r, err;
	char			 why[128];

	while (i < n) {
		r = sendmmsg(us->us_ev.ev_fd, &b->ub_tx[i], n - i,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			for (j = i; j < i + (unsigned)r; j++)
				bytes += b->ub_tx[j].msg_len;
			echoed += (unsigned)r;
			i += (unsigned)r;
			continue;
		}
		err = r == -1 ? errno : EIO;
		m = &b->ub_tx[i].msg_hdr;
		switch (err) {
		case EINTR:
			continue;
		case EAGAIN:
		case ENOBUFS:
			/*
			 * The send buffer is the socket's: the rest of the
			 * batch would fail alike.  Drop it, read on.
			 */
			snprintf(why, sizeof(why), "send buffer full (%s); "
			    "answers dropped, reading goes on",
			    strerror(err));
			udp_drop(w, UDP_DROP_SEND_FULL, n - i, m->msg_name,
			    &b->ub_tx_arr[i], why);
			i = n;
			break;
		case EACCES:
			/*
			 * Without SO_BROADCAST Linux refuses to send to an
			 * address it routes as broadcast: a broadcast
			 * source the interface list did not know.
			 */
			udp_drop(w, UDP_DROP_SOURCE_ADDRESS, 1, m->msg_name,
			    &b->ub_tx_arr[i], "broadcast source (the kernel "
			    "refuses to send to it)");
			i++;
			break;
		default:
			snprintf(why, sizeof(why), "cannot send the answer: %s",
			    strerror(err));
			udp_drop(w, UDP_DROP_SEND_ERROR, 1, m->msg_name,
			    &b->ub_tx_arr[i], why);
			i++;
			break;
		}
	}
	stat_add(&w->w_stats->ws_udp_echoed, echoed);
	stat_add(&w->w_stats->ws_udp_bytes_out, bytes);
}

/* Judge datagrams 0 to n - 1 of the batch, answer those that pass. */
static void
udp_answer(struct worker *w, struct udp_socket *us, unsigned n)
{
	struct udp_batch	*b = w->w_udp.ud_batch;
	struct msghdr		*m;
	struct udp_arrival	 arr;
	struct sockaddr_in	 v4;
	const struct sockaddr	*src;
	enum udp_verdict	 v;
	const char		*why;
	uint64_t		 bytes = 0;
	unsigned		 i, k = 0;
	char			 trunc[64];

	for (i = 0; i < n; i++) {
		m = &b->ub_rx[i].msg_hdr;
		bytes += b->ub_rx[i].msg_len;
		src = m->msg_name;
		(void)udp_guard_arrival(m, &arr);
		/* On a dual-stack socket, judge an IPv4 client as such. */
		if (udp_guard_unmap(src, &arr, &v4))
			src = (const struct sockaddr *)&v4;
		if (m->msg_flags & MSG_TRUNC) {
			/* Never echo part of a datagram. */
			snprintf(trunc, sizeof(trunc), "larger than %zu bytes",
			    b->ub_size);
			v = UDP_DROP_TRUNCATED;
			why = trunc;
		} else
			v = udp_judge(w, src, &arr, &why);
		if (v != UDP_PASS) {
			udp_drop(w, v, 1, src, &arr, why);
			continue;
		}
		udp_answer_prepare(b, k++, i, us, &arr);
	}
	stat_add(&w->w_stats->ws_udp_received, n);
	stat_add(&w->w_stats->ws_udp_bytes_in, bytes);
	if (k > 0)
		udp_answer_send(w, us, k);
}

/* Read up to n datagrams: how many, 0 for none now, -1 on an error. */
static int
udp_receive(struct worker *w, struct udp_socket *us, unsigned n)
{
	struct udp_batch	*b = w->w_udp.ud_batch;
	struct msghdr		*m;
	unsigned		 i;
	int			 r;
	char			 name[72];

	for (i = 0; i < n; i++) {
		m = &b->ub_rx[i].msg_hdr;
		m->msg_name = &b->ub_src[i];
		m->msg_namelen = sizeof(b->ub_src[i]);
		m->msg_iov = &b->ub_rx_iov[i];
		m->msg_iovlen = 1;
		m->msg_control = b->ub_rx_cmsg[i].buf;
		m->msg_controllen = sizeof(b->ub_rx_cmsg[i].buf);
		m->msg_flags = 0;
	}
	r = recvmmsg(us->us_ev.ev_fd, b->ub_rx, n, MSG_DONTWAIT, NULL);
	if (r >= 0)
		return r;
	switch (errno) {
	case EAGAIN:
	case EINTR:
	/* A pending error of the socket, reported once (and cleared). */
	case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH:
	case EHOSTDOWN: case ENETDOWN: case ECONNRESET: case ETIMEDOUT:
	case EMSGSIZE: case EPROTO: case ENOPROTOOPT:
		return 0;
	default:
		/* Level-triggered: without a pause we would spin. */
		log_burst(&w->w_udp.ud_err_burst, w->w_loop.el_now, "reading "
		    "UDP socket %s: %s; pausing it for %d ms",
		    udp_name(us, name, sizeof(name)), strerror(errno),
		    UDP_PAUSE_MS);
		udp_pause(w, us);
		return -1;
	}
}

/*
 * EPOLLEXCLUSIVE wakes the first idle waiter on the socket, so one worker
 * would take nearly every datagram; re-adding the socket moves this
 * worker to the tail (as accept_rotate() does for listeners).
 */
static void
udp_rotate(struct worker *w, struct udp_socket *us)
{
	if (w->w_cfg->workers < 2 || !us->us_ev.ev_added)
		return;
	(void)event_del(&w->w_loop, &us->us_ev);
	udp_watch(w);
}

static void
udp_on_event(struct event_loop *loop, struct event *ev, unsigned what)
{
	struct udp_socket	*us = (struct udp_socket *)ev;
	struct worker		*w = loop->el_owner;
	unsigned		 left, want;
	int			 n;
	bool			 any = false;

	(void)what;
	udp_ifaces_refresh(w);
	for (left = UDP_TURN; left > 0 && us->us_ev.ev_added;
	    left -= (unsigned)n) {
		want = left < UDP_BATCH ? left : UDP_BATCH;
		if ((n = udp_receive(w, us, want)) <= 0)
			break;
		any = true;
		udp_answer(w, us, (unsigned)n);
		if ((unsigned)n < want)
			break;		/* nothing more queued */
	}
	if (any)
		udp_rotate(w, us);
}
