/*
 * echo-client: a client for the TCP echo service (RFC 862) that never
 * hangs without saying so and says why it failed.
 *
 * main() reads the command line, connects, and hands over to stream mode
 * (stdin to the server, the echo to stdout) or ping mode.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "msg.h"
#include "net.h"
#include "parse.h"
#include "ping.h"
#include "proxyhdr.h"
#include "stream.h"
#include "udp.h"

volatile sig_atomic_t	client_stop_signal;
volatile sig_atomic_t	client_want_status;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: echo-client [-46kqu] [-t DUR] [-c N] [-i DUR] [-s BYTES]\n"
	    "                   [--proxy[=v1|v2]] [--proxy-source ADDR:PORT] "
	    "HOST [PORT]\n"
	    "       echo-client -V | -h\n"
	    "\n"
	    "Copies standard input to the echo service on HOST (PORT 7 by\n"
	    "default) and its echo to standard output, or, in ping mode\n"
	    "(-c, -i or -s), times numbered messages like ping(8).  With -u,\n"
	    "over UDP: standard input goes out as one datagram, or ping mode\n"
	    "sends numbered datagrams.\n"
	    "\n"
	    "  -4, -6               use IPv4 or IPv6 addresses only\n"
	    "  -u, --udp            UDP echo: datagrams instead of a stream\n"
	    "  -t, --timeout DUR    give up when no reply comes for DUR (and\n"
	    "                       on connecting); 0 = never.  Default: none\n"
	    "                       when stdin is a terminal, 30s otherwise,\n"
	    "                       5s per message in ping mode and with -u\n"
	    "  -k, --keepalive      short TCP keepalive probes: notice a dead\n"
	    "                       server within %ds even while idle\n"
	    "  -c, --count N        ping mode: send N messages (default:\n"
	    "                       until interrupted)\n"
	    "  -i, --interval DUR   ping mode: time between messages (1s;\n"
	    "                       0 with -u: the next once the last is\n"
	    "                       answered or lost)\n"
	    "  -s, --size BYTES     ping mode: message size, 1 to 1m (64);\n"
	    "                       with -u at most 65507 (IPv4) or 65527\n"
	    "                       (IPv6)\n"
	    "  -q, --quiet          print only the echoed data (ping mode:\n"
	    "                       the summary); errors still go to stderr\n"
	    "  --proxy[=v1|v2]      send a PROXY protocol header first, as a\n"
	    "                       load balancer would (default v2), naming\n"
	    "                       this end of the connection as the client\n"
	    "  --proxy-source ADDR:PORT\n"
	    "                       name ADDR:PORT ([IPv6]:PORT) as the\n"
	    "                       client instead; implies --proxy and its\n"
	    "                       family\n"
	    "  -V, --version        print the version and exit\n"
	    "  -h, --help           print this help and exit\n"
	    "\n"
	    "DUR is a number with ms, s, m or h (bare: seconds); it may\n"
	    "have a fraction that comes to whole ms: 0.2, 1.5s, 2.5m.\n"
	    "SIGQUIT (Ctrl-\\) prints progress.\n"
	    "\n"
	    "Exit status: 0 ok; 1 ping loss or corruption, or another error;\n"
	    "2 usage; 3 name resolution failed; 4 connection refused;\n"
	    "5 host or network unreachable; 6 timed out; 7 server terminated\n"
	    "prematurely; 8 connection reset; 9 broken pipe.\n",
	    CLIENT_KEEPIDLE + CLIENT_KEEPINTVL * CLIENT_KEEPCNT);
}

static int
usage_error(const char *, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "echo-client: %s\n"
	    "Try 'echo-client --help' for more information.\n", line);
	return CLIENT_EXIT_USAGE;
}

/*
 * Parse the value of option opt with parse(); it must lie in [min, max]
 * ('unit' names them).  Returns 0, or CLIENT_EXIT_USAGE after saying why.
 */
static int
opt_number(int (*parse)(const char *, uint64_t *, char *, size_t),
    const char *opt, const char *arg, uint64_t min, uint64_t max,
    const char *range, uint64_t *out)
{
	char	 err[PARSE_ERR_LEN];

	if (parse(arg, out, err, sizeof(err)) == -1)
		return usage_error("%s '%s': %s", opt, arg, err);
	if (*out < min || *out > max)
		return usage_error("%s '%s': must be %s", opt, arg, range);
	return 0;
}

