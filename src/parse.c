/*
 * Parsers for configuration values: durations, sizes, integers,
 * booleans and listen addresses.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

/*
 * Parse leading decimal digits.  strtoull alone would accept a sign,
 * leading blanks and hex, none of which a user means in a config file.
 */
static int
parse_digits(const char *s, uint64_t *out, const char **end, char *err,
    size_t errlen)
{
	uint64_t	 v = 0;
	const char	*p = s;

	if (!isdigit((unsigned char)*p)) {
		snprintf(err, errlen, "not a number");
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			snprintf(err, errlen, "number too large");
			return -1;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	*end = p;
	return 0;
}

static int
scale(uint64_t v, uint64_t mult, uint64_t *out, char *err, size_t errlen)
{
	if (mult != 0 && v > UINT64_MAX / mult) {
		snprintf(err, errlen, "number too large");
		return -1;
	}
	*out = v * mult;
	return 0;
}

int
parse_uint(const char *s, uint64_t *out, char *err, size_t errlen)
{
	const char	*end;

	if (parse_digits(s, out, &end, err, errlen) == -1)
		return -1;
	if (*end != '\0') {
		snprintf(err, errlen, "not a whole number");
		return -1;
	}
	return 0;
}

/*
 * The fraction digits frac..end (".25" without the point) times mult,
 * which must come to whole milliseconds.
 */
static int
duration_fraction(const char *frac, const char *end, uint64_t mult,
    uint64_t *ms, char *err, size_t errlen)
{
	uint64_t	 f = 0, div = 1;

	while (end > frac && end[-1] == '0')
		end--;
	/*
	 * With n digits left, the number they form times mult must be a
	 * multiple of 10^n.  It does not end in 0, so mult alone must hold
	 * n factors of 2 or n of 5, and no unit has more than 7
	 * (3600000 = 2^7 * 3^2 * 5^5).  So f and div stay small.
	 */
	if (end - frac > 7)
		goto partial;
	for (; frac < end; frac++) {
		f = f * 10 + (uint64_t)(*frac - '0');
		div *= 10;
	}
	if (f * mult % div != 0)
		goto partial;
	*ms = f * mult / div;
	return 0;
partial:
	snprintf(err, errlen, "not a whole number of milliseconds");
	return -1;
}

/*
 * Integer arithmetic only: strtod would take "1e3", hex and "inf", and
 * read "0,5" or "0.5" depending on the locale.
 */
int
parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 },
	};
	const char	*end = s, *frac = NULL, *frac_end = NULL;
	uint64_t	 whole = 0, part = 0, v;
	size_t		 i;

	/* ".5" is 0.5, as ping(8) and sleep(1) read it. */
	if (!(s[0] == '.' && isdigit((unsigned char)s[1])) &&
	    parse_digits(s, &whole, &end, err, errlen) == -1)
		return -1;
	if (*end == '.') {
		frac = ++end;
		while (isdigit((unsigned char)*end))
			end++;
		frac_end = end;
		if (frac == frac_end) {
			snprintf(err, errlen, "no digit after the decimal "
			    "point");
			return -1;
		}
		if (*end == '.') {
			snprintf(err, errlen, "more than one decimal point");
			return -1;
		}
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0])) {
		snprintf(err, errlen, "unknown unit '%.16s' (use ms, s, m or "
		    "h)", end);
		return -1;
	}
	if (frac != NULL && duration_fraction(frac, frac_end, units[i].ms,
	    &part, err, errlen) == -1)
		return -1;
	if (scale(whole, units[i].ms, &v, err, errlen) == -1)
		return -1;
	if (v > UINT64_MAX - part) {
		snprintf(err, errlen, "number too large");
		return -1;
	}
	*ms = v + part;
	return 0;
}

int
parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	const char	*end;
	uint64_t	 v, mult;

	if (parse_digits(s, &v, &end, err, errlen) == -1)
		return -1;
	if (strcmp(end, "") == 0)
		mult = 1;
	else if (strcasecmp(end, "k") == 0)
		mult = 1024;
	else if (strcasecmp(end, "m") == 0)
		mult = 1024 * 1024;
	else {
		snprintf(err, errlen, "unknown unit '%.16s' (use k or m)", end);
		return -1;
	}
	return scale(v, mult, bytes, err, errlen);
}

int
parse_bool(const char *s, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, errlen, "not a boolean (use yes or no)");
	return -1;
}

static int
listen_port(const char *s, in_port_t *port, char *err, size_t errlen)
{
	uint64_t	 v;

	if (parse_uint(s, &v, err, errlen) == -1 || v == 0 || v > 65535) {
		snprintf(err, errlen, "port '%.16s' is not a number from 1 to "
		    "65535", s);
		return -1;
	}
	*port = htons((in_port_t)v);
	return 0;
}

