/*
 * The server's processes, as the hold workload measures them.
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
 * SIGTERM pid and wait up to timeout seconds for it to exit.  Returns
 * the milliseconds it took, or -1 if it did not exit in time.  Exits
 * with LOAD_EXIT_USAGE when pid cannot be watched or signalled.
 */
double	proc_term(pid_t pid, double timeout);

#endif
