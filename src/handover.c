/*
 * The hand-over's text: written by the master that execs a new program,
 * read by that program (and, in a rollback, by the old one again).
 *
 * Text rather than a dump of structs: the two sides are different
 * builds, whose structs may differ while the meaning does not, and a
 * person can read it (cat /proc/PID/fd/N) when something goes wrong.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handover.h"

#define MAX_FIELDS	16
#define MAX_TOKEN	(2 * sizeof(struct echod_config) + 64)

static const char *const state_names[] = {
	[HANDOVER_FREE] = "free",
	[HANDOVER_RUNNING] = "running",
	[HANDOVER_WAITING] = "waiting",
	[HANDOVER_RETIRING] = "retiring",
};

size_t
handover_fds(const struct handover *h, int *fds)
{
	size_t	 i, n = 0;

	for (i = 0; i < h->h_listeners.n; i++)
		fds[n++] = h->h_listeners.ls[i].l_fd;
	fds[n++] = h->h_shared_fd;
	fds[n++] = h->h_sources_fd;
	if (h->h_rate_fd != -1)
		fds[n++] = h->h_rate_fd;
	fds[n++] = h->h_lifeline[0];
	fds[n++] = h->h_lifeline[1];
	fds[n++] = h->h_ready[0];
	fds[n++] = h->h_ready[1];
	return n;
}

/* --- writing ------------------------------------------------------ */

static void
put_str(FILE *f, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	if (*p == '\0') {
		fputc('-', f);
		return;
	}
	/* A lone "-" would read back as the empty string. */
	if (p[0] == '-' && p[1] == '\0') {
		fputs("%2D", f);
		return;
	}
	for (; *p != '\0'; p++)
		if (*p < '!' || *p > '~' || *p == '%')
			fprintf(f, "%%%02X", *p);
		else
			fputc(*p, f);
}

