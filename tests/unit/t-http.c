/*
 * Unit tests: the HTTP request reader and response formatter
 * (src/http.c).  Every input is parsed from an exact-size heap copy, so
 * that a sanitizer build catches a read past the end.
 */
#include "autoconf.h"

#include <stdlib.h>

#include "http.h"
#include "tap.h"

/* An exact-size heap copy of len bytes of s. */
static char *
copy(const char *s, size_t len)
{
	char	*b = malloc(len == 0 ? 1 : len);

	if (b == NULL)
		abort();
	memcpy(b, s, len);
	return b;
}

/* An exact-size heap buffer of len bytes, not NUL-terminated. */

static char *
alloc(size_t len)
{
	char	*b = malloc(len == 0 ? 1 : len);

	if (b == NULL)
		abort();
	memset(b, 'x', len);
	return b;
}

/* Parse the whole of s (len bytes) at once with a fresh parser. */
static enum http_result
parse_n(const char *s, size_t len, struct http_request *req)
{
	struct http_parser	 p;
	enum http_result	 r;
	char			*b = copy(s, len);

	http_parser_init(&p);
	r = http_parse(&p, b, len, req);
	/* The path points into b: keep it valid for the caller. */
	if (r == HTTP_DONE && req->hr_path != NULL &&
	    req->hr_path >= b && req->hr_path < b + len) {
		static char	 path[HTTP_MAX_REQUEST];

		memcpy(path, req->hr_path, req->hr_pathlen);
		req->hr_path = path;
	}
	free(b);
	return r;
}

static enum http_result
parse(const char *s, struct http_request *req)
{
	return parse_n(s, strlen(s), req);
}

