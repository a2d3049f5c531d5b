/*
 * Unit tests: the shared per-source tables.  Real processes: forked
 * "workers" share the area and the memfd as echod's do.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "shared.h"
#include "tap.h"
#include "timer.h"

#define STRESS_WORKERS	4
#define STRESS_MS	2000	/* at least, and ... */
#define STRESS_OPS	50000	/* ... this many per worker, however slow */
#define STRESS_MAX_MS	60000
#define STRESS_LIMIT	3
#define STRESS_HOT	4	/* sources every worker admits */
#define STRESS_OWN	400	/* sources only one worker admits */
#define STRESS_HELD	700	/* connections a worker holds at most */
#define STRESS_SOURCES	(STRESS_HOT + STRESS_WORKERS * STRESS_OWN)

static void
addr_of(uint32_t n, uint8_t a[16])
{
	/* 10.0.0.0/8, v4-mapped, as a worker keys it. */
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	a[12] = 10;
	a[13] = (uint8_t)(n >> 16);
	a[14] = (uint8_t)(n >> 8);
	a[15] = (uint8_t)n;
}

static uint32_t
count_of(struct shared *sh, uint32_t n)
{
	uint8_t	 a[16];

	addr_of(n, a);
	return shared_ip_count(sh, a);
}

static int
add(struct shared *sh, uint32_t slot, uint32_t n)
{
	uint8_t		 a[16];
	const char	*why = NULL;

	addr_of(n, a);
	return shared_ip_add(sh, slot, a, &why);
}

static void
del(struct shared *sh, uint32_t slot, uint32_t n)
{
	uint8_t	 a[16];

	addr_of(n, a);
	shared_ip_remove(sh, slot, a);
}

static int
prepare(struct shared *sh, uint32_t slot, uint32_t max)
{
	char	 err[160];

	if (shared_ip_prepare(sh, slot, max, err, sizeof(err)) == 0)
		return 0;
	diag("prepare: %s", err);
	return -1;
}

/* Wait for a child to stop or exit, at most 'ms'; its status, or -1. */
static int
wait_child(pid_t pid, int options, uint64_t ms)
{
	uint64_t	 end = timer_now_ms() + ms;
	struct timespec	 tick = { 0, 1000000 };
	int		 status;
	pid_t		 r;

	while ((r = waitpid(pid, &status, WNOHANG | options)) == 0 &&
	    timer_now_ms() < end)
		nanosleep(&tick, NULL);
	return r == pid ? status : -1;
}

static void
test_basics(struct shared *sh)
{
	uint8_t		 a[16];
	const char	*why = NULL;
	uint32_t	 i, bad;
	int		 r;

	ok(prepare(sh, 0, 100) == 0 && prepare(sh, 1, 100) == 0 &&
	    prepare(sh, 2, 0) == 0, "prepare slots 0 and 1 for 100 sources, "
	    "slot 2 for none");
	is_int(atomic_load(&sh->sh_area->sa_slots), 3, "three slots summed");
	is_int(count_of(sh, 1), 0, "an unknown source has no connections");
	ok(add(sh, 0, 1) == 0 && add(sh, 0, 1) == 0 && add(sh, 1, 1) == 0,
	    "add 1.1 twice in slot 0 and once in slot 1");
	is_int(count_of(sh, 1), 3, "its count is the sum over slots");
	is_int(count_of(sh, 2), 0, "another source still has none");
	del(sh, 0, 1);
	is_int(count_of(sh, 1), 2, "remove one: 2");
	del(sh, 1, 1);
	del(sh, 1, 1);		/* not there any more: nothing happens */
	is_int(count_of(sh, 1), 1, "remove slot 1's: 1 (and a remove of "
	    "nothing is harmless)");
	del(sh, 0, 1);
	is_int(count_of(sh, 1), 0, "remove the last: 0");
	addr_of(7, a);
	r = shared_ip_add(sh, 2, a, &why);
	ok(r == -1 && why != NULL && strstr(why, "no per-source table") !=
	    NULL, "a slot prepared for no sources refuses, saying why: %s",
	    why ? why : "(none)");

	/* 12 sources: 16 entries.  Fill them all, then one more. */
	ok(prepare(sh, 3, 12) == 0, "prepare slot 3 for 12 sources");
	is_int(atomic_load(&sh->sh_area->sa_ip[3].is_cap), 16, "... 16 "
	    "entries: a load of 3/4 at most");
	for (i = bad = 0; i < 16; i++)
		bad += add(sh, 3, 100 + i) != 0;
	is_int(bad, 0, "16 distinct sources fill it");
	addr_of(200, a);
	why = NULL;
	r = shared_ip_add(sh, 3, a, &why);
	ok(r == -1 && why != NULL && strstr(why, "full") != NULL,
	    "a 17th is refused as full: %s", why ? why : "(none)");
	ok(add(sh, 3, 105) == 0, "a source it holds still gains one");
	for (i = bad = 0; i < 16; i++)
		bad += count_of(sh, 100 + i) != (i == 5 ? 2u : 1u);
	is_int(bad, 0, "every count is right in a full table");
	for (i = 0; i < 16; i++)
		del(sh, 3, 100 + i);
	del(sh, 3, 105);
	for (i = bad = 0; i < 16; i++)
		bad += count_of(sh, 100 + i) != 0;
	is_int(bad, 0, "and all leave it");
}

