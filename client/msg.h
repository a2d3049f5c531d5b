/*
 * Messages on stderr, each "echo-client: ..." in one write(2).
 * msg_warn() appends ": strerror(errno)"; msg_warnx() does not;
 * msg_note() prints nothing in quiet mode.  All preserve errno.
 */
#ifndef ECHO_CLIENT_MSG_H
#define ECHO_CLIENT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void	msg_set_quiet(bool);
void	msg_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	msg_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	msg_note(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Format a duration as "30s" or "250ms" into buf; returns buf. */
const char	*msg_duration(uint64_t ms, char *buf, size_t len);

#endif
