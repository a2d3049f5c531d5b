/*
 * Unit tests: the PROXY protocol header parser (src/proxy.c) and its
 * CRC32c.  Every input is copied into a heap buffer of exactly its size,
 * so that a build with AddressSanitizer sees any read past the end.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>

#include "proxy.h"
#include "tap.h"

#define PAYLOAD		"hello, echo\r\n"

static const uint8_t	 v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static const char *const status_name[] = { "need more", "done", "invalid" };

/* A test name as one TAP line: CR, LF and other bytes escaped. */
static const char *
esc(const char *s)
{
	static char	 buf[4][600];
	static int	 which;
	char		*b = buf[which++ % 4];
	size_t		 o = 0;

	for (; *s != '\0' && o < sizeof(buf[0]) - 5; s++) {
		if (*s == '\r')
			o += (size_t)snprintf(b + o, 5, "\\r");
		else if (*s == '\n')
			o += (size_t)snprintf(b + o, 5, "\\n");
		else if (*s == '\\' || *s == '#' ||
		    (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			o += (size_t)snprintf(b + o, 5, "\\x%02x",
			    (unsigned char)*s);
		else
			b[o++] = *s;
	}
	b[o] = '\0';
	return b;
}

static enum proxy_status
parse(const void *buf, size_t len, struct proxy_header *h)
{
	enum proxy_status	 st;
	void			*copy;

	if ((copy = calloc(1, len ? len : 1)) == NULL)
		abort();
	memcpy(copy, buf, len);
	st = proxy_parse(copy, len, h);
	free(copy);
	return st;
}

/* "1.2.3.4:5" or "[::1]:5" for an AF_INET/AF_INET6 sockaddr. */
static const char *
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	char				 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "family %d", ss->ss_family);
	return buf;
}

/*
 * buf[0..hlen) is a valid header, maybe followed by payload up to len:
 * every shorter prefix needs more, and every length from hlen on is done
 * with the same result.  Returns that result in *h.
 */
static bool
is_header(const char *name, const void *buf, size_t hlen, size_t len,
    struct proxy_header *h)
{
	struct proxy_header	 g;
	enum proxy_status	 st;
	size_t			 k, bad = SIZE_MAX;
	bool			 r;

	for (k = 0; k < hlen && bad == SIZE_MAX; k++)
		if (parse(buf, k, &g) != PROXY_NEED_MORE)
			bad = k;
	r = ok(bad == SIZE_MAX, "%s: every prefix needs more", esc(name));
	if (!r)
		diag("the first %zu bytes give %s (%s)", bad,
		    status_name[parse(buf, bad, &g)],
		    proxy_reason_label(g.ph_reason));
	st = parse(buf, hlen, h);
	r = ok(st == PROXY_DONE && h->ph_len == hlen,
	    "%s: done, %zu bytes", esc(name), hlen) && r;
	if (st != PROXY_DONE || h->ph_len != hlen)
		diag("%s, length %zu, reason %s", status_name[st], h->ph_len,
		    proxy_reason_label(h->ph_reason));
	for (k = hlen + 1, bad = SIZE_MAX; k <= len && bad == SIZE_MAX; k++)
		if (parse(buf, k, &g) != PROXY_DONE ||
		    memcmp(&g, h, sizeof(g)) != 0)
			bad = k;
	if (len > hlen)
		r = ok(bad == SIZE_MAX, "%s: the %zu payload bytes after it "
		    "change nothing", esc(name), len - hlen) && r;
	return r;
}

/* Text header, then PAYLOAD in the same buffer. */
static bool
is_text_header(const char *hdr, struct proxy_header *h)
{
	char	 buf[512];

	snprintf(buf, sizeof(buf), "%s%s", hdr, PAYLOAD);
	return is_header(hdr, buf, strlen(hdr), strlen(buf), h);
}

/*
 * Refused with 'why' as soon as the first 'at' bytes are there, not
 * before, and still with more bytes after.
 */
static void
is_refused(const char *name, const void *buf, size_t at, size_t len,
    enum proxy_reason why)
{
	struct proxy_header	 h;
	enum proxy_status	 st;
	size_t			 k;
	bool			 early = false, same = true;

