/*
 * The shared rate table: token buckets per source network, updated with
 * compare-and-swap only.
 *
 * Each bucket is two 64-bit words, each changed by one CAS at a time:
 *
 *   key    [gen:8][network:56]
 *   state  [gen:6][limited:1][tokens:25][stamp:32]
 *
 * tokens counts thousandths of a datagram, so that a refill of
 * rate x elapsed ms is exact in integers; stamp is the time of the last
 * update in ms (it wraps after 49 days, see bucket_age()).  gen goes up
 * each time the bucket is given to another network: state belongs to the
 * network in key only while their gens agree, so a process that read a
 * key before it was replaced can no longer change the new network's
 * tokens, and a state left over from the previous network is recognised
 * and reset by whoever meets it first.
 *
 * Putting a network into a set goes through the set's one 'intent' word
 * [tag:5][way:3][network:56]: a process that misses its network claims
 * the intent with a CAS, naming the network and the bucket it will
 * replace, and only then replaces it.  Inserts into one set are thus one
 * at a time, which is what keeps a network out of two buckets; and since
 * the intent says everything the insert needs, any process that finds it
 * claimed completes it instead of waiting (the claimer may be stopped or
 * dead).  tag changes each time the intent is released, so a claim
 * prepared on an old view of the set fails.
 */
#include "autoconf.h"

#include <sys/random.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratelimit.h"

/*
 * Processes share these words.  If the compiler fell back to
 * libatomic's locks, those locks would be private to each process.
 */
_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
    "64-bit atomics must be lock-free to be shared between processes");

#define WAYS		8
#define MAX_TRIES	1000

#define NET_BITS	56
#define NET_MASK	((UINT64_C(1) << NET_BITS) - 1)
#define NET_EMPTY	NET_MASK		/* no network */
#define NET_V6MCAST	(NET_MASK - 1)		/* every ff00::/8 source */
#define NET_V4		(UINT64_C(0xff) << 48)	/* ff00:0000:00xx:xxxx */

#define ST_STAMP_MASK	UINT64_C(0xffffffff)
#define ST_TOKENS_SHIFT	32
#define ST_TOKENS_MASK	((UINT64_C(1) << 25) - 1)
#define ST_LIMITED	(UINT64_C(1) << 57)
#define ST_GEN_SHIFT	58
#define ST_GEN_MASK	UINT64_C(0x3f)

#define IN_WAY_SHIFT	56
#define IN_TAG_SHIFT	59

struct rl_set {
	_Alignas(64) _Atomic uint64_t	 rs_key[WAYS];	/* one cache line */
	_Atomic uint64_t		 rs_state[WAYS];
	_Atomic uint64_t		 rs_intent;
};

struct ratelimit {
	uint64_t		 rl_secret;	/* keys the set hash */
	uint32_t		 rl_nsets;
	_Atomic uint32_t	 rl_rate;
	_Atomic uint32_t	 rl_burst;
	struct rl_set		 rl_set[];
};

_Static_assert(RATELIMIT_MAX_BURST * UINT64_C(1000) <= ST_TOKENS_MASK,
    "tokens must fit their field");

/* Networks are 56 bits: the first 7 bytes of an IPv6 /56.  IPv4 /24s
 * borrow ff00:0000:00::/40, a multicast range no source can have. */
static int
net_of(const struct sockaddr *sa, uint64_t *net)
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	const uint8_t			*b;
	uint64_t			 n = 0;
	int				 i;

	switch (sa->sa_family) {
	case AF_INET:
		*net = NET_V4 | (ntohl(sin->sin_addr.s_addr) >> 8);
		return 0;
	case AF_INET6:
		b = sin6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			*net = NET_V4 | ((uint64_t)b[12] << 16) |
			    ((uint64_t)b[13] << 8) | b[14];
			return 0;
		}
		if (b[0] == 0xff) {
			*net = NET_V6MCAST;
			return 0;
		}
		for (i = 0; i < 7; i++)
			n = (n << 8) | b[i];
		*net = n;
		return 0;
	default:
		return -1;
	}
}

