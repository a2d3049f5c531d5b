/*
 * libFuzzer harness for the PROXY protocol header parser (src/proxy.c).
 * Build and run it with build.sh and run.sh in this directory; README.md
 * says how.
 *
 * Each input is the first bytes of a connection.  Every parse is given
 * a heap copy of exactly the bytes it may read, so AddressSanitizer sees
 * any read past them.  The harness checks proxy.h's contract and aborts,
 * so that libFuzzer keeps the input, when any part of it is broken:
 *
 *  - the status is one of the three; INVALID comes with a reason other
 *    than none and a label and text, the others with none; ph_version is
 *    1 when the first byte is 'P', 2 when it is CR, else 0;
 *  - DONE: ph_len <= the input's length; a v1 header is at most 107
 *    bytes and ends with its first CR or LF, which is a CRLF; a v2
 *    header is 16 plus its length field long, at most PROXY_MAX_LEN;
 *    parsing exactly ph_len bytes gives the same result; unless ph_local,
 *    both addresses are AF_INET or both AF_INET6 with the matching
 *    ph_addrlen, and, written back out as a v1 line and as a v2 header,
 *    they parse again to the same addresses;
 *  - a shorter prefix of the input (all of them up to 128 bytes, then a
 *    sample) either needs more or already gives exactly the result of
 *    the whole input; every strict prefix of a DONE header needs more;
 *  - the result agrees with reference checks written from the spec and
 *    proxy.h rather than from proxy.c: a v1 line that has its CRLF
 *    within 107 bytes is split at its spaces and judged field by field
 *    (same status, reason and addresses); one without a line end in 107
 *    bytes, or with a lone CR or LF, is invalid; a whole v2 header is
 *    checked byte by byte with a bitwise CRC32c (same status and
 *    reason); an incomplete one needs more unless a TLV already broke.
 *
 * A v2 input whose header carries one CRC32c TLV is also checked a
 * second time with the checksum corrected, since random mutation almost
 * never produces a right one.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t	 v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char *const status_name[] = { "need more", "done", "invalid" };

/* The input being checked, for the report on failure. */
static const uint8_t	*cur_data;
static size_t		 cur_size;

