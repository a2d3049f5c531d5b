/*
 * echo-load: load generator for TCP echo services (RFC 862).
 *
 * Workloads, each bounded in time, one file each:
 *   bulk     stream both ways on C connections; Gbit/s each way
 *   latency  fixed-rate small messages over C connections; percentiles
 *   rate     connect, echo one message, close, C at a time; conns/s
 *   hold     N idle connections over P processes, each proved to echo;
 *            the server's RSS and PSS summed over its process tree
 *   start    run a daemon with NOTIFY_SOCKET; time to READY=1 and from
 *            SIGTERM to exit
 *   udp      datagrams echoed per second, at most -j in flight per
 *            socket; loss and round-trip percentiles
 *
 * Every byte sent is taken from a fixed pseudo-random pattern at an
 * offset of its own per connection (pattern.c), and every echoed byte
 * is compared with what was sent at that stream offset (flow.c).  A
 * difference, a lost byte or a failed connection is counted as an error
 * and makes the exit status 1: nothing is silently dropped from the
 * figures.  (UDP may drop datagrams: udp reports their loss apart.)
 *
 * With -g (the server's cgroup) or -p, the windowed workloads also say
 * what the server spent in the measured window (cost.c).
 *
 * This file reads the command line and runs the workload.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "msg.h"
#include "pattern.h"

#define WARN_MAX	5		/* then only count them */

static const struct workload {
	const char	*w_name;
	int		(*w_run)(const struct load_opts *);
	bool		 w_target;	/* takes [HOST:]PORT */
	unsigned	 w_parallel;	/* -j by default */
} workloads[] = {
	{ "bulk",	load_bulk,	true,	256 },
	{ "latency",	load_latency,	true,	256 },
	{ "rate",	load_rate,	true,	256 },
	{ "hold",	load_hold,	true,	256 },
	{ "start",	load_start,	false,	256 },
	{ "udp",	load_udp,	true,	32 },
};

void *
load_calloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		msg_fatalx(LOAD_EXIT_USAGE, "out of memory");
	return p;
}

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
	    "  udp       datagrams of -s bytes over -c sockets, -j in flight\n"
	    "            on each; datagrams/s, loss, round-trip percentiles\n"
	    "\n"
	    "options:\n"
	    "  -c N        connections (default 1)\n"
	    "  -d SECS     measured time (default 5)\n"
	    "  -W SECS     warm-up before measuring (default 0.5)\n"
	    "  -t SECS     limit for each waiting phase (default 10)\n"
	    "  -r RATE     latency: messages per second in total (10000)\n"
	    "  -s BYTES    message size for latency, rate, hold, udp (64)\n"
	    "  -P N        hold: processes (default: 19000 connections each)\n"
	    "  -j N        connects in flight at once (default 256); udp:\n"
	    "              datagrams in flight per socket (default 32)\n"
	    "  -S ADDR/N   bind to N IPv4 source addresses from ADDR on,\n"
	    "              e.g. 127.0.0.2/8, to get past the port range\n"
	    "  -p PID      the server's process: hold measures the RSS and\n"
	    "              PSS of its tree, bulk, latency, rate and udp its\n"
	    "              CPU time (without -g)\n"
	    "  -g DIR      the server's cgroup v2 directory: bulk, latency,\n"
	    "              rate and udp measure its CPU time there\n"
	    "  -x          with -g: count the server's syscalls and context\n"
	    "              switches (perf events; needs tracefs)\n"
	    "  -T          hold: then SIGTERM PID and time its exit\n"
	    "  -i SECS     hold: with -T, leave the connections quiet this\n"
	    "              long before SIGTERM (default 0)\n"
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
		msg_fatalx(LOAD_EXIT_USAGE, "%s: \"%s\" is not a number from "
		    "%g to %g", what, s, min, max);
	return v;
}

static void
arg_target(struct load_opts *o, const char *arg)
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
		msg_fatalx(LOAD_EXIT_USAGE, "%s: %s", arg, gai_strerror(err));
	memcpy(&o->lo_dst, res->ai_addr, res->ai_addrlen);
	o->lo_dstlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
arg_src(struct load_opts *o, const char *arg)
{
	char	 addr[64], *slash;

	snprintf(addr, sizeof(addr), "%s", arg);
	if ((slash = strchr(addr, '/')) == NULL)
		o->lo_nsrc = 1;
	else {
		*slash = '\0';
		o->lo_nsrc = (unsigned)arg_num(slash + 1, 1, 254, "-S count");
	}
	if (inet_pton(AF_INET, addr, &o->lo_src) != 1)
		msg_fatalx(LOAD_EXIT_USAGE, "-S: \"%s\" is not an IPv4 address",
		    addr);
}

