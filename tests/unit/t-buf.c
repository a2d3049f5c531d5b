/*
 * Unit tests: the ring buffer, against a byte-exact model.
 */
#include "autoconf.h"

#include <stdlib.h>

#include "buf.h"
#include "tap.h"

/* Copy 'n' bytes of src into the buffer's free space. */
static size_t
fill(struct buf *b, const unsigned char *src, size_t n)
{
	struct iovec	 iov[2];
	size_t		 done = 0, k;
	int		 i, cnt = buf_space(b, iov);

	for (i = 0; i < cnt && done < n; i++) {
		k = iov[i].iov_len < n - done ? iov[i].iov_len : n - done;
		memcpy(iov[i].iov_base, src + done, k);
		done += k;
	}
	buf_produce(b, done);
	return done;
}

/* Take up to 'n' bytes out into dst. */
static size_t
drain(struct buf *b, unsigned char *dst, size_t n)
{
	struct iovec	 iov[2];
	size_t		 done = 0, k;
	int		 i, cnt = buf_data(b, iov);

	for (i = 0; i < cnt && done < n; i++) {
		k = iov[i].iov_len < n - done ? iov[i].iov_len : n - done;
		memcpy(dst + done, iov[i].iov_base, k);
		done += k;
	}
	buf_consume(b, done);
	return done;
}

int
main(void)
{
	struct buf	 b = { 0 };
	struct iovec	 iov[2];
	unsigned char	 src[4096], dst[4096];
	uint64_t	 in = 0, out = 0;
	bool		 same = true, bounded = true;
	unsigned	 seed = 1;
	int		 round;

	ok(b.b_data == NULL && buf_empty(&b) && !buf_full(&b),
	    "a new buffer holds no memory and is empty, not full");
	is_int(buf_reserve(&b, 100), 0, "reserve 100 bytes");
	is_int(buf_space(&b, iov), 1, "empty: free space is one iovec");
	is_int(iov[0].iov_len, 100, "... of 100 bytes");
	is_int(buf_data(&b, iov), 0, "empty: no data iovecs");

	/* Wrap: fill 80, take 60, fill 70 → data wraps around the end. */
	for (round = 0; round < 256; round++)
		src[round] = (unsigned char)round;
	fill(&b, src, 80);
	drain(&b, dst, 60);
	is_int(fill(&b, src + 80, 70), 70, "fill wraps around the end");
	is_int(buf_data(&b, iov), 2, "wrapped data is two iovecs");
	is_int(iov[0].iov_len + iov[1].iov_len, 90, "... holding 90 bytes");
	is_int(buf_space(&b, iov), 1, "free space is one iovec");
	is_int(iov[0].iov_len, 10, "... of 10 bytes");
	is_int(fill(&b, src, 100), 10, "only 10 more fit");
	ok(buf_full(&b), "then it is full");
	is_int(buf_space(&b, iov), 0, "a full buffer offers no space");
	is_int(drain(&b, dst, 200), 100, "drain gives all 100 back");
	ok(memcmp(dst, src + 60, 90) == 0 && memcmp(dst + 90, src, 10) == 0,
	    "in order across the wrap");
	ok(buf_empty(&b) && b.b_head == 0, "empty again, restarted at 0");
	buf_release(&b);
	ok(b.b_data == NULL, "release frees the memory");

	/* Random fills and drains against a running byte counter. */
	buf_reserve(&b, 1000);
	for (round = 0; round < 20000; round++) {
		size_t want = (size_t)(rand_r(&seed) % 1500), got, i;

		for (i = 0; i < want; i++)
			src[i] = (unsigned char)(in + i);
		got = fill(&b, src, want);
		in += got;
		if (b.b_len > b.b_cap)
			bounded = false;
		want = (size_t)(rand_r(&seed) % 1500);
		got = drain(&b, dst, want);
		for (i = 0; i < got; i++)
			if (dst[i] != (unsigned char)(out + i))
				same = false;
		out += got;
	}
	ok(same, "20000 random rounds: every byte out in order");
	ok(bounded, "... never more than capacity held");
	ok(in - out == b.b_len, "... and the count adds up");
	buf_release(&b);
	return done_testing();
}
