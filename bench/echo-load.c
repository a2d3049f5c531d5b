/*
 * echo-load: load generator for TCP echo services (RFC 862).
 *
 * Workloads, each bounded in time:
 *   bulk     stream both ways on C connections; Gbit/s each way
 *   latency  fixed-rate small messages over C connections; percentiles
 *   rate     connect, echo one message, close, C at a time; conns/s
 *   hold     N idle connections over P processes, each proved to echo;
 *            the server's RSS and PSS summed over its process tree
 *   start    run a daemon with NOTIFY_SOCKET; time to READY=1 and from
 *            SIGTERM to exit
 *
 * Every byte sent is taken from a fixed pseudo-random pattern at an
 * offset of its own per connection, and every echoed byte is compared
 * with what was sent at that stream offset.  A difference, a lost byte
 * or a failed connection is counted as an error and makes the exit
 * status 1: nothing is silently dropped from the figures.
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Prime, so stream offsets never line up with buffer sizes. */
#define PAT_LEN		262139
#define IO_CHUNK	(128 * 1024)	/* bulk read/write size */
#define MAX_EVENTS	512
#define NS		1000000000ULL

#define HIST_SUB_BITS	5		/* 32 sub-buckets: ~3% resolution */
#define HIST_SUB	(1U << HIST_SUB_BITS)
#define HIST_N		((64 - HIST_SUB_BITS) * HIST_SUB)

#define LAT_QUEUE	1024		/* messages in flight per connection */

struct opts {
	const char	*workload;
	struct sockaddr_storage dst;
	socklen_t	 dstlen;
	struct in_addr	 src;		/* first source address */
	unsigned	 nsrc;		/* 0: let the kernel choose */
	unsigned	 conns;
	unsigned	 procs;
	unsigned	 parallel;	/* connects in flight */
	double		 duration;	/* s, measured */
	double		 warmup;	/* s, before measuring */
	double		 timeout;	/* s, for each waiting phase */
	double		 rate;		/* latency: messages/s in total */
	size_t		 size;		/* message size */
	int		 cpu;
	pid_t		 server_pid;
	bool		 term;		/* hold: SIGTERM the server at the end */
	double		 settle;	/* hold: s before measuring memory */
	unsigned	 repeat;	/* start: runs */
	bool		 kv;
	char		**cmd;		/* start: the daemon's argv */
};

struct hist {
	uint64_t	 h_count[HIST_N];
	uint64_t	 h_n;
	uint64_t	 h_max;
};

static unsigned char	*pat;
static unsigned char	 rbuf[IO_CHUNK];
static const char	*progname = "echo-load";

#define WARN_MAX	5		/* then only count them */

static unsigned		 warn_count;