static uint64_t
mix64(uint64_t z)
{
	z ^= z >> 30;
	z *= UINT64_C(0xbf58476d1ce4e5b9);
	z ^= z >> 27;
	z *= UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static struct rl_set *
set_of(struct ratelimit *rl, uint64_t net)
{
	uint64_t	 h = mix64(mix64(net ^ rl->rl_secret) + rl->rl_secret);

	return &rl->rl_set[h % rl->rl_nsets];
}

static uint64_t
key_make(unsigned gen, uint64_t net)
{
	return ((uint64_t)(gen & 0xff) << NET_BITS) | net;
}

static unsigned
key_gen(uint64_t k)
{
	return (unsigned)(k >> NET_BITS);
}

static uint64_t
state_make(unsigned gen, bool limited, uint64_t tokens, uint32_t stamp)
{
	return ((uint64_t)(gen & ST_GEN_MASK) << ST_GEN_SHIFT) |
	    (limited ? ST_LIMITED : 0) |
	    ((tokens & ST_TOKENS_MASK) << ST_TOKENS_SHIFT) | stamp;
}

static unsigned
state_gen(uint64_t s)
{
	return (unsigned)((s >> ST_GEN_SHIFT) & ST_GEN_MASK);
}

static uint64_t
state_tokens(uint64_t s)
{
	return (s >> ST_TOKENS_SHIFT) & ST_TOKENS_MASK;
}

static uint32_t
state_stamp(uint64_t s)
{
	return (uint32_t)(s & ST_STAMP_MASK);
}

static uint64_t
intent_make(unsigned tag, unsigned way, uint64_t net)
{
	return ((uint64_t)(tag & 0x1f) << IN_TAG_SHIFT) |
	    ((uint64_t)(way & 0x7) << IN_WAY_SHIFT) | net;
}

static unsigned
intent_tag(uint64_t in)
{
	return (unsigned)(in >> IN_TAG_SHIFT);
}

static unsigned
intent_way(uint64_t in)
{
	return (unsigned)(in >> IN_WAY_SHIFT) & 0x7;
}

/*
 * Milliseconds since the bucket's stamp.  Stamps are 32 bits, so a time
 * more than 2^31 ms (24 days) behind is taken as a clock that lags a bit
 * (another process read it just before): 0.  A bucket untouched for more
 * than 24 days may thus look fresh; it was full long before, unless burst
 * / rate exceeds 24 days, which RATELIMIT_MAX_BURST rules out at any
 * rate of at least one per minute.
 */
static uint32_t
bucket_age(uint64_t s, uint32_t now)
{
	uint32_t	 age = now - state_stamp(s);

	return age > INT32_MAX ? 0 : age;
}

/* Tokens (thousandths) the bucket holds at now. */
static uint64_t
bucket_tokens(uint64_t s, uint32_t now, uint32_t rate, uint64_t cap)
{
	uint64_t	 t = state_tokens(s) + (uint64_t)bucket_age(s, now) * rate;

	return t < cap ? t : cap;
}

/* Index of net in set, its key word in *key; -1 if absent. */
static int
set_find(struct rl_set *set, uint64_t net, uint64_t *key)
{
	uint64_t	 k;
	int		 i;

	for (i = 0; i < WAYS; i++) {
		k = atomic_load(&set->rs_key[i]);
		if ((k & NET_MASK) == net) {
			*key = k;
			return i;
		}
	}
	return -1;
}

/*
 * The bucket to give to a new network: an empty one, else among those
 * already full again (replacing them loses nothing) the one idle
 * longest, else the one idle longest, ties going to the fuller one.
 */
static unsigned
set_victim(struct rl_set *set, uint32_t now, uint32_t rate, uint64_t cap)
{
	uint64_t	 k, s, t, best_t = 0;
	uint32_t	 age, best_age = 0;
	bool		 full, best_full = false;
	unsigned	 i, best = 0;

	for (i = 0; i < WAYS; i++) {
		k = atomic_load(&set->rs_key[i]);
		if ((k & NET_MASK) == NET_EMPTY)
			return i;
		s = atomic_load(&set->rs_state[i]);
		if (state_gen(s) != (key_gen(k) & ST_GEN_MASK)) {
			/* Given to its network this very moment. */
			age = 0;
			t = 0;
		} else {
			age = bucket_age(s, now);
			t = bucket_tokens(s, now, rate, cap);
		}
		full = t >= cap;
		if (i == 0 || full > best_full ||
		    (full == best_full && (age > best_age ||
		    (age == best_age && t > best_t)))) {
			best = i;
			best_full = full;
			best_age = age;
			best_t = t;
		}
	}
	return best;
}

/*
 * Complete the insert the intent 'in' describes, whoever claimed it: put
 * its network in its bucket, reset the bucket's state, release the
 * intent.  Each step is a CAS that fails harmlessly when another process
 * did it first.
 */
static void
set_complete(struct rl_set *set, uint64_t in, uint32_t now, uint64_t cap)
{
	uint64_t	 net = in & NET_MASK, k, nk, s;
	unsigned	 way = intent_way(in), gen, n;

	k = atomic_load(&set->rs_key[way]);
	if ((k & NET_MASK) != net) {
		/* A helper that slept through the whole insert stops here. */
		if (atomic_load(&set->rs_intent) != in)
			return;
		nk = key_make(key_gen(k) + 1, net);
		if (atomic_compare_exchange_strong(&set->rs_key[way], &k, nk))
			k = nk;
		else if ((k & NET_MASK) != net)
			return;	/* changed under us: the caller looks again */
	}
	gen = key_gen(k) & ST_GEN_MASK;
	for (n = 0; n < MAX_TRIES; n++) {
		s = atomic_load(&set->rs_state[way]);
		if (state_gen(s) == gen)
			break;
		/*
		 * With the key unchanged since before that read, the state
		 * is the previous network's (a newer one would come after
		 * a newer key); a moved key means someone else's turn.
		 */
		if (atomic_load(&set->rs_key[way]) != k)
			break;
		if (atomic_compare_exchange_strong(&set->rs_state[way], &s,
		    state_make(gen, false, cap, now)))
			break;
	}
	atomic_compare_exchange_strong(&set->rs_intent, &in,
	    intent_make(intent_tag(in) + 1, 0, NET_EMPTY));
}

/* Put net into set, or help whatever insert is under way there. */
static void
set_insert(struct rl_set *set, uint64_t net, uint32_t now, uint32_t rate,
    uint64_t cap)
{
	uint64_t	 in, claim, k;

	in = atomic_load(&set->rs_intent);
	if ((in & NET_MASK) != NET_EMPTY) {
		set_complete(set, in, now, cap);
		return;
	}
	/*
	 * Look again after reading the intent: an insert of net finished
	 * before that read is visible now, and one finishing after it
	 * changes the tag, so the claim below fails.
	 */
	if (set_find(set, net, &k) != -1)
		return;
	claim = intent_make(intent_tag(in), set_victim(set, now, rate, cap),
	    net);
	if (atomic_compare_exchange_strong(&set->rs_intent, &in, claim))
		set_complete(set, claim, now, cap);
}

size_t
ratelimit_size(size_t entries)
{
	size_t	 nsets;

	if (entries == 0 || entries > RATELIMIT_MAX_ENTRIES)
		return 0;
	nsets = (entries + WAYS - 1) / WAYS;
	return sizeof(struct ratelimit) + nsets * sizeof(struct rl_set);
}

static bool
params_valid(uint32_t rate, uint32_t burst)
{
	return rate == 0 || (burst >= 1 && burst <= RATELIMIT_MAX_BURST);
}

static uint64_t
secret_draw(void *mem)
{
	struct timespec	 ts;
	uint64_t	 s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == sizeof(s))
		return s;
	/* No entropy yet (early boot): hard to guess from outside still. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
	    (uint64_t)(uintptr_t)mem ^ ((uint64_t)getpid() << 40));
}

struct ratelimit *
ratelimit_init(void *mem, size_t entries, uint32_t rate, uint32_t burst)
{
	struct ratelimit	*rl = mem;
	size_t			 i, nsets;
	unsigned		 w;

	if (mem == NULL || ((uintptr_t)mem & 63) != 0 ||
	    ratelimit_size(entries) == 0 || !params_valid(rate, burst)) {
		errno = EINVAL;
		return NULL;
	}
	nsets = (entries + WAYS - 1) / WAYS;
	rl->rl_secret = secret_draw(mem);
	rl->rl_nsets = (uint32_t)nsets;
	atomic_init(&rl->rl_rate, rate);
	atomic_init(&rl->rl_burst, burst);
	for (i = 0; i < nsets; i++) {
		for (w = 0; w < WAYS; w++) {
			atomic_init(&rl->rl_set[i].rs_key[w],
			    key_make(0, NET_EMPTY));
			atomic_init(&rl->rl_set[i].rs_state[w], 0);
		}
		atomic_init(&rl->rl_set[i].rs_intent,
		    intent_make(0, 0, NET_EMPTY));
	}
	atomic_thread_fence(memory_order_seq_cst);
	return rl;
}

struct ratelimit *
ratelimit_attach(void *mem, size_t entries, uint32_t rate, uint32_t burst)
{
	struct ratelimit	*rl = mem;

	if (mem == NULL || ((uintptr_t)mem & 63) != 0 ||
	    ratelimit_size(entries) == 0 ||
	    rl->rl_nsets != (entries + WAYS - 1) / WAYS ||
	    atomic_load(&rl->rl_rate) != rate ||
	    atomic_load(&rl->rl_burst) != burst) {
		errno = EINVAL;
		return NULL;
	}
	return rl;
}

int
ratelimit_configure(struct ratelimit *rl, uint32_t rate, uint32_t burst)
{
	if (!params_valid(rate, burst)) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * A take between the two stores may see a mixed pair once:
	 * harmless, each value is valid on its own, and burst 0 (allowed
	 * with rate 0) reads as "off".
	 */
	atomic_store(&rl->rl_burst, burst);
	atomic_store(&rl->rl_rate, rate);
	return 0;
}

