/*
 * The configuration file, parsed with inih.
 *
 * Debian's libinih calls the handler without a line number, treats an
 * indented line as the continuation of the previous key and silently
 * splits lines longer than 200 bytes.  So inih reads through our own
 * line reader, which counts lines, strips indentation, refuses long
 * lines and NUL bytes, checks section headers and notices lines inih
 * rejected without calling the handler.  Nothing is committed to the
 * caller's config unless the whole file is valid.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "ratelimit.h"

#define INIH_MAX_LINE	200	/* inih's fixed line buffer */

enum value_type {
	T_LISTEN, T_CIDRS, T_WORKERS, T_UINT, T_DURATION, T_SECONDS, T_SIZE, T_BOOL,
	T_LEVEL, T_TARGET,
};

struct key_def {
	const char	*section;
	const char	*name;
	enum value_type	 type;
	size_t		 offset;
	uint64_t	 min, max;	/* units of the stored value */
	const char	*allowed;	/* for messages */
};

#define OFF(f)	offsetof(struct echod_config, f)
#define LISTEN_ALLOWED	"a comma-separated list of IPv4:PORT, [IPv6]:PORT or *:PORT"

static const struct key_def keys[] = {
	{ "server", "listen", T_LISTEN, OFF(listen), 0, 0, LISTEN_ALLOWED },
	{ "server", "workers", T_WORKERS, OFF(workers), 1, ECHOD_MAX_WORKERS,
	    "auto or 1 to 256" },
	{ "server", "max_connections", T_UINT, OFF(max_connections),
	    1, 1000000, "1 to 1000000" },
	{ "server", "backlog", T_UINT, OFF(backlog), 1, 65535, "1 to 65535" },
	{ "server", "shutdown_timeout", T_DURATION, OFF(shutdown_timeout_ms),
	    0, 3600000, "0 to 1h" },
	{ "server", "drain_idle", T_DURATION, OFF(drain_idle_ms),
	    0, 3600000, "0 (end none early) to 1h" },
	{ "server", "drain_delay", T_DURATION, OFF(drain_delay_ms),
	    0, 3600000, "0 (stop at once) to 1h" },
	{ "connection", "max_connections_per_ip", T_UINT,
	    OFF(max_connections_per_ip), 0, 1000000, "0 (off) to 1000000" },
	{ "connection", "buffer_size", T_SIZE, OFF(buffer_size),
	    1024, 16 * 1024 * 1024, "1k to 16m" },
	{ "connection", "splice", T_BOOL, OFF(splice), 0, 0, "yes or no" },
	{ "connection", "idle_timeout", T_DURATION, OFF(idle_timeout_ms),
	    0, 7 * 86400000ULL, "0 (never) or up to 168h" },
	{ "connection", "keepalive", T_BOOL, OFF(keepalive), 0, 0,
	    "yes or no" },
	{ "connection", "keepalive_idle", T_SECONDS, OFF(keepalive_idle_s),
	    1, 32767, "1s to 32767s, whole seconds" },
	{ "connection", "keepalive_interval", T_SECONDS,
	    OFF(keepalive_interval_s), 1, 32767,
	    "1s to 32767s, whole seconds" },
	{ "connection", "keepalive_count", T_UINT, OFF(keepalive_count),
	    1, 127, "1 to 127" },
	{ "log", "level", T_LEVEL, OFF(log_level), 0, 0,
	    "err, warning, notice, info or debug" },
	{ "log", "target", T_TARGET, OFF(log_target), 0, 0,
	    "auto, journal or stderr" },
	{ "log", "connections", T_BOOL, OFF(log_connections), 0, 0,
	    "yes or no" },
	{ "udp", "listen", T_LISTEN, OFF(udp_listen), 0, 0, LISTEN_ALLOWED },
	{ "udp", "min_source_port", T_UINT, OFF(udp_min_source_port),
	    0, 65535, "0 to 65535" },
	{ "udp", "rate_limit", T_UINT, OFF(udp_rate_limit), 0, 1000000,
	    "0 (off) to 1000000" },
	{ "udp", "rate_burst", T_UINT, OFF(udp_rate_burst),
	    1, RATELIMIT_MAX_BURST, "1 to 30000" },
	{ "udp", "rate_table_size", T_UINT, OFF(udp_rate_table_size),
	    8, RATELIMIT_MAX_ENTRIES, "8 to 16777216" },
	{ "metrics", "listen", T_LISTEN, OFF(metrics_listen), 0, 0,
	    LISTEN_ALLOWED },
	{ "proxy", "listen", T_LISTEN, OFF(proxy_listen), 0, 0,
	    LISTEN_ALLOWED },
	{ "proxy", "trusted", T_CIDRS, OFF(proxy_trusted), 0, 0,
	    "a comma-separated list of networks (10.0.0.0/8, 2001:db8::/32) "
	    "or addresses" },
	{ "proxy", "timeout", T_DURATION, OFF(proxy_timeout_ms), 100, 60000,
	    "100ms to 60s" },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = {
	"server", "connection", "log", "udp", "metrics", "proxy",
};
#define SECTION_NAMES	"[server], [connection], [log], [udp], [metrics] and [proxy]"

enum line_kind { LINE_BLANK, LINE_SECTION, LINE_PAIR };

struct parse_ctx {
	struct echod_config	*cfg;
	struct config_errors	*errs;
	const char		*name;		/* file name for messages */
	FILE			*in;
	char			*line;		/* getline buffer */
	size_t			 linecap;
	int			 lineno;
	enum line_kind		 kind;
	bool			 handled;	/* handler saw this line */
	int			 set_on[NKEYS];	/* line of first setting */
	bool			 bad_section;	/* inside an unknown one */
};

static void
add_error(struct config_errors *errs, const char *name, int lineno,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
add_error(struct config_errors *errs, const char *name, int lineno,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*m;
	int	 n;

	if (errs->n == CONFIG_MAX_ERRORS) {
		errs->dropped++;
		return;
	}
	m = errs->msg[errs->n++];
	if (lineno > 0)
		n = snprintf(m, CONFIG_ERR_LEN, "%s:%d: ", name, lineno);
	else
		n = snprintf(m, CONFIG_ERR_LEN, "%s: ", name);
	if (n < 0 || n >= CONFIG_ERR_LEN)
		return;
	va_start(ap, fmt);
	vsnprintf(m + n, CONFIG_ERR_LEN - (size_t)n, fmt, ap);
	va_end(ap);
}

void
config_defaults(struct echod_config *cfg)
{
	size_t	 n;
	char	 err[PARSE_ERR_LEN];
	long	 cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	(void)parse_listen("127.0.0.1:7007, [::1]:7007", cfg->listen.ll_addr,
	    ECHOD_MAX_LISTEN, &n, err, sizeof(err));
	cfg->listen.ll_n = n;
	cfg->workers_auto = true;
	cfg->workers = cpus < 1 ? 1 :
	    cpus > ECHOD_MAX_WORKERS ? ECHOD_MAX_WORKERS : (unsigned)cpus;
	cfg->max_connections = 10000;
	cfg->backlog = 511;
	cfg->shutdown_timeout_ms = 10000;
	cfg->drain_idle_ms = 1000;
	cfg->drain_delay_ms = 0;
	cfg->proxy_timeout_ms = 3000;
	cfg->buffer_size = 64 * 1024;
	cfg->splice = true;
	cfg->idle_timeout_ms = 5 * 60000;
	cfg->keepalive = true;
	cfg->keepalive_idle_s = 60;
	cfg->keepalive_interval_s = 10;
	cfg->keepalive_count = 6;
	cfg->log_level = LOG_INFO;
	cfg->log_target = LOG_TARGET_AUTO;
	cfg->log_connections = false;
	cfg->udp_min_source_port = 1024;
	cfg->udp_rate_limit = 100;
	cfg->udp_rate_burst = 200;
	cfg->udp_rate_table_size = 65536;
}

static int
parse_value(const struct key_def *k, const char *value, void *field,
    struct echod_config *cfg, char *err, size_t errlen)
{
	uint64_t	 v;
	bool		 b;
	int		 level;
	size_t		 n;

	switch (k->type) {
	case T_LISTEN:
		if (parse_listen(value, ((struct listen_list *)field)->ll_addr,
		    ECHOD_MAX_LISTEN, &n, err, errlen) == -1)
			return -1;
		((struct listen_list *)field)->ll_n = n;
		return 0;
	case T_CIDRS:
		return parse_cidr_list(value, cfg->proxy_trusted,
		    ECHOD_MAX_TRUSTED, &cfg->proxy_ntrusted, err, errlen);
	case T_WORKERS:
		if (strcmp(value, "auto") == 0) {
			cfg->workers_auto = true;
			return 0;
		}
		if (parse_uint(value, &v, err, errlen) == -1)
			return -1;
		if (v < k->min || v > k->max)
			goto range;
		cfg->workers_auto = false;
		*(unsigned *)field = (unsigned)v;
		return 0;
	case T_UINT:
		if (parse_uint(value, &v, err, errlen) == -1)
			return -1;
		if (v < k->min || v > k->max)
			goto range;
		*(unsigned *)field = (unsigned)v;
		return 0;
	case T_DURATION:
		if (parse_duration(value, &v, err, errlen) == -1)
			return -1;
		if (v < k->min || v > k->max)
			goto range;
		*(uint64_t *)field = v;
		return 0;
	case T_SECONDS:
		if (parse_duration(value, &v, err, errlen) == -1)
			return -1;
		if (v % 1000 != 0) {
			snprintf(err, errlen, "not a whole number of seconds");
			return -1;
		}
		v /= 1000;
		if (v < k->min || v > k->max)
			goto range;
		*(unsigned *)field = (unsigned)v;
		return 0;
	case T_SIZE:
		if (parse_size(value, &v, err, errlen) == -1)
			return -1;
		if (v < k->min || v > k->max)
			goto range;
		*(uint64_t *)field = v;
		return 0;
	case T_BOOL:
		if (parse_bool(value, &b, err, errlen) == -1)
			return -1;
		*(bool *)field = b;
		return 0;
	case T_LEVEL:
		if ((level = log_level_from_name(value)) == -1) {
			snprintf(err, errlen, "unknown level");
			return -1;
		}
		*(int *)field = level;
		return 0;
	case T_TARGET:
		if (strcmp(value, "auto") == 0)
			*(enum log_target *)field = LOG_TARGET_AUTO;
		else if (strcmp(value, "journal") == 0)
			*(enum log_target *)field = LOG_TARGET_JOURNAL;
		else if (strcmp(value, "stderr") == 0)
			*(enum log_target *)field = LOG_TARGET_STDERR;
		else {
			snprintf(err, errlen, "unknown target");
			return -1;
		}
		return 0;
	}
	/* NOTREACHED */
	return -1;
range:
	snprintf(err, errlen, "out of range");
	return -1;
}

/* inih handler: called for each key = value line. */
static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct parse_ctx	*ctx = user;
	const struct key_def	*k = NULL;
	char			 err[PARSE_ERR_LEN];
	size_t			 i;

	ctx->handled = true;
	if (ctx->bad_section)
		return 1;	/* reported once, at its header */
	if (section[0] == '\0') {
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "'%.64s' is outside any section; put it under [server], "
		    "[connection] or [log]", name);
		return 1;
	}
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0) {
			k = &keys[i];
			break;
		}
	if (k == NULL) {
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "unknown key '%.64s' in [%s]", name, section);
		return 1;
	}
	if (ctx->set_on[i] != 0) {
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "[%s] %s: duplicate key, already set on line %d",
		    k->section, k->name, ctx->set_on[i]);
		return 1;
	}
	ctx->set_on[i] = ctx->lineno;
	if (value[0] == '\0') {
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "[%s] %s: empty value; expected %s", k->section, k->name,
		    k->allowed);
		return 1;
	}
	if (parse_value(k, value, (char *)ctx->cfg + k->offset, ctx->cfg,
	    err, sizeof(err)) == -1) {
		char	 shown[65];

		/* Never echo control bytes to the operator's terminal. */
		for (i = 0; value[i] != '\0' && i < sizeof(shown) - 1; i++)
			shown[i] = isprint((unsigned char)value[i]) ?
			    value[i] : '?';
		shown[i] = '\0';
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "[%s] %s = \"%s\": %s; expected %s", k->section,
		    k->name, shown, err, k->allowed);
	}
	return 1;
}