static int
listen_one(const char *item, struct listen_addr *out, size_t max, size_t *n,
    char *err, size_t errlen)
{
	char			 host[64];
	const char		*colon, *port;
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct sockaddr_in6	 sin6 = { .sin6_family = AF_INET6 };
	bool			 any = false, v6;
	size_t			 hlen, need;

	if (item[0] == '[') {
		colon = strstr(item, "]:");
		if (colon == NULL) {
			snprintf(err, errlen, "'%.64s': expected [IPv6]:PORT",
			    item);
			return -1;
		}
		hlen = (size_t)(colon - item - 1);
		port = colon + 2;
		v6 = true;
		item++;
	} else {
		colon = strrchr(item, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "'%.64s': expected ADDRESS:PORT",
			    item);
			return -1;
		}
		hlen = (size_t)(colon - item);
		port = colon + 1;
		v6 = false;
	}
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "address too long");
		return -1;
	}
	memcpy(host, item, hlen);
	host[hlen] = '\0';
	if (!v6 && strcmp(host, "*") == 0)
		any = true;
	else if (!v6 && inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		snprintf(err, errlen, "'%.64s' is not an IPv4 address "
		    "(write IPv6 addresses as [ADDR]:PORT, all as *:PORT)", host);
		return -1;
	} else if (v6 && inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1) {
		snprintf(err, errlen, "'%.64s' is not an IPv6 address", host);
		return -1;
	} else if (v6 && IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
		/* IPv6 sockets are IPV6_V6ONLY: it could never be bound. */
		snprintf(err, errlen, "'%.64s' is an IPv4-mapped address; "
		    "write it as IPv4:PORT", host);
		return -1;
	}
	if (listen_port(port, &sin.sin_port, err, errlen) == -1)
		return -1;
	sin6.sin6_port = sin.sin_port;

	need = any ? 2 : 1;
	if (*n + need > max) {
		snprintf(err, errlen, "too many addresses (at most %zu)", max);
		return -1;
	}
	if (any || !v6) {
		if (any)
			sin.sin_addr.s_addr = htonl(INADDR_ANY);
		memcpy(&out[*n].la_addr, &sin, sizeof(sin));
		out[*n].la_len = sizeof(sin);
		(*n)++;
	}
	if (any || v6) {
		if (any)
			sin6.sin6_addr = in6addr_any;
		memcpy(&out[*n].la_addr, &sin6, sizeof(sin6));
		out[*n].la_len = sizeof(sin6);
		(*n)++;
	}
	return 0;
}

/*
 * The next item of a comma-separated list at *sp, without surrounding
 * blanks, into item (size bytes); *sp moves past it.  Returns 1 with an
 * item, 0 at the end of the list, -1 with err ('what' names an item:
 * "address", "network").
 */
static int
list_next(const char **sp, char *item, size_t size, const char *what,
    char *err, size_t errlen)
{
	const char	*s = *sp;
	size_t		 len;

	if (*s == '\0')
		return 0;
	while (*s == ' ' || *s == '\t')
		s++;
	len = strcspn(s, ",");
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0) {
		snprintf(err, errlen, "empty %s in list", what);
		return -1;
	}
	if (len >= size) {
		snprintf(err, errlen, "%s too long", what);
		return -1;
	}
	memcpy(item, s, len);
	item[len] = '\0';
	s += strcspn(s, ",");
	if (*s == ',' && *++s == '\0') {
		snprintf(err, errlen, "trailing comma");
		return -1;
	}
	*sp = s;
	return 1;
}

static bool
is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->
		    sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)
	    (const void *)ss)->sin6_addr);
}

static in_port_t
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->sin_port;
	return ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port;
}

bool
listen_addr_overlap(const struct listen_addr *a, const struct listen_addr *b)
{
	if (a->la_addr.ss_family != b->la_addr.ss_family ||
	    port_of(&a->la_addr) != port_of(&b->la_addr))
		return false;
	/* The same address, or a wildcard that covers the other. */
	return (a->la_len == b->la_len &&
	    memcmp(&a->la_addr, &b->la_addr, a->la_len) == 0) ||
	    is_wildcard(&a->la_addr) || is_wildcard(&b->la_addr);
}