enum ratelimit_verdict
ratelimit_take(struct ratelimit *rl, const struct sockaddr *src,
    uint64_t now_ms)
{
	enum ratelimit_verdict	 v;
	struct rl_set		*set;
	uint64_t		 net, cap, k, s, t;
	uint32_t		 rate, now = (uint32_t)now_ms, stamp;
	unsigned		 gen, n;
	bool			 limited;
	int			 w;

	rate = atomic_load(&rl->rl_rate);
	if (rate == 0)
		return RATELIMIT_PASS;
	if (net_of(src, &net) == -1)
		return RATELIMIT_DROP;
	/* 0 only while a reload to rate 0 is half done: off already. */
	if ((cap = (uint64_t)atomic_load(&rl->rl_burst) * 1000) == 0)
		return RATELIMIT_PASS;
	set = set_of(rl, net);

	for (n = 0; n < MAX_TRIES; n++) {
		if ((w = set_find(set, net, &k)) == -1) {
			set_insert(set, net, now, rate, cap);
			continue;
		}
		gen = key_gen(k) & ST_GEN_MASK;
		s = atomic_load(&set->rs_state[w]);
		/*
		 * With the key unchanged around the read, s is our
		 * network's, or the previous one's if the insert is not
		 * complete (6 bits of gen in the state would not tell after
		 * 64 turns; the 8 of the key need 256 in these few
		 * instructions).
		 */
		if (atomic_load(&set->rs_key[w]) != k)
			continue;
		if (state_gen(s) != gen) {
			/* The insert that gave us this bucket is not done:
			 * do its last step rather than wait for it. */
			atomic_compare_exchange_strong(&set->rs_state[w], &s,
			    state_make(gen, false, cap, now));
			continue;
		}

		t = bucket_tokens(s, now, rate, cap);
		/* Never move a stamp back for a process whose clock lags. */
		stamp = bucket_age(s, now) == 0 ? state_stamp(s) : now;
		limited = (s & ST_LIMITED) != 0;
		if (t >= cap)
			limited = false;	/* quiet long enough: re-arm */
		if (t >= 1000) {
			t -= 1000;
			v = RATELIMIT_PASS;
		} else {
			v = limited ? RATELIMIT_DROP : RATELIMIT_DROP_FIRST;
			limited = true;
		}
		if (atomic_compare_exchange_strong(&set->rs_state[w], &s,
		    state_make(gen, limited, t, stamp)))
			return v;
	}
	return RATELIMIT_DROP;
}

