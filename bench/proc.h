/*
 * The server's processes, as the workloads measure them.
 */
#ifndef ECHO_LOAD_PROC_H
#define ECHO_LOAD_PROC_H

#include <sys/types.h>

#include <stdint.h>

/*
 * Sum RSS and PSS (KiB) over root and all its descendants, and count
 * them.  0, or -1 when /proc cannot be read.
 */
int	proc_mem(pid_t root, uint64_t *rss, uint64_t *pss, unsigned *nproc);

/*
 * CPU time of root and all its live descendants, in microseconds:
 * utime + stime + cutime + cstime from each one's /proc/PID/stat, so a
 * child that exited counts once its parent waited for it, and never if
 * the kernel reaped it (its parent ignores SIGCHLD).  Clock-tick
 * resolution.  0, or -1 when /proc cannot be read.
 */
int	proc_cpu(pid_t root, uint64_t *usec);

/*
 * SIGTERM pid and wait up to timeout seconds for it to exit.  Returns
 * the milliseconds it took, or -1 if it did not exit in time.  Exits
 * with LOAD_EXIT_USAGE when pid cannot be watched or signalled.
 */
double	proc_term(pid_t pid, double timeout);

#endif
