/*
 * libFuzzer harness for the config loader (src/config.c) and the value
 * parsers it uses (src/parse.c).  Build and run it with build.sh and
 * run.sh in this directory; README.md says how.
 *
 * Each input is a config file.  The harness checks the loader's
 * contract and aborts, so that libFuzzer keeps the input, when any part
 * of it is broken:
 *
 *  - config_load_string() returns 0 or -1;
 *  - on -1 there is at least one message, the caller's config is left
 *    untouched, and every message is "fuzz.ini:LINE: what", with LINE
 *    from 1 to the number of lines in the input, in non-decreasing
 *    order.  The one exception is the cross-field check (config_check()
 *    in config.c), "fuzz.ini: [server] max_connections (M) is smaller
 *    than workers (W): ...", which must come alone and must be true.
 *    No message is about a blank or comment line, unless it is too
 *    long;
 *  - on 0 there is no message, every section header names a known
 *    section, and every value is within its documented range
 *    (conf/echod.ini); written back out as an ini file, the config loads
 *    again to the same values.
 *
 * Inputs with a NUL byte: the text up to the first NUL goes through
 * config_load_string() as above, and the whole input is written to a
 * memfd and given to config_load() as /proc/self/fd/N, which must refuse
 * it with exactly one message, "PATH:LINE: line contains a NUL byte",
 * LINE being the line of the first NUL.  Inputs without one go through
 * config_load() too, which must agree with config_load_string().
 *
 * With FUZZ_CONFIG_LENIENT set in the environment, the two checks about
 * blank lines and section headers are off: they hold the loader to
 * reading white space as inih does (see README.md).
 *
 * Every line's value (the text after the first '=', or the whole line)
 * also goes through parse_uint, parse_duration, parse_size, parse_bool
 * and parse_listen, which are compared with simple reference parsers
 * written from their documentation, given exact-size heap buffers (so
 * AddressSanitizer sees any overrun), and round-tripped.
 */
#include "autoconf.h"

#include <sys/mman.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "parse.h"

#define FUZZ_NAME	"fuzz.ini"
#define INI_LINE_MAX	197	/* longest line the loader takes */
#define FILL		0xa5	/* marks bytes that must stay untouched */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool	 lenient;		/* FUZZ_CONFIG_LENIENT set */
static int	 memfd = -1;		/* the file for config_load() */
static char	 tmppath[64];		/* its name: /proc/self/fd/N */

/* The input being checked, for the report on failure. */
static const uint8_t	*cur_data;
static size_t		 cur_size;

