/*
 * start: run a daemon -n times with NOTIFY_SOCKET set; the time from
 * fork to READY=1, and from SIGTERM to its exit.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "msg.h"

static int
start_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Run the daemon once; its start-to-READY and SIGTERM-to-exit in ms. */
static int
start_once(const struct load_opts *o, double *ready_ms, double *stop_ms)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pp;
	char			 name[64], buf[512];
	uint64_t		 t0, deadline;
	ssize_t			 n;
	pid_t			 pid;
	int			 s, st;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* Abstract namespace: nothing to clean up. */
	snprintf(name, sizeof(name), "@echo-load-%ld-%lld", (long)getpid(),
	    (long long)load_now_ns());
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct
	    sockaddr_un, sun_path) + strlen(name))) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "notify socket");
	t0 = load_now_ns();
	if ((pid = fork()) == -1)
		msg_fatal(LOAD_EXIT_USAGE, "fork");
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", name, 1);
		execvp(o->lo_cmd[0], o->lo_cmd);
		/* Its one message shows, however many came before. */
		msg_set_limit(0);
		msg_warn("%s", o->lo_cmd[0]);
		_exit(127);
	}
	*ready_ms = *stop_ms = -1;
	deadline = t0 + (uint64_t)(o->lo_timeout * NS);
	pp.fd = s;
	pp.events = POLLIN;
	while (*ready_ms < 0 && poll(&pp, 1, load_ms_until(load_now_ns(),
	    deadline)) > 0) {
		if ((n = recv(s, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		if (strncmp(buf, "READY=1", 7) == 0 ||
		    strstr(buf, "\nREADY=1") != NULL)
			*ready_ms = (double)(load_now_ns() - t0) / 1e6;
	}
	close(s);
	t0 = load_now_ns();
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, &st, 0);
	*stop_ms = (double)(load_now_ns() - t0) / 1e6;
	if (*ready_ms < 0) {
		msg_warnx("start: no READY=1 within %.0f s", o->lo_timeout);
		return -1;
	}
	return 0;
}

int
load_start(const struct load_opts *o)
{
	double		*ready, *stop;
	unsigned	 i, errors = 0, runs = o->lo_repeat;

	if (o->lo_cmd == NULL || o->lo_cmd[0] == NULL)
		msg_fatalx(LOAD_EXIT_USAGE, "start: give the daemon's command "
		    "line after --");
	ready = load_calloc(runs, sizeof(*ready));
	stop = load_calloc(runs, sizeof(*stop));
	for (i = 0; i < runs; i++)
		if (start_once(o, &ready[i], &stop[i]) == -1)
			errors++;
	qsort(ready, runs, sizeof(*ready), start_cmp);
	qsort(stop, runs, sizeof(*stop), start_cmp);
	if (o->lo_kv)
		printf("workload=start runs=%u ready_ms_median=%.2f "
		    "ready_ms_max=%.2f stop_ms_median=%.2f stop_ms_max=%.2f "
		    "errors=%u\n", runs, ready[runs / 2], ready[runs - 1],
		    stop[runs / 2], stop[runs - 1], errors);
	else
		printf("start: %u runs: start to READY=1 median %.2f ms "
		    "(max %.2f); SIGTERM to exit median %.2f ms (max %.2f); "
		    "%u errors\n", runs, ready[runs / 2], ready[runs - 1],
		    stop[runs / 2], stop[runs - 1], errors);
	free(ready);
	free(stop);
	return errors ? LOAD_EXIT_ERRORS : LOAD_EXIT_OK;
}