/* Random adds and removes against a model, in a small table that wraps. */
static void
test_model(struct shared *sh)
{
	uint32_t	 model[24] = { 0 }, n, i, bad = 0, held = 0;
	unsigned	 seed = 7;
	int		 round;

	ok(prepare(sh, 4, 24) == 0, "prepare slot 4 for 24 sources (32 "
	    "entries)");
	for (round = 0; round < 20000; round++) {
		n = (uint32_t)rand_r(&seed) % 24;
		if (model[n] > 0 && (rand_r(&seed) & 1)) {
			del(sh, 4, 1000 + n);
			model[n]--;
			held--;
		} else if (add(sh, 4, 1000 + n) == 0) {
			model[n]++;
			held++;
		} else
			bad++;
		for (i = 0; i < 24; i++)
			bad += count_of(sh, 1000 + i) != model[i];
	}
	is_int(bad, 0, "20,000 random adds and removes of 24 sources agree "
	    "with a model after each step (backward shifts across the end)");
	for (i = 0; i < 24; i++)
		while (model[i]-- > 0)
			del(sh, 4, 1000 + i);
	for (i = bad = 0; i < 24; i++)
		bad += count_of(sh, 1000 + i) != 0;
	is_int(bad, 0, "emptied again");
}

static void
test_growth(struct shared *sh)
{
	struct ip_slot	*is = &sh->sh_area->sa_ip[5];
	uint64_t	 size, off;
	uint32_t	 i, bad;

	ok(prepare(sh, 5, 16) == 0, "prepare slot 5 for 16 sources");
	size = atomic_load(&sh->sh_area->sa_ip_size);
	ok(prepare(sh, 5, 100000) == 0, "prepare it again for 100,000");
	is_int(atomic_load(&is->is_cap), 1 << 18, "... 262,144 entries "
	    "(131,072 would be loaded over 3/4)");
	is_int(atomic_load(&is->is_off), size, "... in a region appended at "
	    "the end of the file");
	ok(sh->sh_ip_len >= atomic_load(&sh->sh_area->sa_ip_size),
	    "the master maps the whole file");
	for (i = bad = 0; i < 100000; i++)
		bad += add(sh, 5, i) != 0;
	is_int(bad, 0, "100,000 distinct sources fit without a failure");
	for (i = bad = 0; i < 100000; i++)
		bad += count_of(sh, i) != 1;
	is_int(bad, 0, "each is counted once");
	for (i = 0; i < 100000; i += 2)
		del(sh, 5, i);
	for (i = bad = 0; i < 100000; i++)
		bad += count_of(sh, i) != (i & 1);
	is_int(bad, 0, "remove every other one: the rest are all found");

	off = atomic_load(&is->is_off);
	size = atomic_load(&sh->sh_area->sa_ip_size);
	shared_clear_slot(sh, 5);
	for (i = bad = 0; i < 100000; i++)
		bad += count_of(sh, i) != 0;
	is_int(bad, 0, "shared_clear_slot forgets them all");
	ok(prepare(sh, 5, 50000) == 0 && atomic_load(&is->is_off) == off &&
	    atomic_load(&sh->sh_area->sa_ip_size) == size, "a smaller table "
	    "reuses the region; the file does not grow");
	atomic_store(&sh->sh_stats[5].ws_conns, 9);
	ok(add(sh, 5, 1) == 0 && count_of(sh, 1) == 1, "slot 5 counts again");
	shared_clear_slot(sh, 5);
	ok(count_of(sh, 1) == 0 && atomic_load(&sh->sh_stats[5].ws_conns) ==
	    0, "clear_slot forgets its connections too");
}

