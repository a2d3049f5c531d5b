/*
 * Unit tests: duration, size, integer, boolean and address parsing,
 * and the IPv4-mapped addresses of dual-stack sockets.
 */
#include "autoconf.h"

#include <arpa/inet.h>

#include <netinet/in.h>

#include <string.h>

#include "parse.h"
#include "tap.h"

static void
test_duration(void)
{
	static const struct { const char *in; uint64_t ms; } good[] = {
		{ "0", 0 }, { "10", 10000 }, { "250ms", 250 }, { "10s", 10000 },
		{ "5m", 300000 }, { "2h", 7200000 }, { "0ms", 0 },
		/* Decimal fractions, as ping -i takes them. */
		{ "0.1", 100 }, { ".2", 200 }, { "1.5s", 1500 },
		{ "2.5m", 150000 }, { "0.5h", 1800000 }, { "0.001", 1 },
		{ "1.0ms", 1 }, { "250.000ms", 250 }, { "0.0s", 0 },
		{ "1.2345m", 74070 }, { "0.0000025h", 9 }, { ".001m", 60 },
		{ "1.50000000000000000000000000000s", 1500 },
		{ "00.10", 100 },
		{ "18446744073709551.615", UINT64_MAX },
		{ "18446744073709551615ms", UINT64_MAX },
	};
	static const struct { const char *in, *why; } bad[] = {
		{ "", "not a number" },
		{ "s", "not a number" },
		{ "-1", "not a number" },
		{ "+5", "not a number" },
		{ " 5", "not a number" },
		{ " 1.5", "not a number" },
		{ ".", "not a number" },
		{ ".s", "not a number" },
		{ "-0.5", "not a number" },
		{ "5 s", "unknown unit ' s'" },
		{ "1.5 s", "unknown unit ' s'" },
		{ "1.5 ", "unknown unit ' '" },
		{ "10x", "unknown unit 'x' (use ms, s, m or h)" },
		{ "10sec", "unknown unit 'sec'" },
		{ "0x10", "unknown unit 'x10'" },
		{ "5S", "unknown unit 'S'" },
		{ "1e3", "unknown unit 'e3'" },
		{ "1.5e3", "unknown unit 'e3'" },
		{ "0,5", "unknown unit ',5'" },
		{ "1.", "no digit after the decimal point" },
		{ "1.s", "no digit after the decimal point" },
		{ "1..5", "no digit after the decimal point" },
		{ "1.2.3", "more than one decimal point" },
		{ "1.5ms", "not a whole number of milliseconds" },
		{ "0.0001", "not a whole number of milliseconds" },
		{ "0.00001m", "not a whole number of milliseconds" },
		{ "0.0000005h", "not a whole number of milliseconds" },
		{ "0.00000000000000000001h", "whole number of milliseconds" },
		{ "1.0000000000000000000000000001s", "whole number of milli" },
		{ "99999999999999999999", "too large" },
		{ "18446744073709551615h", "too large" },
		{ "18446744073709551.616", "too large" },
		{ "5124095576030431.5h", "too large" },
		{ "18446744073709551616.5ms", "too large" },
	};
	char		 err[PARSE_ERR_LEN];
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		is_int(parse_duration(good[i].in, &v, err, sizeof(err)), 0,
		    "duration \"%s\" parses", good[i].in);
		is_int(v, good[i].ms, "duration \"%s\" is %ju ms", good[i].in,
		    (uintmax_t)good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		v = 12345;
		is_int(parse_duration(bad[i].in, &v, err, sizeof(err)), -1,
		    "duration \"%s\" is refused", bad[i].in);
		like(err, bad[i].why, "... saying \"%s\"", bad[i].why);
		is_int(v, 12345, "... and leaving the result alone");
	}
}