static void
msg_warnx(const char *fmt, ...)
{
	va_list	 ap;
	char	 line[512];
	int	 len;

	if (warn_count++ >= WARN_MAX)
		return;
	va_start(ap, fmt);
	len = snprintf(line, sizeof(line), "%s: ", progname);
	vsnprintf(line + len, sizeof(line) - (size_t)len, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

static void
msg_flush(void)
{
	if (warn_count > WARN_MAX)
		fprintf(stderr, "%s: ... and %u more warnings like these\n",
		    progname, warn_count - WARN_MAX);
}

static void
die(const char *fmt, ...)
{
	va_list	 ap;
	char	 line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", progname, line);
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static int
ms_until(uint64_t now, uint64_t when)
{
	if (when <= now)
		return 0;
	/* Round up: waking early only costs another turn. */
	return (int)((when - now + 999999) / 1000000);
}

/* --- the data pattern ------------------------------------------------ */

static void
pat_init(void)
{
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	size_t		 i;

	/* Twice the period: any run up to PAT_LEN bytes is contiguous. */
	if ((pat = malloc(2 * PAT_LEN)) == NULL)
		die("out of memory");
	for (i = 0; i < PAT_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pat[i] = pat[i + PAT_LEN] = (unsigned char)(x >> 24);
	}
}

static const unsigned char *
pat_at(uint64_t off)
{
	return pat + off % PAT_LEN;
}

/* Distinct streams per connection, so crossed wires show up. */
static uint64_t
pat_seed(uint64_t idx)
{
	return idx * 7919 + 1;
}

/* 0 when p[0..n) is the pattern at stream offset off, -1 otherwise. */
static int
pat_check(uint64_t off, const unsigned char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		k = n < PAT_LEN ? n : PAT_LEN;
		if (memcmp(p, pat_at(off), k) != 0)
			return -1;
		off += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* --- latency histogram, HdrHistogram-style log-linear buckets --------- */

static unsigned
hist_index(uint64_t v)
{
	unsigned	 e;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return (e - HIST_SUB_BITS) * HIST_SUB +
	    (unsigned)(v >> (e - HIST_SUB_BITS));
}

/* The highest value that lands in bucket idx. */
static uint64_t
hist_upper(unsigned idx)
{
	unsigned	 e, m;

	if (idx < 2 * HIST_SUB)
		return idx;
	e = idx / HIST_SUB + HIST_SUB_BITS - 1;
	m = idx - (e - HIST_SUB_BITS) * HIST_SUB;
	return (((uint64_t)m + 1) << (e - HIST_SUB_BITS)) - 1;
}

static void
hist_add(struct hist *h, uint64_t v)
{
	h->h_count[hist_index(v)]++;
	h->h_n++;
	if (v > h->h_max)
		h->h_max = v;
}

static uint64_t
hist_pct(const struct hist *h, double p)
{
	uint64_t	 want, seen = 0, up;
	unsigned	 i;

	if (h->h_n == 0)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)h->h_n + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_N; i++) {
		seen += h->h_count[i];
		if (seen >= want) {
			up = hist_upper(i);
			return up < h->h_max ? up : h->h_max;
		}
	}
	return h->h_max;
}

static void
hist_print(const struct opts *o, const struct hist *h)
{
	double	 us = 1000.0;

	if (o->kv)
		printf(" lat_n=%" PRIu64 " p50_us=%.1f p95_us=%.1f p99_us=%.1f "
		    "max_us=%.1f", h->h_n, (double)hist_pct(h, 50) / us,
		    (double)hist_pct(h, 95) / us, (double)hist_pct(h, 99) / us,
		    (double)h->h_max / us);
	else
		printf("  latency over %" PRIu64 ": p50 %.1f us, p95 %.1f us, "
		    "p99 %.1f us, max %.1f us\n", h->h_n,
		    (double)hist_pct(h, 50) / us, (double)hist_pct(h, 95) / us,
		    (double)hist_pct(h, 99) / us, (double)h->h_max / us);
}

/* --- sockets ----------------------------------------------------------- */

/*
 * A non-blocking socket connecting to the target.  *pending is set when
 * the connect is still in progress.  Returns -1 with errno set.
 */
static int
sock_connect(const struct opts *o, uint64_t idx, bool nodelay, bool *pending)
{
	struct sockaddr_in	 sin;
	int			 fd, one = 1, saved;

	fd = socket(o->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (nodelay)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (o->nsrc > 0) {
		/* Pick the port at connect(): the 4-tuple, not the address. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(ntohl(o->src.s_addr) +
		    (uint32_t)(idx % o->nsrc));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			goto fail;
	}
	*pending = false;
	if (connect(fd, (struct sockaddr *)&o->dst, o->dstlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		*pending = true;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
sock_error(int fd)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

/*
 * Open n connections (indexes first..first+n-1) into fds[], at most
 * o->parallel connects in flight.  0, or -1 after a warning.
 */
static int
conns_open(const struct opts *o, int *fds, unsigned n, uint64_t first,
    bool nodelay)
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	uint64_t		 deadline;
	unsigned		 next = 0, done = 0, inflight = 0, i;
	bool			 pending;
	int			 ep, k, j, err;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < n; i++)
		fds[i] = -1;
	deadline = now_ns() + (uint64_t)(o->timeout * NS);
	while (done < n) {
		while (next < n && inflight < o->parallel) {
			fds[next] = sock_connect(o, first + next, nodelay,
			    &pending);
			if (fds[next] == -1) {
				msg_warnx("connect %u: %s", next,
				    strerror(errno));
				goto fail;
			}
			if (pending) {
				ev.events = EPOLLOUT;
				ev.data.u32 = next;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[next],
				    &ev) == -1)
					die("epoll_ctl: %s", strerror(errno));
				inflight++;
			} else
				done++;
			next++;
		}
		if (inflight == 0)
			continue;
		k = epoll_wait(ep, evs, MAX_EVENTS, ms_until(now_ns(),
		    deadline));
		if (k == -1 && errno == EINTR)
			continue;
		if (k == 0) {
			msg_warnx("timed out with %u of %u connections open",
			    done, n);
			goto fail;
		}
		for (j = 0; j < k; j++) {
			i = evs[j].data.u32;
			if ((err = sock_error(fds[i])) != 0) {
				msg_warnx("connect %u: %s", i, strerror(err));
				goto fail;
			}
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
			inflight--;
			done++;
		}
	}
	close(ep);
	return 0;
fail:
	close(ep);
	for (i = 0; i < n; i++)
		if (fds[i] != -1)
			close(fds[i]);
	return -1;
}

/* --- bulk ---------------------------------------------------------------- */

struct bconn {
	int		 fd;
	uint64_t	 seed;
	uint64_t	 sent, rcvd;
	bool		 stop;		/* no more writes */
};

static int
bulk_read(struct bconn *b, uint64_t *errors)
{
	ssize_t	 n;

	for (;;) {
		n = recv(b->fd, rbuf, sizeof(rbuf), 0);
		if (n > 0) {
			if (b->rcvd + (uint64_t)n > b->sent ||
			    pat_check(b->seed + b->rcvd, rbuf, (size_t)n)) {
				msg_warnx("bulk: echoed data differs from "
				    "what was sent at offset %" PRIu64,
				    b->rcvd);
				(*errors)++;
				return -1;
			}
			b->rcvd += (uint64_t)n;
			continue;
		}
		if (n == 0) {
			msg_warnx("bulk: server closed the connection "
			    "with %" PRIu64 " bytes not echoed",
			    b->sent - b->rcvd);
			(*errors)++;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		msg_warnx("bulk: recv: %s", strerror(errno));
		(*errors)++;
		return -1;
	}
}

static int
bulk_write(struct bconn *b, uint64_t *errors)
{
	ssize_t	 n;

	while (!b->stop) {
		n = send(b->fd, pat_at(b->seed + b->sent), IO_CHUNK,
		    MSG_NOSIGNAL);
		if (n > 0) {
			b->sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		msg_warnx("bulk: send: %s", strerror(errno));
		(*errors)++;
		return -1;
	}
	return 0;
}

static int
load_bulk(const struct opts *o)
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct bconn		*bc;
	int			*fds;
	uint64_t		 t0, t_meas, t_end, t_drain, now, errors = 0;
	uint64_t		 s0 = 0, r0 = 0, s1 = 0, r1 = 0, verified = 0;
	unsigned		 i, open, dead = 0;
	int			 ep, k, j, next_ms;
	enum { WARM, MEASURE, DRAIN } phase = WARM;
	double			 secs;

	bc = calloc(o->conns, sizeof(*bc));
	fds = calloc(o->conns, sizeof(*fds));
	if (bc == NULL || fds == NULL)
		die("out of memory");
	if (conns_open(o, fds, o->conns, 0, false) == -1) {
		free(bc);
		free(fds);
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < o->conns; i++) {
		bc[i].fd = fds[i];
		bc[i].seed = pat_seed(i);
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = &bc[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
	t0 = now_ns();
	t_meas = t0 + (uint64_t)(o->warmup * NS);
	t_end = t_meas + (uint64_t)(o->duration * NS);
	t_drain = UINT64_MAX;
	open = o->conns;
	while (open > dead) {
		now = now_ns();
		if (phase == WARM && now >= t_meas) {
			for (i = 0; i < o->conns; i++) {
				s0 += bc[i].sent;
				r0 += bc[i].rcvd;
			}
			phase = MEASURE;
		}
		if (phase == MEASURE && now >= t_end) {
			for (i = 0; i < o->conns; i++) {
				s1 += bc[i].sent;
				r1 += bc[i].rcvd;
				bc[i].stop = true;
			}
			t_end = now;
			phase = DRAIN;
			t_drain = now + (uint64_t)(o->timeout * NS);
		}
		if (phase == DRAIN) {
			/* Wait for every byte sent to come back. */
			for (open = 0, i = 0; i < o->conns; i++)
				if (bc[i].fd != -1 && bc[i].rcvd < bc[i].sent)
					open++;
			if (open == 0)
				break;
			dead = 0;
			if (now >= t_drain) {
				msg_warnx("bulk: %u connections still owe "
				    "echoed bytes after %.0f s", open,
				    o->timeout);
				errors += open;
				break;
			}
		}
		next_ms = ms_until(now, phase == WARM ? t_meas :
		    phase == MEASURE ? t_end : t_drain);
		k = epoll_wait(ep, evs, MAX_EVENTS, next_ms);
		if (k == -1 && errno == EINTR)
			continue;
		for (j = 0; j < k; j++) {
			struct bconn *b = evs[j].data.ptr;

			if (b->fd == -1)
				continue;
			if (((evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
			    bulk_read(b, &errors) == -1) ||
			    ((evs[j].events & (EPOLLOUT | EPOLLERR)) &&
			    bulk_write(b, &errors) == -1)) {
				close(b->fd);
				b->fd = -1;
				dead++;
			}
		}
	}
	for (i = 0; i < o->conns; i++) {
		verified += bc[i].rcvd;
		if (bc[i].fd != -1)
			close(bc[i].fd);
	}
	close(ep);
	secs = (double)(t_end - t_meas) / NS;
	if (phase != DRAIN || secs <= 0) {
		msg_warnx("bulk: the run ended before it was measured");
		errors++;
		secs = 1;
	}
	if (o->kv)
		printf("workload=bulk conns=%u secs=%.2f out_gbps=%.3f "
		    "in_gbps=%.3f verified_bytes=%" PRIu64 " errors=%" PRIu64
		    "\n", o->conns, secs, (double)(s1 - s0) * 8 / secs / 1e9,
		    (double)(r1 - r0) * 8 / secs / 1e9, verified, errors);
	else
		printf("bulk: %u connections, %.2f s measured: out %.2f Gbit/s, "
		    "in %.2f Gbit/s; %" PRIu64 " bytes echoed and verified; "
		    "%" PRIu64 " errors\n", o->conns, secs,
		    (double)(s1 - s0) * 8 / secs / 1e9,
		    (double)(r1 - r0) * 8 / secs / 1e9, verified, errors);
	free(bc);
	free(fds);
	return errors ? 1 : 0;
}

/* --- latency --------------------------------------------------------- */

struct lconn {
	int		 fd;
	uint64_t	 seed;
	uint64_t	 want, sent, rcvd;	/* stream offsets */
	uint64_t	 done;			/* messages echoed */
	uint64_t	 q[LAT_QUEUE];		/* scheduled send times */
	unsigned	 qhead, qlen;
	bool		 dead;
};

static int
lat_flush(struct lconn *l, uint64_t *errors)
{
	ssize_t	 n;

	while (l->sent < l->want) {
		n = send(l->fd, pat_at(l->seed + l->sent),
		    (size_t)(l->want - l->sent), MSG_NOSIGNAL);
		if (n > 0) {
			l->sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		msg_warnx("latency: send: %s", strerror(errno));
		(*errors)++;
		return -1;
	}
	return 0;
}

static int
lat_read(const struct opts *o, struct lconn *l, struct hist *h,
    uint64_t t_meas, uint64_t *errors)
{
	uint64_t	 now, sched;
	ssize_t		 n;

	for (;;) {
		n = recv(l->fd, rbuf, sizeof(rbuf), 0);
		if (n > 0) {
			if (l->rcvd + (uint64_t)n > l->sent ||
			    pat_check(l->seed + l->rcvd, rbuf, (size_t)n)) {
				msg_warnx("latency: echoed data differs from "
				    "what was sent at offset %" PRIu64,
				    l->rcvd);
				(*errors)++;
				return -1;
			}
			l->rcvd += (uint64_t)n;
			now = now_ns();
			/* Count from the scheduled time: no coordinated omission. */
			while (l->qlen > 0 && (l->done + 1) * o->size <= l->rcvd) {
				sched = l->q[l->qhead];
				if (sched >= t_meas)
					hist_add(h, now - sched);
				l->qhead = (l->qhead + 1) % LAT_QUEUE;
				l->qlen--;
				l->done++;
			}
			continue;
		}
		if (n == 0) {
			msg_warnx("latency: server closed a connection");
			(*errors)++;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		msg_warnx("latency: recv: %s", strerror(errno));
		(*errors)++;
		return -1;
	}
}

static int
load_latency(const struct opts *o)
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct lconn		*lc;
	struct hist		*h;
	int			*fds;
	uint64_t		 t0, t_meas, t_end, now, next, k_msg = 0;
	uint64_t		 errors = 0, overruns = 0, verified = 0, owed;
	uint64_t		 deadline;
	struct timespec		 wait;
	double			 period;
	unsigned		 i;
	int			 ep, k, j;

	lc = calloc(o->conns, sizeof(*lc));
	fds = calloc(o->conns, sizeof(*fds));
	h = calloc(1, sizeof(*h));
	if (lc == NULL || fds == NULL || h == NULL)
		die("out of memory");
	if (conns_open(o, fds, o->conns, 0, true) == -1) {
		free(lc);
		free(fds);
		free(h);
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < o->conns; i++) {
		lc[i].fd = fds[i];
		lc[i].seed = pat_seed(i);
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = &lc[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
	period = 1e9 / o->rate;
	t0 = now_ns();
	t_meas = t0 + (uint64_t)(o->warmup * NS);
	t_end = t_meas + (uint64_t)(o->duration * NS);
	deadline = t_end + (uint64_t)(o->timeout * NS);
	for (;;) {
		now = now_ns();
		/* Send what is due: message k goes to connection k % C. */
		while ((next = t0 + (uint64_t)((double)k_msg * period)) <= now &&
		    next < t_end) {
			struct lconn *l = &lc[k_msg % o->conns];

			k_msg++;
			if (l->dead)
				continue;
			if (l->qlen == LAT_QUEUE) {
				overruns++;
				continue;
			}
			l->q[(l->qhead + l->qlen) % LAT_QUEUE] = next;
			l->qlen++;
			l->want += o->size;
			if (lat_flush(l, &errors) == -1)
				l->dead = true;
		}
		if (next >= t_end) {
			for (owed = 0, i = 0; i < o->conns; i++)
				if (!lc[i].dead)
					owed += lc[i].qlen;
			if (owed == 0)
				break;
			if (now >= deadline) {
				msg_warnx("latency: %" PRIu64 " messages not "
				    "echoed within %.0f s", owed, o->timeout);
				errors += owed;
				break;
			}
			next = deadline;
		}
		/* A timeout in ns: sends stay on schedule, not in 1 ms bursts. */
		wait.tv_sec = (time_t)((next - now) / NS);
		wait.tv_nsec = (long)((next - now) % NS);
		k = epoll_pwait2(ep, evs, MAX_EVENTS, &wait, NULL);
		if (k == -1 && errno == EINTR)
			continue;
		for (j = 0; j < k; j++) {
			struct lconn *l = evs[j].data.ptr;

			if (l->dead)
				continue;
			if (((evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
			    lat_read(o, l, h, t_meas, &errors) == -1) ||
			    ((evs[j].events & EPOLLOUT) &&
			    lat_flush(l, &errors) == -1))
				l->dead = true;
		}
	}
	for (i = 0; i < o->conns; i++) {
		verified += lc[i].rcvd;
		close(lc[i].fd);
	}
	close(ep);
	if (overruns > 0) {
		msg_warnx("latency: %" PRIu64 " messages not sent: %u already "
		    "in flight on their connection", overruns, LAT_QUEUE);
		errors += overruns;
	}
	if (o->kv) {
		printf("workload=latency conns=%u rate=%.0f size=%zu "
		    "verified_bytes=%" PRIu64 " errors=%" PRIu64, o->conns,
		    o->rate, o->size, verified, errors);
		hist_print(o, h);
		printf("\n");
	} else {
		printf("latency: %u connections, %.0f messages/s of %zu bytes, "
		    "%.2f s measured; %" PRIu64 " bytes verified; %" PRIu64
		    " errors\n", o->conns, o->rate, o->size, o->duration,
		    verified, errors);
		hist_print(o, h);
	}
	free(lc);
	free(fds);
	free(h);
	return errors ? 1 : 0;
}

/* --- rate ------------------------------------------------------------ */

struct rslot {
	int		 fd;
	bool		 connecting;
	uint64_t	 t0;
	uint64_t	 seed;
	size_t		 sent, rcvd;
};

static int
rate_start(const struct opts *o, int ep, struct rslot *s, uint64_t seq)
{
	struct epoll_event	 ev;
	bool			 pending;

	s->t0 = now_ns();
	s->seed = pat_seed(seq) * 31;
	s->sent = s->rcvd = 0;
	if ((s->fd = sock_connect(o, seq, true, &pending)) == -1) {
		msg_warnx("rate: connect: %s", strerror(errno));
		return -1;
	}
	s->connecting = pending;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.ptr = s;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	return 0;
}

/* 1: echo complete, 0: more to do, -1: failed. */
static int
rate_step(const struct opts *o, struct rslot *s, uint32_t events)
{
	ssize_t	 n;
	int	 err;

	if (s->connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return 0;
		if ((err = sock_error(s->fd)) != 0) {
			msg_warnx("rate: connect: %s", strerror(err));
			return -1;
		}
		s->connecting = false;
	}
	while (s->sent < o->size) {
		n = send(s->fd, pat_at(s->seed + s->sent), o->size - s->sent,
		    MSG_NOSIGNAL);
		if (n > 0)
			s->sent += (size_t)n;
		else if (n == -1 && errno == EAGAIN)
			return 0;
		else if (n == -1 && errno == EINTR)
			continue;
		else {
			msg_warnx("rate: send: %s", strerror(errno));
			return -1;
		}
	}
	for (;;) {
		n = recv(s->fd, rbuf, sizeof(rbuf), 0);
		if (n > 0) {
			if (s->rcvd + (size_t)n > s->sent ||
			    pat_check(s->seed + s->rcvd, rbuf, (size_t)n)) {
				msg_warnx("rate: echoed data differs from "
				    "what was sent");
				return -1;
			}
			s->rcvd += (size_t)n;
			if (s->rcvd == o->size)
				return 1;
			continue;
		}
		if (n == 0) {
			msg_warnx("rate: server closed before echoing all "
			    "%zu bytes (%zu came)", o->size, s->rcvd);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		msg_warnx("rate: recv: %s", strerror(errno));
		return -1;
	}
}

static int
load_rate(const struct opts *o)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct rslot		*slots;
	struct hist		*h;
	uint64_t		 t0, t_meas, t_end, now, seq = 0, done = 0;
	uint64_t		 errors = 0, deadline;
	unsigned		 i, active = 0;
	int			 ep, k, j, r;
	bool			 in_window;

	slots = calloc(o->conns, sizeof(*slots));
	h = calloc(1, sizeof(*h));
	if (slots == NULL || h == NULL)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	t0 = now_ns();
	t_meas = t0 + (uint64_t)(o->warmup * NS);
	t_end = t_meas + (uint64_t)(o->duration * NS);
	deadline = t_end + (uint64_t)(o->timeout * NS);
	for (i = 0; i < o->conns; i++) {
		if (rate_start(o, ep, &slots[i], seq++) == -1) {
			errors++;
			slots[i].fd = -1;
			continue;
		}
		active++;
	}
	while (active > 0) {
		now = now_ns();
		if (now >= deadline) {
			msg_warnx("rate: %u connections still open %.0f s "
			    "after the end", active, o->timeout);
			errors += active;
			break;
		}
		k = epoll_wait(ep, evs, MAX_EVENTS, ms_until(now, now < t_end ?
		    t_end : deadline));
		if (k == -1 && errno == EINTR)
			continue;
		now = now_ns();
		for (j = 0; j < k; j++) {
			struct rslot *s = evs[j].data.ptr;

			if (s->fd == -1)
				continue;
			r = rate_step(o, s, evs[j].events);
			if (r == 0)
				continue;
			/* Closing also takes it out of the epoll set. */
			close(s->fd);
			s->fd = -1;
			active--;
			in_window = s->t0 >= t_meas && now <= t_end;
			if (r == -1)
				errors++;
			else if (in_window) {
				done++;
				hist_add(h, now - s->t0);
			}
			if (now < t_end) {
				if (rate_start(o, ep, s, seq++) == -1) {
					errors++;
					s->fd = -1;
					continue;
				}
				active++;
			}
		}
	}
	for (i = 0; i < o->conns; i++)
		if (slots[i].fd != -1)
			close(slots[i].fd);
	close(ep);
	if (done == 0) {
		msg_warnx("rate: no connection completed in the measured time");
		errors++;
	}
	if (o->kv) {
		printf("workload=rate conns=%u secs=%.2f conns_per_s=%.1f "
		    "done=%" PRIu64 " errors=%" PRIu64, o->conns, o->duration,
		    (double)done / o->duration, done, errors);
		hist_print(o, h);
		printf("\n");
	} else {
		printf("rate: %u at a time, %.2f s measured: %.0f connections/s "
		    "(%" PRIu64 " echoed %zu bytes and verified); %" PRIu64
		    " errors\n", o->conns, o->duration,
		    (double)done / o->duration, done, o->size, errors);
		hist_print(o, h);
	}
	free(slots);
	free(h);
	return errors ? 1 : 0;
}

/* --- hold ------------------------------------------------------------- */

/*
 * Send o->size bytes on every live connection and wait for all the
 * echoes.  Returns the number that failed; they are marked dead, since
 * a late echo would only confuse the next round.
 */
static unsigned
hold_echo(const struct opts *o, int *fds, unsigned n, uint64_t first,
    unsigned round, bool *dead)
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	size_t			*got;
	uint64_t		 deadline, seed;
	unsigned		 i, left = n, failed = 0;
	ssize_t			 r;
	int			 ep, k, j;

	if ((got = calloc(n, sizeof(*got))) == NULL)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		if (dead[i]) {
			left--;
			continue;
		}
		seed = pat_seed(first + i) + round * o->size;
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
		/* A few bytes always fit an idle socket's buffer. */
		if (send(fds[i], pat_at(seed), o->size, MSG_NOSIGNAL) !=
		    (ssize_t)o->size) {
			failed++;
			left--;
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
			dead[i] = true;
		}
	}
	deadline = now_ns() + (uint64_t)(o->timeout * NS);
	while (left > 0) {
		k = epoll_wait(ep, evs, MAX_EVENTS, ms_until(now_ns(),
		    deadline));
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			msg_warnx("hold: %u connections did not echo within "
			    "%.0f s", left, o->timeout);
			failed += left;
			for (i = 0; i < n; i++)
				if (!dead[i] && got[i] < o->size)
					dead[i] = true;
			break;
		}
		for (j = 0; j < k; j++) {
			i = evs[j].data.u32;
			seed = pat_seed(first + i) + round * o->size;
			r = recv(fds[i], rbuf, o->size - got[i], 0);
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0 || pat_check(seed + got[i], rbuf,
			    (size_t)r) == -1) {
				failed++;
				dead[i] = true;
				msg_warnx("hold: connection %" PRIu64 ": %s",
				    first + i, r == 0 ? "closed by the server" :
				    r < 0 ? strerror(errno) :
				    "echoed data differs");
			} else if ((got[i] += (size_t)r) < o->size)
				continue;
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
			left--;
		}
	}
	close(ep);
	free(got);
	return failed;
}

/*
 * One holding process: open its share, prove each echoes, report
 * "opened failed" on the pipe, then on a command byte echo again ('e')
 * or just wait for EOF from the server ('t'), report, and exit.
 */
static void
hold_child(const struct opts *o, unsigned n, uint64_t first, int rfd, int wfd)
{
	char		 line[64], cmd;
	bool		*dead;
	int		*fds;
	unsigned	 failed, i;
	int		 len;

	fds = calloc(n, sizeof(*fds));
	dead = calloc(n, sizeof(*dead));
	if (fds == NULL || dead == NULL)
		die("out of memory");
	if (conns_open(o, fds, n, first, true) == -1) {
		len = snprintf(line, sizeof(line), "0 %u\n", n);
		(void)!write(wfd, line, (size_t)len);
		_exit(1);
	}
	failed = hold_echo(o, fds, n, first, 0, dead);
	len = snprintf(line, sizeof(line), "%u %u\n", n, failed);
	(void)!write(wfd, line, (size_t)len);
	if (read(rfd, &cmd, 1) != 1)
		cmd = 'q';
	failed = 0;
	if (cmd == 'e')
		failed = hold_echo(o, fds, n, first, 1, dead);
	for (i = 0; i < n; i++)
		close(fds[i]);
	len = snprintf(line, sizeof(line), "%u %u\n", n, failed);
	(void)!write(wfd, line, (size_t)len);
	_exit(failed ? 1 : 0);
}

/* Sum RSS and PSS (KiB) over root and all its descendants. */
static int
mem_tree(pid_t root, uint64_t *rss, uint64_t *pss, unsigned *nproc)
{
	FILE		*f;
	pid_t		*ppid;
	long		 pid_max = 4194304;
	char		 path[64], line[256], *p;
	unsigned long long v;
	long		 pid, q;
	int		 depth;

	*rss = *pss = 0;
	*nproc = 0;
	if ((f = fopen("/proc/sys/kernel/pid_max", "r")) != NULL) {
		if (fscanf(f, "%ld", &pid_max) != 1)
			pid_max = 4194304;
		fclose(f);
	}
	if ((ppid = calloc((size_t)pid_max + 1, sizeof(*ppid))) == NULL)
		return -1;
	/* Parent of every process, from /proc/PID/stat. */
	for (pid = 1; pid <= pid_max; pid++) {
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL &&
		    (p = strrchr(line, ')')) != NULL)
			(void)sscanf(p + 2, "%*c %d", &ppid[pid]);
		fclose(f);
	}
	for (pid = 1; pid <= pid_max; pid++) {
		for (q = pid, depth = 0; q > 0 && q != root && depth < 64;
		    depth++)
			q = q <= pid_max ? ppid[q] : 0;
		if (q != root || (pid != root && ppid[pid] == 0))
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		(*nproc)++;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "Rss: %llu kB", &v) == 1)
				*rss += v;
			else if (sscanf(line, "Pss: %llu kB", &v) == 1)
				*pss += v;
		}
		fclose(f);
	}
	free(ppid);
	return 0;
}

static int
load_hold(const struct opts *o)
{
	pid_t		*kids;
	FILE		**from;
	int		*to, up[2], down[2], pfd, st;
	unsigned	 i, share, opened = 0, failed = 0, failed2 = 0, nproc = 0;
	unsigned	 a, b;
	uint64_t	 rss = 0, pss = 0, t_open, t_term = 0, first = 0;
	double		 term_ms = -1, open_s;
	struct pollfd	 pp;
	bool		 measured;

	kids = calloc(o->procs, sizeof(*kids));
	from = calloc(o->procs, sizeof(*from));
	to = calloc(o->procs, sizeof(*to));
	if (kids == NULL || from == NULL || to == NULL)
		die("out of memory");
	t_open = now_ns();
	fflush(stdout);
	for (i = 0; i < o->procs; i++) {
		share = o->conns / o->procs + (i < o->conns % o->procs);
		if (pipe2(up, O_CLOEXEC) == -1 || pipe2(down, O_CLOEXEC) == -1)
			die("pipe: %s", strerror(errno));
		if ((kids[i] = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (kids[i] == 0) {
			close(up[0]);
			close(down[1]);
			hold_child(o, share, first, down[0], up[1]);
		}
		close(up[1]);
		close(down[0]);
		from[i] = fdopen(up[0], "r");
		to[i] = down[1];
		first += share;
	}
	for (i = 0; i < o->procs; i++) {
		if (fscanf(from[i], "%u %u", &a, &b) != 2) {
			a = 0;
			b = o->conns / o->procs;
		}
		opened += a;
		failed += b;
	}
	open_s = (double)(now_ns() - t_open) / NS;
	measured = o->server_pid > 0;
	if (measured) {
		/* Let forked peers finish starting their children. */
		usleep((useconds_t)(o->settle * 1e6));
		if (mem_tree(o->server_pid, &rss, &pss, &nproc) == -1)
			die("cannot read /proc");
	}
	if (measured && o->term) {
		if ((pfd = pidfd_open(o->server_pid, 0)) == -1)
			die("pidfd_open: %s", strerror(errno));
		t_term = now_ns();
		if (kill(o->server_pid, SIGTERM) == -1)
			die("kill: %s", strerror(errno));
		pp.fd = pfd;
		pp.events = POLLIN;
		if (poll(&pp, 1, (int)(o->timeout * 1000)) == 1)
			term_ms = (double)(now_ns() - t_term) / 1e6;
		close(pfd);
	}
	for (i = 0; i < o->procs; i++)
		(void)!write(to[i], o->term ? "t" : "e", 1);
	for (i = 0; i < o->procs; i++) {
		if (fscanf(from[i], "%u %u", &a, &b) == 2)
			failed2 += b;
		else if (!o->term)
			failed2 += o->conns / o->procs;
		fclose(from[i]);
		close(to[i]);
		(void)waitpid(kids[i], &st, 0);
	}
	if (o->term && term_ms < 0) {
		msg_warnx("hold: the server did not exit within %.0f s of "
		    "SIGTERM", o->timeout);
		failed++;
	}
	if (o->kv) {
		printf("workload=hold conns=%u opened=%u open_s=%.2f "
		    "errors=%u", o->conns, opened, open_s, failed + failed2);
		if (measured)
			printf(" procs=%u rss_kib=%" PRIu64 " pss_kib=%" PRIu64,
			    nproc, rss, pss);
		if (o->term)
			printf(" term_ms=%.1f", term_ms);
		printf("\n");
	} else {
		printf("hold: %u of %u connections opened in %.2f s over %u "
		    "processes, each echoed; %u errors\n", opened, o->conns,
		    open_s, o->procs, failed + failed2);
		if (measured)
			printf("  server: %u processes, RSS %.1f MiB, PSS "
			    "%.1f MiB\n", nproc, (double)rss / 1024,
			    (double)pss / 1024);
		if (o->term)
			printf("  SIGTERM to exit: %.1f ms\n", term_ms);
	}
	free(kids);
	free(from);
	free(to);
	return (failed + failed2 > 0 || opened < o->conns) ? 1 : 0;
}

/* --- start ------------------------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Run the daemon once; its start-to-READY and SIGTERM-to-exit in ms. */
static int
start_once(const struct opts *o, double *ready_ms, double *stop_ms)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pp;
	char			 name[64], buf[512];
	uint64_t		 t0, deadline;
	ssize_t			 n;
	pid_t			 pid;
	int			 s, st, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* Abstract namespace: nothing to clean up. */
	snprintf(name, sizeof(name), "@echo-load-%ld-%lld", (long)getpid(),
	    (long long)now_ns());
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct
	    sockaddr_un, sun_path) + strlen(name))) == -1)
		die("notify socket: %s", strerror(errno));
	t0 = now_ns();
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", name, 1);
		execvp(o->cmd[0], o->cmd);
		fprintf(stderr, "%s: %s: %s\n", progname, o->cmd[0],
		    strerror(errno));
		_exit(127);
	}
	*ready_ms = *stop_ms = -1;
	deadline = t0 + (uint64_t)(o->timeout * NS);
	pp.fd = s;
	pp.events = POLLIN;
	while (*ready_ms < 0 && (r = poll(&pp, 1, ms_until(now_ns(),
	    deadline))) > 0) {
		if ((n = recv(s, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		if (strncmp(buf, "READY=1", 7) == 0 ||
		    strstr(buf, "\nREADY=1") != NULL)
			*ready_ms = (double)(now_ns() - t0) / 1e6;
	}
	close(s);
	t0 = now_ns();
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, &st, 0);
	*stop_ms = (double)(now_ns() - t0) / 1e6;
	if (*ready_ms < 0) {
		msg_warnx("start: no READY=1 within %.0f s", o->timeout);
		return -1;
	}
	return 0;
}

static int
load_start(const struct opts *o)
{
	double		*ready, *stop;
	unsigned	 i, errors = 0;

	if (o->cmd == NULL || o->cmd[0] == NULL)
		die("start: give the daemon's command line after --");
	ready = calloc(o->repeat, sizeof(*ready));
	stop = calloc(o->repeat, sizeof(*stop));
	if (ready == NULL || stop == NULL)
		die("out of memory");
	for (i = 0; i < o->repeat; i++)
		if (start_once(o, &ready[i], &stop[i]) == -1)
			errors++;
	qsort(ready, o->repeat, sizeof(*ready), cmp_double);
	qsort(stop, o->repeat, sizeof(*stop), cmp_double);
	if (o->kv)
		printf("workload=start runs=%u ready_ms_median=%.2f "
		    "ready_ms_max=%.2f stop_ms_median=%.2f stop_ms_max=%.2f "
		    "errors=%u\n", o->repeat, ready[o->repeat / 2],
		    ready[o->repeat - 1], stop[o->repeat / 2],
		    stop[o->repeat - 1], errors);
	else
		printf("start: %u runs: start to READY=1 median %.2f ms "
		    "(max %.2f); SIGTERM to exit median %.2f ms (max %.2f); "
		    "%u errors\n", o->repeat, ready[o->repeat / 2],
		    ready[o->repeat - 1], stop[o->repeat / 2],
		    stop[o->repeat - 1], errors);
	free(ready);
	free(stop);
	return errors ? 1 : 0;
}

/* --- command line ---------------------------------------------------- */

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: echo-load -w WORKLOAD [options] [HOST:]PORT\n"
	    "       echo-load -w start [-n RUNS] -- DAEMON [ARGS...]\n"
	    "\n"
	    "workloads:\n"
	    "  bulk      stream both ways on -c connections; Gbit/s each way\n"
	    "  latency   -r messages/s of -s bytes over -c connections;\n"
	    "            p50/p95/p99/max from the scheduled send time\n"
	    "  rate      connect, echo -s bytes, close, -c at a time\n"
	    "  hold      open -c idle connections over -P processes, prove\n"
	    "            each echoes; with -p PID, the RSS and PSS of PID\n"
	    "            and its descendants\n"
	    "  start     run DAEMON with NOTIFY_SOCKET set: start to READY=1\n"
	    "            and SIGTERM to exit, -n times\n"
	    "\n"
	    "options:\n"
	    "  -c N        connections (default 1)\n"
	    "  -d SECS     measured time (default 5)\n"
	    "  -W SECS     warm-up before measuring (default 0.5)\n"
	    "  -t SECS     limit for each waiting phase (default 10)\n"
	    "  -r RATE     latency: messages per second in total (10000)\n"
	    "  -s BYTES    message size for latency, rate, hold (64)\n"
	    "  -P N        hold: processes (default: 19000 connections each)\n"
	    "  -j N        connects in flight at once (default 256)\n"
	    "  -S ADDR/N   bind to N IPv4 source addresses from ADDR on,\n"
	    "              e.g. 127.0.0.2/8, to get past the port range\n"
	    "  -p PID      hold: the server's process, for RSS and PSS\n"
	    "  -T          hold: then SIGTERM PID and time its exit\n"
	    "  -n RUNS     start: runs (default 5)\n"
	    "  -C CPU      pin to this CPU\n"
	    "  -k          print one key=value line (for scripts)\n"
	    "\n"
	    "Exit status: 0 when every byte was echoed and verified, 1 on any\n"
	    "error (differing or lost data, failed connection), 2 on misuse.\n");
}

