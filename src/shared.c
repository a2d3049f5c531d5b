/*
 * The master/worker shared area: connection counts per worker and per
 * source address.
 *
 * The per-source tables live in one memfd, one region per slot, which
 * the master grows with ftruncate() before it forks a worker that needs
 * a bigger table; every process maps the file and maps it again, bigger,
 * when it meets a region past its mapping.  The file never shrinks (it
 * is sealed against it), so no process can touch a page past its end.
 *
 * Readers take no lock: each table has a seqlock whose only writer is
 * its owner, and every entry is read and written with atomic loads and
 * stores, so a reader that raced a change (a backward shift, a torn
 * address) sees the sequence move and reads again.  A writer stopped or
 * killed mid-change would leave the sequence odd: readers see that it no
 * longer runs (or, failing that, wait a bounded time) and report the
 * count unavailable.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared.h"
#include "timer.h"

#define IP_MIN_CAP	16
#define IP_MAX_CAP	(1u << 30)
/*
 * Append-only regions that at least double when they grow take at most
 * twice the largest one per slot: 512 slots x 2 x 48 MiB (2^21 entries
 * for max_connections = 1,000,000) is 48 GiB of file.  Only the pages
 * that a writer or a reader's probe touched use memory, until the master
 * clears the slot.
 */
#define IP_MAX_BYTES	(64ULL << 30)
#define READ_SPINS	100	/* quick retries before yielding */
#define READ_YIELD_MS	2	/* then sleep, if the writer still runs */
#define READ_WAIT_MS	250	/* then give up on a table mid-update */

struct ip_entry {
	_Atomic uint64_t	 ie_key[2];	/* the 16-byte address */
	_Atomic uint32_t	 ie_count;	/* 0: free */
};

_Static_assert(sizeof(struct ip_entry) == 24, "ip_entry is 24 bytes");
/* A lock behind an atomic would be private to each process. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
    "the shared tables need lock-free atomics");

/*
 * A memfd of 'len' bytes, close-on-exec (workers are forked, never
 * exec'd; a live upgrade clears the flag for its exec), sealed against
 * shrinking: nobody can touch a page past its end.  -1 with errno.
 */