static void
test_size(void)
{
	static const struct { const char *in; uint64_t v; } good[] = {
		{ "0", 0 }, { "4096", 4096 }, { "64k", 65536 }, { "64K", 65536 },
		{ "1m", 1048576 }, { "16M", 16777216 },
	};
	static const char *const bad[] = {
		"", "k", "-1", "1g", "1kb", "1.5k", " 1k", "1 k",
		"18446744073709551615k",
	};
	char		 err[PARSE_ERR_LEN];
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		is_int(parse_size(good[i].in, &v, err, sizeof(err)), 0,
		    "size \"%s\" parses", good[i].in);
		is_int(v, good[i].v, "size \"%s\" is %ju bytes", good[i].in,
		    (uintmax_t)good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(parse_size(bad[i], &v, err, sizeof(err)), -1,
		    "size \"%s\" is refused", bad[i]);
	parse_size("18446744073709551615k", &v, err, sizeof(err));
	like(err, "too large", "overflow is called too large");
}

static void
test_uint_bool(void)
{
	char		 err[PARSE_ERR_LEN];
	uint64_t	 v;
	bool		 b;

	is_int(parse_uint("42", &v, err, sizeof(err)), 0, "uint 42");
	is_int(v, 42, "uint 42 value");
	is_int(parse_uint("4 2", &v, err, sizeof(err)), -1, "uint \"4 2\"");
	is_int(parse_uint("-3", &v, err, sizeof(err)), -1, "uint -3");
	is_int(parse_uint("3k", &v, err, sizeof(err)), -1, "uint 3k");
	is_int(parse_bool("yes", &b, err, sizeof(err)), 0, "bool yes");
	ok(b, "yes is true");
	is_int(parse_bool("Off", &b, err, sizeof(err)), 0, "bool Off");
	ok(!b, "Off is false");
	is_int(parse_bool("maybe", &b, err, sizeof(err)), -1, "bool maybe");
	like(err, "yes or no", "bool reason says what is allowed");
}

static void
test_listen(void)
{
	struct listen_addr	 la[4];
	char			 err[PARSE_ERR_LEN];
	size_t			 n;

	is_int(parse_listen("127.0.0.1:7007, [::1]:7007", la, 4, &n, err,
	    sizeof(err)), 0, "v4 and v6 list parses");
	is_int(n, 2, "two addresses");
	is_str(la[0].la_text, "127.0.0.1:7007", "v4 formatted back");
	is_str(la[1].la_text, "[::1]:7007", "v6 formatted back");
	is_int(la[1].la_addr.ss_family, AF_INET6, "second is IPv6");

	is_int(parse_listen("*:7", la, 4, &n, err, sizeof(err)), 0,
	    "*:7 parses");
	is_int(n, 2, "*:7 is two sockets");
	is_str(la[0].la_text, "0.0.0.0:7", "*: gives 0.0.0.0");
	is_str(la[1].la_text, "[::]:7", "*: gives [::]");

	is_int(parse_listen("127.0.0.1", la, 4, &n, err, sizeof(err)), -1,
	    "missing port refused");
	like(err, "ADDRESS:PORT", "... saying the form");
	is_int(parse_listen("127.0.0.1:0", la, 4, &n, err, sizeof(err)), -1,
	    "port 0 refused");
	is_int(parse_listen("127.0.0.1:65536", la, 4, &n, err, sizeof(err)),
	    -1, "port 65536 refused");
	like(err, "1 to 65535", "... saying the range");
	is_int(parse_listen("localhost:7", la, 4, &n, err, sizeof(err)), -1,
	    "host names refused");
	is_int(parse_listen("::1:7", la, 4, &n, err, sizeof(err)), -1,
	    "bare IPv6 refused");
	is_int(parse_listen("[::1]", la, 4, &n, err, sizeof(err)), -1,
	    "[::1] without port refused");
	is_int(parse_listen("1.2.3.4:5,", la, 4, &n, err, sizeof(err)), -1,
	    "trailing comma refused");
	is_int(parse_listen("1.2.3.4:5,,1.2.3.4:6", la, 4, &n, err,
	    sizeof(err)), -1, "empty item refused");
	is_int(parse_listen("*:1, *:2, *:3", la, 4, &n, err, sizeof(err)), -1,
	    "too many addresses refused");
	like(err, "too many", "... saying too many");
}

static bool
match(const struct cidr *c, size_t n, const char *addr)
{
	struct sockaddr_storage	 ss = { 0 };
	struct sockaddr_in	*sin = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)(void *)&ss;

	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	return cidr_match(c, n, (struct sockaddr *)&ss);
}

