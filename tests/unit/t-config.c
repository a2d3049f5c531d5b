/*
 * Unit tests: config loading, defaults and every kind of error.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static struct echod_config	cfg;
static struct config_errors	errs;

/* Load text; expect failure with one message containing 'want'. */
static void
bad(const char *text, const char *want, const char *what)
{
	struct echod_config	 before;

	config_defaults(&cfg);
	cfg.backlog = 4242;	/* a marker: a failed load must not touch it */
	before = cfg;
	is_int(config_load_string("t.ini", text, &cfg, &errs), -1,
	    "%s: refused", what);
	if (errs.n > 0)
		like(errs.msg[0], want, "%s: message", what);
	else
		ok(0, "%s: message", what);
	ok(memcmp(&before, &cfg, sizeof(cfg)) == 0,
	    "%s: config untouched", what);
}

static void
test_defaults(void)
{
	struct echod_config	 def;
	char			*text;
	FILE			*f;
	long			 len;
	char			 path[512];

	config_defaults(&def);
	is_int(config_load_string("t.ini", "", &cfg, &errs), 0,
	    "an empty file is valid");
	ok(memcmp(&def, &cfg, sizeof(cfg)) == 0, "and gives the defaults");
	is_int(def.max_connections, 10000, "default max_connections");
	is_int(def.buffer_size, 65536, "default buffer_size");
	is_int(def.idle_timeout_ms, 300000, "default idle_timeout");
	is_int(def.listen.ll_n, 2, "default listen has two addresses");
	is_int(def.max_connections_per_ip, 0, "no per-source limit by default");

	/* The shipped file must state exactly the defaults. */
	snprintf(path, sizeof(path), "%s/conf/echod.ini",
	    getenv("ECHOD_SRCDIR") ? getenv("ECHOD_SRCDIR") : "../..");
	if ((f = fopen(path, "r")) == NULL) {
		ok(0, "shipped conf/echod.ini readable (%s)", path);
		return;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	if (fread(text, 1, (size_t)len, f) != (size_t)len)
		diag("short read of %s", path);
	fclose(f);
	is_int(config_load_string(path, text, &cfg, &errs), 0,
	    "shipped conf/echod.ini is valid");
	if (errs.n)
		diag("%s", errs.msg[0]);
	ok(memcmp(&def, &cfg, sizeof(cfg)) == 0,
	    "shipped conf/echod.ini states the built-in defaults");
	free(text);
}

static void
test_good(void)
{
	const char *text =
	    "\xef\xbb\xbf; a byte order mark, then a comment\n"
	    "# comment too\n"
	    "\f\n"
	    "[server]   ; a comment after a header\n"
	    "  listen = *:7   ; indented keys are fine\n"
	    "workers = 3\n"
	    "max_connections = 30\n"
	    "backlog = 16\n"
	    "shutdown_timeout = 1500ms\n"
	    "drain_delay = 20s\n"
	    "[connection]\n"
	    "max_connections_per_ip = 7\n"
	    "buffer_size = 4k\n"
	    "idle_timeout = 0\n"
	    "keepalive = off\n"
	    "keepalive_idle = 2m\n"
	    "keepalive_interval = 1\n"
	    "keepalive_count = 3\n"
	    "[log]\n"
	    "level = debug\n"
	    "target = stderr\n"
	    "connections = yes\n";

	is_int(config_load_string("t.ini", text, &cfg, &errs), 0,
	    "a full valid file loads");
	if (errs.n)
		diag("%s", errs.msg[0]);
	is_int(cfg.listen.ll_n, 2, "*:7 gives two sockets");
	is_int(cfg.workers, 3, "workers");
	ok(!cfg.workers_auto, "workers not auto");
	is_int(cfg.max_connections, 30, "max_connections");
	is_int(cfg.backlog, 16, "backlog");
	is_int(cfg.shutdown_timeout_ms, 1500, "shutdown_timeout in ms");
	is_int(cfg.drain_delay_ms, 20000, "drain_delay in ms");
	is_int(cfg.buffer_size, 4096, "buffer_size");
	is_int(cfg.max_connections_per_ip, 7, "max_connections_per_ip");
	is_int(cfg.idle_timeout_ms, 0, "idle_timeout 0 = never");
	ok(!cfg.keepalive, "keepalive off");
	is_int(cfg.keepalive_idle_s, 120, "keepalive_idle 2m = 120 s");
	is_int(cfg.keepalive_interval_s, 1, "keepalive_interval bare = s");
	is_int(cfg.keepalive_count, 3, "keepalive_count");
	is_int(cfg.log_level, LOG_DEBUG, "level debug");
	is_int(cfg.log_target, LOG_TARGET_STDERR, "target stderr");
	ok(cfg.log_connections, "connections yes");

	is_int(config_load_string("t.ini", "[server]\nworkers = auto\n", &cfg,
	    &errs), 0, "workers = auto");
	ok(cfg.workers_auto && cfg.workers >= 1, "auto resolves to >= 1");
}

static void
test_bad(void)
{
	bad("[server]\nworkers = abc\n", "t.ini:2: [server] workers = \"abc\": "
	    "not a number; expected auto or 1 to 256", "not a number");
	bad("[server]\nworkers = 0\n", "t.ini:2: [server] workers = \"0\": "
	    "out of range; expected auto or 1 to 256", "workers 0");
	bad("[server]\nworkers = 257\n", "out of range", "workers 257");
	bad("[server]\nmax_connections = 1000001\n", "1 to 1000000",
	    "max_connections too big");
	bad("[server]\nbacklog = -1\n", "[server] backlog = \"-1\": not a "
	    "number", "negative backlog");
	bad("[server]\nshutdown_timeout = 2d\n", "unknown unit 'd' (use ms, "
	    "s, m or h)", "unknown duration unit");
	bad("[server]\nshutdown_timeout = 2h\n", "0 to 1h",
	    "shutdown_timeout too long");
	bad("[server]\ndrain_delay = 61m\n", "t.ini:2: [server] drain_delay "
	    "= \"61m\": out of range; expected 0 (stop at once) to 1h",
	    "drain_delay too long");
	bad("[connection]\nbuffer_size = 512\n", "1k to 16m",
	    "buffer_size too small");
	bad("[connection]\nbuffer_size = 64x\n", "unknown unit 'x' (use k or "
	    "m)", "unknown size unit");
	bad("[connection]\nkeepalive = maybe\n", "expected yes or no",
	    "bad boolean");
	bad("[connection]\nkeepalive_idle = 1500ms\n", "whole number of "
	    "seconds", "keepalive_idle in ms");
	bad("[connection]\nkeepalive_count = 200\n", "1 to 127",
	    "keepalive_count too big");
	bad("[log]\nlevel = loud\n", "err, warning, notice, info or debug",
	    "bad level");
	bad("[log]\ntarget = syslog\n", "auto, journal or stderr",
	    "bad target");
	bad("[server]\nlisten = localhost:7\n", "not an IPv4 address",
	    "host name in listen");
	bad("[server]\nlisten =\n", "t.ini:2: [server] listen: empty value",
	    "empty value");
	bad("\n[server]\nworkers = 2\nworkers = 3\n", "t.ini:4: [server] "
	    "workers: duplicate key, already set on line 3", "duplicate key");
	bad("[server]\nworker = 2\n", "t.ini:2: unknown key 'worker' in "
	    "[server]", "unknown key");
	bad("[server]\n[sever]\nworkers = 2\n", "t.ini:2: unknown section "
	    "[sever]", "unknown section");
	bad("[server\n", "t.ini:1: section header without ']'",
	    "unterminated section");
	bad("[server]\n\r[bogus]\nworkers = 2\n", "t.ini:2: unknown section "
	    "[bogus]", "a section header after a carriage return");
	bad("[server] junk\n", "t.ini:1: unexpected text after the section "
	    "header", "text after a section header");
	bad("[log]\nlevel = \x1b[31mred\n", "level = \"?[31mred\"",
	    "control bytes are not echoed");
	bad("workers = 2\n", "t.ini:1: 'workers' is outside any section",
	    "key before any section");
	bad("[server]\njust some words\n", "t.ini:2: syntax error",
	    "line without =");
	bad("[server]\nworkers = 2\nmax_connections = 1\n",
	    "max_connections (1) is smaller than workers (2)",
	    "cross-field check");
}

/* The [udp] keys: defaults, limits, and a file:line for each error. */
static void
test_udp(void)
{
	struct echod_config	 def;

	config_defaults(&def);
	is_int(def.udp_listen.ll_n, 0, "no UDP socket by default");
	is_int(def.udp_min_source_port, 1024, "default min_source_port");
	is_int(def.udp_rate_limit, 100, "default rate_limit");
	is_int(def.udp_rate_burst, 200, "default rate_burst");
	is_int(def.udp_rate_table_size, 65536, "default rate_table_size");
	is_int(config_load_string("t.ini", "[udp]\n"
	    "listen = *:7, 127.0.0.1:7007\n"
	    "min_source_port = 0\n"
	    "rate_limit = 0\n"
	    "rate_burst = 30000\n"
	    "rate_table_size = 8\n", &cfg, &errs), 0, "the lowest [udp] values "
	    "(and the highest burst)");
	if (errs.n)
		diag("%s", errs.msg[0]);
	is_int(cfg.udp_listen.ll_n, 3, "... three UDP sockets");
	is_int(cfg.udp_min_source_port, 0, "... min_source_port 0");
	is_int(cfg.udp_rate_limit, 0, "... rate_limit 0 (off)");
	is_int(cfg.udp_rate_burst, 30000, "... rate_burst 30000");
	is_int(cfg.udp_rate_table_size, 8, "... rate_table_size 8");
	is_int(config_load_string("t.ini", "[udp]\nmin_source_port = 65535\n"
	    "rate_limit = 1000000\nrate_burst = 1\n"
	    "rate_table_size = 16777216\n", &cfg, &errs), 0,
	    "the highest [udp] values");
	ok(cfg.udp_min_source_port == 65535 && cfg.udp_rate_limit == 1000000 &&
	    cfg.udp_rate_burst == 1 && cfg.udp_rate_table_size == 16777216,
	    "... all stored");
	bad("[udp]\nmin_source_port = 65536\n", "t.ini:2: [udp] "
	    "min_source_port = \"65536\": out of range; expected 0 to 65535",
	    "min_source_port too big");
	bad("[udp]\nrate_limit = 1000001\n", "t.ini:2: [udp] rate_limit = "
	    "\"1000001\": out of range; expected 0 (off) to 1000000",
	    "rate_limit too big");
	bad("[udp]\nrate_limit = 10/s\n", "not a whole number",
	    "rate_limit with a unit");
	bad("[udp]\nrate_burst = 0\n", "t.ini:2: [udp] rate_burst = \"0\": "
	    "out of range; expected 1 to 30000", "rate_burst 0");
	bad("[udp]\nrate_burst = 30001\n", "expected 1 to 30000",
	    "rate_burst too big");
	bad("[udp]\n\nrate_table_size = 7\n", "t.ini:3: [udp] rate_table_size "
	    "= \"7\": out of range; expected 8 to 16777216",
	    "rate_table_size too small");
	bad("[udp]\nrate_table_size = 16777217\n", "expected 8 to 16777216",
	    "rate_table_size too big");
	bad("[udp]\nrate_table_size = 64k\n", "not a whole number",
	    "rate_table_size with a unit");
	bad("[udp]\nlisten = 127.0.0.1:7, 127.0.0.1:7\n", "t.ini:2: [udp] "
	    "listen", "the same UDP socket twice");
	bad("[udp]\nrate_limit = 5\nrate_limit = 6\n", "t.ini:3: [udp] "
	    "rate_limit: duplicate key, already set on line 2",
	    "duplicate [udp] key");
	bad("[udp]\nburst = 5\n", "t.ini:2: unknown key 'burst' in [udp]",
	    "unknown [udp] key");
	is_int(config_load_string("t.ini", "[server]\nlisten = 127.0.0.1:7\n"
	    "[udp]\nlisten = 127.0.0.1:7\n", &cfg, &errs), 0,
	    "a UDP socket on the port of a TCP one: fine (another protocol)");
}

/* Durations take decimals; keys in whole seconds still want them whole. */
static void
test_decimal_durations(void)
{
	const char *text =
	    "[server]\n"
	    "shutdown_timeout = 2.5\n"
	    "[connection]\n"
	    "idle_timeout = 1.5m\n"
	    "keepalive_idle = 0.5m\n"
	    "keepalive_interval = 2.000s\n";

	is_int(config_load_string("t.ini", text, &cfg, &errs), 0,
	    "decimal durations load");
	if (errs.n)
		diag("%s", errs.msg[0]);
	is_int(cfg.shutdown_timeout_ms, 2500, "shutdown_timeout 2.5 = 2500 ms");
	is_int(cfg.idle_timeout_ms, 90000, "idle_timeout 1.5m = 90000 ms");
	is_int(cfg.keepalive_idle_s, 30, "keepalive_idle 0.5m = 30 s");
	is_int(cfg.keepalive_interval_s, 2, "keepalive_interval 2.000s = 2 s");

	is_int(config_load_string("t.ini", "[server]\nshutdown_timeout = "
	    ".25\n", &cfg, &errs), 0, "a leading point loads");
	is_int(cfg.shutdown_timeout_ms, 250, "shutdown_timeout .25 = 250 ms");

	bad("[connection]\nidle_timeout = 1.2.3\n", "t.ini:2: [connection] "
	    "idle_timeout = \"1.2.3\": more than one decimal point; expected "
	    "0 (never) or up to 168h", "two decimal points");
	bad("[connection]\nidle_timeout = 1e3\n", "[connection] idle_timeout "
	    "= \"1e3\": unknown unit 'e3' (use ms, s, m or h)", "an exponent");
	bad("[connection]\nidle_timeout = 1.\n", "idle_timeout = \"1.\": no "
	    "digit after the decimal point", "a point without a fraction");
	bad("[server]\nshutdown_timeout = 1.5ms\n", "shutdown_timeout = "
	    "\"1.5ms\": not a whole number of milliseconds",
	    "half a millisecond");
	bad("[server]\nshutdown_timeout = 0.0001\n", "shutdown_timeout = "
	    "\"0.0001\": not a whole number of milliseconds",
	    "a tenth of a millisecond");
	bad("[server]\nshutdown_timeout = 1.5h\n", "out of range; expected "
	    "0 to 1h", "decimal beyond the range");
	bad("[connection]\nkeepalive_idle = 1.5s\n", "t.ini:2: [connection] "
	    "keepalive_idle = \"1.5s\": not a whole number of seconds; "
	    "expected 1s to 32767s, whole seconds", "keepalive_idle 1.5s");
	bad("[connection]\nkeepalive_interval = 0.1\n", "keepalive_interval "
	    "= \"0.1\": not a whole number of seconds", "keepalive_interval "
	    "0.1");
}

static void
test_every_error(void)
{
	char	 line[400];

	/* -t prints every problem: all of them must be collected. */
	is_int(config_load_string("t.ini", "[server]\nworkers = x\n"
	    "backlog = y\n[nope]\na = b\n[log]\nlevel = z\ngarbage\n",
	    &cfg, &errs), -1, "a file with five problems is refused");
	is_int(errs.n, 5, "all five are reported");
	if (errs.n == 5) {
		like(errs.msg[0], "t.ini:2:", "first on line 2");
		like(errs.msg[1], "t.ini:3:", "second on line 3");
		like(errs.msg[2], "t.ini:4: unknown section", "third on 4");
		like(errs.msg[3], "t.ini:7:", "fourth on line 7");
		like(errs.msg[4], "t.ini:8: syntax error", "fifth on line 8");
	}

	/* inih's line buffer is 200 bytes: longer lines are refused whole. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "[server]\nlisten = ", 18);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	bad(line, "t.ini:2: line too long", "a 380-byte line");
}

static void
test_files(void)
{
	char	 dir[] = "/tmp/t-config-XXXXXX", path[64];
	FILE	*f;
	int	 i;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/missing.ini", dir);
	is_int(config_load(path, &cfg, &errs), -1, "missing file refused");
	like(errs.msg[0], "missing.ini: cannot open: No such file",
	    "... saying it does not exist");
	is_int(config_load(dir, &cfg, &errs), -1, "directory refused");
	like(errs.msg[0], "is a directory", "... saying it is a directory");

	snprintf(path, sizeof(path), "%s/big.ini", dir);
	f = fopen(path, "w");
	for (i = 0; i < 70000; i++)
		fputs("; padding padding\n", f);
	fclose(f);
	is_int(config_load(path, &cfg, &errs), -1, "huge file refused");
	like(errs.msg[0], "too large", "... saying it is too large");
	unlink(path);

	snprintf(path, sizeof(path), "%s/nul.ini", dir);
	f = fopen(path, "w");
	fwrite("[server]\nworkers = 2\0\n", 1, 22, f);
	fclose(f);
	is_int(config_load(path, &cfg, &errs), -1, "NUL byte refused");
	like(errs.msg[0], "nul.ini:2: line contains a NUL byte",
	    "... naming its line");
	unlink(path);

	snprintf(path, sizeof(path), "%s/ok.ini", dir);
	f = fopen(path, "w");
	fputs("[server]\nworkers = 1\n", f);
	fclose(f);
	if (getuid() != 0) {
		chmod(path, 0);
		is_int(config_load(path, &cfg, &errs), -1,
		    "unreadable file refused");
		like(errs.msg[0], "Permission denied", "... saying why");
	}
	chmod(path, 0644);
	is_int(config_load(path, &cfg, &errs), 0, "a readable file loads");
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_defaults();
	test_good();
	test_bad();
	test_udp();
	test_decimal_durations();
	test_every_error();
	test_files();
	return done_testing();
}