size_t
ratelimit_entries(const struct ratelimit *rl)
{
	return (size_t)rl->rl_nsets * WAYS;
}

size_t
ratelimit_used(const struct ratelimit *rl)
{
	struct ratelimit	*r = (struct ratelimit *)rl;
	size_t			 i, used = 0;
	unsigned		 w;

	for (i = 0; i < r->rl_nsets; i++)
		for (w = 0; w < WAYS; w++)
			if ((atomic_load(&r->rl_set[i].rs_key[w]) &
			    NET_MASK) != NET_EMPTY)
				used++;
	return used;
}

int
ratelimit_network(const struct sockaddr *src, char *buf, size_t len)
{
	const struct sockaddr_in6	*sin6 = (const void *)src;
	const struct sockaddr_in	*sin = (const void *)src;
	char				 host[INET6_ADDRSTRLEN];
	struct in6_addr			 a6;
	struct in_addr			 a4;
	int				 plen, r;

	if (src->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memset(&a6, 0, sizeof(a6));
		memcpy(a6.s6_addr, sin6->sin6_addr.s6_addr, 7);
		inet_ntop(AF_INET6, &a6, host, sizeof(host));
		plen = 56;
	} else if (src->sa_family == AF_INET6 || src->sa_family == AF_INET) {
		if (src->sa_family == AF_INET)
			a4 = sin->sin_addr;
		else
			memcpy(&a4, &sin6->sin6_addr.s6_addr[12], sizeof(a4));
		a4.s_addr &= htonl(0xffffff00);
		inet_ntop(AF_INET, &a4, host, sizeof(host));
		plen = 24;
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	r = snprintf(buf, len, "%s/%d", host, plen);
	if (r < 0 || (size_t)r >= len) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}
