#!/bin/sh
# Build the config fuzzer: tests/fuzz/build.sh OUTDIR
#
# Compiles tests/fuzz/fuzz-config.c with src/config.c, src/parse.c and
# src/log.c using clang's libFuzzer, AddressSanitizer (with
# LeakSanitizer) and UBSan, into OUTDIR/fuzz-config.  Needs no configure
# run: a minimal autoconf.h is written into OUTDIR.
#
# Environment: CC (default: clang, else clang-14), EXTRA_CFLAGS (added
# last, e.g. "-fsanitize=unsigned-integer-overflow,implicit-conversion"
# for a stricter run by hand).
#
# Exit status: 0 built, 77 no clang or no libFuzzer runtime, 1 failed.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 1; }
out=$1
top=$(cd "$(dirname "$0")/../.." && pwd)

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

# shellcheck disable=SC2086 # word splitting of flags is intended
"$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Wno-unused-parameter \
    -I"$out" -I"$top/src" $cflags \
    -DECHOD_CONFIG_FILE='"/etc/echod.ini"' \
    ${EXTRA_CFLAGS:-} \
    -o "$out/fuzz-config" \
    "$top/tests/fuzz/fuzz-config.c" \
    "$top/src/config.c" "$top/src/parse.c" "$top/src/log.c" \
    $libs