/* A dead worker's counters move to sh_gone, UDP ones included. */
static void
test_fold(struct shared *sh)
{
	struct worker_stats	*st = &sh->sh_stats[7], *g = sh->sh_gone;
	unsigned		 v;
	bool			 all = true;

	stat_add(&st->ws_accepted, 3);
	stat_add(&st->ws_udp_received, 10);
	stat_add(&st->ws_udp_echoed, 6);
	stat_add(&st->ws_udp_bytes_in, 1000);
	stat_add(&st->ws_udp_bytes_out, 600);
	for (v = 0; v < UDP_NVERDICTS; v++)
		stat_add(&st->ws_udp_dropped[v], v);
	stat_add(&g->ws_udp_received, 1);
	shared_fold_slot(sh, 7);
	for (v = 0; v < UDP_NVERDICTS; v++)
		all = all && atomic_load(&g->ws_udp_dropped[v]) == v &&
		    atomic_load(&st->ws_udp_dropped[v]) == 0;
	ok(atomic_load(&g->ws_accepted) == 3 &&
	    atomic_load(&g->ws_udp_received) == 11 &&
	    atomic_load(&g->ws_udp_echoed) == 6 &&
	    atomic_load(&g->ws_udp_bytes_in) == 1000 &&
	    atomic_load(&g->ws_udp_bytes_out) == 600 && all,
	    "shared_fold_slot adds a slot's UDP counters to sh_gone");
	ok(atomic_load(&st->ws_udp_received) == 0 &&
	    atomic_load(&st->ws_udp_echoed) == 0 &&
	    atomic_load(&st->ws_udp_bytes_in) == 0 &&
	    atomic_load(&st->ws_udp_bytes_out) == 0,
	    "... and zeroes them in the slot: counted once");
}

