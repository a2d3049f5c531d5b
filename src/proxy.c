/*
 * PROXY protocol v1 and v2 header parser.  Every call parses the whole
 * buffer from its first byte; the bytes are checked in order, so the
 * first fault decides the reason and a longer buffer never changes a
 * decision already made.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxy.h"

#define V1_SIG		"PROXY"
#define V1_SIG_LEN	5
#define V2_SIG_LEN	12
#define V2_ADDR4_LEN	12	/* 2 * 4 address bytes + 2 * 2 port bytes */
#define V2_ADDR6_LEN	36	/* 2 * 16 + 2 * 2 */
#define V2_UNIX_LEN	216	/* 2 * 108 */
#define V2_TLV_HDR	3	/* type, length high, length low */
#define V2_TLV_CRC32C	0x03
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1

static const uint8_t v2_sig[V2_SIG_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static const struct {
	const char	*label;
	const char	*text;
} reasons[PROXY_R_COUNT] = {
	[PROXY_R_NONE] = { "none", "no error" },
	[PROXY_R_SIGNATURE] = { "signature",
	    "not a PROXY protocol header (neither \"PROXY\" nor the v2 "
	    "signature)" },
	[PROXY_R_V1_TOO_LONG] = { "v1_too_long",
	    "v1 line without CRLF in its first 107 bytes" },
	[PROXY_R_V1_SYNTAX] = { "v1_syntax",
	    "v1 line malformed (protocol, spacing, fields or a lone CR/LF)" },
	[PROXY_R_V1_ADDRESS] = { "v1_address",
	    "v1 address invalid for its family" },
	[PROXY_R_V1_PORT] = { "v1_port",
	    "v1 port out of range or with a leading zero" },
	[PROXY_R_V2_VERSION] = { "v2_version", "v2 version is not 2" },
	[PROXY_R_V2_COMMAND] = { "v2_command",
	    "v2 command is neither LOCAL nor PROXY" },
	[PROXY_R_V2_FAMILY] = { "v2_family",
	    "v2 address family or protocol unknown" },
	[PROXY_R_V2_LENGTH] = { "v2_length",
	    "v2 length shorter than its address block" },
	[PROXY_R_V2_TOO_LONG] = { "v2_too_long",
	    "v2 header longer than echod accepts" },
	[PROXY_R_V2_TLV] = { "v2_tlv", "v2 TLV list malformed" },
	[PROXY_R_V2_CRC32C] = { "v2_crc32c", "v2 CRC32c checksum mismatch" },
};

const char *
proxy_reason_label(enum proxy_reason r)
{
	if ((unsigned)r >= PROXY_R_COUNT)
		return "unknown";
	return reasons[r].label;
}

const char *
proxy_reason_text(enum proxy_reason r)
{
	if ((unsigned)r >= PROXY_R_COUNT)
		return "unknown";
	return reasons[r].text;
}

/*
 * CRC32c a nibble at a time: 16 table entries instead of 256, fast
 * enough for one header of at most PROXY_MAX_LEN bytes.  Entry i is the
 * reflected polynomial 0x82f63b78 applied to i for 4 bits.
 */
uint32_t
proxy_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static const uint32_t	 t[16] = {
		0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
		0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
		0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
		0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
	};
	const uint8_t		*p = buf;

	crc = ~crc;
	for (; len > 0; len--) {
		crc ^= *p++;
		crc = t[crc & 0xf] ^ (crc >> 4);
		crc = t[crc & 0xf] ^ (crc >> 4);
	}
	return ~crc;
}

static enum proxy_status
refuse(struct proxy_header *out, enum proxy_reason r)
{
	out->ph_reason = r;
	return PROXY_INVALID;
}

/* --- v1 -------------------------------------------------------------- */

/*
 * The v1 line ran out of bytes at its limit: read on, unless the limit
 * is the spec's 107 bytes, which no CRLF came within.
 */
static enum proxy_status
v1_short(size_t len, struct proxy_header *out)
{
	if (len >= PROXY_V1_MAX)
		return refuse(out, PROXY_R_V1_TOO_LONG);
	return PROXY_NEED_MORE;
}

