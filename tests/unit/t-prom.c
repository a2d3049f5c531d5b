/*
 * Unit tests: the Prometheus text writer, byte for byte.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "tap.h"

static void
test_lines(void)
{
	struct prom_buf	 pb;

	prom_init(&pb);
	prom_family(&pb, "x_total", "counter", "Help with \\ and\na newline.");
	prom_sample(&pb, "x_total", NULL, NULL, 0);
	prom_sample(&pb, "x_total", "reason", "a \"b\" \\c\nd",
	    18446744073709551615ULL);
	prom_sample_double(&pb, "t_seconds", NULL, NULL, 1700000000.25);
	if (!ok(!pb.pb_failed && pb.pb_data != NULL && strcmp(pb.pb_data,
	    "# HELP x_total Help with \\\\ and\\na newline.\n"
	    "# TYPE x_total counter\n"
	    "x_total 0\n"
	    "x_total{reason=\"a \\\"b\\\" \\\\c\\nd\"} 18446744073709551615\n"
	    "t_seconds 1700000000.250\n") == 0,
	    "HELP escapes backslash and newline; label values also the "
	    "double quote; values in full"))
		diag("got:\n%s", pb.pb_data ? pb.pb_data : "(null)");
	ok(pb.pb_len == strlen(pb.pb_data), "pb_len is the text's length");
	prom_free(&pb);
	ok(pb.pb_data == NULL && pb.pb_len == 0, "prom_free empties it");
}

static void
test_growth(void)
{
	struct prom_buf	 pb;
	char		 want[64];
	size_t		 i, len = 0;
	bool		 same = true;

	prom_init(&pb);
	for (i = 0; i < 10000; i++)
		prom_sample(&pb, "n", "i", "v", i);
	for (i = 0; i < 10000 && same; i++) {
		snprintf(want, sizeof(want), "n{i=\"v\"} %zu\n", i);
		same = strncmp(pb.pb_data + len, want, strlen(want)) == 0;
		len += strlen(want);
	}
	ok(!pb.pb_failed && same && len == pb.pb_len,
	    "10000 samples: the buffer grows and keeps every line (%zu bytes)",
	    pb.pb_len);
	prom_free(&pb);
}

static void
test_failed(void)
{
	struct prom_buf	 pb;

	prom_init(&pb);
	prom_sample_double(&pb, "big", NULL, NULL, 1e300);
	ok(pb.pb_failed, "a number too long for a line fails the text");
	prom_sample(&pb, "after", NULL, NULL, 1);
	ok(pb.pb_data == NULL || strstr(pb.pb_data, "after") == NULL,
	    "nothing is written once failed");
	prom_free(&pb);
}

int
main(void)
{
	test_lines();
	test_growth();
	test_failed();
	return done_testing();
}