/* A reader forked before the master grew the file maps it again. */
static void
test_remap(struct shared *sh)
{
	int		 go[2], res[2], st;
	uint32_t	 got[3] = { 0, 0, 0 };
	char		 c = 0;
	pid_t		 pid;

	if (pipe(go) == -1 || pipe(res) == -1) {
		ok(false, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		uint32_t out[3];

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		out[0] = (uint32_t)(sh->sh_ip_len >> 10);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		out[1] = count_of(sh, 424242);
		out[2] = (uint32_t)(sh->sh_ip_len >> 10);
		_exit(write(res[1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
	}
	ok(prepare(sh, 6, 400000) == 0, "the master grows the file for "
	    "slot 6 (400,000 sources) after forking a reader");
	ok(add(sh, 6, 424242) == 0 && add(sh, 6, 424242) == 0,
	    "and counts two connections there");
	if (write(go[1], &c, 1) != 1 ||
	    read(res[0], got, sizeof(got)) != sizeof(got))
		got[1] = 99;
	st = wait_child(pid, 0, 10000);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reader exited cleanly");
	is_int(got[1], 2, "the reader sees both");
	ok(got[2] > got[0] && got[2] >= (uint32_t)(atomic_load(
	    &sh->sh_area->sa_ip_size) >> 10), "... having mapped the file "
	    "again: %u KiB, then %u KiB", got[0], got[2]);
	close(go[0]);
	close(go[1]);
	close(res[0]);
	close(res[1]);
	shared_clear_slot(sh, 6);
}

/*
 * A reader never misses an entry while the owner moves entries around
 * it.  The writer adds and removes sources in a table kept over 9/10
 * full, where runs are long and every removal shifts entries back, and
 * publishes in a separate page when each is surely in the table: its
 * generation is odd from just after the add to just before the remove.
 * A read of a source whose generation was odd and the same before and
 * after must find it.
 */
#define CONS_POOL	1200
#define CONS_FILL	940
#define CONS_OPS	300000	/* writer steps to read through, at least */

static void
test_consistency(struct shared *sh)
{
	_Atomic uint32_t *gen;
	uint64_t	 end, reads = 0, wrong = 0, unavailable = 0;
	uint32_t	 i, n, g, steps;
	int		 st;
	pid_t		 pid;

	/* gen[CONS_POOL] counts the writer's steps. */
	gen = mmap(NULL, (CONS_POOL + 1) * sizeof(*gen), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (gen == MAP_FAILED) {
		ok(false, "mmap: %s", strerror(errno));
		return;
	}
	ok(prepare(sh, 0, 700) == 0, "prepare slot 0 for 700 sources "
	    "(1,024 entries)");
	fflush(stdout);
	if ((pid = fork()) == 0) {
		unsigned	 seed = 3, used = 0;

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		shared_forked(sh);
		for (;;) {
			n = (uint32_t)rand_r(&seed) % CONS_POOL;
			if (atomic_load(&gen[n]) & 1) {
				atomic_fetch_add(&gen[n], 1);
				del(sh, 0, 6000 + n);
				used--;
			} else if (used < CONS_FILL &&
			    add(sh, 0, 6000 + n) == 0) {
				atomic_fetch_add(&gen[n], 1);
				used++;
			}
			atomic_fetch_add(&gen[CONS_POOL], 1);
		}
	}
	/* A busy machine may run the writer late and slowly: count steps. */
	end = timer_now_ms() + 60000;
	while ((steps = atomic_load(&gen[CONS_POOL])) < CONS_OPS + 10000 &&
	    timer_now_ms() < end) {
		if (steps < 10000) {	/* not filled up yet */
			sched_yield();
			continue;
		}
		for (i = 0; i < CONS_POOL; i++) {
			if (((g = atomic_load(&gen[i])) & 1) == 0)
				continue;
			n = count_of(sh, 6000 + i);
			if (atomic_load(&gen[i]) != g)
				continue;
			reads++;
			if (n == SHARED_IP_UNAVAILABLE)
				unavailable++;
			else if (n != 1)
				wrong++;
		}
	}
	kill(pid, SIGKILL);
	st = wait_child(pid, 0, 10000);
	ok(st != -1 && WIFSIGNALED(st), "the writer is stopped");
	ok(reads > 10000, "%llu reads of sources surely in the table while "
	    "the writer made %u changes around them", (unsigned long long)
	    reads, atomic_load(&gen[CONS_POOL]));
	is_int(wrong, 0, "none missed (%llu unavailable)",
	    (unsigned long long)unavailable);
	shared_clear_slot(sh, 0);
	munmap(gen, (CONS_POOL + 1) * sizeof(*gen));
}

/* A writer stopped or dead mid-update never makes a reader hang. */
static void
test_stuck_writer(struct shared *sh)
{
	struct ip_slot	*is = &sh->sh_area->sa_ip[1];
	uint64_t	 t0, took, worst = 0;
	uint32_t	 seq, n;
	unsigned	 unavailable = 0, i;
	int		 st;
	pid_t		 pid;

	ok(add(sh, 0, 77) == 0, "a connection from 0.77 in slot 0");
	seq = atomic_load(&is->is_seq);
	atomic_store(&is->is_seq, seq | 1);
	t0 = timer_now_ms();
	n = count_of(sh, 77);
	took = timer_now_ms() - t0;
	ok(n == SHARED_IP_UNAVAILABLE && took < 1000, "slot 1 left "
	    "mid-update: the count is unavailable, after %llu ms",
	    (unsigned long long)took);
	ok(SHARED_IP_UNAVAILABLE > 1000000, "... which is over any limit");
	shared_clear_slot(sh, 1);
	ok(atomic_load(&is->is_seq) % 2 == 0 && count_of(sh, 77) == 1,
	    "once the master clears the slot, counts work again");

	/* A real process, SIGSTOPped inside its update. */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		atomic_store(&is->is_writer, getpid());
		atomic_store(&is->is_seq, atomic_load(&is->is_seq) | 1);
		raise(SIGSTOP);
		_exit(0);
	}
	st = wait_child(pid, WUNTRACED, 10000);
	ok(st != -1 && WIFSTOPPED(st), "a writer stopped mid-update");
	t0 = timer_now_ms();
	n = count_of(sh, 77);
	took = timer_now_ms() - t0;
	ok(n == SHARED_IP_UNAVAILABLE && took < 1000, "the count is "
	    "unavailable after %llu ms, no hang", (unsigned long long)took);
	kill(pid, SIGKILL);
	st = wait_child(pid, 0, 10000);
	ok(st != -1 && WIFSIGNALED(st), "the writer is killed");
	shared_clear_slot(sh, 1);
	is_int(count_of(sh, 77), 1, "cleared after its death: counts work");

	/*
	 * A writer that still runs but is slow to finish (preempted on a
	 * busy machine): the reader waits for it rather than refusing.
	 */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		atomic_store(&is->is_writer, getpid());
		seq = atomic_load(&is->is_seq) | 1;
		atomic_store(&is->is_seq, seq);
		t0 = timer_now_ms();
		while (timer_now_ms() - t0 < 60)
			;	/* running, not stopped */
		atomic_store(&is->is_seq, seq + 1);
		_exit(0);
	}
	while (atomic_load(&is->is_seq) % 2 == 0)
		sched_yield();
	t0 = timer_now_ms();
	n = count_of(sh, 77);
	took = timer_now_ms() - t0;
	ok(n == 1, "a running writer 60 ms inside its update: the reader "
	    "waited %llu ms for it and counted %u, not unavailable",
	    (unsigned long long)took, n);
	st = wait_child(pid, 0, 10000);
	ok(st != -1 && WIFEXITED(st), "the writer finished");

	/* A writer busy in its table, stopped at random points. */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		shared_forked(sh);
		for (;;) {
			(void)add(sh, 1, 77);
			(void)add(sh, 1, 78);
			del(sh, 1, 77);
			del(sh, 1, 78);
		}
	}
	for (i = 0; i < 200; i++) {
		kill(pid, SIGSTOP);
		if ((st = wait_child(pid, WUNTRACED, 10000)) == -1)
			break;
		t0 = timer_now_ms();
		n = count_of(sh, 77);
		took = timer_now_ms() - t0;
		worst = took > worst ? took : worst;
		if (n == SHARED_IP_UNAVAILABLE)
			unavailable++;
		else if (n != 1 && n != 2)
			break;
		kill(pid, SIGCONT);
	}
	ok(i == 200 && worst < 1000, "a writer stopped 200 times at random "
	    "points: every read ended (slowest %llu ms, %u unavailable), "
	    "none wrong", (unsigned long long)worst, unavailable);
	kill(pid, SIGKILL);
	(void)wait_child(pid, 0, 10000);
	shared_clear_slot(sh, 1);
	del(sh, 0, 77);
	is_int(count_of(sh, 77), 0, "clean again");
}

/* The file cannot grow: prepare fails, saying why, and changes nothing. */
static void
test_limits(struct shared *sh)
{
	char	 err[160] = "";
	int	 st;
	pid_t	 pid;

	ok(shared_ip_prepare(sh, 7, UINT32_MAX, err, sizeof(err)) == -1,
	    "a table for 2^32 - 1 sources is refused: %s", err);
	ok(shared_ip_prepare(sh, ECHOD_MAX_SLOTS, 1, err, sizeof(err)) == -1,
	    "so is a slot out of range: %s", err);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct rlimit	 rl = { 1 << 20, 1 << 20 };
		uint64_t	 size = atomic_load(&sh->sh_area->sa_ip_size);
		struct ip_slot	*is = &sh->sh_area->sa_ip[7];
		uint32_t	 cap = atomic_load(&is->is_cap);
		int		 r;

		if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
			_exit(2);
		r = shared_ip_prepare(sh, 7, 1000000, err, sizeof(err));
		printf("# %s\n", err);
		fflush(stdout);
		_exit(r == -1 && strstr(err, "RLIMIT_FSIZE") != NULL &&
		    atomic_load(&sh->sh_area->sa_ip_size) == size &&
		    atomic_load(&is->is_cap) == cap ? 0 : 1);
	}
	st = wait_child(pid, 0, 10000);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "with a file "
	    "size limit of 1 MiB, preparing for 1,000,000 sources fails "
	    "cleanly, changing nothing");
}

