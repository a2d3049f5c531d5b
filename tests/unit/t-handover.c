/*
 * Unit tests: the hand-over's text (handover.h).  What one program
 * writes, another reads back exactly; formats it does not know, and
 * text cut short or damaged, are refused with a reason, never misread.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "handover.h"
#include "master.h"
#include "shared.h"
#include "tap.h"

static struct handover	 sample, back;

static void
make_sample(struct handover *h)
{
	struct sockaddr_in6	*sin6;
	struct listener		*l;

	memset(h, 0, sizeof(*h));
	h->h_format = HANDOVER_FORMAT;
	snprintf(h->h_version, sizeof(h->h_version), "0.1.0+next");
	/* Bytes that need escaping, and a '-' alone would read as "". */
	snprintf(h->h_exe, sizeof(h->h_exe), "/opt/e chod/100%%/-/echod");
	snprintf(h->h_config, sizeof(h->h_config), "-");
	h->h_started = 1700000000.25;
	h->h_gen = 7;
	h->h_served = true;
	h->h_log_journal = true;
	h->h_log_level = LOG_NOTICE;
	h->h_listeners.passed = false;
	l = &h->h_listeners.ls[h->h_listeners.n++];
	l->l_fd = 3;
	l->l_kind = LISTEN_ECHO;
	snprintf(l->l_name, sizeof(l->l_name), "[::1]:7007");
	sin6 = (struct sockaddr_in6 *)&l->l_addr.la_addr;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(7007);
	sin6->sin6_addr = in6addr_loopback;
	l->l_addr.la_len = sizeof(*sin6);
	snprintf(l->l_addr.la_text, sizeof(l->l_addr.la_text), "[::1]:7007");
	snprintf(l->l_addr.la_item, sizeof(l->l_addr.la_item), "[::1]:7007");
	l = &h->h_listeners.ls[h->h_listeners.n++];
	l->l_fd = 12;
	l->l_kind = LISTEN_METRICS;
	snprintf(l->l_name, sizeof(l->l_name), "127.0.0.1:9007");
	h->h_slots[0] = (struct handover_slot){ HANDOVER_RETIRING, 1234, 6, 0,
	    100, 0, 0, true };
	h->h_slots[5] = (struct handover_slot){ HANDOVER_RUNNING, 1240, 7, 1,
	    UINT64_MAX, 0, 2, false };
	h->h_slots[ECHOD_MAX_SLOTS - 1] = (struct handover_slot){
	    HANDOVER_WAITING, 99999, 7, ECHOD_MAX_WORKERS - 1, 5, 60000, 5,
	    false };
	h->h_stats.sm_exits[STATS_EXIT_CLEAN] = 10;
	h->h_stats.sm_exits[STATS_EXIT_ERROR] = 1;
	h->h_stats.sm_exits[STATS_EXIT_SIGNAL] = 2;
	h->h_stats.sm_restarts = 3;
	h->h_stats.sm_reloads_ok = UINT64_MAX;
	h->h_stats.sm_reloads_failed = 4;
	h->h_stats.sm_last_reload_failed = true;
	h->h_stats.sm_upgrades_ok = 5;
	h->h_stats.sm_upgrades_failed = 6;
	h->h_shared_fd = 5;
	h->h_sources_fd = 6;
	h->h_shared_layout = 1;
	h->h_shared_bytes = 123456;
	h->h_rate_fd = 8;
	h->h_rate_bytes = 8192;
	h->h_rate_entries = 100;
	h->h_rate_rate = 20;
	h->h_rate_burst = 5;
	h->h_rate_layout = 1;
	h->h_lifeline[0] = 9;
	h->h_lifeline[1] = 10;
	h->h_ready[0] = 11;
	h->h_ready[1] = 13;
	h->h_has_resume = true;
	config_defaults(&h->h_resume);
	h->h_resume.workers = 42;
}

static char *
text_of(const struct handover *h, size_t *len)
{
	char	*t = handover_format(h, len);

	if (t == NULL)
		abort();
	return t;
}