	for (k = 0; k < at; k++)
		if (parse(buf, k, &h) != PROXY_NEED_MORE)
			early = true;
	for (k = at; k <= len; k++) {
		st = parse(buf, k, &h);
		if (st != PROXY_INVALID || h.ph_reason != why) {
			if (same)
				diag("%zu bytes: %s, %s", k, status_name[st],
				    proxy_reason_label(h.ph_reason));
			same = false;
		}
	}
	ok(!early && same, "%s: %s from byte %zu on", esc(name),
	    proxy_reason_label(why), at);
}

/* A text input refused once it is all there (and with payload after). */
static void
is_text_refused(const char *in, enum proxy_reason why)
{
	char	 buf[512];

	snprintf(buf, sizeof(buf), "%s%s", in, PAYLOAD);
	is_refused(in, buf, strlen(in), strlen(buf), why);
}

static bool
is_addr(const struct sockaddr_storage *ss, const char *want)
{
	char	 got[80];

	addr_text(ss, got, sizeof(got));
	if (strcmp(got, want) == 0)
		return true;
	diag("address %s, want %s", got, want);
	return false;
}

static void
test_v1_valid(void)
{
	static const struct {
		const char	*in, *src, *dst;
	} good[] = {
		{ "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		    "192.168.0.1:56324", "192.168.0.11:443" },
		{ "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
		    "255.255.255.255:65535", "255.255.255.255:65535" },
		{ "PROXY TCP4 0.0.0.0 10.0.0.0 0 0\r\n",
		    "0.0.0.0:0", "10.0.0.0:0" },
		{ "PROXY TCP6 2001:db8::1 ::1 1 7\r\n",
		    "[2001:db8::1]:1", "[::1]:7" },
		{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535" },
		{ "PROXY TCP6 0001:0DB8:0000:0000:0000:0000:0000:00FF "
		    "::ffff:10.1.2.3 10 20\r\n",
		    "[1:db8::ff]:10", "[::ffff:10.1.2.3]:20" },
	};
	static const char *const unknown[] = {
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN \r\n",
		"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
		"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UNKNOWN anything\tat all \x01\xff until CRLF\r\n",
	};
	struct proxy_header	 h;
	char			 line[PROXY_V1_MAX + 1];
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!is_text_header(good[i].in, &h))
			continue;
		ok(h.ph_version == 1 && !h.ph_local && is_addr(&h.ph_src,
		    good[i].src) && is_addr(&h.ph_dst, good[i].dst) &&
		    h.ph_addrlen == (h.ph_src.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)),
		    "... v1 from %s to %s", good[i].src, good[i].dst);
	}
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		if (!is_text_header(unknown[i], &h))
			continue;
		ok(h.ph_version == 1 && h.ph_local &&
		    h.ph_src.ss_family == 0 && h.ph_addrlen == 0,
		    "... UNKNOWN: the connection's own addresses");
	}
	/* The longest line the spec allows, 107 bytes, and UNKNOWN's. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %-91s\r\n", "x");
	is_int(strlen(line), PROXY_V1_MAX, "a 107-byte UNKNOWN line");
	is_text_header(line, &h);
	snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:25.255.25.25",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	is_int(strlen(line), PROXY_V1_MAX, "a 107-byte TCP6 line");
	is_text_header(line, &h);
}

static void
test_v1_invalid(void)
{
	static const struct {
		const char		*in;
		enum proxy_reason	 why;
	} bad[] = {
		/* Not a PROXY header at all. */
		{ "G", PROXY_R_SIGNATURE },	/* "GET / HTTP/1.0" */
		{ "p", PROXY_R_SIGNATURE },	/* "proxy TCP4" */
		{ "PROXZ", PROXY_R_SIGNATURE },
		{ "X", PROXY_R_SIGNATURE },
		{ "\x16", PROXY_R_SIGNATURE },	/* TLS */
		/* Syntax: words, spaces, fields, line ends. */
		{ "PROXY\r", PROXY_R_V1_SYNTAX },
		{ "PROXY  ", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP5", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP", PROXY_R_NONE },	/* still a prefix */
		{ "PROXY TCP44", PROXY_R_V1_SYNTAX },
		{ "PROXY t", PROXY_R_V1_SYNTAX },
		{ "PROXY UD", PROXY_R_V1_SYNTAX },
		{ "PROXY UNKNOWNX", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4\r", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4  ", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4  ", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  ", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8\r", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4\r", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4 1.2.3.4\n", PROXY_R_V1_SYNTAX },
		{ "PROXY TCP4\t", PROXY_R_V1_SYNTAX },
		{ "PROXY UNKNOWN\n", PROXY_R_V1_SYNTAX },
		{ "PROXY UNKNOWN\rX", PROXY_R_V1_SYNTAX },
		{ "PROXY UNKNOWN 1.2.3.4\n", PROXY_R_V1_SYNTAX },
		{ "PROXY UNKNOWN 1.2.3.4\r ", PROXY_R_V1_SYNTAX },
		/* Addresses. */
		{ "PROXY TCP4 01", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 1.2.3.04", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.00", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 256", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 1.2.3.4.", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 1..", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 .", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 1.2.3 ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7 ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 1.2.3. ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 :", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP4 0x", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 1.2.3.4 ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 ::g", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 1::2::3 ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 00001:: ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 [", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 ::1%", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 ::ffff:01.2.3.4 ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 1:2:3:4:5:6:7:8:9 ", PROXY_R_V1_ADDRESS },
		{ "PROXY TCP6 ::1 ::1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:0:1:2:3:4:5:67",
		    PROXY_R_V1_ADDRESS },	/* 46 characters */
		/* Ports. */
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 01", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 00", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 06", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 100000", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 -", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 +", PROXY_R_V1_PORT },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x", PROXY_R_V1_PORT },
		{ "PROXY TCP6 ::1 ::1 7 7a", PROXY_R_V1_PORT },
	};
	struct proxy_header	 h;
	char			 line[256];
	size_t			 i, at;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].why == PROXY_R_NONE) {
			is_int(parse(bad[i].in, strlen(bad[i].in), &h),
			    PROXY_NEED_MORE, "\"%s\" may still become valid",
			    esc(bad[i].in));
			continue;
		}
		is_text_refused(bad[i].in, bad[i].why);
	}

	/* 107 bytes without a CRLF: too long, whatever comes next. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %-95s\r\n", "x");
	is_refused("UNKNOWN over 107 bytes", line, PROXY_V1_MAX, strlen(line),
	    PROXY_R_V1_TOO_LONG);
	snprintf(line, sizeof(line), "PROXY UNKNOWN %-92s\r\n", "x");
	is_int(strlen(line), PROXY_V1_MAX + 1, "a 108-byte line");
	is_refused("108-byte UNKNOWN line, CR at byte 107", line,
	    PROXY_V1_MAX, strlen(line), PROXY_R_V1_TOO_LONG);
	snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	is_refused("TCP6 line of 116 bytes", line, PROXY_V1_MAX,
	    strlen(line), PROXY_R_V1_TOO_LONG);
	/* ... but a fault within the first 107 bytes names itself. */
	memset(line, 0, sizeof(line));
	at = strlen("PROXY UNKNOWN ") + 120;
	snprintf(line, sizeof(line), "PROXY UNKNOWN %-120s\nX", "x");
	is_refused("lone LF after 107 bytes", line, PROXY_V1_MAX, at + 2,
	    PROXY_R_V1_TOO_LONG);
	snprintf(line, sizeof(line), "PROXY UNKNOWN %-80s\n%-40s", "x", "y");
	is_refused("lone LF before byte 107, then more", line,
	    strlen("PROXY UNKNOWN ") + 81, strlen(line), PROXY_R_V1_SYNTAX);
}