static const char *
escape(const char *s)
{
	static char	 out[512];
	size_t		 o = 0;

	for (; *s != '\0' && o < sizeof(out) - 8; s++) {
		if (*s == '\r')
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\r");
		else if (*s == '\n')
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\n");
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "\\x%02x", (unsigned char)*s);
		else
			out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

static void
test_valid(void)
{
	static const struct {
		const char	*in;
		int		 method, minor;
		const char	*path;
	} good[] = {
		{ "GET /metrics HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/metrics" },
		{ "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_GET, 1,
		    "/health" },
		{ "HEAD /health HTTP/1.0\r\n\r\n", HTTP_HEAD, 0, "/health" },
		{ "HEAD /metrics HTTP/1.1\r\nHost: localhost:9100\r\n"
		    "Accept: */*\r\n\r\n", HTTP_HEAD, 1, "/metrics" },
		/* HAProxy 2.6 "option httpchk GET /health": HTTP/1.0. */
		{ "GET /health HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/health" },
		/* The same with "http-check send ... body" (ignored). */
		{ "GET /health HTTP/1.1\r\nhost: lb\r\nconnection: close\r\n"
		    "content-length: 4\r\n\r\n", HTTP_GET, 1, "/health" },
		/* A Prometheus scrape, a Kubernetes probe. */
		{ "GET /metrics HTTP/1.1\r\nHost: 10.0.0.1:9100\r\n"
		    "User-Agent: Prometheus/2.42.0\r\n"
		    "Accept: application/openmetrics-text;version=1.0.0,"
		    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
		    "Accept-Encoding: gzip\r\n"
		    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
		    HTTP_GET, 1, "/metrics" },
		{ "GET /health HTTP/1.1\r\nHost: 10.1.2.3:9100\r\n"
		    "User-Agent: kube-probe/1.27\r\nAccept: */*\r\n"
		    "Connection: close\r\n\r\n", HTTP_GET, 1, "/health" },
		/* Query left out; no decoding. */
		{ "GET /metrics?x=1&y=%41/?z HTTP/1.0\r\n\r\n", HTTP_GET, 0,
		    "/metrics" },
		{ "GET /he%61lth HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/he%61lth" },
		{ "GET /a/b;c=d:@!$&'()*+,-._~ HTTP/1.0\r\n\r\n", HTTP_GET, 0,
		    "/a/b;c=d:@!$&'()*+,-._~" },
		{ "GET / HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/" },
		{ "GET /? HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/" },
		/* Bare LF line ends, also mixed. */
		{ "GET /health HTTP/1.0\n\n", HTTP_GET, 0, "/health" },
		{ "GET /health HTTP/1.1\nHost: a\r\nX: y\n\r\n", HTTP_GET, 1,
		    "/health" },
		/* Blank lines before the request line. */
		{ "\r\n\n\r\nGET /x HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/x" },
		/* Absolute-form. */
		{ "GET http://example.org:8080/metrics?a HTTP/1.1\r\n"
		    "Host: example.org:8080\r\n\r\n", HTTP_GET, 1, "/metrics" },
		{ "GET HTTP://h HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/" },
		{ "GET hTtP://h?x HTTP/1.0\r\n\r\n", HTTP_GET, 0, "/" },
		{ "GET http://[::1]:80/%2F HTTP/1.0\r\n\r\n", HTTP_GET, 0,
		    "/%2F" },
		/* A later HTTP/1.x is read as 1.1. */
		{ "GET / HTTP/1.9\r\nHost: a\r\n\r\n", HTTP_GET, 1, "/" },
		/* Header values: empty, blanks, obs-text; Host forms. */
		{ "GET / HTTP/1.0\r\nX:\r\nY: \t a  b \t\r\n"
		    "Z: caf\xc3\xa9\r\n\r\n", HTTP_GET, 0, "/" },
		{ "GET / HTTP/1.1\r\nHOST:\r\n\r\n", HTTP_GET, 1, "/" },
		{ "GET / HTTP/1.1\r\nHost: \t[::1]:9100 \r\n\r\n", HTTP_GET, 1,
		    "/" },
		{ "GET / HTTP/1.1\r\nHost: xn--caf-dma.example%2e:1\r\n"
		    "Hostname: a b\r\nX-Host: a b\r\n\r\n", HTTP_GET, 1, "/" },
		{ "GET / HTTP/1.0\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
		    HTTP_GET, 0, "/" },
	};
	struct http_request	 req;
	size_t			 i;
	enum http_result	 r;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&req, 0x5a, sizeof(req));
		r = parse(good[i].in, &req);
		is_int(r, HTTP_DONE, "\"%s\" is done", escape(good[i].in));
		if (r != HTTP_DONE) {
			diag("status %d", req.hr_status);
			continue;
		}
		is_int(req.hr_method, good[i].method, "... method");
		is_int(req.hr_minor, good[i].minor, "... HTTP/1.%d",
		    good[i].minor);
		ok(http_path_is(&req, good[i].path), "... path %s",
		    good[i].path);
		is_int(req.hr_headlen, strlen(good[i].in), "... head length");
		is_int(req.hr_status, 0, "... status 0");
	}
	parse("GET /he%61lth HTTP/1.0\r\n\r\n", &req);
	ok(!http_path_is(&req, "/health"), "/he%%61lth is not /health");
	parse("GET /health/ HTTP/1.0\r\n\r\n", &req);
	ok(!http_path_is(&req, "/health"), "/health/ is not /health");
	parse("GET /healt HTTP/1.0\r\n\r\n", &req);
	ok(!http_path_is(&req, "/health"), "/healt is not /health");
}

