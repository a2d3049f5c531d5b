/*
 * What the server spends over a workload's measured window: the CPU
 * time of all its processes and, when asked (-x), its syscalls and
 * context switches.
 *
 * CPU time comes from the server's cgroup v2 (-g DIR: usage_usec in
 * DIR/cpu.stat), which counts every process that ever ran in it, also
 * children that exited and were never waited for.  Without -g it comes
 * from /proc for the tree under -p PID: utime + stime + cutime + cstime
 * of each live process, which misses the children a process let the
 * kernel reap (SIGCHLD ignored).  The counts come from perf events
 * bound to the cgroup, on every CPU.
 */
#ifndef ECHO_LOAD_COST_H
#define ECHO_LOAD_COST_H

#include <stdbool.h>
#include <stdint.h>

#include "load.h"

enum cost_count {
	COST_READ,	/* read, readv, recvfrom, recvmsg, recvmmsg */
	COST_WRITE,	/* write, writev, sendto, sendmsg, sendmmsg */
	COST_SPLICE,
	COST_WAIT,	/* epoll_wait and its kin, poll, select */
	COST_SWITCH,	/* context switches: the server's tasks going off CPU */
	COST_COUNTS
};

struct cost {
	bool		 co_cpu;	/* measuring CPU time */
	bool		 co_counting;	/* -x: perf events open */
	const char	*co_cgroup;	/* -g, or NULL */
	pid_t		 co_pid;	/* -p, when there is no -g */
	int		*co_fd;		/* perf events, co_nfd of them */
	enum cost_count	*co_kind;	/* what each one counts */
	unsigned	 co_nfd;
	unsigned	 co_marks;	/* 2 once the window is closed */
	uint64_t	 co_cpu_us[2];	/* at the start and the end */
	uint64_t	 co_n[2][COST_COUNTS];
};

/*
 * Get ready to measure what o asks for (-g, -p, -x); nothing at all when
 * it asks for none.  Exits with LOAD_EXIT_USAGE when that cannot be
 * read (no cgroup v2 there, /proc unreadable, -x without -g, no tracefs).
 */
void	cost_init(struct cost *, const struct load_opts *o);

/*
 * Take the figures at the start of the window (end false) or at its end
 * (end true).  Exits with LOAD_EXIT_USAGE when they cannot be read.
 */
void	cost_mark(struct cost *, bool end);

/*
 * Print the window's figures as " key=value" pairs to end a key=value
 * line (kv), or as a line of their own: the server's CPU seconds and
 * CPU seconds per GB it wrote, and with -x the counts, bytes per read
 * and write, and context switches per MB written.  bytes_in is what the
 * server read in the window (what was sent to it), bytes_out what it
 * wrote.  Nothing when nothing was measured or the window never closed;
 * with kv, a ratio whose divisor is 0 is left out.
 */
void	cost_print(const struct cost *, uint64_t bytes_in, uint64_t bytes_out,
	    bool kv);

/* Close the perf events. */
void	cost_free(struct cost *);

#endif