/* Check a "[name]" header; inih tracks the section itself. */
static void
check_section(struct parse_ctx *ctx, const char *line)
{
	const char	*close = strchr(line, ']'), *rest;
	size_t		 len, i;

	ctx->bad_section = true;
	if (close == NULL) {
		/* inih reports this too; we say what is wrong. */
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "section header without ']'");
		ctx->handled = true;
		return;
	}
	len = (size_t)(close - line - 1);
	rest = close + 1 + strspn(close + 1, " \t\r\n\v\f");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "unexpected text after the section header");
		return;
	}
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strlen(sections[i]) == len &&
		    strncmp(sections[i], line + 1, len) == 0) {
			ctx->bad_section = false;
			return;
		}
	add_error(ctx->errs, ctx->name, ctx->lineno,
	    "unknown section [%.*s]; sections are " SECTION_NAMES, (int)(len > 64 ? 64 : len), line + 1);
}

/*
 * inih's line source.  Before handing out the next line, check that
 * inih accepted the previous one.
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct parse_ctx	*ctx = stream;
	ssize_t			 len;
	char			*p;

	if (ctx->kind == LINE_PAIR && !ctx->handled)
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "syntax error: expected 'key = value', '[section]' or a "
		    "comment");
	ctx->kind = LINE_BLANK;
	ctx->handled = false;

	if ((len = getline(&ctx->line, &ctx->linecap, ctx->in)) == -1)
		return NULL;
	ctx->lineno++;
	p = ctx->line;
	if (ctx->lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;		/* UTF-8 byte order mark */
		len -= 3;
	}
	/*
	 * Skip what inih's lskip() skips (isspace(): \r, \v and \f too),
	 * or inih would see a section header or comment that we do not.
	 */
	for (; *p != '\n' && isspace((unsigned char)*p); p++)
		len--;
	/* num - 3 leaves room for "\r\n\0", as inih expects. */
	if (len > num - 3) {
		add_error(ctx->errs, ctx->name, ctx->lineno,
		    "line too long (%zd bytes, at most %d)", len, num - 3);
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	memcpy(str, p, (size_t)len + 1);

	if (str[0] == '[') {
		ctx->kind = LINE_SECTION;
		check_section(ctx, str);
	} else if (str[0] != '\0' && strchr(";#\r\n", str[0]) == NULL)
		ctx->kind = LINE_PAIR;
	return str;
}

