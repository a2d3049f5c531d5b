/*
 * libFuzzer harness for the HTTP request reader and response formatter
 * (src/http.c).  Build and run it with build.sh and run.sh in this
 * directory; README.md says how.
 *
 * Each input is the bytes a client sends.  The harness checks the
 * contract in http.h and aborts, so that libFuzzer keeps the input, when
 * any part of it is broken:
 *
 *  - http_parse() returns HTTP_MORE, HTTP_DONE or HTTP_ERROR; "more"
 *    leaves the request untouched and comes only below HTTP_MAX_REQUEST
 *    bytes; "done" is GET or HEAD, HTTP/1.0 or 1.1, with a head of at
 *    most the input and HTTP_MAX_REQUEST bytes that ends in an empty
 *    line, and a path inside the head (or the static "/") that starts
 *    with '/' and holds only what a path may; "error" has one of the
 *    statuses 400, 405, 414, 431, 505 and nothing else;
 *  - the answer is decided at one point: fed one byte at a time, the
 *    parser says "more" up to some length k, then the whole input's
 *    answer from k on; a fresh parser given exactly k bytes says the
 *    same and one given k - 1 bytes says "more"; for "done", k is the
 *    head's length.  Fed in random chunks, each in a new exact-size heap
 *    buffer (so AddressSanitizer sees a read past the bytes given, and
 *    the buffer moves), it says the same again, also when called once
 *    more after deciding;
 *  - a reference reader written apart from http.c, line by line rather
 *    than byte by byte, agrees: a head it finds valid gets exactly the
 *    answer http.h documents for it (done with the same method, version,
 *    path and length, or 505, 400 for a missing Host, 405), at its end;
 *    a complete line it finds invalid gets a 400 decided inside that
 *    line; a 101st header line gets 431; past HTTP_MAX_REQUEST bytes,
 *    414 inside the request line and 431 after it;
 *  - a done request's path, put in a minimal request of its own, reads
 *    back as the same path; http_path_is() agrees with memcmp().
 *
 * run.sh caps inputs at 4096 bytes, so about one input in four is also
 * checked inflated to around HTTP_MAX_REQUEST bytes (one of its bytes
 * repeated), to reach the limit.
 *
 * The formatter gets a status, a content type (a piece of the input)
 * and a length chosen from the input, and an exact-size heap buffer of
 * the needed size, one byte less or more, HTTP_HEAD_MAX or random.  Its
 * output must match a reference rendering byte for byte, or be -1 with
 * an empty buffer exactly when the status is unknown, the type holds a
 * byte outside 0x20-0x7e or is longer than 128 bytes, or the head does
 * not fit.
 */
#include "autoconf.h"

#include <sys/types.h>

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define FILL		0xa5	/* marks bytes that must stay untouched */

/* Hashing wraps on purpose: quiet -fsanitize=unsigned-integer-overflow. */
#ifdef __clang__
#define WRAPS	__attribute__((no_sanitize("unsigned-integer-overflow")))
#else
#define WRAPS
#endif
#define NOPATH		SIZE_MAX	/* the path is the static "/" */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The input being checked, for the report on failure. */
static const uint8_t	*cur_data;
static size_t		 cur_size;

/* What a parse gave, with the path as an offset into the buffer. */
struct outcome {
	enum http_result	 r;
	int			 status;
	int			 method;
	int			 minor;
	size_t			 headlen;
	size_t			 pathoff, pathlen;
};

static void
fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
	va_list		 ap;
	size_t		 j;

	fprintf(stderr, "fuzz-http: contract broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, "fuzz-http: input (%zu bytes): \"", cur_size);
	for (j = 0; j < cur_size && j < 16384; j++) {
		if (cur_data[j] == '\n')
			fputs("\\n", stderr);
		else if (cur_data[j] == '\r')
			fputs("\\r", stderr);
		else if (cur_data[j] == '\\' || cur_data[j] == '"')
			fprintf(stderr, "\\%c", cur_data[j]);
		else if (cur_data[j] >= 0x20 && cur_data[j] < 0x7f)
			fputc(cur_data[j], stderr);
		else
			fprintf(stderr, "\\x%02x", cur_data[j]);
	}
	fputs("\"\n", stderr);
	abort();
}

