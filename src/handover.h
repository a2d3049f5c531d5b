/*
 * The hand-over: the state a master passes to the program it execs in
 * its place (a live upgrade, master_upgrade.c and upgrade.h), so that the
 * new program adopts the workers, sockets and memory of the old one.
 *
 * It travels as text in a sealed memfd whose descriptor number is in
 * $ECHOD_HANDOVER, one entry per line, between a first line
 * "echod-handover N" and a last line "end" (a hand-over cut short is
 * refused).  Numbers are decimal; strings have every byte outside
 * '!'..'~', and '%', written as %XX, and the empty string is "-".  The
 * entries, each once unless said otherwise:
 *
 *	version V	the writer's echod version
 *	exe PATH	where its program is installed
 *	config PATH	its configuration file
 *	started T	when the daemon started (Unix time, seconds)
 *	generation N	the newest generation of workers
 *	served B	READY=1 was sent once (0 or 1)
 *	log TARGET LEVEL
 *			where the writer logs (journal or stderr) and up
 *			to which syslog level: the reader logs so until it
 *			has read its own configuration
 *	passed B	the listeners came from systemd
 *	listener FD KIND NAME ADDRLEN ADDR ITEM TEXT
 *			one per listening socket, in order: KIND as
 *			listen_kind_name(); ADDR the bound address in hex
 *			("-" for passed sockets), ITEM and TEXT as in
 *			struct listen_addr
 *	slot SLOT STATE PID GEN INDEX STARTED RESPAWN QUICK READY
 *			one per slot in use: STATE running, waiting or
 *			retiring; STARTED and RESPAWN in CLOCK_MONOTONIC ms
 *	stats CLEAN ERROR SIGNAL RESTARTS RELOADS_OK RELOADS_FAILED
 *	    LAST_RELOAD_FAILED UPGRADES_OK UPGRADES_FAILED
 *			the master's counters (struct stats_master)
 *	shared FD SOURCES_FD LAYOUT BYTES
 *			the shared area's memfd and that of the
 *			per-source tables (shared.h)
 *	rate FD BYTES ENTRIES RATE BURST LAYOUT
 *			the UDP rate table of the newest generation, if
 *			there is one (udp_rate.h)
 *	pipes LIFELINE_R LIFELINE_W READY_R READY_W
 *	resume BYTES HEX
 *			the writer's own struct echod_config, for itself
 *			only: a rollback execs the very same program
 *
 * Versioning: any change to what is written (an entry added, dropped or
 * read differently) takes a new HANDOVER_FORMAT.  A reader takes the
 * formats from HANDOVER_FORMAT_OLDEST to its own and refuses the rest,
 * so an older echod refuses a newer hand-over with a clear reason
 * instead of misreading it; a newer one keeps reading the older formats
 * it lists.  Unknown entries are refused, never skipped.
 */
#ifndef ECHOD_HANDOVER_H
#define ECHOD_HANDOVER_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "echod.h"
#include "listen.h"
#include "stats.h"

#define HANDOVER_FORMAT		1	/* written by this source */
#define HANDOVER_FORMAT_OLDEST	1	/* the oldest it reads */
#define HANDOVER_MAX_BYTES	(4 * 1024 * 1024)
#define HANDOVER_VERSION_LEN	64

enum handover_state {
	HANDOVER_FREE,
	HANDOVER_RUNNING,	/* the newest generation */
	HANDOVER_WAITING,	/* the newest generation, respawn pending */
	HANDOVER_RETIRING,	/* older generations, draining */
};

struct handover_slot {
	enum handover_state	 hs_state;
	pid_t			 hs_pid;
	unsigned		 hs_gen;
	unsigned		 hs_index;
	uint64_t		 hs_started;	/* CLOCK_MONOTONIC ms */
	uint64_t		 hs_respawn_at;
	unsigned		 hs_quick_deaths;
	bool			 hs_ready;
};

/* Plain data, as struct echod_config: copy it by value. */
struct handover {
	unsigned		 h_format;
	char			 h_version[HANDOVER_VERSION_LEN];
	char			 h_exe[PATH_MAX];
	char			 h_config[PATH_MAX];
	double			 h_started;
	unsigned		 h_gen;
	bool			 h_served;
	bool			 h_log_journal;
	int			 h_log_level;
	struct listen_set	 h_listeners;	/* with passed */
	struct handover_slot	 h_slots[ECHOD_MAX_SLOTS];
	struct stats_master	 h_stats;	/* counters; gauges are 0 */
	int			 h_shared_fd;
	int			 h_sources_fd;
	uint32_t		 h_shared_layout;
	uint64_t		 h_shared_bytes;
	int			 h_rate_fd;	/* -1: no table */
	uint64_t		 h_rate_bytes;
	unsigned		 h_rate_entries, h_rate_rate, h_rate_burst;
	uint32_t		 h_rate_layout;
	int			 h_lifeline[2];
	int			 h_ready[2];
	bool			 h_has_resume;	/* the writer's layout */
	struct echod_config	 h_resume;
};

/*
 * The descriptors h hands over (listeners, shared memory, rate table,
 * pipes) into fds, which holds HANDOVER_MAX_FDS: their number.
 */
#define HANDOVER_MAX_FDS	(LISTEN_MAX + 8)
size_t	 handover_fds(const struct handover *h, int *fds);

/*
 * The text of h (h->h_format on its first line) in a new buffer that the
 * caller frees; *len its length.  NULL when out of memory.
 */
char	*handover_format(const struct handover *h, size_t *len);

/*
 * Parse 'len' bytes of hand-over text into *h, taking formats from
 * HANDOVER_FORMAT_OLDEST to 'newest' (the reader's own).  A resume entry
 * of another size than this program's struct echod_config is skipped
 * (h_has_resume false): another program wrote it.  0, or -1 with the
 * reason in err (an unknown format, entry or state, a bad number, a
 * missing entry, no "end"); *h is then undefined.
 */
int	 handover_parse(const char *text, size_t len, unsigned newest,
	    struct handover *h, char *err, size_t errlen);

/*
 * handover_format() into a new memfd, sealed against any change: its
 * descriptor (close-on-exec), or -1 with the reason in err.
 */
int	 handover_write(const struct handover *h, char *err, size_t errlen);

/*
 * Read the memfd 'fd' (at most HANDOVER_MAX_BYTES, from offset 0) and
 * handover_parse() it.  0, or -1 with err.
 */
int	 handover_read(int fd, unsigned newest, struct handover *h, char *err,
	    size_t errlen);

#endif