static void
test_errors(void)
{
	static const struct {
		const char	*in;
		int		 status;
	} bad[] = {
		/* Request line. */
		{ "GET  / HTTP/1.0\r\n\r\n", 400 },
		{ "GET /  HTTP/1.0\r\n\r\n", 400 },
		{ " GET / HTTP/1.0\r\n\r\n", 400 },
		{ "GET\t/ HTTP/1.0\r\n\r\n", 400 },
		{ "GET / HTTP/1.0 \r\n\r\n", 400 },
		{ "GET /\r\n\r\n", 400 },
		{ "GET / \r\n\r\n", 400 },
		{ "GET\r\n\r\n", 400 },
		{ "GET / http/1.0\r\n\r\n", 400 },
		{ "GET / HTTP/1.10\r\n\r\n", 400 },
		{ "GET / HTTP/1\r\n\r\n", 400 },
		{ "GET / HTTP/11\r\n\r\n", 400 },
		{ "GET / HTTP/a.1\r\n\r\n", 400 },
		{ "G(T / HTTP/1.0\r\n\r\n", 400 },
		/* Targets. */
		{ "GET a HTTP/1.0\r\n\r\n", 400 },
		{ "GET * HTTP/1.0\r\n\r\n", 400 },
		{ "HEAD * HTTP/1.0\r\n\r\n", 400 },
		{ "GET /a#b HTTP/1.0\r\n\r\n", 400 },
		{ "GET /a b HTTP/1.0\r\n\r\n", 400 },
		{ "GET /%zz HTTP/1.0\r\n\r\n", 400 },
		{ "GET /%4 HTTP/1.0\r\n\r\n", 400 },
		{ "GET /% HTTP/1.0\r\n\r\n", 400 },
		{ "GET /a\"b HTTP/1.0\r\n\r\n", 400 },
		{ "GET /a\\b HTTP/1.0\r\n\r\n", 400 },
		{ "GET /a<b> HTTP/1.0\r\n\r\n", 400 },
		{ "GET /caf\xc3\xa9 HTTP/1.0\r\n\r\n", 400 },
		{ "GET /?a#b HTTP/1.0\r\n\r\n", 400 },
		{ "GET http:/x HTTP/1.0\r\n\r\n", 400 },
		{ "GET https://h/ HTTP/1.0\r\n\r\n", 400 },
		{ "GET http:///x HTTP/1.0\r\n\r\n", 400 },
		{ "GET http:// HTTP/1.0\r\n\r\n", 400 },
		{ "GET http://user@h/ HTTP/1.0\r\n\r\n", 400 },
		{ "GET http://h/%g0 HTTP/1.0\r\n\r\n", 400 },
		{ "GET CONNECT:443 HTTP/1.0\r\n\r\n", 400 },
		/* Control bytes, NUL, DEL, bare CR. */
		{ "GET /\x01 HTTP/1.0\r\n\r\n", 400 },
		{ "GET /\x7f HTTP/1.0\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX: a\x01" "b\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX: a\x7f\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX: a\x0b\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\rX: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX: a\rb\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX: a\r\n\rX", 400 },
		{ "\rGET / HTTP/1.0\r\n\r\n", 400 },
		/* Header lines. */
		{ "GET / HTTP/1.0\r\nX\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX : a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX\t: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\n: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX(: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\n X: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX: a\r\n b\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nX: a\r\n\tb\r\n\r\n", 400 },
		/* Host. */
		{ "GET / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400 },
		/* Methods. */
		{ "POST / HTTP/1.0\r\n\r\n", 405 },
		{ "get / HTTP/1.0\r\n\r\n", 405 },
		{ "GETS / HTTP/1.0\r\n\r\n", 405 },
		{ "HEA / HTTP/1.0\r\n\r\n", 405 },
		/* HAProxy's default check: "option httpchk" alone. */
		{ "OPTIONS / HTTP/1.0\r\n\r\n", 405 },
		{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 405 },
		{ "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
		{ "DELETE http://h/health HTTP/1.0\r\n\r\n", 405 },
		/* Versions. */
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / HTTP/0.9\r\n\r\n", 505 },
		{ "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505 },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505 },
		/* The order at the end of the head: 505, Host, 405. */
		{ "OPTIONS / HTTP/2.0\r\n\r\n", 505 },
		{ "OPTIONS / HTTP/1.1\r\n\r\n", 400 },
		/* A syntax error in the head comes first. */
		{ "POST / HTTP/1.0\r\nX : a\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\nX : a\r\n\r\n", 400 },
	};
	struct http_request	 req;
	size_t			 i;
	enum http_result	 r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&req, 0x5a, sizeof(req));
		r = parse(bad[i].in, &req);
		is_int(r, HTTP_ERROR, "\"%s\" is refused", escape(bad[i].in));
		is_int(req.hr_status, bad[i].status, "... with %d",
		    bad[i].status);
		ok(req.hr_path == NULL && req.hr_pathlen == 0 &&
		    req.hr_headlen == 0, "... and no request");
	}
	parse("OPTIONS / HTTP/1.0\r\n\r\n", &req);
	ok(!http_path_is(&req, "/") && !http_path_is(&req, ""),
	    "a refused request has no path to match");

	/* NUL bytes, which strlen() would hide. */
	r = parse_n("GET /\0 HTTP/1.0\r\n\r\n", 20, &req);
	ok(r == HTTP_ERROR && req.hr_status == 400, "NUL in the path: 400");
	r = parse_n("GET / HTTP/1.0\r\nX: \0\r\n\r\n", 24, &req);
	ok(r == HTTP_ERROR && req.hr_status == 400, "NUL in a value: 400");
	r = parse_n("\0GET / HTTP/1.0\r\n\r\n", 19, &req);
	ok(r == HTTP_ERROR && req.hr_status == 400, "NUL first: 400");
	r = parse_n("GET / HTTP/1.0\r\n\0\r\n", 19, &req);
	ok(r == HTTP_ERROR && req.hr_status == 400, "NUL as a header: 400");
}

/*
 * Feed s one byte at a time, moving the buffer each time: "more" until
 * byte 'at' (1-based), then 'want' from there on.
 */
static void
feed(const char *what, const char *s, size_t len, size_t at,
    enum http_result want, int status)
{
	struct http_parser	 p;
	struct http_request	 req;
	enum http_result	 r;
	char			*b;
	size_t			 n, wrong = 0;

	http_parser_init(&p);
	for (n = 0; n <= len; n++) {
		b = copy(s, n);
		memset(&req, 0x5a, sizeof(req));
		r = http_parse(&p, b, n, &req);
		if (n < at ? r != HTTP_MORE : r != want ||
		    req.hr_status != status ||
		    (r == HTTP_DONE && (req.hr_headlen != at ||
		    req.hr_path < b || req.hr_path >= b + n))) {
			if (wrong++ == 0)
				diag("at %zu bytes: result %d, status %d", n,
				    r, r == HTTP_MORE ? 0 : req.hr_status);
		}
		free(b);
	}
	ok(wrong == 0, "%s: more for %zu bytes, then %s", what, at - 1,
	    want == HTTP_DONE ? "done" : "refused");
}

static void
test_incremental(void)
{
	static const char	 get[] = "GET /metrics HTTP/1.1\r\n"
	    "Host: localhost\r\nAccept: */*\r\n\r\n";
	static const char	 bad[] = "GET /metrics HTTP/1.1\r\nHost: a\r\n"
	    "X : y\r\n\r\n";
	static const char	 pipelined[] = "GET /health HTTP/1.0\r\n\r\n"
	    "GET /metrics HTTP/1.0\r\n\r\n";
	static const char	 body[] = "GET /health HTTP/1.0\r\n"
	    "Content-Length: 10\r\n\r\n\0\r\nGET / X\r\n\r\n";
	struct http_parser	 p;
	struct http_request	 req;
	char			 buf[64];
	enum http_result	 r;

	feed("GET", get, strlen(get), strlen(get), HTTP_DONE, 0);
	feed("a space before a colon", bad, strlen(bad),
	    strlen("GET /metrics HTTP/1.1\r\nHost: a\r\nX "), HTTP_ERROR,
	    400);
	feed("OPTIONS (405 at the end of the head)",
	    "OPTIONS / HTTP/1.0\r\nX: y\r\n\r\nmore",
	    strlen("OPTIONS / HTTP/1.0\r\nX: y\r\n\r\nmore"),
	    strlen("OPTIONS / HTTP/1.0\r\nX: y\r\n\r\n"), HTTP_ERROR, 405);
	feed("pipelined requests", pipelined, strlen(pipelined),
	    strlen("GET /health HTTP/1.0\r\n\r\n"), HTTP_DONE, 0);
	feed("a body", body, sizeof(body) - 1,
	    strlen("GET /health HTTP/1.0\r\nContent-Length: 10\r\n\r\n"),
	    HTTP_DONE, 0);

	/* Chunks, and the same answer again after done. */
	http_parser_init(&p);
	memcpy(buf, get, sizeof(get));
	is_int(http_parse(&p, buf, 0, &req), HTTP_MORE, "no bytes: more");
	is_int(http_parse(&p, buf, 10, &req), HTTP_MORE, "10 bytes: more");
	is_int(http_parse(&p, buf, 10, &req), HTTP_MORE, "again: more");
	r = http_parse(&p, buf, strlen(get), &req);
	ok(r == HTTP_DONE && http_path_is(&req, "/metrics") &&
	    req.hr_path == buf + 4, "the rest: done, path in the buffer");
	r = http_parse(&p, buf, strlen(get), &req);
	ok(r == HTTP_DONE && http_path_is(&req, "/metrics") &&
	    req.hr_headlen == strlen(get), "again: done, the same");

	http_parser_init(&p);
	r = http_parse(&p, "GET /x HTTP/1.0\r\nX : y", 22, &req);
	ok(r == HTTP_ERROR && req.hr_status == 400, "refused");
	r = http_parse(&p, "GET /x HTTP/1.0\r\nX : y\r\n\r\n", 26, &req);
	ok(r == HTTP_ERROR && req.hr_status == 400, "again: refused");
}

/* A head of exactly len bytes: a request line, then padding in X. */
static char *
head_of(size_t len, const char *version)
{
	char	*b = malloc(len + 1);
	size_t	 n;

	if (b == NULL)
		abort();
	n = (size_t)snprintf(b, len + 1, "GET /health HTTP/1.%s\r\nX: ",
	    version);
	memset(b + n, 'a', len - n - 4);
	memcpy(b + len - 4, "\r\n\r\n", 4);
	b[len] = '\0';
	return b;
}

static void
test_limits(void)
{
	struct http_request	 req;
	enum http_result	 r;
	char			*b, *line;
	size_t			 n, i;

	b = head_of(HTTP_MAX_REQUEST, "0");
	r = parse(b, &req);
	ok(r == HTTP_DONE && req.hr_headlen == HTTP_MAX_REQUEST,
	    "a head of exactly %d bytes is done", HTTP_MAX_REQUEST);
	b[HTTP_MAX_REQUEST - 1] = 'x';
	r = parse(b, &req);
	ok(r == HTTP_ERROR && req.hr_status == 400,
	    "a syntax error in its last byte: 400");
	free(b);
	b = head_of(HTTP_MAX_REQUEST + 1, "0");
	r = parse(b, &req);
	ok(r == HTTP_ERROR && req.hr_status == 431,
	    "a head of %d bytes: 431", HTTP_MAX_REQUEST + 1);
	r = parse_n(b, HTTP_MAX_REQUEST, &req);
	ok(r == HTTP_ERROR && req.hr_status == 431,
	    "... as soon as %d bytes are there", HTTP_MAX_REQUEST);
	r = parse_n(b, HTTP_MAX_REQUEST - 1, &req);
	is_int(r, HTTP_MORE, "... and not before");
	free(b);

	/* The request line alone: 414. */
	n = HTTP_MAX_REQUEST + 100;
	if ((line = malloc(n + 1)) == NULL)
		abort();
	memset(line, 'a', n);
	memcpy(line, "GET /", 5);
	line[n] = '\0';
	r = parse(line, &req);
	ok(r == HTTP_ERROR && req.hr_status == 414, "a long target: 414");
	memcpy(line + HTTP_MAX_REQUEST - 16, " HTTP/1.0\r\n", 11);
	r = parse(line, &req);
	ok(r == HTTP_ERROR && req.hr_status == 431,
	    "a long target, then headers past the limit: 431");
	memset(line, '\n', n);
	r = parse(line, &req);
	ok(r == HTTP_ERROR && req.hr_status == 414,
	    "blank lines up to the limit: 414");
	free(line);

	/* Header count. */
	if ((b = malloc(HTTP_MAX_REQUEST)) == NULL)
		abort();
	n = (size_t)snprintf(b, HTTP_MAX_REQUEST, "GET / HTTP/1.0\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(b + n, HTTP_MAX_REQUEST - n,
		    "X-%zu: %zu\r\n", i, i);
	memcpy(b + n, "\r\n", 3);
	r = parse(b, &req);
	ok(r == HTTP_DONE, "%d header lines: done", HTTP_MAX_HEADERS);
	memcpy(b + n, "Y: z\r\n\r\n", 9);
	r = parse(b, &req);
	ok(r == HTTP_ERROR && req.hr_status == 431,
	    "%d header lines: 431", HTTP_MAX_HEADERS + 1);
	n = (size_t)snprintf(b, HTTP_MAX_REQUEST, "GET / HTTP/1.0\r\n");
	while (n < HTTP_MAX_REQUEST - 8)
		n += (size_t)snprintf(b + n, HTTP_MAX_REQUEST - n, "a:\n");
	memcpy(b + n, "\n", 2);
	r = parse(b, &req);
	ok(r == HTTP_ERROR && req.hr_status == 431,
	    "%zu tiny header lines: 431", (n - 16) / 3);
	free(b);
}

static void
test_format(void)
{
	static const struct {
		int		 status;
		const char	*type;
		size_t		 length;
		const char	*want;
	} good[] = {
		{ 200, "text/plain; version=0.0.4", 1234,
		    "HTTP/1.1 200 OK\r\n"
		    "Content-Type: text/plain; version=0.0.4\r\n"
		    "Content-Length: 1234\r\n"
		    "Connection: close\r\n\r\n" },
		{ 503, "text/plain", 9,
		    "HTTP/1.1 503 Service Unavailable\r\n"
		    "Content-Type: text/plain\r\n"
		    "Content-Length: 9\r\n"
		    "Connection: close\r\n\r\n" },
		{ 405, NULL, 0,
		    "HTTP/1.1 405 Method Not Allowed\r\n"
		    "Allow: GET, HEAD\r\n"
		    "Content-Length: 0\r\n"
		    "Connection: close\r\n\r\n" },
		{ 404, "", 0,
		    "HTTP/1.1 404 Not Found\r\n"
		    "Content-Type: \r\n"
		    "Content-Length: 0\r\n"
		    "Connection: close\r\n\r\n" },
		{ 431, "text/plain", (size_t)-1,
		    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
		    "Content-Type: text/plain\r\n"
		    "Content-Length: 18446744073709551615\r\n"
		    "Connection: close\r\n\r\n" },
	};
	static const struct { int status; const char *reason; } reasons[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 414, "URI Too Long" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};
	static const int	 unknown[] = { 0, -1, 100, 201, 302, 401, 999 };
	char			 buf[HTTP_HEAD_MAX], *b, type[130];
	size_t			 i, n;
	int			 rc;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = strlen(good[i].want);
		rc = http_format_head(buf, sizeof(buf), good[i].status,
		    good[i].type, good[i].length);
		is_int(rc, n, "%d head: length", good[i].status);
		is_str(buf, good[i].want, "... byte for byte");
		/* Exactly big enough, and one byte short. */
		b = alloc(n + 1);
		rc = http_format_head(b, n + 1, good[i].status, good[i].type,
		    good[i].length);
		ok(rc == (int)n && strcmp(b, good[i].want) == 0,
		    "... fits in %zu bytes", n + 1);
		free(b);
		b = alloc(n);
		rc = http_format_head(b, n, good[i].status, good[i].type,
		    good[i].length);
		ok(rc == -1 && b[0] == '\0', "... not in %zu: -1, empty", n);
		free(b);
	}
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		is_str(http_reason(reasons[i].status), reasons[i].reason,
		    "reason of %d", reasons[i].status);
		ok(http_format_head(buf, sizeof(buf), reasons[i].status, NULL,
		    0) > 0, "... it formats");
	}
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		strcpy(buf, "x");
		ok(http_reason(unknown[i]) == NULL &&
		    http_format_head(buf, sizeof(buf), unknown[i], NULL, 0) ==
		    -1 && buf[0] == '\0', "status %d: no reason, -1",
		    unknown[i]);
	}
	is_int(http_format_head(NULL, 0, 200, NULL, 0), -1, "len 0: -1");
	is_int(http_format_head(buf, sizeof(buf), 200,
	    "text/plain\r\nSet-Cookie: a=b", 0), -1, "CRLF in the type: -1");
	is_int(http_format_head(buf, sizeof(buf), 200, "caf\xc3\xa9", 0), -1,
	    "non-ASCII in the type: -1");
	is_int(http_format_head(buf, sizeof(buf), 200, "a\tb", 0), -1,
	    "HTAB in the type: -1");
	memset(type, 'a', 128);
	type[128] = '\0';
	for (i = 0, n = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		rc = http_format_head(buf, sizeof(buf), reasons[i].status, type,
		    (size_t)-1);
		if (rc > (int)n)
			n = (size_t)rc;
	}
	ok(n > 0 && n < HTTP_HEAD_MAX,
	    "the longest head (%zu bytes) fits HTTP_HEAD_MAX", n);
	type[128] = 'a';
	type[129] = '\0';
	is_int(http_format_head(buf, sizeof(buf), 200, type, 0), -1,
	    "a type of 129 bytes: -1");
}

int
main(void)
{
	test_valid();
	test_errors();
	test_incremental();
	test_limits();
	test_format();
	return done_testing();
}
