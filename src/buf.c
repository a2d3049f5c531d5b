/*
 * Ring buffer for one connection's echo data.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>

#include "buf.h"

int
buf_reserve(struct buf *b, uint32_t cap)
{
	if (b->b_data != NULL)
		return 0;
	if ((b->b_data = malloc(cap)) == NULL)
		return -1;
	b->b_cap = cap;
	b->b_head = b->b_len = 0;
	return 0;
}

void
buf_release(struct buf *b)
{
	free(b->b_data);
	b->b_data = NULL;
	b->b_cap = b->b_head = b->b_len = 0;
}

int
buf_space(const struct buf *b, struct iovec iov[2])
{
	uint32_t	 tail, free_bytes = b->b_cap - b->b_len;

	if (free_bytes == 0)
		return 0;
	tail = (b->b_head + b->b_len) % b->b_cap;
	iov[0].iov_base = b->b_data + tail;
	if (tail + free_bytes <= b->b_cap) {
		iov[0].iov_len = free_bytes;
		return 1;
	}
	iov[0].iov_len = b->b_cap - tail;
	iov[1].iov_base = b->b_data;
	iov[1].iov_len = free_bytes - iov[0].iov_len;
	return 2;
}

int
buf_data(const struct buf *b, struct iovec iov[2])
{
	if (b->b_len == 0)
		return 0;
	iov[0].iov_base = b->b_data + b->b_head;
	if (b->b_head + b->b_len <= b->b_cap) {
		iov[0].iov_len = b->b_len;
		return 1;
	}
	iov[0].iov_len = b->b_cap - b->b_head;
	iov[1].iov_base = b->b_data;
	iov[1].iov_len = b->b_len - iov[0].iov_len;
	return 2;
}

void
buf_produce(struct buf *b, size_t n)
{
	b->b_len += (uint32_t)n;
}

void
buf_consume(struct buf *b, size_t n)
{
	b->b_len -= (uint32_t)n;
	/* Restart at the front when empty: the next read is contiguous. */
	b->b_head = b->b_len == 0 ? 0 : (b->b_head + (uint32_t)n) % b->b_cap;
}