/* Parse text with one line replaced (NULL: dropped), or appended. */
static int
parse_edited(const char *text, const char *key, const char *with,
    char *err, size_t errlen)
{
	char		 buf[200000];
	const char	*p, *nl;
	size_t		 o = 0, kl = strlen(key);
	bool		 done = false;

	for (p = text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!done && strncmp(p, key, kl) == 0 &&
		    (p[kl] == ' ' || p[kl] == '\n')) {
			done = true;
			if (with != NULL)
				o += (size_t)snprintf(buf + o, sizeof(buf) - o,
				    "%s\n", with);
			continue;
		}
		memcpy(buf + o, p, (size_t)(nl + 1 - p));
		o += (size_t)(nl + 1 - p);
	}
	return handover_parse(buf, o, HANDOVER_FORMAT, &back, err, errlen);
}

static void
test_round_trip(void)
{
	char	*t1, *t2, err[256] = "";
	size_t	 l1, l2;

	make_sample(&sample);
	t1 = text_of(&sample, &l1);
	ok(handover_parse(t1, l1, HANDOVER_FORMAT, &back, err, sizeof(err))
	    == 0, "a hand-over reads back (%s)", err);
	t2 = text_of(&back, &l2);
	ok(l1 == l2 && memcmp(t1, t2, l1) == 0, "and writes out the same");
	is_str(back.h_exe, sample.h_exe, "a path with blanks, %% and '-'");
	is_str(back.h_config, "-", "a string that is a lone '-'");
	is_str(back.h_version, "0.1.0+next", "the writer's version");
	is_int(back.h_listeners.n, 2, "both listeners");
	ok(back.h_listeners.ls[0].l_addr.la_len == sizeof(struct sockaddr_in6)
	    && memcmp(&back.h_listeners.ls[0].l_addr.la_addr,
	    &sample.h_listeners.ls[0].l_addr.la_addr,
	    sizeof(struct sockaddr_in6)) == 0,
	    "a bound address, byte for byte");
	is_int(back.h_listeners.ls[1].l_addr.la_len, 0,
	    "a passed socket has no address");
	is_int(back.h_listeners.ls[1].l_kind, LISTEN_METRICS, "kinds");
	ok(back.h_slots[5].hs_started == UINT64_MAX &&
	    back.h_slots[ECHOD_MAX_SLOTS - 1].hs_state == HANDOVER_WAITING &&
	    back.h_slots[ECHOD_MAX_SLOTS - 1].hs_respawn_at == 60000 &&
	    back.h_slots[1].hs_state == HANDOVER_FREE,
	    "slots: states, times, the last one; free ones stay free");
	ok(back.h_log_journal && back.h_log_level == LOG_NOTICE,
	    "where and what the writer logs");
	ok(back.h_stats.sm_reloads_ok == UINT64_MAX &&
	    back.h_stats.sm_upgrades_failed == 6 &&
	    back.h_stats.sm_last_reload_failed, "the master's counters");
	ok(back.h_has_resume && back.h_resume.workers == 42 &&
	    memcmp(&back.h_resume, &sample.h_resume,
	    sizeof(back.h_resume)) == 0, "the resume configuration");
	is_int(back.h_rate_fd, 8, "the rate table");
	free(t2);

	sample.h_rate_fd = -1;
	sample.h_has_resume = false;
	free(t1);
	t1 = text_of(&sample, &l1);
	ok(handover_parse(t1, l1, HANDOVER_FORMAT, &back, err, sizeof(err))
	    == 0 && back.h_rate_fd == -1 && !back.h_has_resume,
	    "without a rate table or a resume configuration");
	free(t1);
}

static void
test_formats(void)
{
	char	*t, err[256];
	size_t	 len;

	make_sample(&sample);
	sample.h_format = HANDOVER_FORMAT + 1;
	t = text_of(&sample, &len);
	ok(handover_parse(t, len, HANDOVER_FORMAT, &back, err, sizeof(err))
	    == -1, "a newer format is refused");
	like(err, "(the running echod is newer than this one)", "saying so");
	like(err, "reads formats 1 to 1", "and which it reads");
	ok(handover_parse(t, len, HANDOVER_FORMAT + 1, &back, err,
	    sizeof(err)) == 0, "a reader of that format takes it");
	free(t);
	sample.h_format = HANDOVER_FORMAT;
	t = text_of(&sample, &len);
	ok(handover_parse(t, len, 99, &back, err, sizeof(err)) == 0,
	    "a newer reader takes the older format");
	free(t);
	sample.h_format = 0;
	t = text_of(&sample, &len);
	ok(handover_parse(t, len, HANDOVER_FORMAT, &back, err, sizeof(err))
	    == -1, "format 0 is refused: %s", err);
	free(t);
	ok(handover_parse("GET / HTTP/1.0\n", 15, HANDOVER_FORMAT, &back, err,
	    sizeof(err)) == -1, "something else is refused: %s", err);
	ok(handover_parse("", 0, HANDOVER_FORMAT, &back, err, sizeof(err))
	    == -1, "nothing is refused: %s", err);
}