static void
put_hex(FILE *f, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 i;

	if (len == 0) {
		fputc('-', f);
		return;
	}
	for (i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

static void
put_listener(FILE *f, const struct listener *l)
{
	fprintf(f, "listener %d %s ", l->l_fd, listen_kind_name(l->l_kind));
	put_str(f, l->l_name);
	fprintf(f, " %u ", (unsigned)l->l_addr.la_len);
	put_hex(f, &l->l_addr.la_addr, l->l_addr.la_len);
	fputc(' ', f);
	put_str(f, l->l_addr.la_item);
	fputc(' ', f);
	put_str(f, l->l_addr.la_text);
	fputc('\n', f);
}

char *
handover_format(const struct handover *h, size_t *len)
{
	const struct stats_master	*st = &h->h_stats;
	const struct handover_slot	*s;
	char				*buf = NULL;
	size_t				 i;
	FILE				*f;

	if ((f = open_memstream(&buf, len)) == NULL)
		return NULL;
	fprintf(f, "echod-handover %u\nversion ", h->h_format);
	put_str(f, h->h_version);
	fputs("\nexe ", f);
	put_str(f, h->h_exe);
	fputs("\nconfig ", f);
	put_str(f, h->h_config);
	fprintf(f, "\nstarted %.6f\ngeneration %u\nserved %d\nlog %s %d\n"
	    "passed %d\n", h->h_started, h->h_gen, h->h_served,
	    h->h_log_journal ? "journal" : "stderr", h->h_log_level,
	    h->h_listeners.passed);
	for (i = 0; i < h->h_listeners.n; i++)
		put_listener(f, &h->h_listeners.ls[i]);
	for (i = 0; i < ECHOD_MAX_SLOTS; i++) {
		s = &h->h_slots[i];
		if (s->hs_state == HANDOVER_FREE)
			continue;
		fprintf(f, "slot %zu %s %ld %u %u %llu %llu %u %d\n", i,
		    state_names[s->hs_state], (long)s->hs_pid, s->hs_gen,
		    s->hs_index, (unsigned long long)s->hs_started,
		    (unsigned long long)s->hs_respawn_at, s->hs_quick_deaths,
		    s->hs_ready);
	}
	fprintf(f, "stats %llu %llu %llu %llu %llu %llu %d %llu %llu\n",
	    (unsigned long long)st->sm_exits[STATS_EXIT_CLEAN],
	    (unsigned long long)st->sm_exits[STATS_EXIT_ERROR],
	    (unsigned long long)st->sm_exits[STATS_EXIT_SIGNAL],
	    (unsigned long long)st->sm_restarts,
	    (unsigned long long)st->sm_reloads_ok,
	    (unsigned long long)st->sm_reloads_failed,
	    st->sm_last_reload_failed,
	    (unsigned long long)st->sm_upgrades_ok,
	    (unsigned long long)st->sm_upgrades_failed);
	fprintf(f, "shared %d %d %u %llu\n", h->h_shared_fd, h->h_sources_fd,
	    h->h_shared_layout, (unsigned long long)h->h_shared_bytes);
	if (h->h_rate_fd != -1)
		fprintf(f, "rate %d %llu %u %u %u %u\n", h->h_rate_fd,
		    (unsigned long long)h->h_rate_bytes, h->h_rate_entries,
		    h->h_rate_rate, h->h_rate_burst, h->h_rate_layout);
	fprintf(f, "pipes %d %d %d %d\n", h->h_lifeline[0], h->h_lifeline[1],
	    h->h_ready[0], h->h_ready[1]);
	if (h->h_has_resume) {
		fprintf(f, "resume %zu ", sizeof(h->h_resume));
		put_hex(f, &h->h_resume, sizeof(h->h_resume));
		fputc('\n', f);
	}
	fputs("end\n", f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
handover_write(const struct handover *h, char *err, size_t errlen)
{
	char	*text;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd;

	if ((text = handover_format(h, &len)) == NULL) {
		snprintf(err, errlen, "cannot write the hand-over: out of "
		    "memory");
		return -1;
	}
	fd = memfd_create("echod-handover", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	/* The reader may trust that nobody changes it underneath. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		goto fail;
	free(text);
	return fd;
fail:
	snprintf(err, errlen, "cannot write the hand-over: %s",
	    strerror(errno));
	if (fd != -1)
		close(fd);
	free(text);
	return -1;
}

/* --- reading ------------------------------------------------------ */

struct reader {
	char		*err;
	size_t		 errlen;
	unsigned	 line;
};

static int __attribute__((format(printf, 2, 3)))
bad(struct reader *r, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	n = snprintf(r->err, r->errlen, "hand-over line %u: ", r->line);
	if (n < 0 || (size_t)n >= r->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
get_u64(struct reader *r, const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long	 v;
	char			*end;

	if (*s < '0' || *s > '9')
		return bad(r, "\"%.40s\" is not a number", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return bad(r, "\"%.40s\" is not a number up to %llu", s,
		    (unsigned long long)max);
	*out = v;
	return 0;
}

static int
get_uint(struct reader *r, const char *s, unsigned *out)
{
	uint64_t	 v;

	if (get_u64(r, s, UINT32_MAX, &v) == -1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
get_fd(struct reader *r, const char *s, int *out)
{
	uint64_t	 v;

	if (get_u64(r, s, INT32_MAX, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

static int
get_bool(struct reader *r, const char *s, bool *out)
{
	if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
		return bad(r, "\"%.40s\" is not 0 or 1", s);
	*out = s[0] == '1';
	return 0;
}

static int
unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
get_str(struct reader *r, const char *s, char *out, size_t len)
{
	size_t	 n = 0;
	int	 hi, lo;

	if (strcmp(s, "-") == 0) {
		out[0] = '\0';
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((hi = unhex(s[1])) == -1 ||
			    (lo = unhex(s[2])) == -1)
				return bad(r, "a bad escape in \"%.40s\"", s);
			if (hi == 0 && lo == 0)
				return bad(r, "a NUL byte in a string");
			if (n + 1 >= len)
				return bad(r, "a string longer than %zu bytes",
				    len - 1);
			out[n++] = (char)(hi << 4 | lo);
			s += 2;
			continue;
		}
		if (n + 1 >= len)
			return bad(r, "a string longer than %zu bytes",
			    len - 1);
		out[n++] = *s;
	}
	out[n] = '\0';
	return 0;
}

static int
get_hex(struct reader *r, const char *s, void *out, size_t len)
{
	unsigned char	*p = out;
	size_t		 i;
	int		 hi, lo;

	if (len == 0)
		return strcmp(s, "-") == 0 ? 0 : bad(r, "data where none "
		    "belongs");
	if (strlen(s) != 2 * len)
		return bad(r, "%zu hex digits where %zu belong", strlen(s),
		    2 * len);
	for (i = 0; i < len; i++) {
		if ((hi = unhex(s[2 * i])) == -1 ||
		    (lo = unhex(s[2 * i + 1])) == -1)
			return bad(r, "not hex digits");
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int
get_kind(struct reader *r, const char *s, enum listen_kind *out)
{
	int	 k;

	for (k = 0; k < LISTEN_KINDS; k++)
		if (strcmp(s, listen_kind_name((enum listen_kind)k)) == 0) {
			*out = (enum listen_kind)k;
			return 0;
		}
	return bad(r, "unknown kind of listener \"%.40s\"", s);
}

static int
get_listener(struct reader *r, char **f, struct handover *h)
{
	struct listener	*l;
	unsigned	 len;

	if (h->h_listeners.n >= LISTEN_MAX)
		return bad(r, "more than %d listeners", LISTEN_MAX);
	l = &h->h_listeners.ls[h->h_listeners.n];
	memset(l, 0, sizeof(*l));
	if (get_fd(r, f[1], &l->l_fd) == -1 ||
	    get_kind(r, f[2], &l->l_kind) == -1 ||
	    get_str(r, f[3], l->l_name, sizeof(l->l_name)) == -1 ||
	    get_uint(r, f[4], &len) == -1)
		return -1;
	if (len > sizeof(l->l_addr.la_addr))
		return bad(r, "an address of %u bytes", len);
	l->l_addr.la_len = (socklen_t)len;
	if (get_hex(r, f[5], &l->l_addr.la_addr, len) == -1 ||
	    get_str(r, f[6], l->l_addr.la_item, sizeof(l->l_addr.la_item))
	    == -1 ||
	    get_str(r, f[7], l->l_addr.la_text, sizeof(l->l_addr.la_text))
	    == -1)
		return -1;
	h->h_listeners.n++;
	return 0;
}

static int
get_slot(struct reader *r, char **f, struct handover *h)
{
	struct handover_slot	*s;
	uint64_t		 v;
	unsigned		 slot;
	int			 st;

	if (get_u64(r, f[1], ECHOD_MAX_SLOTS - 1, &v) == -1)
		return -1;
	slot = (unsigned)v;
	s = &h->h_slots[slot];
	if (s->hs_state != HANDOVER_FREE)
		return bad(r, "slot %u twice", slot);
	for (st = HANDOVER_RUNNING; st <= HANDOVER_RETIRING; st++)
		if (strcmp(f[2], state_names[st]) == 0)
			break;
	if (st > HANDOVER_RETIRING)
		return bad(r, "unknown state of a slot \"%.40s\"", f[2]);
	if (get_u64(r, f[3], INT32_MAX, &v) == -1)
		return -1;
	if (v < 2)
		return bad(r, "slot %u: pid %llu", slot,
		    (unsigned long long)v);
	s->hs_pid = (pid_t)v;
	if (get_uint(r, f[4], &s->hs_gen) == -1 ||
	    get_uint(r, f[5], &s->hs_index) == -1 ||
	    get_u64(r, f[6], UINT64_MAX, &s->hs_started) == -1 ||
	    get_u64(r, f[7], UINT64_MAX, &s->hs_respawn_at) == -1 ||
	    get_uint(r, f[8], &s->hs_quick_deaths) == -1 ||
	    get_bool(r, f[9], &s->hs_ready) == -1)
		return -1;
	if (s->hs_index >= ECHOD_MAX_WORKERS)
		return bad(r, "slot %u: worker index %u", slot, s->hs_index);
	s->hs_state = (enum handover_state)st;
	return 0;
}

static int
get_stats(struct reader *r, char **f, struct stats_master *st)
{
	uint64_t	*c[] = {
		&st->sm_exits[STATS_EXIT_CLEAN],
		&st->sm_exits[STATS_EXIT_ERROR],
		&st->sm_exits[STATS_EXIT_SIGNAL], &st->sm_restarts,
		&st->sm_reloads_ok, &st->sm_reloads_failed, NULL,
		&st->sm_upgrades_ok, &st->sm_upgrades_failed,
	};
	size_t		 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i] == NULL) {
			if (get_bool(r, f[i + 1], &st->sm_last_reload_failed)
			    == -1)
				return -1;
		} else if (get_u64(r, f[i + 1], UINT64_MAX, c[i]) == -1)
			return -1;
	return 0;
}

static int
get_started(struct reader *r, const char *s, double *out)
{
	char	*end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !(*out >= 0))
		return bad(r, "\"%.40s\" is not a time", s);
	return 0;
}

/* The entries, with how many fields (the key included) each has. */
enum entry {
	E_VERSION, E_EXE, E_CONFIG, E_STARTED, E_GENERATION, E_SERVED,
	E_LOG, E_PASSED, E_LISTENER, E_SLOT, E_STATS, E_SHARED, E_RATE, E_PIPES,
	E_RESUME, E_END, E_N
};

static const struct {
	const char	*name;
	unsigned	 fields;
	bool		 required;
	bool		 repeats;
} entries[E_N] = {
	[E_VERSION] = { "version", 2, true, false },
	[E_EXE] = { "exe", 2, true, false },
	[E_CONFIG] = { "config", 2, true, false },
	[E_STARTED] = { "started", 2, true, false },
	[E_GENERATION] = { "generation", 2, true, false },
	[E_SERVED] = { "served", 2, true, false },
	[E_LOG] = { "log", 3, true, false },
	[E_PASSED] = { "passed", 2, true, false },
	[E_LISTENER] = { "listener", 8, false, true },
	[E_SLOT] = { "slot", 10, false, true },
	[E_STATS] = { "stats", 10, true, false },
	[E_SHARED] = { "shared", 5, true, false },
	[E_RATE] = { "rate", 7, false, false },
	[E_PIPES] = { "pipes", 5, true, false },
	[E_RESUME] = { "resume", 3, false, false },
	[E_END] = { "end", 1, true, false },
};

static int
get_entry(struct reader *r, enum entry e, char **f, struct handover *h)
{
	uint64_t	 v;

	switch (e) {
	case E_VERSION:
		return get_str(r, f[1], h->h_version, sizeof(h->h_version));
	case E_EXE:
		return get_str(r, f[1], h->h_exe, sizeof(h->h_exe));
	case E_CONFIG:
		return get_str(r, f[1], h->h_config, sizeof(h->h_config));
	case E_STARTED:
		return get_started(r, f[1], &h->h_started);
	case E_GENERATION:
		return get_uint(r, f[1], &h->h_gen);
	case E_SERVED:
		return get_bool(r, f[1], &h->h_served);
	case E_LOG:
		if (strcmp(f[1], "journal") != 0 && strcmp(f[1], "stderr") != 0)
			return bad(r, "unknown log target \"%.40s\"", f[1]);
		h->h_log_journal = f[1][0] == 'j';
		if (get_u64(r, f[2], LOG_DEBUG, &v) == -1)
			return -1;
		h->h_log_level = (int)v;
		return 0;
	case E_PASSED:
		return get_bool(r, f[1], &h->h_listeners.passed);
	case E_LISTENER:
		return get_listener(r, f, h);
	case E_SLOT:
		return get_slot(r, f, h);
	case E_STATS:
		return get_stats(r, f, &h->h_stats);
	case E_SHARED:
		if (get_fd(r, f[1], &h->h_shared_fd) == -1 ||
		    get_fd(r, f[2], &h->h_sources_fd) == -1 ||
		    get_u64(r, f[3], UINT32_MAX, &v) == -1 ||
		    get_u64(r, f[4], UINT64_MAX, &h->h_shared_bytes) == -1)
			return -1;
		h->h_shared_layout = (uint32_t)v;
		return 0;
	case E_RATE:
		if (get_fd(r, f[1], &h->h_rate_fd) == -1 ||
		    get_u64(r, f[2], UINT64_MAX, &h->h_rate_bytes) == -1 ||
		    get_uint(r, f[3], &h->h_rate_entries) == -1 ||
		    get_uint(r, f[4], &h->h_rate_rate) == -1 ||
		    get_uint(r, f[5], &h->h_rate_burst) == -1 ||
		    get_u64(r, f[6], UINT32_MAX, &v) == -1)
			return -1;
		h->h_rate_layout = (uint32_t)v;
		return 0;
	case E_PIPES:
		return get_fd(r, f[1], &h->h_lifeline[0]) == -1 ||
		    get_fd(r, f[2], &h->h_lifeline[1]) == -1 ||
		    get_fd(r, f[3], &h->h_ready[0]) == -1 ||
		    get_fd(r, f[4], &h->h_ready[1]) == -1 ? -1 : 0;
	case E_RESUME:
		if (get_u64(r, f[1], SIZE_MAX, &v) == -1)
			return -1;
		/* Written by another build: not ours to read. */
		if (v != sizeof(h->h_resume))
			return 0;
		if (get_hex(r, f[2], &h->h_resume, sizeof(h->h_resume)) == -1)
			return -1;
		h->h_has_resume = true;
		return 0;
	case E_END:
	case E_N:
		break;
	}
	return 0;
}

/* Split line (NUL-terminated, changed in place) at single spaces. */
static int
split(struct reader *r, char *line, char **f, unsigned *n)
{
	char	*p = line;

	*n = 0;
	for (;;) {
		if (*n == MAX_FIELDS)
			return bad(r, "too many fields");
		f[(*n)++] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
		if (f[*n - 1][0] == '\0')
			return bad(r, "an empty field");
		if (p == NULL)
			break;
	}
	return 0;
}

/* The first line: "echod-handover N", N a format we read. */
static int
get_header(struct reader *r, char **f, unsigned n, unsigned newest,
    struct handover *h)
{
	if (n != 2 || strcmp(f[0], "echod-handover") != 0)
		return bad(r, "not an echod hand-over");
	if (get_uint(r, f[1], &h->h_format) == -1)
		return -1;
	if (h->h_format < HANDOVER_FORMAT_OLDEST || h->h_format > newest) {
		snprintf(r->err, r->errlen, "hand-over format %u: this echod "
		    "reads formats %u to %u only%s", h->h_format,
		    HANDOVER_FORMAT_OLDEST, newest, h->h_format > newest ?
		    " (the running echod is newer than this one)" : "");
		return -1;
	}
	return 0;
}

int
handover_parse(const char *text, size_t len, unsigned newest,
    struct handover *h, char *err, size_t errlen)
{
	struct reader	 r = { .err = err, .errlen = errlen };
	bool		 seen[E_N] = { false };
	char		*line = NULL, *f[MAX_FIELDS];
	const char	*p = text, *end = text + len, *nl;
	unsigned	 n, e;
	int		 rc = -1;

	memset(h, 0, sizeof(*h));
	h->h_rate_fd = -1;
	if ((line = malloc(MAX_TOKEN + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (p < end) {
		r.line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			bad(&r, "no newline at the end (cut short?)");
			goto out;
		}
		if ((size_t)(nl - p) > MAX_TOKEN) {
			bad(&r, "a line of %zu bytes", (size_t)(nl - p));
			goto out;
		}
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (strlen(line) != (size_t)(nl - p)) {
			bad(&r, "a NUL byte");
			goto out;
		}
		p = nl + 1;
		if (split(&r, line, f, &n) == -1)
			goto out;
		if (r.line == 1) {
			if (get_header(&r, f, n, newest, h) == -1)
				goto out;
			continue;
		}
		if (seen[E_END]) {
			bad(&r, "text after \"end\"");
			goto out;
		}
		for (e = 0; e < E_N; e++)
			if (strcmp(f[0], entries[e].name) == 0)
				break;
		if (e == E_N) {
			bad(&r, "unknown entry \"%.40s\"", f[0]);
			goto out;
		}
		if (seen[e] && !entries[e].repeats) {
			bad(&r, "\"%s\" twice", entries[e].name);
			goto out;
		}
		if (n != entries[e].fields) {
			bad(&r, "\"%s\" with %u fields, not %u",
			    entries[e].name, n - 1, entries[e].fields - 1);
			goto out;
		}
		seen[e] = true;
		if (get_entry(&r, (enum entry)e, f, h) == -1)
			goto out;
	}
	if (r.line == 0) {
		snprintf(err, errlen, "the hand-over is empty");
		goto out;
	}
	for (e = 0; e < E_N; e++)
		if (entries[e].required && !seen[e]) {
			snprintf(err, errlen, "the hand-over has no \"%s\"%s",
			    entries[e].name, e == E_END ? " (cut short?)" :
			    "");
			goto out;
		}
	rc = 0;
out:
	free(line);
	return rc;
}

int
handover_read(int fd, unsigned newest, struct handover *h, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*text;
	size_t		 off = 0;
	ssize_t		 n;
	int		 rc;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "hand-over descriptor %d: %s", fd,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > HANDOVER_MAX_BYTES) {
		snprintf(err, errlen, "hand-over descriptor %d is not a "
		    "hand-over (%lld bytes)", fd, (long long)st.st_size);
		return -1;
	}
	if ((text = malloc((size_t)st.st_size)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (off < (size_t)st.st_size) {
		n = pread(fd, text + off, (size_t)st.st_size - off,
		    (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot read the hand-over: %s",
			    n == 0 ? "cut short" : strerror(errno));
			free(text);
			return -1;
		}
		off += (size_t)n;
	}
	rc = handover_parse(text, off, newest, h, err, errlen);
	free(text);
	return rc;
}
