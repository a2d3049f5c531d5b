/*
 * Diagnostics on stderr.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

static const char	*msg_name = "echo-client";
static bool		 msg_quiet;
static unsigned		 msg_limit;	/* 0: none */
static unsigned		 msg_warned;	/* so far, held back or not */

void
msg_set_name(const char *name)
{
	msg_name = name;
}

void
msg_set_quiet(bool quiet)
{
	msg_quiet = quiet;
}

void
msg_set_limit(unsigned max)
{
	msg_limit = max;
}

/* One write per line keeps it whole next to other processes' output. */
static void
msg_vprint(const char *fmt, va_list ap, int err)
{
	char	 line[1024];
	int	 n, len;

	len = snprintf(line, sizeof(line), "%s: ", msg_name);
	n = vsnprintf(line + len, sizeof(line) - (size_t)len, fmt, ap);
	if (n > 0)
		len = len + n < (int)sizeof(line) ? len + n :
		    (int)sizeof(line) - 1;
	if (err != 0)
		len += snprintf(line + len, sizeof(line) - (size_t)len, ": %s",
		    strerror(err));
	if (len >= (int)sizeof(line) - 1)
		len = (int)sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)len) == -1)
		return;	/* nowhere left to complain */
}

/* Whether the limit holds this warning back; counts it either way. */
static bool
msg_held(void)
{
	return msg_limit > 0 && msg_warned++ >= msg_limit;
}

static void
msg_print(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
msg_print(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	msg_vprint(fmt, ap, 0);
	va_end(ap);
}

void
msg_flush(void)
{
	if (msg_limit > 0 && msg_warned > msg_limit)
		msg_print("... and %u more warnings like these",
		    msg_warned - msg_limit);
}

void
msg_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (msg_held())
		return;
	va_start(ap, fmt);
	msg_vprint(fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
msg_warnx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (msg_held())
		return;
	va_start(ap, fmt);
	msg_vprint(fmt, ap, 0);
	va_end(ap);
	errno = saved;
}

void
msg_note(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (msg_quiet)
		return;
	va_start(ap, fmt);
	msg_vprint(fmt, ap, 0);
	va_end(ap);
	errno = saved;
}

void
msg_fatal(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	msg_vprint(fmt, ap, errno);
	va_end(ap);
	exit(status);
}

void
msg_fatalx(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	msg_vprint(fmt, ap, 0);
	va_end(ap);
	exit(status);
}

const char *
msg_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}

static bool	 out_failed;

bool
msg_out_failed(void)
{
	return out_failed;
}

int
msg_out(const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (out_failed)
		return -1;
	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	/* Short-circuit: errno is the failed call's. */
	if (n < 0 || putchar('\n') == EOF || fflush(stdout) == EOF) {
		msg_warn("writing standard output");
		out_failed = true;
		return -1;
	}
	return 0;
}
