/*
 * Logging: structured entries to journald, or one line per event on stderr.
 *
 * log_warn() appends strerror(errno); log_warnx() does not.  fatal() and
 * fatalx() log at LOG_CRIT and exit.  Every function preserves errno.
 */
#ifndef ECHOD_LOG_H
#define ECHOD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO,
	LOG_TARGET_JOURNAL,
	LOG_TARGET_STDERR,
};

/* MESSAGE_IDs of lifecycle events (journalctl MESSAGE_ID=...). */
#define MSGID_STARTED		"20de030929574eeea9b3998c2618bbaf"
#define MSGID_RELOADED		"7c7b5cdf6dbd4cfe8646d0c7aa9dbc29"
#define MSGID_RELOAD_FAILED	"e91f4c2f71a3497b92070944d00db338"
#define MSGID_WORKER_DIED	"bb4b2ff49636424db8e570453a3bcc37"
#define MSGID_STOPPING		"d3df03f59e0f4b0eb3d306898f1d4d3a"
#define MSGID_STOPPED		"1f1ca12c1a9347be840dfd6bbeff2a0d"
#define MSGID_UPGRADED		"aa4bc96fd21a4862a8fe0f57e1370661"
#define MSGID_UPGRADE_FAILED	"23e8a11aa50c4e3caba92838f9dcc600"

/*
 * Set where and what to log.  Safe to call again (reload).  'role' is
 * "master" or "worker N"; it prefixes stderr lines and is the ECHOD_ROLE
 * journal field.
 */
void	log_init(enum log_target, int level, const char *role);
void	log_set_role(const char *role);
bool	log_to_journal(void);
/* Return the level for "err", "warning"..., or -1. */
int	log_level_from_name(const char *name);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Log one event with a MESSAGE_ID (may be NULL) and extra journal fields.
 * 'fields' is NULL or "KEY=value" entries separated by '\n'; they go to
 * the journal only.
 */
void	log_event(int prio, const char *msgid, const char *fields,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Warnings that come in bursts (a flood of refused connections, accept
 * out of descriptors): the first of a burst is logged at once with its
 * detail, the rest only counted; once LOG_BURST_QUIET_MS pass without
 * one, log_burst_tick() logs how many there were.  Set lb_what first.
 */
#define LOG_BURST_QUIET_MS	2000

struct log_burst {
	const char	*lb_what;	/* "max_connections", ... */
	uint64_t	 lb_last;	/* ms of the latest */
	unsigned	 lb_count;	/* in the current burst */
};

void	log_burst(struct log_burst *, uint64_t now, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* End a burst that went quiet.  Returns when to call again (ms), or
 * UINT64_MAX when no burst is under way. */
uint64_t log_burst_tick(struct log_burst *, uint64_t now);

#endif