/* Length of the field at b[i]: up to a space, CR, LF or lim. */
static size_t
v1_field(const uint8_t *b, size_t i, size_t lim)
{
	size_t	 j;

	for (j = i; j < lim && b[j] != ' ' && b[j] != '\r' && b[j] != '\n';
	    j++)
		;
	return j - i;
}

/*
 * Could s[0..n) begin a dotted quad as inet_pton(AF_INET) takes it: four
 * decimal numbers up to 255, without leading zeros?  Catches "01." or
 * "256" before the rest of the line arrives.
 */
static bool
v1_ipv4_prefix(const uint8_t *s, size_t n)
{
	unsigned	 dots = 0, digits = 0, v = 0;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return false;
			digits = v = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (digits == 1 && v == 0)
				return false;
			v = v * 10 + (unsigned)(s[i] - '0');
			if (++digits > 3 || v > 255)
				return false;
		} else
			return false;
	}
	return true;
}

/* Could s[0..n) begin an IPv6 address?  Only the alphabet and length. */
static bool
v1_ipv6_prefix(const uint8_t *s, size_t n)
{
	size_t	 i;

	if (n > INET6_ADDRSTRLEN - 1)
		return false;
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdefABCDEF:.", s[i]) == NULL ||
		    s[i] == '\0')
			return false;
	return true;
}

/*
 * The address field s[0..n), whole (followed by a delimiter) or so far.
 * A whole one is stored into *ss.
 */
static bool
v1_address(int family, const uint8_t *s, size_t n, bool whole,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 text[INET6_ADDRSTRLEN];

	if (family == AF_INET ? !v1_ipv4_prefix(s, n) : !v1_ipv6_prefix(s, n))
		return false;
	if (!whole)
		return true;
	/* The prefix checks bound n below INET6_ADDRSTRLEN. */
	memcpy(text, s, n);
	text[n] = '\0';
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET)
		return inet_pton(AF_INET, text, &sin->sin_addr) == 1;
	return inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1;
}

/*
 * The port field s[0..n), whole or so far: decimal, 0 to 65535, no
 * leading zero.  A whole one is stored into *port (host order).
 */
