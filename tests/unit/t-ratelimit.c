/*
 * Unit tests: the shared rate table.  Time is the argument, so nothing
 * sleeps; the last tests fork processes that hammer one table at once,
 * stop and kill some of them, and count what they were granted.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ratelimit.h"
#include "tap.h"

static struct sockaddr_storage
sa(const char *host, unsigned port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (void *)&ss;
	struct sockaddr_in6	*sin6 = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	} else {
		diag("bad address in test: %s", host);
		abort();
	}
	return ss;
}

static enum ratelimit_verdict
take(struct ratelimit *rl, const char *host, unsigned port, uint64_t now)
{
	struct sockaddr_storage	 ss = sa(host, port);

	return ratelimit_take(rl, (struct sockaddr *)&ss, now);
}

/* Passes out of n takes for host at now. */
static int
passes(struct ratelimit *rl, const char *host, int n, uint64_t now)
{
	int	 i, p = 0;

	for (i = 0; i < n; i++)
		p += take(rl, host, 40000 + (unsigned)i, now) ==
		    RATELIMIT_PASS;
	return p;
}

/*
 * A table in shared memory, with a canary page after it that must stay
 * untouched: the table never writes outside what ratelimit_size() said.
 */
struct region {
	void	*mem;
	size_t	 size, total;
};

#define CANARY	0x5a

static struct ratelimit *
region_new(struct region *r, size_t entries, uint32_t rate, uint32_t burst)
{
	long	 page = sysconf(_SC_PAGESIZE);

	r->size = ratelimit_size(entries);
	r->total = (r->size + (size_t)page - 1) / (size_t)page *
	    (size_t)page + (size_t)page;
	r->mem = mmap(NULL, r->total, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->mem == MAP_FAILED) {
		diag("mmap: %s", strerror(errno));
		abort();
	}
	memset((char *)r->mem + r->size, CANARY, r->total - r->size);
	return ratelimit_init(r->mem, entries, rate, burst);
}

static bool
region_intact(struct region *r)
{
	const unsigned char	*p = (unsigned char *)r->mem + r->size;
	size_t			 i;

	for (i = 0; i < r->total - r->size; i++)
		if (p[i] != CANARY)
			return false;
	return true;
}

static void
region_free(struct region *r)
{
	munmap(r->mem, r->total);
}

static void
test_size_init(void)
{
	struct region		 r;
	struct ratelimit	*rl;
	struct sockaddr_un	 un;
	char			*mem;

	is_int(ratelimit_size(0), 0, "size of 0 entries is 0");
	is_int(ratelimit_size(RATELIMIT_MAX_ENTRIES + 1), 0,
	    "size above the maximum is 0");
	ok(ratelimit_size(RATELIMIT_MAX_ENTRIES) > 0, "the maximum is fine");
	is_int(ratelimit_size(1), ratelimit_size(8), "entries round up to 8");
	ok(ratelimit_size(9) > ratelimit_size(8), "9 entries take two sets");
	ok(ratelimit_size(1024) < 64 + 1024 * 32,
	    "at most 32 bytes per bucket (%zu for 1024)", ratelimit_size(1024));

	rl = region_new(&r, 9, 100, 200);
	ok(rl == r.mem, "init returns the memory");
	is_int(ratelimit_entries(rl), 16, "9 entries give 16 buckets");
	is_int(ratelimit_used(rl), 0, "a new table is empty");
	mem = r.mem;
	errno = 0;
	ok(ratelimit_init(mem + 8, 8, 100, 200) == NULL && errno == EINVAL,
	    "misaligned memory: EINVAL");
	errno = 0;
	ok(ratelimit_init(mem, 0, 100, 200) == NULL && errno == EINVAL,
	    "0 entries: EINVAL");
	errno = 0;
	ok(ratelimit_init(mem, 8, 100, 0) == NULL && errno == EINVAL,
	    "burst 0 with a rate: EINVAL");
	errno = 0;
	ok(ratelimit_init(mem, 8, 100, RATELIMIT_MAX_BURST + 1) == NULL &&
	    errno == EINVAL, "burst above the maximum: EINVAL");
	ok(ratelimit_init(mem, 8, 0, 0) != NULL, "rate 0 needs no burst");
	ok(ratelimit_init(mem, 8, 1, RATELIMIT_MAX_BURST) != NULL,
	    "the largest burst at the smallest rate");
	errno = 0;
	is_int(ratelimit_configure(rl, 5, 0), -1, "configure refuses burst 0");
	is_int(errno, EINVAL, "... with EINVAL");

	rl = ratelimit_init(mem, 8, 100, 200);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	is_int(ratelimit_take(rl, (struct sockaddr *)&un, 1000),
	    RATELIMIT_DROP, "another address family is dropped");
	ok(region_intact(&r), "nothing written past the table");
	region_free(&r);
}

