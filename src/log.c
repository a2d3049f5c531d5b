/*
 * Logging to journald with structured fields, or to stderr.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "echod.h"
#include "log.h"

#define LOG_LINE_MAX	2048
#define LOG_MAX_FIELDS	8

static bool	 log_journal;
static int	 log_level = LOG_INFO;
static char	 log_role[32] = "master";

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",
	[LOG_ALERT] = "alert",
	[LOG_CRIT] = "crit",
	[LOG_ERR] = "err",
	[LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

/*
 * True when stderr is the journal stream systemd connected us to: the
 * device and inode in $JOURNAL_STREAM match fd 2.
 */
static bool
stderr_is_journal_stream(void)
{
	const char	*env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat	 st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void
log_init(enum log_target target, int level, const char *role)
{
	switch (target) {
	case LOG_TARGET_JOURNAL:
		log_journal = true;
		break;
	case LOG_TARGET_STDERR:
		log_journal = false;
		break;
	case LOG_TARGET_AUTO:
		/*
		 * A person at a terminal wants to see the log; anything
		 * else on a host with journald gets the journal.
		 */
		log_journal = stderr_is_journal_stream() ||
		    (!isatty(STDERR_FILENO) &&
		    access("/run/systemd/journal/socket", W_OK) == 0);
		break;
	}
	log_level = level;
	if (role != NULL)
		log_set_role(role);
}

void
log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

bool
log_to_journal(void)
{
	return log_journal;
}

int
log_level_from_name(const char *name)
{
	static const int accepted[] = {
		LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG
	};
	size_t	 i;

	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		if (strcmp(name, level_names[accepted[i]]) == 0)
			return accepted[i];
	return -1;
}

/* One whole line per write(2), so lines of several processes never mix. */
static void
log_stderr(int prio, const char *msg)
{
	char		 line[LOG_LINE_MAX + 128];
	struct timespec	 ts;
	struct tm	 tm;
	int		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s echod[%ld] %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[prio],
	    (long)getpid(), log_role, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* Nothing useful can be done if stderr is gone. */
	(void)write(STDERR_FILENO, line, (size_t)n);
}

static void
log_journal_send(int prio, const char *msgid, const char *fields,
    const char *msg)
{
	struct iovec	 iov[5 + LOG_MAX_FIELDS];
	char		 fmsg[LOG_LINE_MAX + 16], fprio[16], fid[64], frole[48];
	const char	*p, *nl;
	int		 n = 0;

	snprintf(fmsg, sizeof(fmsg), "MESSAGE=%s", msg);
	snprintf(fprio, sizeof(fprio), "PRIORITY=%d", prio);
	snprintf(frole, sizeof(frole), "ECHOD_ROLE=%s", log_role);
	iov[n++] = (struct iovec){ fmsg, strlen(fmsg) };
	iov[n++] = (struct iovec){ fprio, strlen(fprio) };
	iov[n++] = (struct iovec){ "SYSLOG_IDENTIFIER=echod", 23 };
	iov[n++] = (struct iovec){ frole, strlen(frole) };
	if (msgid != NULL) {
		snprintf(fid, sizeof(fid), "MESSAGE_ID=%s", msgid);
		iov[n++] = (struct iovec){ fid, strlen(fid) };
	}
	for (p = fields; p != NULL && *p != '\0' &&
	    n < (int)(sizeof(iov) / sizeof(iov[0])); p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		iov[n++] = (struct iovec){ (void *)p, (size_t)(nl - p) };
		if (*nl == '\0')
			break;
	}
	if (sd_journal_sendv(iov, n) < 0)
		log_stderr(prio, msg);	/* journald gone: do not lose it */
}

static void
log_vemit(int prio, const char *msgid, const char *fields, bool with_errno,
    const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	int	 saved_errno = errno;
	size_t	 len;

	if (prio > log_level) {
		errno = saved_errno;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved_errno));
	}
	if (log_journal)
		log_journal_send(prio, msgid, fields, msg);
	else
		log_stderr(prio, msg);
	errno = saved_errno;
}

void
log_event(int prio, const char *msgid, const char *fields,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(prio, msgid, fields, false, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, prio, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	 ap;						\
								\
	va_start(ap, fmt);					\
	log_vemit(prio, NULL, NULL, with_errno, fmt, ap);	\
	va_end(ap);						\
}

LOG_FN(log_warn, LOG_WARNING, true)
LOG_FN(log_warnx, LOG_WARNING, false)
LOG_FN(log_notice, LOG_NOTICE, false)
LOG_FN(log_info, LOG_INFO, false)
LOG_FN(log_debug, LOG_DEBUG, false)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, NULL, NULL, true, fmt, ap);
	va_end(ap);
	exit(ECHOD_EXIT_FAILURE);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, NULL, NULL, false, fmt, ap);
	va_end(ap);
	exit(ECHOD_EXIT_FAILURE);
}

void
log_burst(struct log_burst *b, uint64_t now, const char *fmt, ...)
{
	va_list	 ap;
	char	 detail[LOG_LINE_MAX / 2];

	b->lb_last = now;
	if (b->lb_count++ > 0)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", b->lb_what, detail);
}

uint64_t
log_burst_tick(struct log_burst *b, uint64_t now)
{
	if (b->lb_count == 0)
		return UINT64_MAX;
	if (now - b->lb_last < LOG_BURST_QUIET_MS)
		return b->lb_last + LOG_BURST_QUIET_MS;
	if (b->lb_count > 1)
		log_warnx("%s: %u times in the last burst", b->lb_what,
		    b->lb_count);
	b->lb_count = 0;
	return UINT64_MAX;
}
