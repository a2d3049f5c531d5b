/*
 * hold: open -c idle connections over -P processes (one process can
 * hold only so many descriptors), prove that each echoes, optionally
 * measure the server's memory (-p) and its exit on SIGTERM (-T), and
 * prove again that each echoes (without -T).
 *
 * Each holding process reports "opened failed" on a pipe after its
 * first round, then waits for a command byte: 'e' to echo again, 't' to
 * let the server go.
 *
 * With -T and -i, SIGTERM waits until no connection has moved a byte
 * for -i seconds: a server that ends quiet connections at once on
 * SIGTERM (echod's drain_idle) is then timed on that path alone.
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "flow.h"
#include "load.h"
#include "msg.h"
#include "pool.h"
#include "proc.h"

/* Connections one process holds at most: the descriptor limit is 20000. */
#define HOLD_PER_PROC	19000

/*
 * Send o->lo_size bytes on every open flow and wait for all the echoes.
 * Returns the number that failed; they are closed, since a late echo
 * would only confuse the next round.
 */
static unsigned
hold_echo(const struct load_opts *o, struct pool *p)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct flow		*f;
	uint64_t		 deadline;
	unsigned		 i, left = 0, failed = 0;
	ssize_t			 r;
	int			 k, j;

	for (i = 0; i < p->p_n; i++) {
		f = &p->p_flows[i];
		if (f->fl_fd == -1)
			continue;
		f->fl_want += o->lo_size;
		/* A few bytes always fit an idle socket's buffer. */
		if (flow_send(f) == -1 || f->fl_sent < f->fl_want) {
			flow_close(f);
			failed++;
			continue;
		}
		pool_watch(p, f, EPOLLIN);
		left++;
	}
	deadline = load_now_ns() + (uint64_t)(o->lo_timeout * NS);
	while (left > 0) {
		k = epoll_wait(p->p_ep, evs, MAX_EVENTS,
		    load_ms_until(load_now_ns(), deadline));
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			msg_warnx("hold: %u connections did not echo within "
			    "%.0f s", left, o->lo_timeout);
			failed += left;
			for (i = 0; i < p->p_n; i++) {
				f = &p->p_flows[i];
				if (f->fl_rcvd < f->fl_want)
					flow_close(f);
			}
			break;
		}
		for (j = 0; j < k; j++) {
			f = evs[j].data.ptr;
			if ((r = flow_recv(f)) == 0 ||
			    (r > 0 && f->fl_rcvd < f->fl_want))
				continue;
			if (r == -1) {
				flow_close(f);
				failed++;
			} else
				pool_unwatch(p, f);
			left--;
		}
	}
	return failed;
}

static void
hold_report(int wfd, unsigned opened, unsigned failed)
{
	char	 line[64];
	int	 len;

	len = snprintf(line, sizeof(line), "%u %u\n", opened, failed);
	(void)!write(wfd, line, (size_t)len);
}

/* One holding process: n connections numbered first on. */
static void
hold_child(const struct load_opts *o, unsigned n, uint64_t first, int rfd,
    int wfd)
{
	struct pool	 p;
	unsigned	 failed;
	char		 cmd;

	pool_init(&p, n);
	if (pool_connect(&p, o, first, true, 0) == -1) {
		hold_report(wfd, 0, n);
		_exit(LOAD_EXIT_ERRORS);
	}
	hold_report(wfd, n, hold_echo(o, &p));
	if (read(rfd, &cmd, 1) != 1)
		cmd = 'q';
	failed = cmd == 'e' ? hold_echo(o, &p) : 0;
	/* Measured: leave no TIME_WAIT to weigh on the next run. */
	pool_free_reset(&p);
	hold_report(wfd, n, failed);
	_exit(failed ? LOAD_EXIT_ERRORS : LOAD_EXIT_OK);
}