static void
test_off(void)
{
	struct region		 r;
	struct ratelimit	*rl = region_new(&r, 64, 0, 0);

	is_int(passes(rl, "192.0.2.1", 100000, 1000), 100000,
	    "rate 0: everything passes");
	is_int(ratelimit_used(rl), 0, "rate 0: the table is not even touched");
	is_int(ratelimit_configure(rl, 10, 5), 0, "configure a rate");
	is_int(passes(rl, "192.0.2.1", 100, 1000), 5, "then burst 5 passes");
	is_int(ratelimit_configure(rl, 0, 0), 0, "configure rate 0 again");
	is_int(passes(rl, "192.0.2.1", 100, 1000), 100, "off again");
	region_free(&r);
}

static void
test_bucket(void)
{
	struct region		 r;
	struct ratelimit	*rl = region_new(&r, 64, 100, 200);
	uint64_t		 t;
	int			 p, i;

	is_int(passes(rl, "192.0.2.1", 200, 1000), 200, "the burst passes");
	is_int(take(rl, "192.0.2.1", 5000, 1000), RATELIMIT_DROP_FIRST,
	    "the next is the first drop");
	is_int(take(rl, "192.0.2.1", 5000, 1000), RATELIMIT_DROP,
	    "then plain drops");
	is_int(take(rl, "192.0.2.1", 5000, 1009), RATELIMIT_DROP,
	    "9 ms later: 0.9 of a token, still a drop");
	is_int(take(rl, "192.0.2.1", 5000, 1010), RATELIMIT_PASS,
	    "10 ms after the burst: one token (100/s)");
	is_int(take(rl, "192.0.2.1", 5000, 1010), RATELIMIT_DROP,
	    "and only one");
	is_int(passes(rl, "192.0.2.1", 300, 2010), 100,
	    "a second later, 100 tokens");
	is_int(take(rl, "192.0.2.1", 5000, 2010), RATELIMIT_DROP,
	    "not full again: no new first drop");
	is_int(passes(rl, "192.0.2.1", 200, 4010), 200,
	    "two seconds later, full again: the whole burst");
	is_int(take(rl, "192.0.2.1", 5000, 4010), RATELIMIT_DROP_FIRST,
	    "a new burst of drops starts with a first drop");
	is_int(passes(rl, "192.0.2.1", 1000, 4010 + 3600000), 200,
	    "an hour later: the burst, no more");

	/* A clock read a little earlier by another process. */
	is_int(take(rl, "192.0.2.1", 5000, 4010 + 3600000 - 50),
	    RATELIMIT_DROP, "a time behind the bucket's counts as its time");
	is_int(take(rl, "192.0.2.1", 5000, 4010 + 3600000 + 10),
	    RATELIMIT_PASS, "and does not move it back");

	/* Offered 1000/s for 10 s: exactly burst + rate x time pass. */
	rl = ratelimit_init(r.mem, 64, 100, 200);
	p = 0;
	for (t = 0; t <= 10000; t++)
		p += take(rl, "198.51.100.9", 6000, 50000 + t) ==
		    RATELIMIT_PASS;
	is_int(p, 200 + 1000, "10 s at 1000/s: 200 + 100 x 10 pass");

	/* Burst 1: one token every 250 ms, on the dot. */
	rl = ratelimit_init(r.mem, 64, 4, 1);
	p = 0;
	for (i = 0; i <= 3000; i++)
		p += take(rl, "198.51.100.9", 6000, 50000 + (uint64_t)i) ==
		    RATELIMIT_PASS;
	is_int(p, 1 + 12, "4/s with burst 1 over 3 s: 1 + 12");

	/* Lowering burst cuts what a bucket holds. */
	rl = ratelimit_init(r.mem, 64, 100, 200);
	is_int(passes(rl, "203.0.113.1", 10, 1000), 10, "take 10 of 200");
	is_int(ratelimit_configure(rl, 100, 20), 0, "burst down to 20");
	is_int(passes(rl, "203.0.113.1", 100, 1000), 20,
	    "the bucket holds 20 at most now");
	ok(region_intact(&r), "nothing written past the table");
	region_free(&r);
}

