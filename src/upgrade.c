/*
 * Live upgrade, the process side: which program runs, the check child,
 * the exec, and the way back.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upgrade.h"

#define DELETED_SUFFIX	" (deleted)"

extern char	**environ;

int
upgrade_exe_self(struct upgrade_exe *e, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 len;
	int		 fd, rc;

	memset(e, 0, sizeof(*e));
	if (path != NULL)
		snprintf(e->ue_path, sizeof(e->ue_path), "%s", path);
	else {
		n = readlink("/proc/self/exe", e->ue_path,
		    sizeof(e->ue_path) - 1);
		if (n <= 0) {
			snprintf(err, errlen, "readlink /proc/self/exe: %s",
			    n == 0 ? "empty" : strerror(errno));
			return -1;
		}
		e->ue_path[n] = '\0';
		/* A package replaced the program before we looked. */
		len = strlen(e->ue_path);
		if (len > strlen(DELETED_SUFFIX) && strcmp(e->ue_path + len -
		    strlen(DELETED_SUFFIX), DELETED_SUFFIX) == 0)
			e->ue_path[len - strlen(DELETED_SUFFIX)] = '\0';
	}
	/*
	 * The file itself, not whatever is at its path now.  (Valgrind
	 * answers this open with its client's program, not itself.)
	 */
	rc = -1;
	if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) != -1) {
		rc = fstat(fd, &st);
		close(fd);
	}
	if (rc == -1 && stat(e->ue_path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", e->ue_path, strerror(errno));
		return -1;
	}
	e->ue_dev = st.st_dev;
	e->ue_ino = st.st_ino;
	return 0;
}

bool
upgrade_exe_replaced(const struct upgrade_exe *e)
{
	struct stat	 st;

	if (stat(e->ue_path, &st) == -1)
		return false;
	return st.st_dev != e->ue_dev || st.st_ino != e->ue_ino;
}

bool
upgrade_file_is(const char *path, dev_t dev, ino_t ino)
{
	struct stat	 st;

	return stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static int
set_cloexec(int fd, bool on)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return -1;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags);
}

int
upgrade_inherit(const int *fds, size_t n, bool inherit)
{
	size_t	 i, j;
	int	 saved;

	for (i = 0; i < n; i++) {
		if (fds[i] == -1 || set_cloexec(fds[i], !inherit) == 0)
			continue;
		saved = errno;
		for (j = 0; j < i; j++)
			if (fds[j] != -1)
				(void)set_cloexec(fds[j], inherit);
		errno = saved;
		return -1;
	}
	return 0;
}

static bool
is_ours(const char *var)
{
	return strncmp(var, "ECHOD_HANDOVER", strlen("ECHOD_HANDOVER")) == 0;
}

/*
 * The environment without any ECHOD_HANDOVER* variable, plus 'a' and
 * 'b' (NULL: none), in a new array the caller frees (the strings are
 * environ's and the caller's).  NULL when out of memory.
 */
static char **
env_with(char *a, char *b)
{
	char	**env;
	size_t	 n = 0, i, j = 0;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 3, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (!is_ours(environ[i]))
			env[j++] = environ[i];
	if (a != NULL)
		env[j++] = a;
	if (b != NULL)
		env[j++] = b;
	env[j] = NULL;
	return env;
}

