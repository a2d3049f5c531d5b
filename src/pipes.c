/*
 * The pool of splice pipes.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "pipes.h"

void
pipe_pool_init(struct pipe_pool *pp, unsigned cap, uint32_t size)
{
	pp->pp_nidle = pp->pp_live = 0;
	pp->pp_cap = cap;
	pp->pp_size = size;
	pp->pp_used_at = 0;
}

int
pipe_pool_get(struct pipe_pool *pp, int fds[2], uint64_t now)
{
	int	 got;

	pp->pp_used_at = now;
	if (pp->pp_nidle > 0) {
		pp->pp_nidle--;
		fds[0] = pp->pp_idle[pp->pp_nidle][0];
		fds[1] = pp->pp_idle[pp->pp_nidle][1];
		return 0;
	}
	if (pp->pp_live >= pp->pp_cap ||
	    pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	/*
	 * The pipe is the connection's buffer: size it like buffer_size,
	 * for the same back-pressure.  The first pipe tells what the kernel
	 * gives (it rounds to pages and caps at fs.pipe-max-size).
	 */
	got = fcntl(fds[1], F_SETPIPE_SZ, (int)pp->pp_size);
	if (got == -1)
		got = fcntl(fds[1], F_GETPIPE_SZ);
	if (got > 0 && (uint32_t)got < pp->pp_size)
		pp->pp_size = (uint32_t)got;
	pp->pp_live++;
	return 0;
}

static void
pipe_close(struct pipe_pool *pp, int fds[2])
{
	close(fds[0]);
	close(fds[1]);
	pp->pp_live--;
}

void
pipe_pool_put(struct pipe_pool *pp, int fds[2], bool empty, uint64_t now)
{
	pp->pp_used_at = now;
	if (!empty || pp->pp_nidle == PIPES_IDLE_MAX) {
		pipe_close(pp, fds);
		return;
	}
	pp->pp_idle[pp->pp_nidle][0] = fds[0];
	pp->pp_idle[pp->pp_nidle][1] = fds[1];
	pp->pp_nidle++;
}

uint64_t
pipe_pool_trim(struct pipe_pool *pp, uint64_t now)
{
	if (pp->pp_nidle == 0)
		return UINT64_MAX;
	if (now - pp->pp_used_at < PIPES_IDLE_MS)
		return pp->pp_used_at + PIPES_IDLE_MS;
	while (pp->pp_nidle > 0) {
		pp->pp_nidle--;
		pipe_close(pp, pp->pp_idle[pp->pp_nidle]);
	}
	return UINT64_MAX;
}