/* An exact-size heap copy of len bytes (the pointer is never NULL). */
static char *
copy(const uint8_t *d, size_t len)
{
	char	*b = malloc(len == 0 ? 1 : len);

	if (b == NULL)
		abort();
	if (len > 0)
		memcpy(b, d, len);
	return b;
}

/* A small deterministic generator (splitmix64), seeded from the input. */
static uint64_t WRAPS
rnd(uint64_t *s)
{
	uint64_t	 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t WRAPS
seed_of(const uint8_t *d, size_t n)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < n; i++)
		h = (h ^ d[i]) * 0x100000001b3ULL;
	return h ^ n;
}

static bool
same(const struct outcome *a, const struct outcome *b)
{
	return a->r == b->r && a->status == b->status &&
	    a->method == b->method && a->minor == b->minor &&
	    a->headlen == b->headlen && a->pathoff == b->pathoff &&
	    a->pathlen == b->pathlen;
}

/* An outcome as text, for reports; two calls may share a format. */
static const char *
show(const struct outcome *o)
{
	static char	 s[2][160];
	static int	 i;

	i = !i;
	if (o->r == HTTP_MORE)
		snprintf(s[i], sizeof(s[i]), "more");
	else if (o->r == HTTP_ERROR)
		snprintf(s[i], sizeof(s[i]), "error %d", o->status);
	else
		snprintf(s[i], sizeof(s[i]), "done: method %d, HTTP/1.%d, "
		    "head %zu, path at %zd, %zu bytes", o->method, o->minor,
		    o->headlen, o->pathoff == NOPATH ? (ssize_t)-1 :
		    (ssize_t)o->pathoff, o->pathlen);
	return s[i];
}

/*
 * Character classes, written from RFC 9110 and RFC 3986 rather than
 * from http.c.
 */
static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 &&
	    memchr("!#$%&'*+-.^_`|~", c, 15) != NULL);
}

static bool
is_hexdig(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* unreserved or sub-delims, or one of extra. */
static bool
in_set(unsigned char c, const char *extra)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 &&
	    (memchr("-._~!$&'()*+,;=", c, 15) != NULL ||
	    memchr(extra, c, strlen(extra)) != NULL));
}