int
upgrade_check_start(struct upgrade_check *c, const char *exe,
    const char *config, int handover, const int *fds, size_t n, char *err,
    size_t errlen)
{
	char		 var[64], *argv[5], **env;
	struct stat	 st;
	sigset_t	 none;
	int		 p[2];
	pid_t		 pid;

	memset(c, 0, sizeof(*c));
	c->uc_out = -1;
	if (stat(exe, &st) == -1) {
		snprintf(err, errlen, "%s: %s", exe, strerror(errno));
		return -1;
	}
	snprintf(var, sizeof(var), "%s=%d", UPGRADE_ENV_HANDOVER, handover);
	if ((env = env_with(var, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		free(env);
		return -1;
	}
	argv[0] = (char *)exe;
	argv[1] = (char *)UPGRADE_CHECK_OPTION;
	argv[2] = (char *)"-c";
	argv[3] = (char *)config;
	argv[4] = NULL;
	switch (pid = fork()) {
	case -1:
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		free(env);
		return -1;
	case 0:
		/* What the exec would pass, and a plain signal state. */
		sigemptyset(&none);
		if (dup2(p[1], STDOUT_FILENO) == -1 ||
		    dup2(p[1], STDERR_FILENO) == -1 ||
		    upgrade_inherit(fds, n, true) == -1 ||
		    upgrade_inherit(&handover, 1, true) == -1 ||
		    signal(SIGPIPE, SIG_DFL) == SIG_ERR ||
		    sigprocmask(SIG_SETMASK, &none, NULL) == -1)
			_exit(127);
		execve(exe, argv, env);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", exe,
		    strerror(errno));
		_exit(127);
	default:
		break;
	}
	close(p[1]);
	free(env);
	(void)fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	c->uc_pid = pid;
	c->uc_out = p[0];
	c->uc_dev = st.st_dev;
	c->uc_ino = st.st_ino;
	return 0;
}

bool
upgrade_check_read(struct upgrade_check *c)
{
	char	 drop[512];
	ssize_t	 n;

	while (!c->uc_eof) {
		if (c->uc_len < UPGRADE_OUTPUT_MAX)
			n = read(c->uc_out, c->uc_buf + c->uc_len,
			    UPGRADE_OUTPUT_MAX - c->uc_len);
		else
			n = read(c->uc_out, drop, sizeof(drop));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return false;
		if (n <= 0) {
			c->uc_eof = true;
			break;
		}
		if (c->uc_len < UPGRADE_OUTPUT_MAX)
			c->uc_len += (size_t)n;
	}
	c->uc_buf[c->uc_len] = '\0';
	return true;
}

bool
upgrade_check_reaped(struct upgrade_check *c, pid_t pid, int status)
{
	if (c->uc_pid == 0 || c->uc_pid != pid || c->uc_reaped)
		return false;
	c->uc_reaped = true;
	c->uc_status = status;
	return true;
}

bool
upgrade_check_done(const struct upgrade_check *c)
{
	return c->uc_pid != 0 && c->uc_reaped && c->uc_eof;
}

/* The output on one line: "a; b; c", trailing blanks dropped. */
static void
output_line(const struct upgrade_check *c, char *buf, size_t len)
{
	size_t	 i, o = 0;
	bool	 sep = false;

	for (i = 0; i < c->uc_len && o + 3 < len; i++) {
		if (c->uc_buf[i] == '\n' || c->uc_buf[i] == '\r') {
			sep = o > 0;
			continue;
		}
		if (sep) {
			buf[o++] = ';';
			buf[o++] = ' ';
			sep = false;
		}
		buf[o++] = (unsigned char)c->uc_buf[i] < ' ' ? '?' :
		    c->uc_buf[i];
	}
	buf[o] = '\0';
}

int
upgrade_check_result(const struct upgrade_check *c, char *version,
    size_t vlen, char *err, size_t errlen)
{
	char		 out[UPGRADE_OUTPUT_MAX + 64];
	const char	*line, *next, *v = NULL;
	size_t		 vl = 0;
	int		 st = c->uc_status;

	output_line(c, out, sizeof(out));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFSIGNALED(st))
			snprintf(err, errlen, "%s was killed by signal %d%s%s",
			    UPGRADE_CHECK_OPTION, WTERMSIG(st),
			    out[0] ? ": " : "", out);
		else
			snprintf(err, errlen, "%s failed (exit status %d)%s%s",
			    UPGRADE_CHECK_OPTION, WEXITSTATUS(st),
			    out[0] ? ": " : "", out);
		return -1;
	}
	/* Its last line "echod VERSION". */
	for (line = c->uc_buf; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next == NULL ? line + strlen(line) : next + 1;
		if (strncmp(line, "echod ", 6) == 0) {
			v = line + 6;
			vl = strcspn(v, "\n");
		}
	}
	if (v == NULL || vl == 0 || vl >= vlen) {
		snprintf(err, errlen, "%s did not say which version it is%s%s",
		    UPGRADE_CHECK_OPTION, out[0] ? ": " : "", out);
		return -1;
	}
	memcpy(version, v, vl);
	version[vl] = '\0';
	return 0;
}

void
upgrade_check_end(struct upgrade_check *c)
{
	int	 st;

	if (c->uc_pid > 0 && !c->uc_reaped) {
		(void)kill(c->uc_pid, SIGKILL);
		while (waitpid(c->uc_pid, &st, 0) == -1 && errno == EINTR)
			;
	}
	if (c->uc_out != -1)
		close(c->uc_out);
	memset(c, 0, sizeof(*c));
	c->uc_out = -1;
}