static void
test_damage(void)
{
	static const struct {
		const char	*key, *with, *why;
	} cases[] = {
		{ "end", NULL, "(cut short?)" },
		{ "shared", NULL, "no \"shared\"" },
		{ "stats", NULL, "no \"stats\"" },
		{ "version", "version a b", "with 2 fields, not 1" },
		{ "generation", "generation 7\ngeneration 8", "twice" },
		{ "generation", "generation -1", "not a number" },
		{ "generation", "generation 99999999999",
		    "not a number up to" },
		{ "generation", "generation 7\nfrobnicate 1", "unknown entry "
		    "\"frobnicate\"" },
		{ "served", "served 2", "is not 0 or 1" },
		{ "log", "log syslog 7", "unknown log target" },
		{ "log", "log stderr 8", "not a number up to 7" },
		{ "slot", "slot 768 running 5 1 1 1 1 1 1", "not a number up "
		    "to 767" },
		{ "slot", "slot 0 sleeping 5 1 1 1 1 1 1", "unknown state" },
		{ "slot", "slot 0 running 1 1 1 1 1 1 1", "pid 1" },
		{ "slot", "slot 0 running 5 1 1 1 1 1 1\n"
		    "slot 0 running 6 1 1 1 1 1 1", "slot 0 twice" },
		{ "listener", "listener 3 telnet x 0 - - -", "unknown kind" },
		{ "listener", "listener 3 echo x 4 abc - -", "hex digits" },
		{ "listener", "listener 3 echo x 999 - - -", "an address of" },
		{ "listener", "listener 3 echo %4 0 - - -", "a bad escape" },
		{ "listener", "listener 3 echo %00 0 - - -", "a NUL byte" },
		{ "started", "started soon", "is not a time" },
		{ "pipes", "pipes 1  2 3", "an empty field" },
		{ "end", "end\npipes 1 2 3 4", "text after \"end\"" },
	};
	char	*t, err[256];
	size_t	 len, i, n, fails = 0, read = 0, refused = 0;
	int	 rc;

	make_sample(&sample);
	t = text_of(&sample, &len);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rc = parse_edited(t, cases[i].key, cases[i].with, err,
		    sizeof(err));
		ok(rc == -1 && strstr(err, cases[i].why) != NULL,
		    "refused: %s", err[0] ? err : cases[i].why);
		if (rc != -1 || strstr(err, cases[i].why) == NULL)
			diag("want \"%s\"", cases[i].why);
	}
	/* A resume written by another build is skipped, not refused. */
	ok(parse_edited(t, "resume", "resume 4 00ff00ff", err, sizeof(err))
	    == 0 && !back.h_has_resume, "a resume of another size is "
	    "skipped");
	/* Every proper prefix is refused (the last line is "end\n"). */
	for (n = 0; n < len; n++)
		if (handover_parse(t, n, HANDOVER_FORMAT, &back, err,
		    sizeof(err)) == 0)
			fails++;
	is_int(fails, 0, "each of the %zu prefixes is refused", len);
	/* Bytes flipped anywhere: refused or read, never a crash (ASan). */
	srandom(1);
	for (n = 0; n < 3000; n++) {
		char	*c = strdup(t);

		c[random() % (long)len] ^= (char)(1 << (random() % 8));
		if (handover_parse(c, len, HANDOVER_FORMAT, &back, err,
		    sizeof(err)) == 0)
			read++;
		else
			refused++;
		free(c);
	}
	is_int(read + refused, 3000, "3000 copies with a bit flipped: %zu "
	    "refused, %zu read (a flip in a number or a string), none "
	    "harmful", refused, read);
	free(t);
}

