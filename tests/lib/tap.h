/*
 * A minimal TAP producer for the unit tests (automake's tap-driver.sh
 * reads it).  Header-only: each test program includes it once.
 */
#ifndef ECHOD_TAP_H
#define ECHOD_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int	tap_n, tap_failed;

static bool __attribute__((format(printf, 2, 3)))
ok(bool cond, const char *fmt, ...)
{
	va_list	 ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	return cond;
}

static void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list	 ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define is_int(got, want, ...) do {					\
	intmax_t g_ = (intmax_t)(got), w_ = (intmax_t)(want);		\
	if (!ok(g_ == w_, __VA_ARGS__))					\
		diag("got %jd, want %jd", g_, w_);			\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	if (!ok(g_ != NULL && strcmp(g_, w_) == 0, __VA_ARGS__))	\
		diag("got \"%s\", want \"%s\"", g_ ? g_ : "(null)", w_);	\
} while (0)

/* Substring match, for error messages. */
#define like(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	if (!ok(g_ != NULL && strstr(g_, w_) != NULL, __VA_ARGS__))	\
		diag("\"%s\" does not contain \"%s\"",			\
		    g_ ? g_ : "(null)", w_);				\
} while (0)

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed == 0 ? 0 : 1;
}

#endif
