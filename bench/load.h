/*
 * echo-load: exit codes, the options every workload reads, the
 * workloads, and the clock they share.
 */
#ifndef ECHO_LOAD_H
#define ECHO_LOAD_H

#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Exit codes; the usage text in echo-load.c lists them too. */
enum load_exit {
	LOAD_EXIT_OK = 0,	/* every byte echoed and verified */
	LOAD_EXIT_ERRORS = 1,	/* bad or lost data, a failed connection */
	LOAD_EXIT_USAGE = 2,	/* misuse, or the generator itself failed */
};

#define NS		1000000000ULL
#define IO_CHUNK	(128 * 1024)	/* largest read or write; largest -s */
#define UDP_MAX		65507		/* largest -s for udp (IPv4) */
#define MAX_EVENTS	512		/* epoll events taken per wait */

struct load_opts {
	const char	*lo_workload;
	struct sockaddr_storage lo_dst;
	socklen_t	 lo_dstlen;
	struct in_addr	 lo_src;	/* first source address */
	unsigned	 lo_nsrc;	/* 0: let the kernel choose */
	unsigned	 lo_conns;
	unsigned	 lo_procs;
	unsigned	 lo_parallel;	/* connects (udp: datagrams) in flight */
	double		 lo_duration;	/* s, measured */
	double		 lo_warmup;	/* s, before measuring */
	double		 lo_timeout;	/* s, for each waiting phase */
	double		 lo_rate;	/* latency: messages/s in total */
	size_t		 lo_size;	/* message size */
	int		 lo_cpu;
	pid_t		 lo_server_pid;
	const char	*lo_cgroup;	/* the server's cgroup v2 directory */
	bool		 lo_profile;	/* count the server's syscalls (-x) */
	bool		 lo_term;	/* hold: SIGTERM the server at the end */
	double		 lo_settle;	/* hold: s before measuring memory */
	double		 lo_idle;	/* hold: s quiet before SIGTERM */
	unsigned	 lo_repeat;	/* start: runs */
	bool		 lo_kv;		/* one key=value line */
	char		**lo_cmd;	/* start: the daemon's argv */
};

/*
 * The workloads, one file each.  Each runs, prints its report on stdout
 * and returns LOAD_EXIT_OK or LOAD_EXIT_ERRORS; it exits with
 * LOAD_EXIT_USAGE when the generator itself fails.
 */
int	load_bulk(const struct load_opts *);
int	load_latency(const struct load_opts *);
int	load_rate(const struct load_opts *);
int	load_hold(const struct load_opts *);
int	load_start(const struct load_opts *);
int	load_udp(const struct load_opts *);

/* calloc(), or exit with LOAD_EXIT_USAGE: the generator cannot go on. */
void	*load_calloc(size_t n, size_t size);

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline uint64_t
load_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* The epoll_wait() timeout from now until when: 0 once it has passed. */
static inline int
load_ms_until(uint64_t now, uint64_t when)
{
	if (when <= now)
		return 0;
	/* Round up: waking early only costs another turn. */
	return (int)((when - now + 999999) / 1000000);
}

#endif
