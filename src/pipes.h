/*
 * A worker's pool of pipes for splice(2): streaming connections borrow
 * one while data flows and give it back when it is empty, so an echoed
 * byte goes socket -> pipe -> socket without being copied to user space.
 *
 * The pool never holds more than pp_cap pipes in all (borrowed and idle),
 * two descriptors each, so pipes cannot take the descriptors connections
 * need; a connection that gets none copies instead.  Idle pipes are
 * closed after PIPES_IDLE_MS, so a quiet worker holds none.
 */
#ifndef ECHOD_PIPES_H
#define ECHOD_PIPES_H

#include <stdbool.h>
#include <stdint.h>

#define PIPES_IDLE_MAX	32	/* idle pipes kept for reuse */
#define PIPES_IDLE_MS	1000

struct pipe_pool {
	int		 pp_idle[PIPES_IDLE_MAX][2];
	unsigned	 pp_nidle;
	unsigned	 pp_live;	/* borrowed + idle */
	unsigned	 pp_cap;	/* 0: no splicing */
	uint32_t	 pp_size;	/* bytes a pipe holds */
	uint64_t	 pp_used_at;	/* ms: last borrow or return */
};

/*
 * cap pipes at most, each sized to hold 'size' bytes (rounded to what
 * the kernel allows; the pipe's real size is in pp_size).
 */
void		 pipe_pool_init(struct pipe_pool *, unsigned cap, uint32_t size);
/* Borrow an empty pipe: 0, or -1 (cap reached, or out of descriptors). */
int		 pipe_pool_get(struct pipe_pool *, int fds[2], uint64_t now);
/* Give a pipe back; one not empty is closed, never reused. */
void		 pipe_pool_put(struct pipe_pool *, int fds[2], bool empty,
		    uint64_t now);
/* Close idle pipes once the pool has been unused for PIPES_IDLE_MS.
 * Returns when to call again (ms), or UINT64_MAX. */
uint64_t	 pipe_pool_trim(struct pipe_pool *, uint64_t now);

#endif
