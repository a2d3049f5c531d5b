/*
 * The PROXY protocol header (HAProxy's doc/proxy-protocol.txt, versions
 * 1 and 2) that a trusted proxy puts in front of a connection's data.
 * A pure parser: no I/O, no allocation, no logging.
 *
 * The caller peeks at the first bytes of the connection (recv with
 * MSG_PEEK) into one contiguous buffer and calls proxy_parse() on all
 * of them, again each time more arrive, until it returns PROXY_DONE or
 * PROXY_INVALID or the caller's deadline passes.  On PROXY_DONE it
 * consumes exactly ph_len bytes: whatever follows is payload.
 *
 * What is accepted, exactly:
 *
 * v1: "PROXY TCP4 SRC DST SPORT DPORT\r\n", the same with TCP6, or
 *   "PROXY UNKNOWN" followed by "\r\n" or by a space, anything but CR
 *   and LF, then "\r\n".  Single spaces; at most PROXY_V1_MAX bytes with
 *   the CRLF; a CR not followed by LF, or an LF not after a CR, is
 *   refused.  TCP4 addresses are dotted quads without leading zeros,
 *   TCP6 addresses anything inet_pton(AF_INET6) takes (so also the
 *   "::ffff:1.2.3.4" form).  Ports are 0 to 65535 in decimal without a
 *   leading zero ("0" itself is allowed: the spec's range starts at 0).
 *
 * v2: the 12-byte signature, version 2, command LOCAL or PROXY, a
 *   family/protocol byte among 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32,
 *   and a length that covers that family's address block (0, 12, 36 or
 *   216 bytes).  The rest is a list of TLVs, which must fill it exactly;
 *   a CRC32c TLV (type 0x03) must be 4 bytes, come at most once, and
 *   match.  This holds for LOCAL too: HAProxy's health checks send LOCAL
 *   with family 0x00 and may add TLVs, a CRC32c among them.
 *   What the header says:
 *   - LOCAL, any family: the proxy's own connection (a health check);
 *     ph_local is set and the connection's own addresses apply;
 *   - PROXY over 0x11, 0x12, 0x21, 0x22: the addresses are returned
 *     (a UDP origin, 0x12 or 0x22, still names the client);
 *   - PROXY over 0x00 (UNSPEC) or 0x31, 0x32 (AF_UNIX): ph_local is set.
 *     The spec lets a receiver accept UNSPEC with the real endpoints,
 *     and asks one that does not implement a family to fall back to
 *     UNSPEC; echod has no use for a UNIX path as a client address.
 *   Headers longer than PROXY_MAX_LEN are refused (PROXY_R_V2_TOO_LONG)
 *   although the spec allows 16 + 65535 bytes: HAProxy sends well under
 *   1 KiB even with every TLV it knows (ALPN, authority up to 255 bytes,
 *   unique ID up to 128, SSL details, CRC32c, netns), so 4 KiB keeps
 *   room for cloud vendors' TLVs while the caller's peek buffer stays
 *   one page.
 */
#ifndef ECHOD_PROXY_H
#define ECHOD_PROXY_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_V1_MAX	107	/* longest v1 line, CRLF included (spec) */
#define PROXY_V2_MIN	16	/* v2 fixed part: signature to length */
#define PROXY_MAX_LEN	4096	/* longest header echod accepts */

enum proxy_status {
	PROXY_NEED_MORE,	/* a valid start of a header: read on */
	PROXY_DONE,		/* a whole valid header of ph_len bytes */
	PROXY_INVALID,		/* not a valid header: ph_reason says why */
};

/* Why a header was refused; each has a metrics label and a log text. */
enum proxy_reason {
	PROXY_R_NONE,		/* "none": not refused */
	PROXY_R_SIGNATURE,	/* neither "PROXY" nor the v2 signature */
	PROXY_R_V1_TOO_LONG,	/* no CRLF within PROXY_V1_MAX bytes */
	PROXY_R_V1_SYNTAX,	/* protocol word, spaces, fields, lone CR/LF */
	PROXY_R_V1_ADDRESS,	/* an address invalid for TCP4 / TCP6 */
	PROXY_R_V1_PORT,	/* a port not 0..65535 or with leading zero */
	PROXY_R_V2_VERSION,	/* version nibble not 2 */
	PROXY_R_V2_COMMAND,	/* command neither LOCAL nor PROXY */
	PROXY_R_V2_FAMILY,	/* family/protocol byte not allowed */
	PROXY_R_V2_LENGTH,	/* length shorter than the address block */
	PROXY_R_V2_TOO_LONG,	/* longer than PROXY_MAX_LEN */
	PROXY_R_V2_TLV,		/* TLV list does not fill the length exactly */
	PROXY_R_V2_CRC32C,	/* CRC32c TLV does not match the header */
};
#define PROXY_R_COUNT	(PROXY_R_V2_CRC32C + 1)

struct proxy_header {
	enum proxy_reason	 ph_reason;	/* PROXY_R_NONE unless INVALID */
	int			 ph_version;	/* 1 or 2 once known, else 0 */
	size_t			 ph_len;	/* DONE: header bytes to consume */
	bool			 ph_local;	/* DONE: use the socket's addresses */
	/* DONE and !ph_local: both AF_INET or both AF_INET6, port set. */
	struct sockaddr_storage	 ph_src;	/* the client */
	struct sockaddr_storage	 ph_dst;	/* what the client connected to */
	socklen_t		 ph_addrlen;	/* length of each of the two */
};

/*
 * Parse the first 'len' bytes of a connection, buf[0] being its first
 * byte.  Reads no byte at or beyond buf[len], keeps no state between
 * calls, and always overwrites all of *out (zeroes what does not apply).
 * Returns:
 *   PROXY_NEED_MORE  the bytes are the start of a header that may still
 *                    turn out valid (len == 0 included); nothing else in
 *                    *out is meaningful but ph_version once the first
 *                    byte told it;
 *   PROXY_DONE       buf starts with a valid header of out->ph_len bytes
 *                    (ph_len <= len; the bytes after it are not looked
 *                    at); ph_version, ph_local and, unless ph_local, the
 *                    addresses are set;
 *   PROXY_INVALID    no bytes that follow can make a valid header;
 *                    out->ph_reason says why (never PROXY_R_NONE).
 * Once a prefix gives DONE or INVALID, every longer buffer with that
 * prefix gives the same result.
 */
enum proxy_status	proxy_parse(const void *buf, size_t len,
			    struct proxy_header *out);

/*
 * A short stable name for metrics ("v1_port"), and a phrase for logs
 * ("v1 port out of range or with a leading zero").  Never NULL; an
 * unknown value gives "unknown".
 */
const char	*proxy_reason_label(enum proxy_reason);
const char	*proxy_reason_text(enum proxy_reason);

/*
 * CRC32c (Castagnoli, RFC 4960 appendix B) of len bytes, continuing from
 * 'crc' (0 to start): proxy_crc32c(proxy_crc32c(0, a, n), b, m) is the
 * CRC of a then b.  proxy_crc32c(0, "123456789", 9) == 0xe3069283.
 */
uint32_t	proxy_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