static void
test_grouping(void)
{
	struct region		 r;
	struct ratelimit	*rl = region_new(&r, 1024, 1, 3);

	is_int(passes(rl, "192.0.2.1", 3, 1000), 3, "192.0.2.1: its burst");
	is_int(passes(rl, "192.0.2.254", 1, 1000), 0,
	    "192.0.2.254 shares the /24");
	is_int(take(rl, "192.0.2.77", 1, 1000), RATELIMIT_DROP,
	    "whatever the port");
	is_int(passes(rl, "::ffff:192.0.2.9", 1, 1000), 0,
	    "IPv4-mapped ::ffff:192.0.2.9 shares it too");
	is_int(passes(rl, "192.0.3.1", 3, 1000), 3,
	    "192.0.3.1, the next /24, has its own");
	is_int(passes(rl, "192.0.1.255", 3, 1000), 3,
	    "192.0.1.255, the one before, has its own");

	is_int(passes(rl, "2001:db8:1:2300::1", 3, 1000), 3,
	    "2001:db8:1:2300::1: its burst");
	is_int(passes(rl, "2001:db8:1:23ff:ffff:ffff:ffff:ffff", 1, 1000), 0,
	    "2001:db8:1:23ff:ffff:... shares the /56");
	is_int(passes(rl, "2001:db8:1:2400::1", 3, 1000), 3,
	    "2001:db8:1:2400::1, the next /56, has its own");
	is_int(passes(rl, "2001:db8:1:2200::1", 3, 1000), 3,
	    "2001:db8:1:2200::1, the one before, has its own");
	is_int(passes(rl, "::c000:201", 3, 1000), 3,
	    "::192.0.2.1 (IPv4-compatible) is IPv6, not 192.0.2.0/24");
	is_int(passes(rl, "ff02::1", 3, 1000), 3,
	    "multicast sources (the guard drops them) share one bucket");
	is_int(passes(rl, "ff0e::2", 1, 1000), 0, "... all of them");
	is_int(passes(rl, "0.0.0.1", 3, 1000), 3,
	    "0.0.0.0/24 is a network like any other");
	is_int(ratelimit_used(rl), 9, "9 networks, 9 buckets");
	region_free(&r);
}

