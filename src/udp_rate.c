/*
 * The UDP rate table's shared memory.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udp_rate.h"

struct udp_rate {
	struct ratelimit	*ur_table;
	void			*ur_mem;
	size_t			 ur_len;
	int			 ur_fd;		/* the memfd, for a hand-over */
	unsigned		 ur_entries, ur_rate, ur_burst;
};

bool
udp_rate_wanted(const struct echod_config *cfg, size_t udp_sockets)
{
	return udp_sockets > 0 && cfg->udp_rate_limit > 0;
}

struct udp_rate *
udp_rate_create(const struct echod_config *cfg, char *err, size_t errlen)
{
	struct udp_rate	*r;
	struct rlimit	 rl;
	size_t		 len, page = (size_t)sysconf(_SC_PAGESIZE);
	int		 fd = -1, rc;

	len = ratelimit_size(cfg->udp_rate_table_size);
	if (len == 0) {
		snprintf(err, errlen, "UDP rate table of %u networks: out of "
		    "range", cfg->udp_rate_table_size);
		return NULL;
	}
	len = (len + page - 1) / page * page;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Past RLIMIT_FSIZE, fallocate() would also raise SIGXFSZ. */
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	    && len > rl.rlim_cur) {
		snprintf(err, errlen, "the UDP rate table would take %zu "
		    "bytes, over the file size limit (RLIMIT_FSIZE) of %llu",
		    len, (unsigned long long)rl.rlim_cur);
		goto fail;
	}
	if ((fd = memfd_create("echod-udp-rate", MFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot make the UDP rate table: "
		    "memfd_create: %s", strerror(errno));
		goto fail;
	}
	/* posix_fallocate() returns the error rather than setting errno. */
	if ((rc = posix_fallocate(fd, 0, (off_t)len)) != 0) {
		snprintf(err, errlen, "cannot allocate %zu KiB for the UDP "
		    "rate table ([udp] rate_table_size = %u): %s", len >> 10,
		    cfg->udp_rate_table_size, strerror(rc));
		goto fail;
	}
	r->ur_mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->ur_mem == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the UDP rate table: %s",
		    strerror(errno));
		goto fail;
	}
	r->ur_fd = fd;
	r->ur_len = len;
	r->ur_entries = cfg->udp_rate_table_size;
	r->ur_rate = cfg->udp_rate_limit;
	r->ur_burst = cfg->udp_rate_burst;
	if ((r->ur_table = ratelimit_init(r->ur_mem, r->ur_entries, r->ur_rate,
	    r->ur_burst)) == NULL) {
		snprintf(err, errlen, "UDP rate table: %s", strerror(errno));
		munmap(r->ur_mem, len);
		close(fd);
		free(r);
		return NULL;
	}
	return r;
fail:
	if (fd != -1)
		close(fd);
	free(r);
	return NULL;
}

bool
udp_rate_matches(const struct udp_rate *r, const struct echod_config *cfg)
{
	return r != NULL && r->ur_entries == cfg->udp_rate_table_size &&
	    r->ur_rate == cfg->udp_rate_limit &&
	    r->ur_burst == cfg->udp_rate_burst;
}

struct ratelimit *
udp_rate_table(const struct udp_rate *r)
{
	return r == NULL ? NULL : r->ur_table;
}

size_t
udp_rate_bytes(const struct udp_rate *r)
{
	return r == NULL ? 0 : r->ur_len;
}

int
udp_rate_fd(const struct udp_rate *r)
{
	return r == NULL ? -1 : r->ur_fd;
}

void
udp_rate_describe(const struct udp_rate *r, unsigned *entries,
    unsigned *rate, unsigned *burst)
{
	*entries = r == NULL ? 0 : r->ur_entries;
	*rate = r == NULL ? 0 : r->ur_rate;
	*burst = r == NULL ? 0 : r->ur_burst;
}

struct udp_rate *
udp_rate_attach(int fd, size_t bytes, unsigned entries, unsigned rate,
    unsigned burst, char *err, size_t errlen)
{
	struct udp_rate	*r;
	struct stat	 st;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != bytes || bytes < ratelimit_size(entries) ||
	    ratelimit_size(entries) == 0) {
		snprintf(err, errlen, "the UDP rate table handed over is not "
		    "one of %u networks", entries);
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->ur_mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	if (r->ur_mem == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the UDP rate table: %s",
		    strerror(errno));
		free(r);
		return NULL;
	}
	if ((r->ur_table = ratelimit_attach(r->ur_mem, entries, rate, burst))
	    == NULL) {
		snprintf(err, errlen, "the UDP rate table handed over is not "
		    "one of %u networks at %u/s, burst %u", entries, rate,
		    burst);
		munmap(r->ur_mem, bytes);
		free(r);
		return NULL;
	}
	r->ur_fd = fd;
	r->ur_len = bytes;
	r->ur_entries = entries;
	r->ur_rate = rate;
	r->ur_burst = burst;
	return r;
}

void
udp_rate_free(struct udp_rate *r)
{
	if (r == NULL)
		return;
	munmap(r->ur_mem, r->ur_len);
	close(r->ur_fd);
	free(r);
}