int
load_hold(const struct load_opts *o)
{
	pid_t		*kids;
	FILE		**from;
	int		*to, up[2], down[2], st;
	unsigned	 i, j, procs, share, opened = 0, failed = 0, failed2 = 0;
	unsigned	 nproc = 0, a, b;
	uint64_t	 rss = 0, pss = 0, t_open, t_quiet, first = 0, now;
	double		 term_ms = -1, open_s;
	bool		 measured;

	procs = o->lo_procs;
	if (procs == 0)
		procs = (o->lo_conns + HOLD_PER_PROC - 1) / HOLD_PER_PROC;
	kids = load_calloc(procs, sizeof(*kids));
	from = load_calloc(procs, sizeof(*from));
	to = load_calloc(procs, sizeof(*to));
	t_open = load_now_ns();
	/* Or the children would print it again. */
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		share = o->lo_conns / procs + (i < o->lo_conns % procs);
		if (pipe2(up, O_CLOEXEC) == -1 || pipe2(down, O_CLOEXEC) == -1)
			msg_fatal(LOAD_EXIT_USAGE, "pipe");
		if ((kids[i] = fork()) == -1)
			msg_fatal(LOAD_EXIT_USAGE, "fork");
		if (kids[i] == 0) {
			/* Its own ends of its own pipes, nothing else. */
			for (j = 0; j < i; j++) {
				fclose(from[j]);
				close(to[j]);
			}
			free(kids);
			free(from);
			free(to);
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
	for (i = 0; i < procs; i++) {
		if (fscanf(from[i], "%u %u", &a, &b) != 2) {
			a = 0;
			b = o->lo_conns / procs;
		}
		opened += a;
		failed += b;
	}
	/* Every echo round has come back: nothing moves from here on. */
	t_quiet = load_now_ns();
	open_s = (double)(t_quiet - t_open) / NS;
	measured = o->lo_server_pid > 0;
	if (measured) {
		/* Let forked peers finish starting their children. */
		usleep((useconds_t)(o->lo_settle * 1e6));
		if (proc_mem(o->lo_server_pid, &rss, &pss, &nproc) == -1)
			msg_fatalx(LOAD_EXIT_USAGE, "cannot read /proc");
	}
	if (measured && o->lo_term) {
		now = load_now_ns();
		if (now < t_quiet + (uint64_t)(o->lo_idle * NS))
			usleep((useconds_t)((t_quiet +
			    (uint64_t)(o->lo_idle * NS) - now) / 1000));
		term_ms = proc_term(o->lo_server_pid, o->lo_timeout);
	}
	for (i = 0; i < procs; i++)
		(void)!write(to[i], o->lo_term ? "t" : "e", 1);
	for (i = 0; i < procs; i++) {
		if (fscanf(from[i], "%u %u", &a, &b) == 2)
			failed2 += b;
		else if (!o->lo_term)
			failed2 += o->lo_conns / procs;
		fclose(from[i]);
		close(to[i]);
		(void)waitpid(kids[i], &st, 0);
	}
	if (o->lo_term && term_ms < 0) {
		msg_warnx("hold: the server did not exit within %.0f s of "
		    "SIGTERM", o->lo_timeout);
		failed++;
	}
	if (o->lo_kv) {
		printf("workload=hold conns=%u opened=%u open_s=%.2f "
		    "errors=%u", o->lo_conns, opened, open_s, failed + failed2);
		if (measured)
			printf(" procs=%u rss_kib=%" PRIu64 " pss_kib=%" PRIu64,
			    nproc, rss, pss);
		if (o->lo_term)
			printf(" term_ms=%.1f", term_ms);
		printf("\n");
	} else {
		printf("hold: %u of %u connections opened in %.2f s over %u "
		    "processes, each echoed; %u errors\n", opened, o->lo_conns,
		    open_s, procs, failed + failed2);
		if (measured)
			printf("  server: %u processes, RSS %.1f MiB, PSS "
			    "%.1f MiB\n", nproc, (double)rss / 1024,
			    (double)pss / 1024);
		if (o->lo_term)
			printf("  SIGTERM to exit: %.1f ms\n", term_ms);
	}
	free(kids);
	free(from);
	free(to);
	return (failed + failed2 > 0 || opened < o->lo_conns) ?
	    LOAD_EXIT_ERRORS : LOAD_EXIT_OK;
}
