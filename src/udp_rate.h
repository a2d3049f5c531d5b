/*
 * The memory of the UDP rate table (ratelimit.h) of one generation of
 * workers: the master maps it MAP_SHARED before it forks them, and they
 * inherit the mapping.
 *
 * A generation reads UDP alone (the one before stops at once when
 * retired), so a reload that changes the table's size, rate or burst
 * simply gives the new generation a new table; one that changes none of
 * them passes the same table on, and with it what each network has used
 * (a reload is no fresh burst for a flood).  A live upgrade passes it
 * on too, to the new program: it keeps the memfd open for that.  The
 * master unmapping an old table leaves the mappings of workers still
 * draining TCP connections alone; the memory goes with the last of
 * them.
 */
#ifndef ECHOD_UDP_RATE_H
#define ECHOD_UDP_RATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "ratelimit.h"

struct udp_rate;

/*
 * Whether a generation with this config needs a table: a rate limit is
 * set and it will have UDP sockets (udp_sockets: how many).
 */
bool		 udp_rate_wanted(const struct echod_config *,
		    size_t udp_sockets);

/*
 * Map and initialise a table for cfg's [udp] rate_table_size,
 * rate_limit and rate_burst.  Its memory is allocated at once (a
 * fallocate()d memfd named "echod-udp-rate"), so that a host short of
 * memory fails here, not later in a worker.  Returns the table, or NULL
 * with the reason in err.
 */
struct udp_rate	*udp_rate_create(const struct echod_config *, char *err,
		    size_t errlen);

/* Whether r is already the table cfg asks for (NULL: no). */
bool		 udp_rate_matches(const struct udp_rate *r,
		    const struct echod_config *);

/* The table, for struct worker_args; NULL for a NULL r. */
struct ratelimit *udp_rate_table(const struct udp_rate *r);

/* Bytes mapped (a whole number of pages); 0 for a NULL r. */
size_t		 udp_rate_bytes(const struct udp_rate *r);

/*
 * For a hand-over (handover.h): r's memfd (close-on-exec, kept open for
 * this) and what it was made for.  -1 and zeros for a NULL r.
 */
int		 udp_rate_fd(const struct udp_rate *r);
void		 udp_rate_describe(const struct udp_rate *r, unsigned *entries,
		    unsigned *rate, unsigned *burst);

/*
 * Map the table another program handed over in memfd 'fd' ('bytes'
 * long, made for entries, rate and burst; RATELIMIT_LAYOUT checked by
 * the caller).  Returns it, owning fd, or NULL with the reason in err
 * and fd left open.
 */
struct udp_rate	*udp_rate_attach(int fd, size_t bytes, unsigned entries,
		    unsigned rate, unsigned burst, char *err, size_t errlen);

/* Unmap r and close its memfd in this process; NULL is a no-op. */
void		 udp_rate_free(struct udp_rate *r);

#endif