/* --- v2 -------------------------------------------------------------- */

/* A bitwise CRC32c, to check the table-driven one against. */
static uint32_t
ref_crc32c(const uint8_t *p, size_t len)
{
	uint32_t	 crc = 0xffffffff;
	int		 k;

	for (; len > 0; len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1));
	}
	return ~crc;
}

struct v2 {
	uint8_t	 b[PROXY_MAX_LEN + 64];
	size_t	 len;
};

static void
v2_start(struct v2 *h, uint8_t ver_cmd, uint8_t fam)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->b, v2sig, 12);
	h->b[12] = ver_cmd;
	h->b[13] = fam;
	h->len = 16;
}

static void
v2_add(struct v2 *h, const void *p, size_t n)
{
	memcpy(h->b + h->len, p, n);
	h->len += n;
	h->b[14] = (uint8_t)((h->len - 16) >> 8);
	h->b[15] = (uint8_t)(h->len - 16);
}

static void
v2_tlv(struct v2 *h, uint8_t type, const void *p, size_t n)
{
	uint8_t	 t[3] = { type, (uint8_t)(n >> 8), (uint8_t)n };

	v2_add(h, t, 3);
	v2_add(h, p, n);
}

/* Fill in the CRC32c whose value is at h->b[at], once h is complete. */
static void
v2_crc_fill(struct v2 *h, size_t at)
{
	uint32_t	 crc;

	memset(h->b + at, 0, 4);
	crc = ref_crc32c(h->b, h->len);
	h->b[at] = (uint8_t)(crc >> 24);
	h->b[at + 1] = (uint8_t)(crc >> 16);
	h->b[at + 2] = (uint8_t)(crc >> 8);
	h->b[at + 3] = (uint8_t)crc;
}