/* The line where [section] listen was set, or 0. */
static int
listen_line(struct parse_ctx *ctx, const char *section)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].type == T_LISTEN &&
		    strcmp(keys[i].section, section) == 0)
			return ctx->set_on[i];
	return 0;
}

struct tcp_section {
	const char		*ts_name;
	const struct listen_list *ts_list;
};

/* Report an overlap between two sections' lists; true if one was. */
static bool
config_check_pair(struct parse_ctx *ctx, const struct tcp_section *s1,
    const struct tcp_section *s2)
{
	const struct listen_addr *a, *b;
	size_t			 x, y;
	int			 l1, l2;

	for (x = 0; x < s1->ts_list->ll_n; x++)
		for (y = 0; y < s2->ts_list->ll_n; y++) {
			a = &s1->ts_list->ll_addr[x];
			b = &s2->ts_list->ll_addr[y];
			if (!listen_addr_overlap(a, b))
				continue;
			l1 = listen_line(ctx, s1->ts_name);
			l2 = listen_line(ctx, s2->ts_name);
			add_error(ctx->errs, ctx->name, l1 > l2 ? l1 : l2,
			    "[%s] listen '%s' and [%s] listen '%s' overlap "
			    "(%s and %s); a TCP socket serves one purpose",
			    s1->ts_name, a->la_item, s2->ts_name, b->la_item,
			    a->la_text, b->la_text);
			return true;
		}
	return false;
}

