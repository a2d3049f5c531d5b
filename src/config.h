/*
 * The configuration file: defaults, inih handler and validation.
 */
#ifndef ECHOD_CONFIG_H
#define ECHOD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "echod.h"
#include "log.h"
#include "parse.h"

#define CONFIG_MAX_FILE		(1024 * 1024)	/* larger files are refused */
#define CONFIG_MAX_ERRORS	32
#define CONFIG_ERR_LEN		320

struct listen_list {
	struct listen_addr	 ll_addr[ECHOD_MAX_LISTEN];
	size_t			 ll_n;
};

/* Plain data: copy it by value, no pointers inside. */
struct echod_config {
	struct listen_list	 listen;		/* [server]: echo */
	struct listen_list	 udp_listen;		/* [udp] */
	struct listen_list	 metrics_listen;	/* [metrics] */
	struct listen_list	 proxy_listen;		/* [proxy] */
	struct cidr		 proxy_trusted[ECHOD_MAX_TRUSTED];
	size_t			 proxy_ntrusted;
	uint64_t		 proxy_timeout_ms;
	unsigned		 workers;	/* "auto" already resolved */
	bool			 workers_auto;
	unsigned		 max_connections;
	unsigned		 backlog;
	uint64_t		 shutdown_timeout_ms;
	uint64_t		 drain_idle_ms;		/* 0: never early */
	uint64_t		 drain_delay_ms;	/* 0: stop at once */
	uint64_t		 buffer_size;
	bool			 splice;	/* streams through pipes */
	uint64_t		 idle_timeout_ms;	/* 0: never */
	bool			 keepalive;
	unsigned		 keepalive_idle_s;
	unsigned		 keepalive_interval_s;
	unsigned		 keepalive_count;
	unsigned		 max_connections_per_ip;	/* 0: off */
	int			 log_level;
	enum log_target		 log_target;
	bool			 log_connections;
	unsigned		 udp_min_source_port;
	unsigned		 udp_rate_limit;	/* per s and network; 0: off */
	unsigned		 udp_rate_burst;
	unsigned		 udp_rate_table_size;	/* networks */
};

/* Every problem found in one load, each "FILE:LINE: what". */
struct config_errors {
	unsigned	 n;		/* messages stored */
	unsigned	 dropped;	/* further problems not stored */
	char		 msg[CONFIG_MAX_ERRORS][CONFIG_ERR_LEN];
};

/* Fill with the built-in defaults (those of conf/echod.ini). */
void	config_defaults(struct echod_config *);

/*
 * Load and validate 'path'.  Returns 0 and fills *cfg, or -1 with every
 * problem in *errs and *cfg untouched: a bad file never half-applies.
 */
int	config_load(const char *path, struct echod_config *cfg,
	    struct config_errors *errs);

/* As config_load(), from a string; 'name' stands for the file in messages. */
int	config_load_string(const char *name, const char *text,
	    struct echod_config *cfg, struct config_errors *errs);

#endif