/* Every byte of s[0..n) in the set (with extra), or part of a %XX. */
static bool
all_in(const char *s, size_t n, const char *extra)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (n - i < 3 || !is_hexdig((unsigned char)s[i + 1]) ||
			    !is_hexdig((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (!in_set((unsigned char)s[i], extra))
			return false;
	}
	return true;
}

/*
 * Record what http_parse() gave for buf (len bytes) and check the
 * general contract: the result, the members for each, a path inside
 * the head that a path may be.
 */
static struct outcome
record(enum http_result r, const struct http_request *req, const char *buf,
    size_t len)
{
	struct outcome	 o;
	const char	*p;

	memset(&o, 0, sizeof(o));
	o.r = r;
	o.pathoff = NOPATH;
	switch (r) {
	case HTTP_MORE:
		if (len >= HTTP_MAX_REQUEST)
			fail("more after %zu bytes", len);
		return o;
	case HTTP_ERROR:
		if (req->hr_status != 400 && req->hr_status != 405 &&
		    req->hr_status != 414 && req->hr_status != 431 &&
		    req->hr_status != 505)
			fail("error with status %d", req->hr_status);
		if (req->hr_path != NULL || req->hr_pathlen != 0 ||
		    req->hr_headlen != 0 || req->hr_minor != 0 ||
		    req->hr_method != 0)
			fail("error %d with a request", req->hr_status);
		o.status = req->hr_status;
		return o;
	case HTTP_DONE:
		break;
	default:
		fail("http_parse returned %d", (int)r);
	}
	o.method = (int)req->hr_method;
	o.minor = req->hr_minor;
	o.headlen = req->hr_headlen;
	o.pathlen = req->hr_pathlen;
	if (req->hr_status != 0)
		fail("done with status %d", req->hr_status);
	if (o.method != HTTP_GET && o.method != HTTP_HEAD)
		fail("done with method %d", o.method);
	if (o.minor != 0 && o.minor != 1)
		fail("done with HTTP/1.%d", o.minor);
	if (o.headlen == 0 || o.headlen > len ||
	    o.headlen > HTTP_MAX_REQUEST)
		fail("done with a head of %zu of %zu bytes", o.headlen, len);
	if (!(buf[o.headlen - 1] == '\n' && ((o.headlen >= 2 &&
	    buf[o.headlen - 2] == '\n') || (o.headlen >= 3 &&
	    buf[o.headlen - 2] == '\r' && buf[o.headlen - 3] == '\n'))))
		fail("done with a head that does not end in an empty line");
	p = req->hr_path;
	if (p == NULL || o.pathlen == 0)
		fail("done without a path");
	if (p >= buf && p < buf + o.headlen) {
		if (o.pathlen > o.headlen - (size_t)(p - buf))
			fail("the path runs past the head");
		o.pathoff = (size_t)(p - buf);
	} else if (o.pathlen != 1 || p[0] != '/')
		fail("a path outside the head that is not \"/\"");
	if (p[0] != '/' || !all_in(p, o.pathlen, ":@/"))
		fail("a path that is not one: \"%.*s\"", (int)o.pathlen, p);
	return o;
}

/* A fresh parser over an exact-size copy of the first len bytes of d. */
static struct outcome
parse_fresh(const uint8_t *d, size_t len)
{
	struct http_parser	 p;
	struct http_request	 req, before;
	struct outcome		 o;
	enum http_result	 r;
	char			*b = copy(d, len);

	http_parser_init(&p);
	memset(&req, FILL, sizeof(req));
	memset(&before, FILL, sizeof(before));
	r = http_parse(&p, b, len, &req);
	if (r == HTTP_MORE && memcmp(&req, &before, sizeof(req)) != 0)
		fail("more, and the request was changed");
	o = record(r, &req, b, len);
	free(b);
	return o;
}

/*
 * What the reference reader allows for an input: "more", an error with
 * status err decided at k in (lo, hi], exactly 'want' decided at 'at',
 * or the limit's status decided at HTTP_MAX_REQUEST.
 */
struct expect {
	bool		 more;
	int		 err;
	size_t		 lo, hi;
	bool		 exact;
	struct outcome	 want;
	size_t		 at;
	int		 limit;
};

/*
 * A request-target: its path as an offset into t (NOPATH for none) and
 * a length.  getlike: the method is GET or HEAD, which "*" is not for.
 */
static bool
ref_target(const char *t, size_t n, bool getlike, size_t *pathoff,
    size_t *pathlen)
{
	const char	*s = t, *e = t + n, *q;

	*pathoff = NOPATH;
	*pathlen = 0;
	if (n == 1 && t[0] == '*')
		return !getlike;
	if (n >= 7 && strncasecmp(t, "http://", 7) == 0) {
		for (s = t + 7; s < e && *s != '/' && *s != '?'; s++)
			;
		if (s == t + 7 || !all_in(t + 7, (size_t)(s - t - 7), ":[]"))
			return false;
	} else if (n == 0 || t[0] != '/')
		return false;
	q = memchr(s, '?', (size_t)(e - s));
	if (q == NULL)
		q = e;
	if (!all_in(s, (size_t)(q - s), ":@/") ||
	    (q < e && !all_in(q + 1, (size_t)(e - q - 1), ":@/?")))
		return false;
	if (q > s) {
		*pathoff = (size_t)(s - t);
		*pathlen = (size_t)(q - s);
	}
	return true;
}

/*
 * The request line l[0..n): the method (-1 for another), the path,
 * major and minor (a later 1.x as 1).
 */
static bool
ref_request_line(const char *l, size_t n, int *method, size_t *pathoff,
    size_t *pathlen, int *major, int *minor)
{
	const char	*sp1, *sp2, *v;
	size_t		 i;

	if ((sp1 = memchr(l, ' ', n)) == NULL || sp1 == l ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(l + n - sp1 - 1))) == NULL)
		return false;
	for (i = 0; l + i < sp1; i++)
		if (!is_tchar((unsigned char)l[i]))
			return false;
	*method = -1;
	if (sp1 - l == 3 && memcmp(l, "GET", 3) == 0)
		*method = HTTP_GET;
	else if (sp1 - l == 4 && memcmp(l, "HEAD", 4) == 0)
		*method = HTTP_HEAD;
	if (!ref_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), *method != -1,
	    pathoff, pathlen))
		return false;
	if (*pathoff != NOPATH)
		*pathoff += (size_t)(sp1 + 1 - l);
	v = sp2 + 1;
	if (l + n - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
	    v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return false;
	*major = v[5] - '0';
	*minor = v[7] == '0' ? 0 : 1;
	return true;
}