/* Append a CRC32c TLV; returns its value's offset. */
static size_t
v2_crc_slot(struct v2 *h)
{
	v2_tlv(h, 0x03, "\0\0\0\0", 4);
	return h->len - 4;
}

/* Append a CRC32c TLV as the last, filled in; returns its offset. */
static size_t
v2_crc(struct v2 *h)
{
	size_t	 at = v2_crc_slot(h);

	v2_crc_fill(h, at);
	return at;
}

/* 10.1.2.3:4660 -> 192.0.2.7:7 */
static void
v2_inet(struct v2 *h, uint8_t ver_cmd, uint8_t fam)
{
	static const uint8_t	 a[12] = { 10, 1, 2, 3, 192, 0, 2, 7,
					   0x12, 0x34, 0x00, 0x07 };

	v2_start(h, ver_cmd, fam);
	v2_add(h, a, sizeof(a));
}

/* [2001:db8::1]:65535 -> [2001:db8::2]:0 */
static void
v2_inet6(struct v2 *h, uint8_t ver_cmd, uint8_t fam)
{
	uint8_t	 a[36];

	memset(a, 0, sizeof(a));
	a[0] = a[16] = 0x20;
	a[1] = a[17] = 0x01;
	a[2] = a[18] = 0x0d;
	a[3] = a[19] = 0xb8;
	a[15] = 1;
	a[31] = 2;
	a[32] = a[33] = 0xff;
	v2_start(h, ver_cmd, fam);
	v2_add(h, a, sizeof(a));
}

/* The header in h, then payload: must parse whole to h->len bytes. */
static bool
v2_is_header(const char *name, const struct v2 *h, struct proxy_header *r)
{
	uint8_t	 buf[sizeof(h->b) + sizeof(PAYLOAD)];

	memcpy(buf, h->b, h->len);
	memcpy(buf + h->len, PAYLOAD, sizeof(PAYLOAD) - 1);
	return is_header(name, buf, h->len, h->len + sizeof(PAYLOAD) - 1, r);
}

static void
test_crc32c(void)
{
	static const struct {
		const char	*what;
		uint8_t		 fill;	/* 0, 0xff, or 1 for 0..31, 2 for 31..0 */
		uint32_t	 crc;
	} rfc3720[] = {
		{ "32 zero bytes", 0, 0x8a9136aa },
		{ "32 bytes of 0xff", 0xff, 0x62a8ab43 },
		{ "32 bytes 0, 1 .. 31", 1, 0x46dd794e },
		{ "32 bytes 31, 30 .. 0", 2, 0x113fdb5c },
	};
	uint8_t		 b[1024];
	size_t		 i, n;
	bool		 same = true;

	is_int(proxy_crc32c(0, "123456789", 9), 0xe3069283,
	    "CRC32c check value of \"123456789\"");
	is_int(proxy_crc32c(0, "", 0), 0, "CRC32c of nothing");
	for (i = 0; i < sizeof(rfc3720) / sizeof(rfc3720[0]); i++) {
		for (n = 0; n < 32; n++)
			b[n] = rfc3720[i].fill == 1 ? (uint8_t)n :
			    rfc3720[i].fill == 2 ? (uint8_t)(31 - n) :
			    rfc3720[i].fill;
		is_int(proxy_crc32c(0, b, 32), rfc3720[i].crc,
		    "CRC32c of %s (RFC 3720 B.4)", rfc3720[i].what);
	}
	is_int(proxy_crc32c(proxy_crc32c(0, "1234", 4), "56789", 5),
	    0xe3069283, "CRC32c continues from a previous value");
	srandom(7);
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)random();
	for (n = 0; n <= sizeof(b) && same; n += 1 + n / 8)
		same = proxy_crc32c(0, b, n) == ref_crc32c(b, n);
	ok(same, "CRC32c agrees with a bitwise one on random data");
	for (i = 0; i < 256 && same; i++) {
		b[0] = (uint8_t)i;
		same = proxy_crc32c(0, b, 1) == ref_crc32c(b, 1);
	}
	ok(same, "... and on every single byte");
}

