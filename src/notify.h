/*
 * sd_notify(3) messages to the service manager.  All are no-ops when
 * $NOTIFY_SOCKET is unset.  Only the master calls these.
 */
#ifndef ECHOD_NOTIFY_H
#define ECHOD_NOTIFY_H

#include <stdint.h>

void	notify_ready(const char *status);
/* RELOADING=1 + STATUS= + MONOTONIC_USEC */
void	notify_reloading(const char *status);
void	notify_stopping(const char *status);	/* STOPPING=1 + STATUS= */
void	notify_status(const char *status);
/* The watchdog interval in microseconds, or 0 when it is off. */
uint64_t notify_watchdog_usec(void);
void	notify_watchdog(void);

#endif