static void
test_memfd(void)
{
	char	 err[256] = "";
	int	 fd, flags;

	make_sample(&sample);
	fd = handover_write(&sample, err, sizeof(err));
	ok(fd != -1, "written to a memfd (%s)", err);
	if (fd == -1)
		return;
	flags = fcntl(fd, F_GETFD);
	ok(flags != -1 && (flags & FD_CLOEXEC), "close-on-exec");
	ok(write(fd, "x", 1) == -1 && errno == EPERM, "sealed against writes");
	ok(ftruncate(fd, 10) == -1, "and against a change of size");
	ok(handover_read(fd, HANDOVER_FORMAT, &back, err, sizeof(err)) == 0 &&
	    back.h_gen == 7 && back.h_listeners.n == 2, "read back (%s)",
	    err);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	ok(handover_read(fd, HANDOVER_FORMAT, &back, err, sizeof(err)) == -1,
	    "/dev/null is no hand-over: %s", err);
	close(fd);
	ok(handover_read(fd, HANDOVER_FORMAT, &back, err, sizeof(err)) == -1,
	    "a closed descriptor is none: %s", err);
}

/* What master_can_adopt() refuses, and what it takes. */
static void
test_adopt(void)
{
	struct echod_config	 cfg;
	char			 err[512] = "";
	size_t			 i;
	int			 s, d, null;

	config_defaults(&cfg);
	cfg.workers = 100;
	memset(&sample, 0, sizeof(sample));
	snprintf(sample.h_version, sizeof(sample.h_version), "9.9");
	sample.h_shared_layout = SHARED_LAYOUT;
	sample.h_shared_bytes = sizeof(struct shared_area);
	s = socket(AF_INET, SOCK_STREAM, 0);
	d = socket(AF_INET, SOCK_DGRAM, 0);
	null = open("/dev/null", O_RDONLY);
	sample.h_listeners.ls[0] = (struct listener){ .l_fd = s,
	    .l_kind = LISTEN_ECHO, .l_name = "127.0.0.1:7" };
	sample.h_listeners.ls[1] = (struct listener){ .l_fd = d,
	    .l_kind = LISTEN_UDP, .l_name = "127.0.0.1:7" };
	sample.h_listeners.n = 2;
	for (i = 0; i < 668; i++)
		sample.h_slots[i].hs_state = i % 2 ? HANDOVER_RUNNING :
		    HANDOVER_RETIRING;
	sample.h_slots[700].hs_state = HANDOVER_WAITING;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == 0,
	    "668 workers staying and 100 new ones fit (%s)", err);
	sample.h_slots[668].hs_state = HANDOVER_RUNNING;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == -1,
	    "669 and 100 do not");
	like(err, "669 workers of echod 9.9 stay until their connections end, "
	    "which leaves no room for 100 new ones (at most 768 in all)",
	    "saying so");
	sample.h_slots[668].hs_state = HANDOVER_FREE;
	sample.h_shared_bytes++;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == -1,
	    "shared memory of another size is refused");
	like(err, "lays its shared memory out differently", "saying so");
	sample.h_shared_bytes--;
	sample.h_shared_layout++;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == -1,
	    "and of another layout");
	sample.h_shared_layout--;
	sample.h_listeners.ls[1].l_kind = LISTEN_ECHO;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == -1,
	    "a UDP socket handed over as a stream one is refused");
	like(err, "the echo socket 127.0.0.1:7 (descriptor", "naming it");
	sample.h_listeners.ls[1].l_kind = LISTEN_UDP;
	sample.h_listeners.ls[1].l_fd = null;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == -1,
	    "a descriptor that is no socket is refused: %s", err);
	close(null);
	sample.h_listeners.ls[1].l_fd = null;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == -1,
	    "and a closed one: %s", err);
	sample.h_listeners.ls[1] = (struct listener){ .l_fd = s,
	    .l_kind = LISTEN_PROXY, .l_name = "127.0.0.1:8" };
	sample.h_listeners.passed = true;
	ok(master_can_adopt(&sample, &cfg, err, sizeof(err)) == -1,
	    "a passed proxy socket without [proxy] trusted is refused: %s",
	    err);
	close(s);
	close(d);
}

int
main(void)
{
	test_round_trip();
	test_formats();
	test_damage();
	test_memfd();
	test_adopt();
	return done_testing();
}
