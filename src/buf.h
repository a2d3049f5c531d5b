/*
 * A fixed-capacity ring buffer that hands out iovecs, so one readv()
 * fills and one writev() drains it however the data wraps.  The memory
 * is allocated on first use and released when the buffer empties, so an
 * idle connection holds none.
 */
#ifndef ECHOD_BUF_H
#define ECHOD_BUF_H

#include <sys/uio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char		*b_data;	/* NULL until needed */
	uint32_t	 b_cap;
	uint32_t	 b_head;	/* first byte of data */
	uint32_t	 b_len;		/* bytes of data */
};

/* Allocate 'cap' bytes if not yet allocated.  0, or -1 (ENOMEM). */
int	buf_reserve(struct buf *, uint32_t cap);
/* Free the memory; only when empty. */
void	buf_release(struct buf *);

/* Free space as up to two iovecs; returns how many (0 when full). */
int	buf_space(const struct buf *, struct iovec iov[2]);
/* Data as up to two iovecs; returns how many (0 when empty). */
int	buf_data(const struct buf *, struct iovec iov[2]);
/* Account for n bytes written into / taken out of the buffer. */
void	buf_produce(struct buf *, size_t n);
void	buf_consume(struct buf *, size_t n);

static inline bool
buf_empty(const struct buf *b)
{
	return b->b_len == 0;
}

static inline bool
buf_full(const struct buf *b)
{
	return b->b_data != NULL && b->b_len == b->b_cap;
}

#endif
