/*
 * Replacing the running program without letting go of anything: the
 * process side of a live upgrade (what to hand over and when is the
 * master's, master_upgrade.c; the hand-over's format is handover.h).
 *
 * The master checks the installed program first, in a child it does not
 * wait for: "PROGRAM --check-upgrade -c CONFIG", with the hand-over and
 * every descriptor the exec would pass, must print "echod VERSION" and
 * exit 0.  Only then does it exec that program in its own process, so
 * the PID, the children and every descriptor marked to be inherited
 * stay.  The environment tells the new program what it got:
 *
 *	ECHOD_HANDOVER=FD		the hand-over's memfd
 *	ECHOD_HANDOVER_FALLBACK=FD	the old program, opened: if the new
 *					one cannot take over after all, it
 *					execs this one back (a rollback)
 *	ECHOD_HANDOVER_REFUSED=WHY	set for that rollback: the old
 *					program resumes as it was
 *
 * These names and meanings are part of the hand-over's contract: they
 * must stay as they are in every version.
 */
#ifndef ECHOD_UPGRADE_H
#define ECHOD_UPGRADE_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPGRADE_ENV_HANDOVER	"ECHOD_HANDOVER"
#define UPGRADE_ENV_FALLBACK	"ECHOD_HANDOVER_FALLBACK"
#define UPGRADE_ENV_REFUSED	"ECHOD_HANDOVER_REFUSED"
#define UPGRADE_CHECK_OPTION	"--check-upgrade"
#define UPGRADE_CHECK_MS	10000	/* the check's time to answer */
#define UPGRADE_OUTPUT_MAX	1024	/* of the check's output, kept */

/* A program file: where it is installed and which file it is. */
struct upgrade_exe {
	char	 ue_path[PATH_MAX];
	dev_t	 ue_dev;
	ino_t	 ue_ino;
};

/*
 * The program this process runs.  Its path is 'path' when not NULL (as
 * handed over: the name it was installed under), else the one
 * /proc/self/exe names, " (deleted)" dropped.  The file is the one
 * /proc/self/exe opens, even when the path now leads elsewhere.  0, or
 * -1 with err.
 */
int	upgrade_exe_self(struct upgrade_exe *, const char *path, char *err,
	    size_t errlen);

/*
 * Whether another file than e's is now at e's path (a package replaced
 * the program).  False when nothing is there.
 */
bool	upgrade_exe_replaced(const struct upgrade_exe *e);

/* Whether the file at 'path' is the one (dev, ino). */
bool	upgrade_file_is(const char *path, dev_t dev, ino_t ino);

/*
 * Mark the n descriptors (-1 entries skipped) to be kept across exec
 * (inherit) or closed by it.  0, or -1 with errno, every flag then back
 * as it was.
 */
int	upgrade_inherit(const int *fds, size_t n, bool inherit);

/* A check of the installed program, running in a child. */
struct upgrade_check {
	pid_t		 uc_pid;	/* 0: none started */
	int		 uc_out;	/* read end of its output, or -1 */
	bool		 uc_eof;	/* ... which ended */
	bool		 uc_reaped;
	int		 uc_status;	/* its wait status, once reaped */
	dev_t		 uc_dev;	/* the file that was checked */
	ino_t		 uc_ino;
	size_t		 uc_len;
	char		 uc_buf[UPGRADE_OUTPUT_MAX + 1];
};

/*
 * Start "exe --check-upgrade -c config" in a child with the hand-over
 * memfd 'handover' and the n descriptors of 'fds', all as the exec
 * would pass them, and its output (stdout and stderr) in a pipe:
 * c->uc_out, close-on-exec and non-blocking.  Does not wait.  0, or -1
 * with err and nothing started.
 */
int	upgrade_check_start(struct upgrade_check *c, const char *exe,
	    const char *config, int handover, const int *fds, size_t n,
	    char *err, size_t errlen);

/*
 * Read what the check wrote so far (past UPGRADE_OUTPUT_MAX, dropped).
 * Returns true once its output ended (uc_eof; uc_out stays open until
 * upgrade_check_end()).
 */
bool	upgrade_check_read(struct upgrade_check *c);

/*
 * Whether pid is the check's: its wait status is then recorded.
 */
bool	upgrade_check_reaped(struct upgrade_check *c, pid_t pid, int status);

/* Whether the check is over: its output ended and it was reaped. */
bool	upgrade_check_done(const struct upgrade_check *c);

/*
 * The verdict of a check that is over: 0 with the new program's version
 * in 'version', or -1 with why not in err (its exit status and the
 * last lines it wrote).  Frees nothing; upgrade_check_end() does.
 */
int	upgrade_check_result(const struct upgrade_check *c, char *version,
	    size_t vlen, char *err, size_t errlen);

/*
 * End a check, over or not: SIGKILL and reap it if it still runs, close
 * its output, forget it.
 */
void	upgrade_check_end(struct upgrade_check *c);

/*
 * Exec 'exe' in this process with "-c config", the hand-over memfd and
 * this program opened as the fallback, after checking that the file at
 * 'exe' is still the checked one (dev, ino).  The descriptors to pass
 * must be marked already (upgrade_inherit()).  Returns only on failure:
 * -1 with err, the environment and the fallback as they were.
 */
int	upgrade_exec(const char *exe, dev_t dev, ino_t ino, const char *config,
	    int handover, char *err, size_t errlen);

/*
 * The new program's side: what the environment says was handed over.
 * Returns false when nothing was (a plain start), else true with
 * *handover and *fallback (-1 when unset or bad) and *refused (NULL
 * unless this is a rollback), and the three variables unset.
 */
bool	upgrade_env(int *handover, int *fallback, const char **refused);

/*
 * Close every descriptor above 2 that would outlive an exec (no
 * FD_CLOEXEC) and is not one of the n in 'keep': what a program run in
 * between (a wrapper script) let through.  This program's own and its
 * libraries' descriptors are all close-on-exec, and stay.
 */
void	upgrade_close_strays(const int *keep, size_t n);

/*
 * This program could not take over: exec the old one back from
 * 'fallback' with the hand-over (untouched) and 'why'.  Returns only if
 * that failed.
 */
void	upgrade_rollback(int fallback, int handover, const char *exe,
	    const char *config, const char *why);

#endif