static void
test_v2_valid(void)
{
	static const uint8_t	 local_a[12] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t	 pad[PROXY_MAX_LEN];
	struct proxy_header	 r;
	struct v2		 h;
	uint8_t			 unix_a[216];
	size_t			 at;

	v2_inet(&h, 0x21, 0x11);
	if (v2_is_header("v2 PROXY TCP4", &h, &r))
		ok(r.ph_version == 2 && !r.ph_local &&
		    is_addr(&r.ph_src, "10.1.2.3:4660") &&
		    is_addr(&r.ph_dst, "192.0.2.7:7") &&
		    r.ph_addrlen == sizeof(struct sockaddr_in),
		    "... from 10.1.2.3:4660 to 192.0.2.7:7");
	v2_inet(&h, 0x21, 0x12);
	if (v2_is_header("v2 PROXY UDP4", &h, &r))
		ok(!r.ph_local && is_addr(&r.ph_src, "10.1.2.3:4660"),
		    "... the UDP client's address is used too");
	v2_inet6(&h, 0x21, 0x21);
	if (v2_is_header("v2 PROXY TCP6", &h, &r))
		ok(r.ph_version == 2 && !r.ph_local &&
		    is_addr(&r.ph_src, "[2001:db8::1]:65535") &&
		    is_addr(&r.ph_dst, "[2001:db8::2]:0") &&
		    r.ph_addrlen == sizeof(struct sockaddr_in6),
		    "... from [2001:db8::1]:65535 to [2001:db8::2]:0");
	v2_inet6(&h, 0x21, 0x22);
	if (v2_is_header("v2 PROXY UDP6", &h, &r))
		ok(!r.ph_local, "... with the client's address");

	/* LOCAL: what HAProxy's health checks send. */
	v2_start(&h, 0x20, 0x00);
	if (v2_is_header("v2 LOCAL", &h, &r))
		ok(r.ph_local && r.ph_src.ss_family == 0 && r.ph_addrlen == 0,
		    "... uses the connection's own addresses");
	v2_start(&h, 0x20, 0x11);
	v2_add(&h, local_a, sizeof(local_a));
	if (v2_is_header("v2 LOCAL with TCP4 addresses", &h, &r))
		ok(r.ph_local, "... ignores them");
	v2_start(&h, 0x20, 0x00);
	v2_tlv(&h, 0x05, "unique-id-1", 11);
	v2_crc(&h);
	if (v2_is_header("v2 LOCAL with a unique ID and a CRC32c", &h, &r))
		ok(r.ph_local, "... is LOCAL");

	/* PROXY over UNSPEC and AF_UNIX: the spec's fall-back to local. */
	v2_start(&h, 0x21, 0x00);
	if (v2_is_header("v2 PROXY UNSPEC", &h, &r))
		ok(r.ph_local, "... uses the connection's own addresses");
	memset(unix_a, 0, sizeof(unix_a));
	memcpy(unix_a, "/run/client.sock", 16);
	memcpy(unix_a + 108, "/run/server.sock", 16);
	v2_start(&h, 0x21, 0x31);
	v2_add(&h, unix_a, sizeof(unix_a));
	if (v2_is_header("v2 PROXY AF_UNIX stream", &h, &r))
		ok(r.ph_local && r.ph_src.ss_family == 0,
		    "... uses the connection's own addresses");
	v2_start(&h, 0x21, 0x32);
	v2_add(&h, unix_a, sizeof(unix_a));
	v2_tlv(&h, 0x04, "", 0);
	v2_crc(&h);
	if (v2_is_header("v2 PROXY AF_UNIX dgram with TLVs", &h, &r))
		ok(r.ph_local, "... uses the connection's own addresses");

	/* TLVs are skipped; a correct CRC32c passes wherever it is. */
	v2_inet(&h, 0x21, 0x11);
	v2_tlv(&h, 0x01, "h2", 2);
	v2_tlv(&h, 0x02, "echo.example.org", 16);
	v2_tlv(&h, 0x04, "", 0);
	v2_tlv(&h, 0xe0, "custom", 6);
	v2_is_header("v2 TCP4 with ALPN, authority, NOOP, custom TLVs", &h,
	    &r);
	v2_inet(&h, 0x21, 0x11);
	v2_crc(&h);
	v2_is_header("v2 TCP4 with a correct CRC32c", &h, &r);
	v2_inet6(&h, 0x21, 0x21);
	v2_tlv(&h, 0x01, "h2", 2);
	at = v2_crc_slot(&h);
	v2_tlv(&h, 0x20, "\x01\0\0\0\0\x21\0\x07TLSv1.3", 15);
	v2_crc_fill(&h, at);
	v2_is_header("v2 TCP6 with a CRC32c between TLVs", &h, &r);
	/* The longest accepted. */
	v2_inet(&h, 0x21, 0x11);
	v2_tlv(&h, 0x04, pad, PROXY_MAX_LEN - h.len - 3 - 7);
	v2_crc(&h);
	is_int(h.len, PROXY_MAX_LEN, "a v2 header of PROXY_MAX_LEN bytes");
	v2_is_header("v2 header of PROXY_MAX_LEN bytes", &h, &r);
}

