/*
 * Memory of a process tree from /proc, and the time a process takes
 * to exit on SIGTERM.
 */
#include "autoconf.h"

#include <sys/pidfd.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "msg.h"
#include "proc.h"

int
proc_mem(pid_t root, uint64_t *rss, uint64_t *pss, unsigned *nproc)
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

double
proc_term(pid_t pid, double timeout)
{
	struct pollfd	 pp;
	uint64_t	 t0;
	double		 ms = -1;

	if ((pp.fd = pidfd_open(pid, 0)) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "pidfd_open");
	t0 = load_now_ns();
	if (kill(pid, SIGTERM) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "kill");
	pp.events = POLLIN;
	if (poll(&pp, 1, (int)(timeout * 1000)) == 1)
		ms = (double)(load_now_ns() - t0) / 1e6;
	close(pp.fd);
	return ms;
}