/*
 * Stream sockets of different sections must not overlap: one of them
 * could never be bound.  (parse_listen() checks within a section.)
 * Reports the first overlap, at the later of the two lines.
 */
static void
config_check_overlap(struct parse_ctx *ctx)
{
	const struct tcp_section tcp[] = {
		{ "server", &ctx->cfg->listen },
		{ "metrics", &ctx->cfg->metrics_listen },
		{ "proxy", &ctx->cfg->proxy_listen },
	};
	size_t	 i, j;

	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (config_check_pair(ctx, &tcp[i], &tcp[j]))
				return;
}

/* Checks that involve more than one key. */
static void
config_check(struct parse_ctx *ctx)
{
	struct echod_config	*cfg = ctx->cfg;

	config_check_overlap(ctx);
	/* A PROXY header says who the client is: only believe the balancer. */
	if (cfg->proxy_listen.ll_n > 0 && cfg->proxy_ntrusted == 0)
		add_error(ctx->errs, ctx->name, listen_line(ctx, "proxy"),
		    "[proxy] listen is set but [proxy] trusted is not: say "
		    "which addresses may send PROXY headers (the load "
		    "balancers)");
	if (cfg->workers_auto) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->workers = cpus < 1 ? 1 : cpus > ECHOD_MAX_WORKERS ?
		    ECHOD_MAX_WORKERS : (unsigned)cpus;
	}
	if (cfg->max_connections < cfg->workers)
		add_error(ctx->errs, ctx->name, 0,
		    "[server] max_connections (%u) is smaller than workers "
		    "(%u): every worker needs at least one connection",
		    cfg->max_connections, cfg->workers);
}