int
upgrade_exec(const char *exe, dev_t dev, ino_t ino, const char *config,
    int handover, char *err, size_t errlen)
{
	char		 hvar[64], fvar[64], *argv[4], **env;
	int		 fallback, saved;

	if (!upgrade_file_is(exe, dev, ino)) {
		snprintf(err, errlen, "%s changed again since it was checked",
		    exe);
		return -1;
	}
	/* Opened without O_CLOEXEC: the new program keeps it. */
	if ((fallback = open("/proc/self/exe", O_RDONLY)) == -1) {
		snprintf(err, errlen, "cannot open the running program to go "
		    "back to it if need be: %s", strerror(errno));
		return -1;
	}
	snprintf(hvar, sizeof(hvar), "%s=%d", UPGRADE_ENV_HANDOVER, handover);
	snprintf(fvar, sizeof(fvar), "%s=%d", UPGRADE_ENV_FALLBACK, fallback);
	if ((env = env_with(hvar, fvar)) == NULL) {
		close(fallback);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	argv[0] = (char *)exe;
	argv[1] = (char *)"-c";
	argv[2] = (char *)config;
	argv[3] = NULL;
	execve(exe, argv, env);
	saved = errno;
	free(env);
	close(fallback);
	snprintf(err, errlen, "cannot execute %s: %s", exe, strerror(saved));
	return -1;
}

static int
env_fd(const char *name)
{
	const char	*s = getenv(name);
	char		*end;
	long		 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > INT32_MAX ||
	    fcntl((int)v, F_GETFD) == -1)
		return -1;
	return (int)v;
}

bool
upgrade_env(int *handover, int *fallback, const char **refused)
{
	static char	 why[512];
	const char	*s;
	bool		 any;

	any = getenv(UPGRADE_ENV_HANDOVER) != NULL;
	*handover = env_fd(UPGRADE_ENV_HANDOVER);
	*fallback = env_fd(UPGRADE_ENV_FALLBACK);
	*refused = NULL;
	if ((s = getenv(UPGRADE_ENV_REFUSED)) != NULL) {
		snprintf(why, sizeof(why), "%s", s);
		*refused = why;
	}
	/* Workers and later programs must not take them as theirs. */
	unsetenv(UPGRADE_ENV_HANDOVER);
	unsetenv(UPGRADE_ENV_FALLBACK);
	unsetenv(UPGRADE_ENV_REFUSED);
	return any;
}

void
upgrade_close_strays(const int *keep, size_t n)
{
	struct dirent	*d;
	DIR		*dir;
	size_t		 i;
	long		 fd;
	char		*end;
	int		 flags;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		fd = strtol(d->d_name, &end, 10);
		if (*end != '\0' || end == d->d_name || fd <= STDERR_FILENO ||
		    fd > INT32_MAX || fd == dirfd(dir))
			continue;
		for (i = 0; i < n && keep[i] != fd; i++)
			;
		if (i < n)
			continue;
		if ((flags = fcntl((int)fd, F_GETFD)) != -1 &&
		    !(flags & FD_CLOEXEC))
			close((int)fd);
	}
	closedir(dir);
}

void
upgrade_rollback(int fallback, int handover, const char *exe,
    const char *config, const char *why)
{
	char	 hvar[64], *rvar, *argv[4], **env;
	int	 saved;

	if (fallback == -1) {
		errno = EBADF;
		return;
	}
	if (asprintf(&rvar, "%s=%s", UPGRADE_ENV_REFUSED, why) == -1)
		return;
	snprintf(hvar, sizeof(hvar), "%s=%d", UPGRADE_ENV_HANDOVER, handover);
	if ((env = env_with(hvar, rvar)) == NULL) {
		free(rvar);
		return;
	}
	argv[0] = (char *)exe;
	argv[1] = (char *)"-c";
	argv[2] = (char *)config;
	argv[3] = NULL;
	/* The program is a binary, so the exec needs no /dev/fd path. */
	(void)fcntl(fallback, F_SETFD, FD_CLOEXEC);
	fexecve(fallback, argv, env);
	saved = errno;
	(void)fcntl(fallback, F_SETFD, 0);
	free(env);
	free(rvar);
	errno = saved;
}
