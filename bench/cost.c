/*
 * The server's cost over the measured window.
 */
#include "autoconf.h"

#include <sys/syscall.h>
#include <linux/perf_event.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cost.h"
#include "msg.h"
#include "proc.h"

/* The syscalls counted, by the name of their tracepoint. */
static const struct {
	const char	*cc_name;
	enum cost_count	 cc_kind;
} cost_calls[] = {
	{ "read",		COST_READ },
	{ "readv",		COST_READ },
	{ "recvfrom",		COST_READ },
	{ "recvmsg",		COST_READ },
	{ "recvmmsg",		COST_READ },
	{ "write",		COST_WRITE },
	{ "writev",		COST_WRITE },
	{ "sendto",		COST_WRITE },
	{ "sendmsg",		COST_WRITE },
	{ "sendmmsg",		COST_WRITE },
	{ "splice",		COST_SPLICE },
	{ "epoll_wait",		COST_WAIT },
	{ "epoll_pwait",	COST_WAIT },
	{ "epoll_pwait2",	COST_WAIT },
	{ "poll",		COST_WAIT },
	{ "ppoll",		COST_WAIT },
	{ "select",		COST_WAIT },
	{ "pselect6",		COST_WAIT },
};
#define COST_CALLS	(sizeof(cost_calls) / sizeof(cost_calls[0]))

static const char *const tracefs[] = {
	"/sys/kernel/tracing",
	"/sys/kernel/debug/tracing",
};