static int
shared_memfd(const char *name, size_t len, unsigned seals)
{
	int	 fd, saved;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	if ((len > 0 && ftruncate(fd, (off_t)len) == -1) ||
	    fcntl(fd, F_ADD_SEALS, seals) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

struct shared *
shared_create(void)
{
	struct shared		*sh;
	struct shared_area	*a = MAP_FAILED;
	int			 afd = -1, fd = -1, saved;

	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		return NULL;
	/* The area never changes size; the tables only grow. */
	if ((afd = shared_memfd("echod-shared", sizeof(*a), F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_SEAL)) == -1 ||
	    (fd = shared_memfd("echod-sources", 0, F_SEAL_SHRINK |
	    F_SEAL_SEAL)) == -1)
		goto fail;
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (a == MAP_FAILED)
		goto fail;
	/*
	 * A secret hash key: sources are chosen by clients, who could
	 * otherwise pick addresses that all probe the same run.
	 */
	if (getrandom(a->sa_seed, sizeof(a->sa_seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(a->sa_seed)) {
		a->sa_seed[0] = timer_now_ms() ^ (uint64_t)(uintptr_t)a;
		a->sa_seed[1] = (uint64_t)getpid() << 32 ^ (uintptr_t)sh;
	}
	sh->sh_area = a;
	sh->sh_area_fd = afd;
	sh->sh_stats = a->sa_stats;
	sh->sh_gone = &a->sa_gone;
	sh->sh_ip_fd = fd;
	sh->sh_pid = getpid();
	return sh;
fail:
	saved = errno;
	if (afd != -1)
		close(afd);
	if (fd != -1)
		close(fd);
	free(sh);
	errno = saved;
	return NULL;
}

struct shared *
shared_attach(int area_fd, int sources_fd, char *err, size_t errlen)
{
	struct shared		*sh;
	struct shared_area	*a;
	struct stat		 st, ip;
	uint64_t		 size;

	if (fstat(area_fd, &st) == -1 || fstat(sources_fd, &ip) == -1) {
		snprintf(err, errlen, "the shared memory: %s",
		    strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof(*a) ||
	    !S_ISREG(ip.st_mode)) {
		snprintf(err, errlen, "the shared memory is not what this "
		    "echod maps (%lld bytes, not %zu)", (long long)st.st_size,
		    sizeof(*a));
		return NULL;
	}
	if ((sh = calloc(1, sizeof(*sh))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_SHARED,
	    area_fd, 0);
	if (a == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the shared memory: %s",
		    strerror(errno));
		free(sh);
		return NULL;
	}
	size = atomic_load(&a->sa_ip_size);
	if (size > (uint64_t)ip.st_size) {
		snprintf(err, errlen, "the per-source tables are %lld bytes, "
		    "not %llu", (long long)ip.st_size,
		    (unsigned long long)size);
		munmap(a, sizeof(*a));
		free(sh);
		return NULL;
	}
	sh->sh_area = a;
	sh->sh_area_fd = area_fd;
	sh->sh_stats = a->sa_stats;
	sh->sh_gone = &a->sa_gone;
	sh->sh_ip_fd = sources_fd;
	sh->sh_pid = getpid();
	/* The tables are mapped on first use (ip_cover()). */
	return sh;
}

void
shared_forked(struct shared *sh)
{
	sh->sh_pid = getpid();
}

void
shared_free(struct shared *sh)
{
	if (sh == NULL)
		return;
	if (sh->sh_ip_map != NULL)
		munmap(sh->sh_ip_map, sh->sh_ip_len);
	close(sh->sh_ip_fd);
	close(sh->sh_area_fd);
	munmap(sh->sh_area, sizeof(*sh->sh_area));
	free(sh);
}

uint32_t
shared_total_conns(struct shared *sh)
{
	struct shared_area	*a = sh->sh_area;
	uint32_t		 i, n, total = 0;

	n = atomic_load_explicit(&a->sa_slots, memory_order_relaxed);
	for (i = 0; i < n && i < ECHOD_MAX_SLOTS; i++)
		total += atomic_load_explicit(&a->sa_stats[i].ws_conns,
		    memory_order_relaxed);
	return total;
}

/* The counters of a struct worker_stats, as an array. */
#define COUNTERS_FIRST	offsetof(struct worker_stats, ws_accepted)
#define COUNTERS_N	((sizeof(struct worker_stats) - COUNTERS_FIRST) / \
			    sizeof(_Atomic uint64_t))

_Static_assert((sizeof(struct worker_stats) - COUNTERS_FIRST) %
    sizeof(_Atomic uint64_t) == 0, "worker_stats ends with counters only");

static _Atomic uint64_t *
counter(struct worker_stats *ws, size_t offset)
{
	return (_Atomic uint64_t *)(void *)((char *)ws + offset);
}

void
shared_fold_slot(struct shared *sh, uint32_t slot)
{
	struct worker_stats	*from = &sh->sh_stats[slot], *to = sh->sh_gone;
	_Atomic uint64_t	*c;
	size_t			 i, off;

	for (i = 0; i < COUNTERS_N; i++) {
		off = COUNTERS_FIRST + i * sizeof(*c);
		c = counter(from, off);
		stat_add(counter(to, off), atomic_load_explicit(c,
		    memory_order_relaxed));
		atomic_store_explicit(c, 0, memory_order_relaxed);
	}
}

uint64_t
shared_sum(struct shared *sh, size_t offset)
{
	struct shared_area	*a = sh->sh_area;
	uint64_t		 total;
	uint32_t		 i, n;

	total = atomic_load_explicit(counter(sh->sh_gone, offset),
	    memory_order_relaxed);
	n = atomic_load_explicit(&a->sa_slots, memory_order_relaxed);
	for (i = 0; i < n && i < ECHOD_MAX_SLOTS; i++)
		total += atomic_load_explicit(counter(&sh->sh_stats[i],
		    offset), memory_order_relaxed);
	return total;
}

/* Map 'len' bytes of the memfd (its whole published size) in place of
 * what this process mapped. */
static int
ip_map(struct shared *sh, size_t len)
{
	void	*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, sh->sh_ip_fd,
	    0);
	if (p == MAP_FAILED)
		return -1;
	if (sh->sh_ip_map != NULL)
		munmap(sh->sh_ip_map, sh->sh_ip_len);
	sh->sh_ip_map = p;
	sh->sh_ip_len = len;
	return 0;
}

/*
 * Make sure this process maps [0, end).  -1 when it cannot: no memory,
 * or the file is not that big yet as far as we can see (a reader that
 * raced the master; its sequence check makes it retry).
 */
static int
ip_cover(struct shared *sh, uint64_t end)
{
	uint64_t	 size;

	if (end <= sh->sh_ip_len)
		return 0;
	size = atomic_load_explicit(&sh->sh_area->sa_ip_size,
	    memory_order_acquire);
	if (size < end || size > SIZE_MAX)
		return -1;
	return ip_map(sh, (size_t)size);
}

static struct ip_entry *
ip_entries(struct shared *sh, uint64_t off)
{
	return (struct ip_entry *)(void *)(sh->sh_ip_map + off);
}

/* Entries for max_sources at a load of at most 3/4; 0 when too many. */
static uint32_t
ip_cap_for(uint32_t max_sources)
{
	uint64_t	 cap = IP_MIN_CAP;

	if (max_sources == 0)
		return 0;
	while (cap * 3 < (uint64_t)max_sources * 4)
		cap *= 2;
	return cap > IP_MAX_CAP ? 0 : (uint32_t)cap;
}

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t
ip_hash(const struct shared_area *a, const uint64_t k[2])
{
	return mix64(mix64(k[0] ^ a->sa_seed[0]) ^ k[1] ^ a->sa_seed[1]);
}

static void
ip_key(const uint8_t addr[16], uint64_t k[2])
{
	memcpy(k, addr, 16);
}

/*
 * The seqlock's write side.  The relaxed store of the odd value and the
 * release fence order it before every entry store that follows, so a
 * reader that saw any of them sees the sequence move (Boehm, "Can
 * seqlocks get along with programming language memory models?").  A
 * writer that died mid-change left it odd: keep it odd, end above it.
 * The writer's pid goes first, released with the odd value, so that a
 * reader kept waiting can ask whether the writer still runs.
 */
static uint32_t
ip_write_begin(struct shared *sh, struct ip_slot *is)
{
	uint32_t	 s;

	if (atomic_load_explicit(&is->is_writer, memory_order_relaxed) !=
	    sh->sh_pid)
		atomic_store_explicit(&is->is_writer, sh->sh_pid,
		    memory_order_relaxed);
	s = atomic_load_explicit(&is->is_seq, memory_order_relaxed) | 1;
	atomic_store_explicit(&is->is_seq, s, memory_order_release);
	atomic_thread_fence(memory_order_release);
	return s;
}

static void
ip_write_end(struct ip_slot *is, uint32_t s)
{
	atomic_store_explicit(&is->is_seq, s + 1, memory_order_release);
}

static void
ip_put(struct ip_entry *e, const uint64_t k[2], uint32_t count)
{
	atomic_store_explicit(&e->ie_key[0], k[0], memory_order_relaxed);
	atomic_store_explicit(&e->ie_key[1], k[1], memory_order_relaxed);
	atomic_store_explicit(&e->ie_count, count, memory_order_relaxed);
}

static uint32_t
ip_get(struct ip_entry *e, uint64_t k[2])
{
	k[0] = atomic_load_explicit(&e->ie_key[0], memory_order_relaxed);
	k[1] = atomic_load_explicit(&e->ie_key[1], memory_order_relaxed);
	return atomic_load_explicit(&e->ie_count, memory_order_relaxed);
}

/*
 * Probe t for key k from its home h: the index of its entry, or of the
 * free entry that ends its run, or cap when neither comes (full).  *count
 * gets the entry's count (0 when free).
 */
static uint32_t
ip_probe(struct ip_entry *t, uint32_t cap, uint64_t h, const uint64_t k[2],
    uint32_t *count)
{
	uint64_t	 ek[2];
	uint32_t	 i, n, c;

	for (n = 0, i = h & (cap - 1); n < cap; n++, i = (i + 1) & (cap - 1)) {
		c = ip_get(&t[i], ek);
		if (c == 0 || (ek[0] == k[0] && ek[1] == k[1])) {
			*count = c;
			return i;
		}
	}
	*count = 0;
	return cap;
}

int
shared_ip_prepare(struct shared *sh, uint32_t slot, uint32_t max_sources,
    char *err, size_t errlen)
{
	struct shared_area	*a = sh->sh_area;
	struct ip_slot		*is = &a->sa_ip[slot];
	struct rlimit		 rl;
	uint64_t		 off, end;
	uint32_t		 cap, s;
	void			*old;
	size_t			 oldlen;

	if (slot >= ECHOD_MAX_SLOTS) {
		snprintf(err, errlen, "slot %u out of range", slot);
		return -1;
	}
	if ((cap = ip_cap_for(max_sources)) == 0 && max_sources != 0) {
		snprintf(err, errlen, "per-source table for %u sources: too "
		    "big", max_sources);
		return -1;
	}
	shared_clear_slot(sh, slot);
	if (slot + 1 > atomic_load(&a->sa_slots))
		atomic_store(&a->sa_slots, slot + 1);
	if (cap <= atomic_load_explicit(&is->is_cap, memory_order_relaxed))
		return 0;

	/* Grow: append a region; the old one's pages were just released. */
	off = atomic_load_explicit(&a->sa_ip_size, memory_order_relaxed);
	end = off + (uint64_t)cap * sizeof(struct ip_entry);
	if (end > IP_MAX_BYTES) {
		snprintf(err, errlen, "per-source tables would take %llu MiB, "
		    "over the bound of %llu MiB", (unsigned long long)(end >>
		    20), (unsigned long long)(IP_MAX_BYTES >> 20));
		return -1;
	}
	/* Past RLIMIT_FSIZE, ftruncate() would also raise SIGXFSZ. */
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	    && end > rl.rlim_cur) {
		snprintf(err, errlen, "per-source tables would take %llu "
		    "bytes, over the file size limit (RLIMIT_FSIZE) of %llu",
		    (unsigned long long)end, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	/* Map first (past the end is allowed), so failing changes nothing. */
	old = sh->sh_ip_map;
	oldlen = sh->sh_ip_len;
	sh->sh_ip_map = NULL;
	if (ip_map(sh, end) == -1) {
		snprintf(err, errlen, "cannot map %llu MiB of per-source "
		    "tables: %s", (unsigned long long)(end >> 20),
		    strerror(errno));
		sh->sh_ip_map = old;
		return -1;
	}
	if (ftruncate(sh->sh_ip_fd, (off_t)end) == -1) {
		snprintf(err, errlen, "cannot grow the per-source tables to "
		    "%llu MiB: %s", (unsigned long long)(end >> 20),
		    strerror(errno));
		munmap(sh->sh_ip_map, end);
		sh->sh_ip_map = old;
		sh->sh_ip_len = oldlen;
		return -1;
	}
	if (old != NULL)
		munmap(old, oldlen);
	/* The size first: a reader that sees the region can map it. */
	atomic_store_explicit(&a->sa_ip_size, end, memory_order_release);
	s = ip_write_begin(sh, is);
	atomic_store_explicit(&is->is_off, off, memory_order_relaxed);
	atomic_store_explicit(&is->is_cap, cap, memory_order_relaxed);
	ip_write_end(is, s);
	return 0;
}

void
shared_clear_slot(struct shared *sh, uint32_t slot)
{
	struct ip_slot	*is = &sh->sh_area->sa_ip[slot];
	struct ip_entry	*t;
	uint64_t	 off, zero[2] = { 0, 0 };
	uint32_t	 cap, i, s;

	atomic_store(&sh->sh_stats[slot].ws_conns, 0);
	s = ip_write_begin(sh, is);
	cap = atomic_load_explicit(&is->is_cap, memory_order_relaxed);
	off = atomic_load_explicit(&is->is_off, memory_order_relaxed);
	/* Hand the pages back: they read as zero, all entries free. */
	if (cap != 0 && fallocate(sh->sh_ip_fd, FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)cap *
	    (off_t)sizeof(struct ip_entry)) == -1 &&
	    ip_cover(sh, off + (uint64_t)cap * sizeof(*t)) == 0) {
		t = ip_entries(sh, off);
		for (i = 0; i < cap; i++)
			ip_put(&t[i], zero, 0);
	}
	ip_write_end(is, s);
}

/*
 * Whether process pid can still finish an update: no when it is stopped
 * (SIGSTOP, a debugger), dead or a zombie.  Unknown (0, or /proc not
 * readable) counts as running: the time bound still applies.
 */
static int
ip_writer_runs(pid_t pid)
{
	char	 path[32], buf[256], *p;
	ssize_t	 n;
	int	 fd;

	if (pid <= 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold anything, so the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 1;
	return strchr("TtZX", p[2]) == NULL;
}

/*
 * Give a reader that found a table mid-update a bounded wait: spin a
 * little (the writer is on another CPU, nanoseconds from done), then
 * yield (it may be preempted on ours), then sleep in short steps while
 * the writer still runs: on a busy machine it may wait tens of
 * milliseconds for a CPU.  A writer that stopped or died will not
 * finish: -1 as soon as that shows, else once READ_WAIT_MS passed.
 */
static int
ip_read_wait(const struct ip_slot *is, uint32_t tries, uint64_t *since)
{
	const struct timespec	 step = { 0, 200 * 1000 };
	uint64_t		 now;

	if (tries < READ_SPINS)
		return 0;
	now = timer_now_ms();
	if (*since == 0)
		*since = now;
	if (now - *since < READ_YIELD_MS) {
		(void)sched_yield();
		return 0;
	}
	if (now - *since >= READ_WAIT_MS || !ip_writer_runs(
	    atomic_load_explicit(&is->is_writer, memory_order_relaxed)))
		return -1;
	(void)nanosleep(&step, NULL);
	return 0;
}

/* Connections from k in slot's table, read consistently: 0, or -1. */
static int
ip_read(struct shared *sh, uint32_t slot, uint64_t h, const uint64_t k[2],
    uint32_t *count)
{
	struct ip_slot	*is = &sh->sh_area->sa_ip[slot];
	uint64_t	 off, since = 0;
	uint32_t	 s, cap, c, tries;

	for (tries = 0;; tries++) {
		if (tries > 0 && ip_read_wait(is, tries, &since) == -1)
			return -1;
		s = atomic_load_explicit(&is->is_seq, memory_order_acquire);
		if (s & 1)
			continue;
		cap = atomic_load_explicit(&is->is_cap, memory_order_relaxed);
		off = atomic_load_explicit(&is->is_off, memory_order_relaxed);
		c = 0;
		if (cap != 0) {
			if (ip_cover(sh, off + (uint64_t)cap *
			    sizeof(struct ip_entry)) == -1)
				continue;
			(void)ip_probe(ip_entries(sh, off), cap, h, k, &c);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&is->is_seq, memory_order_relaxed) ==
		    s) {
			*count = c;
			return 0;
		}
	}
}

uint32_t
shared_ip_count(struct shared *sh, const uint8_t addr[16])
{
	struct shared_area	*a = sh->sh_area;
	uint64_t		 k[2], h;
	uint32_t		 i, n, c, total = 0;

	/*
	 * Dekker: our own reservation (stored before this call) must be
	 * ordered before the reads of the others', or two workers racing
	 * for the last place could each miss the other's and both admit.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	ip_key(addr, k);
	h = ip_hash(a, k);
	n = atomic_load_explicit(&a->sa_slots, memory_order_relaxed);
	for (i = 0; i < n && i < ECHOD_MAX_SLOTS; i++) {
		if (ip_read(sh, i, h, k, &c) == -1)
			return SHARED_IP_UNAVAILABLE;
		total += c;
	}
	return total;
}

/* The table of the caller's own slot, mapped; NULL when it has none. */
static struct ip_entry *
ip_own(struct shared *sh, struct ip_slot *is, uint32_t *cap)
{
	uint64_t	 off;

	*cap = atomic_load_explicit(&is->is_cap, memory_order_relaxed);
	off = atomic_load_explicit(&is->is_off, memory_order_relaxed);
	if (*cap == 0 || ip_cover(sh, off + (uint64_t)*cap *
	    sizeof(struct ip_entry)) == -1)
		return NULL;
	return ip_entries(sh, off);
}

int
shared_ip_add(struct shared *sh, uint32_t slot, const uint8_t addr[16],
    const char **why)
{
	struct ip_slot	*is = &sh->sh_area->sa_ip[slot];
	struct ip_entry	*t;
	uint64_t	 k[2];
	uint32_t	 cap, i, c, s;

	if ((t = ip_own(sh, is, &cap)) == NULL) {
		*why = "this worker has no per-source table";
		return -1;
	}
	ip_key(addr, k);
	if ((i = ip_probe(t, cap, ip_hash(sh->sh_area, k), k, &c)) == cap) {
		*why = "this worker's per-source table is full";
		return -1;
	}
	s = ip_write_begin(sh, is);
	if (c == 0)
		ip_put(&t[i], k, 1);
	else
		atomic_store_explicit(&t[i].ie_count, c + 1,
		    memory_order_relaxed);
	ip_write_end(is, s);
	return 0;
}

void
shared_ip_remove(struct shared *sh, uint32_t slot, const uint8_t addr[16])
{
	struct ip_slot	*is = &sh->sh_area->sa_ip[slot];
	struct ip_entry	*t;
	uint64_t	 k[2], ek[2];
	uint32_t	 cap, mask, i, j, home, c, s;

	if ((t = ip_own(sh, is, &cap)) == NULL)
		return;
	mask = cap - 1;
	ip_key(addr, k);
	if ((i = ip_probe(t, cap, ip_hash(sh->sh_area, k), k, &c)) == cap ||
	    c == 0)
		return;
	s = ip_write_begin(sh, is);
	if (c > 1) {
		atomic_store_explicit(&t[i].ie_count, c - 1,
		    memory_order_relaxed);
		ip_write_end(is, s);
		return;
	}
	/*
	 * Backward-shift deletion keeps every probe run unbroken without
	 * tombstones: move later entries of the run into the hole when
	 * their home allows it.  The run ends at a free entry, and there
	 * is one: the hole.
	 */
	atomic_store_explicit(&t[i].ie_count, 0, memory_order_relaxed);
	for (j = (i + 1) & mask; (c = ip_get(&t[j], ek)) != 0;
	    j = (j + 1) & mask) {
		home = ip_hash(sh->sh_area, ek) & mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		ip_put(&t[i], ek, c);
		atomic_store_explicit(&t[j].ie_count, 0, memory_order_relaxed);
		i = j;
	}
	ip_write_end(is, s);
}
