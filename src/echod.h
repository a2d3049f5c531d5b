/*
 * echod: exit codes and limits shared by every module.
 */
#ifndef ECHOD_H
#define ECHOD_H

/* Exit codes, with their systemd.exec(5) / LSB meanings. */
enum echod_exit {
	ECHOD_EXIT_OK = 0,
	ECHOD_EXIT_FAILURE = 1,		/* runtime failure (bind, fork...) */
	ECHOD_EXIT_USAGE = 2,		/* invalid command line */
	ECHOD_EXIT_CONFIG = 6,		/* configuration is invalid */
};

#define ECHOD_MAX_LISTEN	16	/* listening sockets, bound or passed */
#define ECHOD_MAX_TRUSTED	64	/* [proxy] trusted networks */
#define ECHOD_MAX_WORKERS	256	/* workers per generation */
#define ECHOD_MAX_SLOTS		768	/* live workers: three generations */

/*
 * What this program is: its version ("0.1.0"), and the newest format of
 * the hand-over to a program exec'd in its place (handover.h) that it
 * writes and reads.  Each program sets them in version.c, so that the
 * tests can build the same code as another version.
 */
extern const char	 echod_version[];
extern const unsigned	 echod_handover_format;

#endif