/* The tracepoint id of syscall name's entry, or -1 if there is none. */
static long
cost_tracepoint(const char *name)
{
	FILE	*f;
	char	 path[256];
	long	 id = -1;
	size_t	 i;

	for (i = 0; i < sizeof(tracefs) / sizeof(tracefs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_%s/id",
		    tracefs[i], name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%ld", &id) != 1)
			id = -1;
		fclose(f);
		break;
	}
	return id;
}

static int
cost_open_event(uint32_t type, uint64_t config, int cgroup, int cpu)
{
	struct perf_event_attr	 attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = type;
	attr.config = config;
	/* A cgroup event counts on one CPU, while the cgroup runs there. */
	return (int)syscall(SYS_perf_event_open, &attr, cgroup, cpu, -1,
	    PERF_FLAG_PID_CGROUP | PERF_FLAG_FD_CLOEXEC);
}

static void
cost_add_event(struct cost *c, uint32_t type, uint64_t config,
    enum cost_count kind, int cgroup, int cpu, const char *what)
{
	int	 fd;

	if ((fd = cost_open_event(type, config, cgroup, cpu)) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "perf event %s on CPU %d for %s",
		    what, cpu, c->co_cgroup);
	c->co_fd[c->co_nfd] = fd;
	c->co_kind[c->co_nfd] = kind;
	c->co_nfd++;
}

static void
cost_open_counts(struct cost *c)
{
	long	 id, ncpu;
	size_t	 i;
	int	 cg, cpu, found = 0;

	if ((ncpu = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		ncpu = 1;
	if ((cg = open(c->co_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		msg_fatal(LOAD_EXIT_USAGE, "%s", c->co_cgroup);
	c->co_fd = load_calloc((COST_CALLS + 1) * (size_t)ncpu,
	    sizeof(*c->co_fd));
	c->co_kind = load_calloc((COST_CALLS + 1) * (size_t)ncpu,
	    sizeof(*c->co_kind));
	for (i = 0; i < COST_CALLS; i++) {
		/* Older kernels lack some (epoll_pwait2): skip those. */
		if ((id = cost_tracepoint(cost_calls[i].cc_name)) == -1)
			continue;
		found++;
		for (cpu = 0; cpu < ncpu; cpu++)
			cost_add_event(c, PERF_TYPE_TRACEPOINT, (uint64_t)id,
			    cost_calls[i].cc_kind, cg, cpu,
			    cost_calls[i].cc_name);
	}
	if (found == 0)
		msg_fatalx(LOAD_EXIT_USAGE, "-x: no syscall tracepoints: is "
		    "tracefs mounted on /sys/kernel/tracing?");
	for (cpu = 0; cpu < ncpu; cpu++)
		cost_add_event(c, PERF_TYPE_SOFTWARE,
		    PERF_COUNT_SW_CONTEXT_SWITCHES, COST_SWITCH, cg, cpu,
		    "context-switches");
	close(cg);
	c->co_counting = true;
}

void
cost_init(struct cost *c, const struct load_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->co_cgroup = o->lo_cgroup;
	c->co_pid = o->lo_server_pid;
	c->co_cpu = c->co_cgroup != NULL || c->co_pid > 0;
	if (o->lo_profile) {
		if (c->co_cgroup == NULL)
			msg_fatalx(LOAD_EXIT_USAGE, "-x needs the server's "
			    "cgroup (-g)");
		cost_open_counts(c);
	}
	/* Fail now, not at the end of the run. */
	if (c->co_cpu)
		cost_mark(c, false);
	c->co_marks = 0;
}

/* usage_usec from DIR/cpu.stat. */
static uint64_t
cost_cgroup_us(const char *dir)
{
	FILE			*f;
	char			 path[4096], line[128];
	unsigned long long	 v;
	int			 found = 0;

	snprintf(path, sizeof(path), "%s/cpu.stat", dir);
	if ((f = fopen(path, "r")) == NULL)
		msg_fatal(LOAD_EXIT_USAGE, "%s", path);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "usage_usec %llu", &v) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	if (!found)
		msg_fatalx(LOAD_EXIT_USAGE, "%s: no usage_usec (not a cgroup "
		    "v2 directory?)", path);
	return v;
}

void
cost_mark(struct cost *c, bool end)
{
	uint64_t	 v;
	unsigned	 i, k = end ? 1 : 0;

	if (!c->co_cpu || c->co_marks > k)
		return;
	c->co_marks = k + 1;
	if (c->co_cgroup != NULL)
		c->co_cpu_us[k] = cost_cgroup_us(c->co_cgroup);
	else if (proc_cpu(c->co_pid, &c->co_cpu_us[k]) == -1)
		msg_fatalx(LOAD_EXIT_USAGE, "cannot read /proc for pid %ld",
		    (long)c->co_pid);
	memset(c->co_n[k], 0, sizeof(c->co_n[k]));
	for (i = 0; i < c->co_nfd; i++) {
		if (read(c->co_fd[i], &v, sizeof(v)) != (ssize_t)sizeof(v))
			msg_fatal(LOAD_EXIT_USAGE, "reading a perf event");
		c->co_n[k][c->co_kind[i]] += v;
	}
}

/* a / b, or 0 when there is no b. */
static double
cost_per(double a, uint64_t b)
{
	return b == 0 ? 0 : a / (double)b;
}

void
cost_print(const struct cost *c, uint64_t bytes_in, uint64_t bytes_out,
    bool kv)
{
	uint64_t	 n[COST_COUNTS];
	double		 cpu_s;
	int		 i;

	if (!c->co_cpu || c->co_marks != 2)
		return;
	cpu_s = (double)(c->co_cpu_us[1] - c->co_cpu_us[0]) / 1e6;
	if (kv) {
		/* A ratio without its divisor is left out, never printed as 0. */
		printf(" srv_cpu_s=%.3f", cpu_s);
		if (bytes_out > 0)
			printf(" srv_cpu_s_per_gb=%.3f", cpu_s * 1e9 /
			    (double)bytes_out);
	} else
		printf("  server: %.3f CPU s, %.3f CPU s per GB echoed (%s)\n",
		    cpu_s, cost_per(cpu_s * 1e9, bytes_out),
		    c->co_cgroup != NULL ? "its cgroup" : "/proc, its tree");
	if (!c->co_counting)
		return;
	for (i = 0; i < COST_COUNTS; i++)
		n[i] = c->co_n[1][i] - c->co_n[0][i];
	if (kv) {
		printf(" srv_reads=%" PRIu64 " srv_writes=%" PRIu64
		    " srv_splices=%" PRIu64 " srv_waits=%" PRIu64
		    " srv_switches=%" PRIu64, n[COST_READ], n[COST_WRITE],
		    n[COST_SPLICE], n[COST_WAIT], n[COST_SWITCH]);
		if (n[COST_READ] > 0)
			printf(" bytes_per_read=%.0f",
			    (double)bytes_in / (double)n[COST_READ]);
		if (n[COST_WRITE] > 0)
			printf(" bytes_per_write=%.0f",
			    (double)bytes_out / (double)n[COST_WRITE]);
		if (bytes_out > 0)
			printf(" switches_per_mb=%.2f",
			    (double)n[COST_SWITCH] * 1e6 / (double)bytes_out);
	} else
		printf("  server syscalls: %" PRIu64 " reads (%.0f bytes each), "
		    "%" PRIu64 " writes (%.0f bytes each), %" PRIu64 " splices, "
		    "%" PRIu64 " waits; %" PRIu64 " context switches (%.2f per "
		    "MB)\n", n[COST_READ], cost_per((double)bytes_in,
		    n[COST_READ]), n[COST_WRITE], cost_per((double)bytes_out,
		    n[COST_WRITE]), n[COST_SPLICE], n[COST_WAIT], n[COST_SWITCH],
		    cost_per((double)n[COST_SWITCH] * 1e6, bytes_out));
}

void
cost_free(struct cost *c)
{
	unsigned	 i;

	for (i = 0; i < c->co_nfd; i++)
		close(c->co_fd[i]);
	free(c->co_fd);
	free(c->co_kind);
	c->co_nfd = 0;
	c->co_fd = NULL;
	c->co_kind = NULL;
}
