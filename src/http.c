/*
 * The request reader and response formatter of the HTTP endpoint: a
 * byte-at-a-time state machine that resumes where it stopped, so a
 * client sending one byte per packet costs no more than one sending the
 * head at once.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

enum {
	S_START,	/* before the request line: blank lines */
	S_START_CR,	/* LF after the CR of a blank line */
	S_METHOD,
	S_TARGET,	/* first byte of the request-target */
	S_STAR,		/* SP after "*" */
	S_SCHEME,	/* "http://", hp_i bytes matched */
	S_AUTH_FIRST,	/* first byte of the authority */
	S_AUTH,
	S_PATH,
	S_QUERY,
	S_PCT1,		/* %X, then back to hp_ret */
	S_PCT2,		/* %XX */
	S_VERSION,	/* "HTTP/", hp_i bytes matched */
	S_MAJOR,
	S_DOT,
	S_MINOR,
	S_RL_EOL,	/* CR or LF after the version */
	S_RL_CR,	/* LF after it */
	/* From here on, the header section. */
	S_HDR_START,	/* a header line, or the final empty line */
	S_NAME,
	S_VALUE,	/* after the colon: OWS, value, OWS */
	S_HDR_CR,	/* LF after the CR of a header line */
	S_END_CR,	/* LF after the CR of the final empty line */
	S_DONE,
	S_ERROR,
};