static void
fail(const struct config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void
fail(const struct config_errors *errs, const char *fmt, ...)
{
	va_list		 ap;
	unsigned	 i;
	size_t		 j;

	fprintf(stderr, "fuzz-config: contract broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (errs != NULL) {
		fprintf(stderr, "fuzz-config: %u message(s), %u dropped:\n",
		    errs->n, errs->dropped);
		for (i = 0; i < errs->n && i < CONFIG_MAX_ERRORS; i++)
			fprintf(stderr, "  [%u] %.*s\n", i, CONFIG_ERR_LEN,
			    errs->msg[i]);
	}
	fprintf(stderr, "fuzz-config: input (%zu bytes): \"", cur_size);
	for (j = 0; j < cur_size; j++) {
		if (cur_data[j] == '\n')
			fputs("\\n", stderr);
		else if (cur_data[j] == '\\' || cur_data[j] == '"')
			fprintf(stderr, "\\%c", cur_data[j]);
		else if (isprint(cur_data[j]))
			fputc(cur_data[j], stderr);
		else
			fprintf(stderr, "\\x%02x", cur_data[j]);
	}
	fputs("\"\n", stderr);
	abort();
}

/* Lines as the loader counts them: getline() calls, at least one. */
static unsigned
count_lines(const char *text, size_t len)
{
	unsigned	 n = 0;
	size_t		 i;

	for (i = 0; i < len; i++)
		n += text[i] == '\n';
	if (len > 0 && text[len - 1] != '\n')
		n++;
	return n == 0 ? 1 : n;
}

/*
 * Line 'lineno' of 'text' without its leading white space (isspace(), as
 * inih sees it) and, on line 1, a byte order mark.  Sets *end to the
 * line's end; NULL if there is no such line.
 */
static const char *
find_line(const char *text, unsigned lineno, const char **end)
{
	const char	*p = text;
	unsigned	 i;

	for (i = 1; i < lineno; i++) {
		if ((p = strchr(p, '\n')) == NULL)
			return NULL;
		p++;
	}
	*end = p + strcspn(p, "\n");
	if (lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < *end && isspace((unsigned char)*p))
		p++;
	return p;
}

static unsigned
cpus_online(void)
{
	long	 cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus < 1 ? 1 : cpus > ECHOD_MAX_WORKERS ? ECHOD_MAX_WORKERS :
	    (unsigned)cpus;
}

/* The only message without a line: config_check()'s cross-field one. */
static bool
is_cross_field(const char *name, const char *m)
{
	static const char	 head[] = ": [server] max_connections (";
	char			 want[CONFIG_ERR_LEN];
	unsigned		 maxc, workers;
	size_t			 nlen = strlen(name);

	if (strncmp(m + nlen, head, sizeof(head) - 1) != 0 ||
	    sscanf(m + nlen + sizeof(head) - 1,
	    "%u) is smaller than workers (%u)", &maxc, &workers) != 2)
		return false;
	snprintf(want, sizeof(want), "%s: [server] max_connections (%u) is "
	    "smaller than workers (%u): every worker needs at least one "
	    "connection", name, maxc, workers);
	return strcmp(m, want) == 0 && maxc < workers && workers >= 1 &&
	    workers <= ECHOD_MAX_WORKERS;
}

/*
 * Check the messages of a load of 'text' that returned -1.  A blank or
 * comment line is never wrong, unless it is too long.
 */
static void
check_messages(const char *name, const struct config_errors *errs,
    const char *text, unsigned nlines)
{
	const char	*m, *p, *s, *e;
	size_t		 nlen = strlen(name);
	unsigned long	 line, prev = 0;
	unsigned	 i;

	if (errs->n == 0)
		fail(errs, "refused without a message");
	if (errs->n > CONFIG_MAX_ERRORS)
		fail(errs, "errs.n %u > %d", errs->n, CONFIG_MAX_ERRORS);
	if (errs->dropped > 0 && errs->n < CONFIG_MAX_ERRORS)
		fail(errs, "messages dropped with room left");
	for (i = 0; i < errs->n; i++) {
		m = errs->msg[i];
		if (memchr(m, '\0', CONFIG_ERR_LEN) == NULL)
			fail(errs, "message %u not terminated", i);
		if (strncmp(m, name, nlen) != 0 || m[nlen] != ':')
			fail(errs, "message %u does not start with \"%s:\"", i,
			    name);
		p = m + nlen + 1;
		if (*p == ' ') {
			if (!is_cross_field(name, m))
				fail(errs, "message %u has no line number and "
				    "is not the cross-field check", i);
			if (errs->n != 1 || errs->dropped != 0)
				fail(errs, "cross-field message along with "
				    "others");
			continue;
		}
		if (*p < '1' || *p > '9')
			fail(errs, "message %u: no line number", i);
		for (line = 0; isdigit((unsigned char)*p) && line <= nlines;
		    p++)
			line = line * 10 + (unsigned long)(*p - '0');
		if (line > nlines)
			fail(errs, "message %u: line beyond the input's %u "
			    "lines", i, nlines);
		if (p[0] != ':' || p[1] != ' ' || p[2] == '\0')
			fail(errs, "message %u: no \": what\" after the line",
			    i);
		if (line < prev)
			fail(errs, "message %u: line %lu after line %lu", i,
			    line, prev);
		prev = line;
		if (!lenient &&
		    (s = find_line(text, (unsigned)line, &e)) != NULL &&
		    (s == e || *s == ';' || *s == '#') &&
		    strncmp(p + 2, "line too long", 13) != 0)
			fail(errs, "message %u is about a blank or comment "
			    "line", i);
	}
}

static bool
is_level(int level)
{
	return level == LOG_ERR || level == LOG_WARNING ||
	    level == LOG_NOTICE || level == LOG_INFO || level == LOG_DEBUG;
}

#define RANGE(f, lo, hi) do {						\
	if ((uint64_t)c->f < (lo) || (uint64_t)c->f > (hi))		\
		fail(NULL, "accepted " #f " %" PRIu64 " not in %s to %s",	\
		    (uint64_t)c->f, #lo, #hi);				\
} while (0)

/* One section's accepted listen list: valid, no overlaps inside. */
static void
check_list(const char *section, const struct listen_list *l)
{
	const struct sockaddr	*sa;
	size_t			 i, j;

	if (l->ll_n > ECHOD_MAX_LISTEN)
		fail(NULL, "[%s]: accepted %zu listen addresses", section,
		    l->ll_n);
	for (i = 0; i < l->ll_n; i++) {
		sa = (const struct sockaddr *)&l->ll_addr[i].la_addr;
		if (!(sa->sa_family == AF_INET &&
		    l->ll_addr[i].la_len == sizeof(struct sockaddr_in)) &&
		    !(sa->sa_family == AF_INET6 &&
		    l->ll_addr[i].la_len == sizeof(struct sockaddr_in6)))
			fail(NULL, "[%s] listen[%zu]: family %d, length %u",
			    section, i, sa->sa_family,
			    (unsigned)l->ll_addr[i].la_len);
		if ((sa->sa_family == AF_INET ?
		    ((const struct sockaddr_in *)(const void *)sa)->sin_port :
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port)
		    == 0)
			fail(NULL, "[%s] listen[%zu]: port 0", section, i);
		if (memchr(l->ll_addr[i].la_text, '\0',
		    sizeof(l->ll_addr[i].la_text)) == NULL ||
		    l->ll_addr[i].la_text[0] == '\0')
			fail(NULL, "[%s] listen[%zu]: bad text", section, i);
		for (j = 0; j < i; j++)
			if (listen_addr_overlap(&l->ll_addr[i],
			    &l->ll_addr[j]))
				fail(NULL, "[%s] listen[%zu] and [%zu] overlap",
				    section, j, i);
	}
}

static bool
lists_overlap(const struct listen_list *a, const struct listen_list *b)
{
	size_t	 i, j;

	for (i = 0; i < a->ll_n; i++)
		for (j = 0; j < b->ll_n; j++)
			if (listen_addr_overlap(&a->ll_addr[i], &b->ll_addr[j]))
				return true;
	return false;
}

/* Values of an accepted config, against conf/echod.ini. */
static void
check_config(const struct echod_config *c)
{
	const struct listen_list *tcp[] = {
		&c->listen, &c->metrics_listen, &c->proxy_listen,
	};
	size_t			 i, j;

	if (c->listen.ll_n < 1)
		fail(NULL, "accepted no [server] listen address");
	check_list("server", &c->listen);
	check_list("udp", &c->udp_listen);
	check_list("metrics", &c->metrics_listen);
	check_list("proxy", &c->proxy_listen);
	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (lists_overlap(tcp[i], tcp[j]))
				fail(NULL, "accepted overlapping TCP sockets in "
				    "two sections (%zu, %zu)", i, j);
	RANGE(workers, 1, ECHOD_MAX_WORKERS);
	if (c->workers_auto && c->workers != cpus_online())
		fail(NULL, "workers = auto gave %u, not %u", c->workers,
		    cpus_online());
	RANGE(max_connections, 1, 1000000);
	if (c->max_connections < c->workers)
		fail(NULL, "accepted max_connections < workers");
	RANGE(max_connections_per_ip, 0, 1000000);
	RANGE(backlog, 1, 65535);
	RANGE(shutdown_timeout_ms, 0, 3600000);
	RANGE(drain_idle_ms, 0, 3600000);
	RANGE(drain_delay_ms, 0, 3600000);
	RANGE(buffer_size, 1024, 16 * 1024 * 1024);
	RANGE(idle_timeout_ms, 0, 7 * 86400000ULL);
	RANGE(keepalive_idle_s, 1, 32767);
	RANGE(keepalive_interval_s, 1, 32767);
	RANGE(keepalive_count, 1, 127);
	RANGE(udp_min_source_port, 0, 65535);
	RANGE(udp_rate_limit, 0, 1000000);
	RANGE(udp_rate_burst, 1, 30000);
	RANGE(udp_rate_table_size, 8, 16777216);
	if (!is_level(c->log_level))
		fail(NULL, "accepted log level %d", c->log_level);
	if (c->log_target != LOG_TARGET_AUTO &&
	    c->log_target != LOG_TARGET_JOURNAL &&
	    c->log_target != LOG_TARGET_STDERR)
		fail(NULL, "accepted log target %d", (int)c->log_target);
}

static const char *
level_name(int level)
{
	switch (level) {
	case LOG_ERR:
		return "err";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static bool
same_listen(const struct listen_addr *a, size_t na,
    const struct listen_addr *b, size_t nb)
{
	size_t	 i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (a[i].la_len != b[i].la_len ||
		    memcmp(&a[i].la_addr, &b[i].la_addr, a[i].la_len) != 0 ||
		    strcmp(a[i].la_text, b[i].la_text) != 0)
			return false;
	return true;
}

/* Join the addresses' text with commas; false if it does not fit. */
static bool
join_listen(const struct listen_addr *la, size_t n, char *buf, size_t len)
{
	size_t	 i, off = 0;
	int	 w;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(buf + off, len - off, "%s%s", i ? "," : "",
		    la[i].la_text);
		if (w < 0 || (size_t)w >= len - off)
			return false;
		off += (size_t)w;
	}
	return true;
}

/* In an accepted file, every section header names a known section. */
static void
check_sections(const char *text)
{
	static const char *const known[] = {
		"server", "connection", "log", "udp", "metrics", "proxy",
	};
#define NKNOWN	(sizeof(known) / sizeof(known[0]))
	const char	*s, *e, *close;
	size_t		 len, i;
	unsigned	 line = 1;

	for (s = text; *s != '\0'; s = e + (*e == '\n'), line++) {
		e = s + strcspn(s, "\n");
		if (line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3;
		while (s < e && isspace((unsigned char)*s))
			s++;
		if (s == e || *s != '[')
			continue;
		close = memchr(s, ']', (size_t)(e - s));
		len = close == NULL ? 0 : (size_t)(close - s - 1);
		for (i = 0; i < NKNOWN; i++)
			if (strlen(known[i]) == len &&
			    strncmp(s + 1, known[i], len) == 0)
				break;
		if (i == NKNOWN)
			fail(NULL, "accepted, with an unknown or broken "
			    "section header on line %u", line);
	}
}

/*
 * Append "[section]\nlisten = ...\n" for a non-empty list to text, if
 * the line fits the loader's limit; false when it was left out.
 */
static bool
append_list(char *text, size_t size, const char *section,
    const struct listen_list *l)
{
	char	 addrs[1024];
	size_t	 off = strlen(text);

	if (l->ll_n == 0 || !join_listen(l->ll_addr, l->ll_n, addrs,
	    sizeof(addrs)) || strlen(addrs) + 9 > INI_LINE_MAX)
		return false;
	snprintf(text + off, size - off, "[%s]\nlisten = %s\n", section,
	    addrs);
	return true;
}

static bool
same_list(const struct listen_list *a, const struct listen_list *b)
{
	return same_listen(a->ll_addr, a->ll_n, b->ll_addr, b->ll_n);
}

/* Write an accepted config back out; it must load to the same values. */
static void
check_roundtrip(const struct echod_config *c)
{
	struct echod_config	 again;
	struct config_errors	 errs;
	char			 text[8192], addrs[1024], workers[16];
	bool			 with_listen, with_udp, with_metrics, with_proxy;

	/* The listen line must fit the loader's line limit. */
	with_listen = join_listen(c->listen.ll_addr, c->listen.ll_n, addrs,
	    sizeof(addrs)) && strlen(addrs) + 9 <= INI_LINE_MAX;
	if (c->workers_auto)
		snprintf(workers, sizeof(workers), "auto");
	else
		snprintf(workers, sizeof(workers), "%u", c->workers);
	snprintf(text, sizeof(text),
	    "[server]\n"
	    "%s%s%s"
	    "workers = %s\n"
	    "max_connections = %u\n"
	    "backlog = %u\n"
	    "shutdown_timeout = %" PRIu64 "ms\n"
	    "drain_idle = %" PRIu64 "ms\n"
	    "drain_delay = %" PRIu64 "ms\n"
	    "[connection]\n"
	    "max_connections_per_ip = %u\n"
	    "buffer_size = %" PRIu64 "\n"
	    "splice = %s\n"
	    "idle_timeout = %" PRIu64 "ms\n"
	    "keepalive = %s\n"
	    "keepalive_idle = %us\n"
	    "keepalive_interval = %u\n"
	    "keepalive_count = %u\n"
	    "[log]\n"
	    "level = %s\n"
	    "target = %s\n"
	    "connections = %s\n"
	    "[udp]\n"
	    "min_source_port = %u\n"
	    "rate_limit = %u\n"
	    "rate_burst = %u\n"
	    "rate_table_size = %u\n",
	    with_listen ? "listen = " : "", with_listen ? addrs : "",
	    with_listen ? "\n" : "",
	    workers,
	    c->max_connections, c->backlog, c->shutdown_timeout_ms,
	    c->drain_idle_ms, c->drain_delay_ms, c->max_connections_per_ip,
	    c->buffer_size, c->splice ? "yes" : "no", c->idle_timeout_ms,
	    c->keepalive ? "yes" : "no", c->keepalive_idle_s,
	    c->keepalive_interval_s, c->keepalive_count,
	    level_name(c->log_level),
	    c->log_target == LOG_TARGET_AUTO ? "auto" :
	    c->log_target == LOG_TARGET_JOURNAL ? "journal" : "stderr",
	    c->log_connections ? "yes" : "no",
	    c->udp_min_source_port, c->udp_rate_limit, c->udp_rate_burst,
	    c->udp_rate_table_size);
	with_udp = append_list(text, sizeof(text), "udp", &c->udp_listen);
	with_metrics = append_list(text, sizeof(text), "metrics",
	    &c->metrics_listen);
	with_proxy = append_list(text, sizeof(text), "proxy", &c->proxy_listen);
	if (config_load_string(FUZZ_NAME, text, &again, &errs) != 0)
		fail(&errs, "an accepted config, written out, is refused:\n%s",
		    text);
	if ((with_udp && !same_list(&c->udp_listen, &again.udp_listen)) ||
	    (with_metrics && !same_list(&c->metrics_listen,
	    &again.metrics_listen)) ||
	    (with_proxy && !same_list(&c->proxy_listen, &again.proxy_listen)))
		fail(NULL, "an accepted config, written out, loads to other "
		    "listen lists:\n%s", text);
	if ((with_listen && !same_listen(c->listen.ll_addr, c->listen.ll_n, again.listen.ll_addr,
	    again.listen.ll_n)) ||
	    c->workers != again.workers ||
	    c->workers_auto != again.workers_auto ||
	    c->max_connections != again.max_connections ||
	    c->backlog != again.backlog ||
	    c->shutdown_timeout_ms != again.shutdown_timeout_ms ||
	    c->drain_idle_ms != again.drain_idle_ms ||
	    c->drain_delay_ms != again.drain_delay_ms ||
	    c->max_connections_per_ip != again.max_connections_per_ip ||
	    c->buffer_size != again.buffer_size ||
	    c->splice != again.splice ||
	    c->idle_timeout_ms != again.idle_timeout_ms ||
	    c->keepalive != again.keepalive ||
	    c->keepalive_idle_s != again.keepalive_idle_s ||
	    c->keepalive_interval_s != again.keepalive_interval_s ||
	    c->keepalive_count != again.keepalive_count ||
	    c->log_level != again.log_level ||
	    c->log_target != again.log_target ||
	    c->log_connections != again.log_connections ||
	    c->udp_min_source_port != again.udp_min_source_port ||
	    c->udp_rate_limit != again.udp_rate_limit ||
	    c->udp_rate_burst != again.udp_rate_burst ||
	    c->udp_rate_table_size != again.udp_rate_table_size)
		fail(NULL, "an accepted config, written out, loads to other "
		    "values:\n%s", text);
}

static bool
untouched(const void *p, size_t len)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < len; i++)
		if (b[i] != FILL)
			return false;
	return true;
}

/* Load 'text' (len bytes, no NUL) and check the contract. */
static int
check_load(const char *text, size_t len, struct config_errors *errs)
{
	struct echod_config	 cfg;
	int			 rc;

	memset(&cfg, FILL, sizeof(cfg));
	memset(errs, FILL, sizeof(*errs));
	rc = config_load_string(FUZZ_NAME, text, &cfg, errs);
	if (rc == 0) {
		if (errs->n != 0 || errs->dropped != 0)
			fail(errs, "accepted, with messages");
		check_config(&cfg);
		if (!lenient)
			check_sections(text);
		check_roundtrip(&cfg);
	} else if (rc == -1) {
		check_messages(FUZZ_NAME, errs, text, count_lines(text, len));
		if (!untouched(&cfg, sizeof(cfg)))
			fail(errs, "refused, but the config was changed");
	} else
		fail(errs, "config_load_string returned %d", rc);
	return rc;
}

/* Replace the memfd's contents with the input. */
static bool
write_file(const uint8_t *data, size_t size)
{
	size_t	 off = 0;
	ssize_t	 n;

	if (ftruncate(memfd, 0) == -1)
		return false;
	while (off < size) {
		if ((n = pwrite(memfd, data + off, size - off,
		    (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return false;
		}
		off += (size_t)n;
	}
	return true;
}

/*
 * config_load() on the whole input.  With a NUL byte it must refuse
 * with exactly one message naming the NUL's line; without, it must
 * agree with config_load_string() (sret, serrs) except for the name.
 */
static void
check_file(const uint8_t *data, size_t size, int sret,
    const struct config_errors *serrs)
{
	struct echod_config	 cfg;
	struct config_errors	 errs;
	const uint8_t		*nul = memchr(data, '\0', size);
	char			 want[CONFIG_ERR_LEN];
	const char		*fm, *sm;
	unsigned		 line = 1, i;
	int			 rc;

	if (!write_file(data, size)) {
		fprintf(stderr, "fuzz-config: %s: %s\n", tmppath,
		    strerror(errno));
		abort();
	}
	memset(&cfg, FILL, sizeof(cfg));
	rc = config_load(tmppath, &cfg, &errs);
	if (nul != NULL) {
		for (i = 0; data + i < nul; i++)
			line += data[i] == '\n';
		snprintf(want, sizeof(want), "%s:%u: line contains a NUL byte",
		    tmppath, line);
		if (rc != -1 || errs.n != 1 || strcmp(errs.msg[0], want) != 0)
			fail(&errs, "config_load: expected exactly \"%s\"",
			    want);
		if (!untouched(&cfg, sizeof(cfg)))
			fail(&errs, "refused, but the config was changed");
		return;
	}
	if (rc != sret || errs.n != serrs->n ||
	    errs.dropped != serrs->dropped)
		fail(&errs, "config_load gave %d with %u message(s), "
		    "config_load_string %d with %u", rc, errs.n, sret,
		    serrs->n);
	/* Same text after the name; the longer name may cut it shorter. */
	for (i = 0; i < errs.n; i++) {
		fm = errs.msg[i] + strlen(tmppath);
		sm = serrs->msg[i] + strlen(FUZZ_NAME);
		if (strncmp(errs.msg[i], tmppath, strlen(tmppath)) != 0 ||
		    strncmp(fm, sm, strlen(fm)) != 0)
			fail(&errs, "config_load and config_load_string "
			    "differ on message %u: \"%s\"", i, serrs->msg[i]);
	}
}

/*
 * Reference parsers, written from parse.h and conf/echod.ini rather
 * than from parse.c: digits, then an exact unit; durations below.
 */
static bool
ref_digits(const char *s, uint64_t *v, const char **end)
{
	*v = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++)
		if (__builtin_mul_overflow(*v, 10, v) ||
		    __builtin_add_overflow(*v, (uint64_t)(*s - '0'), v))
			return false;
	*end = s;
	return true;
}

static bool
ref_scaled(const char *s, const char *const *units, const uint64_t *mult,
    size_t nunits, bool nocase, uint64_t *v)
{
	const char	*end;
	size_t		 i;

	if (!ref_digits(s, v, &end))
		return false;
	for (i = 0; i < nunits; i++)
		if ((nocase ? strcasecmp(end, units[i]) :
		    strcmp(end, units[i])) == 0)
			return !__builtin_mul_overflow(*v, mult[i], v);
	return false;
}

/*
 * A duration, from parse.h: DIGITS[.DIGITS][UNIT] or .DIGITS[UNIT], the
 * unit one of "" (seconds), ms, s, m, h, coming to whole milliseconds.
 * The fraction times the unit is worked out from its last digit up, the
 * way one multiplies by hand; each step's division by 10 must be exact
 * or the sum is not whole.
 */
static bool
ref_duration(const char *s, uint64_t *v)
{
	static const char *const units[] = { "", "ms", "s", "m", "h" };
	static const uint64_t mult[] = { 1000, 1, 1000, 60000, 3600000 };
	const char	*p = s, *dot = NULL, *digits_end;
	uint64_t	 whole = 0, carry = 0, t;
	size_t		 i;

	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		dot = p++;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == dot + 1)
			return false;
	} else if (p == s)
		return false;
	digits_end = p;
	for (i = 0; i < 5; i++)
		if (strcmp(p, units[i]) == 0)
			break;
	if (i == 5)
		return false;
	for (p = s; p < (dot != NULL ? dot : digits_end); p++)
		if (__builtin_mul_overflow(whole, 10, &whole) ||
		    __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
			return false;
	if (dot != NULL)
		for (p = digits_end - 1; p > dot; p--) {
			t = (uint64_t)(*p - '0') * mult[i] + carry;
			if (t % 10 != 0)
				return false;
			carry = t / 10;
		}
	return !__builtin_mul_overflow(whole, mult[i], v) &&
	    !__builtin_add_overflow(*v, carry, v);
}

/* Heap buffers of exact size, so AddressSanitizer catches overruns. */
static char *
errbuf(size_t len)
{
	char	*e = malloc(len);

	if (e == NULL)
		abort();
	memset(e, FILL, len);
	return e;
}

static void
check_reason(const char *what, const char *v, const char *err,
    size_t errlen)
{
	if (memchr(err, '\0', errlen) == NULL || err[0] == '\0' ||
	    (unsigned char)err[0] == FILL)
		fail(NULL, "%s(\"%s\") refused without a reason", what, v);
}

static void
check_numbers(const char *v)
{
	static const char *const sunits[] = { "", "k", "m" };
	static const uint64_t smult[] = { 1, 1024, 1024 * 1024 };
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	const char	*end;
	char		*err, again[32];
	uint64_t	 got = 0, want = 0, back;
	bool		 ok, b, wantb = false;
	size_t		 i, errlen = PARSE_ERR_LEN;
	int		 rc;

	err = errbuf(errlen);

	ok = ref_digits(v, &want, &end) && *end == '\0';
	rc = parse_uint(v, &got, err, errlen);
	if (rc != (ok ? 0 : -1) || (ok && got != want))
		fail(NULL, "parse_uint(\"%s\"): %d, reference %s", v, rc,
		    ok ? "accepts" : "refuses");
	if (rc == -1)
		check_reason("parse_uint", v, err, errlen);

	ok = ref_duration(v, &want);
	rc = parse_duration(v, &got, err, errlen);
	if (rc != (ok ? 0 : -1) || (ok && got != want))
		fail(NULL, "parse_duration(\"%s\"): %d (%" PRIu64 "), "
		    "reference %s (%" PRIu64 ")", v, rc, got,
		    ok ? "accepts" : "refuses", want);
	if (rc == -1)
		check_reason("parse_duration", v, err, errlen);
	else {
		/* As the daemon would print it, then parsed again. */
		snprintf(again, sizeof(again), "%" PRIu64 "ms", got);
		if (parse_duration(again, &back, err, errlen) != 0 ||
		    back != got)
			fail(NULL, "duration %s does not parse back", again);
		/* And as seconds with a fraction, as a user would write it. */
		snprintf(again, sizeof(again), "%" PRIu64 ".%03" PRIu64 "s",
		    got / 1000, got % 1000);
		if (parse_duration(again, &back, err, errlen) != 0 ||
		    back != got)
			fail(NULL, "duration %s does not parse back", again);
	}

	ok = ref_scaled(v, sunits, smult, 3, true, &want);
	rc = parse_size(v, &got, err, errlen);
	if (rc != (ok ? 0 : -1) || (ok && got != want))
		fail(NULL, "parse_size(\"%s\"): %d, reference %s", v, rc,
		    ok ? "accepts" : "refuses");
	if (rc == -1)
		check_reason("parse_size", v, err, errlen);
	else {
		snprintf(again, sizeof(again), "%" PRIu64, got);
		if (parse_size(again, &back, err, errlen) != 0 || back != got)
			fail(NULL, "size %s does not parse back", again);
	}

	ok = false;
	for (i = 0; i < 4; i++)
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			ok = true;
			wantb = strcasecmp(v, yes[i]) == 0;
		}
	rc = parse_bool(v, &b, err, errlen);
	if (rc != (ok ? 0 : -1) || (ok && b != wantb))
		fail(NULL, "parse_bool(\"%s\"): %d, reference %s", v, rc,
		    ok ? "accepts" : "refuses");
	if (rc == -1)
		check_reason("parse_bool", v, err, errlen);

	/* A short error buffer must be cut, not overrun. */
	free(err);
	errlen = 1 + strlen(v) % 16;
	err = errbuf(errlen);
	(void)parse_uint(v, &got, err, errlen);
	(void)parse_duration(v, &got, err, errlen);
	(void)parse_size(v, &got, err, errlen);
	(void)parse_bool(v, &b, err, errlen);
	free(err);
}

static void
check_listen(const char *v)
{
	struct listen_addr	*out, *out2;
	char			*err, joined[ECHOD_MAX_LISTEN * 80];
	size_t			 max, n, n2, i, errlen = PARSE_ERR_LEN;
	uint16_t		 port;

	/* A table of exactly 'max' entries; vary max with the input. */
	max = 1 + strlen(v) % ECHOD_MAX_LISTEN;
	if ((out = calloc(max, sizeof(*out))) == NULL ||
	    (out2 = calloc(max, sizeof(*out2))) == NULL)
		abort();
	err = errbuf(errlen);
	if (parse_listen(v, out, max, &n, err, errlen) == -1) {
		check_reason("parse_listen", v, err, errlen);
		goto done;
	}
	if (n < 1 || n > max)
		fail(NULL, "parse_listen(\"%s\"): %zu of at most %zu", v, n,
		    max);
	for (i = 0; i < n; i++) {
		if (out[i].la_addr.ss_family == AF_INET &&
		    out[i].la_len == sizeof(struct sockaddr_in))
			port = ((struct sockaddr_in *)&out[i].la_addr)->sin_port;
		else if (out[i].la_addr.ss_family == AF_INET6 &&
		    out[i].la_len == sizeof(struct sockaddr_in6))
			port = ((struct sockaddr_in6 *)
			    &out[i].la_addr)->sin6_port;
		else
			fail(NULL, "parse_listen(\"%s\"): entry %zu: family "
			    "%d, length %u", v, i, out[i].la_addr.ss_family,
			    (unsigned)out[i].la_len);
		if (port == 0)
			fail(NULL, "parse_listen(\"%s\"): entry %zu: port 0",
			    v, i);
	}
	/* The addresses' text must parse back to the same addresses. */
	if (!join_listen(out, n, joined, sizeof(joined)))
		fail(NULL, "parse_listen(\"%s\"): text too long", v);
	if (parse_listen(joined, out2, max, &n2, err, errlen) == -1)
		fail(NULL, "parse_listen(\"%s\") gave \"%s\", which is "
		    "refused: %s", v, joined, err);
	if (!same_listen(out, n, out2, n2))
		fail(NULL, "parse_listen(\"%s\") gave \"%s\", which parses "
		    "to other addresses", v, joined);
done:
	free(err);
	/* A short error buffer must be cut, not overrun. */
	errlen = 1 + strlen(v) % 16;
	err = errbuf(errlen);
	(void)parse_listen(v, out, max, &n, err, errlen);
	free(err);
	free(out);
	free(out2);
}

/*
 * Each line's value through the value parsers.  The first 64 lines are
 * plenty: more only slows the fuzzer down.
 */
static void
check_values(const char *text)
{
	const char	*line, *nl, *s, *e;
	char		*v;
	int		 n = 0;

	for (line = text; *line != '\0' && n < 64;
	    line = nl + (*nl == '\n'), n++) {
		nl = line + strcspn(line, "\n");
		s = memchr(line, '=', (size_t)(nl - line));
		s = s == NULL ? line : s + 1;
		e = nl;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r'))
			e--;
		if ((v = strndup(s, (size_t)(e - s))) == NULL)
			abort();
		check_numbers(v);
		check_listen(v);
		free(v);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/*
	 * config_load() reads the input from a memfd by its /proc path: no
	 * file on disk to clean up, and no file system cost per input.
	 */
	if ((memfd = memfd_create("fuzz-config", MFD_CLOEXEC)) == -1) {
		fprintf(stderr, "fuzz-config: memfd_create: %s\n",
		    strerror(errno));
		exit(1);
	}
	snprintf(tmppath, sizeof(tmppath), "/proc/self/fd/%d", memfd);
	lenient = getenv("FUZZ_CONFIG_LENIENT") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors	 errs;
	char			*text;
	size_t			 len;
	int			 rc;

	cur_data = data;
	cur_size = size;
	/* The text up to the first NUL, if any. */
	len = strnlen((const char *)data, size);
	if ((text = malloc(len + 1)) == NULL)
		abort();
	memcpy(text, data, len);
	text[len] = '\0';

	rc = check_load(text, len, &errs);
	check_file(data, size, rc, &errs);
	check_values(text);
	free(text);
	return 0;
}