/* A header line l[0..n); counts Host lines in *nhost. */
static bool
ref_header_line(const char *l, size_t n, unsigned *nhost)
{
	const char	*colon, *v, *e = l + n;
	size_t		 i;

	if ((colon = memchr(l, ':', n)) == NULL || colon == l)
		return false;
	for (i = 0; l + i < colon; i++)
		if (!is_tchar((unsigned char)l[i]))
			return false;
	for (v = colon + 1; v < e; v++)
		if (((unsigned char)*v < 0x21 && *v != ' ' && *v != '\t') ||
		    (unsigned char)*v == 0x7f)
			return false;
	if (colon - l != 4 || strncasecmp(l, "host", 4) != 0)
		return true;
	if (++*nhost > 1)
		return false;
	/* uri-host [":" port] between optional blanks; '%' as is. */
	for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (; v < e; v++)
		if (!in_set((unsigned char)*v, ":[]%"))
			return false;
	return true;
}

/*
 * The reference reader: line by line (a line ends at LF, one CR before
 * the LF is dropped, any other CR makes it wrong), each whole line
 * judged at once.
 */
static void
reference(const uint8_t *d, size_t size, struct expect *e)
{
	const char	*buf = (const char *)d, *l, *lf;
	size_t		 s = 0, n, end, poff = NOPATH, plen = 0;
	size_t		 rl_end = SIZE_MAX;
	unsigned	 nhdr = 0, nhost = 0;
	int		 method = -1, major = 0, minor = 0;
	bool		 ok;

	memset(e, 0, sizeof(*e));
	for (;; s = end) {
		l = buf + s;
		if (rl_end != SIZE_MAX && nhdr == HTTP_MAX_HEADERS &&
		    s < size && is_tchar(d[s])) {
			/* One header line too many, known at its first byte. */
			e->err = 431;
			e->lo = s;
			e->hi = s + 1;
			break;
		}
		if ((lf = memchr(l, '\n', size - s)) == NULL) {
			/* A partial line, which may be wrong already. */
			e->more = true;
			e->err = 400;
			e->lo = s;
			e->hi = size;
			break;
		}
		end = (size_t)(lf - buf) + 1;
		n = (size_t)(lf - l);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		ok = memchr(l, '\r', n) == NULL;
		if (ok && n == 0 && rl_end == SIZE_MAX)
			continue;	/* a blank line before the request */
		if (ok && n == 0) {
			e->exact = true;
			e->at = end;
			e->want.pathoff = NOPATH;
			if (major != 1)
				e->want.status = 505;
			else if (minor == 1 && nhost == 0)
				e->want.status = 400;
			else if (method == -1)
				e->want.status = 405;
			if (e->want.status != 0) {
				e->want.r = HTTP_ERROR;
				break;
			}
			e->want.r = HTTP_DONE;
			e->want.method = method;
			e->want.minor = minor;
			e->want.headlen = end;
			e->want.pathoff = poff;
			e->want.pathlen = poff == NOPATH ? 1 : plen;
			break;
		}
		if (ok && rl_end == SIZE_MAX) {
			ok = ref_request_line(l, n, &method, &poff, &plen,
			    &major, &minor);
			if (ok) {
				if (poff != NOPATH)
					poff += s;
				rl_end = end;
			}
		} else if (ok) {
			nhdr++;
			ok = ref_header_line(l, n, &nhost);
		}
		if (!ok) {
			e->err = 400;
			e->lo = s;
			e->hi = end;
			break;
		}
	}

	/*
	 * The limit: what is not decided by HTTP_MAX_REQUEST bytes is
	 * refused there, with 414 inside the request line.
	 */
	if ((e->exact && e->at > HTTP_MAX_REQUEST) ||
	    (!e->exact && (e->hi > HTTP_MAX_REQUEST ||
	    (e->more && size >= HTTP_MAX_REQUEST)))) {
		e->limit = rl_end > HTTP_MAX_REQUEST ? 414 : 431;
		e->exact = false;
		e->more = false;
		if (e->lo >= HTTP_MAX_REQUEST)
			e->err = 0;
		if (e->hi > HTTP_MAX_REQUEST)
			e->hi = HTTP_MAX_REQUEST;
	}
}