/*
 * The stress test: STRESS_WORKERS processes admit and close connections
 * at full speed, reserve then check as echod's workers do, from sources
 * they share and sources of their own, while the master grows the file.
 * A separate page counts what each source really holds.
 */
struct stress {
	_Atomic int		 held[STRESS_SOURCES];
	_Atomic int		 over;		/* admissions past the limit */
	_Atomic int		 worst;		/* most held from one source */
	_Atomic uint64_t	 admitted, refused, unavailable, failed;
	_Atomic int		 parked;
	_Atomic int		 release;
};

static void
stress_worker(struct shared *sh, struct stress *g, uint32_t slot)
{
	uint32_t	 held[STRESS_HELD], nheld = 0, src, n, k;
	uint64_t	 start = timer_now_ms(), now, admitted = 0;
	uint64_t	 end, refused = 0, unavailable = 0, failed = 0;
	unsigned	 seed = slot * 7919 + 1;
	int		 v, w, i;
	uint8_t		 a[16];
	const char	*why;

	/* A busy machine gives us little CPU: a number of steps, too. */
	for (i = 0; (now = timer_now_ms()) < start + STRESS_MAX_MS &&
	    (now < start + STRESS_MS || i < STRESS_OPS); i++) {
		if (nheld < STRESS_HELD && (nheld == 0 || rand_r(&seed) & 1)) {
			src = rand_r(&seed) & 1 ? (uint32_t)rand_r(&seed) %
			    STRESS_HOT : STRESS_HOT + slot * STRESS_OWN +
			    (uint32_t)rand_r(&seed) % STRESS_OWN;
			addr_of(src, a);
			if (shared_ip_add(sh, slot, a, &why) == -1) {
				failed++;
				continue;
			}
			if ((n = shared_ip_count(sh, a)) > STRESS_LIMIT) {
				unavailable += n == SHARED_IP_UNAVAILABLE;
				refused++;
				shared_ip_remove(sh, slot, a);
				continue;
			}
			admitted++;
			v = atomic_fetch_add(&g->held[src], 1) + 1;
			if (v > STRESS_LIMIT)
				atomic_fetch_add(&g->over, 1);
			while (v > (w = atomic_load(&g->worst)) &&
			    !atomic_compare_exchange_weak(&g->worst, &w, v))
				;
			held[nheld++] = src;
		} else {
			k = (uint32_t)rand_r(&seed) % nheld;
			src = held[k];
			held[k] = held[--nheld];
			/* Give up the place only after it is no longer held. */
			atomic_fetch_sub(&g->held[src], 1);
			addr_of(src, a);
			shared_ip_remove(sh, slot, a);
		}
	}
	atomic_fetch_add(&g->admitted, admitted);
	atomic_fetch_add(&g->refused, refused);
	atomic_fetch_add(&g->unavailable, unavailable);
	atomic_fetch_add(&g->failed, failed);
	/* Hold everything while the parent compares the counts. */
	atomic_fetch_add(&g->parked, 1);
	end = timer_now_ms() + 30000;
	while (!atomic_load(&g->release) && timer_now_ms() < end)
		sched_yield();
	while (nheld > 0) {
		src = held[--nheld];
		atomic_fetch_sub(&g->held[src], 1);
		addr_of(src, a);
		shared_ip_remove(sh, slot, a);
	}
	_exit(0);
}

