/*
 * echo-client: exit codes, limits and the options every module reads.
 */
#ifndef ECHO_CLIENT_H
#define ECHO_CLIENT_H

#include <sys/socket.h>

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Exit codes.  The usage text in main.c and echo-client(1) list them
 * too; change all three together.
 */
enum client_exit {
	CLIENT_EXIT_OK = 0,
	CLIENT_EXIT_FAILURE = 1,	/* ping loss, local I/O error, other */
	CLIENT_EXIT_USAGE = 2,		/* invalid command line */
	CLIENT_EXIT_RESOLVE = 3,	/* name resolution failed */
	CLIENT_EXIT_REFUSED = 4,	/* connection refused */
	CLIENT_EXIT_UNREACHABLE = 5,	/* host or network unreachable */
	CLIENT_EXIT_TIMEOUT = 6,	/* no answer to connect, or no reply */
	CLIENT_EXIT_CLOSED = 7,		/* server terminated prematurely */
	CLIENT_EXIT_RESET = 8,		/* connection reset by the server */
	CLIENT_EXIT_PIPE = 9,		/* broken pipe while sending */
};

#define CLIENT_DEFAULT_PORT	"7"
#define CLIENT_PIPE_TIMEOUT_MS	30000	/* --timeout when stdin is no tty */
#define CLIENT_PING_TIMEOUT_MS	5000	/* --timeout in ping mode */
#define CLIENT_PING_INTERVAL_MS	1000
#define CLIENT_PING_SIZE	64
#define CLIENT_MAX_SIZE		(1024 * 1024)
#define CLIENT_UDP_MAX_SIZE	65527	/* over IPv6; 65507 over IPv4 */
#define CLIENT_MAX_COUNT	UINT32_MAX

/* --keepalive: a silent peer is given up after IDLE + INTVL * CNT s. */
#define CLIENT_KEEPIDLE		10
#define CLIENT_KEEPINTVL	5
#define CLIENT_KEEPCNT		3

struct client_opts {
	const char	*co_host;
	const char	*co_port;	/* decimal, 1 to 65535 */
	int		 co_family;	/* AF_UNSPEC, AF_INET or AF_INET6 */
	uint64_t	 co_timeout_ms;	/* 0: wait as long as the kernel does */
	bool		 co_keepalive;
	bool		 co_quiet;
	bool		 co_ping;
	bool		 co_udp;	/* -u: datagrams, not a stream */
	uint64_t	 co_count;	/* ping: messages; 0 = endless */
	uint64_t	 co_interval_ms;
	uint64_t	 co_size;
	int		 co_proxy;	/* --proxy: 0 (none), 1 or 2 */
	bool		 co_proxy_src_set;	/* --proxy-source given */
	struct sockaddr_storage co_proxy_src;
};

/*
 * Set by the signal handlers in main.c, read and cleared by the loops.
 * client_stop_signal is SIGINT or SIGTERM (ping mode only), 0 if none.
 */
extern volatile sig_atomic_t	client_stop_signal;
extern volatile sig_atomic_t	client_want_status;	/* SIGQUIT */

#endif