static bool
allowed(const struct expect *e, const struct outcome *o, size_t k)
{
	if (o->r == HTTP_MORE)
		return e->more;
	if (e->exact && same(o, &e->want) && k == e->at)
		return true;
	if (e->err != 0 && o->r == HTTP_ERROR && o->status == e->err &&
	    k > e->lo && k <= e->hi)
		return true;
	return e->limit != 0 && o->r == HTTP_ERROR &&
	    o->status == e->limit && k == HTTP_MAX_REQUEST;
}

/* A done request's path, alone in a minimal request, reads the same. */
static void
check_path(const char *path, size_t len)
{
	struct http_request	 req;
	struct outcome		 o;
	size_t			 n;
	char			*b, *z;

	n = len + sizeof("GET  HTTP/1.0\r\n\r\n") - 1;
	/* A head of bare LFs may fit the limit where CRLFs would not. */
	if (n > HTTP_MAX_REQUEST)
		return;
	b = malloc(n + 1);
	z = malloc(len + 2);
	if (b == NULL || z == NULL)
		abort();
	memcpy(b, "GET ", 4);
	memcpy(b + 4, path, len);
	memcpy(b + 4 + len, " HTTP/1.0\r\n\r\n", 14);
	o = parse_fresh((const uint8_t *)b, n);
	if (o.r != HTTP_DONE || o.pathoff != 4 || o.pathlen != len)
		fail("the path \"%.*s\" alone gives %s", (int)len, path,
		    show(&o));

	memset(&req, 0, sizeof(req));
	req.hr_path = path;
	req.hr_pathlen = len;
	memcpy(z, path, len);
	z[len] = '\0';
	if (!http_path_is(&req, z))
		fail("http_path_is(\"%s\") is false for its own path", z);
	z[len] = 'x';
	z[len + 1] = '\0';
	if (http_path_is(&req, z))
		fail("http_path_is(\"%s\") is true for a prefix", z);
	if (len > 1) {
		z[len - 1] = '\0';
		if (http_path_is(&req, z))
			fail("http_path_is(\"%s\") is true for a longer path",
			    z);
	}
	free(z);
	free(b);
}

