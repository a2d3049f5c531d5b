/*
 * Parsers for configuration values.  Each returns 0 on success, or -1
 * and leaves a short reason ("not a number", "unknown unit 'x'"...) in
 * err.  None of them logs.
 */
#ifndef ECHOD_PARSE_H
#define ECHOD_PARSE_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARSE_ERR_LEN	128

/*
 * "250ms", "10s", "1.5s", "5m", "1h"; a bare number ("0.2") is seconds.
 * A decimal fraction needs a digit after the point (".5" is fine, "1."
 * is not) and must come to whole milliseconds ("1.5ms" and "0.0001" are
 * refused).  No sign, blanks, exponent or hex.  Result in ms; *ms is
 * left alone on error.
 */
int	parse_duration(const char *, uint64_t *ms, char *err, size_t errlen);
/* "4096", "64k", "1m" (also K, M).  Result in bytes. */
int	parse_size(const char *, uint64_t *bytes, char *err, size_t errlen);
/* A decimal integer without sign or unit. */
int	parse_uint(const char *, uint64_t *, char *err, size_t errlen);
/* yes/no, true/false, on/off, 1/0. */
int	parse_bool(const char *, bool *, char *err, size_t errlen);

#define LISTEN_ITEM_MAX	128

struct listen_addr {
	struct sockaddr_storage	 la_addr;
	socklen_t		 la_len;
	char			 la_text[64];	/* formatted: "[::]:7" */
	char			 la_item[LISTEN_ITEM_MAX]; /* as written: "*:7" */
};

/*
 * "127.0.0.1:7007", "[::1]:7007", "*:7007" (every IPv4 and IPv6 address:
 * two entries).  Fills up to max entries of out; *n receives the count.
 * Entries that name the same socket, or overlap (a wildcard and an
 * address of its family on the same port), are refused, naming both.
 */
int	parse_listen(const char *, struct listen_addr *out, size_t max,
	    size_t *n, char *err, size_t errlen);

/* Whether two listen addresses could not both be bound (same family
 * and port, and the same address or a wildcard). */
bool	listen_addr_overlap(const struct listen_addr *, const struct listen_addr *);

/* A network: IPv4 ones as IPv4-mapped IPv6, their prefix + 96. */
struct cidr {
	uint8_t		 ci_addr[16];
	uint8_t		 ci_bits;	/* 0 to 128 */
};

/*
 * "10.0.0.0/8, 192.0.2.7, 2001:db8::/32, ::1": comma-separated networks;
 * a bare address is a single host.  Host bits must be zero (10.0.0.1/8
 * is refused: say 10.0.0.0/8).  Fills up to max entries of out; *n
 * receives the count.
 */
int	parse_cidr_list(const char *, struct cidr *out, size_t max, size_t *n,
	    char *err, size_t errlen);
/* Whether an IPv4 or IPv6 address (IPv4-mapped counts as IPv4) is in
 * one of the n networks. */
bool	cidr_match(const struct cidr *, size_t n, const struct sockaddr *);
/* "10.0.0.0/8", "2001:db8::/32" */
void	cidr_format(const struct cidr *, char *, size_t);

/* Format an address as "1.2.3.4:5" or "[::1]:5". */
void	addr_format(const struct sockaddr *, char *, size_t);
/*
 * An IPv4-mapped IPv6 address (what a dual-stack socket reports for an
 * IPv4 peer, [::ffff:192.0.2.1]:5) rewritten in place as the AF_INET
 * address it stands for; any other address is left alone.
 */
void	addr_unmap(struct sockaddr_storage *);

#endif
