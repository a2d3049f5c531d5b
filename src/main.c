/*
 * echod: an RFC 862 TCP echo service.
 *
 * main() reads the command line and the configuration, takes the
 * listening sockets and hands over to the master loop.  A program exec'd
 * by a live upgrade (upgrade.h) takes the sockets and the rest from the
 * hand-over instead; --check-upgrade is that upgrade's check.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "echod.h"
#include "handover.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "sig.h"
#include "upgrade.h"

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
	    "      --check-upgrade  (for a running echod) check that this\n"
	    "                       program can take over from it\n"
	    "\n"
	    "echod runs in the foreground; SIGTERM stops it gracefully,\n"
	    "SIGHUP reloads the configuration (or upgrades, once the\n"
	    "program on disk was replaced) and SIGUSR2 replaces the running\n"
	    "program with the installed one without closing a connection.\n",
	    ECHOD_CONFIG_FILE);
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

static void
print_first_error(const struct config_errors *errs, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", errs->n > 0 ? errs->msg[0] :
	    "invalid configuration", errs->n + errs->dropped > 1 ?
	    " (and more problems)" : "");
}

/*
 * --check-upgrade, run by a master about to exec this program: could it
 * take over what the hand-over lists, with the configuration at 'path'?
 * Prints "echod VERSION" and returns 0 if so; else says why on stderr.
 */
static int
main_check_upgrade(const char *path)
{
	static struct handover		 h;
	static struct echod_config	 cfg;
	static struct config_errors	 errs;
	const char			*refused;
	char				 err[512];
	int				 fd, fallback;

	if (!upgrade_env(&fd, &fallback, &refused) || fd == -1) {
		fprintf(stderr, "echod: %s is for a running echod to run: no "
		    "hand-over in $%s\n", UPGRADE_CHECK_OPTION,
		    UPGRADE_ENV_HANDOVER);
		return ECHOD_EXIT_USAGE;
	}
	if (handover_read(fd, echod_handover_format, &h, err, sizeof(err))
	    == -1) {
		fprintf(stderr, "echod %s cannot take over: %s\n",
		    echod_version, err);
		return ECHOD_EXIT_FAILURE;
	}
	if (config_load(path, &cfg, &errs) == -1) {
		print_errors(&errs);
		fprintf(stderr, "echod %s cannot take over: configuration "
		    "file %s is invalid\n", echod_version, path);
		return ECHOD_EXIT_CONFIG;
	}
	if (master_can_adopt(&h, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "echod %s cannot take over: %s\n",
		    echod_version, err);
		return ECHOD_EXIT_FAILURE;
	}
	printf("echod %s\n", echod_version);
	return ECHOD_EXIT_OK;
}

/*
 * Exec'd by a live upgrade (refused == NULL) or by its rollback: run
 * the master on what was handed over.  A new program that cannot even
 * read it goes back to the old one.
 */
static int
main_take_over(const char *path, int fd, int fallback, const char *refused)
{
	static struct handover		 h;
	static struct echod_config	 cfg;
	static struct config_errors	 errs;
	static struct listen_set	 listeners;
	struct master_takeover		 t = {
		.mt_handover = &h,
		.mt_handover_fd = fd,
		.mt_fallback = fallback,
		.mt_refused = refused,
	};
	char				 err[512], why[640];
	int				 keep[HANDOVER_MAX_FDS + 2];

	log_init(LOG_TARGET_AUTO, LOG_INFO, "master");
	if (fd == -1)
		fatalx("$%s does not name a descriptor", UPGRADE_ENV_HANDOVER);
	if (handover_read(fd, echod_handover_format, &h, err, sizeof(err))
	    == -1) {
		if (refused != NULL)
			fatalx("cannot resume after a failed upgrade: %s", err);
		snprintf(why, sizeof(why), "echod %s could not take over: %s",
		    echod_version, err);
		log_warnx("%s; going back to the old program", why);
		upgrade_rollback(fallback, fd, "echod", path, why);
		fatal("cannot go back to the old program either");
	}
	keep[0] = fd;
	keep[1] = fallback;
	upgrade_close_strays(keep, 2 + handover_fds(&h, keep + 2));
	/* As the old program did, until this one's configuration says. */
	log_init(h.h_log_journal ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR,
	    h.h_log_level, NULL);
	if (refused != NULL) {
		if (!h.h_has_resume)
			fatalx("cannot resume after a failed upgrade: the "
			    "hand-over has no configuration of this program");
		cfg = h.h_resume;
	} else if (config_load(path, &cfg, &errs) == -1) {
		print_first_error(&errs, err, sizeof(err));
		snprintf(why, sizeof(why), "echod %s could not take over: %s",
		    echod_version, err);
		log_warnx("%s; going back to echod %s", why, h.h_version);
		upgrade_rollback(fallback, fd, h.h_exe, path, why);
		fatal("cannot go back to echod %s either", h.h_version);
	}
	log_init(cfg.log_target, cfg.log_level, "master");
	listeners = h.h_listeners;
	return master_run(path, &cfg, &listeners, &t);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "check-upgrade", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	static struct echod_config	 cfg;
	static struct config_errors	 errs;
	static struct listen_set	 listeners;
	const char			*path = ECHOD_CONFIG_FILE;
	const char			*refused;
	char				 err[256];
	bool				 test_only = false;
	bool				 check_upgrade = false;
	int				 ch, fd, fallback;

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
		case 'U':
			check_upgrade = true;
			break;
		case 'V':
			printf("echod %s\n", echod_version);
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
	if (check_upgrade)
		return main_check_upgrade(path);
	if (!test_only && upgrade_env(&fd, &fallback, &refused))
		return main_take_over(path, fd, fallback, refused);

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
	return master_run(path, &cfg, &listeners, NULL);
}
