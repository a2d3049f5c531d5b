/*
 * Memory and CPU time of a process tree from /proc, and the time a
 * process takes to exit on SIGTERM.
 */
#include "autoconf.h"

#include <sys/pidfd.h>

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "msg.h"
#include "proc.h"

/* One process from /proc/PID/stat. */
struct proc_ent {
	long		 pe_pid, pe_ppid;
	uint64_t	 pe_ticks;	/* utime + stime + cutime + cstime */
	bool		 pe_in;		/* root or one of its descendants */
};

/*
 * Every process from /proc, those in root's tree marked.  Returns how
 * many, with *ents to free, or -1 when /proc cannot be read.
 */
static long
proc_tree(pid_t root, struct proc_ent **ents)
{
	DIR			*d;
	struct dirent		*de;
	struct proc_ent		*e = NULL, *ne;
	FILE			*f;
	char			 path[64], line[1024], *p, *end;
	unsigned long long	 t[4];
	long			 n = 0, cap = 0, i, j, pid;
	bool			 grew;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;	/* gone meanwhile */
		p = fgets(line, sizeof(line), f) != NULL ?
		    strrchr(line, ')') : NULL;
		fclose(f);
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			if ((ne = realloc(e, (size_t)cap * sizeof(*e))) ==
			    NULL) {
				free(e);
				closedir(d);
				return -1;
			}
			e = ne;
		}
		/* state ppid pgrp session tty tpgid flags minflt cminflt
		 * majflt cmajflt utime stime cutime cstime */
		if (p == NULL || sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u "
		    "%*u %*u %*u %*u %llu %llu %llu %llu", &e[n].pe_ppid,
		    &t[0], &t[1], &t[2], &t[3]) != 5)
			continue;
		e[n].pe_pid = pid;
		e[n].pe_ticks = t[0] + t[1] + t[2] + t[3];
		e[n].pe_in = pid == root;
		n++;
	}
	closedir(d);
	/* Children of marked processes, until no more are found. */
	do {
		grew = false;
		for (i = 0; i < n; i++) {
			if (e[i].pe_in)
				continue;
			for (j = 0; j < n; j++)
				if (e[j].pe_in && e[j].pe_pid == e[i].pe_ppid)
					break;
			if (j < n)
				e[i].pe_in = grew = true;
		}
	} while (grew);
	*ents = e;
	return n;
}

int
proc_mem(pid_t root, uint64_t *rss, uint64_t *pss, unsigned *nproc)
{
	struct proc_ent		*e;
	FILE			*f;
	char			 path[64], line[256];
	unsigned long long	 v;
	long			 n, i;

	*rss = *pss = 0;
	*nproc = 0;
	if ((n = proc_tree(root, &e)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (!e[i].pe_in)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup",
		    e[i].pe_pid);
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
	free(e);
	return 0;
}

int
proc_cpu(pid_t root, uint64_t *usec)
{
	struct proc_ent	*e;
	uint64_t	 ticks = 0;
	long		 n, i, hz;

	if ((hz = sysconf(_SC_CLK_TCK)) <= 0 ||
	    (n = proc_tree(root, &e)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (e[i].pe_in)
			ticks += e[i].pe_ticks;
	free(e);
	*usec = ticks * 1000000 / (uint64_t)hz;
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
