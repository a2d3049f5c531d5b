/*
 * A rate limit per source network, shared by every worker.
 *
 * All workers read the same UDP sockets, so a limit kept per worker
 * would be multiplied by their number: the table lives in memory the
 * master maps MAP_SHARED before it forks, and workers update it with
 * lock-free atomics.  A worker may be SIGKILLed or SIGSTOPped at any
 * instruction; nothing it leaves half done blocks the others, who finish
 * it for it.
 *
 * A key is a source network: the /24 of an IPv4 address, the /56 of an
 * IPv6 one (an IPv4-mapped IPv6 address counts as its IPv4 address), so
 * rotating ports or hosts inside one network does not buy more.  Each
 * key has a token bucket: 'burst' datagrams at once, then 'rate' per
 * second.
 *
 * The table is bounded: 8-way set-associative, sets chosen by a hash
 * keyed with a secret drawn at init (so that nobody can aim keys at one
 * set).  A key not in the table replaces, in its set, an empty bucket,
 * else the bucket idle longest among those that have refilled to 'burst'
 * (replacing one loses nothing: a new bucket starts full), else the
 * bucket idle longest.  A replaced key starts again with a full bucket
 * when it comes back: that is the price of bounded memory.
 *
 * Exactness: a key is never in two buckets at once, and each update of a
 * bucket is one compare-and-swap of one word holding its tokens and time,
 * so processes racing on one key never get more than burst + rate x time
 * between them, however many they are.  The only slack: a process stopped
 * between two reads a few instructions apart, for as long as it takes the
 * others to give the same bucket to 256 networks in turn, or to insert 32
 * networks into the same set, may on waking take one token from the
 * wrong network, or put its network in a second bucket (one extra burst,
 * once).
 */
#ifndef ECHOD_RATELIMIT_H
#define ECHOD_RATELIMIT_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_MAX_ENTRIES	(1u << 24)
#define RATELIMIT_MAX_BURST	30000
/* "192.0.2.0/24", "2001:db8:1:2300::/56", with room to spare. */
#define RATELIMIT_NETWORK_LEN	64

struct ratelimit;

enum ratelimit_verdict {
	RATELIMIT_PASS,		/* a token was there and is taken */
	RATELIMIT_DROP,		/* over the limit, already reported */
	/*
	 * Over the limit, the first time since the network's bucket was
	 * last full: log the network now (ratelimit_network()).  The next
	 * RATELIMIT_DROP_FIRST for that network comes only after it has
	 * been quiet long enough for its bucket to refill completely.
	 */
	RATELIMIT_DROP_FIRST,
};

/*
 * Bytes of memory a table of at least 'entries' buckets takes (entries
 * is rounded up to a multiple of 8).  0 when entries is 0 or above
 * RATELIMIT_MAX_ENTRIES.
 */
size_t		 ratelimit_size(size_t entries);

/*
 * Set up a table in mem, which must hold ratelimit_size(entries) bytes,
 * be aligned to 64 bytes (mmap's memory is) and be shared by every
 * process that uses the table.  rate: datagrams per second and network,
 * 0 for no limit; burst: 1 to RATELIMIT_MAX_BURST (ignored when rate is
 * 0).  Returns the table (at mem), or NULL with errno EINVAL.  Call it
 * once, before the workers start using the table.
 */
struct ratelimit *ratelimit_init(void *mem, size_t entries, uint32_t rate,
		    uint32_t burst);

/*
 * A table that another program set up in mem (a live upgrade: the new
 * program maps the old one's table): checked to be a table of
 * 'entries' buckets with this rate and burst, in a layout of this build
 * (RATELIMIT_LAYOUT, which the caller compared).  Returns the table (at
 * mem), or NULL with errno EINVAL when it is not that.
 */
struct ratelimit *ratelimit_attach(void *mem, size_t entries, uint32_t rate,
		    uint32_t burst);

/*
 * Change RATELIMIT_LAYOUT with anything that two builds would read
 * differently in the same memory: a live upgrade hands the table on only
 * between equal layouts.
 */
#define RATELIMIT_LAYOUT	1

/*
 * Change rate and burst (a reload), with the same ranges as
 * ratelimit_init().  Buckets keep their tokens, cut to the new burst.  0,
 * or -1 with errno EINVAL (the table is then unchanged).
 */
int		 ratelimit_configure(struct ratelimit *, uint32_t rate,
		    uint32_t burst);

/*
 * Take a token for a datagram from src (AF_INET or AF_INET6; the port is
 * ignored) at now_ms, a CLOCK_MONOTONIC time in milliseconds.  Processes
 * may pass slightly different times: a time older than the bucket's is
 * taken as the bucket's.  Always RATELIMIT_PASS when the rate is 0.
 * Another address family, or a contention no process should ever see
 * (a thousand failed compare-and-swaps in a row), is RATELIMIT_DROP.
 */
enum ratelimit_verdict ratelimit_take(struct ratelimit *,
		    const struct sockaddr *src, uint64_t now_ms);

/* Buckets in the table: entries rounded up to a multiple of 8. */
size_t		 ratelimit_entries(const struct ratelimit *);
/* Buckets holding a network now: one pass over the table, for metrics
 * and tests, not for every datagram. */
size_t		 ratelimit_used(const struct ratelimit *);

/*
 * Write src's network as the table keys it ("192.0.2.0/24",
 * "2001:db8:1:2300::/56") into buf.  0, or -1 with errno EAFNOSUPPORT
 * (another family) or ENOSPC (buf too small; RATELIMIT_NETWORK_LEN is
 * enough).
 */
int		 ratelimit_network(const struct sockaddr *src, char *buf,
		    size_t len);

#endif