int
parse_listen(const char *s, struct listen_addr *out, size_t max, size_t *n,
    char *err, size_t errlen)
{
	char	 item[LISTEN_ITEM_MAX];
	size_t	 i, j, before;
	int	 rc;

	*n = 0;
	while ((rc = list_next(&s, item, sizeof(item), "address", err,
	    errlen)) == 1) {
		before = *n;
		if (listen_one(item, out, max, n, err, errlen) == -1)
			return -1;
		for (i = before; i < *n; i++) {
			addr_format((struct sockaddr *)&out[i].la_addr,
			    out[i].la_text, sizeof(out[i].la_text));
			memcpy(out[i].la_item, item, strlen(item) + 1);
		}
		/* Two entries for one socket could never both be bound. */
		for (i = before; i < *n; i++)
			for (j = 0; j < before; j++)
				if (listen_addr_overlap(&out[i], &out[j])) {
					snprintf(err, errlen, "'%s' and '%s' "
					    "overlap (%s and %s)",
					    out[j].la_item, out[i].la_item,
					    out[j].la_text, out[i].la_text);
					return -1;
				}
	}
	if (rc == -1)
		return -1;
	if (*n == 0) {
		snprintf(err, errlen, "no address given");
		return -1;
	}
	return 0;
}

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static int
cidr_one(const char *item, struct cidr *c, char *err, size_t errlen)
{
	char		 host[64];
	const char	*slash = strchr(item, '/');
	uint64_t	 bits;
	size_t		 hlen = slash ? (size_t)(slash - item) : strlen(item);
	struct in_addr	 a4;
	unsigned	 max, i, b;

	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%.64s': address too long", item);
		return -1;
	}
	memcpy(host, item, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1) {
		memcpy(c->ci_addr, v4mapped, 12);
		memcpy(c->ci_addr + 12, &a4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, host, c->ci_addr) == 1) {
		if (memcmp(c->ci_addr, v4mapped, 12) == 0) {
			snprintf(err, errlen, "'%.64s' is an IPv4-mapped "
			    "address; write it as IPv4", host);
			return -1;
		}
		max = 128;
	} else {
		snprintf(err, errlen, "'%.64s' is not an IPv4 or IPv6 address",
		    host);
		return -1;
	}
	bits = max;
	if (slash != NULL && (parse_uint(slash + 1, &bits, err, errlen) == -1 ||
	    bits > max)) {
		snprintf(err, errlen, "'%.64s': prefix length must be 0 to %u",
		    item, max);
		return -1;
	}
	c->ci_bits = (uint8_t)(bits + (max == 32 ? 96 : 0));
	/* Host bits set are a typo more often than not: refuse them. */
	for (i = c->ci_bits; i < 128; i++) {
		b = c->ci_addr[i / 8] & (0x80u >> (i % 8));
		if (b != 0) {
			snprintf(err, errlen, "'%.64s' has host bits set "
			    "beyond /%u", item, (unsigned)bits);
			return -1;
		}
	}
	return 0;
}

int
parse_cidr_list(const char *s, struct cidr *out, size_t max, size_t *n,
    char *err, size_t errlen)
{
	char	 item[128];
	int	 rc;

	*n = 0;
	while ((rc = list_next(&s, item, sizeof(item), "network", err,
	    errlen)) == 1) {
		if (*n == max) {
			snprintf(err, errlen, "too many networks (at most %zu)",
			    max);
			return -1;
		}
		if (cidr_one(item, &out[*n], err, errlen) == -1)
			return -1;
		(*n)++;
	}
	if (rc == -1)
		return -1;
	if (*n == 0) {
		snprintf(err, errlen, "no network given");
		return -1;
	}
	return 0;
}

bool
cidr_match(const struct cidr *c, size_t n, const struct sockaddr *sa)
{
	uint8_t		 a[16];
	size_t		 i;
	unsigned	 full, rest;

	if (sa->sa_family == AF_INET) {
		memcpy(a, v4mapped, 12);
		memcpy(a + 12, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
	else
		return false;
	for (i = 0; i < n; i++) {
		full = c[i].ci_bits / 8;
		rest = c[i].ci_bits % 8;
		if (memcmp(a, c[i].ci_addr, full) != 0)
			continue;
		if (rest == 0 || ((a[full] ^ c[i].ci_addr[full]) &
		    (0xffu << (8 - rest)) & 0xff) == 0)
			return true;
	}
	return false;
}

void
cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];

	if (memcmp(c->ci_addr, v4mapped, 12) == 0 && c->ci_bits >= 96) {
		inet_ntop(AF_INET, c->ci_addr + 12, host, sizeof(host));
		snprintf(buf, len, "%s/%u", host, c->ci_bits - 96u);
	} else {
		inet_ntop(AF_INET6, c->ci_addr, host, sizeof(host));
		snprintf(buf, len, "%s/%u", host, c->ci_bits);
	}
}

void
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	default:
		snprintf(buf, len, "(family %d)", sa->sa_family);
		break;
	}
}

void
addr_unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	*sin = (struct sockaddr_in *)(void *)ss;

	if (ss->ss_family != AF_INET6)
		return;
	memcpy(&sin6, ss, sizeof(sin6));
	if (!IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
		return;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = sin6.sin6_port;
	memcpy(&sin->sin_addr, sin6.sin6_addr.s6_addr + 12, 4);
}