static void
test_stress(struct shared *sh)
{
	struct stress	*g;
	struct timespec	 tick = { 0, 1000000 };
	pid_t		 pids[STRESS_WORKERS];
	uint64_t	 end;
	uint32_t	 i, bad, grown = 0, slot;
	int		 st, clean = 0;

	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED) {
		ok(false, "mmap: %s", strerror(errno));
		return;
	}
	for (i = 0; i < STRESS_WORKERS; i++)
		if (prepare(sh, i, STRESS_HELD) == -1)
			return;
	fflush(stdout);
	for (i = 0; i < STRESS_WORKERS; i++)
		if ((pids[i] = fork()) == 0) {
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			shared_forked(sh);
			stress_worker(sh, g, i);
		}
	/* Meanwhile the master grows the file: readers must follow. */
	end = timer_now_ms() + STRESS_MS / 2;
	for (slot = 8; slot < 16 && timer_now_ms() < end; slot++) {
		grown += prepare(sh, slot, 20000u << (slot - 8)) == 0;
		nanosleep(&tick, NULL);
	}
	end = timer_now_ms() + STRESS_MAX_MS + 10000;
	while (atomic_load(&g->parked) < STRESS_WORKERS && timer_now_ms() < end)
		nanosleep(&tick, NULL);
	is_int(atomic_load(&g->parked), STRESS_WORKERS, "%d workers admitted "
	    "and closed for %d ms and %d steps each at least",
	    STRESS_WORKERS, STRESS_MS, STRESS_OPS);
	diag("%llu admitted, %llu refused (%llu of them: count unavailable), "
	    "%llu not counted; the file grew %u times meanwhile",
	    (unsigned long long)atomic_load(&g->admitted),
	    (unsigned long long)atomic_load(&g->refused),
	    (unsigned long long)atomic_load(&g->unavailable),
	    (unsigned long long)atomic_load(&g->failed), grown);
	ok(atomic_load(&g->admitted) > 10000 && atomic_load(&g->refused) >
	    1000, "more than 10,000 admitted and 1,000 refused");
	is_int(atomic_load(&g->failed), 0, "no table was ever full");
	is_int(atomic_load(&g->over), 0, "the limit of %d per source was "
	    "never exceeded (most held at once: %d)", STRESS_LIMIT,
	    atomic_load(&g->worst));
	for (i = bad = 0; i < STRESS_SOURCES; i++)
		bad += count_of(sh, i) != (uint32_t)atomic_load(&g->held[i]);
	is_int(bad, 0, "the table's counts match what is held, source by "
	    "source");
	atomic_store(&g->release, 1);
	for (i = 0; i < STRESS_WORKERS; i++) {
		st = wait_child(pids[i], 0, 30000);
		if (st == -1) {
			kill(pids[i], SIGKILL);
			(void)wait_child(pids[i], 0, 10000);
		} else
			clean += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	is_int(clean, STRESS_WORKERS, "every worker exited cleanly");
	for (i = bad = 0; i < STRESS_SOURCES; i++)
		bad += count_of(sh, i) != 0;
	is_int(bad, 0, "once they closed everything, every count is 0");
	munmap(g, sizeof(*g));
}

int
main(void)
{
	struct shared	*sh;

	/* A reader that hangs fails the test instead of the build. */
	alarm(300);
	if ((sh = shared_create()) == NULL) {
		printf("Bail out! shared_create: %s\n", strerror(errno));
		return 1;
	}
	ok(sh->sh_ip_len == 0 && atomic_load(&sh->sh_area->sa_ip_size) == 0,
	    "a new area has no tables yet");
	test_basics(sh);
	test_model(sh);
	test_growth(sh);
	test_remap(sh);
	test_stuck_writer(sh);
	test_limits(sh);
	test_fold(sh);
	shared_free(sh);

	/*
	 * Fresh areas for the concurrent tests: no slot but their workers',
	 * so readers do not spend their time faulting in the pages of the
	 * big tables above.
	 */
	if ((sh = shared_create()) == NULL) {
		printf("Bail out! shared_create: %s\n", strerror(errno));
		return 1;
	}
	test_consistency(sh);
	shared_free(sh);
	if ((sh = shared_create()) == NULL) {
		printf("Bail out! shared_create: %s\n", strerror(errno));
		return 1;
	}
	test_stress(sh);
	shared_free(sh);
	return done_testing();
}
