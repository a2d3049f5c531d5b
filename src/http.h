/*
 * A strict, small reader of HTTP/1.0 and HTTP/1.1 request heads, for the
 * metrics and health endpoint, and the formatter of its response heads.
 * One request per connection: the caller answers and closes, so the
 * body and anything pipelined after the head are never looked at.
 * Nothing here logs, allocates or keeps global state.
 *
 * What is accepted (RFC 9112, with the choices made where it allows):
 *  - empty lines before the request line are skipped (they count
 *    towards the limit);
 *  - the request line is METHOD SP TARGET SP HTTP/1.x, single spaces;
 *  - a line ends with CRLF or a bare LF, anywhere; a CR not followed by
 *    LF is an error;
 *  - METHOD is a token, case-sensitive; only GET and HEAD are served;
 *  - TARGET is origin-form ("/path?query"), absolute-form
 *    ("http://host/path?query", the scheme in any case, no userinfo,
 *    a non-empty host), or "*" (then only for other methods, which are
 *    refused anyway).  Path and query are pchar, '/' (and '?' in the
 *    query) and %XX with two hex digits; no '#', no bytes above 0x7e.
 *    Percent-encoding is checked but never decoded: "/he%61lth" is not
 *    "/health";
 *  - HTTP/1.x with x > 1 is read as HTTP/1.1 (RFC 9110 2.5);
 *  - a header line is NAME ":" OWS VALUE OWS; NAME is a token with no
 *    white space before the colon; VALUE is visible ASCII, SP, HTAB and
 *    bytes 0x80-0xff.  A line starting with SP or HTAB (obs-fold) is an
 *    error.  Header values are not interpreted, except Host;
 *  - Host: at most one, made of the characters of uri-host and port
 *    (RFC 3986) with OWS around them, possibly empty; required in
 *    HTTP/1.1;
 *  - Content-Length and Transfer-Encoding are ignored: the body is
 *    never read.
 *
 * Statuses of a refused request (hr_status), and when they are decided:
 *  400  syntax: at the first byte that no valid head can continue with;
 *       a second Host at its colon; a missing Host in HTTP/1.1 at the
 *       end of the head;
 *  414  the first HTTP_MAX_REQUEST bytes hold no whole head and end
 *       inside the request line (or the empty lines before it);
 *  431  the same, ending inside the header section; or at the first
 *       byte of header line HTTP_MAX_HEADERS + 1;
 *  505  at the end of an otherwise valid head, if the major version is
 *       not 1;
 *  405  at the end of an otherwise valid head, if the method is neither
 *       GET nor HEAD (the response must carry Allow, which
 *       http_format_head() adds).
 * At the end of the head, 505 comes before the missing Host, which
 * comes before 405.  So the answer depends only on the bytes up to the
 * point where it is decided, and once decided it never changes.
 */
#ifndef ECHOD_HTTP_H
#define ECHOD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_REQUEST	8192	/* longest head, final empty line included */
#define HTTP_MAX_HEADERS	100	/* most header lines in a head */
#define HTTP_HEAD_MAX		320	/* enough for any http_format_head() */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
};

enum http_result {
	HTTP_MORE,	/* a valid prefix of a head: read more */
	HTTP_DONE,	/* a whole head, GET or HEAD: see the request */
	HTTP_ERROR,	/* refused: answer hr_status, then close */
};

/* Parser state; the members are private. */
struct http_parser {
	size_t		 hp_off;	/* bytes scanned */
	size_t		 hp_mark;	/* start of the token being read */
	size_t		 hp_pathoff, hp_pathlen;	/* length 0: "/" */
	unsigned	 hp_state;
	unsigned	 hp_ret;	/* state after a %XX */
	unsigned	 hp_i;		/* bytes of a literal matched */
	unsigned	 hp_nhdr, hp_nhost;	/* header lines, Host lines */
	int		 hp_method;	/* enum http_method, or -1 */
	int		 hp_major, hp_minor;
	int		 hp_status;	/* once decided */
	bool		 hp_host;	/* this header line is Host */
	bool		 hp_hostname;	/* its value has begun */
	bool		 hp_hostgap;	/* and blanks followed */
};

struct http_request {
	enum http_method	 hr_method;
	const char		*hr_path;	/* not NUL-terminated */
	size_t			 hr_pathlen;	/* >= 1; the query left out */
	int			 hr_minor;	/* 0 or 1 */
	size_t			 hr_headlen;	/* bytes of the head */
	int			 hr_status;	/* HTTP_ERROR: what to answer */
};

/* Ready a parser for a new connection. */
void	http_parser_init(struct http_parser *);

/*
 * Parse the bytes received so far on the connection: buf holds len
 * bytes, the first of which is the first byte the connection received.
 * Call it again with the same parser each time more bytes arrive: the
 * bytes already given must be unchanged (the buffer may move) and len
 * must not shrink.  Each byte is scanned once over all calls.
 *
 * Returns HTTP_MORE while buf is a valid proper prefix of a head, shorter
 * than HTTP_MAX_REQUEST bytes; *req is not touched.
 *
 * Returns HTTP_DONE when buf starts with a whole head of at most
 * HTTP_MAX_REQUEST bytes, for GET or HEAD.  *req is filled in:
 * hr_headlen is the length of the head up to and including its final
 * empty line (bytes after it are not read); hr_path points into buf, or
 * to a static "/" for an absolute-form target without a path, and is
 * the path without the query; hr_status is 0.
 *
 * Returns HTTP_ERROR when the request is refused (statuses above):
 * hr_status is 400, 405, 414, 431 or 505, hr_path is NULL and the other
 * members are 0.  A 414 or 431 for the size limit comes as soon as
 * HTTP_MAX_REQUEST bytes are there without the end of the head.
 *
 * After HTTP_DONE or HTTP_ERROR, further calls give the same result.
 */
enum http_result	http_parse(struct http_parser *, const char *buf,
			    size_t len, struct http_request *req);

/* Whether the request's path is exactly the NUL-terminated path. */
bool	http_path_is(const struct http_request *, const char *path);

/*
 * The reason phrase of status: 200, 400, 404, 405, 414, 431, 500, 503
 * or 505.  NULL for any other status.
 */
const char	*http_reason(int status);

/*
 * Write the head of a response into buf (len bytes) as
 *
 *	HTTP/1.1 <status> <reason>\r\n
 *	Content-Type: <content_type>\r\n	(left out if NULL)
 *	Allow: GET, HEAD\r\n			(405 only)
 *	Content-Length: <content_length>\r\n
 *	Connection: close\r\n
 *	\r\n
 *
 * and a NUL after it.  The caller sends the body after it; for HEAD it
 * passes the length the body of a GET would have, and sends none.  Returns the length of the head without the NUL, or -1 if the
 * status has no reason phrase (see http_reason()), content_type has a
 * byte other than visible ASCII or SP or is longer than 128 bytes, or
 * the head and its NUL do not fit in len bytes.  HTTP_HEAD_MAX bytes
 * are always enough.  On -1, buf holds an empty string (if len > 0).
 */
int	http_format_head(char *buf, size_t len, int status,
	    const char *content_type, size_t content_length);

#endif