static const char	slash[] = "/";

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 9110 5.6.2 tchar. */
static bool
is_tchar(unsigned char c)
{
	return is_alpha(c) || is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 3986 unreserved and sub-delims. */
static bool
is_unreserved_sub(unsigned char c)
{
	return is_alpha(c) || is_digit(c) ||
	    (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* pchar (RFC 3986 3.3) less pct-encoded, which is checked apart. */
static bool
is_pchar(unsigned char c)
{
	return is_unreserved_sub(c) || c == ':' || c == '@';
}

/* uri-host and port, less pct-encoded; no '@': userinfo is refused. */
static bool
is_authchar(unsigned char c)
{
	return is_unreserved_sub(c) || c == ':' || c == '[' || c == ']';
}

/* RFC 9110 5.5 field-vchar, and the blanks inside a value. */
static bool
is_valuechar(unsigned char c)
{
	return (c >= 0x21 && c != 0x7f) || c == ' ' || c == '\t';
}

void
http_parser_init(struct http_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->hp_state = S_START;
	p->hp_method = -1;
}

/*
 * The end of a syntactically whole head: refuse what it asks for that
 * we do not do, in the documented order.
 */
static int
end_of_head(const struct http_parser *p)
{
	if (p->hp_major != 1)
		return 505;
	if (p->hp_minor == 1 && p->hp_nhost == 0)
		return 400;
	if (p->hp_method == -1)
		return 405;
	return 0;
}

/* The path ends before the current byte. */
static void
end_path(struct http_parser *p)
{
	p->hp_pathoff = p->hp_mark;
	p->hp_pathlen = p->hp_off - p->hp_mark;
}

/*
 * One byte, c, at offset p->hp_off.  Returns the next state; with
 * S_ERROR, sets hp_status unless the status is 400.
 */
static unsigned
step(struct http_parser *p, const char *buf, unsigned char c)
{
	size_t	 n;

	switch (p->hp_state) {
	case S_START:
		if (c == '\r')
			return S_START_CR;
		if (c == '\n')
			return S_START;
		if (!is_tchar(c))
			break;
		p->hp_mark = p->hp_off;
		return S_METHOD;
	case S_START_CR:
		return c == '\n' ? S_START : S_ERROR;
	case S_METHOD:
		if (is_tchar(c))
			return S_METHOD;
		if (c != ' ')
			break;
		n = p->hp_off - p->hp_mark;
		if (n == 3 && memcmp(buf + p->hp_mark, "GET", 3) == 0)
			p->hp_method = HTTP_GET;
		else if (n == 4 && memcmp(buf + p->hp_mark, "HEAD", 4) == 0)
			p->hp_method = HTTP_HEAD;
		return S_TARGET;
	case S_TARGET:
		p->hp_mark = p->hp_off;
		if (c == '/')
			return S_PATH;
		if (c == '*' && p->hp_method == -1)
			return S_STAR;
		if (c == 'h' || c == 'H') {
			p->hp_i = 1;
			return S_SCHEME;
		}
		break;
	case S_STAR:
		return c == ' ' ? S_VERSION : S_ERROR;
	case S_SCHEME:
		if ((unsigned char)"http://"[p->hp_i] != (p->hp_i < 4 &&
		    is_alpha(c) ? (c | 0x20) : c))
			break;
		if (++p->hp_i < 7)
			return S_SCHEME;
		p->hp_i = 0;	/* for S_VERSION */
		return S_AUTH_FIRST;
	case S_AUTH_FIRST:
	case S_AUTH:
		if (c == '%') {
			p->hp_ret = S_AUTH;
			return S_PCT1;
		}
		if (is_authchar(c))
			return S_AUTH;
		if (p->hp_state == S_AUTH_FIRST)
			break;
		/* No path: it is "/" (RFC 9112 3.2.2). */
		p->hp_mark = p->hp_off;
		if (c == '/')
			return S_PATH;
		if (c == '?')
			return S_QUERY;
		if (c == ' ')
			return S_VERSION;
		break;
	case S_PATH:
		if (c == '%') {
			p->hp_ret = S_PATH;
			return S_PCT1;
		}
		if (is_pchar(c) || c == '/')
			return S_PATH;
		if (c == '?') {
			end_path(p);
			return S_QUERY;
		}
		if (c == ' ') {
			end_path(p);
			return S_VERSION;
		}
		break;
	case S_QUERY:
		if (c == '%') {
			p->hp_ret = S_QUERY;
			return S_PCT1;
		}
		if (is_pchar(c) || c == '/' || c == '?')
			return S_QUERY;
		if (c == ' ')
			return S_VERSION;
		break;
	case S_PCT1:
		return is_hex(c) ? S_PCT2 : S_ERROR;
	case S_PCT2:
		return is_hex(c) ? p->hp_ret : S_ERROR;
	case S_VERSION:
		if (c != (unsigned char)"HTTP/"[p->hp_i])
			break;
		return ++p->hp_i == 5 ? S_MAJOR : S_VERSION;
	case S_MAJOR:
		if (!is_digit(c))
			break;
		p->hp_major = c - '0';
		return S_DOT;
	case S_DOT:
		return c == '.' ? S_MINOR : S_ERROR;
	case S_MINOR:
		if (!is_digit(c))
			break;
		/* A later HTTP/1.x is read as HTTP/1.1 (RFC 9110 2.5). */
		p->hp_minor = c == '0' ? 0 : 1;
		return S_RL_EOL;
	case S_RL_EOL:
		if (c == '\r')
			return S_RL_CR;
		return c == '\n' ? S_HDR_START : S_ERROR;
	case S_RL_CR:
		return c == '\n' ? S_HDR_START : S_ERROR;
	case S_HDR_START:
		if (c == '\r')
			return S_END_CR;
		if (c == '\n')
			return S_DONE;
		/* Also a line starting with SP or HTAB: obs-fold. */
		if (!is_tchar(c))
			break;
		if (++p->hp_nhdr > HTTP_MAX_HEADERS) {
			p->hp_status = 431;
			return S_ERROR;
		}
		p->hp_mark = p->hp_off;
		return S_NAME;
	case S_NAME:
		if (is_tchar(c))
			return S_NAME;
		/* Also white space before the colon (RFC 9112 5.1). */
		if (c != ':')
			break;
		p->hp_host = p->hp_off - p->hp_mark == 4 &&
		    strncasecmp(buf + p->hp_mark, "host", 4) == 0;
		p->hp_hostname = p->hp_hostgap = false;
		if (p->hp_host && ++p->hp_nhost > 1)
			break;
		return S_VALUE;
	case S_VALUE:
		if (c == '\r')
			return S_HDR_CR;
		if (c == '\n')
			return S_HDR_START;
		if (!is_valuechar(c))
			break;
		if (!p->hp_host)
			return S_VALUE;
		if (c == ' ' || c == '\t') {
			p->hp_hostgap = p->hp_hostname;
			return S_VALUE;
		}
		if (p->hp_hostgap || !(is_authchar(c) || c == '%'))
			break;
		p->hp_hostname = true;
		return S_VALUE;
	case S_HDR_CR:
		return c == '\n' ? S_HDR_START : S_ERROR;
	case S_END_CR:
		return c == '\n' ? S_DONE : S_ERROR;
	}
	return S_ERROR;
}

static enum http_result
result(const struct http_parser *p, const char *buf, struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	if (p->hp_state == S_ERROR) {
		req->hr_path = NULL;
		req->hr_status = p->hp_status;
		return HTTP_ERROR;
	}
	req->hr_method = (enum http_method)p->hp_method;
	if (p->hp_pathlen == 0) {
		req->hr_path = slash;
		req->hr_pathlen = 1;
	} else {
		req->hr_path = buf + p->hp_pathoff;
		req->hr_pathlen = p->hp_pathlen;
	}
	req->hr_minor = p->hp_minor;
	req->hr_headlen = p->hp_off;
	return HTTP_DONE;
}

enum http_result
http_parse(struct http_parser *p, const char *buf, size_t len,
    struct http_request *req)
{
	while (p->hp_state != S_DONE && p->hp_state != S_ERROR) {
		if (p->hp_off >= len)
			return HTTP_MORE;
		p->hp_state = step(p, buf, (unsigned char)buf[p->hp_off]);
		p->hp_off++;
		if (p->hp_state == S_DONE) {
			if ((p->hp_status = end_of_head(p)) != 0)
				p->hp_state = S_ERROR;
		} else if (p->hp_state == S_ERROR) {
			if (p->hp_status == 0)
				p->hp_status = 400;
		} else if (p->hp_off >= HTTP_MAX_REQUEST) {
			/* The head would be longer than the limit. */
			p->hp_status = p->hp_state < S_HDR_START ? 414 : 431;
			p->hp_state = S_ERROR;
		}
	}
	return result(p, buf, req);
}

bool
http_path_is(const struct http_request *req, const char *path)
{
	return req->hr_path != NULL && strlen(path) == req->hr_pathlen &&
	    memcmp(req->hr_path, path, req->hr_pathlen) == 0;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return NULL;
}

int
http_format_head(char *buf, size_t len, int status, const char *content_type,
    size_t content_length)
{
	const char	*reason = http_reason(status), *s;
	int		 n;

	if (len > 0)
		buf[0] = '\0';
	if (reason == NULL)
		return -1;
	if (content_type != NULL) {
		/* A CR or LF here would let the caller's text add headers. */
		for (s = content_type; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 ||
			    (unsigned char)*s > 0x7e)
				return -1;
		if (s - content_type > 128)
			return -1;
	}
	n = snprintf(buf, len,
	    "HTTP/1.1 %d %s\r\n"
	    "%s%s%s"
	    "%s"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n"
	    "\r\n",
	    status, reason,
	    content_type != NULL ? "Content-Type: " : "",
	    content_type != NULL ? content_type : "",
	    content_type != NULL ? "\r\n" : "",
	    status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    content_length);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return n;
}