static bool
v1_port(const uint8_t *s, size_t n, bool whole, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (n > 5 || (n > 1 && s[0] == '0') || (whole && n == 0))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "PROXY UNKNOWN" ended at b[i]: anything up to the CRLF is ignored. */
static enum proxy_status
v1_unknown(const uint8_t *b, size_t i, size_t len, size_t lim,
    struct proxy_header *out)
{
	if (b[i] == ' ')
		for (i++; i < lim && b[i] != '\r' && b[i] != '\n'; i++)
			;
	if (i == lim)
		return v1_short(len, out);
	if (b[i] != '\r')
		return refuse(out, PROXY_R_V1_SYNTAX);	/* a lone LF */
	if (i + 1 == lim)
		return v1_short(len, out);
	if (b[i + 1] != '\n')
		return refuse(out, PROXY_R_V1_SYNTAX);	/* a lone CR */
	out->ph_local = true;
	out->ph_len = i + 2;
	return PROXY_DONE;
}

static bool
v1_word_prefix(const uint8_t *s, size_t n, const char *word)
{
	return n <= strlen(word) && memcmp(s, word, n) == 0;
}

static bool
v1_word(const uint8_t *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* b[0..5) is "PROXY" as far as len goes. */
static enum proxy_status
v1_parse(const uint8_t *b, size_t len, struct proxy_header *out)
{
	struct sockaddr_storage	*addr[2] = { &out->ph_src, &out->ph_dst };
	uint16_t		 port[2] = { 0, 0 };
	size_t			 lim, i, n, k;
	bool			 ok, whole;
	int			 family;

	lim = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	if (lim <= V1_SIG_LEN)
		return v1_short(len, out);
	if (b[V1_SIG_LEN] != ' ')
		return refuse(out, PROXY_R_V1_SYNTAX);
	i = V1_SIG_LEN + 1;

	n = v1_field(b, i, lim);
	if (i + n == lim) {
		if (!v1_word_prefix(b + i, n, "TCP4") &&
		    !v1_word_prefix(b + i, n, "TCP6") &&
		    !v1_word_prefix(b + i, n, "UNKNOWN"))
			return refuse(out, PROXY_R_V1_SYNTAX);
		return v1_short(len, out);
	}
	if (v1_word(b + i, n, "UNKNOWN"))
		return v1_unknown(b, i + n, len, lim, out);
	if (v1_word(b + i, n, "TCP4"))
		family = AF_INET;
	else if (v1_word(b + i, n, "TCP6"))
		family = AF_INET6;
	else
		return refuse(out, PROXY_R_V1_SYNTAX);
	i += n;

	/* Source and destination addresses, then ports, one space before. */
	for (k = 0; k < 4; k++) {
		if (b[i] != ' ')
			return refuse(out, PROXY_R_V1_SYNTAX);
		if (++i == lim)
			return v1_short(len, out);
		n = v1_field(b, i, lim);
		whole = i + n < lim;
		if (whole && n == 0)
			return refuse(out, PROXY_R_V1_SYNTAX);
		if (k < 2)
			ok = v1_address(family, b + i, n, whole, addr[k]);
		else
			ok = v1_port(b + i, n, whole, &port[k - 2]);
		if (!ok)
			return refuse(out, k < 2 ? PROXY_R_V1_ADDRESS :
			    PROXY_R_V1_PORT);
		if (!whole)
			return v1_short(len, out);
		i += n;
	}
	/* A space here starts a field too many; an LF is a lone one. */
	if (b[i] != '\r')
		return refuse(out, PROXY_R_V1_SYNTAX);
	if (i + 1 == lim)
		return v1_short(len, out);
	if (b[i + 1] != '\n')
		return refuse(out, PROXY_R_V1_SYNTAX);

	if (family == AF_INET) {
		((struct sockaddr_in *)&out->ph_src)->sin_port = htons(port[0]);
		((struct sockaddr_in *)&out->ph_dst)->sin_port = htons(port[1]);
		out->ph_addrlen = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&out->ph_src)->sin6_port =
		    htons(port[0]);
		((struct sockaddr_in6 *)&out->ph_dst)->sin6_port =
		    htons(port[1]);
		out->ph_addrlen = sizeof(struct sockaddr_in6);
	}
	out->ph_len = i + 2;
	return PROXY_DONE;
}

/* --- v2 -------------------------------------------------------------- */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* The CRC32c of b[0..len) with the 4 bytes at b[at] taken as zeroes. */
static uint32_t
v2_crc32c(const uint8_t *b, size_t len, size_t at)
{
	static const uint8_t	 zero[4];
	uint32_t		 crc;

	crc = proxy_crc32c(0, b, at);
	crc = proxy_crc32c(crc, zero, sizeof(zero));
	return proxy_crc32c(crc, b + at + 4, len - at - 4);
}

static void
v2_addresses(const uint8_t *b, uint8_t fam, struct proxy_header *out)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&out->ph_src;
	struct sockaddr_in	*d4 = (struct sockaddr_in *)&out->ph_dst;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&out->ph_src;
	struct sockaddr_in6	*d6 = (struct sockaddr_in6 *)&out->ph_dst;
	const uint8_t		*a = b + PROXY_V2_MIN;

	/* Both the header and sockaddrs are in network byte order. */
	if ((fam >> 4) == 0x1) {
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
		out->ph_addrlen = sizeof(struct sockaddr_in);
	} else {
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
		out->ph_addrlen = sizeof(struct sockaddr_in6);
	}
}