static void
test_network(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "192.0.2.77", "192.0.2.0/24" },
		{ "10.255.255.255", "10.255.255.0/24" },
		{ "0.0.0.0", "0.0.0.0/24" },
		{ "2001:db8:1:23ab:cd::1", "2001:db8:1:2300::/56" },
		{ "2001:db8:1:2300::", "2001:db8:1:2300::/56" },
		{ "::1", "::/56" },
		{ "fe80::1", "fe80::/56" },
		{ "::ffff:198.51.100.7", "198.51.100.0/24" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		    "ffff:ffff:ffff:ff00::/56" },
	};
	struct sockaddr_storage	 ss;
	struct sockaddr_un	 un;
	char			 buf[RATELIMIT_NETWORK_LEN];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ss = sa(cases[i].in, 1234);
		buf[0] = '\0';
		is_int(ratelimit_network((struct sockaddr *)&ss, buf,
		    sizeof(buf)), 0, "network of %s", cases[i].in);
		is_str(buf, cases[i].out, "... is %s", cases[i].out);
	}
	ss = sa("192.0.2.77", 1);
	errno = 0;
	is_int(ratelimit_network((struct sockaddr *)&ss, buf, 12), -1,
	    "a buffer too small");
	is_int(errno, ENOSPC, "... ENOSPC");
	is_int(ratelimit_network((struct sockaddr *)&ss, buf, 13), 0,
	    "13 bytes are enough for 192.0.2.0/24");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	errno = 0;
	is_int(ratelimit_network((struct sockaddr *)&un, buf, sizeof(buf)),
	    -1, "AF_UNIX has no network");
	is_int(errno, EAFNOSUPPORT, "... EAFNOSUPPORT");
}

static void
test_eviction(void)
{
	struct region		 r;
	struct ratelimit	*rl;
	char			 h[32];
	int			 i, n, drops;

	/* 8 entries: one set, so every network competes for it. */
	rl = region_new(&r, 8, 1, 2);
	for (i = 0; i < 8; i++) {
		snprintf(h, sizeof(h), "10.0.%d.1", i);
		n = passes(rl, h, 3, 1000 + (uint64_t)i);
		if (n != 2)
			diag("%s passed %d", h, n);
	}
	is_int(ratelimit_used(rl), 8, "8 networks fill the table");
	/* The first one comes back: 10.0.1.1 is now the idlest. */
	is_int(take(rl, "10.0.0.1", 1, 1008), RATELIMIT_DROP,
	    "10.0.0.1 is still limited");
	is_int(passes(rl, "10.0.8.1", 2, 1009), 2,
	    "a ninth network gets a bucket");
	is_int(ratelimit_used(rl), 8, "the table does not grow");
	drops = 0;
	for (i = 0; i < 8; i++) {
		if (i == 1)
			continue;
		snprintf(h, sizeof(h), "10.0.%d.1", i);
		drops += take(rl, h, 1, 1009) != RATELIMIT_PASS;
	}
	is_int(drops, 7, "the seven most recent are still limited");
	is_int(passes(rl, "10.0.1.1", 3, 1010), 2,
	    "10.0.1.1, idle longest, was the one replaced: a new burst");

	/* A full bucket goes before an older one that still remembers. */
	rl = ratelimit_init(r.mem, 8, 1, 2);
	is_int(passes(rl, "10.1.0.1", 3, 1000), 2, "10.1.0.1 empties its");
	for (i = 1; i < 8; i++) {
		snprintf(h, sizeof(h), "10.1.%d.1", i);
		passes(rl, h, 1, 1001);
	}
	/* At 2101: 10.1.0.1 has 1.1 tokens, the others are full. */
	is_int(passes(rl, "10.1.8.1", 2, 2101), 2, "a new network at 2101");
	is_int(passes(rl, "10.1.0.1", 3, 2101), 1,
	    "10.1.0.1, idle longest but not full, kept its 1.1 tokens");

	/* Many more networks than buckets: bounded, and still working. */
	rl = ratelimit_init(r.mem, 8, 1, 2);
	for (i = 0; i < 100000; i++) {
		snprintf(h, sizeof(h), "%d.%d.%d.1", 11 + i / 65536,
		    (i / 256) % 256, i % 256);
		if (take(rl, h, 1, 5000 + (uint64_t)i / 100) !=
		    RATELIMIT_PASS)
			break;
	}
	is_int(i, 100000, "100000 new networks each get their first token");
	is_int(ratelimit_used(rl), 8, "in 8 buckets");
	ok(region_intact(&r), "nothing written past the table");
	region_free(&r);

	/* The same with many sets, IPv6 this time. */
	rl = region_new(&r, 256, 1, 2);
	for (i = 0; i < 100000; i++) {
		snprintf(h, sizeof(h), "2001:db8:%x:%x00::1", i / 256,
		    i % 256);
		if (take(rl, h, 1, 5000) != RATELIMIT_PASS)
			break;
	}
	is_int(i, 100000, "100000 new /56s each get their first token");
	is_int(ratelimit_used(rl), 256, "in 256 buckets");
	ok(region_intact(&r), "nothing written past the table");
	region_free(&r);
}