static const struct workload *
arg_workload(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (strcmp(name, workloads[i].w_name) == 0)
			return &workloads[i];
	msg_fatalx(LOAD_EXIT_USAGE, "unknown workload \"%s\" (bulk, latency, "
	    "rate, hold, start, udp)", name);
}

int
main(int argc, char *argv[])
{
	const struct workload	*w;
	struct load_opts	 o;
	cpu_set_t		 set;
	int			 ch;

	msg_set_name("echo-load");
	memset(&o, 0, sizeof(o));
	o.lo_conns = 1;
	o.lo_duration = 5;
	o.lo_warmup = 0.5;
	o.lo_timeout = 10;
	o.lo_rate = 10000;
	o.lo_size = 64;
	o.lo_parallel = 0;	/* the workload's default */
	o.lo_cpu = -1;
	o.lo_settle = 1;
	o.lo_repeat = 5;
	while ((ch = getopt(argc, argv, "w:c:d:W:t:r:s:P:j:S:p:g:xTi:n:C:khV")) !=
	    -1) {
		switch (ch) {
		case 'w':
			o.lo_workload = optarg;
			break;
		case 'c':
			o.lo_conns = (unsigned)arg_num(optarg, 1, 1e7, "-c");
			break;
		case 'd':
			o.lo_duration = arg_num(optarg, 0.01, 86400, "-d");
			break;
		case 'W':
			o.lo_warmup = arg_num(optarg, 0, 3600, "-W");
			break;
		case 't':
			o.lo_timeout = arg_num(optarg, 0.1, 3600, "-t");
			break;
		case 'r':
			o.lo_rate = arg_num(optarg, 1, 1e8, "-r");
			break;
		case 's':
			o.lo_size = (size_t)arg_num(optarg, 1, IO_CHUNK, "-s");
			break;
		case 'P':
			o.lo_procs = (unsigned)arg_num(optarg, 1, 1000, "-P");
			break;
		case 'j':
			o.lo_parallel = (unsigned)arg_num(optarg, 1, 1e6, "-j");
			break;
		case 'S':
			arg_src(&o, optarg);
			break;
		case 'p':
			o.lo_server_pid = (pid_t)arg_num(optarg, 1, INT_MAX,
			    "-p");
			break;
		case 'g':
			o.lo_cgroup = optarg;
			break;
		case 'x':
			o.lo_profile = true;
			break;
		case 'T':
			o.lo_term = true;
			break;
		case 'i':
			o.lo_idle = arg_num(optarg, 0, 3600, "-i");
			break;
		case 'n':
			o.lo_repeat = (unsigned)arg_num(optarg, 1, 1000, "-n");
			break;
		case 'C':
			o.lo_cpu = (int)arg_num(optarg, 0, CPU_SETSIZE - 1,
			    "-C");
			break;
		case 'k':
			o.lo_kv = true;
			break;
		case 'h':
			usage(stdout);
			return LOAD_EXIT_OK;
		case 'V':
			printf("echo-load (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return LOAD_EXIT_OK;
		default:
			usage(stderr);
			return LOAD_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (o.lo_workload == NULL) {
		usage(stderr);
		return LOAD_EXIT_USAGE;
	}
	w = arg_workload(o.lo_workload);
	if (o.lo_parallel == 0)
		o.lo_parallel = w->w_parallel;
	signal(SIGPIPE, SIG_IGN);
	/* One warning per failed connection would drown the report. */
	msg_set_limit(WARN_MAX);
	atexit(msg_flush);
	if (o.lo_cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(o.lo_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1)
			msg_fatal(LOAD_EXIT_USAGE, "cannot pin to CPU %d",
			    o.lo_cpu);
	}
	if (!w->w_target) {
		o.lo_cmd = argv;
		return w->w_run(&o);
	}
	if (argc != 1)
		msg_fatalx(LOAD_EXIT_USAGE, "give the target as [HOST:]PORT "
		    "(see -h)");
	arg_target(&o, argv[0]);
	if (o.lo_nsrc > 0 && o.lo_dst.ss_family != AF_INET)
		msg_fatalx(LOAD_EXIT_USAGE, "-S needs an IPv4 target");
	pattern_init();
	return w->w_run(&o);
}
