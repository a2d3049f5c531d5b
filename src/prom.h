/*
 * A writer of the Prometheus text exposition format, version 0.0.4:
 * metric families (HELP and TYPE lines) and their samples, appended to
 * a growing buffer.  It knows nothing of echod; stats.c says what to
 * write.  Nothing here logs.
 */
#ifndef ECHOD_PROM_H
#define ECHOD_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE	"text/plain; version=0.0.4"

/* The text written so far.  Zero it (or prom_init()) before use. */
struct prom_buf {
	char	*pb_data;	/* NUL-terminated; NULL before the first byte */
	size_t	 pb_len;
	size_t	 pb_cap;
	bool	 pb_failed;	/* out of memory, or a number too long: */
				/* pb_data is incomplete */
};

void	prom_init(struct prom_buf *);
/* Free the text; the buffer is empty again. */
void	prom_free(struct prom_buf *);

/*
 * Begin a family: "# HELP name help" and "# TYPE name type".  'type' is
 * "counter", "gauge" or "untyped"; 'help' is escaped as the format
 * requires (backslash, newline).  The caller passes a valid metric name.
 */
void	prom_family(struct prom_buf *, const char *name, const char *type,
	    const char *help);

/*
 * One sample: "name value", or "name{label="lvalue"} value" when label
 * is not NULL.  lvalue is escaped (backslash, double quote, newline).
 */
void	prom_sample(struct prom_buf *, const char *name, const char *label,
	    const char *lvalue, uint64_t value);
/* As prom_sample(), for a finite value, written with three decimals. */
void	prom_sample_double(struct prom_buf *, const char *name,
	    const char *label, const char *lvalue, double value);

#endif