static void
check_request(const uint8_t *d, size_t size, uint64_t *seed)
{
	struct http_parser	 p;
	struct http_request	 req;
	struct outcome		 full, o, again;
	struct expect		 e;
	enum http_result	 r;
	char			*b, *prev;
	size_t			 n, k = SIZE_MAX;

	full = parse_fresh(d, size);

	/* One byte at a time: more until k, then the same answer. */
	b = copy(d, size);
	http_parser_init(&p);
	o.r = HTTP_MORE;
	for (n = 0; n <= size; n++) {
		r = http_parse(&p, b, n, &req);
		if (r != HTTP_MORE) {
			o = record(r, &req, b, n);
			k = n;
			break;
		}
	}
	if (k == SIZE_MAX)
		o = record(HTTP_MORE, &req, b, size);
	if (!same(&o, &full))
		fail("one byte at a time: %s; at once: %s", show(&o),
		    show(&full));
	if (k != SIZE_MAX) {
		again = record(http_parse(&p, b, size, &req), &req, b, size);
		if (!same(&o, &again))
			fail("called again: %s, then %s", show(&o),
			    show(&again));
	}
	free(b);

	if (k == 0)
		fail("%s with no bytes", show(&o));
	if (k != SIZE_MAX) {
		if (full.r == HTTP_DONE && k != full.headlen)
			fail("done after %zu bytes, with a head of %zu", k,
			    full.headlen);
		o = parse_fresh(d, k);
		if (!same(&o, &full))
			fail("the first %zu bytes give %s, all give %s", k,
			    show(&o), show(&full));
		o = parse_fresh(d, k - 1);
		if (o.r != HTTP_MORE)
			fail("the first %zu bytes give %s, not more", k - 1,
			    show(&o));
	}

	/* Random chunks, each time in a new exact-size buffer. */
	http_parser_init(&p);
	prev = NULL;
	for (n = 0;;) {
		b = copy(d, n);
		free(prev);
		prev = b;
		r = http_parse(&p, b, n, &req);
		o = record(r, &req, b, n);
		if (n < k ? o.r != HTTP_MORE : !same(&o, &full))
			fail("in chunks, at %zu bytes: %s; at once: %s", n,
			    show(&o), show(&full));
		if (n == size)
			break;
		n += 1 + (size_t)(rnd(seed) % (size / 4 + 1));
		if (n > size)
			n = size;
	}
	free(prev);

	reference(d, size, &e);
	if (!allowed(&e, &full, k))
		fail("%s at %zd; the reference allows: %s%s, error %d in "
		    "(%zu, %zu], %s at %zu, limit %d",
		    show(&full), k == SIZE_MAX ? (ssize_t)-1 : (ssize_t)k,
		    e.more ? "more" : "not more", "", e.err, e.lo, e.hi,
		    e.exact ? show(&e.want) : "nothing", e.at, e.limit);

	if (full.r == HTTP_DONE)
		check_path(full.pathoff == NOPATH ? "/" :
		    (const char *)d + full.pathoff, full.pathlen);
}

/* The reason phrases, from RFC 9110 section 15. */
static const char *
ref_reason(int status)
{
	static const struct { int s; const char *r; } t[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 414, "URI Too Long" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].s == status)
			return t[i].r;
	return NULL;
}

