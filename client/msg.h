/*
 * Messages on stderr, each "NAME: ..." in one write(2); NAME is
 * "echo-client" unless msg_set_name() says otherwise.  msg_warn() and
 * msg_fatal() append ": strerror(errno)"; msg_warnx() and msg_fatalx()
 * do not; msg_note() prints nothing in quiet mode.  All but the fatal
 * ones preserve errno.
 */
#ifndef ECHO_CLIENT_MSG_H
#define ECHO_CLIENT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The program name every message starts with; the string must last. */
void	msg_set_name(const char *);
void	msg_set_quiet(bool);

/*
 * After max warnings (msg_warn, msg_warnx), count the rest instead of
 * printing them; 0 (the default) prints all.  msg_flush() then says how
 * many were held back, if any.
 */
void	msg_set_limit(unsigned max);
void	msg_flush(void);

void	msg_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	msg_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	msg_note(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Print, whatever the limit, and exit(status). */
void	msg_fatal(int status, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	msg_fatalx(int status, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/*
 * One line of program output on stdout (a newline is added), flushed.
 * Returns 0, or -1 once stdout has failed (a full disk; a reader that
 * went away: EPIPE, since SIGPIPE is ignored), which is reported the
 * first time only; msg_out_failed() tells whether it has.
 */
int	msg_out(const char *, ...) __attribute__((format(printf, 1, 2)));
bool	msg_out_failed(void);

/* Format a duration as "30s" or "250ms" into buf; returns buf. */
const char	*msg_duration(uint64_t ms, char *buf, size_t len);

#endif