/* The header in h, then payload: refused from byte 'at' on. */
static void
v2_is_refused(const char *name, const struct v2 *h, size_t at,
    enum proxy_reason why)
{
	uint8_t	 buf[sizeof(h->b) + sizeof(PAYLOAD)];

	memcpy(buf, h->b, h->len);
	memcpy(buf + h->len, PAYLOAD, sizeof(PAYLOAD) - 1);
	is_refused(name, buf, at, h->len + sizeof(PAYLOAD) - 1, why);
}

static void
test_v2_invalid(void)
{
	static const uint8_t	 fams[] = { 0x01, 0x02, 0x03, 0x10, 0x13,
					    0x20, 0x23, 0x30, 0x33, 0x40,
					    0x41, 0xff };
	struct v2		 h;
	size_t			 i, at;
	uint8_t			 one;

	/* Each byte of the signature is checked as it comes. */
	for (i = 1; i < 12; i++) {
		v2_inet(&h, 0x21, 0x11);
		h.b[i] ^= 0x20;
		v2_is_refused("v2 signature", &h, i + 1, PROXY_R_SIGNATURE);
	}
	v2_inet(&h, 0x21, 0x11);
	h.b[0] = 0x0a;
	v2_is_refused("v2 signature starting with LF", &h, 1,
	    PROXY_R_SIGNATURE);

	v2_inet(&h, 0x11, 0x11);
	v2_is_refused("v2 version 1", &h, 13, PROXY_R_V2_VERSION);
	v2_inet(&h, 0x31, 0x11);
	v2_is_refused("v2 version 3", &h, 13, PROXY_R_V2_VERSION);
	v2_inet(&h, 0x01, 0x11);
	v2_is_refused("v2 version 0", &h, 13, PROXY_R_V2_VERSION);
	v2_inet(&h, 0x22, 0x11);
	v2_is_refused("v2 command 2", &h, 13, PROXY_R_V2_COMMAND);
	v2_inet(&h, 0x2f, 0x11);
	v2_is_refused("v2 command 15", &h, 13, PROXY_R_V2_COMMAND);
	for (i = 0; i < sizeof(fams); i++) {
		v2_inet(&h, 0x21, fams[i]);
		v2_is_refused("v2 family", &h, 14, PROXY_R_V2_FAMILY);
		v2_inet(&h, 0x20, fams[i]);
		v2_is_refused("v2 LOCAL with a bad family", &h, 14,
		    PROXY_R_V2_FAMILY);
	}

	/* Lengths shorter than the address block. */
	v2_inet(&h, 0x21, 0x11);
	h.b[15] = 11;
	v2_is_refused("v2 TCP4 length 11", &h, 16, PROXY_R_V2_LENGTH);
	v2_inet6(&h, 0x21, 0x21);
	h.b[15] = 12;
	v2_is_refused("v2 TCP6 length 12", &h, 16, PROXY_R_V2_LENGTH);
	v2_start(&h, 0x21, 0x31);
	h.b[15] = 215;
	v2_is_refused("v2 AF_UNIX length 215", &h, 16, PROXY_R_V2_LENGTH);
	v2_start(&h, 0x20, 0x21);
	v2_is_refused("v2 LOCAL TCP6 length 0", &h, 16, PROXY_R_V2_LENGTH);
	/* Too long for echod, refused before it arrives. */
	v2_inet(&h, 0x21, 0x11);
	h.b[14] = (PROXY_MAX_LEN - 15) >> 8;
	h.b[15] = (PROXY_MAX_LEN - 15) & 0xff;
	v2_is_refused("v2 PROXY_MAX_LEN + 1 bytes", &h, 16,
	    PROXY_R_V2_TOO_LONG);
	h.b[14] = h.b[15] = 0xff;
	v2_is_refused("v2 16 + 65535 bytes", &h, 16, PROXY_R_V2_TOO_LONG);

	/* Malformed TLV lists. */
	v2_inet(&h, 0x21, 0x11);
	one = 0x04;
	v2_add(&h, &one, 1);
	v2_is_refused("v2 one byte after the addresses", &h, 16,
	    PROXY_R_V2_TLV);
	v2_inet(&h, 0x21, 0x11);
	v2_add(&h, "\x04\x00", 2);
	v2_is_refused("v2 two bytes after the addresses", &h, 16,
	    PROXY_R_V2_TLV);
	v2_inet(&h, 0x21, 0x11);
	v2_tlv(&h, 0x04, "abcd", 4);
	h.b[h.len - 5] = 5;		/* value longer than the header */
	v2_is_refused("v2 TLV past the end", &h, h.len - 4, PROXY_R_V2_TLV);
	v2_inet(&h, 0x21, 0x11);
	v2_tlv(&h, 0x04, "abcd", 4);
	v2_tlv(&h, 0x04, "", 0);
	h.b[h.len - 1] = 1;		/* the last one runs past the end */
	v2_is_refused("v2 second TLV past the end", &h, h.len,
	    PROXY_R_V2_TLV);
	v2_inet(&h, 0x21, 0x11);
	v2_tlv(&h, 0x04, "abcd", 4);
	v2_add(&h, "\x04", 1);
	v2_is_refused("v2 TLV list with a byte left over", &h, 31,
	    PROXY_R_V2_TLV);
	v2_start(&h, 0x20, 0x00);
	v2_tlv(&h, 0x04, "ab", 2);
	h.b[h.len - 3] = 0xff;
	v2_is_refused("v2 LOCAL with a TLV past the end", &h, h.len - 2,
	    PROXY_R_V2_TLV);
	v2_inet(&h, 0x21, 0x11);
	v2_tlv(&h, 0x03, "abc", 3);
	v2_is_refused("v2 CRC32c TLV of 3 bytes", &h, h.len - 3,
	    PROXY_R_V2_TLV);
	v2_inet(&h, 0x21, 0x11);
	v2_tlv(&h, 0x03, "abcde", 5);
	v2_is_refused("v2 CRC32c TLV of 5 bytes", &h, h.len - 5,
	    PROXY_R_V2_TLV);
	v2_inet(&h, 0x21, 0x11);
	v2_crc(&h);
	at = h.len;
	v2_tlv(&h, 0x03, "\0\0\0\0", 4);
	v2_is_refused("v2 two CRC32c TLVs", &h, at + 3, PROXY_R_V2_TLV);

	/* A wrong CRC32c, in each of its bytes or elsewhere. */
	for (i = 0; i < 4; i++) {
		v2_inet(&h, 0x21, 0x11);
		at = v2_crc(&h);
		h.b[at + i] ^= 0x01;
		v2_is_refused("v2 wrong CRC32c", &h, h.len, PROXY_R_V2_CRC32C);
	}
	v2_inet(&h, 0x21, 0x11);
	v2_crc(&h);
	h.b[16] ^= 0x80;		/* the source address changed */
	v2_is_refused("v2 address changed after the CRC32c", &h, h.len,
	    PROXY_R_V2_CRC32C);
	v2_start(&h, 0x20, 0x00);
	at = v2_crc(&h);
	memset(h.b + at, 0, 4);
	v2_is_refused("v2 LOCAL with a zero CRC32c", &h, h.len,
	    PROXY_R_V2_CRC32C);
}