static double
arg_num(const char *s, double min, double max, const char *what)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die("%s: \"%s\" is not a number from %g to %g", what, s, min,
		    max);
	return v;
}

static void
arg_target(struct opts *o, const char *arg)
{
	struct addrinfo	 hints, *res;
	char		 host[256];
	const char	*port, *colon;
	int		 err;

	colon = strrchr(arg, ':');
	if (colon == NULL) {
		snprintf(host, sizeof(host), "127.0.0.1");
		port = arg;
	} else {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
		port = colon + 1;
		if (host[0] == '[' && strlen(host) > 2) {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((err = getaddrinfo(host, port, &hints, &res)) != 0)
		die("%s: %s", arg, gai_strerror(err));
	memcpy(&o->dst, res->ai_addr, res->ai_addrlen);
	o->dstlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
arg_src(struct opts *o, const char *arg)
{
	char	 addr[64], *slash;

	snprintf(addr, sizeof(addr), "%s", arg);
	if ((slash = strchr(addr, '/')) == NULL)
		o->nsrc = 1;
	else {
		*slash = '\0';
		o->nsrc = (unsigned)arg_num(slash + 1, 1, 254, "-S count");
	}
	if (inet_pton(AF_INET, addr, &o->src) != 1)
		die("-S: \"%s\" is not an IPv4 address", addr);
}

int
main(int argc, char *argv[])
{
	struct opts	 o;
	cpu_set_t	 set;
	int		 ch;

	memset(&o, 0, sizeof(o));
	o.conns = 1;
	o.duration = 5;
	o.warmup = 0.5;
	o.timeout = 10;
	o.rate = 10000;
	o.size = 64;
	o.parallel = 256;
	o.cpu = -1;
	o.settle = 1;
	o.repeat = 5;
	while ((ch = getopt(argc, argv, "w:c:d:W:t:r:s:P:j:S:p:Tn:C:khV")) !=
	    -1) {
		switch (ch) {
		case 'w':
			o.workload = optarg;
			break;
		case 'c':
			o.conns = (unsigned)arg_num(optarg, 1, 1e7, "-c");
			break;
		case 'd':
			o.duration = arg_num(optarg, 0.01, 86400, "-d");
			break;
		case 'W':
			o.warmup = arg_num(optarg, 0, 3600, "-W");
			break;
		case 't':
			o.timeout = arg_num(optarg, 0.1, 3600, "-t");
			break;
		case 'r':
			o.rate = arg_num(optarg, 1, 1e8, "-r");
			break;
		case 's':
			o.size = (size_t)arg_num(optarg, 1, sizeof(rbuf),
			    "-s");
			break;
		case 'P':
			o.procs = (unsigned)arg_num(optarg, 1, 1000, "-P");
			break;
		case 'j':
			o.parallel = (unsigned)arg_num(optarg, 1, 1e6, "-j");
			break;
		case 'S':
			arg_src(&o, optarg);
			break;
		case 'p':
			o.server_pid = (pid_t)arg_num(optarg, 1, INT_MAX, "-p");
			break;
		case 'T':
			o.term = true;
			break;
		case 'n':
			o.repeat = (unsigned)arg_num(optarg, 1, 1000, "-n");
			break;
		case 'C':
			o.cpu = (int)arg_num(optarg, 0, CPU_SETSIZE - 1, "-C");
			break;
		case 'k':
			o.kv = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("echo-load (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (o.workload == NULL) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	atexit(msg_flush);
	if (o.cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1)
			die("cannot pin to CPU %d: %s", o.cpu, strerror(errno));
	}
	if (strcmp(o.workload, "start") == 0) {
		o.cmd = argv;
		return load_start(&o);
	}
	if (argc != 1)
		die("give the target as [HOST:]PORT (see -h)");
	arg_target(&o, argv[0]);
	if (o.nsrc > 0 && o.dst.ss_family != AF_INET)
		die("-S needs an IPv4 target");
	if (o.procs == 0)
		o.procs = (o.conns + 18999) / 19000;
	pat_init();
	if (strcmp(o.workload, "bulk") == 0)
		return load_bulk(&o);
	if (strcmp(o.workload, "latency") == 0)
		return load_latency(&o);
	if (strcmp(o.workload, "rate") == 0)
		return load_rate(&o);
	if (strcmp(o.workload, "hold") == 0)
		return load_hold(&o);
	die("unknown workload \"%s\" (bulk, latency, rate, hold, start)",
	    o.workload);
	/* NOTREACHED */
	return 2;
}
