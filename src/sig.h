/*
 * Signals are read as data from a signalfd; no asynchronous handlers.
 */
#ifndef ECHOD_SIG_H
#define ECHOD_SIG_H

/*
 * Master, first thing in main(): block SIGTERM, SIGINT, SIGHUP, SIGCHLD,
 * SIGUSR1 and SIGUSR2 (so workers inherit them blocked until their own
 * signalfd exists, and signals that come while a live upgrade execs the
 * new program wait for it) and ignore SIGPIPE.  Exits on failure.
 */
void	sig_master_block(void);
/* The master's signalfd for the signals blocked above. */
int	sig_master_fd(void);

/*
 * Worker, right after fork(): ignore SIGINT, SIGHUP and SIGUSR2 (a
 * terminal or a careless kill sends them to the whole process group; the
 * master decides), read SIGTERM
 * (stop) and SIGUSR1 (retire) from a new signalfd, unblock the rest.
 * Returns the signalfd, or -1 with errno set.
 */
int	sig_worker_init(void);

/* Read one signal number from a signalfd: 0 when none is pending. */
int	sig_read(int fd);

#endif
