/*
 * Diagnostics on stderr.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

static bool	 msg_quiet;

void
msg_set_quiet(bool quiet)
{
	msg_quiet = quiet;
}

/* One write per line keeps it whole next to other processes' output. */
static void
msg_vprint(const char *fmt, va_list ap, int err)
{
	char	 line[1024];
	int	 n, len;

	len = snprintf(line, sizeof(line), "echo-client: ");
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

void
msg_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

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

const char *
msg_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}