static void
test_cidr(void)
{
	struct cidr	 c[8];
	char		 err[PARSE_ERR_LEN], text[64];
	size_t		 n;

	is_int(parse_cidr_list("10.0.0.0/8, 192.0.2.7, 2001:db8::/32, ::1",
	    c, 8, &n, err, sizeof(err)), 0, "a list of networks and hosts");
	is_int(n, 4, "... four of them");
	cidr_format(&c[0], text, sizeof(text));
	is_str(text, "10.0.0.0/8", "IPv4 network formatted back");
	cidr_format(&c[1], text, sizeof(text));
	is_str(text, "192.0.2.7/32", "a bare IPv4 address is a /32");
	cidr_format(&c[3], text, sizeof(text));
	is_str(text, "::1/128", "a bare IPv6 address is a /128");
	ok(match(c, n, "10.255.1.2"), "10.255.1.2 is in 10.0.0.0/8");
	ok(!match(c, n, "11.0.0.1"), "11.0.0.1 is in none");
	ok(match(c, n, "192.0.2.7") && !match(c, n, "192.0.2.8"),
	    "a /32 matches its host only");
	ok(match(c, n, "2001:db8:ffff::1") && !match(c, n, "2001:db9::1"),
	    "IPv6 prefixes");
	ok(match(c, n, "::ffff:10.1.2.3"), "an IPv4-mapped source counts as "
	    "IPv4");
	ok(match(c, n, "::1") && !match(c, n, "::2"), "::1 alone");
	is_int(parse_cidr_list("192.0.2.0/25", c, 8, &n, err, sizeof(err)), 0,
	    "/25");
	ok(match(c, n, "192.0.2.127") && !match(c, n, "192.0.2.128"),
	    "a prefix inside a byte");
	is_int(parse_cidr_list("0.0.0.0/0", c, 8, &n, err, sizeof(err)), 0,
	    "0.0.0.0/0");
	ok(match(c, n, "203.0.113.1") && !match(c, n, "2001:db8::1"),
	    "0.0.0.0/0 is every IPv4 address and no IPv6 one");
	is_int(parse_cidr_list("10.0.0.1/8", c, 8, &n, err, sizeof(err)), -1,
	    "host bits set refused");
	like(err, "host bits", "... saying so");
	is_int(parse_cidr_list("10.0.0.0/33", c, 8, &n, err, sizeof(err)), -1,
	    "/33 refused");
	like(err, "0 to 32", "... with the range");
	is_int(parse_cidr_list("::ffff:1.2.3.4", c, 8, &n, err, sizeof(err)),
	    -1, "IPv4-mapped refused");
	is_int(parse_cidr_list("example.org", c, 8, &n, err, sizeof(err)), -1,
	    "names refused");
	is_int(parse_cidr_list("10.0.0.0/8,", c, 8, &n, err, sizeof(err)), -1,
	    "trailing comma refused");
	is_int(parse_cidr_list("1.1.1.1,2.2.2.2,3.3.3.3", c, 2, &n, err,
	    sizeof(err)), -1, "too many refused");
	is_int(parse_cidr_list("", c, 8, &n, err, sizeof(err)), -1,
	    "empty refused");
}

static void
test_unmap(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)(void *)&ss;
	char			 buf[64];

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(7008);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6->sin6_addr);
	addr_unmap(&ss);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	is_int(ss.ss_family, AF_INET, "[::ffff:192.0.2.1]:7008 becomes IPv4");
	is_str(buf, "192.0.2.1:7008", "... 192.0.2.1:7008, port kept");

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(7);
	inet_pton(AF_INET6, "::192.0.2.1", &sin6->sin6_addr);
	addr_unmap(&ss);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	is_str(buf, "[::192.0.2.1]:7", "IPv4-compatible ::192.0.2.1 is left "
	    "alone");
	inet_pton(AF_INET6, "2001:db8::ffff:c000:201", &sin6->sin6_addr);
	addr_unmap(&ss);
	is_int(ss.ss_family, AF_INET6, "an ordinary IPv6 address is left "
	    "alone");
}

int
main(void)
{
	test_cidr();
	test_duration();
	test_size();
	test_uint_bool();
	test_listen();
	test_unmap();
	return done_testing();
}
