/*
 * echod: an RFC 862 TCP echo service.
 *
 * main() reads the command line and the configuration, takes the
 * listening sockets and hands over to the master loop.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "echod.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "sig.h"

#ifndef ECHOD_CONFIG_FILE
#define ECHOD_CONFIG_FILE	"/etc/echod.ini"
#endif

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: echod [-t] [-c FILE]\n"
	    "       echod -V | -h\n"
	    "\n"
	    "  -c, --config FILE    configuration file (default %s)\n"
	    "  -t, --test-config    check the configuration and exit:\n"
	    "                       0 when valid, 1 when not\n"
	    "  -V, --version        print the version and exit\n"
	    "  -h, --help           print this help and exit\n"
	    "\n"
	    "echod runs in the foreground; SIGTERM stops it gracefully and\n"
	    "SIGHUP reloads the configuration.\n", ECHOD_CONFIG_FILE);
}

static void
print_errors(const struct config_errors *errs)
{
	unsigned	 i;

	for (i = 0; i < errs->n; i++)
		fprintf(stderr, "echod: %s\n", errs->msg[i]);
	if (errs->dropped)
		fprintf(stderr, "echod: ... and %u more problems\n",
		    errs->dropped);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct echod_config	 cfg;
	static struct config_errors	 errs;
	static struct listen_set	 listeners;
	const char			*path = ECHOD_CONFIG_FILE;
	char				 err[256];
	bool				 test_only = false;
	int				 ch;

	/* Before anything can fork: workers inherit this mask. */
	sig_master_block();

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:tVh", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'c':
			if (optarg[0] == '\0') {
				fprintf(stderr, "echod: -c needs a file name\n");
				return ECHOD_EXIT_USAGE;
			}
			path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'V':
			printf("echod %s\n", PACKAGE_VERSION);
			return ECHOD_EXIT_OK;
		case 'h':
			usage(stdout);
			return ECHOD_EXIT_OK;
		case ':':
			fprintf(stderr, "echod: option '%s' needs an argument\n",
			    argv[optind - 1]);
			usage(stderr);
			return ECHOD_EXIT_USAGE;
		default:
			if (optopt != 0)
				fprintf(stderr, "echod: unknown option '-%c'\n",
				    optopt);
			else
				fprintf(stderr, "echod: unknown option '%s'\n",
				    argv[optind - 1]);
			usage(stderr);
			return ECHOD_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "echod: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return ECHOD_EXIT_USAGE;
	}

	if (config_load(path, &cfg, &errs) == -1) {
		print_errors(&errs);
		if (test_only) {
			fprintf(stderr, "echod: configuration file %s test "
			    "failed\n", path);
			return 1;
		}
		fprintf(stderr, "echod: not starting: configuration file %s "
		    "is invalid\n", path);
		return ECHOD_EXIT_CONFIG;
	}
	if (test_only) {
		fprintf(stderr, "echod: configuration file %s test is "
		    "successful\n", path);
		return ECHOD_EXIT_OK;
	}

	log_init(cfg.log_target, cfg.log_level, "master");
	if (listen_acquire(&cfg, &listeners, err, sizeof(err)) == -1)
		fatalx("not starting: %s", err);
	if (listen_count(&listeners, LISTEN_PROXY) > 0 &&
	    cfg.proxy_ntrusted == 0) {
		log_warnx("not starting: systemd passed a \"proxy\" socket "
		    "but [proxy] trusted in %s is not set: say which addresses "
		    "may send PROXY headers", path);
		return ECHOD_EXIT_CONFIG;
	}
	return master_run(path, &cfg, &listeners);
}