/* b[0..12) is the v2 signature as far as len goes. */
static enum proxy_status
v2_parse(const uint8_t *b, size_t len, struct proxy_header *out)
{
	size_t		 total, addrlen, off, tlen, crc_at = 0;
	uint8_t		 cmd, fam;

	if (len <= V2_SIG_LEN)
		return PROXY_NEED_MORE;
	if ((b[12] >> 4) != 2)
		return refuse(out, PROXY_R_V2_VERSION);
	cmd = b[12] & 0xf;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return refuse(out, PROXY_R_V2_COMMAND);
	if (len <= 13)
		return PROXY_NEED_MORE;
	fam = b[13];
	switch (fam) {
	case 0x00:
		addrlen = 0;
		break;
	case 0x11:
	case 0x12:
		addrlen = V2_ADDR4_LEN;
		break;
	case 0x21:
	case 0x22:
		addrlen = V2_ADDR6_LEN;
		break;
	case 0x31:
	case 0x32:
		addrlen = V2_UNIX_LEN;
		break;
	default:
		return refuse(out, PROXY_R_V2_FAMILY);
	}
	if (len < PROXY_V2_MIN)
		return PROXY_NEED_MORE;
	total = PROXY_V2_MIN + get16(b + 14);
	if (total - PROXY_V2_MIN < addrlen)
		return refuse(out, PROXY_R_V2_LENGTH);
	if (total > PROXY_MAX_LEN)
		return refuse(out, PROXY_R_V2_TOO_LONG);

	/* Walk the TLVs that have arrived, to refuse a bad one early. */
	for (off = PROXY_V2_MIN + addrlen; off < total;
	    off += V2_TLV_HDR + tlen) {
		if (total - off < V2_TLV_HDR)
			return refuse(out, PROXY_R_V2_TLV);
		if (len < off + V2_TLV_HDR)
			return PROXY_NEED_MORE;
		tlen = get16(b + off + 1);
		if (tlen > total - off - V2_TLV_HDR)
			return refuse(out, PROXY_R_V2_TLV);
		if (b[off] == V2_TLV_CRC32C) {
			/* One checksum of 4 bytes, or it is ambiguous. */
			if (tlen != 4 || crc_at != 0)
				return refuse(out, PROXY_R_V2_TLV);
			crc_at = off + V2_TLV_HDR;
		}
	}
	if (len < total)
		return PROXY_NEED_MORE;
	if (crc_at != 0 && v2_crc32c(b, total, crc_at) != get32(b + crc_at))
		return refuse(out, PROXY_R_V2_CRC32C);

	if (cmd == V2_CMD_LOCAL || addrlen == 0 || addrlen == V2_UNIX_LEN)
		out->ph_local = true;
	else
		v2_addresses(b, fam, out);
	out->ph_len = total;
	return PROXY_DONE;
}

/* --- both ------------------------------------------------------------ */

/*
 * Only a whole header's fields mean anything: clear what a parse that
 * stopped half way may have filled in.
 */
static enum proxy_status
finish(enum proxy_status st, struct proxy_header *out)
{
	if (st != PROXY_DONE) {
		out->ph_len = 0;
		out->ph_local = false;
		memset(&out->ph_src, 0, sizeof(out->ph_src));
		memset(&out->ph_dst, 0, sizeof(out->ph_dst));
		out->ph_addrlen = 0;
	}
	return st;
}

enum proxy_status
proxy_parse(const void *buf, size_t len, struct proxy_header *out)
{
	const uint8_t	*b = buf;
	size_t		 n;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return PROXY_NEED_MORE;
	if (b[0] == 'P') {
		out->ph_version = 1;
		n = len < V1_SIG_LEN ? len : V1_SIG_LEN;
		if (memcmp(b, V1_SIG, n) != 0)
			return refuse(out, PROXY_R_SIGNATURE);
		return finish(v1_parse(b, len, out), out);
	}
	if (b[0] == v2_sig[0]) {
		out->ph_version = 2;
		n = len < V2_SIG_LEN ? len : V2_SIG_LEN;
		if (memcmp(b, v2_sig, n) != 0)
			return refuse(out, PROXY_R_SIGNATURE);
		return finish(v2_parse(b, len, out), out);
	}
	return refuse(out, PROXY_R_SIGNATURE);
}