/*
 * Processes hammering one table.  Each child counts what it was granted
 * per network in shared counters, and its progress; the parent stops and
 * kills some of them and checks that the others go on.
 */
#define NCHILD		4
#define HOT		NCHILD		/* counter index of the shared /24 */

struct shared_counts {
	_Atomic uint64_t	 granted[NCHILD + 1];
	_Atomic uint64_t	 progress[NCHILD];
	_Atomic uint64_t	 now;		/* the fake clock; 0: real */
	_Atomic int		 go;
	_Atomic int		 stop;
	_Atomic int		 ready;
};

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Small, fast, per-process: which host, port and network to use next. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void __attribute__((noreturn))
child_run(struct ratelimit *rl, struct shared_counts *sc, int id,
    bool churn)
{
	struct sockaddr_in	 sin;
	uint32_t		 seed = 2463534242u + (uint32_t)id * 7919;
	uint64_t		 now;
	int			 j;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	atomic_fetch_add(&sc->ready, 1);
	/* Start together, so that the first tokens are fought over too. */
	while (!atomic_load(&sc->go))
		sched_yield();
	while (!atomic_load(&sc->stop)) {
		if ((now = atomic_load(&sc->now)) == 0)
			now = mono_ms();
		/* The shared network 198.51.100.0/24, any host and port. */
		sin.sin_addr.s_addr = htonl(0xc6336400 | (rnd(&seed) & 0xff));
		sin.sin_port = htons((uint16_t)(1024 + rnd(&seed) % 60000));
		if (ratelimit_take(rl, (struct sockaddr *)&sin, now) ==
		    RATELIMIT_PASS)
			atomic_fetch_add(&sc->granted[HOT], 1);
		/* Its own network 10.<id>.0.0/24. */
		sin.sin_addr.s_addr = htonl(0x0a000000 | (uint32_t)id << 16 |
		    (rnd(&seed) & 0xff));
		if (ratelimit_take(rl, (struct sockaddr *)&sin, now) ==
		    RATELIMIT_PASS)
			atomic_fetch_add(&sc->granted[id], 1);
		/* New networks that push others out of their sets. */
		for (j = 0; churn && j < 3; j++) {
			sin.sin_addr.s_addr = htonl(0x14000000 |
			    (rnd(&seed) & 0xffff00));
			ratelimit_take(rl, (struct sockaddr *)&sin, now);
		}
		atomic_fetch_add(&sc->progress[id], 1);
	}
	_exit(0);
}

static pid_t
child_start(struct ratelimit *rl, struct shared_counts *sc, int id,
    bool churn)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		diag("fork: %s", strerror(errno));
		abort();
	}
	if (pid == 0)
		child_run(rl, sc, id, churn);
	return pid;
}

/* Wait until cond(sc) holds, for at most ms; return whether it did. */
static bool
wait_for(bool (*cond)(struct shared_counts *, const void *),
    struct shared_counts *sc, const void *arg, int ms)
{
	struct timespec	 tick = { 0, 1000000 };
	uint64_t	 end = mono_ms() + (uint64_t)ms;