/*
 * Headers HAProxy 2.6.12 (Debian 12) sent with "send-proxy-v2
 * proxy-v2-options crc32c,unique-id check check-send-proxy": a health
 * check, and a client's connection from 127.0.0.1:49410 to its frontend
 * at 127.0.0.1:17110 with a unique ID.
 */
static void
test_haproxy(void)
{
	static const uint8_t	 check[] =
	    "\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a\x20\x00\x00\x07"
	    "\x03\x00\x04\xa9\xb8\x7e\x8f";
	static const uint8_t	 conn[] =
	    "\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a\x21\x11\x00\x3f"
	    "\x7f\x00\x00\x01\x7f\x00\x00\x01\xc1\x02\x42\xd6\x03\x00\x04\xae"
	    "\x5a\xe9\x90\x05\x00\x29" "7F000001:C102_7F000001:42D6_6B105679_0000"
	    "payload\r\n";
	struct proxy_header	 r;

	if (is_header("HAProxy's v2 health check", check, sizeof(check) - 1,
	    sizeof(check) - 1, &r))
		ok(r.ph_local, "... is LOCAL");
	if (is_header("HAProxy's v2 header with CRC32c and unique ID", conn,
	    79, sizeof(conn) - 1, &r))
		ok(!r.ph_local && is_addr(&r.ph_src, "127.0.0.1:49410") &&
		    is_addr(&r.ph_dst, "127.0.0.1:17110"),
		    "... from 127.0.0.1:49410 to 127.0.0.1:17110");
}