/* Point closed standard descriptors at /dev/null, so a socket is never 1. */
static int
fds_sanitize(void)
{
	int	 fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			return -1;
	}
	return 0;
}

/*
 * No SA_RESTART: the signal must wake poll(2) so the loop sees the flag.
 * Nothing else happens in the handler.
 */
static void
client_on_signal(int sig)
{
	int	 saved = errno;

	if (sig == SIGQUIT)
		client_want_status = 1;
	else
		client_stop_signal = sig;
	errno = saved;
}

static void
signals_init(bool ping)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	/* Write errors are reported as EPIPE, never as a silent death. */
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = client_on_signal;
	sigaction(SIGQUIT, &sa, NULL);
	/* Ping mode prints its summary when interrupted, like ping(8). */
	if (ping) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
}

/* Die of the stop signal, so the caller sees what killed us. */
static void
die_of_signal(int sig)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	raise(sig);
	_exit(128 + sig);
}

#define DUR_MAX_MS	(168ULL * 3600 * 1000)	/* keeps microseconds exact */

enum { OPT_PROXY = 256, OPT_PROXY_SOURCE };

/* --proxy-source ADDR:PORT: one address, IPv4 or [IPv6]. */
static int
opt_proxy_source(const char *arg, struct client_opts *o)
{
	struct listen_addr	 la[2];
	char			 err[PARSE_ERR_LEN];
	size_t			 n;

	if (parse_listen(arg, la, 2, &n, err, sizeof(err)) == -1)
		return usage_error("--proxy-source '%s': %s", arg, err);
	if (n != 1 || strchr(arg, ',') != NULL || arg[0] == '*')
		return usage_error("--proxy-source '%s': one address, as "
		    "192.0.2.1:5555 or [2001:db8::1]:5555", arg);
	memcpy(&o->co_proxy_src, &la[0].la_addr, la[0].la_len);
	o->co_proxy_src_set = true;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "keepalive", no_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "udp", no_argument, NULL, 'u' },
		{ "proxy", optional_argument, NULL, OPT_PROXY },
		{ "proxy-source", required_argument, NULL, OPT_PROXY_SOURCE },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts	 o;
	struct net_peer		 peer;
	uint64_t		 port;
	bool			 timeout_set = false;
	int			 ch, fd, code;

	memset(&o, 0, sizeof(o));
	o.co_family = AF_UNSPEC;
	o.co_port = CLIENT_DEFAULT_PORT;
	o.co_interval_ms = CLIENT_PING_INTERVAL_MS;
	o.co_size = CLIENT_PING_SIZE;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":46t:kc:i:s:quVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
		case '6':
			if (o.co_family != AF_UNSPEC &&
			    o.co_family != (ch == '4' ? AF_INET : AF_INET6))
				return usage_error("-4 and -6 exclude each "
				    "other");
			o.co_family = ch == '4' ? AF_INET : AF_INET6;
			break;
		case 't':
			if (opt_number(parse_duration, "--timeout", optarg, 0,
			    DUR_MAX_MS, "at most 168h", &o.co_timeout_ms) != 0)
				return CLIENT_EXIT_USAGE;
			timeout_set = true;
			break;
		case 'k':
			o.co_keepalive = true;
			break;
		case 'c':
			if (opt_number(parse_uint, "--count", optarg, 1,
			    CLIENT_MAX_COUNT, "from 1 to 4294967295",
			    &o.co_count) != 0)
				return CLIENT_EXIT_USAGE;
			o.co_ping = true;
			break;
		case 'i':
			if (opt_number(parse_duration, "--interval", optarg, 0,
			    DUR_MAX_MS, "at most 168h", &o.co_interval_ms)
			    != 0)
				return CLIENT_EXIT_USAGE;
			o.co_ping = true;
			break;
		case 's':
			if (opt_number(parse_size, "--size", optarg, 1,
			    CLIENT_MAX_SIZE, "from 1 byte to 1m",
			    &o.co_size) != 0)
				return CLIENT_EXIT_USAGE;
			o.co_ping = true;
			break;
		case 'q':
			o.co_quiet = true;
			break;
		case 'u':
			o.co_udp = true;
			break;
		case OPT_PROXY:
			if (optarg == NULL || strcmp(optarg, "v2") == 0)
				o.co_proxy = 2;
			else if (strcmp(optarg, "v1") == 0)
				o.co_proxy = 1;
			else
				return usage_error("--proxy '%s': v1 or v2",
				    optarg);
			break;
		case OPT_PROXY_SOURCE:
			if (opt_proxy_source(optarg, &o) != 0)
				return CLIENT_EXIT_USAGE;
			break;
		case 'V':
			printf("echo-client %s\n", PACKAGE_VERSION);
			return CLIENT_EXIT_OK;
		case 'h':
			usage(stdout);
			return CLIENT_EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				return usage_error("unknown option '-%c'",
				    optopt);
			return usage_error("unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error("missing HOST");
	o.co_host = argv[optind++];
	if (o.co_host[0] == '\0')
		return usage_error("HOST is empty");
	if (optind < argc) {
		o.co_port = argv[optind++];
		if (opt_number(parse_uint, "PORT", o.co_port, 1, 65535,
		    "a number from 1 to 65535", &port) != 0)
			return CLIENT_EXIT_USAGE;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o.co_proxy_src_set) {
		if (o.co_proxy == 0)
			o.co_proxy = 2;
		/* Both addresses of a header are of one family. */
		if (o.co_family != AF_UNSPEC &&
		    o.co_family != o.co_proxy_src.ss_family)
			return usage_error("--proxy-source is an %s address; "
			    "it excludes %s", o.co_proxy_src.ss_family ==
			    AF_INET ? "IPv4" : "IPv6", o.co_family == AF_INET ?
			    "-4" : "-6");
		o.co_family = o.co_proxy_src.ss_family;
	}
	if (o.co_udp && o.co_proxy != 0)
		return usage_error("--proxy is for TCP: it excludes -u");
	if (o.co_udp && o.co_keepalive)
		return usage_error("-k (TCP keepalive) and -u exclude each "
		    "other");
	if (o.co_udp && o.co_size > CLIENT_UDP_MAX_SIZE)
		return usage_error("--size '%llu': a UDP datagram carries at "
		    "most 65527 bytes (65507 over IPv4)",
		    (unsigned long long)o.co_size);
	if (!timeout_set)
		o.co_timeout_ms = o.co_ping || o.co_udp ?
		    CLIENT_PING_TIMEOUT_MS : isatty(STDIN_FILENO) ? 0 :
		    CLIENT_PIPE_TIMEOUT_MS;

	if (fds_sanitize() == -1) {
		msg_warn("/dev/null");
		return CLIENT_EXIT_FAILURE;
	}
	msg_set_quiet(o.co_quiet);
	signals_init(o.co_ping);

	if (o.co_udp)
		fd = net_udp_open(&o, &peer, &code);
	else
		fd = net_connect(&o, &peer, &code);
	if (fd == -1) {
		if (code == -1)
			die_of_signal(client_stop_signal);
		return code;
	}
	if (o.co_udp && o.co_ping && o.co_size >
	    udp_max_payload(peer.np_addr[0] == '[' ? AF_INET6 : AF_INET)) {
		close(fd);
		return usage_error("--size '%llu': a UDP datagram to %s "
		    "carries at most %llu bytes", (unsigned long long)o.co_size,
		    peer.np_addr, (unsigned long long)udp_max_payload(AF_INET));
	}
	if (!o.co_udp && !o.co_ping) {
		if (strncmp(peer.np_addr + (peer.np_addr[0] == '['),
		    o.co_host, strlen(o.co_host)) == 0)
			msg_note("connected to %s", peer.np_addr);
		else
			msg_note("connected to %s (%s)", o.co_host,
			    peer.np_addr);
	}
	if (o.co_proxy != 0 &&
	    (code = proxyhdr_send(fd, &o, peer.np_addr)) != 0) {
		close(fd);
		return code;
	}
	if (o.co_udp)
		code = o.co_ping ? udp_ping(fd, &o, &peer) :
		    udp_once(fd, &o, &peer);
	else if (o.co_ping)
		code = ping_run(fd, &o, &peer);
	else
		code = stream_run(fd, &o, &peer);
	close(fd);
	if (code == CLIENT_EXIT_OK && fflush(stdout) == EOF) {
		msg_warn("writing standard output");
		code = CLIENT_EXIT_FAILURE;
	}
	return code;
}