	while (!cond(sc, arg)) {
		if (mono_ms() > end)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

static bool
all_ready(struct shared_counts *sc, const void *arg)
{
	return atomic_load(&sc->ready) >= *(const int *)arg;
}

/* Every child but 'except' (and dead ones, progress[] UINT64_MAX in
 * base) advanced by 1000 since base. */
struct progress_arg {
	uint64_t	 base[NCHILD];
	int		 except;
};

static bool
others_progress(struct shared_counts *sc, const void *arg)
{
	const struct progress_arg	*pa = arg;
	int				 i;

	for (i = 0; i < NCHILD; i++) {
		if (i == pa->except || pa->base[i] == UINT64_MAX)
			continue;
		if (atomic_load(&sc->progress[i]) < pa->base[i] + 1000)
			return false;
	}
	return true;
}

/* Reap every child within ms; SIGKILL any still there after. */
static bool
reap_all(pid_t *pids, int n, int ms)
{
	struct timespec	 tick = { 0, 1000000 };
	uint64_t	 end = mono_ms() + (uint64_t)ms;
	bool		 all = true;
	int		 i, left, st;

	do {
		left = 0;
		for (i = 0; i < n; i++) {
			if (pids[i] <= 0)
				continue;
			if (waitpid(pids[i], &st, WNOHANG) == pids[i])
				pids[i] = 0;
			else
				left++;
		}
		if (left > 0)
			nanosleep(&tick, NULL);
	} while (left > 0 && mono_ms() < end);
	for (i = 0; i < n; i++)
		if (pids[i] > 0) {
			all = false;
			kill(pids[i], SIGKILL);
			waitpid(pids[i], &st, 0);
		}
	return all;
}

/*
 * The fake clock stands still until every burst is used up and each
 * process has gone on trying a while longer, then jumps an hour, which
 * refills every bucket: at each of those instants the processes fight
 * over one burst, and must get exactly that between them.
 */
#define EPOCHS	10

static bool
drained(struct shared_counts *sc, const void *arg)
{
	uint64_t	 want = *(const uint64_t *)arg;
	int		 i;

	for (i = 0; i <= NCHILD; i++)
		if (atomic_load(&sc->granted[i]) < want)
			return false;
	return true;
}

static void
test_processes_fixed_clock(void)
{
	struct progress_arg	 pa;
	struct region		 r;
	struct ratelimit	*rl;
	struct shared_counts	*sc;
	pid_t			 pids[NCHILD];
	uint64_t		 want;
	int			 i, k, n = NCHILD;
	bool			 good = true;

	/* Few networks: they never compete for a bucket, so the counts
	 * are exact, whatever the hash.  The largest burst makes each
	 * fight last. */
	rl = region_new(&r, 64, 1000, RATELIMIT_MAX_BURST);
	sc = mmap(NULL, sizeof(*sc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(sc, 0, sizeof(*sc));
	atomic_store(&sc->now, 1000000);
	for (i = 0; i < NCHILD; i++)
		pids[i] = child_start(rl, sc, i, false);
	ok(wait_for(all_ready, sc, &n, 10000), "%d processes started", n);
	atomic_store(&sc->go, 1);
	for (k = 0; k < EPOCHS && good; k++) {
		want = (uint64_t)(k + 1) * RATELIMIT_MAX_BURST;
		good = wait_for(drained, sc, &want, 20000);
		for (i = 0; i < NCHILD; i++)
			pa.base[i] = atomic_load(&sc->progress[i]);
		pa.except = -1;
		good = good && wait_for(others_progress, sc, &pa, 20000);
		if (k + 1 < EPOCHS)
			atomic_store(&sc->now,
			    1000000 + (uint64_t)(k + 1) * 3600000);
	}
	ok(good, "%d bursts used up, and tried for beyond", EPOCHS);
	atomic_store(&sc->stop, 1);
	ok(reap_all(pids, NCHILD, 10000), "all of them stopped when asked");
	for (i = 0; i < NCHILD; i++)
		diag("process %d: %ju rounds", i,
		    (uintmax_t)atomic_load(&sc->progress[i]));
	is_int(atomic_load(&sc->granted[HOT]), EPOCHS * RATELIMIT_MAX_BURST,
	    "%d frozen instants, 4 processes on one /24: exactly %d bursts",
	    EPOCHS, EPOCHS);
	for (i = 0; i < NCHILD; i++)
		is_int(atomic_load(&sc->granted[i]),
		    EPOCHS * RATELIMIT_MAX_BURST,
		    "process %d alone on its /24: exactly %d bursts", i, EPOCHS);
	ok(region_intact(&r), "nothing written past the table");
	munmap(sc, sizeof(*sc));
	region_free(&r);
}

static void
test_processes_stop_kill(void)
{
	struct progress_arg	 pa;
	struct region		 r;
	struct ratelimit	*rl;
	struct shared_counts	*sc;
	pid_t			 pids[NCHILD];
	uint64_t		 t0, t1, bound, hot;
	int			 i, k, n = NCHILD, st, stalls;

	/* 64 buckets and a stream of new networks: sets churn all along. */
	rl = region_new(&r, 64, 100, 50);
	sc = mmap(NULL, sizeof(*sc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(sc, 0, sizeof(*sc));
	t0 = mono_ms();
	for (i = 0; i < NCHILD; i++)
		pids[i] = child_start(rl, sc, i, true);
	ok(wait_for(all_ready, sc, &n, 10000), "%d processes started", n);
	atomic_store(&sc->go, 1);

	/*
	 * Stop process 0 again and again, to catch it in the middle of an
	 * update: each time, the others must go on without it.
	 */
	stalls = 0;
	for (k = 0; k < 200; k++) {
		kill(pids[0], SIGSTOP);
		waitpid(pids[0], &st, WUNTRACED);
		for (i = 0; i < NCHILD; i++)
			pa.base[i] = atomic_load(&sc->progress[i]);
		pa.except = 0;
		stalls += !wait_for(others_progress, sc, &pa, 5000);
		kill(pids[0], SIGCONT);
		if (stalls > 0)
			break;
	}
	is_int(stalls, 0, "process 0 stopped %d times: the others always "
	    "went on", k);

	/* Kill process 1 as often, and start a newcomer on what it left. */
	stalls = 0;
	for (k = 0; k < 40; k++) {
		kill(pids[1], SIGKILL);
		waitpid(pids[1], &st, 0);
		pids[1] = child_start(rl, sc, 1, true);
		for (i = 0; i < NCHILD; i++)
			pa.base[i] = atomic_load(&sc->progress[i]);
		pa.except = -1;
		stalls += !wait_for(others_progress, sc, &pa, 5000);
		if (stalls > 0)
			break;
	}
	is_int(stalls, 0, "process 1 killed %d times: the others and each "
	    "newcomer went on", k);

	atomic_store(&sc->stop, 1);
	ok(reap_all(pids, NCHILD, 10000), "all of them stopped when asked");
	t1 = mono_ms();

	hot = atomic_load(&sc->granted[HOT]);
	bound = 50 + 100 * (t1 - t0 + 1) / 1000;
	ok(hot <= bound, "the shared /24 got %ju, at most burst + rate x "
	    "time = %ju", (uintmax_t)hot, (uintmax_t)bound);
	ok(hot >= bound / 2, "... and not much less (%ju of %ju): the limit "
	    "is not stricter than asked", (uintmax_t)hot, (uintmax_t)bound);
	ok(ratelimit_used(rl) <= 64, "at most 64 buckets used (%zu)",
	    ratelimit_used(rl));
	ok(region_intact(&r), "nothing written past the table");
	is_int(passes(rl, "203.0.113.1", 100, t1 + 10), 50,
	    "afterwards, a new network gets its burst, no more");
	munmap(sc, sizeof(*sc));
	region_free(&r);
}

int
main(void)
{
	test_size_init();
	test_off();
	test_bucket();
	test_grouping();
	test_network();
	test_eviction();
	test_processes_fixed_clock();
	test_processes_stop_kill();
	return done_testing();
}