static void
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
	va_list	 ap;
	size_t	 j;

	fprintf(stderr, "fuzz-proxy: contract broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfuzz-proxy: input (%zu bytes): \"", cur_size);
	for (j = 0; j < cur_size; j++) {
		if (cur_data[j] == '\r')
			fputs("\\r", stderr);
		else if (cur_data[j] == '\n')
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

/* proxy_parse() on an exact-size heap copy of the first len bytes. */
static enum proxy_status
parse(const uint8_t *data, size_t len, struct proxy_header *h)
{
	enum proxy_status	 st;
	uint8_t			*copy;

	if ((copy = malloc(len ? len : 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(copy, data, len);
	st = proxy_parse(copy, len, h);
	free(copy);
	return st;
}

static bool
same(enum proxy_status s1, const struct proxy_header *h1,
    enum proxy_status s2, const struct proxy_header *h2)
{
	if (s1 != s2 || h1->ph_reason != h2->ph_reason ||
	    h1->ph_version != h2->ph_version)
		return false;
	if (s1 != PROXY_DONE)
		return true;
	return h1->ph_len == h2->ph_len && h1->ph_local == h2->ph_local &&
	    h1->ph_addrlen == h2->ph_addrlen &&
	    memcmp(&h1->ph_src, &h2->ph_src, sizeof(h1->ph_src)) == 0 &&
	    memcmp(&h1->ph_dst, &h2->ph_dst, sizeof(h1->ph_dst)) == 0;
}

static bool
same_addresses(const struct proxy_header *a, const struct proxy_header *b)
{
	return a->ph_local == b->ph_local && a->ph_addrlen == b->ph_addrlen &&
	    memcmp(&a->ph_src, &b->ph_src, sizeof(a->ph_src)) == 0 &&
	    memcmp(&a->ph_dst, &b->ph_dst, sizeof(a->ph_dst)) == 0;
}

/* Checks that hold for any result of any input. */
static void
check_shape(const uint8_t *data, size_t len, enum proxy_status st,
    const struct proxy_header *h)
{
	int	 want_version = 0;

	if (st != PROXY_NEED_MORE && st != PROXY_DONE && st != PROXY_INVALID)
		fail("status %d", (int)st);
	if ((st == PROXY_INVALID) != (h->ph_reason != PROXY_R_NONE))
		fail("%s with reason %s", status_name[st],
		    proxy_reason_label(h->ph_reason));
	if ((unsigned)h->ph_reason >= PROXY_R_COUNT ||
	    strcmp(proxy_reason_label(h->ph_reason), "unknown") == 0 ||
	    proxy_reason_text(h->ph_reason)[0] == '\0')
		fail("reason %d has no label or text", (int)h->ph_reason);
	if (len > 0)
		want_version = data[0] == 'P' ? 1 : data[0] == '\r' ? 2 : 0;
	if (h->ph_version != want_version)
		fail("version %d, want %d", h->ph_version, want_version);
	if (st != PROXY_DONE && (h->ph_len != 0 || h->ph_local ||
	    h->ph_addrlen != 0 || h->ph_src.ss_family != 0 ||
	    h->ph_dst.ss_family != 0))
		fail("%s, but the header fields are filled in",
		    status_name[st]);
	if (len > 0 && data[0] != 'P' && data[0] != '\r' &&
	    (st != PROXY_INVALID || h->ph_reason != PROXY_R_SIGNATURE))
		fail("first byte 0x%02x: %s, %s", data[0], status_name[st],
		    proxy_reason_label(h->ph_reason));
}

/* A v1 line and a v2 header from the addresses must give them back. */
static void
check_roundtrip(const struct proxy_header *h)
{
	const struct sockaddr_in	*s4 = (const void *)&h->ph_src;
	const struct sockaddr_in	*d4 = (const void *)&h->ph_dst;
	const struct sockaddr_in6	*s6 = (const void *)&h->ph_src;
	const struct sockaddr_in6	*d6 = (const void *)&h->ph_dst;
	struct proxy_header		 again;
	enum proxy_status		 st;
	char				 line[160], a[INET6_ADDRSTRLEN],
					 b[INET6_ADDRSTRLEN];
	uint8_t				 v2[16 + 36];
	size_t				 n;

	if (h->ph_src.ss_family == AF_INET) {
		if (h->ph_dst.ss_family != AF_INET ||
		    h->ph_addrlen != sizeof(struct sockaddr_in))
			fail("IPv4 source with destination family %d, "
			    "addrlen %u", h->ph_dst.ss_family,
			    (unsigned)h->ph_addrlen);
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		inet_ntop(AF_INET, &d4->sin_addr, b, sizeof(b));
		snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", a,
		    b, ntohs(s4->sin_port), ntohs(d4->sin_port));
		memcpy(v2, v2sig, 12);
		v2[12] = 0x21;
		v2[13] = 0x11;
		v2[14] = 0;
		v2[15] = 12;
		memcpy(v2 + 16, &s4->sin_addr, 4);
		memcpy(v2 + 20, &d4->sin_addr, 4);
		memcpy(v2 + 24, &s4->sin_port, 2);
		memcpy(v2 + 26, &d4->sin_port, 2);
		n = 28;
	} else if (h->ph_src.ss_family == AF_INET6) {
		if (h->ph_dst.ss_family != AF_INET6 ||
		    h->ph_addrlen != sizeof(struct sockaddr_in6))
			fail("IPv6 source with destination family %d, "
			    "addrlen %u", h->ph_dst.ss_family,
			    (unsigned)h->ph_addrlen);
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		inet_ntop(AF_INET6, &d6->sin6_addr, b, sizeof(b));
		snprintf(line, sizeof(line), "PROXY TCP6 %s %s %u %u\r\n", a,
		    b, ntohs(s6->sin6_port), ntohs(d6->sin6_port));
		memcpy(v2, v2sig, 12);
		v2[12] = 0x21;
		v2[13] = 0x21;
		v2[14] = 0;
		v2[15] = 36;
		memcpy(v2 + 16, &s6->sin6_addr, 16);
		memcpy(v2 + 32, &d6->sin6_addr, 16);
		memcpy(v2 + 48, &s6->sin6_port, 2);
		memcpy(v2 + 50, &d6->sin6_port, 2);
		n = 52;
	} else
		fail("done, not local, source family %d",
		    h->ph_src.ss_family);

	st = parse((const uint8_t *)line, strlen(line), &again);
	if (st != PROXY_DONE || again.ph_len != strlen(line) ||
	    !same_addresses(h, &again))
		fail("the addresses written as \"%.*s\" give %s (%s), %zu "
		    "bytes, other addresses or the same", (int)strlen(line) - 2,
		    line, status_name[st], proxy_reason_label(again.ph_reason),
		    again.ph_len);
	st = parse(v2, n, &again);
	if (st != PROXY_DONE || again.ph_len != n ||
	    !same_addresses(h, &again))
		fail("the addresses written as a v2 header give %s (%s), %zu "
		    "bytes, other addresses or the same", status_name[st],
		    proxy_reason_label(again.ph_reason), again.ph_len);
}

/*
 * Prefix lengths worth checking: all of the first 128, then about 64
 * spread over the rest, and the last few.
 */
static bool
sampled(size_t k, size_t len)
{
	size_t	 step = len / 64 + 1;

	return k < 128 || k + 4 >= len || k % step == 0;
}

/* Shorter prefixes need more, or already give the whole result. */
static void
check_prefixes(const uint8_t *data, size_t len, enum proxy_status st,
    const struct proxy_header *h)
{
	struct proxy_header	 p;
	enum proxy_status	 ps;
	size_t			 k, upto;

	/* For a header, the prefixes of interest end with it. */
	upto = st == PROXY_DONE ? h->ph_len : len;
	for (k = 0; k < upto; k++) {
		if (!sampled(k, upto))
			continue;
		ps = parse(data, k, &p);
		check_shape(data, k, ps, &p);
		if (st == PROXY_DONE && ps != PROXY_NEED_MORE)
			fail("a %zu-byte header's first %zu bytes give %s (%s)",
			    h->ph_len, k, status_name[ps],
			    proxy_reason_label(p.ph_reason));
		if (ps != PROXY_NEED_MORE && !same(ps, &p, st, h))
			fail("the first %zu bytes give %s (%s), all %zu give "
			    "%s (%s)", k, status_name[ps],
			    proxy_reason_label(p.ph_reason), len,
			    status_name[st], proxy_reason_label(h->ph_reason));
	}
	if (st == PROXY_DONE) {
		ps = parse(data, h->ph_len, &p);
		if (!same(ps, &p, st, h))
			fail("exactly the %zu header bytes give %s (%s)",
			    h->ph_len, status_name[ps],
			    proxy_reason_label(p.ph_reason));
	}
}

/* --- reference v1 ---------------------------------------------------- */

struct ref {
	bool			 decided;
	enum proxy_status	 st;
	enum proxy_reason	 why;
	size_t			 len;
	bool			 local;
	struct sockaddr_storage	 src, dst;
};

static bool
ref_port(const uint8_t *s, size_t n, uint16_t *port)
{
	unsigned	 v = 0;
	size_t		 i;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return false;
	for (i = 0; i < n; i++) {
		if (!isdigit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*port = (uint16_t)v;
	return v <= 65535;
}

static bool
ref_addr(int family, const uint8_t *s, size_t n,
    struct sockaddr_storage *ss)
{
	char	 text[128];

	if (n == 0 || n >= sizeof(text) || memchr(s, '\0', n) != NULL)
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	ss->ss_family = (sa_family_t)family;
	return inet_pton(family, text, family == AF_INET ?
	    (void *)&((struct sockaddr_in *)ss)->sin_addr :
	    (void *)&((struct sockaddr_in6 *)ss)->sin6_addr) == 1;
}

static void
ref_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * Judge a v1 input (first byte 'P') whose first CR or LF is a CRLF
 * ending within 107 bytes, field by field in order; other inputs are
 * only known to be invalid (decided, reason unknown: PROXY_R_NONE) or
 * undecided.
 */
static void
ref_v1(const uint8_t *d, size_t len, struct ref *r)
{
	const uint8_t	*f[8];
	size_t		 flen[8], nf = 0, eol, i, start;
	uint16_t	 port[2];
	int		 family;

	memset(r, 0, sizeof(*r));
	for (eol = 0; eol < len && d[eol] != '\r' && d[eol] != '\n'; eol++)
		;
	if (len < 5 || memcmp(d, "PROXY", 5) != 0) {
		for (i = 0; i < len && i < 5; i++)
			if (d[i] != (uint8_t)"PROXY"[i]) {
				r->decided = true;
				r->st = PROXY_INVALID;
				r->why = PROXY_R_SIGNATURE;
			}
		return;
	}
	if (eol + 2 > PROXY_V1_MAX) {
		/* No CRLF can end within 107 bytes. */
		if (len >= PROXY_V1_MAX || (eol < len && d[eol] == '\n')) {
			r->decided = true;
			r->st = PROXY_INVALID;
		}
		return;
	}
	if (eol == len || (d[eol] == '\r' && eol + 1 == len))
		return;				/* the line goes on */
	r->decided = true;
	r->st = PROXY_INVALID;
	if (d[eol] != '\r' || d[eol + 1] != '\n')
		return;				/* a lone CR or LF */

	/* The line d[0..eol) split at single spaces. */
	for (start = i = 0; i <= eol; i++)
		if (i == eol || d[i] == ' ') {
			if (nf < 8) {
				f[nf] = d + start;
				flen[nf] = i - start;
			}
			nf++;
			start = i + 1;
			if (nf == 2 && flen[1] == 7 &&
			    memcmp(f[1], "UNKNOWN", 7) == 0)
				break;		/* the rest is ignored */
		}
	r->why = PROXY_R_V1_SYNTAX;
	if (flen[0] != 5)
		return;				/* "PROXY" then not a space */
	if (nf < 2)
		return;
	if (flen[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
		r->st = PROXY_DONE;
		r->why = PROXY_R_NONE;
		r->local = true;
		r->len = eol + 2;
		return;
	}
	if (flen[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
		family = AF_INET;
	else if (flen[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return;
	for (i = 0; i < 4; i++) {
		if (nf < i + 3 || flen[i + 2] == 0) {
			r->why = PROXY_R_V1_SYNTAX;
			return;
		}
		if (i < 2 && !ref_addr(family, f[i + 2], flen[i + 2],
		    i == 0 ? &r->src : &r->dst)) {
			r->why = PROXY_R_V1_ADDRESS;
			return;
		}
		if (i >= 2 && !ref_port(f[i + 2], flen[i + 2], &port[i - 2])) {
			r->why = PROXY_R_V1_PORT;
			return;
		}
	}
	if (nf != 6)
		return;				/* a seventh field */
	ref_set_port(&r->src, port[0]);
	ref_set_port(&r->dst, port[1]);
	r->st = PROXY_DONE;
	r->why = PROXY_R_NONE;
	r->len = eol + 2;
}

/* --- reference v2 ---------------------------------------------------- */

static uint32_t
ref_crc32c(const uint8_t *p, size_t len)
{
	uint32_t	 crc = 0xffffffff;
	int		 k;

	for (; len > 0; len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return ~crc;
}

static void
ref_decide(struct ref *r, enum proxy_reason why)
{
	r->decided = true;
	r->st = why == PROXY_R_NONE ? PROXY_DONE : PROXY_INVALID;
	r->why = why;
}

/*
 * Judge a v2 input (first byte CR).  *crc_at receives the offset of the
 * single well-formed CRC32c value, or 0.  An incomplete header with no
 * fault in its fixed part is undecided.
 */
static void
ref_v2(const uint8_t *d, size_t len, struct ref *r, size_t *crc_at)
{
	size_t		 i, total, alen, off, tl, ncrc = 0;
	uint8_t		 z[4] = { 0, 0, 0, 0 };
	uint32_t	 crc;

	memset(r, 0, sizeof(*r));
	*crc_at = 0;
	for (i = 0; i < len && i < 12; i++)
		if (d[i] != v2sig[i]) {
			ref_decide(r, PROXY_R_SIGNATURE);
			return;
		}
	if (len < 13)
		return;
	if (d[12] >> 4 != 2) {
		ref_decide(r, PROXY_R_V2_VERSION);
		return;
	}
	if ((d[12] & 0xf) > 1) {
		ref_decide(r, PROXY_R_V2_COMMAND);
		return;
	}
	if (len < 14)
		return;
	switch (d[13]) {
	case 0x00: alen = 0; break;
	case 0x11: case 0x12: alen = 12; break;
	case 0x21: case 0x22: alen = 36; break;
	case 0x31: case 0x32: alen = 216; break;
	default:
		ref_decide(r, PROXY_R_V2_FAMILY);
		return;
	}
	if (len < 16)
		return;
	total = 16 + ((size_t)d[14] << 8) + d[15];
	if (total - 16 < alen) {
		ref_decide(r, PROXY_R_V2_LENGTH);
		return;
	}
	if (total > PROXY_MAX_LEN) {
		ref_decide(r, PROXY_R_V2_TOO_LONG);
		return;
	}
	if (len < total)
		return;
	for (off = 16 + alen; off < total; off += 3 + tl) {
		if (off + 3 > total) {
			ref_decide(r, PROXY_R_V2_TLV);
			return;
		}
		tl = ((size_t)d[off + 1] << 8) + d[off + 2];
		if (off + 3 + tl > total) {
			ref_decide(r, PROXY_R_V2_TLV);
			return;
		}
		if (d[off] == 0x03 && (tl != 4 || ++ncrc > 1)) {
			ref_decide(r, PROXY_R_V2_TLV);
			return;
		}
		if (d[off] == 0x03)
			*crc_at = off + 3;
	}
	if (*crc_at != 0) {
		uint8_t	*copy = malloc(total);

		if (copy == NULL)
			abort();
		memcpy(copy, d, total);
		memcpy(copy + *crc_at, z, 4);
		crc = ref_crc32c(copy, total);
		free(copy);
		if (crc != ((uint32_t)d[*crc_at] << 24 |
		    (uint32_t)d[*crc_at + 1] << 16 |
		    (uint32_t)d[*crc_at + 2] << 8 | d[*crc_at + 3])) {
			ref_decide(r, PROXY_R_V2_CRC32C);
			return;
		}
	}
	ref_decide(r, PROXY_R_NONE);
	r->len = total;
	r->local = (d[12] & 0xf) == 0 || alen == 0 || alen == 216;
	if (!r->local && alen == 12) {
		struct sockaddr_in	*s = (void *)&r->src, *t = (void *)&r->dst;

		s->sin_family = t->sin_family = AF_INET;
		memcpy(&s->sin_addr, d + 16, 4);
		memcpy(&t->sin_addr, d + 20, 4);
		memcpy(&s->sin_port, d + 24, 2);
		memcpy(&t->sin_port, d + 26, 2);
	} else if (!r->local) {
		struct sockaddr_in6	*s = (void *)&r->src, *t = (void *)&r->dst;

		s->sin6_family = t->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, d + 16, 16);
		memcpy(&t->sin6_addr, d + 32, 16);
		memcpy(&s->sin6_port, d + 48, 2);
		memcpy(&t->sin6_port, d + 50, 2);
	}
}

static void
check_reference(const struct ref *r, enum proxy_status st,
    const struct proxy_header *h, int version)
{
	if (!r->decided) {
		if (st == PROXY_DONE || (st == PROXY_INVALID && version == 2 &&
		    h->ph_reason != PROXY_R_V2_TLV))
			fail("v%d: %s (%s), but the reference cannot tell yet",
			    version, status_name[st],
			    proxy_reason_label(h->ph_reason));
		return;
	}
	if (st != r->st || (r->why != PROXY_R_NONE && h->ph_reason != r->why))
		fail("v%d: %s (%s), the reference says %s (%s)", version,
		    status_name[st], proxy_reason_label(h->ph_reason),
		    status_name[r->st], r->why == PROXY_R_NONE && r->st ==
		    PROXY_INVALID ? "any reason" : proxy_reason_label(r->why));
	if (st != PROXY_DONE)
		return;
	if (h->ph_len != r->len || h->ph_local != r->local ||
	    (!r->local && (memcmp(&h->ph_src, &r->src, sizeof(r->src)) != 0 ||
	    memcmp(&h->ph_dst, &r->dst, sizeof(r->dst)) != 0)))
		fail("v%d: done, %zu bytes, local %d, but the reference says "
		    "%zu bytes, local %d, or other addresses", version,
		    h->ph_len, h->ph_local, r->len, r->local);
}

/* --- the input ------------------------------------------------------- */

static size_t
check_input(const uint8_t *data, size_t size)
{
	struct proxy_header	 h;
	enum proxy_status	 st;
	struct ref		 r;
	size_t			 crc_at = 0;

	st = parse(data, size, &h);
	check_shape(data, size, st, &h);
	if (st == PROXY_DONE) {
		if (h.ph_len > size || h.ph_len == 0)
			fail("done with %zu bytes of %zu", h.ph_len, size);
		if (h.ph_version == 1 && (h.ph_len > PROXY_V1_MAX ||
		    data[h.ph_len - 2] != '\r' || data[h.ph_len - 1] != '\n' ||
		    memchr(data, '\r', h.ph_len - 2) != NULL ||
		    memchr(data, '\n', h.ph_len - 2) != NULL))
			fail("a v1 header of %zu bytes that is not one line "
			    "of at most 107", h.ph_len);
		if (h.ph_version == 2 && (h.ph_len > PROXY_MAX_LEN ||
		    h.ph_len != 16 + ((size_t)data[14] << 8) + data[15]))
			fail("a v2 header of %zu bytes", h.ph_len);
		if (!h.ph_local)
			check_roundtrip(&h);
		else if (h.ph_addrlen != 0)
			fail("local, with an address length");
	}
	check_prefixes(data, size, st, &h);
	if (size > 0 && data[0] == 'P') {
		ref_v1(data, size, &r);
		check_reference(&r, st, &h, 1);
	} else if (size > 0 && data[0] == '\r') {
		ref_v2(data, size, &r, &crc_at);
		check_reference(&r, st, &h, 2);
	}
	return crc_at;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*fixed;
	size_t		 at, total;
	uint32_t	 crc;

	cur_data = data;
	cur_size = size;
	at = check_input(data, size);
	if (at == 0)
		return 0;

	/* The same header with its checksum made right. */
	total = 16 + ((size_t)data[14] << 8) + data[15];
	if ((fixed = malloc(size)) == NULL)
		abort();
	memcpy(fixed, data, size);
	memset(fixed + at, 0, 4);
	crc = ref_crc32c(fixed, total);
	fixed[at] = (uint8_t)(crc >> 24);
	fixed[at + 1] = (uint8_t)(crc >> 16);
	fixed[at + 2] = (uint8_t)(crc >> 8);
	fixed[at + 3] = (uint8_t)crc;
	cur_data = fixed;
	check_input(fixed, size);
	free(fixed);
	return 0;
}
