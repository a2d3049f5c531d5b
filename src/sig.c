/*
 * Signal masks and signalfds for the master and the workers.
 */
#include "autoconf.h"

#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "sig.h"

static sigset_t	 master_mask;

void
sig_master_block(void)
{
	sigemptyset(&master_mask);
	sigaddset(&master_mask, SIGTERM);
	sigaddset(&master_mask, SIGINT);
	sigaddset(&master_mask, SIGHUP);
	sigaddset(&master_mask, SIGCHLD);
	sigaddset(&master_mask, SIGUSR1);
	sigaddset(&master_mask, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &master_mask, NULL) == -1)
		fatal("sigprocmask");
	/* Peers vanish mid-write all the time; EPIPE is enough. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal(SIGPIPE)");
}

int
sig_master_fd(void)
{
	int	 fd;

	if ((fd = signalfd(-1, &master_mask, SFD_NONBLOCK | SFD_CLOEXEC))
	    == -1)
		fatal("signalfd");
	return fd;
}

int
sig_worker_init(void)
{
	sigset_t	 mask;

	if (signal(SIGINT, SIG_IGN) == SIG_ERR ||
	    signal(SIGHUP, SIG_IGN) == SIG_ERR ||
	    signal(SIGUSR2, SIG_IGN) == SIG_ERR ||
	    signal(SIGCHLD, SIG_DFL) == SIG_ERR)
		return -1;
	sigemptyset(&mask);
	sigaddset(&mask, WORKER_SIG_STOP);
	sigaddset(&mask, WORKER_SIG_RETIRE);
	if (sigprocmask(SIG_SETMASK, &mask, NULL) == -1)
		return -1;
	return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
sig_read(int fd)
{
	struct signalfd_siginfo	 si;
	ssize_t			 n;

	do
		n = read(fd, &si, sizeof(si));
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}
