#!/bin/sh
# Build the fuzzers: tests/fuzz/build.sh OUTDIR [TARGET...]
#
# Compiles each target's harness tests/fuzz/fuzz-TARGET.c with the src/
# files that tests/fuzz/targets lists for it, using clang's libFuzzer,
# AddressSanitizer (with LeakSanitizer) and UBSan, into
# OUTDIR/fuzz-TARGET.  No TARGET: every target in tests/fuzz/targets.
# Needs no configure run: a minimal autoconf.h is written into OUTDIR.
#
# Environment: CC (default: clang, else clang-14), EXTRA_CFLAGS (added
# last, e.g. "-fsanitize=unsigned-integer-overflow,implicit-conversion"
# for a stricter run by hand).
#
# Exit status: 0 built, 77 no clang or no libFuzzer runtime, 1 failed.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [TARGET...]" >&2; exit 1; }
out=$1
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
list=$top/tests/fuzz/targets
[ $# -gt 0 ] || set -- $(sed -n 's/^\([a-z0-9-]*\)[[:space:]].*/\1/p' "$list")

cc=${CC:-}
if [ -z "$cc" ]; then
	for c in clang clang-14; do
		if command -v "$c" >/dev/null 2>&1; then
			cc=$c
			break
		fi
	done
fi
if [ -z "$cc" ]; then
	echo "build.sh: clang not found (apt-get install clang)" >&2
	exit 77
fi

mkdir -p "$out"

# Does this clang have the fuzzer and sanitizer runtimes (Debian:
# libclang-rt-14-dev)?
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' >"$out/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$out/probe" \
    "$out/probe.c" >/dev/null 2>&1; then
	rm -f "$out/probe.c" "$out/probe"
	echo "build.sh: $cc cannot link -fsanitize=fuzzer,address,undefined" \
	    "(apt-get install libclang-rt-14-dev)" >&2
	exit 77
fi
rm -f "$out/probe.c" "$out/probe"

if ! libs=$(pkg-config --libs inih libsystemd) ||
    ! cflags=$(pkg-config --cflags inih libsystemd); then
	echo "build.sh: pkg-config inih libsystemd failed" \
	    "(apt-get install pkgconf libinih-dev libsystemd-dev)" >&2
	exit 1
fi

# What configure's AC_USE_SYSTEM_EXTENSIONS would give the sources.
cat >"$out/autoconf.h" <<'EOF'
/* Written by tests/fuzz/build.sh in place of configure's autoconf.h. */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE 1
#endif
#define PACKAGE "echod"
#define PACKAGE_NAME "echod"
#define PACKAGE_VERSION "fuzz"
#define VERSION "fuzz"
EOF

for t in "$@"; do
	srcs=$(sed -n "s/^$t[[:space:]]\{1,\}//p" "$list")
	if [ -z "$srcs" ] || [ ! -f "$top/tests/fuzz/fuzz-$t.c" ]; then
		echo "build.sh: unknown fuzz target '$t'" >&2
		exit 1
	fi
	# shellcheck disable=SC2086 # word splitting of flags is intended
	"$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Wall -Wextra -Wno-unused-parameter \
	    -I"$out" -I"$top/src" $cflags \
	    -DECHOD_CONFIG_FILE='"/etc/echod.ini"' \
	    ${EXTRA_CFLAGS:-} \
	    -o "$out/fuzz-$t" "$top/tests/fuzz/fuzz-$t.c" \
	    $(for f in $srcs; do echo "$top/$f"; done) $libs
done