static int
config_parse(const char *name, FILE *in, struct echod_config *cfg,
    struct config_errors *errs)
{
	struct parse_ctx	 ctx = {
		.cfg = cfg, .errs = errs, .name = name, .in = in,
	};
	int			 rc;
	unsigned		 before = errs->n + errs->dropped;

	rc = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
	free(ctx.line);
	if (rc == -2)
		add_error(errs, name, 0, "out of memory");
	else if (rc > 0 && errs->n + errs->dropped == before)
		add_error(errs, name, rc, "syntax error");
	if (errs->n + errs->dropped == before)
		config_check(&ctx);
	return errs->n + errs->dropped == before ? 0 : -1;
}

int
config_load_string(const char *name, const char *text,
    struct echod_config *out, struct config_errors *errs)
{
	struct echod_config	 tmp;
	FILE			*in;
	int			 rc;

	memset(errs, 0, sizeof(*errs));
	config_defaults(&tmp);
	/* fmemopen() refuses a zero-length buffer. */
	if ((in = fmemopen((void *)(text[0] ? text : "\n"),
	    text[0] ? strlen(text) : 1, "r")) == NULL) {
		add_error(errs, name, 0, "%s", strerror(errno));
		return -1;
	}
	rc = config_parse(name, in, &tmp, errs);
	fclose(in);
	if (rc == 0)
		*out = tmp;
	return rc;
}

/* Read a whole config file, refusing what cannot be a config file. */
static char *
config_slurp(const char *path, struct config_errors *errs)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not hang us before we can refuse it. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK))
	    == -1) {
		add_error(errs, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		add_error(errs, path, 0, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		add_error(errs, path, 0, "is a directory, not a config file");
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		add_error(errs, path, 0, "is not a regular file");
		goto fail;
	}
	if ((buf = malloc(CONFIG_MAX_FILE + 1)) == NULL) {
		add_error(errs, path, 0, "out of memory");
		goto fail;
	}
	/* Read one byte more than allowed to tell "too large" apart. */
	while (len <= CONFIG_MAX_FILE) {
		n = read(fd, buf + len, CONFIG_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			add_error(errs, path, 0, "cannot read: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_MAX_FILE) {
		add_error(errs, path, 0, "too large (more than %d bytes)",
		    CONFIG_MAX_FILE);
		goto fail;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		/* Find the line for a useful message. */
		const char *nul = memchr(buf, '\0', len), *p;
		int line = 1;

		for (p = buf; p < nul; p++)
			line += *p == '\n';
		add_error(errs, path, line, "line contains a NUL byte");
		goto fail;
	}
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int
config_load(const char *path, struct echod_config *out,
    struct config_errors *errs)
{
	char	*text;
	int	 rc;

	memset(errs, 0, sizeof(*errs));
	if ((text = config_slurp(path, errs)) == NULL)
		return -1;
	rc = config_load_string(path, text, out, errs);
	free(text);
	return rc;
}