static void
test_labels(void)
{
	const char	*l, *t;
	int		 r, s;
	bool		 fine = true, unique = true;

	for (r = 0; r < PROXY_R_COUNT; r++) {
		l = proxy_reason_label((enum proxy_reason)r);
		t = proxy_reason_text((enum proxy_reason)r);
		if (l == NULL || t == NULL || *t == '\0' ||
		    strspn(l, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
		    strlen(l) || *l == '\0') {
			diag("reason %d: label %s", r, l ? l : "(null)");
			fine = false;
			continue;
		}
		for (s = 0; s < r; s++)
			if (strcmp(l, proxy_reason_label(
			    (enum proxy_reason)s)) == 0)
				unique = false;
	}
	ok(fine, "every reason has a label of [a-z0-9_] and a text");
	ok(unique, "labels are unique");
	is_str(proxy_reason_label(PROXY_R_V1_PORT), "v1_port",
	    "label of PROXY_R_V1_PORT");
	is_str(proxy_reason_label(PROXY_R_V2_CRC32C), "v2_crc32c",
	    "label of PROXY_R_V2_CRC32C");
	is_str(proxy_reason_label((enum proxy_reason)PROXY_R_COUNT),
	    "unknown", "label of an unknown reason");
	is_str(proxy_reason_text((enum proxy_reason)-1), "unknown",
	    "text of an unknown reason");
}

/* Byte 0 alone decides: only 'P' and CR can begin a header. */
static void
test_first_byte(void)
{
	struct proxy_header	 h;
	enum proxy_status	 st;
	bool			 fine = true;
	unsigned		 c;
	uint8_t			 b;

	is_int(parse("", 0, &h), PROXY_NEED_MORE, "no bytes: need more");
	for (c = 0; c < 256; c++) {
		b = (uint8_t)c;
		st = parse(&b, 1, &h);
		if ((c == 'P' || c == '\r') != (st == PROXY_NEED_MORE) ||
		    (st == PROXY_INVALID && h.ph_reason != PROXY_R_SIGNATURE))
			fine = false;
	}
	ok(fine, "only 'P' and CR may start a header; others are refused "
	    "at once as signature");
}

int
main(void)
{
	test_crc32c();
	test_first_byte();
	test_v1_valid();
	test_v1_invalid();
	test_v2_valid();
	test_v2_invalid();
	test_haproxy();
	test_labels();
	return done_testing();
}