static void
append(char *out, size_t *o, const char *s)
{
	size_t	 n = strlen(s);

	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

static void
check_format(const uint8_t *d, size_t size, uint64_t *seed)
{
	static const int	 statuses[] = {
		200, 400, 404, 405, 414, 431, 500, 503, 505,
		0, -1, 99, 201, 204, 302, 401, 501, 600, INT_MAX, INT_MIN,
	};
	char			 want[1024], num[32], *type = NULL, *buf;
	const char		*reason;
	uint64_t		 v = rnd(seed);
	size_t			 start, tlen, clen, len, wlen = 0, i;
	int			 status, rc;
	bool			 fits;

	status = statuses[v % (sizeof(statuses) / sizeof(statuses[0]))];
	if ((v >> 8) & 3) {
		/* A piece of the input, up to its first NUL. */
		start = size == 0 ? 0 : (size_t)(v >> 16) % size;
		tlen = (size_t)(v >> 32) % 160;
		if (tlen > size - start)
			tlen = size - start;
		tlen = strnlen((const char *)d + start, tlen);
		if ((type = malloc(tlen + 1)) == NULL)
			abort();
		memcpy(type, d + start, tlen);
		type[tlen] = '\0';
	}
	switch (rnd(seed) % 4) {
	case 0:
		clen = 0;
		break;
	case 1:
		clen = SIZE_MAX;
		break;
	case 2:
		clen = (size_t)rnd(seed) % 100000;
		break;
	default:
		clen = (size_t)rnd(seed);
		break;
	}

	/* The reference rendering. */
	want[0] = '\0';
	reason = ref_reason(status);
	fits = reason != NULL;
	if (type != NULL) {
		for (i = 0; type[i] != '\0'; i++)
			if ((unsigned char)type[i] < 0x20 ||
			    (unsigned char)type[i] > 0x7e)
				fits = false;
		if (i > 128)
			fits = false;
	}
	if (fits) {
		snprintf(num, sizeof(num), "%d", status);
		append(want, &wlen, "HTTP/1.1 ");
		append(want, &wlen, num);
		append(want, &wlen, " ");
		append(want, &wlen, reason);
		append(want, &wlen, "\r\n");
		if (type != NULL) {
			append(want, &wlen, "Content-Type: ");
			append(want, &wlen, type);
			append(want, &wlen, "\r\n");
		}
		if (status == 405)
			append(want, &wlen, "Allow: GET, HEAD\r\n");
		snprintf(num, sizeof(num), "%zu", clen);
		append(want, &wlen, "Content-Length: ");
		append(want, &wlen, num);
		append(want, &wlen, "\r\nConnection: close\r\n\r\n");
		if (wlen >= HTTP_HEAD_MAX)
			fail("a head of %zu bytes, HTTP_HEAD_MAX is %d", wlen,
			    HTTP_HEAD_MAX);
	}

	switch (rnd(seed) % 6) {
	case 0:
		len = wlen + 1;
		break;
	case 1:
		len = wlen;
		break;
	case 2:
		len = wlen + 2;
		break;
	case 3:
		len = HTTP_HEAD_MAX;
		break;
	case 4:
		len = 0;
		break;
	default:
		len = (size_t)rnd(seed) % (HTTP_HEAD_MAX + 1);
		break;
	}
	fits = fits && wlen + 1 <= len;
	buf = malloc(len == 0 ? 1 : len);
	if (buf == NULL)
		abort();
	memset(buf, FILL, len == 0 ? 1 : len);
	rc = http_format_head(buf, len, status, type, clen);
	if (fits) {
		if (rc < 0 || (size_t)rc != wlen ||
		    memcmp(buf, want, wlen + 1) != 0)
			fail("http_format_head(%d, \"%s\", %zu) in %zu bytes "
			    "gave %d: \"%.*s\"", status, type ? type : "NULL",
			    clen, len, rc, rc > 0 ? rc : 0, buf);
	} else {
		if (rc != -1)
			fail("http_format_head(%d, \"%s\", %zu) in %zu bytes "
			    "gave %d, not -1", status, type ? type : "NULL",
			    clen, len, rc);
		if (len > 0 && buf[0] != '\0')
			fail("http_format_head: -1 without an empty string");
		if (len == 0 && (unsigned char)buf[0] != FILL)
			fail("http_format_head wrote into 0 bytes");
	}
	free(buf);
	free(type);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const int	 odd[] = { INT_MIN, INT_MAX, -200, 1200, 4040 };
	int			 s;
	size_t			 i;

	(void)argc;
	(void)argv;
	/* The reason table, once: it does not depend on the input. */
	for (s = -100; s < 1000; s++)
		if ((http_reason(s) == NULL) != (ref_reason(s) == NULL) ||
		    (ref_reason(s) != NULL &&
		    strcmp(http_reason(s), ref_reason(s)) != 0))
			fail("http_reason(%d) is \"%s\"", s,
			    http_reason(s) ? http_reason(s) : "NULL");
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		if (http_reason(odd[i]) != NULL)
			fail("http_reason(%d) is not NULL", odd[i]);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	 seed = seed_of(data, size);
	uint8_t		*big;
	size_t		 pos, total, rep;

	cur_data = data;
	cur_size = size;
	check_request(data, size, &seed);

	/*
	 * One input in four again, with one byte repeated up to around
	 * HTTP_MAX_REQUEST bytes: run.sh caps inputs at 4096.
	 */
	if (size > 0 && rnd(&seed) % 4 == 0) {
		pos = (size_t)rnd(&seed) % size;
		total = HTTP_MAX_REQUEST - 8 + (size_t)rnd(&seed) % 17;
		if (total > size) {
			rep = total - size;
			if ((big = malloc(total)) == NULL)
				abort();
			memcpy(big, data, pos);
			memset(big + pos, data[pos], rep);
			memcpy(big + pos + rep, data + pos, size - pos);
			cur_data = big;
			cur_size = total;
			check_request(big, total, &seed);
			cur_data = data;
			cur_size = size;
			free(big);
		}
	}

	check_format(data, size, &seed);
	return 0;
}
