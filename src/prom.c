/*
 * The Prometheus text format: lines appended to a buffer that doubles
 * as it fills.  A failed allocation marks the buffer failed and every
 * later call does nothing, so callers check once, at the end.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

#define PROM_MIN_CAP	4096

void
prom_init(struct prom_buf *pb)
{
	memset(pb, 0, sizeof(*pb));
}

void
prom_free(struct prom_buf *pb)
{
	free(pb->pb_data);
	prom_init(pb);
}

/* Room for n more bytes and a NUL. */
static bool
prom_reserve(struct prom_buf *pb, size_t n)
{
	size_t	 cap = pb->pb_cap ? pb->pb_cap : PROM_MIN_CAP;
	char	*p;

	if (pb->pb_failed)
		return false;
	if (pb->pb_len + n < pb->pb_cap)
		return true;
	while (cap <= pb->pb_len + n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	if ((p = realloc(pb->pb_data, cap)) == NULL)
		goto fail;
	pb->pb_data = p;
	pb->pb_cap = cap;
	return true;
fail:
	pb->pb_failed = true;
	return false;
}

static void
prom_put(struct prom_buf *pb, const char *s, size_t n)
{
	if (!prom_reserve(pb, n))
		return;
	memcpy(pb->pb_data + pb->pb_len, s, n);
	pb->pb_len += n;
	pb->pb_data[pb->pb_len] = '\0';
}

static void
prom_printf(struct prom_buf *pb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
prom_printf(struct prom_buf *pb, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[64];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Only numbers come through here; one too long spoils the text. */
	if (n > 0 && (size_t)n < sizeof(line))
		prom_put(pb, line, (size_t)n);
	else
		pb->pb_failed = true;
}

/* s with each byte of 'special' escaped; '\n' is written as "\n". */
static void
prom_escaped(struct prom_buf *pb, const char *s, const char *special)
{
	size_t	 n;

	while (*s != '\0') {
		n = strcspn(s, special);
		prom_put(pb, s, n);
		s += n;
		if (*s == '\0')
			break;
		prom_put(pb, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\",
		    2);
		s++;
	}
}

void
prom_family(struct prom_buf *pb, const char *name, const char *type,
    const char *help)
{
	prom_put(pb, "# HELP ", 7);
	prom_put(pb, name, strlen(name));
	prom_put(pb, " ", 1);
	prom_escaped(pb, help, "\\\n");
	prom_put(pb, "\n# TYPE ", 8);
	prom_put(pb, name, strlen(name));
	prom_put(pb, " ", 1);
	prom_put(pb, type, strlen(type));
	prom_put(pb, "\n", 1);
}

static void
prom_series(struct prom_buf *pb, const char *name, const char *label,
    const char *lvalue)
{
	prom_put(pb, name, strlen(name));
	if (label == NULL)
		return;
	prom_put(pb, "{", 1);
	prom_put(pb, label, strlen(label));
	prom_put(pb, "=\"", 2);
	prom_escaped(pb, lvalue, "\\\"\n");
	prom_put(pb, "\"}", 2);
}

void
prom_sample(struct prom_buf *pb, const char *name, const char *label,
    const char *lvalue, uint64_t value)
{
	prom_series(pb, name, label, lvalue);
	prom_printf(pb, " %" PRIu64 "\n", value);
}

void
prom_sample_double(struct prom_buf *pb, const char *name, const char *label,
    const char *lvalue, double value)
{
	prom_series(pb, name, label, lvalue);
	prom_printf(pb, " %.3f\n", value);
}
